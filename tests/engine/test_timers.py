"""Timers: the stored next due time, firing at the due instant, cycles after downtime, London dates, due-only selection."""

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from engine import rows
from engine.jobs import list_incidents
from engine.models import AuditEvent, Instance
from engine.store import load
from engine.timers import fire_due_timers
from helpers import START_TIME, audit_events, deploy_file

HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def diagrams(engine, movable_clock):
    deploy_file(engine, "exec_two_timers.bpmn", "exec_timer_script.bpmn", "exec_cycle_r3.bpmn", "exec_cycle_r10.bpmn", "exec_cycle_failing.bpmn", "exec_time_date.bpmn")


def completed_count(session_factory, instance_id: str, element_id: str) -> int:
    """Count the completed runs of one diagram element in an instance."""
    with session_factory() as session:
        workflow = load(session, instance_id).workflow
    # In SpiffWorkflow 3.2.0, get_tasks(state=COMPLETED) does not descend below
    # a WAITING task. A cycle timer's branches hang under its waiting boundary
    # event, so filter the full task list instead.
    return sum(1 for task in workflow.get_tasks() if task.has_state(TaskState.COMPLETED) and task.task_spec.bpmn_id == element_id)


def fired_events(session_factory, instance_id: str) -> list[AuditEvent]:
    return [event for event in audit_events(session_factory, instance_id) if event.kind == "timer.fired"]


def test_next_timer_at_earliest_after_each_save(engine, movable_clock, session_factory):
    instance_id = engine.start("exec_two_timers", business_key="ENQ-301")
    assert engine.get_instance(instance_id).next_timer_at == START_TIME + HOUR

    movable_clock.current = START_TIME + HOUR
    assert fire_due_timers(session_factory) == 1
    assert engine.get_instance(instance_id).next_timer_at == START_TIME + 3 * HOUR
    assert engine.get_instance(instance_id).status == "running"

    movable_clock.current = START_TIME + 3 * HOUR
    assert fire_due_timers(session_factory) == 1
    instance = engine.get_instance(instance_id)
    assert instance.next_timer_at is None
    assert instance.status == "completed"
    assert len(fired_events(session_factory, instance_id)) == 2


def test_timer_fires_at_exact_due_instant(engine, movable_clock, session_factory):
    instance_id = engine.start("exec_timer_script", business_key="ENQ-302")
    due = engine.get_instance(instance_id).next_timer_at
    assert due == START_TIME + HOUR

    movable_clock.current = due
    woken = fire_due_timers(session_factory, actor="worker_one")

    assert woken == 1
    assert engine.get_instance(instance_id).status == "completed"
    assert engine.instance_data(instance_id)["stale"] is True
    [event] = fired_events(session_factory, instance_id)
    assert event.actor == "worker_one"
    assert event.at == due
    assert event.detail["due"] == due.isoformat()


def test_timer_not_due_does_not_fire(engine, movable_clock, session_factory):
    instance_id = engine.start("exec_timer_script", business_key="ENQ-303")
    before = engine.get_instance(instance_id)

    movable_clock.current = START_TIME + HOUR - timedelta(seconds=1)
    woken = fire_due_timers(session_factory)

    assert woken == 0
    after = engine.get_instance(instance_id)
    assert after.status == "running"
    assert after.next_timer_at == START_TIME + HOUR
    assert after.row_version == before.row_version
    assert len(fired_events(session_factory, instance_id)) == 0


def test_cycle_timer_downtime_exhausts_repetitions(engine, movable_clock, session_factory):
    # R3/PT1H is due at +1h, +2h and +3h. After 5 hours down all three are
    # past, so the timer fires once and the skipped repetitions use up the cycle.
    instance_id = engine.start("exec_cycle_r3", business_key="ENQ-304")
    assert engine.get_instance(instance_id).next_timer_at == START_TIME + HOUR

    movable_clock.current = START_TIME + 5 * HOUR
    assert fire_due_timers(session_factory) == 1

    assert completed_count(session_factory, instance_id, "send_reminder") == 1
    instance = engine.get_instance(instance_id)
    assert instance.next_timer_at is None
    assert instance.status == "running"
    movable_clock.current = START_TIME + 10 * HOUR
    assert fire_due_timers(session_factory) == 0
    assert completed_count(session_factory, instance_id, "send_reminder") == 1


def test_cycle_timer_downtime_schedules_after_now(engine, movable_clock, session_factory):
    instance_id = engine.start("exec_cycle_r10", business_key="ENQ-305")

    movable_clock.current = START_TIME + 5 * HOUR
    assert fire_due_timers(session_factory) == 1
    assert fire_due_timers(session_factory) == 0

    assert completed_count(session_factory, instance_id, "send_reminder") == 1
    assert engine.get_instance(instance_id).next_timer_at == START_TIME + 6 * HOUR

    movable_clock.current = START_TIME + 6 * HOUR
    assert fire_due_timers(session_factory) == 1
    assert completed_count(session_factory, instance_id, "send_reminder") == 2
    assert engine.get_instance(instance_id).next_timer_at == START_TIME + 7 * HOUR
    assert len(fired_events(session_factory, instance_id)) == 2


def test_cycle_timer_failing_branch_sets_error(engine, movable_clock, session_factory):
    instance_id = engine.start("exec_cycle_failing", business_key="ENQ-307")

    movable_clock.current = START_TIME + HOUR
    assert fire_due_timers(session_factory) == 1

    instance = engine.get_instance(instance_id)
    assert instance.status == "error"
    assert "reminder_count" in instance.error
    assert engine.instance_elements(instance_id)["error"] == ["send_reminder"]
    assert engine.instance_elements(instance_id)["waiting"] == ["hourly"]
    [incident] = list_incidents(session_factory)
    assert incident.instance_id == instance_id
    assert incident.element_id == "send_reminder"


@pytest.mark.parametrize(
    ("process_id", "due_utc"),
    [
        pytest.param("exec_summer_review", datetime(2027, 7, 1, 8, 0, tzinfo=timezone.utc), id="bst"),
        pytest.param("exec_winter_review", datetime(2027, 1, 15, 9, 0, tzinfo=timezone.utc), id="gmt"),
    ],
)
def test_time_date_without_zone_is_london_time(engine, movable_clock, session_factory, process_id, due_utc):
    movable_clock.current = datetime(2027, 1, 1, 12, 0, tzinfo=timezone.utc)
    instance_id = engine.start(process_id, business_key="ENQ-306")
    assert engine.get_instance(instance_id).next_timer_at == due_utc

    movable_clock.current = due_utc - timedelta(seconds=1)
    assert fire_due_timers(session_factory) == 0

    movable_clock.current = due_utc
    assert fire_due_timers(session_factory) == 1
    assert engine.get_instance(instance_id).status == "completed"


def test_fire_due_timers_loads_only_due_instances(engine, movable_clock, session_factory, monkeypatch):
    due_ids = {engine.start("exec_timer_script", business_key=f"ENQ-31{number}") for number in range(2)}
    movable_clock.current = START_TIME + timedelta(minutes=30)
    waiting_ids = {engine.start("exec_timer_script", business_key=f"ENQ-32{number}") for number in range(5)}
    movable_clock.current = START_TIME + HOUR

    loaded: list[str] = []
    statements: list[str] = []

    read_instance = rows.read_instance

    def record_load(session, instance_id, **options):
        loaded.append(instance_id)
        return read_instance(session, instance_id, **options)

    def record_statement(_connection, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    db_engine = session_factory.kw["bind"]
    monkeypatch.setattr(rows, "read_instance", record_load)
    sa.event.listen(db_engine, "before_cursor_execute", record_statement)
    try:
        woken = fire_due_timers(session_factory)
    finally:
        sa.event.remove(db_engine, "before_cursor_execute", record_statement)

    assert woken == 2
    assert sorted(loaded) == sorted(due_ids)
    assert not set(loaded) & waiting_ids
    selections = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT") and "FROM engine_instances" in statement]
    assert all("WHERE" in statement for statement in selections)
    assert any("next_timer_at <=" in statement for statement in selections)
    for instance_id in waiting_ids:
        assert engine.get_instance(instance_id).status == "running"
