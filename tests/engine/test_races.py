"""Concurrent writers: two connections completing or claiming the same task at the same moment."""

import inspect
import shutil
import threading

import pytest
import sqlalchemy as sa

import engine.runtime as runtime
from careplace.db import make_db_engine, make_session_factory
from engine.errors import ConflictError, MessageNotDeliveredError
from engine.models import AuditEvent, HumanTask
from engine.runtime import Actor, Engine
from helpers import deploy_file, only_task, open_elements

FIRST = Actor("first.checker", frozenset({"provider_services"}))
SECOND = Actor("second.checker", frozenset({"provider_services"}))
BARRIER_TIMEOUT = 20


@pytest.fixture
def two_engines(db_url, registry):
    """Two engines, each with its own connection pool, on the same database."""
    pools = [make_db_engine(db_url), make_db_engine(db_url)]
    yield [Engine(make_session_factory(pool), registry) for pool in pools]
    for pool in pools:
        pool.dispose()


@pytest.fixture
def pg_engines(pg_url, registry):
    pools = [make_db_engine(pg_url), make_db_engine(pg_url)]
    yield [Engine(make_session_factory(pool), registry) for pool in pools]
    for pool in pools:
        pool.dispose()


def run_together(calls) -> list:
    """Run each call in its own thread, all released together by a barrier, and return each result or exception."""
    start = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        start.wait(BARRIER_TIMEOUT)
        try:
            outcomes[index] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads), "a racing thread did not finish"
    return outcomes


def meet_after(monkeypatch, target, name: str, parties: int = 2) -> None:
    """Make ``target.name`` wait until every racer has called it, so all have read before any writes."""
    original = getattr(target, name)
    meeting = threading.Barrier(parties)

    def wait_then_call(*args, **kwargs):
        meeting.wait(BARRIER_TIMEOUT)
        return original(*args, **kwargs)

    if isinstance(inspect.getattr_static(target, name), staticmethod):
        wait_then_call = staticmethod(wait_then_call)
    monkeypatch.setattr(target, name, wait_then_call)


def start_two_step(engines) -> tuple[str, str]:
    deploy_file(engines[0], "parallel_gateway.bpmn")
    instance_id = engines[0].start("parallel_checks")
    task = only_task(engines[0], instance_id, "check_references")
    return instance_id, task.id


def assert_one_winner(outcomes, session_factory, instance_id: str, task_id: str, audit_kind: str, field: str) -> Actor:
    """Check exactly one racer succeeded and the other got ConflictError; return the winner."""
    winners = [actor for actor, outcome in zip((FIRST, SECOND), outcomes) if not isinstance(outcome, Exception)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]

    assert len(winners) == 1, outcomes
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], ConflictError), repr(errors[0])

    with session_factory() as session:
        events = list(session.scalars(sa.select(AuditEvent).where(AuditEvent.instance_id == instance_id, AuditEvent.kind == audit_kind)))
        task = session.get(HumanTask, task_id)
    assert [event.actor for event in events] == [winners[0].user]
    assert getattr(task, field) == winners[0].user
    return winners[0]


def complete_both(engines, task_id):
    return run_together([lambda: engines[0].complete(task_id, {}, FIRST), lambda: engines[1].complete(task_id, {}, SECOND)])


def claim_both(engines, task_id):
    return run_together([lambda: engines[0].claim(task_id, FIRST), lambda: engines[1].claim(task_id, SECOND)])


@pytest.mark.postgres
def test_complete_race_postgres(pg_engines, monkeypatch):
    instance_id, task_id = start_two_step(pg_engines)
    meet_after(monkeypatch, runtime, "validate_submission")

    outcomes = complete_both(pg_engines, task_id)

    assert_one_winner(outcomes, pg_engines[0].session_factory, instance_id, task_id, "task.completed", "completed_by")
    assert open_elements(pg_engines[0], instance_id) == ["check_training"]


def test_complete_race_unsynchronised(two_engines):
    # Without the meeting point either racer may read after the other committed: still exactly one wins.
    instance_id, task_id = start_two_step(two_engines)

    outcomes = complete_both(two_engines, task_id)

    assert_one_winner(outcomes, two_engines[0].session_factory, instance_id, task_id, "task.completed", "completed_by")


@pytest.mark.postgres
def test_claim_race_postgres(pg_engines, monkeypatch):
    instance_id, task_id = start_two_step(pg_engines)
    meet_after(monkeypatch, Engine, "may_work_on")

    outcomes = claim_both(pg_engines, task_id)

    assert_one_winner(outcomes, pg_engines[0].session_factory, instance_id, task_id, "task.claimed", "assignee")


def test_complete_race_any_database(two_engines, monkeypatch):
    instance_id, task_id = start_two_step(two_engines)
    meet_after(monkeypatch, runtime, "validate_submission")

    outcomes = complete_both(two_engines, task_id)

    assert_one_winner(outcomes, two_engines[0].session_factory, instance_id, task_id, "task.completed", "completed_by")


def test_claim_race_any_database(two_engines, monkeypatch):
    instance_id, task_id = start_two_step(two_engines)
    meet_after(monkeypatch, Engine, "may_work_on")

    outcomes = claim_both(two_engines, task_id)

    assert_one_winner(outcomes, two_engines[0].session_factory, instance_id, task_id, "task.claimed", "assignee")


def test_message_race_any_database(two_engines, db_url, monkeypatch):
    deploy_file(two_engines[0], "message_events.bpmn")
    instance_id = two_engines[0].start("await_documents", business_key="DOC-1")
    if db_url.startswith("sqlite"):
        # Both racers read the waiting instance before either writes. PostgreSQL's row lock makes the second
        # racer wait for the first instead, so it must not wait at a meeting point there.
        meet_after(monkeypatch, runtime, "waiting_message_tasks")

    outcomes = run_together(
        [lambda: engine.send_message("documents_received", {}, business_key="DOC-1", allow_start=False) for engine in two_engines]
    )

    assert outcomes.count([instance_id]) == 1, outcomes
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], (ConflictError, MessageNotDeliveredError)), repr(errors[0])
    assert open_elements(two_engines[0], instance_id) == ["check_documents"]


@pytest.fixture
def sqlite_engines(sqlite_template, tmp_path, registry):
    """Two engines with their own pools on one SQLite file. On PostgreSQL a row lock would make the second writer wait."""
    path = tmp_path / "races.db"
    shutil.copyfile(sqlite_template, path)
    pools = [make_db_engine(f"sqlite:///{path}"), make_db_engine(f"sqlite:///{path}")]
    yield [Engine(make_session_factory(pool), registry) for pool in pools]
    for pool in pools:
        pool.dispose()


def test_cancel_after_concurrent_complete_conflicts(sqlite_engines, monkeypatch):
    two_engines = sqlite_engines
    instance_id, task_id = start_two_step(two_engines)
    original_save = runtime.save
    completions = []

    def complete_then_save(session, loaded, **kwargs):
        # Another writer completes a task after the cancel read the instance and before it writes. The
        # completion calls this save too, so only the cancel's save starts one.
        if not completions:
            completions.append(task_id)
            two_engines[1].complete(task_id, {}, FIRST)
        return original_save(session, loaded, **kwargs)

    monkeypatch.setattr(runtime, "save", complete_then_save)

    with pytest.raises(ConflictError):
        two_engines[0].cancel_instance(instance_id, "admin.example", "duplicate referral")

    assert two_engines[0].get_instance(instance_id).status == "running"
