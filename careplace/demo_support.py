"""The machinery of ``careplace demo``: a movable clock, an SMTP sink, the timeline and the checks each stage makes."""

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from care.models.messaging import OutboxEmail
from engine import clock
from engine.jobs import list_incidents
from engine.models import HumanTask
from engine.runtime import Actor
from scheduler.jobs import SchedulerJobs

log = logging.getLogger(__name__)

# A stage that has not settled after this many scheduler passes is looping, not waiting.
MAX_PASSES = 50


class DemoCheckError(Exception):
    """A check of a stage's outcome failed: ``stage`` ran, but ``check`` did not hold."""

    def __init__(self, stage: str, check: str, detail: str):
        self.stage = stage
        self.check = check
        self.detail = detail
        super().__init__(f"stage {stage!r}: {check}: {detail}")


class DemoClock:
    """The clock the demo installs with ``engine.clock.set_clock``. Its time changes only when a stage moves it."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def move_to(self, moment: datetime) -> None:
        if moment < self.current:
            raise ValueError(f"the demo clock only moves forward: {moment.isoformat()} is before {self.current.isoformat()}")

        self.current = moment


def london(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """Return a London wall-clock time as an aware datetime (GMT or BST as the date requires)."""
    return datetime(year, month, day, hour, minute, tzinfo=clock.LONDON)


@dataclass(frozen=True)
class ReceivedEmail:
    recipient: str
    subject: str
    message: EmailMessage


class _SinkHandler:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[ReceivedEmail] = []

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.received.append(ReceivedEmail(recipient, str(message["Subject"]), message))
        return "250 Message accepted for delivery"


class _AnyPortController(Controller):
    """An aiosmtpd Controller that accepts port 0 and then serves on the port the system chose.

    aiosmtpd 1.4 opens a test connection to ``self.port`` after binding, which
    fails for port 0, so the bound port is read from the listening socket first.
    """

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """A local SMTP server on 127.0.0.1 that receives the outbox emails, so the demo can check them."""

    def __init__(self) -> None:
        self.handler = _SinkHandler()
        self.controller = _AnyPortController(self.handler, hostname="127.0.0.1", port=0)

    def start(self) -> "SmtpSink":
        self.controller.start()
        log.info("SMTP sink listening on 127.0.0.1:%s", self.port)
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port

    def received(self) -> list[ReceivedEmail]:
        with self.handler.lock:
            return list(self.handler.received)


class Demo:
    """The state the stages share: the services, the clock, the scheduler jobs, the SMTP sink, the timeline and the checks."""

    def __init__(self, services, simulators, sink: SmtpSink, demo_clock: DemoClock, out):
        self.services = services
        self.engine = services.engine
        self.session_factory = services.session_factory
        self.simulators = simulators
        self.sink = sink
        self.clock = demo_clock
        self.out = out
        self.jobs = SchedulerJobs(services, "demo-worker")
        self.stage = "set-up"
        self.checks_passed = 0
        self._emails_shown = 0
        # Ids the stages share: users, providers, the enquiry and the care package.
        self.ids: dict[str, int] = {}
        self.values: dict[str, object] = {}

    def close(self) -> None:
        self.jobs.close()

    # The timeline

    def begin_stage(self, title: str, note: str | None = None) -> None:
        self.show_new_emails()
        self.stage = title
        print(f"\n== {title} ==", file=self.out)
        if note:
            print(f"   ({note})", file=self.out)

    def at(self, moment: datetime) -> None:
        """Move the clock to ``moment``, then run what fell due, as a worker would."""
        self.clock.move_to(moment)
        self.settle()

    def say(self, actor: str, text: str) -> None:
        """Print one line of the timeline, then the emails the SMTP sink received since the last line."""
        self._print_line(actor, text)
        self.show_new_emails()

    def _print_line(self, actor: str, text: str) -> None:
        moment = clock.now().astimezone(clock.LONDON)
        print(f"{moment:%a %d %b %Y %H:%M}  {actor:<18} {text}", file=self.out)

    def show_new_emails(self) -> None:
        received = self.sink.received()
        for email in received[self._emails_shown :]:
            self._print_line("  email", f"to {email.recipient}: {email.subject}")
        self._emails_shown = len(received)

    # Running the scheduler

    def settle(self) -> None:
        """Run scheduler passes (timers, service tasks, outbox) until one does nothing.

        The emails delivered are printed after the next timeline line, the action that caused them.

        Raises DemoCheckError when a pass reports an error or an incident is open.
        """
        for _ in range(MAX_PASSES):
            report = self.jobs.run_pass()
            if report.errors:
                raise DemoCheckError(self.stage, "scheduler pass", "; ".join(report.errors))
            if not (report.timers_fired or report.jobs_run or report.emails_sent):
                break
        else:
            raise DemoCheckError(self.stage, "scheduler pass", f"work was still due after {MAX_PASSES} passes")

        incidents = list_incidents(self.session_factory)
        if incidents:
            details = "; ".join(f"{incident.element_id} ({incident.topic}): {incident.error}" for incident in incidents)
            raise DemoCheckError(self.stage, "no open incidents", details)

        unsent = self.scalar(sa.select(sa.func.count()).select_from(OutboxEmail).where(OutboxEmail.status != "sent"))
        if unsent:
            raise DemoCheckError(self.stage, "every outbox email delivered to the SMTP sink", f"{unsent} emails are not sent")

    # Human tasks

    def open_tasks(self, element_id: str, instance_id: str | None = None) -> list[HumanTask]:
        with self.session_factory() as session:
            query = sa.select(HumanTask).where(HumanTask.status == "open", HumanTask.element_id == element_id)
            if instance_id is not None:
                query = query.where(HumanTask.instance_id == instance_id)
            return list(session.scalars(query.order_by(HumanTask.created_at, HumanTask.id)))

    def task(self, element_id: str, instance_id: str | None = None) -> HumanTask:
        tasks = self.open_tasks(element_id, instance_id)
        self.check_equal(len(tasks), 1, f"one open {element_id!r} task")
        return tasks[0]

    def complete(self, element_id: str, data: dict, actor: Actor, instance_id: str | None = None) -> None:
        """Complete the one open ``element_id`` task as ``actor``, then let the scheduler run what follows."""
        self.engine.complete(self.task(element_id, instance_id).id, data, actor)
        self.settle()

    # Checks

    def check(self, condition: bool, description: str, detail: str = "") -> None:
        if not condition:
            raise DemoCheckError(self.stage, description, detail or "it does not hold")
        self.checks_passed += 1

    def check_equal(self, actual, expected, description: str) -> None:
        self.check(actual == expected, description, f"expected {expected!r}, found {actual!r}")

    def check_status(self, instance_id: str, expected: str, description: str) -> None:
        self.check_equal(self.engine.get_instance(instance_id).status, expected, f"{description} instance is {expected}")

    def check_email(self, recipient: str, subject: str) -> None:
        """Check that the SMTP sink received exactly one email with this recipient and subject."""
        matches = [email for email in self.sink.received() if email.recipient == recipient and email.subject == subject]
        self.check_equal(len(matches), 1, f"one email to {recipient} with subject {subject!r}")

    def check_no_email(self, recipient: str, subject_start: str) -> None:
        matches = [email for email in self.sink.received() if email.recipient == recipient and email.subject.startswith(subject_start)]
        self.check_equal(len(matches), 0, f"no email to {recipient} starting {subject_start!r}")

    def scalar(self, query):
        with self.session_factory() as session:
            return session.scalar(query)

    def scalars(self, query) -> list:
        with self.session_factory() as session:
            return list(session.scalars(query))

    def get(self, model, record_id):
        """Load a row detached from its session, with its columns loaded."""
        with self.session_factory() as session:
            record = session.get(model, record_id)
            session.expunge_all()
            return record


def next_minute(moment_iso: str) -> datetime:
    """Return one minute after an ISO 8601 date-time, the first moment a timer set for it is due."""
    return datetime.fromisoformat(moment_iso) + timedelta(minutes=1)


def day_text(day) -> str:
    """Format a date as '1 March', without a leading zero."""
    return f"{day.day} {day:%B}"
