"""Tests of respond-by deadlines, working days and reminders in London time."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from care.deadlines import (
    DeadlineSettings,
    add_working_days,
    end_of_working_day,
    is_working_day,
    reminder_at,
    respond_by,
)
from care.errors import InvalidValueError
from care.models.enquiries import Urgency

LONDON = ZoneInfo("Europe/London")


def london(year, month, day, hour=17, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 6, 8), True),  # Tuesday
        (date(2027, 6, 12), False),  # Saturday
        (date(2027, 6, 13), False),  # Sunday
        (date(2027, 3, 26), False),  # Good Friday
        (date(2027, 3, 29), False),  # Easter Monday
        (date(2027, 5, 31), False),  # spring bank holiday
        (date(2027, 12, 24), True),  # Christmas Eve is a working day
        (date(2027, 12, 27), False),  # substitute day for Christmas Day on a Saturday
        (date(2027, 12, 28), False),  # substitute day for Boxing Day on a Sunday
        (date(2028, 1, 3), False),  # substitute day for New Year's Day on a Saturday
    ],
)
def test_is_working_day_calendar(day, expected):
    assert is_working_day(day) is expected


def test_is_working_day_closure_day():
    settings = DeadlineSettings(closure_days=frozenset({date(2027, 6, 8)}))

    assert is_working_day(date(2027, 6, 8), settings) is False
    assert is_working_day(date(2027, 6, 9), settings) is True


def test_add_working_days_forward_and_back():
    assert add_working_days(date(2027, 6, 11), 1) == date(2027, 6, 14)
    assert add_working_days(date(2027, 6, 14), -1) == date(2027, 6, 11)
    assert add_working_days(date(2027, 6, 1), -1) == date(2027, 5, 28)
    assert add_working_days(date(2027, 6, 12), 0) == date(2027, 6, 14)
    assert add_working_days(date(2027, 6, 8), 0) == date(2027, 6, 8)


def test_respond_by_standard_is_utc_and_aware():
    deadline = respond_by(Urgency.STANDARD, london(2027, 6, 7, 10))

    assert deadline.tzinfo == timezone.utc
    assert deadline == london(2027, 6, 14)
    assert deadline == datetime(2027, 6, 14, 16, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        # Sent late on a Friday: the day of sending does not count.
        (london(2027, 6, 11, 16, 59), london(2027, 6, 18)),
        # Sent on a Saturday: counting starts on Monday.
        (london(2027, 6, 12, 11), london(2027, 6, 18)),
        # Easter: Good Friday 26 March and Easter Monday 29 March are skipped.
        (london(2027, 3, 25, 9), london(2027, 4, 5)),
        # Christmas: 27 and 28 December and 3 January are substitute days.
        (london(2027, 12, 23, 9), london(2028, 1, 4)),
        # Spring bank holiday on Monday 31 May.
        (london(2027, 5, 27, 9), london(2027, 6, 4)),
    ],
)
def test_respond_by_standard_skips_weekends_and_bank_holidays(sent, expected):
    assert respond_by(Urgency.STANDARD, sent) == expected


def test_respond_by_standard_in_winter_is_17_utc():
    deadline = respond_by(Urgency.STANDARD, london(2027, 12, 23, 9))

    assert deadline == datetime(2028, 1, 4, 17, 0, tzinfo=timezone.utc)


def test_respond_by_emergency_counts_clock_hours():
    sent = datetime(2027, 6, 11, 9, 0, tzinfo=timezone.utc)

    assert respond_by(Urgency.EMERGENCY_24H, sent) == datetime(2027, 6, 12, 9, 0, tzinfo=timezone.utc)
    assert respond_by(Urgency.EMERGENCY_48H, sent) == datetime(2027, 6, 13, 9, 0, tzinfo=timezone.utc)


def test_respond_by_emergency_across_clock_change():
    # British Summer Time ends at 02:00 on Sunday 31 October 2027: 24 elapsed hours end at 11:00 GMT.
    sent = london(2027, 10, 30, 12)

    deadline = respond_by(Urgency.EMERGENCY_24H, sent)

    assert deadline == datetime(2027, 10, 31, 11, 0, tzinfo=timezone.utc)
    assert deadline - sent.astimezone(timezone.utc) == timedelta(hours=24)
    assert deadline.astimezone(LONDON).hour == 11


def test_respond_by_settings_change_periods():
    settings = DeadlineSettings(emergency_24h_hours=12, standard_working_days=3, end_of_working_day=time(16, 30))

    assert respond_by(Urgency.EMERGENCY_24H, london(2027, 6, 7, 9), settings) == london(2027, 6, 7, 21)
    assert respond_by(Urgency.STANDARD, london(2027, 6, 7, 9), settings) == london(2027, 6, 10, 16, 30)


def test_respond_by_defaults_to_engine_clock(clock):
    clock.set(london(2027, 6, 11, 15))

    assert respond_by(Urgency.STANDARD) == london(2027, 6, 18)
    assert respond_by(Urgency.EMERGENCY_24H) == london(2027, 6, 12, 15)


@freeze_time("2027-05-27 08:00:00")
def test_respond_by_defaults_under_freezegun():
    assert respond_by(Urgency.STANDARD) == london(2027, 6, 4)


def test_respond_by_unknown_urgency_raises():
    with pytest.raises(InvalidValueError, match="urgency 'soon'"):
        respond_by("soon", london(2027, 6, 7, 9))


def test_respond_by_naive_datetime_raises():
    with pytest.raises(InvalidValueError, match="aware datetime"):
        respond_by(Urgency.STANDARD, datetime(2027, 6, 7, 9))


def test_reminder_at_standard_one_working_day_before():
    assert reminder_at(Urgency.STANDARD, london(2027, 6, 14)) == london(2027, 6, 11)
    # Monday 31 May is a bank holiday, so the reminder goes on Friday 28 May.
    assert reminder_at(Urgency.STANDARD, london(2027, 6, 1)) == london(2027, 5, 28)


def test_reminder_at_emergency_hours_before():
    deadline = datetime(2027, 6, 12, 9, 0, tzinfo=timezone.utc)

    assert reminder_at(Urgency.EMERGENCY_24H, deadline) == datetime(2027, 6, 12, 3, 0, tzinfo=timezone.utc)


def test_reminder_at_too_close_to_sending_is_none():
    sent = datetime(2027, 6, 11, 9, 0, tzinfo=timezone.utc)
    settings = DeadlineSettings(emergency_reminder_hours=30)
    deadline = respond_by(Urgency.EMERGENCY_24H, sent, settings)

    assert reminder_at(Urgency.EMERGENCY_24H, deadline, sent, settings) is None
    assert reminder_at(Urgency.EMERGENCY_48H, respond_by(Urgency.EMERGENCY_48H, sent, settings), sent, settings) is not None


def test_reminder_at_unknown_urgency_raises():
    with pytest.raises(InvalidValueError, match="urgency"):
        reminder_at("later", london(2027, 6, 14))


def test_end_of_working_day_follows_british_summer_time():
    assert end_of_working_day(date(2027, 6, 14)) == datetime(2027, 6, 14, 16, 0, tzinfo=timezone.utc)
    assert end_of_working_day(date(2027, 1, 14)) == datetime(2027, 1, 14, 17, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"standard_working_days": 0}, "standard_working_days"),
        ({"emergency_24h_hours": 0}, "emergency_24h_hours"),
        ({"reminder_working_days": -1}, "reminder_working_days"),
        ({"end_of_working_day": time(17, 0, tzinfo=timezone.utc)}, "end_of_working_day"),
    ],
)
def test_deadline_settings_invalid_values_raise(options, field):
    with pytest.raises(InvalidValueError) as raised:
        DeadlineSettings(**options)

    assert raised.value.field == field
