"""In-app notifications for one user or one provider, and the ``notify.user`` and ``notify.provider`` topics."""

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from care.models.messaging import Notification, insert_once
from engine import clock
from engine.errors import AccessDeniedError, NotFoundError
from engine.handler_api import HandlerContext, HandlerRegistry
from handlers.email import check_link_path

log = logging.getLogger(__name__)

MAX_TITLE_LENGTH = 200
MAX_BODY_LENGTH = 2000


@dataclass(frozen=True)
class Reader:
    """The person reading notifications: a user, and the provider they belong to if they are a provider user."""

    user_id: int
    provider_id: int | None = None


def notify_user(session: Session, user_id: int, title: str, body: str, link: str | None = None, *, idempotency_key: str | None = None) -> int:
    """Write a notification for one user in ``session`` and return its id (the first one's id when the key repeats)."""
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise ValueError(f"user id {user_id!r} is invalid: pass the integer id of a user")

    return _insert(session, {"recipient_user_id": user_id}, title, body, link, idempotency_key)


def notify_provider(
    session: Session, provider_id: int, title: str, body: str, link: str | None = None, *, idempotency_key: str | None = None
) -> int:
    """Write a notification addressed to every user of one provider and return its id (the first one's id when the key repeats)."""
    if not isinstance(provider_id, int) or isinstance(provider_id, bool):
        raise ValueError(f"provider id {provider_id!r} is invalid: pass the integer id of a provider")

    return _insert(session, {"recipient_provider_id": provider_id}, title, body, link, idempotency_key)


def _insert(session: Session, recipient: dict[str, int], title: str, body: str, link: str | None, idempotency_key: str | None) -> int:
    title = " ".join(str(title).split())
    if not title or len(title) > MAX_TITLE_LENGTH:
        raise ValueError(f"notification title of {len(title)} characters is invalid: keep it between 1 and {MAX_TITLE_LENGTH}")

    if len(body) > MAX_BODY_LENGTH:
        raise ValueError(f"notification body of {len(body)} characters is too long: keep it to {MAX_BODY_LENGTH} and link to the details")

    if link is not None:
        check_link_path(link)

    values = {
        "created_at": clock.now(),
        "recipient_user_id": None,
        "recipient_provider_id": None,
        **recipient,
        "title": title,
        "body": body,
        "link": link,
        "idempotency_key": idempotency_key,
    }
    notification_id = insert_once(session, Notification, values)
    log.debug("notification %s written", notification_id)

    return notification_id


def _recipient_filter(user_id: int | None, provider_id: int | None) -> sa.ColumnElement[bool]:
    """Match the notifications of the user, of their provider, or both."""
    if user_id is None and provider_id is None:
        raise ValueError("no recipient given: pass user_id, provider_id or both")

    conditions = []
    if user_id is not None:
        conditions.append(Notification.recipient_user_id == user_id)
    if provider_id is not None:
        conditions.append(Notification.recipient_provider_id == provider_id)

    return sa.or_(*conditions)


def unread_count(session: Session, user_id: int | None = None, provider_id: int | None = None) -> int:
    """Count unread notifications addressed to the user, to the provider, or to either when both are given."""
    query = sa.select(sa.func.count()).select_from(Notification).where(_recipient_filter(user_id, provider_id), Notification.read_at.is_(None))

    return session.execute(query).scalar_one()


def list_notifications(
    session: Session,
    *,
    user_id: int | None = None,
    provider_id: int | None = None,
    unread_only: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> list[Notification]:
    """Return notifications addressed to the user, the provider, or either, newest first."""
    query = (
        sa.select(Notification)
        .where(_recipient_filter(user_id, provider_id))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))

    return list(session.scalars(query))


def mark_read(session: Session, notification_id: int, reader: Reader) -> Notification:
    """Mark a notification read by ``reader``. Marking it again keeps the first read time and reader.

    Raises NotFoundError for an unknown id and AccessDeniedError when the
    notification is addressed to another user or another provider.
    """
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise NotFoundError("notification", notification_id)

    own = notification.recipient_user_id is not None and notification.recipient_user_id == reader.user_id
    own_provider = notification.recipient_provider_id is not None and notification.recipient_provider_id == reader.provider_id
    if not (own or own_provider):
        log.warning("user %s may not mark notification %s read: it is addressed to someone else", reader.user_id, notification_id)
        raise AccessDeniedError(f"notification {notification_id} is addressed to another recipient: user {reader.user_id} may not mark it read")

    if notification.read_at is None:
        notification.read_at = clock.now()
        notification.read_by_user_id = reader.user_id

    return notification


def register(registry: HandlerRegistry, settings: object) -> None:
    """Register the ``notify.user`` and ``notify.provider`` topics (``settings`` is unused, so every module registers alike)."""
    common_inputs = {
        "title": f"one-line title, at most {MAX_TITLE_LENGTH} characters",
        "body": f"plain text, at most {MAX_BODY_LENGTH} characters; no service-user personal data beyond the postcode district and enquiry reference",
        "link_path": "optional path inside Care Place, such as /provider/enquiries/12",
    }
    outputs = {"notification_id": "id of the notification (the same id on every retry of the task)"}
    errors = {"ValueError": "missing or invalid input, so the task becomes an incident to fix in the diagram or data"}

    @registry.topic(
        "notify.user",
        description="Show a notification in Care Place to one user.",
        inputs={"user_id": "integer id of the user", **common_inputs},
        outputs=outputs,
        errors=errors,
    )
    def notify_user_task(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        _require(inputs, "user_id", context)
        notification_id = notify_user(
            context.session,
            inputs["user_id"],
            inputs["title"],
            inputs["body"],
            inputs.get("link_path"),
            idempotency_key=context.idempotency_key,
        )

        return {"notification_id": notification_id}

    @registry.topic(
        "notify.provider",
        description="Show a notification in Care Place to every user of one provider.",
        inputs={"provider_id": "integer id of the provider", **common_inputs},
        outputs=outputs,
        errors=errors,
    )
    def notify_provider_task(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        _require(inputs, "provider_id", context)
        notification_id = notify_provider(
            context.session,
            inputs["provider_id"],
            inputs["title"],
            inputs["body"],
            inputs.get("link_path"),
            idempotency_key=context.idempotency_key,
        )

        return {"notification_id": notification_id}


def _require(inputs: dict[str, Any], recipient: str, context: HandlerContext) -> None:
    missing = [name for name in (recipient, "title", "body") if inputs.get(name) in (None, "")]
    if missing:
        raise ValueError(f"{context.topic} task {context.element_id!r} is missing the inputs {', '.join(missing)}: map them in the diagram")
