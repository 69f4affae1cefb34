"""One scheduler pass: timers first, then the service tasks they made ready. A failing job does not stop the others."""

import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from scheduler_helpers import read_diagram
from engine.handler_api import HandlerRegistry
from engine.runtime import Engine
from scheduler.jobs import SchedulerJobs
from scheduler.worker import SERVICE_TASK_JOB_OPTIONS, wake


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


def test_run_during_pass_hands_work_over(services, scheduler_jobs, recorded_visits):
    services.engine.deploy({"exec_record.bpmn": read_diagram("exec_record.bpmn")}, "analyst_anna")
    run_due = scheduler_jobs.runner.run_due
    second_runs = []

    def run_due_then_new_work(**options):
        outcomes = run_due(**options)
        if not outcomes and not second_runs:
            # A request commits new work after the pass found nothing due, and wake() starts a second run.
            services.engine.start("exec_record", business_key="VIS-603")
            second_runs.append(scheduler_jobs.run_service_tasks())
        return outcomes

    scheduler_jobs.runner.run_due = run_due_then_new_work

    count = scheduler_jobs.run_service_tasks()

    assert second_runs == [0]
    assert count == 1
    assert len(recorded_visits) == 1


def test_work_left_at_max_rounds_is_handed_on(services, scheduler_jobs, recorded_visits):
    services.engine.deploy({"exec_record.bpmn": read_diagram("exec_record.bpmn")}, "analyst_anna")
    run_due = scheduler_jobs.runner.run_due
    handed_on = []
    scheduler_jobs.on_work_left = lambda: handed_on.append(True)

    def run_due_then_new_work(**options):
        outcomes = run_due(**options)
        if not handed_on and scheduler_jobs.run_service_tasks() == 0:
            # New work arrives during the pass's last allowed round.
            services.engine.start("exec_record", business_key="VIS-701")
        return outcomes

    scheduler_jobs.runner.run_due = run_due_then_new_work

    scheduler_jobs.run_service_tasks(max_rounds=1)

    assert handed_on == [True]
    scheduler_jobs.runner.run_due = run_due
    assert scheduler_jobs.run_service_tasks() == 1
    assert len(recorded_visits) == 1

def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_wake_as_pass_returns_runs_work(services, scheduler_jobs, recorded_visits):
    # The job options that scheduler.worker.start_scheduler uses, with an interval far longer than the test.
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
    services.engine.deploy({"exec_record.bpmn": read_diagram("exec_record.bpmn")}, "analyst_anna")
    first_pass_over = threading.Event()

    def service_pass():
        count = scheduler_jobs.run_service_tasks()
        if not first_pass_over.is_set():
            # A request commits new work after the pass's last look for due jobs and before APScheduler
            # counts the run as finished. The sleep widens that window so the scheduler thread reaches the job in it.
            services.engine.start("exec_record", business_key="VIS-702")
            wake(scheduler)
            time.sleep(0.5)
            first_pass_over.set()
        return count

    scheduler.add_job(service_pass, "interval", seconds=3600, id="service_tasks", next_run_time=datetime.now(timezone.utc), **SERVICE_TASK_JOB_OPTIONS)
    scheduler.start()
    try:
        assert first_pass_over.wait(10)
        ran = wait_until(lambda: len(recorded_visits) == 1, timeout=5)
    finally:
        scheduler.shutdown(wait=True)

    assert ran, "the work committed as the pass returned waited for the next interval"
