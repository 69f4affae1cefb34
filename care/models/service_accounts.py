"""Service accounts: the council's other systems, which call the JSON API with a bearer token instead of logging in."""

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from care.models.base import Base, Timestamped, UtcDateTime, one_of
from care.models.people import Role

if TYPE_CHECKING:
    from care.models.providers import Provider


class ServiceAccount(Timestamped, Base):
    """A system that calls the API with the rights of one role, and of one provider when its role is ``provider_user``.

    Only the SHA-256 digest of the token is stored. ``token_prefix`` is the token's first characters,
    kept so that an administrator can tell tokens apart in a list without seeing a whole one.
    """

    __tablename__ = "api_service_accounts"
    __table_args__ = (
        one_of("role", [role.value for role in Role]),
        sa.CheckConstraint(
            "(role = 'provider_user' AND provider_id IS NOT NULL) OR (role <> 'provider_user' AND provider_id IS NULL)",
            name="provider_only_for_provider_users",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    role: Mapped[str] = mapped_column(sa.String(30))
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True)
    token_prefix: Mapped[str] = mapped_column(sa.String(16))
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by: Mapped[str] = mapped_column(sa.String(120))
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(120))

    provider: Mapped["Provider | None"] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
