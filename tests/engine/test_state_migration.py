"""Loading instance states written by older SpiffWorkflow releases, and rejecting states the engine cannot read."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS, from_version_1_3, from_version_1_4
from SpiffWorkflow.util.task import TaskState

from engine import store, timers
from engine.errors import StateVersionError
from engine.models import AuditEvent, Instance, MessageWait, ProcessVersion
from engine.serializer import SERIALIZER, check_state_version, migrate_state
from helpers import START_TIME, audit_kinds, complete_step, deploy_file, instance_row, open_elements, state_of

STATES = Path(__file__).with_name("states")
PROCESS_ID = "placement_follow_up"
OLD_VERSIONS = ["1.3", "1.4"]

# The fixtures were saved with the timer clock stopped at START_TIME, so the 48-hour branch is due then.
TIMER_DUE = START_TIME + timedelta(hours=48)
AGREED_PLAN = {"care_plan_ref": "PLAN-0042", "weekly_hours": 12}


def old_state(version: str) -> str:
    return (STATES / f"{PROCESS_ID}_{version}_state.json").read_text(encoding="utf-8")


def old_spec_json(version: str) -> str:
    return (STATES / f"{PROCESS_ID}_{version}_spec.json").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def deployed(engine, movable_clock):
    deploy_file(engine, "state_migration.bpmn")


def waiting_instance(engine) -> str:
    """Start an instance and run it to the event-based gateway, where the fixtures were saved."""
    instance_id = engine.start(PROCESS_ID)
    complete_step(engine, instance_id, "agree_plan", AGREED_PLAN)
    return instance_id


def replace_state(session_factory, instance_id: str, state: str) -> None:
    with session_factory.begin() as session:
        session.execute(sa.update(Instance).where(Instance.id == instance_id).values(state=state))


def instance_with_state(engine, session_factory, state: str) -> str:
    """Return an instance waiting at the gateway whose stored state is ``state``.

    The engine writes the wait rows and timer due time for the same point of
    the process, as it would have when the old release saved the state.
    """
    instance_id = waiting_instance(engine)
    replace_state(session_factory, instance_id, state)
    return instance_id


def gateway_and_branches(workflow) -> tuple:
    tasks = {task.task_spec.name: task for task in workflow.get_tasks()}
    return tasks["reply_or_timeout"], tasks["reply_received"], tasks["reply_overdue"]


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_old_state_message_runs_to_end(engine, session_factory, version):
    instance_id = instance_with_state(engine, session_factory, old_state(version))

    delivered = engine.send_message("provider_reply", {"start_date": "2030-02-04"}, actor="provider_portal")

    assert delivered == [instance_id]
    assert open_elements(engine, instance_id) == ["confirm_start"]
    assert engine.instance_data(instance_id) == {**AGREED_PLAN, "start_date": "2030-02-04"}
    assert state_of(session_factory, instance_id)[SERIALIZER.VERSION_KEY] == SERIALIZER.VERSION

    complete_step(engine, instance_id, "confirm_start")

    assert engine.get_instance(instance_id).status == "completed"
    completed = engine.instance_elements(instance_id)["completed"]
    assert "reply_received" in completed
    assert "reply_overdue" not in completed


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_old_state_keeps_timer_due_time(engine, session_factory, version):
    instance_id = instance_with_state(engine, session_factory, old_state(version))

    with session_factory() as session:
        gateway, received, overdue = gateway_and_branches(store.load(session, instance_id).workflow)

    assert gateway.state == TaskState.WAITING
    assert gateway.internal_data["event_value"] == TIMER_DUE.isoformat()
    assert received.state == TaskState.MAYBE
    assert overdue.state == TaskState.MAYBE
    assert "event_value" not in overdue.internal_data


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_old_state_timer_runs_to_end(engine, session_factory, movable_clock, version):
    instance_id = instance_with_state(engine, session_factory, old_state(version))

    movable_clock.current = TIMER_DUE

    assert timers.fire_due_timers(session_factory) == 1
    assert open_elements(engine, instance_id) == ["confirm_start"]
    assert engine.instance_data(instance_id) == AGREED_PLAN

    complete_step(engine, instance_id, "confirm_start")

    assert engine.get_instance(instance_id).status == "completed"
    completed = engine.instance_elements(instance_id)["completed"]
    assert "reply_overdue" in completed
    assert "reply_received" not in completed


def test_old_state_task_order_ignored(engine, session_factory):
    # From 1.5 a saved task stores only its changes to its parent's data, so the tasks must be restored parents first.
    reordered = json.dumps(json.loads(old_state("1.4")), sort_keys=True)
    instance_id = instance_with_state(engine, session_factory, reordered)

    engine.send_message("provider_reply", {"start_date": "2030-02-04"})

    assert engine.instance_data(instance_id) == {**AGREED_PLAN, "start_date": "2030-02-04"}


def test_old_state_spec_not_shared(engine, session_factory):
    current_id = waiting_instance(engine)
    old_id = instance_with_state(engine, session_factory, old_state("1.4"))

    with session_factory() as session:
        spec_hash = session.scalars(sa.select(ProcessVersion.spec_hash).where(ProcessVersion.process_id == PROCESS_ID)).one()
        current = store.load(session, current_id).workflow
        migrated = store.load(session, old_id).workflow

    shared_spec, shared_subprocess_specs = store.version_specs(spec_hash, lambda: pytest.fail("the spec is not cached"))
    assert current.spec is shared_spec
    assert migrated.spec is not shared_spec
    assert migrated.subprocess_specs["await_provider"] is not shared_subprocess_specs["await_provider"]


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_migration_leaves_current_spec_unchanged(session_factory, version):
    with session_factory() as session:
        stored = json.loads(session.scalars(sa.select(ProcessVersion.spec_json).where(ProcessVersion.process_id == PROCESS_ID)).one())
    dct = json.loads(old_state(version))
    dct.pop(SERIALIZER.VERSION_KEY)
    dct.update(json.loads(json.dumps(stored)))

    migrate_state(dct, version)

    assert dct["spec"] == stored["spec"]
    assert dct["subprocess_specs"] == stored["subprocess_specs"]


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_migration_updates_old_spec(version):
    # The spec that the old release wrote: its gateway branches still have their own event definitions.
    dct = json.loads(old_state(version))
    dct.pop(SERIALIZER.VERSION_KEY)
    dct.update(json.loads(old_spec_json(version)))
    task_specs = dct["subprocess_specs"]["await_provider"]["task_specs"]
    gateway_definition = json.loads(json.dumps(task_specs["reply_or_timeout"]["event_definition"]))

    migrate_state(dct, version)

    assert task_specs["reply_received"]["event_definition"]["typename"] == "NoneEventDefinition"
    assert task_specs["reply_overdue"]["event_definition"]["typename"] == "NoneEventDefinition"
    assert task_specs["reply_or_timeout"]["event_definition"] == gateway_definition
    [subprocess] = dct["subprocesses"].values()
    gateway = next(task for task in subprocess["tasks"].values() if task["task_spec"] == "reply_or_timeout")
    assert gateway["internal_data"]["event_value"] == TIMER_DUE.isoformat()


@pytest.mark.parametrize(("version", "stock_step"), [("1.3", from_version_1_3), ("1.4", from_version_1_4)])
def test_stock_migration_raises_name_error(version, stock_step):
    # SpiffWorkflow 3.2.0's own steps fail on any state with a subprocess, which is why the engine replaces them.
    dct = json.loads(old_state(version))
    dct.update(json.loads(old_spec_json(version)))

    with pytest.raises(NameError):
        stock_step(dct)


BAD_VERSIONS = [
    pytest.param("1.6", "newer than '1.5'", "Load it with the release of this service that wrote it", id="newer"),
    pytest.param("2.0", "newer than '1.5'", "Load it with the release of this service that wrote it", id="major"),
    pytest.param("1.5.1", "newer than '1.5'", "Load it with the release of this service that wrote it", id="patch"),
    pytest.param("0.9", "unknown serializer_version '0.9'", "Restore it from a backup", id="older"),
    pytest.param("latest", "unknown serializer_version 'latest'", "Restore it from a backup", id="word"),
    pytest.param(15, "unknown serializer_version 15", "Restore it from a backup", id="number"),
    pytest.param(None, "has no serializer_version", "Restore it from a backup", id="missing"),
    pytest.param([1, 5], "unknown serializer_version [1, 5]", "Restore it from a backup", id="list"),
    pytest.param({"major": 1}, "unknown serializer_version {'major': 1}", "Restore it from a backup", id="object"),
]


@pytest.mark.parametrize(("version", "problem", "action"), BAD_VERSIONS)
def test_bad_state_version_rejected(engine, session_factory, version, problem, action):
    instance_id = waiting_instance(engine)
    state = state_of(session_factory, instance_id)
    if version is None:
        del state[SERIALIZER.VERSION_KEY]
    else:
        state[SERIALIZER.VERSION_KEY] = version
    replace_state(session_factory, instance_id, json.dumps(state))
    before = instance_row(session_factory, instance_id)
    kinds_before = audit_kinds(session_factory, instance_id)

    with pytest.raises(StateVersionError) as raised:
        engine.send_message("provider_reply", {"start_date": "2030-02-04"})

    message = str(raised.value)
    assert message.startswith(f"instance {instance_id}: ")
    assert problem in message
    assert action in message
    assert raised.value.instance_id == instance_id
    assert raised.value.version == version
    after = instance_row(session_factory, instance_id)
    assert after.state == before.state
    assert after.row_version == before.row_version
    assert after.updated_at == before.updated_at
    assert audit_kinds(session_factory, instance_id) == kinds_before
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(MessageWait).where(MessageWait.instance_id == instance_id)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.kind == "message.received")) == 0


@pytest.mark.parametrize("version", [*MIGRATIONS, SERIALIZER.VERSION])
def test_every_stock_version_accepted(version):
    # A SpiffWorkflow upgrade that adds a serializer version fails here until the engine's migration steps cover it.
    check_state_version(version)
