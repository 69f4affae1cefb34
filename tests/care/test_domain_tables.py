"""Tests of the domain tables themselves: constraints, exact decimals, aware datetimes and personal columns."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from care.models.base import personal_fields
from care.models.enquiries import EnquiryRecipient
from care.models.packages import Visit
from care.models.payments import Payment, PaymentRun
from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider


def test_recipient_unique_per_enquiry_and_provider(session, build):
    provider = build.provider()
    enquiry = build.enquiry([provider])
    session.commit()

    session.add(EnquiryRecipient(enquiry_id=enquiry.id, provider_id=provider.id))
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()


def test_user_provider_only_for_provider_users(session, build):
    provider = build.provider()
    session.commit()

    session.add(
        User(email="manager@council.example", display_name="Ada Example", role=Role.CARE_MANAGER, provider_id=provider.id)
    )
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()
    session.rollback()

    session.add(User(email="agency@provider.example", display_name="Ada Example", role=Role.PROVIDER_USER))
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()


def test_user_role_outside_list_rejected(session, build):
    session.add(User(email="someone@council.example", display_name="Ada Example", role="superuser"))

    with pytest.raises(sa.exc.IntegrityError):
        session.commit()


def test_recipient_accepted_without_price_rejected(session, build):
    provider = build.provider()
    enquiry = build.enquiry([provider])
    recipient = enquiry.recipients[0]
    recipient.response = "accepted"
    recipient.responded_at = datetime(2027, 6, 7, 10, 0, tzinfo=timezone.utc)

    with pytest.raises(sa.exc.IntegrityError):
        session.commit()


@pytest.mark.parametrize(
    "value",
    [Decimal("0.01"), Decimal("19.99"), Decimal("12345678.91"), Decimal("99999999.99")],
)
def test_decimal_unit_price_round_trips_exactly(session_factory, build, session, value):
    provider = build.provider(rate=value)
    session.commit()

    with session_factory() as fresh:
        stored = fresh.get(Provider, provider.id).standard_hourly_rate

    assert stored == value
    assert str(stored) == str(value)


def test_decimal_amounts_and_hours_round_trip_exactly(session_factory, build, session):
    run = PaymentRun(period_start=date(2027, 6, 1), period_end=date(2027, 6, 30))
    provider = build.provider()
    run.payments.append(
        Payment(
            provider_id=provider.id,
            gross_amount=Decimal("9999999999.99"),
            recouped_amount=Decimal("0.10"),
            amount=Decimal("9999999999.89"),
        )
    )
    package = build.package(provider, hours=Decimal("37.33"), price=Decimal("0.07"))
    session.add_all([run, Visit(package_id=package.id, visit_on=date(2027, 6, 7), duration_hours=Decimal("0.33"))])
    session.commit()

    with session_factory() as fresh:
        payment = fresh.scalars(sa.select(Payment)).one()
        visit = fresh.scalars(sa.select(Visit)).one()
        total = fresh.scalar(sa.select(sa.func.sum(Payment.gross_amount - Payment.recouped_amount)))

    assert (payment.gross_amount, payment.recouped_amount, payment.amount) == (
        Decimal("9999999999.99"),
        Decimal("0.10"),
        Decimal("9999999999.89"),
    )
    assert visit.duration_hours == Decimal("0.33")
    assert isinstance(payment.amount, Decimal)
    assert Decimal(total).quantize(Decimal("0.01")) == Decimal("9999999999.89")


def test_datetimes_read_back_aware_in_utc(session_factory, build, session):
    london_evening = datetime(2027, 6, 7, 17, 0, tzinfo=ZoneInfo("Europe/London"))
    user = build.user()
    user.last_login_at = london_evening
    session.commit()

    with session_factory() as fresh:
        stored = fresh.get(User, user.id).last_login_at

    assert stored.tzinfo == timezone.utc
    assert stored == london_evening
    assert stored.hour == 16


def test_naive_datetime_rejected(session, build):
    user = build.user()
    user.last_login_at = datetime(2027, 6, 7, 17, 0)

    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        session.flush()


def test_timestamps_follow_engine_clock(session, build, clock):
    user = build.user()
    created = user.created_at
    clock.advance(timedelta(hours=2))

    user.display_name = "Ada Example Renamed"
    session.flush()

    assert created == clock() - timedelta(hours=2)
    assert user.updated_at == clock()


def test_personal_fields_of_service_user():
    assert personal_fields(ServiceUser) == ["display_name", "full_postcode", "address", "date_of_birth"]
    assert personal_fields(Provider) == []
