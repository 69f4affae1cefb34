"""One pass of each scheduler job; each returns how much work it did, for logs and ``--once``."""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.jobs import JobRunner
from engine.runtime import Engine
from engine.timers import fire_due_timers
from handlers.outbox import deliver_outbox
from scheduler.calendar_triggers import CalendarSettings, CalendarTriggers

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    timers_fired: int = 0
    jobs_run: int = 0
    emails_sent: int = 0
    calendar_messages: int = 0
    errors: list[str] = field(default_factory=list)


class SchedulerJobs:
    """The work the scheduler does, usable from APScheduler, ``--once`` and tests alike."""

    def __init__(self, services, worker_id: str, *, deliver_email: bool = True, send_calendar_messages: bool = False, calendar_settings: CalendarSettings | None = None):
        """Build the jobs. ``calendar_settings`` defaults to ``CalendarSettings.from_env()``, which raises ConfigError on an invalid variable.

        Calendar messages stay off unless ``send_calendar_messages`` is true, as ``start_scheduler``
        and ``run_worker`` set it, because the demo and the tests send their own payment runs.
        """
        self.services = services
        self.worker_id = worker_id
        # Whether run_service_tasks is running, and whether new work was noted since its last look for due jobs.
        self._pass_lock = threading.Lock()
        self._pass_running = False
        self._work_noted = False
        # Called when a pass stops at max_rounds with new work noted; start_scheduler sets it to bring the job forward.
        self.on_work_left: Callable[[], None] | None = None
        self.runner = JobRunner(services.session_factory, services.registry, worker_id)
        self.deliver_email = deliver_email
        self.send_calendar_messages = send_calendar_messages
        self.calendar = CalendarTriggers(
            services.session_factory, Engine(services.session_factory, services.registry), worker_id, calendar_settings or CalendarSettings.from_env()
        )

    def close(self) -> None:
        self.runner.close()

    def fire_timers(self) -> int:
        fired = fire_due_timers(self.services.session_factory, actor=self.worker_id)
        if fired:
            log.info("worker %s fired timers on %s instances", self.worker_id, fired)
        return fired

    def send_calendar(self) -> int:
        """Send the payment runs and year-end reviews that fell due, as ``scheduler.calendar_triggers`` describes."""
        if not self.send_calendar_messages:
            return 0
        return self.calendar.send_due()

    def run_service_tasks(self, *, limit: int = 20, max_rounds: int = 50) -> int:
        """Run due service tasks until none is due, so a chain of service tasks finishes in one pass.

        A request that makes new work brings this job forward (``wake``), and
        APScheduler may then start it while a pass is running. That second run
        only notes the work and returns, and the running pass looks for due jobs
        once more before it ends. ``max_rounds`` bounds a pass, so a diagram that
        keeps making new jobs cannot hold the worker. Work noted when the rounds
        run out goes to ``on_work_left``, which brings the job forward again.
        """
        with self._pass_lock:
            if self._pass_running:
                self._work_noted = True
                return 0
            self._pass_running, self._work_noted = True, False
        total, rounds, work_left = 0, 0, False
        try:
            while True:
                while rounds < max_rounds:
                    rounds += 1
                    outcomes = self.runner.run_due(limit=limit)
                    total += len(outcomes)
                    if not outcomes:
                        break
                with self._pass_lock:
                    if not self._work_noted:
                        break
                    if rounds >= max_rounds:
                        work_left = True
                        break
                    self._work_noted = False
        finally:
            with self._pass_lock:
                self._pass_running = False
        if work_left and self.on_work_left is not None:
            self.on_work_left()
        return total

    def deliver_outbox(self) -> int:
        if not self.deliver_email or not self.services.handler_settings.smtp_host:
            return 0
        report = deliver_outbox(self.services.session_factory, self.services.handler_settings)
        return len(report.sent)

    def run_pass(self) -> PassReport:
        """Run every job once: timers and calendar messages first, then the service tasks they made ready, then email."""
        report = PassReport()
        jobs = (("timers", self.fire_timers), ("calendar", self.send_calendar), ("service tasks", self.run_service_tasks), ("outbox", self.deliver_outbox))
        for name, job in jobs:
            try:
                count = job()
            except Exception as error:  # noqa: BLE001 - one failing job must not stop the others
                log.exception("worker %s: %s pass failed", self.worker_id, name)
                report.errors.append(f"{name}: {type(error).__name__}")
                continue
            if name == "timers":
                report.timers_fired = count
            elif name == "calendar":
                report.calendar_messages = count
            elif name == "service tasks":
                report.jobs_run = count
            else:
                report.emails_sent = count
        return report
