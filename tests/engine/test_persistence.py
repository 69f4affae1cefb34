"""Saving and restoring instance state, and deploying versions of a diagram."""

import json
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from engine.models import Deployment, Instance, ProcessVersion
from engine.serializer import new_workflow, workflow_from_json, workflow_to_json
from helpers import ADMIN, audit_events, complete_step, deploy_file, instance_row, only_task, read_diagram, state_of

COSTS = {"hourly_rate": "21.35", "hours_per_week": 12, "start_on": date(2030, 2, 1)}


@pytest.fixture
def costs_instance(engine, movable_clock) -> str:
    deploy_file(engine, "script_costs.bpmn")
    return engine.start("weekly_costs", data=COSTS)


def restore(session_factory, instance_id):
    """Rebuild the workflow from the stored row, as the engine does on every load."""
    with session_factory() as session:
        row = session.get(Instance, instance_id)
        return workflow_from_json(row.state, row.version.spec_json)


def run_live(spec_json: str, data: dict):
    """Run a fresh in-memory workflow of the same spec to its first wait, with no database."""
    workflow = new_workflow(spec_json)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    workflow.do_engine_steps()
    return workflow


def outline(workflow) -> list[tuple[str, str, dict]]:
    """Return each task's spec name, state and data, in tree order, without the random task ids."""
    return [(task.task_spec.name, TaskState.get_name(task.state), task.data) for task in workflow.get_tasks()]


def by_id(workflow) -> dict[str, tuple]:
    return {str(task.id): (task.task_spec.name, task.state, task.data, task.internal_data) for task in workflow.get_tasks()}


def spec_json_of(session_factory, process_id: str, version: int = 1) -> str:
    with session_factory() as session:
        return session.scalar(sa.select(ProcessVersion.spec_json).where(ProcessVersion.process_id == process_id, ProcessVersion.version == version))


def test_restore_matches_live_workflow(session_factory, costs_instance):
    restored = restore(session_factory, costs_instance)
    live = run_live(spec_json_of(session_factory, "weekly_costs"), COSTS)

    assert outline(restored) == outline(live)
    assert restored.data == live.data
    assert restored.last_task.data == live.last_task.data


def test_restore_round_trip_unchanged(session_factory, costs_instance):
    restored = restore(session_factory, costs_instance)
    stored = instance_row(session_factory, costs_instance)

    again = workflow_from_json(workflow_to_json(restored), spec_json_of(session_factory, "weekly_costs"))

    assert by_id(again) == by_id(restored)
    assert json.loads(workflow_to_json(again)) == json.loads(stored.state)


def test_restore_mid_process_then_finish(engine, session_factory, movable_clock):
    deploy_file(engine, "parallel_gateway.bpmn")
    instance_id = engine.start("parallel_checks", data={"provider_name": "Example Care Ltd"})
    complete_step(engine, instance_id, "check_training")
    restored = restore(session_factory, instance_id)

    [ready] = [task for task in restored.get_tasks(state=TaskState.READY)]
    assert ready.task_spec.name == "check_references"
    assert str(ready.id) == only_task(engine, instance_id).id
    ready.run()
    restored.do_engine_steps()
    complete_step(engine, instance_id, "check_references")

    assert outline(restored) == outline(restore(session_factory, instance_id))


def test_restore_subprocess_state(engine, session_factory, movable_clock):
    deploy_file(engine, "embedded_subprocess.bpmn")
    instance_id = engine.start("onboarding")
    restored = restore(session_factory, instance_id)

    assert [task.task_spec.name for task in restored.get_tasks(state=TaskState.READY)] == ["check_insurance"]
    assert json.loads(workflow_to_json(restored)) == state_of(session_factory, instance_id)


def version_number(session_factory, instance_id: str) -> int:
    with session_factory() as session:
        return session.get(Instance, instance_id).version.version


def test_state_keeps_decimal_and_date(session_factory, costs_instance):
    data = restore(session_factory, costs_instance).last_task.data

    assert data["weekly_cost"] == Decimal("256.20")
    assert type(data["weekly_cost"]) is Decimal
    assert data["annual_cost"] == Decimal("13322.40")
    assert data["start_on"] == date(2030, 2, 1)
    assert type(data["start_on"]) is date
    assert data["first_invoice_on"] == date(2030, 3, 1)


def test_state_has_no_spec(session_factory, costs_instance):
    state = state_of(session_factory, costs_instance)

    assert "spec" not in state
    assert "subprocess_specs" not in state
    assert '"task_specs"' not in instance_row(session_factory, costs_instance).state


def test_state_subprocess_names_spec(engine, session_factory, movable_clock):
    deploy_file(engine, "embedded_subprocess.bpmn")
    instance_id = engine.start("onboarding")

    [subprocess] = state_of(session_factory, instance_id)["subprocesses"].values()

    assert subprocess["spec"] == "compliance_checks"
    assert "subprocess_specs" not in subprocess


def test_spec_stored_once_per_version(engine, session_factory, costs_instance):
    engine.start("weekly_costs", data=COSTS)

    with session_factory() as session:
        versions = list(session.scalars(sa.select(ProcessVersion)))
        instances = list(session.scalars(sa.select(Instance)))
    assert len(versions) == 1
    assert '"task_specs"' in versions[0].spec_json
    assert len(instances) == 2
    assert {instance.version_id for instance in instances} == {versions[0].id}


def test_redeploy_unchanged_is_noop(engine, session_factory, movable_clock):
    first = deploy_file(engine, "forms.bpmn")

    second = deploy_file(engine, "forms.bpmn")

    assert first.created == [("care_assessment", 1)]
    assert second.created == []
    assert second.unchanged == ["forms.bpmn"]
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ProcessVersion)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Deployment)) == 1
    assert [event.kind for event in audit_events(session_factory)] == ["process.deployed"]


def changed_forms() -> bytes:
    return read_diagram("forms.bpmn").replace(b'label="Full name"', b'label="Full legal name"')


def test_redeploy_changed_creates_version(engine, session_factory, movable_clock):
    deploy_file(engine, "forms.bpmn")

    result = engine.deploy({"forms.bpmn": changed_forms()}, "analyst.example")

    assert result.created == [("care_assessment", 2)]
    assert [version.version for version in engine.versions("care_assessment")] == [2, 1]
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Deployment)) == 2


def test_running_instance_keeps_version(engine, session_factory, movable_clock):
    deploy_file(engine, "forms.bpmn")
    old = engine.start("care_assessment", data={"provider_id": 1})
    engine.deploy({"forms.bpmn": changed_forms()}, "analyst.example")

    new = engine.start("care_assessment", data={"provider_id": 1})

    assert version_number(session_factory, old) == 1
    assert version_number(session_factory, new) == 2
    assert engine.task_form(only_task(engine, old).id, ADMIN).fields[0].label == "Full name"
    assert engine.task_form(only_task(engine, new).id, ADMIN).fields[0].label == "Full legal name"


def test_old_version_instance_finishes(engine, session_factory, movable_clock):
    deploy_file(engine, "forms.bpmn")
    old = engine.start("care_assessment", data={"provider_id": 1, "case_worker": "sam.worker"})
    engine.deploy({"forms.bpmn": changed_forms()}, "analyst.example")

    complete_step(engine, old, "assess_needs", {"full_name": "Ada Example", "start_on": "2030-02-01"})
    complete_step(engine, old, "provider_review")
    complete_step(engine, old, "case_worker_check")

    assert engine.get_instance(old).status == "completed"
    assert version_number(session_factory, old) == 1
