"""Provider responses to enquiries, the care manager's side-by-side view, selection and confirmation."""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from care.enquiries import RESPONSIVE_STATUSES, get_enquiry, get_recipient, get_user
from care.errors import AlreadyRespondedError, EnquiryClosedError, InvalidValueError, NotAllowedError
from care.models.enquiries import EnquiryRecipient, EnquiryStatus, Outcome, Response
from care.models.packages import CarePackage
from care.models.people import Role
from care.models.providers import Provider
from care.packages import start_package
from care.transitions import ENQUIRY, check_transition
from engine import clock

log = logging.getLogger(__name__)


def default_unit_price(session: Session, provider_id: int) -> Decimal | None:
    """Return the provider's standard hourly rate, which pre-fills the unit price of an acceptance."""
    provider = session.get(Provider, provider_id)

    return provider.standard_hourly_rate if provider is not None else None


def accept_enquiry(
    session: Session,
    enquiry_id: int,
    provider_id: int,
    *,
    recorded_by_id: int,
    unit_price: Decimal | None = None,
    note: str | None = None,
    by_phone: bool = False,
) -> EnquiryRecipient:
    """Record that the provider accepts the enquiry at ``unit_price`` per hour, by default its standard rate."""
    if unit_price is None:
        unit_price = default_unit_price(session, provider_id)
        if unit_price is None:
            raise InvalidValueError(
                "unit_price", None, f"provider {provider_id} has no standard hourly rate, so enter the price per hour"
            )

    if unit_price <= 0:
        raise InvalidValueError("unit_price", unit_price, "must be more than 0")

    return _respond(
        session, enquiry_id, provider_id, Response.ACCEPTED, recorded_by_id, by_phone, unit_price=unit_price, note=note
    )


def decline_enquiry(
    session: Session,
    enquiry_id: int,
    provider_id: int,
    *,
    recorded_by_id: int,
    reason: str,
    note: str | None = None,
    by_phone: bool = False,
) -> EnquiryRecipient:
    """Record that the provider declines the enquiry, with the reason the care manager will see."""
    if not reason or not reason.strip():
        raise InvalidValueError("reason", reason, "say why the provider declines, for example no carers free in the area")

    return _respond(
        session, enquiry_id, provider_id, Response.DECLINED, recorded_by_id, by_phone, reason=reason.strip(), note=note
    )


def _respond(
    session: Session,
    enquiry_id: int,
    provider_id: int,
    response: Response,
    recorded_by_id: int,
    by_phone: bool,
    *,
    unit_price: Decimal | None = None,
    reason: str | None = None,
    note: str | None = None,
) -> EnquiryRecipient:
    enquiry = get_enquiry(session, enquiry_id)
    recipient = get_recipient(session, enquiry_id, provider_id)
    if recipient.response is not None:
        raise AlreadyRespondedError(enquiry_id, provider_id, recipient.response)

    if enquiry.status not in RESPONSIVE_STATUSES:
        raise EnquiryClosedError(enquiry.id, enquiry.status, "responses")

    recorder = get_user(session, recorded_by_id)
    if by_phone and not recorder.does_casework:
        raise NotAllowedError(recorder.id, "record a phone response", "only council staff record responses given by phone")
    if not by_phone and (recorder.role != Role.PROVIDER_USER or recorder.provider_id != provider_id):
        raise NotAllowedError(recorder.id, "respond for this provider", f"only users of provider {provider_id} respond online")

    recipient.response = response
    recipient.responded_at = clock.now()
    recipient.unit_price = unit_price
    recipient.decline_reason = reason
    recipient.response_note = note.strip() if note and note.strip() else None
    recipient.recorded_by_staff = by_phone
    recipient.recorded_by_id = recorder.id
    session.flush()
    log.info("provider %s %s enquiry %s", provider_id, response, enquiry_id)

    return recipient


@dataclass(frozen=True)
class ResponseSummary:
    """One provider's row in the care manager's side-by-side comparison."""

    recipient_id: int
    provider_id: int
    provider_name: str
    sent_at: datetime
    viewed_at: datetime | None
    responded_at: datetime | None
    response: str | None
    unit_price: Decimal | None
    decline_reason: str | None
    response_note: str | None
    recorded_by_staff: bool
    outcome: str | None


def responses_side_by_side(session: Session, enquiry_id: int) -> list[ResponseSummary]:
    """Return every recipient of an enquiry: acceptances by price, then declines, then providers yet to respond."""
    get_enquiry(session, enquiry_id)
    rows = session.execute(
        sa.select(EnquiryRecipient, Provider.name)
        .join(Provider, Provider.id == EnquiryRecipient.provider_id)
        .where(EnquiryRecipient.enquiry_id == enquiry_id)
    ).all()

    def order(row) -> tuple:
        recipient = row[0]
        rank = {Response.ACCEPTED: 0, Response.DECLINED: 1}.get(recipient.response, 2)
        return (rank, recipient.unit_price or Decimal(0), row[1], recipient.id)

    return [
        ResponseSummary(
            recipient_id=recipient.id,
            provider_id=recipient.provider_id,
            provider_name=name,
            sent_at=recipient.sent_at,
            viewed_at=recipient.viewed_at,
            responded_at=recipient.responded_at,
            response=recipient.response,
            unit_price=recipient.unit_price,
            decline_reason=recipient.decline_reason,
            response_note=recipient.response_note,
            recorded_by_staff=recipient.recorded_by_staff,
            outcome=recipient.outcome,
        )
        for recipient, name in sorted(rows, key=order)
    ]


@dataclass(frozen=True)
class Selection:
    """The outcome of a selection: the chosen recipient, and every other recipient, all now not selected."""

    selected: EnquiryRecipient
    not_selected: list[EnquiryRecipient]


def select_provider(session: Session, enquiry_id: int, provider_id: int, *, selected_by_id: int) -> Selection:
    """Select a provider that accepted: it becomes provisional and every other recipient is not selected.

    Providers that never responded are marked not selected too, so none is left waiting.
    """
    enquiry = get_enquiry(session, enquiry_id)
    check_transition(ENQUIRY, "enquiry", enquiry.id, enquiry.status, EnquiryStatus.PROVISIONAL)

    selector = get_user(session, selected_by_id)
    if not selector.does_casework:
        raise NotAllowedError(selector.id, "select a provider", "the care manager selects the provider")

    chosen = get_recipient(session, enquiry_id, provider_id)
    if chosen.response != Response.ACCEPTED:
        raise InvalidValueError(
            "provider_id",
            provider_id,
            f"provider {provider_id} has not accepted enquiry {enquiry_id}, so select one that accepted",
        )

    now = clock.now()
    chosen.outcome = Outcome.SELECTED_PROVISIONAL
    chosen.outcome_at = now
    others = [recipient for recipient in enquiry.recipients if recipient.id != chosen.id]
    for recipient in others:
        recipient.outcome = Outcome.NOT_SELECTED
        recipient.outcome_at = now

    enquiry.status = EnquiryStatus.PROVISIONAL
    enquiry.selected_provider_id = provider_id
    session.flush()
    log.info("enquiry %s: provider %s selected provisionally, %d not selected", enquiry.id, provider_id, len(others))

    return Selection(chosen, others)


def confirm_selection(session: Session, enquiry_id: int, *, confirmed_by_id: int, start_on: date | None = None) -> CarePackage:
    """Confirm the provisional provider and start its care package at the accepted price.

    ``start_on`` defaults to the enquiry's expected start date, and the hours are the enquiry's.
    """
    enquiry = get_enquiry(session, enquiry_id)
    check_transition(ENQUIRY, "enquiry", enquiry.id, enquiry.status, EnquiryStatus.CONFIRMED)

    confirmer = get_user(session, confirmed_by_id)
    if not confirmer.does_casework:
        raise NotAllowedError(confirmer.id, "confirm a care package", "the care manager confirms the start")

    chosen = get_recipient(session, enquiry_id, enquiry.selected_provider_id)
    chosen.outcome = Outcome.SELECTED_CONFIRMED
    chosen.outcome_at = clock.now()
    enquiry.status = EnquiryStatus.CONFIRMED

    package = start_package(
        session,
        provider_id=chosen.provider_id,
        service_user_id=enquiry.service_user_id,
        unit_price=chosen.unit_price,
        hours_per_week=enquiry.hours_per_week,
        start_on=start_on or enquiry.expected_start_on,
        enquiry_id=enquiry.id,
        started_by_id=confirmer.id,
    )
    log.info("enquiry %s confirmed and care package %s started", enquiry.id, package.id)

    return package
