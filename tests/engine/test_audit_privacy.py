"""The audit log and the engine's log records never contain task data values."""

import json
import logging
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine import timers
from engine.deploy import deploy_documents
from engine.models import Incident
from helpers import ADMIN, MANAGER, audit_events, complete_step, deploy_file, only_task

# Made-up personal data that the processes below carry through every kind of change.
NAME = "Ada Example"
POSTCODE = "ZZ99 3VZ"
PROVIDER = "Example Care Ltd"

FAILING_SCRIPT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions_failing" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="failing_script" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_to_script</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="parse_age" scriptFormat="python">
      <bpmn:incoming>flow_to_script</bpmn:incoming><bpmn:outgoing>flow_to_end</bpmn:outgoing>
      <bpmn:script>age = int(full_name)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_to_script" sourceRef="start" targetRef="parse_age" />
    <bpmn:sequenceFlow id="flow_to_end" sourceRef="parse_age" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def assert_no_values(texts: list[str]) -> None:
    for text in texts:
        for value in (NAME, POSTCODE, PROVIDER):
            assert value not in text, f"{value!r} found in {text!r}"


def audit_texts(session_factory) -> list[str]:
    return [json.dumps([event.kind, event.actor, event.task_id, event.detail], default=str) for event in audit_events(session_factory)]


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_audit_omits_form_and_start_data(engine, session_factory, movable_clock, all_logs):
    deploy_file(engine, "forms.bpmn")
    instance_id = engine.start("care_assessment", business_key="A-7", data={"provider_id": 3, "case_worker": "sam.worker", "full_name": NAME})
    task_id = only_task(engine, instance_id).id
    engine.claim(task_id, MANAGER)
    engine.release(task_id, MANAGER)

    engine.complete(task_id, {"full_name": NAME, "start_on": "2030-02-01"}, MANAGER)
    complete_step(engine, instance_id, "provider_review", {})
    engine.cancel_instance(instance_id, ADMIN.user, "duplicate referral")

    assert [event.kind for event in audit_events(session_factory)] == [
        "process.deployed",
        "instance.started",
        "task.claimed",
        "task.released",
        "task.completed",
        "task.completed",
        "instance.cancelled",
    ]
    assert_no_values(audit_texts(session_factory))
    assert_no_values([record.getMessage() for record in all_logs.records])


def test_audit_omits_service_and_message_data(engine, session_factory, movable_clock, job_runner, all_logs):
    deploy_file(engine, "service_mapping.bpmn")
    deploy_file(engine, "message_events.bpmn")
    deploy_file(engine, "event_based_gateway.bpmn")
    engine.start("quote_request", data={"hours": Decimal("2"), "postcode": POSTCODE, "full_name": NAME})
    job_runner.run_due()
    engine.start("await_documents", business_key="P-7")
    engine.send_message("documents_received", {"sender_name": NAME, "postcode": POSTCODE}, business_key="P-7")
    engine.send_message("referral_received", {"full_name": NAME}, business_key="R-7")
    engine.start("await_reply", data={"full_name": NAME})
    movable_clock.advance(hours=48)
    timers.fire_due_timers(session_factory)

    kinds = {event.kind for event in audit_events(session_factory)}
    assert {"job.completed", "message.received", "message.started", "timer.fired"} <= kinds
    assert_no_values(audit_texts(session_factory))
    assert_no_values([record.getMessage() for record in all_logs.records])


def test_audit_omits_values_in_script_errors(engine, session_factory, movable_clock, all_logs):
    with session_factory.begin() as session:
        deploy_documents(session, {"failing.bpmn": FAILING_SCRIPT}, "analyst.example", [])

    instance_id = engine.start("failing_script", data={"full_name": NAME})

    [opened] = [event for event in audit_events(session_factory) if event.kind == "incident.opened"]
    with session_factory() as session:
        [incident] = session.scalars(sa.select(Incident).where(Incident.instance_id == instance_id))
    assert opened.detail == {"element_id": "parse_age", "incident_id": incident.id}
    assert "ValueError" in incident.error
    assert_no_values(audit_texts(session_factory))
    assert_no_values([record.getMessage() for record in all_logs.records])
