"""Notes between a provider and the council on an enquiry: starting one enquiry_note instance per note, and the ``care.enquiry.add_note`` topic."""

import logging
from typing import Any

from sqlalchemy.orm import Session

from care import journey
from care.enquiries import add_note, get_enquiry, get_user
from care.errors import EnquiryClosedError, NotFoundError
from care.models.enquiries import AuthorSide, EnquiryNote
from care.models.providers import Provider
from engine.errors import BusinessError
from engine.errors import NotFoundError as EngineNotFoundError
from engine.handler_api import HandlerContext, HandlerRegistry
from engine.runtime import Engine
from handlers.care_topics import completed_by_user_id

log = logging.getLogger(__name__)

NOTE_PROCESS_ID = "enquiry_note"


def note_key(enquiry_reference: str, provider_id: int, note_id: int) -> str:
    """Return the business key of the enquiry_note instance of one note, such as ``ENQ-20270607-1A2B3C4D/12/note-345``."""
    return f"{enquiry_reference}/{provider_id}/note-{note_id}"


def note_process_data(session: Session, note: EnquiryNote) -> dict[str, Any]:
    """Return the start data of the enquiry_note instance of ``note``.

    Only a provider's question carries the note body, as ``question``, because the answer task shows it.
    """
    enquiry = get_enquiry(session, note.enquiry_id)
    provider = session.get(Provider, note.provider_id)
    care_manager = get_user(session, enquiry.raised_by_id)
    data = {
        "note_id": note.id,
        "author_side": AuthorSide(note.author_side).value,
        "via_phone": bool(note.via_phone),
        "enquiry_id": enquiry.id,
        "enquiry_reference": enquiry.reference,
        "postcode_district": enquiry.postcode_district,
        "provider_id": provider.id,
        "provider_name": provider.name,
        "provider_email": journey.provider_contact_email(session, provider.id),
        "care_manager_id": care_manager.id,
        "care_manager_name": care_manager.display_name,
        "care_manager_email": care_manager.email,
    }
    if note.author_side == AuthorSide.PROVIDER:
        data["question"] = note.body

    return data


def start_note_process(engine: Engine, note_id: int, actor: str) -> str | None:
    """Start the enquiry_note instance of a stored note and return its id.

    The note is already committed, so it stays on record when this fails. When no
    enquiry_note diagram is deployed, no notification is sent, so this logs a warning and returns None.
    """
    try:
        with engine.session_factory.begin() as session:
            note = session.get(EnquiryNote, note_id)
            if note is None:
                raise NotFoundError("note", note_id)
            data = note_process_data(session, note)
            key = note_key(data["enquiry_reference"], note.provider_id, note.id)
            instance_id = engine.start(NOTE_PROCESS_ID, business_key=key, data=data, actor=actor, session=session)
    except EngineNotFoundError as error:
        if error.kind != "process":
            raise
        log.warning("note %s is stored, but no notification was sent: process %s is not deployed", note_id, NOTE_PROCESS_ID)
        return None

    engine.notify_committed()
    log.info("note %s: started %s instance %s", note_id, NOTE_PROCESS_ID, instance_id)

    return instance_id


def register(registry: HandlerRegistry, settings: object) -> None:
    """Register the ``care.enquiry.add_note`` topic (``settings`` is unused, so every module registers alike)."""

    @registry.topic(
        "care.enquiry.add_note",
        description="Add a council note, such as the care manager's answer to a provider's question, to the enquiry's thread with one provider.",
        inputs={
            "enquiry_id": "id",
            "provider_id": "the provider whose thread the note is in",
            "body": "the note text",
            "via_phone": "True when the note records a phone call",
            "author_task": "element id of the user task whose completer wrote the note, such as answer_question",
        },
        outputs={"note_id": "id of the new note"},
        errors={"enquiry_closed": "the enquiry is closed or cancelled, so it no longer takes notes"},
    )
    def add_council_note(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        author_id = completed_by_user_id(context, inputs["author_task"])
        try:
            note = add_note(
                context.session,
                inputs["enquiry_id"],
                inputs["provider_id"],
                author_id=author_id,
                body=inputs["body"] or "",
                via_phone=bool(inputs.get("via_phone")),
            )
        except EnquiryClosedError as error:
            raise BusinessError("enquiry_closed", str(error), {"enquiry_id": error.enquiry_id, "status": error.status}) from error

        return {"note_id": note.id}
