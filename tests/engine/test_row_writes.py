"""Gathered engine writes: audit order, visibility before commit, version conflicts and task-row groups."""

import pytest
import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine.jobs import list_incidents
from engine.models import AuditEvent, HumanTask, TaskCandidate
from engine.store import find_task, load, save
from helpers import ADMIN, audit_kinds, deploy_file, only_task, open_elements

TEAM_TASK = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_team" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="team_task" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_to_review</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review" camunda:candidateGroups="${teams}">
      <bpmn:incoming>flow_to_review</bpmn:incoming><bpmn:outgoing>flow_to_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_to_review" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="flow_to_end" sourceRef="review" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_audit_events_keep_recorded_order(engine, session_factory):
    deploy_file(engine, "parallel_gateway.bpmn")
    instance_id = engine.start("parallel_checks")

    with session_factory.begin() as session:
        for kind in ("test.first", "test.second", "test.third"):
            audit.record(session, kind, "casey.manager", instance_id=instance_id)
        loaded = load(session, instance_id)
        save(session, loaded)
        audit.record(session, "test.after_save", "casey.manager", instance_id=instance_id)

    kinds = audit_kinds(session_factory, instance_id)
    assert kinds[-4:] == ["test.first", "test.second", "test.third", "test.after_save"]


def test_queued_audit_visible_to_query(session_factory):
    with session_factory.begin() as session:
        audit.record(session, "test.visible", "casey.manager", reason="checked before commit")
        found = session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "test.visible")).all()

        assert len(found) == 1
        assert found[0].detail == {"reason": "checked before commit"}


def test_queued_audit_rolled_back_with_transaction(session_factory):
    with pytest.raises(RuntimeError):
        with session_factory.begin() as session:
            audit.record(session, "test.rolled_back", "casey.manager")
            raise RuntimeError("the change failed")

    with session_factory() as session:
        assert session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "test.rolled_back")).all() == []


def test_stale_save_writes_nothing(engine, session_factory):
    deploy_file(engine, "parallel_gateway.bpmn")
    instance_id = engine.start("parallel_checks")
    references = only_task(engine, instance_id, "check_references")

    session = session_factory()
    try:
        loaded = load(session, instance_id)
        # Another writer completes a task after this session read the instance.
        engine.complete(references.id, {}, ADMIN)
        audit.record(session, "test.stale_change", "robin.manager", instance_id=instance_id)
        loaded.workflow.cancel()

        with pytest.raises(StaleDataError) as raised:
            save(session, loaded)
        session.rollback()
    finally:
        session.close()

    assert instance_id in str(raised.value)
    assert "test.stale_change" not in audit_kinds(session_factory, instance_id)
    assert open_elements(engine, instance_id) == ["check_training"]
    assert engine.get_instance(instance_id).status == "running"


def test_task_rows_written_with_groups(engine, session_factory):
    engine.deploy({"team_task.bpmn": TEAM_TASK}, "analyst.example")
    instance_id = engine.start("team_task", data={"teams": ["care_manager", "provider_services"]})

    task = only_task(engine, instance_id, "review")
    with session_factory() as session:
        groups = session.scalars(sa.select(TaskCandidate.group_name).where(TaskCandidate.task_id == task.id).order_by(TaskCandidate.group_name)).all()
        row = session.get(HumanTask, task.id)

    assert groups == ["care_manager", "provider_services"]
    assert row.candidate_groups == "care_manager,provider_services"
    assert row.status == "open"


def test_group_with_comma_opens_incident(engine, session_factory):
    engine.deploy({"team_task.bpmn": TEAM_TASK}, "analyst.example")
    instance_id = engine.start("team_task", data={"teams": "care_manager,finance"})

    incidents = [incident for incident in list_incidents(session_factory) if incident.instance_id == instance_id]
    assert len(incidents) == 1
    assert incidents[0].element_id == "review"
    assert "'care_manager,finance' contains a comma" in incidents[0].error
    assert open_elements(engine, instance_id) == []


def test_queued_audit_dropped_by_rollback(session_factory):
    session = session_factory()
    try:
        audit.record(session, "test.rolled_back", "casey.manager")
        session.rollback()
        audit.record(session, "test.after_rollback", "casey.manager")
        session.commit()
    finally:
        session.close()

    with session_factory() as session:
        kinds = session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.kind.like("test.%"))).all()
    assert "test.rolled_back" not in kinds
    assert kinds == ["test.after_rollback"]


def test_queued_audit_dropped_by_close(session_factory):
    session = session_factory()
    try:
        audit.record(session, "test.never_committed", "casey.manager")
        session.close()
        session.commit()
    finally:
        session.close()

    with session_factory() as session:
        assert session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "test.never_committed")).all() == []


def test_second_load_saved_first_makes_first_stale(engine, session_factory):
    deploy_file(engine, "parallel_gateway.bpmn")
    instance_id = engine.start("parallel_checks")
    references = only_task(engine, instance_id, "check_references")

    with session_factory.begin() as session:
        first = load(session, instance_id)
        second = load(session, instance_id)
        assert first.row is second.row
        find_task(second.workflow, references.id).run()
        save(session, second, completed_by={references.id: "casey.manager"})

        with pytest.raises(StaleDataError) as raised:
            save(session, first)

    assert instance_id in str(raised.value)
    assert open_elements(engine, instance_id) == ["check_training"]
    with session_factory() as session:
        workflow = load(session, instance_id).workflow
    assert [task.task_spec.bpmn_id for task in workflow.get_tasks() if task.has_state(TaskState.READY)] == ["check_training"]
