"""Provider portal accounts: the ``care.provider.create_account`` topic and the emailed single-use set-password links."""

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from care.models.account_tokens import AccountToken
from care.models.messaging import OutboxEmail
from care.models.people import Role, User
from care.models.providers import Provider
from engine import audit, clock
from engine.handler_api import HandlerContext, HandlerRegistry
from handlers.email import check_address, queue_email

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(days=7)
# 32 random bytes, which token_urlsafe writes as 43 URL-safe characters, so a token cannot be guessed.
TOKEN_BYTES = 32
SET_PASSWORD_PATH = "/account/set-password/"
ACCESS_TEMPLATE = "access_instructions"


class PublicUrlSettings(Protocol):
    public_base_url: str


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a raw token, the only form of it that is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user_id: int, *, issued_by: str, idempotency_key: str | None = None) -> tuple[AccountToken, str]:
    """Revoke the user's unused set-password tokens, add a new one and return its row and the raw token.

    The raw token is returned once, for the link in the email. Never store it
    in task data or log it: only its hash is kept.
    """
    now = clock.now()
    session.execute(
        sa.update(AccountToken)
        .where(AccountToken.user_id == user_id, AccountToken.used_at.is_(None), AccountToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )

    raw_token = secrets.token_urlsafe(TOKEN_BYTES)
    token = AccountToken(
        user_id=user_id,
        token_hash=hash_token(raw_token),
        created_at=now,
        expires_at=now + TOKEN_LIFETIME,
        issued_by=issued_by,
        idempotency_key=idempotency_key,
    )
    session.add(token)
    session.flush()

    return token, raw_token


def queue_access_email(
    session: Session,
    user: User,
    provider: Provider,
    raw_token: str,
    *,
    idempotency_key: str,
    base_url: str,
    instance_id: str | None = None,
    task_id: str | None = None,
) -> int:
    """Queue the access instructions email to ``user``, linking to the set-password page of ``raw_token``."""
    return queue_email(
        session,
        to=user.email,
        template=ACCESS_TEMPLATE,
        context={"provider_name": provider.name},
        link_path=SET_PASSWORD_PATH + raw_token,
        idempotency_key=idempotency_key,
        base_url=base_url,
        instance_id=instance_id,
        task_id=task_id,
    )


def find_or_add_provider_user(session: Session, provider: Provider, email: str, display_name: str) -> User:
    """Return the provider's user with this email address, adding one with no password when there is none.

    Raises ValueError when the address belongs to a staff member or to
    another provider's user, because taking over that account would hand it
    to whoever reads the provider's mailbox.
    """
    check_address(email)
    address = email.strip()
    user = session.scalar(sa.select(User).where(sa.func.lower(User.email) == address.lower()))
    if user is None:
        user = User(email=address, display_name=display_name[:200], password_hash=None, role=Role.PROVIDER_USER, provider_id=provider.id)
        session.add(user)
        session.flush()
        log.info("provider %s: added portal user %s", provider.id, user.id)
        return user

    if user.role != Role.PROVIDER_USER or user.provider_id != provider.id:
        raise ValueError(
            f"provider {provider.id}: the contact email address already belongs to user {user.id}, who is not a user of this provider; "
            "correct contact_email in the task data or the other account, then retry the incident"
        )

    log.info("provider %s: contact email address matches existing user %s", provider.id, user.id)
    return user


def reissue_set_password_link(session: Session, provider_id: int, user_id: int, *, actor: str, base_url: str) -> int:
    """Replace a provider user's set-password link with a new one and queue the access email again; return the email id.

    Raises LookupError when the user is not a user of that provider.
    """
    provider = session.get(Provider, provider_id)
    user = session.get(User, user_id)
    if provider is None or user is None or user.role != Role.PROVIDER_USER or user.provider_id != provider_id:
        raise LookupError(f"user {user_id} is not a user of provider {provider_id}")

    token, raw_token = issue_token(session, user.id, issued_by=actor)
    email_id = queue_access_email(session, user, provider, raw_token, idempotency_key=f"set-password-link:{token.id}", base_url=base_url)
    audit.record(session, "user.set_password_link_issued", actor, user_id=user.id, provider_id=provider_id, token_id=token.id, email_id=email_id)
    log.info("user %s: issued set-password link %s for provider %s, email %s", actor, token.id, provider_id, email_id)

    return email_id


def register(registry: HandlerRegistry, settings: PublicUrlSettings) -> None:
    """Register ``care.provider.create_account``."""

    @registry.topic(
        "care.provider.create_account",
        description=(
            "Create the provider's first portal user (no password yet) for the contact email address, or reuse that provider's user "
            "with this address, and queue the access instructions email with a single-use set-password link valid for 7 days. "
            "The link's token is written only to the email, never to the task data."
        ),
        inputs={
            "provider_id": "provider id",
            "contact_email": "the provider's contact email address, which becomes the login",
            "contact_person": "optional display name of the user; without it, the provider's name",
        },
        outputs={
            "account_user_id": "id of the provider's portal user",
            "email_id": "id of the outbox email with the link (the same id on every retry of the task)",
        },
        errors={
            "ValueError": "unknown provider, invalid address, or an address that belongs to staff or another provider's user, "
            "so the task becomes an incident to fix in the data",
        },
    )
    def create_account(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        session = context.session
        provider = session.get(Provider, inputs["provider_id"])
        if provider is None:
            raise ValueError(f"provider {inputs['provider_id']!r} not found: check provider_id in the task data")

        # A task that already committed its account and email, then ran again, returns what it made the first time.
        earlier = session.scalar(sa.select(AccountToken).where(AccountToken.idempotency_key == context.idempotency_key))
        if earlier is not None:
            email_id = session.scalar(sa.select(OutboxEmail.id).where(OutboxEmail.idempotency_key == context.idempotency_key))
            log.info("instance %s task %s: account for provider %s already created, user %s", context.instance_id, context.element_id, provider.id, earlier.user_id)
            return {"account_user_id": earlier.user_id, "email_id": email_id}

        display_name = (inputs.get("contact_person") or "").strip() or provider.name
        user = find_or_add_provider_user(session, provider, inputs["contact_email"], display_name)
        token, raw_token = issue_token(session, user.id, issued_by=context.topic, idempotency_key=context.idempotency_key)
        email_id = queue_access_email(
            session,
            user,
            provider,
            raw_token,
            idempotency_key=context.idempotency_key,
            base_url=settings.public_base_url,
            instance_id=context.instance_id,
            task_id=context.task_id,
        )
        audit.record(
            session,
            "user.set_password_link_issued",
            context.topic,
            instance_id=context.instance_id,
            task_id=context.task_id,
            user_id=user.id,
            provider_id=provider.id,
            token_id=token.id,
            email_id=email_id,
        )

        return {"account_user_id": user.id, "email_id": email_id}
