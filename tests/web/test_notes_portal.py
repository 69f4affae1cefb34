"""Notes through the portal over the real enquiry_note diagram: a provider's question, the care manager's answer task, and phone notes."""

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from care.models.enquiries import Enquiry, EnquiryNote
from care.models.messaging import Notification, OutboxEmail
from careplace.wiring import STAFF_GROUPS
from engine.clock import set_clock
from engine.jobs import JobRunner
from engine.models import HumanTask, Incident, Instance
from engine.runtime import Engine
from handlers.email import TEMPLATE_NAMES
from handlers.note_topics import note_key
from handlers.registry import build_registry
from handlers.simulators.server import start_simulators
from processes.loader import load_all

NOW = datetime(2027, 6, 7, 9, 0, tzinfo=timezone.utc)
QUESTION = "Is a hoist fitted in the bedroom?"
ANSWER = "Yes, a ceiling hoist was fitted last month."


@pytest.fixture(scope="module")
def simulators():
    server = start_simulators()
    yield server
    server.stop()


@pytest.fixture
def services(services, simulators):
    """The web services with the real handler registry, pointed at the simulators, and every journey diagram deployed."""
    simulators.state.reset()
    services.registry = build_registry(simulators.handler_settings())
    services.engine = Engine(services.session_factory, services.registry, known_groups=STAFF_GROUPS, known_templates=set(TEMPLATE_NAMES))
    services.engine.deploy(load_all(), "analyst")
    return services


@pytest.fixture(autouse=True)
def fixed_clock():
    set_clock(lambda: NOW)
    yield
    set_clock(None)


@pytest.fixture
def run_jobs(services):
    """``run_jobs()``: run service tasks, as the worker would, until none is due, and fail on any incident."""

    def run() -> None:
        runner = JobRunner(services.session_factory, services.registry, "test-worker")
        try:
            for _ in range(50):
                if not runner.run_due():
                    break
            else:
                raise AssertionError("service-task jobs were still due after 50 batches")
        finally:
            runner.close()
        with services.session_factory() as db:
            assert [incident.topic for incident in db.scalars(sa.select(Incident))] == []

    return run


def scalars(session_factory, query) -> list:
    with session_factory() as db:
        found = list(db.scalars(query))
        db.expunge_all()
        return found


def email_recipients(session_factory, template: str) -> list[str]:
    return scalars(session_factory, sa.select(OutboxEmail.recipient).where(OutboxEmail.template == template).order_by(OutboxEmail.id))


def test_notes_question_answered_in_portal(logged_in, csrf_token, people, enquiry_id, session_factory, run_jobs):
    provider = logged_in(people.provider_user)
    care_manager = logged_in(people.care_manager)
    with session_factory() as db:
        reference = db.get(Enquiry, enquiry_id).reference

    posted_question = provider.post(f"/provider/enquiries/{enquiry_id}/notes", data={"csrf_token": csrf_token(provider, f"/provider/enquiries/{enquiry_id}"), "body": QUESTION})
    run_jobs()

    assert posted_question.status_code == 302
    (question,) = scalars(session_factory, sa.select(EnquiryNote))
    key = note_key(reference, people.provider.id, question.id)
    (task,) = scalars(session_factory, sa.select(HumanTask).where(HumanTask.business_key == key, HumanTask.status == "open"))
    assert task.element_id == "answer_question"
    assert email_recipients(session_factory, "enquiry_note_question") == ["cm@example.test"]
    staff_page = care_manager.get(f"/staff/enquiries/{enquiry_id}").get_data(as_text=True)
    assert f'href="/tasks/{task.id}">Answer the provider&#39;s question</a>' in staff_page
    assert f'href="/tasks/{task.id}"' in care_manager.get("/tasks").get_data(as_text=True)
    assert QUESTION in care_manager.get(f"/tasks/{task.id}").get_data(as_text=True)

    posted_answer = care_manager.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(care_manager, f"/tasks/{task.id}"), "answer": ANSWER, "by_phone": "false"})
    run_jobs()

    assert posted_answer.status_code == 302
    notes = scalars(session_factory, sa.select(EnquiryNote).order_by(EnquiryNote.id))
    assert [(note.author_side, note.author_id, note.body) for note in notes] == [
        ("provider", people.provider_user.id, QUESTION),
        ("council", people.care_manager.id, ANSWER),
    ]
    assert f'href="/tasks/{task.id}"' not in care_manager.get(f"/staff/enquiries/{enquiry_id}").get_data(as_text=True)
    assert ANSWER in provider.get(f"/provider/enquiries/{enquiry_id}").get_data(as_text=True)
    assert "New note from the council on enquiry" in provider.get("/provider/notifications").get_data(as_text=True)
    assert email_recipients(session_factory, "enquiry_note_from_council") == ["provider1@example.test"]
    instances = scalars(session_factory, sa.select(Instance).where(Instance.process_id == "enquiry_note"))
    assert [(instance.business_key, instance.status) for instance in instances] == [(key, "completed")]


def test_notes_staff_note_notifies_provider(logged_in, csrf_token, people, enquiry_id, session_factory, run_jobs):
    care_manager = logged_in(people.care_manager)
    token = csrf_token(care_manager, f"/staff/enquiries/{enquiry_id}")

    response = care_manager.post(f"/staff/enquiries/{enquiry_id}/notes", data={"csrf_token": token, "provider_id": str(people.provider.id), "body": "Morning visits, please."})
    run_jobs()

    assert response.status_code == 302
    assert email_recipients(session_factory, "enquiry_note_from_council") == ["provider1@example.test"]
    notices = scalars(session_factory, sa.select(Notification).where(Notification.recipient_provider_id == people.provider.id))
    assert len(notices) == 1
    assert scalars(session_factory, sa.select(HumanTask).where(HumanTask.status == "open", HumanTask.process_id == "enquiry_note")) == []


def test_notes_staff_phone_note_notifies_nobody(logged_in, csrf_token, people, enquiry_id, session_factory, run_jobs):
    care_manager = logged_in(people.care_manager)
    token = csrf_token(care_manager, f"/staff/enquiries/{enquiry_id}")

    response = care_manager.post(
        f"/staff/enquiries/{enquiry_id}/notes", data={"csrf_token": token, "provider_id": str(people.provider.id), "body": "Phoned: they will respond today", "via_phone": "y"}
    )
    run_jobs()

    assert response.status_code == 302
    (note,) = scalars(session_factory, sa.select(EnquiryNote))
    assert note.via_phone is True
    assert scalars(session_factory, sa.select(OutboxEmail)) == []
    assert scalars(session_factory, sa.select(Notification)) == []
    (instance,) = scalars(session_factory, sa.select(Instance).where(Instance.process_id == "enquiry_note"))
    assert instance.status == "completed"
