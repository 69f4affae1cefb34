"""The one clock the engine, handlers and scheduler read; tests move it with ``set_clock`` or freezegun."""

from collections.abc import Callable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    if _override is not None:
        return _override().astimezone(timezone.utc)

    return datetime.now(timezone.utc)


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Replace the clock with ``source`` (an aware-datetime factory), or restore it with None."""
    global _override
    _override = source
