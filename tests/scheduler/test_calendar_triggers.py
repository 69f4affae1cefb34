"""Calendar triggers: payment runs every four weeks and the year-end review on 1 April, sent once each, catching up after downtime."""

import logging
import threading
import time
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from careplace.config import ConfigError
from careplace.db import make_db_engine, make_session_factory
from careplace.wiring import STAFF_GROUPS
from engine import clock
from engine.models import AuditEvent, Instance
from engine.runtime import Engine
from handlers.config import HandlerSettings
from handlers.email import TEMPLATE_NAMES
from handlers.registry import build_registry
from processes.loader import load_all
from scheduler.calendar_triggers import (
    CalendarSettings,
    CalendarTriggerError,
    CalendarTriggers,
    payment_run_triggers,
    split_at_financial_years,
    year_end_triggers,
)
from scheduler.jobs import SchedulerJobs
from scheduler.models import SchedulerTrigger
from scheduler.worker import CALENDAR_INTERVAL_SECONDS, start_scheduler

CALENDAR_DIAGRAMS = ("payment_run.bpmn", "year_end_recoup.bpmn")
SETTINGS = CalendarSettings(payment_run_every_days=28, payment_run_anchor=date(2027, 1, 4))
UTC = timezone.utc


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class PinnedClock:
    """The engine clock stopped at ``current``, which a test moves by assigning to it."""

    def __init__(self, current: datetime):
        self.current = current

    def __call__(self) -> datetime:
        return self.current


@pytest.fixture
def pinned_clock():
    pinned = PinnedClock(utc(2027, 1, 4, 9))
    clock.set_clock(pinned)
    yield pinned
    clock.set_clock(None)


def deploy_calendar_diagrams(session_factory) -> Engine:
    """Deploy the real payment_run and year_end_recoup diagrams with the real handler registry."""
    engine = Engine(session_factory, build_registry(HandlerSettings()), known_groups=STAFF_GROUPS, known_templates=set(TEMPLATE_NAMES))
    documents = load_all()
    engine.deploy({name: documents[name] for name in CALENDAR_DIAGRAMS}, "analyst_anna")
    return engine


@pytest.fixture
def engine(session_factory) -> Engine:
    return deploy_calendar_diagrams(session_factory)


@pytest.fixture
def triggers(session_factory, engine) -> CalendarTriggers:
    return CalendarTriggers(session_factory, engine, "calendar_worker", SETTINGS)


def started_periods(engine: Engine) -> list[tuple[str, str]]:
    """Return (period_start, period_end) of every payment_run instance, in the order the instances were started."""
    with engine.session_factory() as session:
        query = (
            sa.select(AuditEvent.instance_id)
            .join(Instance, Instance.id == AuditEvent.instance_id)
            .where(AuditEvent.kind == "instance.started", Instance.process_id == "payment_run")
            .order_by(AuditEvent.id)
        )
        instance_ids = list(session.scalars(query))

    periods = []
    for instance_id in instance_ids:
        data = engine.instance_data(instance_id)
        periods.append((data["period_start"], data["period_end"]))
    return periods


def trigger_rows(session_factory, job_name: str | None = None) -> list[SchedulerTrigger]:
    with session_factory() as session:
        query = sa.select(SchedulerTrigger).order_by(SchedulerTrigger.id)
        if job_name is not None:
            query = query.where(SchedulerTrigger.job_name == job_name)
        return list(session.scalars(query))


def instances_of(engine: Engine, process_id: str) -> list[Instance]:
    return engine.list_instances(process_id=process_id)


# Due dates and periods, without a database


def test_payment_run_triggers_first_period_from_anchor():
    (trigger,) = payment_run_triggers(SETTINGS, None, utc(2027, 2, 1, 6))

    assert trigger.payload == {"period_start": "2027-01-04", "period_end": "2027-01-31"}
    assert trigger.period_key == "2027-01-04/2027-01-31"
    assert trigger.due_at == utc(2027, 2, 1, 6)
    assert trigger.business_key == "payments-2027-01-31"


def test_payment_run_triggers_start_after_last_period():
    triggers = payment_run_triggers(SETTINGS, date(2027, 1, 31), utc(2027, 3, 1, 6))

    assert [trigger.period_key for trigger in triggers] == ["2027-02-01/2027-02-28"]


def test_payment_run_triggers_new_length_contiguous():
    fortnightly = CalendarSettings(payment_run_every_days=14, payment_run_anchor=date(2027, 1, 4))

    triggers = payment_run_triggers(fortnightly, date(2027, 1, 24), utc(2027, 2, 15, 6))

    # The last run ended mid-fortnight, so the next period runs from the day after it to the next due date.
    assert [trigger.period_key for trigger in triggers] == ["2027-01-25/2027-01-31", "2027-02-01/2027-02-14"]


def test_split_at_financial_years_cuts_at_31_march():
    assert split_at_financial_years(date(2027, 3, 29), date(2027, 4, 25)) == [
        (date(2027, 3, 29), date(2027, 3, 31)),
        (date(2027, 4, 1), date(2027, 4, 25)),
    ]
    assert split_at_financial_years(date(2027, 4, 1), date(2027, 4, 28)) == [(date(2027, 4, 1), date(2027, 4, 28))]


def test_year_end_triggers_first_year_contains_anchor():
    (trigger,) = year_end_triggers(SETTINGS, None, utc(2027, 4, 1, 5))

    assert trigger.payload == {"financial_year": "2026-27"}
    assert trigger.period_key == "2026-27"
    assert trigger.business_key == "year-end-2026-27"


def test_year_end_triggers_after_last_year():
    triggers = year_end_triggers(SETTINGS, "2026-27", utc(2029, 4, 1, 5))

    assert [trigger.period_key for trigger in triggers] == ["2027-28", "2028-29"]


def test_calendar_settings_from_env_reads_variables():
    settings = CalendarSettings.from_env({"CAREPLACE_PAYMENT_RUN_EVERY_DAYS": "14", "CAREPLACE_PAYMENT_RUN_ANCHOR": "2027-03-01"})

    assert settings == CalendarSettings(payment_run_every_days=14, payment_run_anchor=date(2027, 3, 1))
    assert CalendarSettings.from_env({}) == SETTINGS


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CAREPLACE_PAYMENT_RUN_EVERY_DAYS": "four weeks"}, "CAREPLACE_PAYMENT_RUN_EVERY_DAYS='four weeks' is not a whole number of days"),
        ({"CAREPLACE_PAYMENT_RUN_EVERY_DAYS": "0"}, "CAREPLACE_PAYMENT_RUN_EVERY_DAYS=0 must be from 1 to 366 days"),
        ({"CAREPLACE_PAYMENT_RUN_ANCHOR": "04/01/2027"}, "CAREPLACE_PAYMENT_RUN_ANCHOR='04/01/2027' is not a valid date. Write it as YYYY-MM-DD, such as 2027-01-04"),
    ],
)
def test_calendar_settings_from_env_invalid_raises(environ, message):
    with pytest.raises(ConfigError) as raised:
        CalendarSettings.from_env(environ)

    assert str(raised.value) == message


# Sending on SQLite and PostgreSQL


def test_payment_run_due_starts_one_instance(triggers, engine, session_factory, pinned_clock):
    # 1 February 2027 is in GMT, so 06:00 London is 06:00 UTC.
    pinned_clock.current = utc(2027, 2, 1, 6)

    sent = triggers.send_due()

    assert sent == 1
    (instance,) = instances_of(engine, "payment_run")
    assert instance.business_key == "payments-2027-01-31"
    assert engine.instance_data(instance.id) == {"period_start": "2027-01-04", "period_end": "2027-01-31"}
    (row,) = trigger_rows(session_factory)
    assert (row.job_name, row.period_key) == ("payment_run", "2027-01-04/2027-01-31")
    assert row.instance_ids == [instance.id]
    assert row.fired_by == "calendar_worker"
    assert row.due_at == utc(2027, 2, 1, 6)
    assert row.fired_at == utc(2027, 2, 1, 6)


def test_payment_run_not_due_sends_nothing(triggers, engine, session_factory, pinned_clock):
    pinned_clock.current = utc(2027, 2, 1, 5, 59)

    sent = triggers.send_due()

    assert sent == 0
    assert instances_of(engine, "payment_run") == []
    assert trigger_rows(session_factory) == []


def test_payment_run_second_pass_sends_nothing(triggers, engine, session_factory, pinned_clock):
    pinned_clock.current = utc(2027, 2, 1, 6)
    triggers.send_due()

    pinned_clock.current += timedelta(minutes=5)
    sent = triggers.send_due()

    assert sent == 0
    assert len(instances_of(engine, "payment_run")) == 1
    assert len(trigger_rows(session_factory)) == 1


def test_payment_run_after_downtime_sends_each_period(triggers, engine, session_factory, pinned_clock):
    # Due dates 1 February, 1 March and 29 March passed while no worker ran, and the next is 26 April.
    pinned_clock.current = utc(2027, 4, 20, 12)

    triggers.send_due()

    assert started_periods(engine) == [
        ("2027-01-04", "2027-01-31"),
        ("2027-02-01", "2027-02-28"),
        ("2027-03-01", "2027-03-28"),
    ]
    rows = trigger_rows(session_factory, "payment_run")
    assert [row.period_key for row in rows] == ["2027-01-04/2027-01-31", "2027-02-01/2027-02-28", "2027-03-01/2027-03-28"]
    assert [row.due_at for row in rows] == [utc(2027, 2, 1, 6), utc(2027, 3, 1, 6), utc(2027, 3, 29, 5)]
    assert all(len(row.instance_ids) == 1 for row in rows)
    # 1 April also passed, so the year-end review of 2026-27 was sent once, after the payment runs.
    (year_end,) = trigger_rows(session_factory, "year_end_review")
    assert year_end.period_key == "2026-27"
    assert year_end.id > rows[-1].id


def test_payment_run_crossing_31_march_sends_two_periods(triggers, engine, pinned_clock):
    pinned_clock.current = utc(2027, 4, 1, 12)
    triggers.send_due()

    # 26 April 2027 is in BST, so 06:00 London is 05:00 UTC.
    pinned_clock.current = utc(2027, 4, 26, 4, 59)
    assert triggers.send_due() == 0
    pinned_clock.current = utc(2027, 4, 26, 5)
    sent = triggers.send_due()

    assert sent == 2
    assert started_periods(engine)[-2:] == [("2027-03-29", "2027-03-31"), ("2027-04-01", "2027-04-25")]


def test_year_end_due_at_five_utc_in_bst(triggers, engine, session_factory, pinned_clock):
    pinned_clock.current = utc(2027, 3, 29, 5)
    triggers.send_due()

    pinned_clock.current = utc(2027, 4, 1, 4, 59)
    assert triggers.send_due() == 0
    assert instances_of(engine, "year_end_recoup") == []

    pinned_clock.current = utc(2027, 4, 1, 5)
    sent = triggers.send_due()

    assert pinned_clock.current.astimezone(clock.LONDON).hour == 6
    assert sent == 1
    (instance,) = instances_of(engine, "year_end_recoup")
    assert instance.business_key == "year-end-2026-27"
    assert engine.instance_data(instance.id) == {"financial_year": "2026-27"}
    (row,) = trigger_rows(session_factory, "year_end_review")
    assert row.instance_ids == [instance.id]


def test_payment_run_due_at_six_utc_in_gmt(triggers, engine, pinned_clock):
    pinned_clock.current = utc(2027, 3, 1, 5, 59)
    triggers.send_due()
    assert started_periods(engine) == [("2027-01-04", "2027-01-31")]

    pinned_clock.current = utc(2027, 3, 1, 6)
    triggers.send_due()

    assert pinned_clock.current.astimezone(clock.LONDON).hour == 6
    assert started_periods(engine)[-1] == ("2027-02-01", "2027-02-28")


def test_send_due_recorded_period_skips_and_logs(triggers, engine, session_factory, pinned_clock, monkeypatch, caplog):
    pinned_clock.current = utc(2027, 2, 1, 6)
    triggers.send_due()
    (first,) = trigger_rows(session_factory)

    # A scheduler that read the triggers before the first one committed computes the same period again.
    monkeypatch.setattr(triggers, "_latest_period_key", lambda job_name: None)
    with caplog.at_level(logging.INFO, logger="scheduler.calendar_triggers"):
        sent = triggers.send_due()

    assert sent == 0
    assert len(instances_of(engine, "payment_run")) == 1
    assert [row.id for row in trigger_rows(session_factory)] == [first.id]
    expected = f"worker calendar_worker skipped payment_run 2027-01-04/2027-01-31: trigger {first.id} was already sent by calendar_worker"
    assert expected in caplog.text


def test_send_due_missing_diagram_raises_and_records_nothing(session_factory, pinned_clock, caplog):
    empty_engine = Engine(session_factory)
    triggers = CalendarTriggers(session_factory, empty_engine, "calendar_worker", SETTINGS)
    pinned_clock.current = utc(2027, 4, 1, 5)

    with pytest.raises(CalendarTriggerError) as raised:
        triggers.send_due()

    # Each job stops at its oldest failed period, and the payment-run failure does not stop the year-end job.
    assert [(job, period) for job, period, _error in raised.value.failures] == [
        ("payment_run", "2027-01-04/2027-01-31"),
        ("year_end_review", "2026-27"),
    ]
    assert trigger_rows(session_factory) == []
    assert "worker calendar_worker failed to send payment_run_requested for payment_run 2027-01-04/2027-01-31" in caplog.text


def test_run_pass_sends_calendar_messages(session_factory, engine, pinned_clock):
    services = SimpleNamespace(session_factory=session_factory, registry=engine.registry)
    jobs = SchedulerJobs(services, "pass_worker", deliver_email=False, send_calendar_messages=True, calendar_settings=SETTINGS)
    pinned_clock.current = utc(2027, 2, 1, 6)
    try:
        report = jobs.run_pass()
        second = jobs.run_pass()
    finally:
        jobs.close()

    assert report.calendar_messages == 1
    assert report.errors == []
    assert second.calendar_messages == 0
    assert len(instances_of(engine, "payment_run")) == 1


def test_run_pass_calendar_failure_reported(session_factory, pinned_clock):
    services = SimpleNamespace(session_factory=session_factory, registry=Engine(session_factory).registry)
    jobs = SchedulerJobs(services, "pass_worker", deliver_email=False, send_calendar_messages=True, calendar_settings=SETTINGS)
    pinned_clock.current = utc(2027, 2, 1, 6)
    try:
        report = jobs.run_pass()
    finally:
        jobs.close()

    assert report.errors == ["calendar: CalendarTriggerError"]
    assert report.calendar_messages == 0


def test_send_calendar_off_by_default(session_factory, engine, pinned_clock):
    services = SimpleNamespace(session_factory=session_factory, registry=engine.registry)
    jobs = SchedulerJobs(services, "pass_worker", deliver_email=False, calendar_settings=SETTINGS)
    pinned_clock.current = utc(2027, 4, 1, 12)
    try:
        sent = jobs.send_calendar()
    finally:
        jobs.close()

    assert sent == 0
    assert trigger_rows(session_factory) == []


def test_start_scheduler_sends_calendar_messages(session_factory, engine, pinned_clock, monkeypatch):
    monkeypatch.setenv("CAREPLACE_PAYMENT_RUN_EVERY_DAYS", "28")
    monkeypatch.setenv("CAREPLACE_PAYMENT_RUN_ANCHOR", "2027-01-04")
    services = SimpleNamespace(session_factory=session_factory, registry=engine.registry)
    pinned_clock.current = utc(2027, 2, 1, 6)

    scheduler, jobs = start_scheduler(services, "background_worker", interval=0.2, deliver_email=False)
    try:
        calendar_job = scheduler.get_job("calendar")
        deadline = time.monotonic() + 20
        while not trigger_rows(session_factory) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
        jobs.close()

    (row,) = trigger_rows(session_factory)
    assert (row.period_key, row.fired_by) == ("2027-01-04/2027-01-31", "background_worker")
    assert calendar_job.trigger.interval == timedelta(seconds=CALENDAR_INTERVAL_SECONDS)


# Two schedulers at once on PostgreSQL


@pytest.mark.postgres
def test_two_schedulers_send_each_period_once(pg_url, pinned_clock):
    setup_engine = make_db_engine(pg_url)
    setup_factory = make_session_factory(setup_engine)
    engine = deploy_calendar_diagrams(setup_factory)
    # Three payment periods and the year-end review are due.
    pinned_clock.current = utc(2027, 4, 20, 12)

    barrier = threading.Barrier(2, timeout=30)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def run_scheduler(worker_id: str) -> None:
        db_engine = make_db_engine(pg_url)
        try:
            session_factory = make_session_factory(db_engine)
            triggers = CalendarTriggers(session_factory, Engine(session_factory), worker_id, SETTINGS)
            barrier.wait()
            results[worker_id] = triggers.send_due()
        except BaseException as error:  # noqa: BLE001 - the main thread re-raises it in its assert
            errors.append(error)
        finally:
            db_engine.dispose()

    threads = [threading.Thread(target=run_scheduler, args=(f"scheduler_{number}",)) for number in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    try:
        assert errors == []
        assert sum(results.values()) == 4
        rows = trigger_rows(setup_factory)
        assert sorted((row.job_name, row.period_key) for row in rows) == [
            ("payment_run", "2027-01-04/2027-01-31"),
            ("payment_run", "2027-02-01/2027-02-28"),
            ("payment_run", "2027-03-01/2027-03-28"),
            ("year_end_review", "2026-27"),
        ]
        assert sorted(started_periods(engine)) == [
            ("2027-01-04", "2027-01-31"),
            ("2027-02-01", "2027-02-28"),
            ("2027-03-01", "2027-03-28"),
        ]
        assert len(instances_of(engine, "year_end_recoup")) == 1
        assert sorted(instance_id for row in rows for instance_id in row.instance_ids) == sorted(
            instance.id for instance in engine.list_instances()
        )
    finally:
        setup_engine.dispose()
