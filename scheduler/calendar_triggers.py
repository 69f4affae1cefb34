"""Calendar triggers: the payment run every few weeks and the year-end review on 1 April, each sent exactly once.

SpiffWorkflow has no timer start events for top-level processes, so payment_run.bpmn and
year_end_recoup.bpmn start on messages, and this module sends them on their due dates.

Due dates, all at 06:00 Europe/London (GMT or BST as the date requires):

- Payment runs fall every ``CAREPLACE_PAYMENT_RUN_EVERY_DAYS`` days (default 28) after
  ``CAREPLACE_PAYMENT_RUN_ANCHOR`` (default Monday 2027-01-04), which is the first day of the
  first period. Each run covers the day after the previous run's period_end (or the anchor)
  to the day before its due date. A period that crosses 31 March is sent as two messages,
  one ending on 31 March and one starting on 1 April, because a payment run must lie inside
  one financial year.
- The year-end review falls on 1 April for the financial year that ended on 31 March. The
  first year reviewed is the one containing the anchor.

Exactly once: each message is sent in the transaction that inserts its ``scheduler_triggers``
row, keyed by job name and period. A crash sends and records nothing, so the next pass sends
it again. A second scheduler that reaches the same period finds the row (on PostgreSQL it
waits for the first scheduler's commit), sends nothing, logs the skip and leaves the rest of
that job to the next pass.

Catching up: a pass sends every period that fell due since the last recorded one, one
message per period, oldest first. A worker down for three payment periods sends three runs
with contiguous periods on its first pass. When sending fails (for example because the
diagram is not deployed), that job stops at the failed period, so no later period is sent
before it.
"""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from care.payments import financial_year_bounds, financial_year_of
from careplace.config import ConfigError
from engine import clock
from engine.errors import EngineError
from engine.runtime import Engine
from scheduler.models import SchedulerTrigger

log = logging.getLogger(__name__)

PAYMENT_RUN_JOB = "payment_run"
PAYMENT_RUN_MESSAGE = "payment_run_requested"
YEAR_END_JOB = "year_end_review"
YEAR_END_MESSAGE = "year_end_review_requested"

# Wall-clock time in Europe/London at which every calendar trigger falls due.
DUE_TIME = time(6, 0)

DEFAULT_EVERY_DAYS = 28
# Bounds that keep the due-date arithmetic meaningful: at most a year between runs, and anchors in this century.
MAX_EVERY_DAYS = 366
ANCHOR_RANGE = (date(2000, 1, 1), date(2099, 12, 31))
DEFAULT_ANCHOR = date(2027, 1, 4)


@dataclass(frozen=True)
class CalendarSettings:
    """The payment-run calendar, read from the environment.

    ==================================  ==========================================================
    variable                            sets
    ==================================  ==========================================================
    CAREPLACE_PAYMENT_RUN_EVERY_DAYS    days between payment runs (default 28)
    CAREPLACE_PAYMENT_RUN_ANCHOR        first day of the first payment period, YYYY-MM-DD
                                        (default 2027-01-04, a Monday)
    ==================================  ==========================================================
    """

    payment_run_every_days: int = DEFAULT_EVERY_DAYS
    payment_run_anchor: date = DEFAULT_ANCHOR

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "CalendarSettings":
        env = os.environ if environ is None else environ
        every_text = env.get("CAREPLACE_PAYMENT_RUN_EVERY_DAYS", str(DEFAULT_EVERY_DAYS))
        try:
            every_days = int(every_text)
        except ValueError as error:
            raise ConfigError(f"CAREPLACE_PAYMENT_RUN_EVERY_DAYS={every_text!r} is not a whole number of days") from error

        if not 1 <= every_days <= MAX_EVERY_DAYS:
            raise ConfigError(f"CAREPLACE_PAYMENT_RUN_EVERY_DAYS={every_days} must be from 1 to {MAX_EVERY_DAYS} days")

        anchor_text = env.get("CAREPLACE_PAYMENT_RUN_ANCHOR", DEFAULT_ANCHOR.isoformat())
        try:
            anchor = date.fromisoformat(anchor_text)
        except ValueError as error:
            raise ConfigError(f"CAREPLACE_PAYMENT_RUN_ANCHOR={anchor_text!r} is not a valid date. Write it as YYYY-MM-DD, such as 2027-01-04") from error

        if not ANCHOR_RANGE[0] <= anchor <= ANCHOR_RANGE[1]:
            raise ConfigError(
                f"CAREPLACE_PAYMENT_RUN_ANCHOR={anchor.isoformat()} must be between {ANCHOR_RANGE[0].isoformat()} and {ANCHOR_RANGE[1].isoformat()}; give the first day of the first payment period"
            )

        return cls(payment_run_every_days=every_days, payment_run_anchor=anchor)


@dataclass(frozen=True)
class Trigger:
    """One message due for one period of a job."""

    job_name: str
    period_key: str
    due_at: datetime
    message: str
    payload: dict[str, str]
    business_key: str


def due_at(day: date) -> datetime:
    """Return 06:00 Europe/London on ``day`` as an aware UTC datetime."""
    return datetime.combine(day, DUE_TIME, tzinfo=clock.LONDON).astimezone(timezone.utc)


def split_at_financial_years(start: date, end: date) -> list[tuple[date, date]]:
    """Split the period from ``start`` to ``end`` (both included) at each 31 March inside it."""
    parts = []
    while financial_year_of(start) != financial_year_of(end):
        _first_day, last_day = financial_year_bounds(financial_year_of(start))
        parts.append((start, last_day))
        start = last_day + timedelta(days=1)

    parts.append((start, end))
    return parts


def payment_run_triggers(settings: CalendarSettings, last_period_end: date | None, now: datetime) -> list[Trigger]:
    """List the payment-run messages due by ``now`` after the period that ended on ``last_period_end``, oldest first."""
    every = timedelta(days=settings.payment_run_every_days)
    anchor = settings.payment_run_anchor
    start = anchor if last_period_end is None else last_period_end + timedelta(days=1)

    # The first due date after ``start``, so that every period has at least one day.
    periods_before = max((start - anchor).days // settings.payment_run_every_days, 0)
    due_day = anchor + every * (periods_before + 1)

    triggers = []
    while due_at(due_day) <= now:
        for part_start, part_end in split_at_financial_years(start, due_day - timedelta(days=1)):
            triggers.append(
                Trigger(
                    job_name=PAYMENT_RUN_JOB,
                    period_key=f"{part_start.isoformat()}/{part_end.isoformat()}",
                    due_at=due_at(due_day),
                    message=PAYMENT_RUN_MESSAGE,
                    payload={"period_start": part_start.isoformat(), "period_end": part_end.isoformat()},
                    business_key=f"payments-{part_end.isoformat()}",
                )
            )
        start = due_day
        due_day += every

    return triggers


def year_end_triggers(settings: CalendarSettings, last_financial_year: str | None, now: datetime) -> list[Trigger]:
    """List the year-end reviews due by ``now`` after ``last_financial_year``, oldest first.

    NOTE: the payment period that crosses 31 March is sent on the first due date after 1 April,
    so the review sent on 1 April does not cover its days up to 31 March. The review creates no
    duplicate recoups when run again, so provider services can resend it after that run.
    """
    if last_financial_year is None:
        first_day, _last_day = financial_year_bounds(financial_year_of(settings.payment_run_anchor))
    else:
        _first_day, last_day = financial_year_bounds(last_financial_year)
        first_day = last_day + timedelta(days=1)

    triggers = []
    while due_at(first_day.replace(year=first_day.year + 1)) <= now:
        label = financial_year_of(first_day)
        triggers.append(
            Trigger(
                job_name=YEAR_END_JOB,
                period_key=label,
                due_at=due_at(first_day.replace(year=first_day.year + 1)),
                message=YEAR_END_MESSAGE,
                payload={"financial_year": label},
                business_key=f"year-end-{label}",
            )
        )
        first_day = first_day.replace(year=first_day.year + 1)

    return triggers


class CalendarTriggerError(EngineError):
    """A calendar message that could not be sent. ``failures`` lists (job name, period key, error) for each job that stopped."""

    def __init__(self, failures: list[tuple[str, str, str]]):
        described = "; ".join(f"{job} for {period}: {error}" for job, period, error in failures)
        super().__init__(f"calendar messages failed and will be retried on the next pass: {described}")
        self.failures = failures


class CalendarTriggers:
    """Sends the calendar messages that are due, each inside the transaction that records its trigger row."""

    def __init__(self, session_factory: sessionmaker[Session], engine: Engine, worker_id: str, settings: CalendarSettings):
        self.session_factory = session_factory
        self.engine = engine
        self.worker_id = worker_id
        self.settings = settings

    def send_due(self) -> int:
        """Send every payment run, then every year-end review, that is due, and return how many messages were sent.

        Raises CalendarTriggerError after both jobs ran when either stopped on a failed message.
        """
        now = clock.now()
        sent = 0
        failures = []
        for job_name, list_due in ((PAYMENT_RUN_JOB, self._due_payment_runs), (YEAR_END_JOB, self._due_year_ends)):
            for trigger in list_due(now):
                try:
                    was_sent = self._send(trigger)
                except EngineError as error:
                    log.error("worker %s failed to send %s for %s %s: %s", self.worker_id, trigger.message, job_name, trigger.period_key, error)
                    failures.append((job_name, trigger.period_key, str(error)))
                    break

                if not was_sent:
                    break
                sent += 1

        if failures:
            raise CalendarTriggerError(failures)

        return sent

    def _due_payment_runs(self, now: datetime) -> list[Trigger]:
        latest_key = self._latest_period_key(PAYMENT_RUN_JOB)
        last_period_end = None if latest_key is None else date.fromisoformat(latest_key.split("/")[1])

        return payment_run_triggers(self.settings, last_period_end, now)

    def _due_year_ends(self, now: datetime) -> list[Trigger]:
        return year_end_triggers(self.settings, self._latest_period_key(YEAR_END_JOB), now)

    def _latest_period_key(self, job_name: str) -> str | None:
        # Both kinds of key start with a four-digit year, so the greatest string is the latest period.
        with self.session_factory() as session:
            return session.scalar(sa.select(sa.func.max(SchedulerTrigger.period_key)).where(SchedulerTrigger.job_name == job_name))

    def _send(self, trigger: Trigger) -> bool:
        """Record the trigger and send its message in one transaction. Return False when another scheduler recorded it first."""
        with self.session_factory.begin() as session:
            trigger_id = self._insert_trigger(session, trigger)
            if trigger_id is None:
                existing = session.scalars(
                    sa.select(SchedulerTrigger).where(SchedulerTrigger.job_name == trigger.job_name, SchedulerTrigger.period_key == trigger.period_key)
                ).one()
                log.info(
                    "worker %s skipped %s %s: trigger %s was already sent by %s to instances %s",
                    self.worker_id, trigger.job_name, trigger.period_key, existing.id, existing.fired_by, existing.instance_ids,
                )
                return False

            instance_ids = self.engine.send_message(
                trigger.message, trigger.payload, business_key=trigger.business_key, actor=self.worker_id, session=session
            )
            session.execute(sa.update(SchedulerTrigger).where(SchedulerTrigger.id == trigger_id).values(instance_ids=instance_ids))

        log.info("worker %s sent %s for %s %s (trigger %s) to instances %s", self.worker_id, trigger.message, trigger.job_name, trigger.period_key, trigger_id, instance_ids)
        return True

    def _insert_trigger(self, session: Session, trigger: Trigger) -> int | None:
        """Insert the trigger row unless one exists for its job and period, and return its id, or None when it existed.

        On PostgreSQL a concurrent insert of the same key waits here until the other transaction ends.
        """
        dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(SchedulerTrigger)
            .values(
                job_name=trigger.job_name,
                period_key=trigger.period_key,
                due_at=trigger.due_at,
                fired_at=clock.now(),
                fired_by=self.worker_id,
                instance_ids=[],
            )
            .on_conflict_do_nothing(index_elements=["job_name", "period_key"])
            .returning(SchedulerTrigger.id)
        )

        return session.scalar(statement)
