"""Creating, revoking, listing and checking the bearer tokens of service accounts; only their SHA-256 digests are stored."""

import hashlib
import logging
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from care.errors import InvalidValueError, NotFoundError
from care.models.people import Role
from care.models.providers import Provider
from care.models.service_accounts import ServiceAccount
from engine import audit, clock

log = logging.getLogger(__name__)

# "cpt_" marks a Care Place token, so secret scanners and people can recognise one that leaked.
TOKEN_MARK = "cpt_"
# 32 random bytes (256 bits) make guessing infeasible, which is why a fast unsalted digest is enough to store.
TOKEN_BYTES = 32
PREFIX_LENGTH = len(TOKEN_MARK) + 8
ROLES = tuple(role.value for role in Role)


@dataclass(frozen=True)
class NewToken:
    """A service account just created, with the only copy of its token."""

    account_id: int
    name: str
    token: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_account(session: Session, *, name: str, role: str, provider_id: int | None, created_by: str) -> NewToken:
    """Create a service account with a new random token, and return the token, which is not stored anywhere."""
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise InvalidValueError("name", name, "give a name of 1 to 120 characters, such as 'finance-system'")
    if role not in ROLES:
        raise InvalidValueError("role", role, f"use one of {', '.join(ROLES)}")
    if role == Role.PROVIDER_USER and provider_id is None:
        raise InvalidValueError("provider_id", None, "a provider_user account needs the id of its provider")
    if role != Role.PROVIDER_USER and provider_id is not None:
        raise InvalidValueError("provider_id", provider_id, f"only provider_user accounts belong to a provider, not {role} accounts")
    if provider_id is not None and session.get(Provider, provider_id) is None:
        raise NotFoundError("provider", provider_id)
    if session.scalar(sa.select(ServiceAccount.id).where(ServiceAccount.name == name)) is not None:
        raise InvalidValueError("name", name, "a service account with this name exists; choose another name or revoke that one")

    token = TOKEN_MARK + secrets.token_urlsafe(TOKEN_BYTES)
    account = ServiceAccount(
        name=name,
        role=role,
        provider_id=provider_id,
        token_prefix=token[:PREFIX_LENGTH],
        token_sha256=token_digest(token),
        created_by=created_by,
    )
    session.add(account)
    session.flush()
    audit.record(session, "service_account.created", created_by, service_account_id=account.id, role=role, provider_id=provider_id)
    log.info("service account %s created with role %s", account.id, role)

    return NewToken(account.id, account.name, token)


def revoke_account(session: Session, account_id: int, *, revoked_by: str) -> ServiceAccount:
    """Revoke an account's token at once; revoking an account twice keeps the first time."""
    account = session.get(ServiceAccount, account_id)
    if account is None:
        raise NotFoundError("service account", account_id)

    if account.revoked_at is None:
        account.revoked_at = clock.now()
        account.revoked_by = revoked_by
        audit.record(session, "service_account.revoked", revoked_by, service_account_id=account.id)
        log.info("service account %s revoked", account.id)

    return account


def list_accounts(session: Session, *, include_revoked: bool = False) -> list[ServiceAccount]:
    query = sa.select(ServiceAccount).order_by(ServiceAccount.name, ServiceAccount.id)
    if not include_revoked:
        query = query.where(ServiceAccount.revoked_at.is_(None))

    return list(session.scalars(query))


def find_active_account(session: Session, token: str) -> ServiceAccount | None:
    """Return the unrevoked account whose token this is, or None.

    The lookup is by digest, so the time it takes does not depend on how much of the token is right.
    """
    if not token.startswith(TOKEN_MARK):
        return None

    return session.scalar(
        sa.select(ServiceAccount).where(ServiceAccount.token_sha256 == token_digest(token), ServiceAccount.revoked_at.is_(None))
    )
