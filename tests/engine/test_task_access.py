"""Who may see, claim, release and complete a task, and the audit events those actions leave."""

import pytest

from engine.errors import AccessDeniedError, ConflictError
from engine.models import HumanTask
from helpers import (
    ADMIN,
    MANAGER,
    OTHER_MANAGER,
    OUTSIDER,
    audit_events,
    complete_step,
    deploy_file,
    instance_row,
    only_task,
)

ASSESSMENT = {"full_name": "Ada Example", "start_on": "2030-02-01"}


@pytest.fixture
def assessment(engine, movable_clock) -> str:
    deploy_file(engine, "forms.bpmn")
    return engine.start("care_assessment", data={"provider_id": 42, "case_worker": "sam.worker"}, actor="intake.officer")


@pytest.fixture
def task_id(engine, assessment) -> str:
    return only_task(engine, assessment).id


def task_row(session_factory, task_id: str) -> HumanTask:
    with session_factory() as session:
        return session.get(HumanTask, task_id)


def test_outsider_cannot_see_task(engine, task_id):
    assert engine.list_tasks(OUTSIDER) == []
    assert engine.count_tasks(OUTSIDER) == 0
    with pytest.raises(AccessDeniedError):
        engine.get_task(task_id, OUTSIDER)
    with pytest.raises(AccessDeniedError):
        engine.task_form(task_id, OUTSIDER)


def test_candidate_group_sees_task(engine, task_id):
    assert [task.id for task in engine.list_tasks(MANAGER)] == [task_id]
    assert engine.count_tasks(MANAGER) == 1
    assert engine.get_task(task_id, MANAGER).id == task_id


def test_outsider_cannot_claim(engine, session_factory, task_id):
    with pytest.raises(AccessDeniedError) as caught:
        engine.claim(task_id, OUTSIDER)

    assert OUTSIDER.user in str(caught.value)
    assert task_row(session_factory, task_id).assignee is None


def test_outsider_cannot_complete(engine, session_factory, assessment, task_id):
    state_before = instance_row(session_factory, assessment).state

    with pytest.raises(AccessDeniedError):
        engine.complete(task_id, ASSESSMENT, OUTSIDER)

    assert task_row(session_factory, task_id).status == "open"
    assert instance_row(session_factory, assessment).state == state_before
    assert [event.kind for event in audit_events(session_factory, assessment)] == ["instance.started"]


def test_claim_hides_task_from_group(engine, task_id):
    engine.claim(task_id, MANAGER)

    assert [task.id for task in engine.list_tasks(MANAGER, mine_only=True)] == [task_id]
    assert engine.list_tasks(OTHER_MANAGER) == []
    with pytest.raises(AccessDeniedError):
        engine.claim(task_id, OTHER_MANAGER)
    with pytest.raises(AccessDeniedError):
        engine.complete(task_id, ASSESSMENT, OTHER_MANAGER)


def test_claim_twice_by_same_user(engine, session_factory, task_id):
    engine.claim(task_id, MANAGER)
    engine.claim(task_id, MANAGER)

    assert task_row(session_factory, task_id).assignee == MANAGER.user
    assert [event.kind for event in audit_events(session_factory)].count("task.claimed") == 1


def test_claim_completed_task(engine, task_id):
    engine.complete(task_id, ASSESSMENT, MANAGER)

    with pytest.raises(ConflictError):
        engine.claim(task_id, MANAGER)


def test_release_returns_task_to_group(engine, session_factory, task_id):
    engine.claim(task_id, MANAGER)

    engine.release(task_id, MANAGER)

    row = task_row(session_factory, task_id)
    assert row.assignee is None
    assert row.claimed_at is None
    assert [task.id for task in engine.list_tasks(OTHER_MANAGER)] == [task_id]
    engine.claim(task_id, OTHER_MANAGER)
    assert task_row(session_factory, task_id).assignee == OTHER_MANAGER.user


def test_release_by_someone_else(engine, session_factory, task_id):
    engine.claim(task_id, MANAGER)

    with pytest.raises(AccessDeniedError):
        engine.release(task_id, OTHER_MANAGER)

    assert task_row(session_factory, task_id).assignee == MANAGER.user


def test_release_by_admin(engine, session_factory, task_id):
    engine.claim(task_id, MANAGER)

    engine.release(task_id, ADMIN)

    assert task_row(session_factory, task_id).assignee is None


def test_release_without_groups(engine, assessment):
    complete_step(engine, assessment, "assess_needs", ASSESSMENT, MANAGER)
    complete_step(engine, assessment, "provider_review")
    task = only_task(engine, assessment, "case_worker_check")

    with pytest.raises(ConflictError):
        engine.release(task.id, ADMIN)


def test_admin_sees_every_task(engine, task_id):
    assert [task.id for task in engine.list_tasks(ADMIN)] == [task_id]
    assert engine.get_task(task_id, ADMIN).id == task_id


def test_audit_records_actors(engine, session_factory, assessment, task_id, movable_clock):
    engine.claim(task_id, MANAGER)
    movable_clock.advance(minutes=1)
    engine.release(task_id, MANAGER)
    movable_clock.advance(minutes=1)
    engine.claim(task_id, OTHER_MANAGER)
    movable_clock.advance(minutes=1)

    engine.complete(task_id, ASSESSMENT, OTHER_MANAGER)

    events = audit_events(session_factory, assessment)
    assert [(event.kind, event.actor) for event in events] == [
        ("instance.started", "intake.officer"),
        ("task.claimed", MANAGER.user),
        ("task.released", MANAGER.user),
        ("task.claimed", OTHER_MANAGER.user),
        ("task.completed", OTHER_MANAGER.user),
    ]
    assert all(event.task_id == task_id for event in events[1:])
    assert events[0].detail["process_id"] == "care_assessment"
    assert events[-1].detail["element_id"] == "assess_needs"
    assert [event.at for event in events] == sorted(event.at for event in events)
    assert events[-1].at > events[0].at


def test_audit_completion_lists_field_names(engine, session_factory, assessment, task_id):
    engine.complete(task_id, ASSESSMENT, MANAGER)

    [completed] = [event for event in audit_events(session_factory, assessment) if event.kind == "task.completed"]

    assert completed.detail["fields"] == ["full_name", "start_on"]
