"""Domain steps the journey diagrams need beyond the other care modules: provider intake, contacts and closing an enquiry."""

import logging
import re
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from care.enquiries import get_enquiry
from care.errors import InvalidValueError
from care.models.enquiries import EnquiryStatus, Outcome
from care.models.people import Role, User
from care.models.providers import ContactRoute, Provider, ProviderKind, ProviderStatus
from care.providers import change_provider_status, get_provider
from care.transitions import ENQUIRY, check_transition
from engine import clock

log = logging.getLogger(__name__)

# A CQC provider id as the register writes it, in ASCII digits only: Python's \d also matches other scripts' digits.
_CQC_PROVIDER_ID = re.compile(r"[0-9]+-[0-9]+")


def record_contact(session: Session, *, name: str, kind: str, contact_route: str) -> Provider:
    """Create the record of a provider that contacted the council, in status ``contacted``."""
    if kind not in {k.value for k in ProviderKind}:
        raise InvalidValueError("kind", kind, "use company or charity")
    if contact_route not in {route.value for route in ContactRoute}:
        raise InvalidValueError("contact_route", contact_route, f"use one of {', '.join(route.value for route in ContactRoute)}")
    if not name or not name.strip():
        raise InvalidValueError("name", name, "give the organisation's name")

    provider = Provider(name=name.strip(), kind=kind, contact_route=contact_route, status=ProviderStatus.CONTACTED)
    session.add(provider)
    session.flush()
    log.info("provider %s created from a %s contact", provider.id, contact_route)
    return provider


def record_application(
    session: Session,
    provider_id: int,
    *,
    name: str,
    cqc_provider_id: str,
    company_number: str | None,
    charity_number: str | None,
) -> Provider:
    """Store the details of a provider's application and move it to ``applied``.

    A company must give a company number and a charity a charity number,
    because the registration checks need them.
    """
    provider = get_provider(session, provider_id)
    company_number = (company_number or "").strip().upper() or None
    charity_number = (charity_number or "").strip() or None
    if provider.kind == ProviderKind.COMPANY and not company_number:
        raise InvalidValueError("company_number", company_number, "a company gives its Companies House number")
    if provider.kind == ProviderKind.CHARITY and not charity_number:
        raise InvalidValueError("charity_number", charity_number, "a charity gives its registered charity number")

    cqc_provider_id = cqc_provider_id.strip()
    if not _CQC_PROVIDER_ID.fullmatch(cqc_provider_id):
        raise InvalidValueError("cqc_provider_id", cqc_provider_id, "give the id as on the CQC register, digits 0 to 9 with one hyphen, such as 1-000000001")
    _reject_held_cqc_id(session, provider, cqc_provider_id)

    try:
        # In a savepoint (begun before the change, because beginning one flushes), so that an application committed
        # since the check above leaves the session usable for the message.
        with session.begin_nested():
            provider.name = name.strip()
            provider.cqc_provider_id = cqc_provider_id
            session.flush()
    except sa.exc.IntegrityError as error:
        if "cqc_provider_id" not in str(error.orig):
            raise
        # Rolling back the savepoint expired the rejected id, so this look-up does not flush it again.
        _reject_held_cqc_id(session, provider, cqc_provider_id)
        raise
    provider.company_number = company_number
    provider.charity_number = charity_number
    change_provider_status(session, provider.id, ProviderStatus.APPLIED, changed_by_id=None, reason="application received")
    return provider


def _reject_held_cqc_id(session: Session, provider: Provider, cqc_provider_id: str) -> None:
    holder = session.scalars(sa.select(Provider).where(Provider.cqc_provider_id == cqc_provider_id, Provider.id != provider.id)).first()
    if holder is not None:
        raise InvalidValueError(
            "cqc_provider_id", cqc_provider_id, f"provider {holder.id} ({holder.name}) already has this CQC provider id; check the id on the CQC register"
        )


def record_check_failure(session: Session, provider_id: int, *, check: str, error_code: str | None) -> Provider:
    """Move a registered provider to ``checks_failed``; a provider already there stays, so two failed checks need no order."""
    provider = get_provider(session, provider_id)
    if provider.status != ProviderStatus.CHECKS_FAILED:
        change_provider_status(session, provider.id, ProviderStatus.CHECKS_FAILED, changed_by_id=None, reason=f"{check} check failed: {error_code or 'unknown'}")
    return provider


def override_check(session: Session, provider_id: int, *, reason: str) -> Provider:
    """Return a provider whose check failed to ``registered``, because a person overrode the failure for ``reason``."""
    if not reason or not reason.strip():
        raise InvalidValueError("reason", reason, "say why the failed check is overridden")

    provider = get_provider(session, provider_id)
    if provider.status == ProviderStatus.CHECKS_FAILED:
        change_provider_status(session, provider.id, ProviderStatus.REGISTERED, changed_by_id=None, reason=f"override: {reason.strip()}")
    else:
        # NOTE: the other check's override already returned the provider to registered; the status history keeps one override reason.
        log.info("provider %s: override of a second failed check while %s", provider.id, provider.status)
    return provider


def go_live(session: Session, provider_id: int, *, workshop_on: date | None) -> Provider:
    """Set a registered provider live, noting the workshop it attended."""
    provider = get_provider(session, provider_id)
    if workshop_on is not None:
        provider.workshop_attended_on = workshop_on
    change_provider_status(session, provider.id, ProviderStatus.LIVE, changed_by_id=None, reason="approved at final review")
    return provider


def provider_contact_email(session: Session, provider_id: int) -> str:
    """Return the address for a provider's emails: its first active user's, else its PayPal address."""
    user_email = session.scalar(
        sa.select(User.email)
        .where(User.provider_id == provider_id, User.role == Role.PROVIDER_USER, User.is_active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    if user_email:
        return user_email

    provider = get_provider(session, provider_id)
    if provider.paypal_email:
        return provider.paypal_email
    raise InvalidValueError("provider_id", provider_id, "the provider has no active user and no PayPal address to email; add a user")


def close_unfilled_enquiry(session: Session, enquiry_id: int) -> list[int]:
    """Close an enquiry without selecting anyone, mark every recipient not selected and return their provider ids."""
    enquiry = get_enquiry(session, enquiry_id)
    check_transition(ENQUIRY, "enquiry", enquiry.id, enquiry.status, EnquiryStatus.CLOSED)
    now = clock.now()
    for recipient in enquiry.recipients:
        recipient.outcome = Outcome.NOT_SELECTED
        recipient.outcome_at = now
    enquiry.status = EnquiryStatus.CLOSED
    session.flush()
    log.info("enquiry %s closed with no provider selected", enquiry.id)
    return [recipient.provider_id for recipient in enquiry.recipients]
