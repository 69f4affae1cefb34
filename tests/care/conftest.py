"""Fixtures for the domain tests: a session on the migrated database, a movable clock and record builders."""

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from care.enquiries import create_enquiry, send_enquiry
from care.models.enquiries import Enquiry, Urgency
from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider, ProviderDistrict, ProviderKind, ProviderStatus
from care.packages import start_package
from engine.clock import set_clock


@pytest.fixture
def session(session_factory):
    with session_factory() as session:
        yield session


class MovableClock:
    """A clock for ``engine.clock.set_clock`` that stays still until a test moves it."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def clock():
    movable = MovableClock(datetime(2027, 6, 7, 9, 0, tzinfo=timezone.utc))
    set_clock(movable)
    yield movable
    set_clock(None)


class Builder:
    """Creates valid records with made-up names, so each test states only what it is about."""

    def __init__(self, session):
        self.session = session
        self.numbers = itertools.count(1)

    def provider(self, *, status=ProviderStatus.LIVE, rate=Decimal("21.50"), districts=("LS6",), name=None) -> Provider:
        number = next(self.numbers)
        provider = Provider(
            name=name or f"Example Care {number} Ltd",
            kind=ProviderKind.COMPANY,
            company_number=f"ZZ{number:06d}",
            status=status,
            standard_hourly_rate=rate,
            paypal_email=f"payments{number}@provider.example",
        )
        provider.districts = [ProviderDistrict(postcode_district=district) for district in districts]
        self.session.add(provider)
        self.session.flush()
        return provider

    def user(self, role=Role.CARE_MANAGER, provider: Provider | None = None) -> User:
        number = next(self.numbers)
        user = User(
            email=f"user{number}@council.example",
            display_name=f"Ada Example {number}",
            role=role,
            provider_id=provider.id if provider else None,
        )
        self.session.add(user)
        self.session.flush()
        return user

    def service_user(self, district="LS6") -> ServiceUser:
        number = next(self.numbers)
        person = ServiceUser(
            reference=f"SU-{number:05d}",
            display_name=f"Grace Example {number}",
            postcode_district=district,
            full_postcode=f"{district} 9ZZ",
            address=f"{number} Example Street",
        )
        self.session.add(person)
        self.session.flush()
        return person

    def enquiry(self, providers=(), *, urgency=Urgency.STANDARD, hours=Decimal("10.00"), care_manager=None) -> Enquiry:
        care_manager = care_manager or self.user(Role.CARE_MANAGER)
        enquiry = create_enquiry(
            self.session,
            service_user_id=self.service_user().id,
            raised_by_id=care_manager.id,
            hours_per_week=hours,
            expected_start_on=date(2027, 7, 5),
            urgency=urgency,
        )
        if providers:
            send_enquiry(self.session, enquiry.id, [provider.id for provider in providers])
        return enquiry

    def package(self, provider=None, *, start_on=date(2027, 5, 3), hours=Decimal("14.00"), price=Decimal("20.00")):
        provider = provider or self.provider()
        return start_package(
            self.session,
            provider_id=provider.id,
            service_user_id=self.service_user().id,
            unit_price=price,
            hours_per_week=hours,
            start_on=start_on,
        )


@pytest.fixture
def build(session, clock) -> Builder:
    return Builder(session)
