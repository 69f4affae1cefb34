"""Service-task jobs: inputs and outputs, idempotency keys, time-outs, retries, incidents and BPMN errors."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import BusinessError, ConflictError, TransientError
from engine.handler_api import HandlerRegistry
from engine.jobs import JobRunner, cancel_incident, list_incidents, retry_incident
from engine.models import AuditEvent, Incident, Job
from helpers import START_TIME, audit_events, audit_kinds, deploy_file, open_elements

RETRY_WAIT = timedelta(minutes=5)


class ScriptedHandler:
    """A handler that records each call and raises the errors queued in ``failures`` before it succeeds."""

    def __init__(self, result):
        self.result = result
        self.failures: list[Exception] = []
        self.calls: list[tuple[dict, object]] = []

    def __call__(self, inputs, context):
        self.calls.append((dict(inputs), context))
        if self.failures:
            raise self.failures.pop(0)
        return self.result(inputs)

    @property
    def keys(self) -> list[str]:
        return [context.idempotency_key for _inputs, context in self.calls]

    @property
    def attempts(self) -> list[int]:
        return [context.attempt for _inputs, context in self.calls]


@pytest.fixture
def pricing():
    return ScriptedHandler(lambda inputs: {"cost": inputs["weekly_hours"] * 25})


@pytest.fixture
def cqc_check():
    return ScriptedHandler(lambda inputs: {"registered": True})


@pytest.fixture
def registry(pricing, cqc_check):
    """The registry the conftest's engine and job runner use, here with the scripted handlers."""
    registry = HandlerRegistry()
    registry.topic("exec.price", description="Price a care package", inputs={"weekly_hours": "hours a week", "band": "price band"}, outputs={"cost": "pounds a week"})(pricing)
    registry.topic("exec.cqc", description="Check a provider's CQC registration", errors={"CQC_NOT_REGISTERED": "no registration found"})(cqc_check)
    return registry


@pytest.fixture(autouse=True)
def diagrams(engine, movable_clock):
    # exec_cqc_caught and exec_cqc_other_code both define the error id
    # err_not_registered, each with its own code. Deploying them in one upload
    # checks that each boundary event takes the code from its own file.
    deploy_file(engine, "exec_service.bpmn", "exec_cqc_caught.bpmn", "exec_cqc_uncaught.bpmn", "exec_cqc_other_code.bpmn")


def job_of(session_factory, instance_id: str) -> Job:
    with session_factory() as session:
        return session.scalars(sa.select(Job).where(Job.instance_id == instance_id)).one()


def incidents_of(session_factory, instance_id: str) -> list[Incident]:
    with session_factory() as session:
        return list(session.scalars(sa.select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)))


def events_of_kind(session_factory, instance_id: str, kind: str) -> list[AuditEvent]:
    return [event for event in audit_events(session_factory, instance_id) if event.kind == kind]


def run_until_incident(runner: JobRunner, movable_clock) -> list[str]:
    """Run the job at each retry time until it opens an incident, and return every outcome."""
    results = [outcome.result for outcome in runner.run_due()]
    while results[-1] == "retry":
        movable_clock.current += RETRY_WAIT
        results.extend(outcome.result for outcome in runner.run_due())
    return results


def test_service_task_inputs_outputs_and_continue(engine, job_runner, pricing, session_factory):
    instance_id = engine.start("exec_service", business_key="PKG-1001", data={"hours": 3})
    job = job_of(session_factory, instance_id)

    outcomes = job_runner.run_due()

    assert [outcome.result for outcome in outcomes] == ["done"]
    inputs, context = pricing.calls[0]
    assert inputs == {"weekly_hours": 21, "band": "standard"}
    assert context.idempotency_key == f"{instance_id}:{job.task_id}"
    assert context.instance_id == instance_id
    assert context.element_id == "price_package"
    assert context.topic == "exec.price"
    assert context.business_key == "PKG-1001"
    assert context.attempt == 1
    assert engine.instance_data(instance_id)["weekly_cost"] == 21 * 25
    assert open_elements(engine, instance_id) == ["review_price"]
    assert job_of(session_factory, instance_id).status == "done"
    assert audit_kinds(session_factory, instance_id) == ["instance.started", "job.completed"]


def test_service_task_retry_waits_for_cycle(engine, job_runner, pricing, movable_clock, session_factory):
    pricing.failures = [TransientError("pricing service returned 503"), TransientError("pricing service returned 503")]
    instance_id = engine.start("exec_service", business_key="PKG-1002", data={"hours": 2})

    assert [outcome.result for outcome in job_runner.run_due()] == ["retry"]
    assert job_of(session_factory, instance_id).next_run_at == START_TIME + RETRY_WAIT

    movable_clock.current = START_TIME + RETRY_WAIT - timedelta(seconds=1)
    assert job_runner.run_due() == []
    assert len(pricing.calls) == 1

    movable_clock.current = START_TIME + RETRY_WAIT
    assert [outcome.result for outcome in job_runner.run_due()] == ["retry"]
    assert job_of(session_factory, instance_id).next_run_at == START_TIME + 2 * RETRY_WAIT

    movable_clock.current = START_TIME + 2 * RETRY_WAIT
    assert [outcome.result for outcome in job_runner.run_due()] == ["done"]

    assert pricing.attempts == [1, 2, 3]
    assert len(set(pricing.keys)) == 1
    assert engine.instance_data(instance_id)["weekly_cost"] == 14 * 25
    retries = events_of_kind(session_factory, instance_id, "job.retry_scheduled")
    assert [event.detail["delay_seconds"] for event in retries] == [300.0, 300.0]
    assert [event.at for event in retries] == [START_TIME, START_TIME + RETRY_WAIT]


def test_service_task_write_conflict_retried(engine, job_runner, pricing, movable_clock, session_factory):
    # Another writer saved the instance while the handler ran: the job is retried, not sent to an operator.
    pricing.failures = [StaleDataError("instance was changed by another transaction after it was read")]
    instance_id = engine.start("exec_service", business_key="PKG-1004", data={"hours": 2})

    assert [outcome.result for outcome in job_runner.run_due()] == ["retry"]
    assert incidents_of(session_factory, instance_id) == []

    movable_clock.current = START_TIME + RETRY_WAIT
    assert [outcome.result for outcome in job_runner.run_due()] == ["done"]
    assert engine.instance_data(instance_id)["weekly_cost"] == 14 * 25


def test_service_task_timeout_counts_as_failure(engine, session_factory, movable_clock):
    release = threading.Event()
    registry = HandlerRegistry()

    @registry.topic("exec.price", description="A pricing call that hangs", timeout=0.2)
    def hanging_price(inputs, context):
        release.wait(10)
        return {"cost": 1}

    slow_runner = JobRunner(session_factory, registry, "worker_slow")
    instance_id = engine.start("exec_service", business_key="PKG-1003", data={"hours": 1})
    try:
        outcomes = slow_runner.run_due()
    finally:
        release.set()
        slow_runner.close()

    assert [outcome.result for outcome in outcomes] == ["retry"]
    job = job_of(session_factory, instance_id)
    assert job.status == "ready"
    assert job.last_error == "the handler timed out"
    assert job.next_run_at == START_TIME + RETRY_WAIT
    assert "weekly_cost" not in engine.instance_data(instance_id)
    assert audit_kinds(session_factory, instance_id) == ["instance.started", "job.retry_scheduled"]


def test_service_task_exhausted_retries_open_incident(engine, job_runner, pricing, movable_clock, session_factory):
    pricing.failures = [TransientError("pricing service unreachable")] * 4
    instance_id = engine.start("exec_service", business_key="PKG-1004", data={"hours": 2})
    task_id = job_of(session_factory, instance_id).task_id

    results = run_until_incident(job_runner, movable_clock)

    assert results == ["retry", "retry", "retry", "incident"]
    assert pricing.attempts == [1, 2, 3, 4]
    assert len(set(pricing.keys)) == 1
    [incident] = incidents_of(session_factory, instance_id)
    assert incident.task_id == task_id
    assert incident.element_id == "price_package"
    assert incident.topic == "exec.price"
    assert incident.error == "TransientError: pricing service unreachable"
    assert incident.attempts == 4
    assert incident.status == "open"
    assert [row.id for row in list_incidents(session_factory)] == [incident.id]
    assert job_of(session_factory, instance_id).status == "failed"

    movable_clock.current += timedelta(days=1)
    assert job_runner.run_due() == []
    assert audit_kinds(session_factory, instance_id) == ["instance.started"] + ["job.retry_scheduled"] * 3 + ["incident.opened"]


def test_incident_retry_with_corrected_data(engine, job_runner, pricing, movable_clock, session_factory):
    def reject_negative_hours(inputs):
        if inputs["weekly_hours"] < 0:
            raise ValueError("weekly hours must not be negative")
        return {"cost": inputs["weekly_hours"] * 25}

    pricing.result = reject_negative_hours
    instance_id = engine.start("exec_service", business_key="PKG-1005", data={"hours": -1})
    assert run_until_incident(job_runner, movable_clock)[-1] == "incident"
    [incident] = incidents_of(session_factory, instance_id)
    assert incident.error == "ValueError: weekly hours must not be negative"

    retry_incident(session_factory, incident.id, "ops_olu", {"hours": 4})
    outcomes = job_runner.run_due()

    assert [outcome.result for outcome in outcomes] == ["done"]
    assert pricing.calls[-1][0]["weekly_hours"] == 28
    assert len(set(pricing.keys)) == 1
    assert engine.instance_data(instance_id)["weekly_cost"] == 28 * 25
    assert open_elements(engine, instance_id) == ["review_price"]
    [resolved] = incidents_of(session_factory, instance_id)
    assert resolved.status == "resolved"
    assert resolved.resolved_by == "ops_olu"
    assert list_incidents(session_factory) == []
    [retried] = events_of_kind(session_factory, instance_id, "incident.retried")
    assert retried.actor == "ops_olu"
    assert retried.detail["fields"] == ["hours"]
    assert audit_kinds(session_factory, instance_id)[-3:] == ["incident.opened", "incident.retried", "job.completed"]

    with pytest.raises(ConflictError, match="resolved"):
        retry_incident(session_factory, incident.id, "ops_olu")


def test_incident_cancel_closes_it(engine, job_runner, pricing, movable_clock, session_factory):
    pricing.failures = [TransientError("pricing service unreachable")] * 4
    instance_id = engine.start("exec_service", business_key="PKG-1006", data={"hours": 2})
    run_until_incident(job_runner, movable_clock)
    [incident] = incidents_of(session_factory, instance_id)

    cancel_incident(session_factory, incident.id, "ops_olu", "package withdrawn by the family")

    [cancelled] = incidents_of(session_factory, instance_id)
    assert cancelled.status == "cancelled"
    assert cancelled.resolved_by == "ops_olu"
    assert list_incidents(session_factory) == []
    assert job_of(session_factory, instance_id).status == "cancelled"
    movable_clock.current += timedelta(days=1)
    assert job_runner.run_due() == []
    assert len(pricing.calls) == 4
    [event] = events_of_kind(session_factory, instance_id, "incident.cancelled")
    assert event.detail["reason"] == "package withdrawn by the family"

    with pytest.raises(ConflictError, match="cancelled"):
        cancel_incident(session_factory, incident.id, "ops_olu", "again")


def test_business_error_caught_by_boundary_event(engine, job_runner, cqc_check, session_factory):
    cqc_check.failures = [BusinessError("CQC_NOT_REGISTERED", "no CQC registration for location 1-000000001")]
    instance_id = engine.start("exec_cqc_caught", business_key="PRV-201")

    outcomes = job_runner.run_due()

    assert [outcome.result for outcome in outcomes] == ["caught"]
    assert len(cqc_check.calls) == 1
    assert open_elements(engine, instance_id) == ["chase_registration"]
    assert engine.instance_data(instance_id)["error_code"] == "CQC_NOT_REGISTERED"
    assert incidents_of(session_factory, instance_id) == []
    assert job_of(session_factory, instance_id).status == "done"
    [event] = events_of_kind(session_factory, instance_id, "job.business_error")
    assert event.detail["code"] == "CQC_NOT_REGISTERED"


@pytest.mark.parametrize("process_id", ["exec_cqc_uncaught", "exec_cqc_other_code"])
def test_business_error_uncaught_opens_incident(engine, job_runner, cqc_check, session_factory, process_id):
    cqc_check.failures = [BusinessError("CQC_NOT_REGISTERED", "no CQC registration for location 1-000000002")]
    instance_id = engine.start(process_id, business_key="PRV-202")

    outcomes = job_runner.run_due()

    assert [outcome.result for outcome in outcomes] == ["incident"]
    assert len(cqc_check.calls) == 1
    [incident] = incidents_of(session_factory, instance_id)
    assert incident.topic == "exec.cqc"
    assert incident.element_id == "check_cqc"
    assert "CQC_NOT_REGISTERED" in incident.error
    assert incident.attempts == 1
    assert open_elements(engine, instance_id) == []
    assert engine.get_instance(instance_id).status == "running"
    assert audit_kinds(session_factory, instance_id) == ["instance.started", "incident.opened"]
