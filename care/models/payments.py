"""Payment runs, the payment to each provider with its lines per package, and year-end recoups."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from care.models.base import Amount, Base, Hours, Timestamped, UnitPrice, UtcDateTime, one_of
from care.models.packages import CarePackage
from care.models.providers import Provider


class PaymentRunStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PAID = "paid"
    PARTIALLY_FAILED = "partially_failed"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    PAID = "paid"
    FAILED = "failed"
    # Recoups took the whole amount, so nothing goes to PayPal.
    NOTHING_DUE = "nothing_due"


class RecoupStatus(StrEnum):
    OPEN = "open"
    OFFSET = "offset"


class PaymentRun(Timestamped, Base):
    """One payout batch for the care delivered from ``period_start`` to ``period_end``, both days included.

    The PayPal handler is expected to send the id as ``sender_batch_id``. PayPal rejects a batch id
    used in the previous 30 days, so a retried submission pays at most once.
    """

    __tablename__ = "payment_runs"
    __table_args__ = (
        one_of("status", [status.value for status in PaymentRunStatus]),
        sa.CheckConstraint("period_end >= period_start", name="period_end_not_before_start"),
        sa.Index("ix_payment_runs_period", "period_start", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default=PaymentRunStatus.DRAFT.value, index=True)
    paypal_batch_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    payments: Mapped[list["Payment"]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="Payment.provider_id"
    )


class Payment(Timestamped, Base):
    """The payment of one run to one provider: ``amount`` sent is ``gross_amount`` earned minus ``recouped_amount`` offset."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "provider_id"),
        one_of("status", [status.value for status in PaymentStatus]),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("recouped_amount >= 0", name="recouped_amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_runs.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True)
    gross_amount: Mapped[Decimal] = mapped_column(Amount)
    recouped_amount: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"))
    amount: Mapped[Decimal] = mapped_column(Amount)
    # The PayPal receiver, copied from the provider's profile when the run was computed.
    payee_email: Mapped[str | None] = mapped_column(sa.String(320))
    status: Mapped[str] = mapped_column(sa.String(20), default=PaymentStatus.PENDING.value, index=True)
    paypal_item_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    transaction_status: Mapped[str | None] = mapped_column(sa.String(20))

    run: Mapped[PaymentRun] = relationship(back_populates="payments")
    provider: Mapped[Provider] = relationship()
    lines: Mapped[list["PaymentLine"]] = relationship(
        back_populates="payment", cascade="all, delete-orphan", order_by="PaymentLine.id"
    )


class PaymentLine(Base):
    """The hours of one package paid at one unit price, so a package whose price changed in the period has two lines."""

    __tablename__ = "payment_lines"
    __table_args__ = (
        sa.CheckConstraint("hours_delivered >= 0", name="hours_delivered_not_negative"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    package_id: Mapped[int] = mapped_column(sa.ForeignKey("care_packages.id", ondelete="RESTRICT"), index=True)
    hours_delivered: Mapped[Decimal] = mapped_column(Hours)
    unit_price: Mapped[Decimal] = mapped_column(UnitPrice)
    amount: Mapped[Decimal] = mapped_column(Amount)

    payment: Mapped[Payment] = relationship(back_populates="lines")
    package: Mapped[CarePackage] = relationship()


class Recoup(Timestamped, Base):
    """An overpayment the council takes back by offsetting it against a provider's next payment.

    When a payment is smaller than the open recoups, the offset part keeps this row and the
    rest moves to a new open row whose ``carried_from_id`` points here.
    """

    __tablename__ = "recoups"
    __table_args__ = (
        one_of("status", [status.value for status in RecoupStatus]),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("status <> 'offset' OR offset_in_payment_id IS NOT NULL", name="offset_has_payment"),
        sa.Index("ix_recoups_provider_status", "provider_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="RESTRICT"))
    package_id: Mapped[int | None] = mapped_column(sa.ForeignKey("care_packages.id", ondelete="SET NULL"), index=True)
    # The financial year the overpayment belongs to, such as "2026-27" (1 April 2026 to 31 March 2027).
    financial_year: Mapped[str] = mapped_column(sa.String(7), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount)
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default=RecoupStatus.OPEN.value)
    offset_in_payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    carried_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("recoups.id", ondelete="SET NULL"))
