"""Single-use set-password tokens for portal users, stored only as SHA-256 hashes."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from care.models.base import Base, UtcDateTime


class AccountToken(Base):
    """A set-password link sent to a user: the hash of its token, when it expires and when it was used or replaced.

    The raw token exists only in the email that carries the link, so a copy of
    the database cannot set anyone's password.
    """

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Hex SHA-256 of the raw token in the link.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set when a newer link for the same user replaces this one before it was used.
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Who issued the link: a service-task topic or a staff user id.
    issued_by: Mapped[str] = mapped_column(sa.String(120))
    # The service task's idempotency key, so a retried task finds its own token instead of issuing another.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
