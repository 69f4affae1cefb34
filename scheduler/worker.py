"""``careplace worker``: APScheduler running the scheduler jobs until SIGTERM, or once with ``--once``."""

import dataclasses
import json
import logging
import os
import signal
import socket
import threading
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.jobs import SchedulerJobs

log = logging.getLogger(__name__)

CALENDAR_INTERVAL_SECONDS = 300
SERVICE_TASK_JOB_OPTIONS = {"max_instances": 2}


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def start_scheduler(services, worker_id: str, *, interval: float, deliver_email: bool = True) -> tuple[BackgroundScheduler, SchedulerJobs]:
    """Start a background scheduler with the timer, calendar, service-task and outbox jobs.

    Timers and calendar messages missed while no worker ran fire on the first
    pass, which starts at once. Each job runs alone (max_instances=1), except
    the short second run of the service-task job that ``wake`` can start, and
    late runs coalesce.
    """
    jobs = SchedulerJobs(services, worker_id, deliver_email=deliver_email, send_calendar_messages=True)
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
    scheduler.add_job(jobs.fire_timers, "interval", seconds=interval, id="timers", next_run_time=_now())
    # Calendar due dates are days apart, so a pass every few minutes is soon enough.
    scheduler.add_job(jobs.send_calendar, "interval", seconds=max(interval, CALENDAR_INTERVAL_SECONDS), id="calendar", next_run_time=_now())
    # A second run may start while a pass is running, only to hand a wake-up's work to that pass; see wake().
    scheduler.add_job(jobs.run_service_tasks, "interval", seconds=interval, id="service_tasks", next_run_time=_now(), **SERVICE_TASK_JOB_OPTIONS)
    jobs.on_work_left = lambda: wake(scheduler)
    scheduler.add_job(jobs.deliver_outbox, "interval", seconds=max(interval, 10), id="outbox", next_run_time=_now())
    scheduler.start()
    log.info("worker %s started (every %ss)", worker_id, interval)
    return scheduler, jobs


def wake(scheduler: BackgroundScheduler) -> None:
    """Bring the service-task job forward, after a request made new work.

    When a pass is running, the run this starts hands the work to that pass
    (``SchedulerJobs.run_service_tasks``).
    """
    job = scheduler.get_job("service_tasks")
    if job is not None:
        job.modify(next_run_time=_now())


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run_worker(services, *, once: bool = False, worker_id: str | None = None, as_json: bool = False) -> int:
    worker_id = worker_id or default_worker_id()
    if once:
        jobs = SchedulerJobs(services, worker_id, send_calendar_messages=True)
        try:
            report = jobs.run_pass()
        finally:
            jobs.close()
        if as_json:
            print(json.dumps(dataclasses.asdict(report)))
        else:
            print(
                f"timers fired: {report.timers_fired}, service tasks run: {report.jobs_run}, emails sent: {report.emails_sent}, "
                f"calendar messages sent: {report.calendar_messages}"
            )
        return 1 if report.errors else 0

    stop = threading.Event()

    def request_stop(signum, _frame):
        log.info("worker %s received signal %s; stopping", worker_id, signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    scheduler, jobs = start_scheduler(services, worker_id, interval=services.settings.worker_interval)
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        jobs.close()
        log.info("worker %s stopped", worker_id)
    return 0
