"""Pages for provider users: their enquiries by state, one enquiry with its notes and respond task, and the notifications inbox."""

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session, lazyload

from care import enquiries as care_enquiries
from care.errors import EnquiryClosedError, InvalidValueError, NotFoundError
from care.portal import enquiry_documents
from care.queries import RecipientState, enquiries_for_provider, recipient_state
from engine import audit
from engine.errors import MessageNotDeliveredError
from engine.models import HumanTask
from handlers.care_topics import recipient_key
from handlers.note_topics import start_note_process
from handlers.notifications import Reader, list_notifications, mark_read
from web.access import PROVIDER_USER, actor_for, own_provider_id, roles_required, safe_local_path, services
from web.forms import ActionForm
from web.paging import PER_PAGE, fetch_page, page_number
from web.portal_forms import NoteForm

log = logging.getLogger(__name__)

blueprint = Blueprint("provider", __name__, url_prefix="/provider")

STATE_LABELS = {
    RecipientState.NEW: "New",
    RecipientState.VIEWED: "Viewed, no response yet",
    RecipientState.RESPONDED: "Responded, waiting for the decision",
    RecipientState.DECIDED: "Decided",
}


@blueprint.get("/enquiries")
@roles_required(PROVIDER_USER)
def enquiries():
    provider_id = own_provider_id()
    state = request.args.get("state") or None
    if state is not None and state not in STATE_LABELS:
        abort(404)

    with services().session_factory() as db:
        try:
            page = enquiries_for_provider(db, provider_id, state, page=page_number(), per_page=PER_PAGE)
        except InvalidValueError:
            abort(404)
        rows = [(recipient, recipient.enquiry, recipient_state(recipient)) for recipient in page.items]

    return render_template("provider/enquiries.html", rows=rows, page=page, state=state or "", state_labels=STATE_LABELS)


def _open_respond_task(db: Session, business_key: str) -> HumanTask | None:
    """Return the current user's open respond task of the enquiry_recipient instance with ``business_key``, or None.

    It runs in the page's own session, with the engine's rule for which tasks a user may see.
    """
    query = (
        services()
        .engine.task_query(actor_for(current_user))
        .where(HumanTask.business_key == business_key, HumanTask.element_id == "respond")
        .options(lazyload(HumanTask.candidates))
        .limit(1)
    )
    return db.scalar(query)


def _send_viewed_message(reference: str, provider_id: int) -> None:
    """Tell the provider's enquiry_recipient instance that the enquiry was opened, which stops nothing but is recorded."""
    try:
        services().engine.send_message("enquiry_viewed", business_key=recipient_key(reference, provider_id), actor=str(current_user.id))
    except MessageNotDeliveredError:
        # An enquiry entered without its diagram, or whose recipient instance has already ended, has nothing waiting.
        log.info("enquiry %s: no instance of provider %s waits for enquiry_viewed", reference, provider_id)


def _enquiry_page(enquiry_id: int, note_form: NoteForm, status: int = 200):
    """Render one enquiry, recording the provider's first view; 403 when the enquiry was not sent to this provider.

    The page answers 403 whether or not the enquiry exists, so it does not reveal which ids are in use.
    The service user's name and address appear only once the provider is selected, and that view is audited.
    """
    provider_id = own_provider_id()
    with services().session_factory.begin() as db:
        try:
            recipient = care_enquiries.get_recipient(db, enquiry_id, provider_id, with_enquiry=True)
        except NotFoundError:
            log.warning("user %s (provider %s) was refused enquiry %s: it was not sent to that provider", current_user.id, provider_id, enquiry_id)
            abort(403)
        first_view = recipient.viewed_at is None
        if first_view:
            # Later views keep the first view's time, so only the first one needs recording.
            care_enquiries.record_view(db, enquiry_id, provider_id)
        record = recipient.enquiry
        person = record.service_user if care_enquiries.full_address_visible(recipient) else None
        if person is not None:
            audit.record(db, "service_user.viewed", str(current_user.id), service_user_id=person.id, enquiry_id=enquiry_id, page="provider.enquiry")
        notes = care_enquiries.thread_notes(db, recipient)
        documents = enquiry_documents(db, enquiry_id)
        state = recipient_state(recipient)
        # The enquiry_viewed message sent below fires a non-interrupting boundary event on the respond
        # task, so the task stays open and can be read before the message.
        respond_task = _open_respond_task(db, recipient_key(record.reference, provider_id)) if recipient.response is None else None
        db.expunge_all()

    if first_view:
        _send_viewed_message(record.reference, provider_id)

    return (
        render_template(
            "provider/enquiry.html",
            recipient=recipient,
            enquiry=record,
            person=person,
            notes=notes,
            documents=documents,
            state=state,
            state_labels=STATE_LABELS,
            respond_task=respond_task,
            note_form=note_form,
        ),
        status,
    )


@blueprint.get("/enquiries/<int:enquiry_id>")
@roles_required(PROVIDER_USER)
def enquiry(enquiry_id: int):
    return _enquiry_page(enquiry_id, NoteForm(formdata=None))


@blueprint.post("/enquiries/<int:enquiry_id>/notes")
@roles_required(PROVIDER_USER)
def add_note(enquiry_id: int):
    """Add a note to this provider's thread with the council, for example to ask for more information."""
    provider_id = own_provider_id()
    form = NoteForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _enquiry_page(enquiry_id, form, 422)

    try:
        with services().session_factory.begin() as db:
            note = care_enquiries.add_note(db, enquiry_id, provider_id, author_id=current_user.id, body=form.body.data)
            note_id = note.id
    except NotFoundError:
        abort(403)
    except EnquiryClosedError:
        flash("The note was not sent: this enquiry is closed, so it no longer takes notes.", "error")
        return redirect(url_for("provider.enquiry", enquiry_id=enquiry_id))
    except InvalidValueError as error:
        form.body.errors = [str(error)]
        return _enquiry_page(enquiry_id, form, 422)

    # The note is committed first, so it stays on record even if its process fails to start.
    start_note_process(services().engine, note_id, actor=str(current_user.id))
    flash("Your note was sent to the council.", "info")
    return redirect(url_for("provider.enquiry", enquiry_id=enquiry_id, _anchor="notes"))


@blueprint.get("/notifications")
@roles_required(PROVIDER_USER)
def notifications():
    provider_id = own_provider_id()
    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: list_notifications(db, user_id=current_user.id, provider_id=provider_id, limit=limit, offset=offset), page_number())

    return render_template("provider/notifications.html", page=page, action_form=ActionForm())


@blueprint.post("/notifications/<int:notification_id>/read")
@roles_required(PROVIDER_USER)
def mark_notification_read(notification_id: int):
    provider_id = own_provider_id()
    if not ActionForm().validate_on_submit():
        abort(400)

    with services().session_factory.begin() as db:
        notification = mark_read(db, notification_id, Reader(current_user.id, provider_id))
        link = notification.link

    if request.form.get("open") and safe_local_path(link):
        return redirect(link)
    flash("Notification marked as read.", "info")
    return redirect(url_for("provider.notifications"))
