"""Enquiries (referral requests) for care, the providers they go to, their responses, documents and notes."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from care.models.base import Base, Hours, Timestamped, UnitPrice, UtcDateTime, one_of
from care.models.people import ServiceUser
from care.models.providers import Provider
from engine import clock


class Urgency(StrEnum):
    EMERGENCY_24H = "emergency_24h"
    EMERGENCY_48H = "emergency_48h"
    STANDARD = "standard"


class EnquiryStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    SELECTING = "selecting"
    PROVISIONAL = "provisional"
    CONFIRMED = "confirmed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Response(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Outcome(StrEnum):
    SELECTED_PROVISIONAL = "selected_provisional"
    SELECTED_CONFIRMED = "selected_confirmed"
    NOT_SELECTED = "not_selected"


class AuthorSide(StrEnum):
    PROVIDER = "provider"
    COUNCIL = "council"


class Enquiry(Timestamped, Base):
    """A care manager's request for care for one service user, sent to one or more providers.

    ``selected_provider_id`` names the chosen provider. Its recipient row is the one whose
    outcome is ``selected_provisional`` or ``selected_confirmed``.
    """

    __tablename__ = "enquiries"
    __table_args__ = (
        one_of("urgency", [urgency.value for urgency in Urgency]),
        one_of("status", [status.value for status in EnquiryStatus]),
        sa.CheckConstraint("hours_per_week > 0", name="hours_per_week_positive"),
        sa.Index("ix_enquiries_status_respond_by", "status", "respond_by"),
        # Covers the join from a provider's recipient rows, so the provider's enquiry list
        # sorts by respond_by without reading the enquiries table.
        sa.Index("ix_enquiries_id_status_respond_by", "id", "status", "respond_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(40), unique=True)
    service_user_id: Mapped[int] = mapped_column(sa.ForeignKey("service_users.id", ondelete="RESTRICT"), index=True)
    raised_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    # Set when staff typed in an enquiry that arrived by phone or email for the care manager.
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    hours_per_week: Mapped[Decimal] = mapped_column(Hours)
    expected_start_on: Mapped[date] = mapped_column(sa.Date)
    respond_by: Mapped[datetime] = mapped_column(UtcDateTime)
    urgency: Mapped[str] = mapped_column(sa.String(20))
    postcode_district: Mapped[str] = mapped_column(sa.String(4), index=True)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default=EnquiryStatus.DRAFT.value)
    selected_provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("providers.id", ondelete="SET NULL"), index=True)
    process_instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)

    service_user: Mapped[ServiceUser] = relationship()
    selected_provider: Mapped[Provider | None] = relationship()
    recipients: Mapped[list["EnquiryRecipient"]] = relationship(
        back_populates="enquiry", cascade="all, delete-orphan", order_by="EnquiryRecipient.id"
    )
    documents: Mapped[list["EnquiryDocument"]] = relationship(back_populates="enquiry", cascade="all, delete-orphan")


class EnquiryDocument(Base):
    """A file attached to an enquiry by the care manager, whose bytes are in document storage under ``storage_key``."""

    __tablename__ = "enquiry_documents"
    __table_args__ = (sa.CheckConstraint("size_bytes >= 0", name="size_bytes_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enquiry_id: Mapped[int] = mapped_column(sa.ForeignKey("enquiries.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    storage_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    enquiry: Mapped[Enquiry] = relationship(back_populates="documents")


class EnquiryRecipient(Timestamped, Base):
    """One provider an enquiry went to: when it saw the enquiry, how it responded and whether it was selected.

    ``recorded_by_id`` is the user who entered the response. When the provider responded by
    phone, ``recorded_by_staff`` is true and that user is a member of council staff.
    """

    __tablename__ = "enquiry_recipients"
    __table_args__ = (
        sa.UniqueConstraint("enquiry_id", "provider_id"),
        one_of("response", [response.value for response in Response]),
        one_of("outcome", [outcome.value for outcome in Outcome]),
        sa.CheckConstraint(
            "response IS NULL"
            " OR (response = 'accepted' AND unit_price IS NOT NULL AND unit_price > 0)"
            " OR (response = 'declined' AND decline_reason IS NOT NULL)",
            name="response_complete",
        ),
        sa.CheckConstraint("(response IS NULL) = (responded_at IS NULL)", name="responded_at_with_response"),
        # enquiry_id and id let the provider's enquiry list pick a page from the index alone.
        sa.Index("ix_enquiry_recipients_provider_state", "provider_id", "outcome", "responded_at", "viewed_at", "enquiry_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unique constraint indexes enquiry_id and the state index leads with provider_id.
    enquiry_id: Mapped[int] = mapped_column(sa.ForeignKey("enquiries.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="RESTRICT"))
    # True when the enquiry went straight to the provider already giving the service user interim care.
    is_interim_provider: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    viewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    response: Mapped[str | None] = mapped_column(sa.String(20))
    unit_price: Mapped[Decimal | None] = mapped_column(UnitPrice)
    decline_reason: Mapped[str | None] = mapped_column(sa.Text)
    response_note: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_staff: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(sa.String(30))
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    enquiry: Mapped[Enquiry] = relationship(back_populates="recipients")
    provider: Mapped[Provider] = relationship()


class EnquiryNote(Base):
    """One message in the thread between the council and one recipient provider about an enquiry.

    Each thread belongs to a provider: that provider and council staff see it, other providers never do.
    """

    __tablename__ = "enquiry_notes"
    __table_args__ = (
        one_of("author_side", [side.value for side in AuthorSide]),
        sa.Index("ix_enquiry_notes_thread", "enquiry_id", "provider_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enquiry_id: Mapped[int] = mapped_column(sa.ForeignKey("enquiries.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    author_side: Mapped[str] = mapped_column(sa.String(20))
    body: Mapped[str] = mapped_column(sa.Text)
    # True when staff logged a phone conversation as this note.
    via_phone: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
