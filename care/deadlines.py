"""Respond-by deadlines and reminder times for enquiries, counted in English working days and London time."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

import holidays

from care.errors import InvalidValueError
from care.models.enquiries import Urgency
from engine import clock
from engine.clock import LONDON


@dataclass(frozen=True)
class DeadlineSettings:
    """How long providers have to respond, and when they are reminded.

    Emergency deadlines count clock hours, and standard ones count working days. ``closure_days``
    adds days the council is closed beyond weekends and English bank holidays.
    """

    emergency_24h_hours: int = 24
    emergency_48h_hours: int = 48
    standard_working_days: int = 5
    end_of_working_day: time = time(17, 0)
    reminder_working_days: int = 1
    emergency_reminder_hours: int = 6
    closure_days: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for name in ("emergency_24h_hours", "emergency_48h_hours", "standard_working_days", "emergency_reminder_hours"):
            if getattr(self, name) < 1:
                raise InvalidValueError(name, getattr(self, name), "must be at least 1")

        if self.reminder_working_days < 0:
            raise InvalidValueError("reminder_working_days", self.reminder_working_days, "must be 0 or more")

        if self.end_of_working_day.tzinfo is not None:
            raise InvalidValueError(
                "end_of_working_day", self.end_of_working_day, "give a London wall-clock time without a time zone"
            )


DEFAULT_SETTINGS = DeadlineSettings()


@lru_cache(maxsize=1)
def _bank_holidays() -> holidays.HolidayBase:
    # The library adds substitute days ("observed") by default, such as Tuesday 28 December 2027 for Boxing Day.
    return holidays.country_holidays("GB", subdiv="ENG")


def is_working_day(day: date, settings: DeadlineSettings = DEFAULT_SETTINGS) -> bool:
    """Return whether ``day`` is Monday to Friday and neither an English bank holiday nor a council closure day."""
    return day.weekday() < 5 and day not in _bank_holidays() and day not in settings.closure_days


def add_working_days(day: date, count: int, settings: DeadlineSettings = DEFAULT_SETTINGS) -> date:
    """Return the ``count``-th working day after ``day``, or before it when ``count`` is negative.

    ``day`` itself is never counted. With ``count`` 0 the result is ``day`` when it is a working
    day, and otherwise the next working day.
    """
    if count == 0:
        return day if is_working_day(day, settings) else add_working_days(day, 1, settings)

    step = timedelta(days=1 if count > 0 else -1)
    remaining = abs(count)
    while remaining:
        day += step
        if is_working_day(day, settings):
            remaining -= 1

    return day


def end_of_working_day(day: date, settings: DeadlineSettings = DEFAULT_SETTINGS) -> datetime:
    """Return ``settings.end_of_working_day`` London time on ``day``, as an aware UTC datetime."""
    return datetime.combine(day, settings.end_of_working_day, tzinfo=LONDON).astimezone(timezone.utc)


def respond_by(urgency: str, sent_at: datetime | None = None, settings: DeadlineSettings = DEFAULT_SETTINGS) -> datetime:
    """Compute the respond-by deadline of an enquiry sent at ``sent_at`` (default: now), as an aware UTC datetime.

    Emergencies: ``sent_at`` plus 24 or 48 elapsed hours, through nights, weekends and clock changes.
    Standard: the end of the working day (17:00 London) on the fifth working day after the day the
    enquiry was sent. The day of sending never counts, whatever the hour, so an enquiry sent on
    Monday is due on the following Monday at 17:00 when no bank holiday falls in between.
    """
    sent_at = _aware(sent_at or clock.now(), "sent_at")
    if urgency == Urgency.EMERGENCY_24H:
        return sent_at.astimezone(timezone.utc) + timedelta(hours=settings.emergency_24h_hours)

    if urgency == Urgency.EMERGENCY_48H:
        return sent_at.astimezone(timezone.utc) + timedelta(hours=settings.emergency_48h_hours)

    if urgency == Urgency.STANDARD:
        sent_day = sent_at.astimezone(LONDON).date()
        return end_of_working_day(add_working_days(sent_day, settings.standard_working_days, settings), settings)

    raise InvalidValueError("urgency", urgency, f"use one of {', '.join(u.value for u in Urgency)}")


def reminder_at(
    urgency: str,
    deadline: datetime,
    sent_at: datetime | None = None,
    settings: DeadlineSettings = DEFAULT_SETTINGS,
) -> datetime | None:
    """Return when a provider that has not responded is reminded, or None when that time is not after ``sent_at``.

    Emergencies: ``settings.emergency_reminder_hours`` before ``deadline``. Standard: the end of
    the working day ``settings.reminder_working_days`` working days before the deadline's day.
    """
    deadline = _aware(deadline, "deadline").astimezone(timezone.utc)
    if urgency in (Urgency.EMERGENCY_24H, Urgency.EMERGENCY_48H):
        reminder = deadline - timedelta(hours=settings.emergency_reminder_hours)
    elif urgency == Urgency.STANDARD:
        deadline_day = deadline.astimezone(LONDON).date()
        reminder = end_of_working_day(add_working_days(deadline_day, -settings.reminder_working_days, settings), settings)
        reminder = min(reminder, deadline)
    else:
        raise InvalidValueError("urgency", urgency, f"use one of {', '.join(u.value for u in Urgency)}")

    if sent_at is not None and reminder <= _aware(sent_at, "sent_at"):
        return None

    return reminder


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidValueError(name, value, "pass an aware datetime, for example engine.clock.now()")

    return value
