"""Care packages: the agreed care, its status history, the provider's assessment, change requests and visits."""

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from care.models.base import Base, Hours, Timestamped, UnitPrice, UtcDateTime, one_of
from care.models.enquiries import Enquiry
from care.models.people import ServiceUser
from care.models.providers import Provider
from engine import clock


class PackageStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


class StatusReason(StrEnum):
    HOLIDAY = "holiday"
    HOSPITAL = "hospital"
    DEATH = "death"
    MISSING = "missing"
    NON_DELIVERY = "non_delivery"
    ENDED = "ended"


class ChangeRequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class VisitFlag(StrEnum):
    """The reason a payment run paid less than a visit's hours."""

    LOGGED_WHILE_SUSPENDED = "logged_while_suspended"
    OUTSIDE_PACKAGE_DATES = "outside_package_dates"
    EXCEEDS_COMMISSIONED_HOURS = "exceeds_commissioned_hours"


class CarePackage(Timestamped, Base):
    """The care a provider delivers to a service user after its selection is confirmed.

    ``unit_price`` and ``hours_per_week`` are the terms agreed at confirmation. Approved change
    requests apply on top of them from their ``effective_from`` dates (``care.packages.terms_on``).
    ``end_on`` is the last day of care, set when the package ends.
    """

    __tablename__ = "care_packages"
    __table_args__ = (
        one_of("status", [status.value for status in PackageStatus]),
        sa.CheckConstraint("unit_price > 0", name="unit_price_positive"),
        sa.CheckConstraint("hours_per_week > 0", name="hours_per_week_positive"),
        sa.CheckConstraint("end_on IS NULL OR end_on >= start_on", name="end_on_not_before_start_on"),
        sa.Index("ix_care_packages_provider_status", "provider_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enquiry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enquiries.id", ondelete="RESTRICT"), unique=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="RESTRICT"))
    service_user_id: Mapped[int] = mapped_column(sa.ForeignKey("service_users.id", ondelete="RESTRICT"), index=True)
    unit_price: Mapped[Decimal] = mapped_column(UnitPrice)
    hours_per_week: Mapped[Decimal] = mapped_column(Hours)
    start_on: Mapped[date] = mapped_column(sa.Date)
    end_on: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default=PackageStatus.ACTIVE.value)

    enquiry: Mapped[Enquiry | None] = relationship()
    provider: Mapped[Provider] = relationship()
    service_user: Mapped[ServiceUser] = relationship()
    status_history: Mapped[list["PackageStatusChange"]] = relationship(
        back_populates="package", cascade="all, delete-orphan", order_by="PackageStatusChange.id"
    )
    change_requests: Mapped[list["ChangeRequest"]] = relationship(
        back_populates="package", cascade="all, delete-orphan", order_by="ChangeRequest.id"
    )
    assessments: Mapped[list["Assessment"]] = relationship(back_populates="package", cascade="all, delete-orphan")
    visits: Mapped[list["Visit"]] = relationship(back_populates="package", cascade="all, delete-orphan")


class PackageStatusChange(Base):
    """One change of a package's status, where ``effective_on`` is the first day the new status applies."""

    __tablename__ = "package_status_changes"
    __table_args__ = (
        one_of("from_status", [status.value for status in PackageStatus]),
        one_of("to_status", [status.value for status in PackageStatus]),
        one_of("reason", [reason.value for reason in StatusReason]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(sa.ForeignKey("care_packages.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    # None when a suspended package resumes or a package starts.
    reason: Mapped[str | None] = mapped_column(sa.String(20))
    effective_on: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.Text)
    changed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    package: Mapped[CarePackage] = relationship(back_populates="status_history")


class Assessment(Base):
    """The provider's assessment at the service user's home, with the regulator's checklist as JSON in ``standard_points``."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(sa.ForeignKey("care_packages.id", ondelete="CASCADE"), index=True)
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    environment: Mapped[str | None] = mapped_column(sa.Text)
    mobility: Mapped[str | None] = mapped_column(sa.Text)
    religious_cultural_needs: Mapped[str | None] = mapped_column(sa.Text)
    standard_points: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    package: Mapped[CarePackage] = relationship(back_populates="assessments")


class ChangeRequest(Timestamped, Base):
    """A provider's request to change a package's hours or price, which a care manager approves or rejects."""

    __tablename__ = "change_requests"
    __table_args__ = (
        one_of("status", [status.value for status in ChangeRequestStatus]),
        sa.CheckConstraint("requested_hours_per_week IS NOT NULL OR requested_unit_price IS NOT NULL", name="requests_a_change"),
        sa.CheckConstraint("requested_hours_per_week IS NULL OR requested_hours_per_week > 0", name="hours_positive"),
        sa.CheckConstraint("requested_unit_price IS NULL OR requested_unit_price > 0", name="unit_price_positive"),
        sa.CheckConstraint("status <> 'approved' OR effective_from IS NOT NULL", name="approved_has_effective_from"),
        sa.Index("ix_change_requests_status_package", "status", "package_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(sa.ForeignKey("care_packages.id", ondelete="CASCADE"), index=True)
    requested_hours_per_week: Mapped[Decimal | None] = mapped_column(Hours)
    requested_unit_price: Mapped[Decimal | None] = mapped_column(UnitPrice)
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default=ChangeRequestStatus.PENDING.value)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    effective_from: Mapped[date | None] = mapped_column(sa.Date)

    package: Mapped[CarePackage] = relationship(back_populates="change_requests")


class Visit(Base):
    """One visit on the communication sheet, with the ``payment_flag`` a payment run set when it left hours unpaid."""

    __tablename__ = "visits"
    __table_args__ = (
        sa.CheckConstraint("duration_hours > 0 AND duration_hours <= 24", name="duration_hours_in_range"),
        one_of("payment_flag", [flag.value for flag in VisitFlag]),
        sa.Index("ix_visits_package_visit_on", "package_id", "visit_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(sa.ForeignKey("care_packages.id", ondelete="CASCADE"))
    visit_on: Mapped[date] = mapped_column(sa.Date)
    start_time: Mapped[time | None] = mapped_column(sa.Time)
    end_time: Mapped[time | None] = mapped_column(sa.Time)
    duration_hours: Mapped[Decimal] = mapped_column(Hours)
    carer_initials: Mapped[str | None] = mapped_column(sa.String(10))
    observations: Mapped[str | None] = mapped_column(sa.Text)
    payment_flag: Mapped[str | None] = mapped_column(sa.String(40))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    package: Mapped[CarePackage] = relationship(back_populates="visits")
