"""Enquiry rules: raise, send to providers, record views, change status, and the note threads with each provider."""

import logging
import secrets
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from care import deadlines
from care.errors import EnquiryClosedError, InvalidValueError, NotAllowedError, NotFoundError
from care.models.enquiries import AuthorSide, Enquiry, EnquiryNote, EnquiryRecipient, EnquiryStatus, Outcome, Urgency
from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider, ProviderStatus
from care.transitions import ENQUIRY, check_transition
from engine import clock
from engine.clock import LONDON

log = logging.getLogger(__name__)

# Statuses in which providers may still respond and exchange notes with the council.
RESPONSIVE_STATUSES = frozenset({EnquiryStatus.OPEN, EnquiryStatus.SELECTING})
NOTE_STATUSES = RESPONSIVE_STATUSES | {EnquiryStatus.PROVISIONAL, EnquiryStatus.CONFIRMED}


def get_enquiry(session: Session, enquiry_id: int) -> Enquiry:
    enquiry = session.get(Enquiry, enquiry_id)
    if enquiry is None:
        raise NotFoundError("enquiry", enquiry_id)

    return enquiry


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user", user_id)

    return user


def create_enquiry(
    session: Session,
    *,
    service_user_id: int,
    raised_by_id: int,
    hours_per_week: Decimal,
    expected_start_on: date,
    urgency: str = Urgency.STANDARD,
    respond_by: datetime | None = None,
    notes: str | None = None,
    entered_by_id: int | None = None,
    settings: deadlines.DeadlineSettings = deadlines.DEFAULT_SETTINGS,
) -> Enquiry:
    """Create a draft enquiry for a service user, due by ``respond_by`` or else by the deadline for ``urgency`` from now.

    The enquiry shows the service user's postcode district only, copied now from their record.
    """
    raised_by = get_user(session, raised_by_id)
    if raised_by.role != Role.CARE_MANAGER:
        raise NotAllowedError(
            raised_by.id, "raise an enquiry", f"the role is {raised_by.role!r}, but enquiries are raised for a care manager"
        )

    if entered_by_id is not None and not get_user(session, entered_by_id).does_casework:
        raise NotAllowedError(entered_by_id, "enter an enquiry for a care manager", "only council casework staff do that")

    service_user = session.get(ServiceUser, service_user_id)
    if service_user is None:
        raise NotFoundError("service user", service_user_id)

    if hours_per_week <= 0:
        raise InvalidValueError("hours_per_week", hours_per_week, "must be more than 0")

    now = clock.now()
    if respond_by is None:
        respond_by = deadlines.respond_by(urgency, now, settings)
    elif respond_by.tzinfo is None or respond_by <= now:
        raise InvalidValueError("respond_by", respond_by, "give an aware datetime in the future")

    enquiry = Enquiry(
        reference=_new_reference(now),
        service_user_id=service_user.id,
        raised_by_id=raised_by.id,
        entered_by_id=entered_by_id,
        hours_per_week=hours_per_week,
        expected_start_on=expected_start_on,
        respond_by=respond_by,
        urgency=urgency,
        postcode_district=service_user.postcode_district,
        notes=notes,
        status=EnquiryStatus.DRAFT,
    )
    session.add(enquiry)
    session.flush()
    log.info("enquiry %s created as %s", enquiry.id, enquiry.reference)

    return enquiry


def _new_reference(now: datetime) -> str:
    # NOTE: 8 random hex digits a day make a clash unlikely, and the unique constraint catches one if it happens.
    return f"ENQ-{now.astimezone(LONDON):%Y%m%d}-{secrets.token_hex(4).upper()}"


def send_enquiry(
    session: Session, enquiry_id: int, provider_ids: Iterable[int], *, interim_provider_id: int | None = None
) -> list[EnquiryRecipient]:
    """Send an enquiry to live providers, opening it if it was a draft, and return the new recipient rows.

    Providers that already have the enquiry are skipped. ``interim_provider_id`` is the provider
    already giving the service user interim care, and it may be the only recipient.
    """
    enquiry = get_enquiry(session, enquiry_id)
    if enquiry.status == EnquiryStatus.DRAFT:
        check_transition(ENQUIRY, "enquiry", enquiry.id, enquiry.status, EnquiryStatus.OPEN)
        enquiry.status = EnquiryStatus.OPEN
    elif enquiry.status not in RESPONSIVE_STATUSES:
        raise EnquiryClosedError(enquiry.id, enquiry.status, "new recipients")

    requested_ids = list(dict.fromkeys(provider_ids))
    if interim_provider_id is not None and interim_provider_id not in requested_ids:
        requested_ids.append(interim_provider_id)
    if not requested_ids:
        raise InvalidValueError("provider_ids", requested_ids, "choose at least one provider")

    present = {recipient.provider_id for recipient in enquiry.recipients}
    now = clock.now()
    added = []
    for provider_id in requested_ids:
        if provider_id in present:
            continue

        provider = session.get(Provider, provider_id)
        if provider is None:
            raise NotFoundError("provider", provider_id)
        if provider.status != ProviderStatus.LIVE:
            raise InvalidValueError(
                "provider_ids",
                provider_id,
                f"provider {provider_id} is {provider.status!r}, but only live providers receive enquiries",
            )

        recipient = EnquiryRecipient(provider_id=provider_id, sent_at=now, is_interim_provider=provider_id == interim_provider_id)
        enquiry.recipients.append(recipient)
        added.append(recipient)

    session.flush()
    log.info("enquiry %s sent to %d more providers", enquiry.id, len(added))

    return added


def change_enquiry_status(session: Session, enquiry_id: int, to_status: str) -> Enquiry:
    """Move an enquiry to ``to_status`` when the transition is allowed, except to the states of selection and confirmation."""
    if to_status in (EnquiryStatus.PROVISIONAL, EnquiryStatus.CONFIRMED):
        raise InvalidValueError("to_status", to_status, "use select_provider or confirm_selection, which also record the outcome")

    enquiry = get_enquiry(session, enquiry_id)
    check_transition(ENQUIRY, "enquiry", enquiry.id, enquiry.status, to_status)
    enquiry.status = to_status
    session.flush()
    log.info("enquiry %s moved to %s", enquiry.id, to_status)

    return enquiry


def get_recipient(session: Session, enquiry_id: int, provider_id: int, *, with_enquiry: bool = False) -> EnquiryRecipient:
    """Return the provider's recipient row, or raise NotFoundError so a provider cannot see other enquiries.

    ``with_enquiry`` loads the enquiry in the same statement.
    """
    query = sa.select(EnquiryRecipient).where(EnquiryRecipient.enquiry_id == enquiry_id, EnquiryRecipient.provider_id == provider_id)
    if with_enquiry:
        query = query.options(joinedload(EnquiryRecipient.enquiry))
    recipient = session.scalar(query)
    if recipient is None:
        raise NotFoundError("enquiry", enquiry_id)

    return recipient


def record_view(session: Session, enquiry_id: int, provider_id: int) -> EnquiryRecipient:
    """Record when the provider first opened the enquiry, and keep that time on later views."""
    recipient = get_recipient(session, enquiry_id, provider_id)
    if recipient.viewed_at is None:
        recipient.viewed_at = clock.now()
        session.flush()
        log.info("enquiry %s first viewed by provider %s", enquiry_id, provider_id)

    return recipient


def full_address_visible(recipient: EnquiryRecipient) -> bool:
    """Return whether this recipient's provider may see the service user's full postcode and address: only once it is selected."""
    return recipient.outcome in (Outcome.SELECTED_PROVISIONAL, Outcome.SELECTED_CONFIRMED)


def add_note(
    session: Session, enquiry_id: int, provider_id: int, *, author_id: int, body: str, via_phone: bool = False
) -> EnquiryNote:
    """Add a note to the thread between the council and one recipient provider.

    A provider user writes only in its own provider's thread. ``via_phone`` marks a phone call
    that council staff logged, so only staff may set it.
    """
    enquiry = get_enquiry(session, enquiry_id)
    if enquiry.status not in NOTE_STATUSES:
        raise EnquiryClosedError(enquiry.id, enquiry.status, "notes")

    get_recipient(session, enquiry_id, provider_id)
    author = get_user(session, author_id)
    if author.role == Role.PROVIDER_USER:
        if author.provider_id != provider_id:
            raise NotAllowedError(author.id, "write in this thread", f"it belongs to provider {provider_id}")
        if via_phone:
            raise NotAllowedError(author.id, "log a phone call", "council staff log phone calls as notes")
        side = AuthorSide.PROVIDER
    else:
        side = AuthorSide.COUNCIL

    if not body.strip():
        raise InvalidValueError("body", body, "write the note before sending it")

    note = EnquiryNote(
        enquiry_id=enquiry.id,
        provider_id=provider_id,
        author_id=author.id,
        author_side=side,
        body=body.strip(),
        via_phone=via_phone,
    )
    session.add(note)
    session.flush()
    log.info("note %s added to enquiry %s for provider %s", note.id, enquiry.id, provider_id)

    return note


def thread_notes(session: Session, recipient: EnquiryRecipient) -> list[EnquiryNote]:
    """Return the thread between the council and this recipient's provider, oldest first."""
    return list(
        session.scalars(
            sa.select(EnquiryNote)
            .where(EnquiryNote.enquiry_id == recipient.enquiry_id, EnquiryNote.provider_id == recipient.provider_id)
            .order_by(EnquiryNote.created_at, EnquiryNote.id)
        )
    )
