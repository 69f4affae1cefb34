"""Changes to a portal user's password, role and login sessions, each of which ends the user's existing sessions."""

import logging

from werkzeug.security import generate_password_hash

from care.models.people import Role, User

log = logging.getLogger(__name__)


def end_sessions(user: User) -> None:
    """Raise the user's session version, so every login session and remember-me cookie issued before loads no user.

    The caller commits. A user not yet flushed keeps the column default of 1.
    """
    if user.session_version is None:
        user.session_version = 1
        return

    user.session_version += 1
    log.info("user %s: sessions ended (session version %s)", user.id, user.session_version)


def set_password(user: User, password: str) -> None:
    """Store a new password hash (werkzeug's default method, scrypt) and end the user's existing sessions."""
    user.password_hash = generate_password_hash(password)
    end_sessions(user)


def set_role(user: User, role: Role, provider_id: int | None = None) -> None:
    """Give the user a new role, with their provider for a provider user, and end their existing sessions when it changes."""
    if role == Role.PROVIDER_USER and provider_id is None:
        raise ValueError(f"user {user.id}: a provider user needs a provider id")
    if role != Role.PROVIDER_USER and provider_id is not None:
        raise ValueError(f"user {user.id}: only a provider user belongs to a provider, not a {role.value}")

    if user.role == role and user.provider_id == provider_id:
        return

    user.role = role
    user.provider_id = provider_id
    end_sessions(user)
