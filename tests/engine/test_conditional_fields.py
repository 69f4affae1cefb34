"""Fields required only for some answers (camunda:property requiredWhen:<field>), and empty optional fields."""

import pytest

from engine.errors import FormValidationError
from engine.handler_api import HandlerRegistry
from engine.runtime import Actor, Engine

ADMIN = Actor("admin.example", is_admin=True)

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://example.test/bpmn">
<bpmn:process id="answer" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="respond" camunda:candidateGroups="care_manager">
  <bpmn:extensionElements>
    <camunda:formData>
      <camunda:formField id="response" type="enum"><camunda:value id="accepted" name="Accept" /><camunda:value id="declined" name="Decline" />
        <camunda:validation><camunda:constraint name="required" /></camunda:validation></camunda:formField>
      <camunda:formField id="decline_reason" type="string" />
      <camunda:formField id="urgent" type="boolean" />
    </camunda:formData>
    <camunda:properties>
      <camunda:property name="requiredWhen:decline_reason" value="${response == 'declined'}" />
      <camunda:property name="requiredMessage:decline_reason" value="is required when you decline" />
    </camunda:properties>
  </bpmn:extensionElements>
  <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:exclusiveGateway id="check" default="f4"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>
<bpmn:endEvent id="with_reason"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:endEvent id="without_reason"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="respond" />
<bpmn:sequenceFlow id="f2" sourceRef="respond" targetRef="check" />
<bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="with_reason"><bpmn:conditionExpression>${decline_reason != null}</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f4" sourceRef="check" targetRef="without_reason" />
</bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def engine(session_factory) -> Engine:
    engine = Engine(session_factory, HandlerRegistry())
    engine.deploy({"answer.bpmn": DIAGRAM.encode()}, "analyst.example")
    return engine


def test_decline_without_reason_rejected(engine):
    instance_id = engine.start("answer")
    [task] = engine.list_tasks(ADMIN)

    with pytest.raises(FormValidationError) as raised:
        engine.complete(task.id, {"response": "declined"}, ADMIN)

    assert [(error.field, error.message) for error in raised.value.errors] == [("decline_reason", "is required when you decline")]
    assert engine.get_instance(instance_id).status == "running"
    assert engine.list_tasks(ADMIN)[0].id == task.id


def test_accept_without_reason_allowed(engine):
    instance_id = engine.start("answer")
    [task] = engine.list_tasks(ADMIN)

    engine.complete(task.id, {"response": "accepted"}, ADMIN)

    assert engine.get_instance(instance_id).status == "completed"
    assert "without_reason" in engine.instance_elements(instance_id)["completed"]


def test_empty_optional_fields_become_none(engine):
    instance_id = engine.start("answer")
    [task] = engine.list_tasks(ADMIN)

    engine.complete(task.id, {"response": "accepted"}, ADMIN)

    data = engine.instance_data(instance_id)
    assert data["decline_reason"] is None
    assert data["urgent"] is False


STAFF_ONLY = DIAGRAM.replace(
    '<camunda:property name="requiredMessage:decline_reason" value="is required when you decline" />',
    '<camunda:property name="requiredMessage:decline_reason" value="is required when you decline" />\n      <camunda:property name="onlyGroups:urgent" value="provider_services" />',
).replace('candidateGroups="care_manager"', 'candidateGroups="care_manager, provider_services"').replace('id="answer"', 'id="answer_staff"')


def test_rule_skipped_when_field_invalid(engine):
    engine.start("answer")
    [task] = engine.list_tasks(ADMIN)

    with pytest.raises(FormValidationError) as raised:
        engine.complete(task.id, {"response": "maybe"}, ADMIN)

    assert [error.field for error in raised.value.errors] == ["response"]


def test_field_for_other_groups_hidden(session_factory):
    engine = Engine(session_factory, HandlerRegistry())
    engine.deploy({"answer_staff.bpmn": STAFF_ONLY.encode()}, "analyst.example")
    engine.start("answer_staff")
    manager = Actor("casey.manager", frozenset({"care_manager"}))
    staff = Actor("priya.team", frozenset({"provider_services"}))
    [task] = engine.list_tasks(manager)

    assert "urgent" not in [field.id for field in engine.task_form(task.id, manager).fields]
    assert "urgent" in [field.id for field in engine.task_form(task.id, staff).fields]
    with pytest.raises(FormValidationError) as raised:
        engine.complete(task.id, {"response": "accepted", "urgent": "true"}, manager)
    assert [(error.field, error.message) for error in raised.value.errors] == [("urgent", "is for other groups to fill in; leave it out")]

    engine.complete(task.id, {"response": "accepted", "urgent": "true"}, staff)
