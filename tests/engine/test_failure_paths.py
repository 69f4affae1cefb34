"""Failures that must open an incident at once: endless scripts, bad assignment expressions, permanent handler errors."""

import time

import pytest

from engine import scripting
from engine.errors import ConflictError
from engine.handler_api import HandlerRegistry
from engine.jobs import JobRunner, list_incidents, retry_incident
from engine.runtime import Actor, Engine

ADMIN = Actor("admin.example", is_admin=True)

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://example.test/bpmn">
<bpmn:process id="{process_id}" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
{body}
</bpmn:process>
</bpmn:definitions>
"""

ENDLESS_SCRIPT = """
<bpmn:scriptTask id="spin" scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
<bpmn:script>count = 0
while True:
    count = count + 1</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="spin" />
<bpmn:sequenceFlow id="f2" sourceRef="spin" targetRef="end" />
"""

GROUP_EXPRESSION = """
<bpmn:userTask id="review" camunda:candidateGroups="${'provider-' + str(provider_id)}"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />
"""

SERVICE = """
<bpmn:serviceTask id="price" camunda:type="external" camunda:topic="test.strict"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="price" />
<bpmn:sequenceFlow id="f2" sourceRef="price" targetRef="end" />
"""


def deploy(engine: Engine, process_id: str, body: str) -> None:
    engine.deploy({f"{process_id}.bpmn": HEADER.format(process_id=process_id, body=body).encode()}, "analyst.example")


@pytest.fixture
def strict_registry() -> HandlerRegistry:
    registry = HandlerRegistry()

    @registry.topic("test.strict", description="Reject negative hours", inputs={"hours": "weekly hours"})
    def strict(inputs, context):
        if inputs["hours"] < 0:
            raise ValueError("hours must not be negative")
        return {"approved": True}

    return registry


def test_endless_script_opens_incident(session_factory, monkeypatch):
    monkeypatch.setattr(scripting, "SCRIPT_TIME_LIMIT", 0.3)
    engine = Engine(session_factory, HandlerRegistry())
    deploy(engine, "spinning", ENDLESS_SCRIPT)

    started = time.monotonic()
    instance_id = engine.start("spinning")

    assert time.monotonic() - started < 5
    assert engine.get_instance(instance_id).status == "error"
    [incident] = list_incidents(session_factory)
    assert incident.element_id == "spin"
    assert "ran longer than 0.3 s" in incident.error


def test_one_line_loop_stopped():
    environment = scripting.RestrictedEnvironment()
    started = time.monotonic()

    with pytest.raises(scripting.ScriptError, match="ran longer than"):
        environment.execute("while True: pass", {})

    assert time.monotonic() - started < scripting.SCRIPT_TIME_LIMIT + 3


def test_group_expression_failure_opens_incident(session_factory):
    engine = Engine(session_factory, HandlerRegistry())
    deploy(engine, "grouped", GROUP_EXPRESSION)

    instance_id = engine.start("grouped")

    assert engine.get_instance(instance_id).status == "error"
    assert engine.list_tasks(ADMIN) == []
    [incident] = list_incidents(session_factory)
    assert incident.element_id == "review"
    assert "NameError" in incident.error


def test_group_expression_retry_with_data(session_factory):
    engine = Engine(session_factory, HandlerRegistry())
    deploy(engine, "grouped", GROUP_EXPRESSION)
    instance_id = engine.start("grouped")
    [incident] = list_incidents(session_factory)

    retry_incident(session_factory, incident.id, "ops.example", {"provider_id": 7})

    assert engine.get_instance(instance_id).status == "running"
    [task] = engine.list_tasks(Actor("jo.provider", frozenset({"provider-7"})))
    assert task.element_id == "review"
    assert list_incidents(session_factory) == []


def test_permanent_handler_error_no_retry(session_factory, strict_registry):
    engine = Engine(session_factory, strict_registry)
    deploy(engine, "pricing", SERVICE)
    instance_id = engine.start("pricing", data={"hours": -2})
    runner = JobRunner(session_factory, strict_registry, "test-worker")

    outcomes = runner.run_due()

    assert [outcome.result for outcome in outcomes] == ["incident"]
    [incident] = list_incidents(session_factory)
    assert incident.attempts == 1
    assert incident.error == "ValueError: hours must not be negative"
    assert engine.get_instance(instance_id).status == "running"


def test_oversized_diagram_rejected(session_factory):
    engine = Engine(session_factory, HandlerRegistry())
    padding = "<!-- " + "x" * (6 * 1024 * 1024) + " -->"

    problems = engine.lint({"huge.bpmn": HEADER.format(process_id="huge", body=ENDLESS_SCRIPT + padding).encode()})

    assert [problem.message for problem in problems] == ["the diagram is 6.0 MB, over the 5 MB limit; split it into smaller processes"]


def test_get_instance_has_version(session_factory):
    engine = Engine(session_factory, HandlerRegistry())
    deploy(engine, "grouped", GROUP_EXPRESSION)
    instance_id = engine.start("grouped", data={"provider_id": 3})

    row = engine.get_instance(instance_id)

    assert row.version.process_id == "grouped"
    assert row.version.version == 1


def test_release_after_completion_conflicts(session_factory):
    engine = Engine(session_factory, HandlerRegistry())
    deploy(engine, "grouped", GROUP_EXPRESSION)
    engine.start("grouped", data={"provider_id": 3})
    worker = Actor("jo.provider", frozenset({"provider-3"}))
    [task] = engine.list_tasks(worker)
    engine.claim(task.id, worker)
    engine.complete(task.id, {}, worker)

    with pytest.raises(ConflictError):
        engine.release(task.id, worker)
