"""Home-care providers: registration details, status history, profile, areas covered and application documents."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from care.models.base import Base, Timestamped, UnitPrice, UtcDateTime, one_of
from engine import clock

if TYPE_CHECKING:
    from care.models.people import User


class ProviderKind(StrEnum):
    COMPANY = "company"
    CHARITY = "charity"


class ProviderStatus(StrEnum):
    CONTACTED = "contacted"
    APPLIED = "applied"
    REGISTERED = "registered"
    CHECKS_FAILED = "checks_failed"
    LIVE = "live"
    SUSPENDED = "suspended"
    REMOVED = "removed"


class ContactRoute(StrEnum):
    """The route by which the provider first reached the provider services team."""

    FORUM_OUTREACH = "forum_outreach"
    SERVICE_USER_REQUEST = "service_user_request"
    CONTACT_CENTRE = "contact_centre"
    CARE_MANAGER_REFERRAL = "care_manager_referral"


class Provider(Timestamped, Base):
    """A home-care agency, whose ``status`` is meant to change only through ``care.providers`` so that the history records it."""

    __tablename__ = "providers"
    __table_args__ = (
        one_of("kind", [kind.value for kind in ProviderKind]),
        one_of("status", [status.value for status in ProviderStatus]),
        one_of("contact_route", [route.value for route in ContactRoute]),
        sa.CheckConstraint("standard_hourly_rate > 0", name="standard_hourly_rate_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    cqc_provider_id: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    company_number: Mapped[str | None] = mapped_column(sa.String(8), index=True)
    charity_number: Mapped[str | None] = mapped_column(sa.String(8), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True, default=ProviderStatus.CONTACTED.value)
    contact_route: Mapped[str | None] = mapped_column(sa.String(30))
    services_offered: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    standard_hourly_rate: Mapped[Decimal | None] = mapped_column(UnitPrice)
    paypal_email: Mapped[str | None] = mapped_column(sa.String(320))
    workshop_attended_on: Mapped[date | None] = mapped_column(sa.Date)
    go_live_on: Mapped[date | None] = mapped_column(sa.Date)

    districts: Mapped[list["ProviderDistrict"]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="ProviderDistrict.postcode_district"
    )
    status_history: Mapped[list["ProviderStatusChange"]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="ProviderStatusChange.id"
    )
    documents: Mapped[list["ProviderDocument"]] = relationship(back_populates="provider", cascade="all, delete-orphan")
    users: Mapped[list["User"]] = relationship(back_populates="provider")


class ProviderDistrict(Base):
    """A postcode district (the outward code, such as ``LS6``) that a provider covers."""

    __tablename__ = "provider_districts"

    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    postcode_district: Mapped[str] = mapped_column(sa.String(4), primary_key=True, index=True)

    provider: Mapped[Provider] = relationship(back_populates="districts")


class ProviderStatusChange(Base):
    """One change of a provider's status, with who made it and why."""

    __tablename__ = "provider_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    changed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    provider: Mapped[Provider] = relationship(back_populates="status_history")


class ProviderDocument(Base):
    """A file uploaded with a provider's application, whose bytes are in document storage under ``storage_key``."""

    __tablename__ = "provider_documents"
    __table_args__ = (sa.CheckConstraint("size_bytes >= 0", name="size_bytes_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    storage_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    provider: Mapped[Provider] = relationship(back_populates="documents")
