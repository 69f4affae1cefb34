"""Portal users with their roles, and the service users who receive care."""

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from care.models.base import Base, Timestamped, UtcDateTime, one_of, personal_column

if TYPE_CHECKING:
    from care.models.providers import Provider


class Role(StrEnum):
    PROVIDER_USER = "provider_user"
    CARE_MANAGER = "care_manager"
    PROVIDER_SERVICES = "provider_services"
    ANALYST = "analyst"
    ADMIN = "admin"


COUNCIL_ROLES = frozenset({Role.CARE_MANAGER, Role.PROVIDER_SERVICES, Role.ANALYST, Role.ADMIN})
# Council staff who work on enquiries: they select and confirm providers, and record responses given by phone.
CASEWORK_ROLES = frozenset({Role.CARE_MANAGER, Role.PROVIDER_SERVICES, Role.ADMIN})


class User(Timestamped, Base):
    """A person who logs in to the portal, belonging to exactly one provider when a provider user and to none when staff."""

    __tablename__ = "users"
    __table_args__ = (
        one_of("role", [role.value for role in Role]),
        sa.CheckConstraint(
            "(role = 'provider_user' AND provider_id IS NOT NULL) OR (role <> 'provider_user' AND provider_id IS NULL)",
            name="provider_only_for_provider_users",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    # None until the user sets a password from the invitation email.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    role: Mapped[str] = mapped_column(sa.String(30), index=True)
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Part of the login session's user id, so raising it (care.people.end_sessions) ends every session and remember-me cookie.
    session_version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default=sa.text("1"))

    provider: Mapped["Provider | None"] = relationship(back_populates="users", foreign_keys=[provider_id])

    @property
    def is_council_staff(self) -> bool:
        return self.role in COUNCIL_ROLES

    @property
    def does_casework(self) -> bool:
        return self.role in CASEWORK_ROLES


class ServiceUser(Timestamped, Base):
    """A person who receives care, with the minimum personal data the service needs.

    Providers see ``reference`` and ``postcode_district`` on an enquiry. The columns declared
    with ``personal_column`` are shown only to council staff and to the selected provider.
    """

    __tablename__ = "service_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(40), unique=True)
    display_name: Mapped[str] = personal_column(sa.String(200))
    postcode_district: Mapped[str] = mapped_column(sa.String(4), index=True)
    full_postcode: Mapped[str | None] = personal_column(sa.String(8))
    address: Mapped[str | None] = personal_column(sa.Text)
    date_of_birth: Mapped[date | None] = personal_column(sa.Date)
