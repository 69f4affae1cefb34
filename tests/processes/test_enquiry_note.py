"""enquiry_note.bpmn: one small instance per note between a provider and the care manager, on SQLite and PostgreSQL."""

import logging
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from care import journey as care_journey
from care.enquiries import add_note, create_enquiry, send_enquiry
from care.models.enquiries import EnquiryNote
from care.models.messaging import Notification
from engine.models import Instance
from engine.runtime import Engine
from engine.store import load
from handlers.note_topics import NOTE_PROCESS_ID, note_key, start_note_process

QUESTION = "Is a hoist fitted in the bedroom?"
ANSWER = "Yes, a ceiling hoist was fitted last month."


def sent_enquiry(journey, people, provider_id: int) -> tuple[int, str]:
    """Create an enquiry for the service user and send it to one provider, then return its id and reference."""
    with journey.session_factory.begin() as session:
        enquiry = create_enquiry(
            session, service_user_id=people["service_user"], raised_by_id=people["care_manager"], hours_per_week=Decimal("10.5"), expected_start_on=date(2027, 7, 5)
        )
        send_enquiry(session, enquiry.id, [provider_id])
        return enquiry.id, enquiry.reference


def write_note(journey, enquiry_id: int, provider_id: int, author_id: int, body: str, *, via_phone: bool = False) -> tuple[int, str]:
    """Store a note and start its process as the portal does, run the jobs, and return the note id and instance id."""
    with journey.session_factory.begin() as session:
        note_id = add_note(session, enquiry_id, provider_id, author_id=author_id, body=body, via_phone=via_phone).id
    instance_id = start_note_process(journey.engine, note_id, actor=str(author_id))
    journey.run_jobs()
    return note_id, instance_id


def thread(journey, enquiry_id: int, provider_id: int) -> list[EnquiryNote]:
    with journey.session_factory() as session:
        notes = list(
            session.scalars(sa.select(EnquiryNote).where(EnquiryNote.enquiry_id == enquiry_id, EnquiryNote.provider_id == provider_id).order_by(EnquiryNote.id))
        )
        session.expunge_all()
        return notes


def notifications(journey, *, user_id: int | None = None, provider_id: int | None = None) -> list[Notification]:
    with journey.session_factory() as session:
        query = sa.select(Notification).order_by(Notification.id)
        if user_id is not None:
            query = query.where(Notification.recipient_user_id == user_id)
        if provider_id is not None:
            query = query.where(Notification.recipient_provider_id == provider_id)
        found = list(session.scalars(query))
        session.expunge_all()
        return found


def spiff_task_count(journey, instance_id: str) -> int:
    with journey.session_factory() as session:
        return len(load(session, instance_id).workflow.get_tasks())


def test_note_question_answered(journey, people, actors, make_provider):
    provider_id, provider_user = make_provider("Brightwater Home Care Ltd", 1)
    enquiry_id, reference = sent_enquiry(journey, people, provider_id)
    care_manager = people["care_manager"]

    note_id, instance_id = write_note(journey, enquiry_id, provider_id, provider_user, QUESTION)

    instance = journey.engine.get_instance(instance_id)
    assert instance.process_id == NOTE_PROCESS_ID
    assert instance.business_key == f"{reference}/{provider_id}/note-{note_id}"
    assert instance.business_key == note_key(reference, provider_id, note_id)
    assert instance.status == "running"
    task = journey.task("answer_question", instance_id)
    assert task.business_key == instance.business_key
    assert task.due_at == journey.clock() + timedelta(days=2)
    assert journey.candidate_groups("answer_question") == {"care_manager"}
    form = journey.engine.task_form(task.id, actors.care_manager(care_manager))
    assert form.values["question"] == QUESTION
    (question_email,) = journey.emails("enquiry_note_question")
    assert question_email.recipient == "cm.ash@council.example"
    assert question_email.link.endswith(f"/staff/enquiries/{enquiry_id}#notes")
    assert reference in question_email.subject
    assert QUESTION not in question_email.subject + question_email.body_text + question_email.body_html
    (question_notice,) = notifications(journey, user_id=care_manager)
    assert question_notice.link == f"/staff/enquiries/{enquiry_id}#notes"
    assert "Brightwater Home Care Ltd" in question_notice.title
    assert notifications(journey, provider_id=provider_id) == []

    journey.complete("answer_question", {"answer": ANSWER}, actors.care_manager(care_manager), instance_id)

    assert journey.status(instance_id) == "completed"
    assert journey.incidents() == []
    notes = thread(journey, enquiry_id, provider_id)
    assert [(note.author_side, note.body) for note in notes] == [("provider", QUESTION), ("council", ANSWER)]
    assert notes[1].author_id == care_manager
    assert notes[1].via_phone is False
    assert journey.engine.instance_data(instance_id)["answer_note_id"] == notes[1].id
    (answer_notice,) = notifications(journey, provider_id=provider_id)
    assert answer_notice.link == f"/provider/enquiries/{enquiry_id}#notes"
    (answer_email,) = journey.emails("enquiry_note_from_council")
    assert answer_email.recipient == "office1@provider.example"
    assert ANSWER not in answer_email.subject + answer_email.body_text + answer_email.body_html


def test_note_from_care_manager_notifies_provider(journey, people, make_provider):
    provider_id, _user = make_provider("Brightwater Home Care Ltd", 1)
    enquiry_id, _reference = sent_enquiry(journey, people, provider_id)

    _note_id, instance_id = write_note(journey, enquiry_id, provider_id, people["care_manager"], "The family asks for morning visits.")

    assert journey.status(instance_id) == "completed"
    assert journey.open_tasks(instance_id=instance_id) == []
    assert len(notifications(journey, provider_id=provider_id)) == 1
    assert [email.recipient for email in journey.emails("enquiry_note_from_council")] == ["office1@provider.example"]
    assert journey.emails("enquiry_note_question") == []
    assert notifications(journey, user_id=people["care_manager"]) == []


def test_note_phone_call_notifies_nobody(journey, people, make_provider):
    provider_id, _user = make_provider("Brightwater Home Care Ltd", 1)
    enquiry_id, _reference = sent_enquiry(journey, people, provider_id)

    _note_id, instance_id = write_note(journey, enquiry_id, provider_id, people["care_manager"], "Phoned: they will respond today.", via_phone=True)

    assert journey.status(instance_id) == "completed"
    assert journey.engine.instance_elements(instance_id)["completed"] == ["note_added", "note_kind", "phone_call_recorded"]
    assert journey.emails() == []
    assert notifications(journey, provider_id=provider_id) == []
    assert notifications(journey, user_id=people["care_manager"]) == []
    assert [note.via_phone for note in thread(journey, enquiry_id, provider_id)] == [True]


def test_note_answer_by_phone_notifies_nobody(journey, people, actors, make_provider):
    provider_id, provider_user = make_provider("Brightwater Home Care Ltd", 1)
    enquiry_id, _reference = sent_enquiry(journey, people, provider_id)
    _note_id, instance_id = write_note(journey, enquiry_id, provider_id, provider_user, QUESTION)

    journey.complete("answer_question", {"answer": ANSWER, "by_phone": True}, actors.care_manager(people["care_manager"]), instance_id)

    assert journey.status(instance_id) == "completed"
    notes = thread(journey, enquiry_id, provider_id)
    assert [(note.body, note.via_phone) for note in notes] == [(QUESTION, False), (ANSWER, True)]
    assert notifications(journey, provider_id=provider_id) == []
    assert journey.emails("enquiry_note_from_council") == []


def test_note_answer_after_enquiry_closed(journey, people, actors, make_provider):
    provider_id, provider_user = make_provider("Brightwater Home Care Ltd", 1)
    enquiry_id, _reference = sent_enquiry(journey, people, provider_id)
    _note_id, instance_id = write_note(journey, enquiry_id, provider_id, provider_user, QUESTION)
    with journey.session_factory.begin() as session:
        care_journey.close_unfilled_enquiry(session, enquiry_id)

    journey.complete("answer_question", {"answer": ANSWER}, actors.care_manager(people["care_manager"]), instance_id)

    assert journey.status(instance_id) == "completed"
    assert journey.incidents() == []
    assert [note.body for note in thread(journey, enquiry_id, provider_id)] == [QUESTION]
    titles = [notice.title for notice in notifications(journey, user_id=people["care_manager"])]
    assert len(titles) == 2
    assert titles[1].startswith("Your answer was not sent")
    assert notifications(journey, provider_id=provider_id) == []


def test_note_ten_notes_ten_instances(journey, people, actors, make_provider):
    provider_id, provider_user = make_provider("Brightwater Home Care Ltd", 1)
    enquiry_id, reference = sent_enquiry(journey, people, provider_id)
    care_manager = people["care_manager"]
    questions, council_notes = [], []

    for number in range(10):
        if number % 2 == 0:
            _note_id, instance_id = write_note(journey, enquiry_id, provider_id, provider_user, f"Question {number}")
            journey.complete("answer_question", {"answer": f"Answer {number}"}, actors.care_manager(care_manager), instance_id)
            questions.append(instance_id)
        else:
            _note_id, instance_id = write_note(journey, enquiry_id, provider_id, care_manager, f"Council note {number}")
            council_notes.append(instance_id)

    with journey.session_factory() as session:
        instances = list(session.scalars(sa.select(Instance).where(Instance.process_id == NOTE_PROCESS_ID)))
    assert len(instances) == 10
    assert {instance.status for instance in instances} == {"completed"}
    assert len({instance.business_key for instance in instances}) == 10
    assert all(instance.business_key.startswith(f"{reference}/{provider_id}/note-") for instance in instances)
    # Every instance of one path runs the same tasks, however many notes came before it: no instance loops.
    assert len({spiff_task_count(journey, instance_id) for instance_id in questions}) == 1
    assert len({spiff_task_count(journey, instance_id) for instance_id in council_notes}) == 1
    assert len(thread(journey, enquiry_id, provider_id)) == 15
    assert len(notifications(journey, provider_id=provider_id)) == 10
    assert len(journey.emails("enquiry_note_question")) == 5
    assert len(journey.emails("enquiry_note_from_council")) == 10
    assert journey.incidents() == []


def test_note_process_not_deployed(session_factory, people, make_provider, caplog):
    provider_id, provider_user = make_provider("Brightwater Home Care Ltd", 1)
    with session_factory.begin() as session:
        enquiry = create_enquiry(
            session, service_user_id=people["service_user"], raised_by_id=people["care_manager"], hours_per_week=Decimal("10.5"), expected_start_on=date(2027, 7, 5)
        )
        send_enquiry(session, enquiry.id, [provider_id])
        note_id = add_note(session, enquiry.id, provider_id, author_id=provider_user, body=QUESTION).id

    with caplog.at_level(logging.WARNING, logger="handlers.note_topics"):
        instance_id = start_note_process(Engine(session_factory), note_id, actor=str(provider_user))

    assert instance_id is None
    assert f"note {note_id} is stored, but no notification was sent: process enquiry_note is not deployed" in caplog.text
    assert QUESTION not in caplog.text
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(EnquiryNote)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Instance)) == 0
