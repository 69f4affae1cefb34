"""Timer events (duration, date, cycle) as intermediate catch events and as interrupting boundary events."""

from datetime import datetime, timedelta, timezone

import pytest

from engine import timers
from engine.errors import ConflictError
from engine.models import HumanTask
from helpers import ADMIN, START_TIME, audit_kinds, complete_step, deploy_file, open_elements

DATE_DUE = datetime(2030, 1, 8, 9, 0, tzinfo=timezone.utc)

# Each timer kind of timer_events.bpmn and when it first falls due after START_TIME.
FIRST_DUE = {
    "duration": START_TIME + timedelta(hours=1),
    "date": DATE_DUE,
    "cycle": START_TIME + timedelta(hours=1),
}


@pytest.fixture
def deployed_timers(engine, movable_clock):
    deploy_file(engine, "timer_events.bpmn")


@pytest.mark.parametrize("kind", ["duration", "date", "cycle"])
def test_timer_catch_waits_until_due(engine, deployed_timers, movable_clock, session_factory, kind):
    instance_id = engine.start(f"catch_{kind}")

    assert engine.get_instance(instance_id).next_timer_at == FIRST_DUE[kind]
    assert open_elements(engine, instance_id) == []

    movable_clock.current = FIRST_DUE[kind] - timedelta(seconds=1)
    assert timers.fire_due_timers(session_factory) == 0
    assert open_elements(engine, instance_id) == []

    movable_clock.current = FIRST_DUE[kind]
    assert timers.fire_due_timers(session_factory) == 1
    assert open_elements(engine, instance_id) == [f"catch_{kind}_follow_up"]
    assert engine.get_instance(instance_id).next_timer_at is None
    assert audit_kinds(session_factory, instance_id) == ["instance.started", "timer.fired"]


@pytest.mark.parametrize("kind", ["duration", "date", "cycle"])
def test_timer_catch_fires_once(engine, deployed_timers, movable_clock, session_factory, kind):
    instance_id = engine.start(f"catch_{kind}")
    movable_clock.current = FIRST_DUE[kind]
    timers.fire_due_timers(session_factory)

    movable_clock.advance(days=3)

    assert timers.fire_due_timers(session_factory) == 0
    assert open_elements(engine, instance_id) == [f"catch_{kind}_follow_up"]
    complete_step(engine, instance_id, f"catch_{kind}_follow_up")
    assert engine.get_instance(instance_id).status == "completed"


@pytest.mark.parametrize("kind", ["duration", "date", "cycle"])
def test_timer_boundary_interrupts(engine, deployed_timers, movable_clock, session_factory, kind):
    instance_id = engine.start(f"boundary_{kind}")
    assert open_elements(engine, instance_id) == [f"boundary_{kind}_record_reply"]
    assert engine.get_instance(instance_id).next_timer_at == FIRST_DUE[kind]

    movable_clock.current = FIRST_DUE[kind]

    assert timers.fire_due_timers(session_factory) == 1
    assert open_elements(engine, instance_id) == [f"boundary_{kind}_escalate"]
    assert engine.get_instance(instance_id).next_timer_at is None
    movable_clock.advance(days=3)
    assert timers.fire_due_timers(session_factory) == 0
    assert open_elements(engine, instance_id) == [f"boundary_{kind}_escalate"]


@pytest.mark.parametrize("kind", ["duration", "date", "cycle"])
def test_timer_boundary_cancelled_by_completion(engine, deployed_timers, movable_clock, session_factory, kind):
    instance_id = engine.start(f"boundary_{kind}")
    movable_clock.current = FIRST_DUE[kind] - timedelta(minutes=1)

    complete_step(engine, instance_id, f"boundary_{kind}_record_reply")

    assert engine.get_instance(instance_id).status == "completed"
    assert engine.get_instance(instance_id).next_timer_at is None
    movable_clock.advance(days=3)
    assert timers.fire_due_timers(session_factory) == 0


def test_timer_boundary_closes_interrupted_task(engine, deployed_timers, movable_clock, session_factory):
    instance_id = engine.start("boundary_duration")
    [task] = [task for task in engine.list_tasks(ADMIN) if task.instance_id == instance_id]
    movable_clock.advance(hours=1)

    timers.fire_due_timers(session_factory)

    with session_factory() as session:
        row = session.get(HumanTask, task.id)
    assert row.status == "cancelled"
    with pytest.raises(ConflictError):
        engine.complete(task.id, {}, ADMIN)


def test_timer_duration_measured_from_arrival(engine, deployed_timers, movable_clock, session_factory):
    movable_clock.advance(minutes=30)

    instance_id = engine.start("catch_duration")

    assert engine.get_instance(instance_id).next_timer_at == START_TIME + timedelta(minutes=90)


def test_timer_date_in_past_fires_at_start(engine, deployed_timers, movable_clock):
    movable_clock.current = DATE_DUE + timedelta(days=1)

    instance_id = engine.start("catch_date")

    assert open_elements(engine, instance_id) == ["catch_date_follow_up"]
    assert engine.get_instance(instance_id).next_timer_at is None
