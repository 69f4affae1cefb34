"""Provider rules: status changes with history, the profile, areas covered and the search by postcode district."""

import logging
import re
from collections.abc import Iterable
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from care.errors import InvalidValueError, NotFoundError
from care.models.providers import Provider, ProviderDistrict, ProviderStatus, ProviderStatusChange
from care.transitions import PROVIDER, check_transition
from engine import clock
from engine.clock import LONDON

log = logging.getLogger(__name__)

# The outward code of a UK postcode: an area of one or two letters, then a district such as 6, 14, 1A.
POSTCODE_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def normalise_postcode_district(text: str) -> str:
    """Return ``text`` as an upper-case postcode district such as ``LS6``, or raise InvalidValueError."""
    district = text.strip().upper()
    if not POSTCODE_DISTRICT.match(district):
        raise InvalidValueError("postcode_district", text, "give the first part of a postcode only, such as 'LS6' or 'SW1A'")

    return district


def get_provider(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFoundError("provider", provider_id)

    return provider


def change_provider_status(
    session: Session, provider_id: int, to_status: str, *, changed_by_id: int | None, reason: str | None = None
) -> ProviderStatusChange:
    """Move a provider to ``to_status`` and add the change to its history.

    The first move to live sets ``go_live_on`` to today's date in London.
    """
    provider = get_provider(session, provider_id)
    check_transition(PROVIDER, "provider", provider.id, provider.status, to_status)

    change = ProviderStatusChange(from_status=provider.status, to_status=to_status, reason=reason, changed_by_id=changed_by_id)
    provider.status_history.append(change)
    provider.status = to_status
    if to_status == ProviderStatus.LIVE and provider.go_live_on is None:
        provider.go_live_on = clock.now().astimezone(LONDON).date()

    session.flush()
    log.info("provider %s moved to %s", provider.id, to_status)

    return change


def update_profile(
    session: Session,
    provider_id: int,
    *,
    services_offered: Iterable[str] | None = None,
    districts: Iterable[str] | None = None,
    standard_hourly_rate: Decimal | None = None,
    paypal_email: str | None = None,
) -> Provider:
    """Update the parts of a provider's profile that are given, replacing the districts covered before."""
    provider = get_provider(session, provider_id)

    if services_offered is not None:
        services = [service.strip() for service in services_offered if service.strip()]
        provider.services_offered = sorted(set(services))

    if districts is not None:
        requested = {normalise_postcode_district(district) for district in districts}
        provider.districts = [district for district in provider.districts if district.postcode_district in requested]
        present = {district.postcode_district for district in provider.districts}
        for district in sorted(requested - present):
            provider.districts.append(ProviderDistrict(postcode_district=district))

    if standard_hourly_rate is not None:
        if standard_hourly_rate <= 0:
            raise InvalidValueError("standard_hourly_rate", standard_hourly_rate, "must be more than 0")
        provider.standard_hourly_rate = standard_hourly_rate

    if paypal_email is not None:
        if "@" not in paypal_email:
            raise InvalidValueError("paypal_email", paypal_email, "give the email address of the provider's PayPal account")
        provider.paypal_email = paypal_email.strip()

    session.flush()

    return provider


def live_providers_covering(session: Session, postcode_district: str) -> list[Provider]:
    """Return the live providers that cover ``postcode_district``, by name."""
    district = normalise_postcode_district(postcode_district)

    return list(
        session.scalars(
            sa.select(Provider)
            .join(ProviderDistrict, ProviderDistrict.provider_id == Provider.id)
            .where(ProviderDistrict.postcode_district == district, Provider.status == ProviderStatus.LIVE)
            .order_by(Provider.name, Provider.id)
        )
    )
