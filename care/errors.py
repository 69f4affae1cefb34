"""Exceptions raised by the domain rules, each derived from CareError and carrying the ids involved."""

from collections.abc import Iterable
from enum import Enum


def _plain(value: object) -> object:
    # The repr of a StrEnum member is <Status.OPEN: 'open'>, so messages use the stored value instead.
    return value.value if isinstance(value, Enum) else value


class CareError(Exception):
    """Base class for every error the domain package raises on purpose."""


class NotFoundError(CareError):
    """A record does not exist, or is not visible to the provider that asked for it."""

    def __init__(self, kind: str, key: object):
        super().__init__(f"{kind} {key!r} not found: check the id, or that it belongs to this provider")
        self.kind = kind
        self.key = key


class InvalidValueError(CareError, ValueError):
    """A value given to a domain rule is invalid, and ``field`` names it for forms."""

    def __init__(self, field: str, value: object, message: str):
        value = _plain(value)
        super().__init__(f"invalid {field} {value!r}: {message}")
        self.field = field
        self.value = value


class InvalidTransitionError(CareError):
    """A record cannot move from its current state to the requested one."""

    def __init__(self, kind: str, record_id: object, current: str | None, requested: str, allowed: Iterable[str]):
        self.kind = kind
        self.record_id = record_id
        self.current = _plain(current)
        self.requested = _plain(requested)
        self.allowed = sorted(str(_plain(state)) for state in allowed)
        allowed_text = ", ".join(repr(state) for state in self.allowed) or "none, because it is final"
        super().__init__(
            f"{kind} {record_id} cannot move from {self.current!r} to {self.requested!r}. "
            f"Allowed from {self.current!r}: {allowed_text}"
        )


class AlreadyRespondedError(CareError):
    """A provider has already responded to an enquiry, and a response cannot be changed or recorded twice."""

    def __init__(self, enquiry_id: int, provider_id: int, response: str):
        super().__init__(
            f"provider {provider_id} already {response} enquiry {enquiry_id}: "
            "a response cannot be changed, so add a note to the enquiry instead"
        )
        self.enquiry_id = enquiry_id
        self.provider_id = provider_id
        self.response = _plain(response)


class EnquiryClosedError(CareError):
    """An enquiry no longer takes responses or notes because of its status."""

    def __init__(self, enquiry_id: int, status: str, action: str):
        status = _plain(status)
        super().__init__(f"enquiry {enquiry_id} is {status!r}, so it does not accept {action}")
        self.enquiry_id = enquiry_id
        self.status = status
        self.action = action


class NotAllowedError(CareError):
    """The acting user's role or provider does not allow the action."""

    def __init__(self, user_id: int, action: str, reason: str):
        super().__init__(f"user {user_id} may not {action}: {reason}")
        self.user_id = user_id
        self.action = action
