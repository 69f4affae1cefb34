"""One scheduler pass: timers first, then the service tasks they made ready. A failing job does not stop the others."""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from scheduler_helpers import read_diagram
from engine.handler_api import HandlerRegistry
from engine.runtime import Engine
from scheduler.jobs import SchedulerJobs


@pytest.fixture
def recorded_visits() -> list[str]:
    return []


@pytest.fixture
def services(session_factory, recorded_visits):
    registry = HandlerRegistry()

    @registry.topic("exec.record", description="Record a visit in memory")
    def record_visit(inputs, context):
        recorded_visits.append(context.idempotency_key)
        return {"recorded": True}

    engine = Engine(session_factory, registry)
    engine.deploy({"exec_timer_then_job.bpmn": read_diagram("exec_timer_then_job.bpmn")}, "analyst_anna")
    return SimpleNamespace(session_factory=session_factory, registry=registry, engine=engine)


@pytest.fixture
def scheduler_jobs(services):
    jobs = SchedulerJobs(services, "pass_worker", deliver_email=False)
    yield jobs
    jobs.close()


def test_run_pass_fires_timer_then_runs_job(services, scheduler_jobs, recorded_visits, engine_clock):
    instance_id = services.engine.start("exec_timer_then_job", business_key="VIS-601")

    engine_clock.current += timedelta(hours=1)
    report = scheduler_jobs.run_pass()

    assert report.timers_fired == 1
    assert report.jobs_run == 1
    assert report.emails_sent == 0
    assert report.errors == []
    assert len(recorded_visits) == 1
    assert services.engine.get_instance(instance_id).status == "completed"


def test_run_pass_nothing_due_does_nothing(services, scheduler_jobs, recorded_visits, engine_clock):
    instance_id = services.engine.start("exec_timer_then_job", business_key="VIS-602")

    engine_clock.current += timedelta(minutes=59)
    report = scheduler_jobs.run_pass()

    assert (report.timers_fired, report.jobs_run, report.errors) == (0, 0, [])
    assert recorded_visits == []
    assert services.engine.get_instance(instance_id).status == "running"


def test_run_pass_failure_does_not_stop_others(services, scheduler_jobs, recorded_visits, engine_clock, monkeypatch, caplog):
    instance_id = services.engine.start("exec_timer_then_job", business_key="VIS-603")
    engine_clock.current += timedelta(hours=1)
    scheduler_jobs.fire_timers()

    def broken_timers():
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(scheduler_jobs, "fire_timers", broken_timers)
    report = scheduler_jobs.run_pass()

    assert report.errors == ["timers: RuntimeError"]
    assert report.jobs_run == 1
    assert services.engine.get_instance(instance_id).status == "completed"
    assert "worker pass_worker: timers pass failed" in caplog.text


def test_work_noted_during_pass_runs_in_it(services, scheduler_jobs, recorded_visits):
    services.engine.deploy({"exec_record.bpmn": read_diagram("exec_record.bpmn")}, "analyst_anna")
    run_due = scheduler_jobs.runner.run_due
    taken = []

    def run_due_then_new_work(**options):
        outcomes = run_due(**options)
        if not outcomes and not taken:
            # A request commits new work after the pass found nothing due, while the pass is still running.
            services.engine.start("exec_record", business_key="VIS-603")
            taken.append(scheduler_jobs.note_new_work())
        return outcomes

    scheduler_jobs.runner.run_due = run_due_then_new_work

    count = scheduler_jobs.run_service_tasks()

    assert taken == [True]
    assert count == 1
    assert len(recorded_visits) == 1
    assert scheduler_jobs.note_new_work() is False


def test_work_noted_between_passes_needs_a_pass(scheduler_jobs):
    assert scheduler_jobs.note_new_work() is False
    assert scheduler_jobs.run_service_tasks() == 0
