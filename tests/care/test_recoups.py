"""Tests of the year-end review and of recoups offset against later payments."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from care.errors import InvalidValueError
from care.models.packages import StatusReason
from care.models.payments import Payment, PaymentRun, PaymentStatus, Recoup, RecoupStatus
from care.packages import end_package, log_visit, resume_package, suspend_package
from care.payment_runs import create_payment_run, discard_draft_run, mark_run_submitted, record_payment_result
from care.recoups import open_recoups, review_financial_year


def log_daily_visits(session, package, first: date, last: date, hours="2.00"):
    day = first
    while day <= last:
        log_visit(session, package.id, visit_on=day, duration_hours=Decimal(hours), recorded_by_id=None)
        day += timedelta(days=1)


def pay_run(session, period_start: date, period_end: date) -> PaymentRun:
    run = create_payment_run(session, period_start, period_end)
    mark_run_submitted(session, run.id, paypal_batch_id=f"BATCH-{run.id}")
    for payment in run.payments:
        if payment.status == PaymentStatus.SUBMITTED:
            record_payment_result(session, payment.id, paypal_item_id=f"ITEM-{payment.id}", transaction_status="SUCCESS")
    session.commit()
    return run


@pytest.fixture
def overpaid_package(session, build):
    """A package paid for all of March 2027, then found to have been suspended for a hospital stay from 15 to 21 March."""
    package = build.package(start_on=date(2027, 1, 4))
    staff = build.user()
    log_daily_visits(session, package, date(2027, 3, 1), date(2027, 4, 30))
    pay_run(session, date(2027, 3, 1), date(2027, 3, 31))

    suspend_package(session, package.id, reason=StatusReason.HOSPITAL, effective_on=date(2027, 3, 15), changed_by_id=staff.id)
    resume_package(session, package.id, effective_on=date(2027, 3, 22), changed_by_id=staff.id)
    session.commit()
    return package


def test_review_financial_year_recoups_hospital_stay(session, overpaid_package):
    result = review_financial_year(session, "2026-27")
    session.commit()

    assert len(result.recoups) == 1
    recoup = result.recoups[0]
    assert recoup.amount == Decimal("280.00")
    assert recoup.package_id == overpaid_package.id
    assert recoup.provider_id == overpaid_package.provider_id
    assert recoup.status == RecoupStatus.OPEN
    assert recoup.financial_year == "2026-27"
    assert result.underpaid == {}


def test_review_financial_year_twice_creates_nothing_new(session, overpaid_package):
    review_financial_year(session, "2026-27")

    second = review_financial_year(session, "2026-27")

    assert second.recoups == []
    assert session.scalar(sa.select(sa.func.count()).select_from(Recoup)) == 1


def test_review_financial_year_ignores_draft_and_other_years(session, overpaid_package):
    create_payment_run(session, date(2027, 4, 1), date(2027, 4, 4))

    assert review_financial_year(session, "2027-28").recoups == []


def test_review_financial_year_package_ended_early(session, build):
    package = build.package(start_on=date(2027, 1, 4))
    log_daily_visits(session, package, date(2027, 3, 1), date(2027, 3, 7))
    pay_run(session, date(2027, 3, 1), date(2027, 3, 7))
    end_package(session, package.id, reason=StatusReason.DEATH, last_day=date(2027, 3, 4), changed_by_id=None)

    result = review_financial_year(session, "2026-27")

    assert [recoup.amount for recoup in result.recoups] == [Decimal("120.00")]


def test_recoup_offset_against_next_payment(session, overpaid_package):
    review_financial_year(session, "2026-27")

    run = create_payment_run(session, date(2027, 4, 1), date(2027, 4, 11))
    session.commit()

    payment = run.payments[0]
    # 29 to 31 March use 6 of the week's 14 hours, so 1 to 4 April earn 8 hours and 5 to 11 April 14.
    assert payment.gross_amount == Decimal("440.00")
    assert payment.recouped_amount == Decimal("280.00")
    assert payment.amount == Decimal("160.00")
    assert payment.status == PaymentStatus.PENDING
    recoup = session.scalars(sa.select(Recoup)).one()
    assert recoup.status == RecoupStatus.OFFSET
    assert recoup.offset_in_payment_id == payment.id


def test_recoup_larger_than_payment_carried_forward(session, overpaid_package):
    review_financial_year(session, "2026-27")

    first = create_payment_run(session, date(2027, 4, 1), date(2027, 4, 4))
    session.commit()

    payment = first.payments[0]
    assert payment.gross_amount == Decimal("160.00")
    assert payment.recouped_amount == Decimal("160.00")
    assert payment.amount == Decimal("0.00")
    assert payment.status == PaymentStatus.NOTHING_DUE
    carried = open_recoups(session, overpaid_package.provider_id)
    assert [(recoup.amount, recoup.financial_year) for recoup in carried] == [(Decimal("120.00"), "2026-27")]
    offset = session.scalars(sa.select(Recoup).where(Recoup.status == RecoupStatus.OFFSET)).one()
    assert offset.amount == Decimal("160.00")
    assert carried[0].carried_from_id == offset.id

    mark_run_submitted(session, first.id, paypal_batch_id=None)
    second = create_payment_run(session, date(2027, 4, 5), date(2027, 4, 11))
    session.commit()

    assert second.payments[0].gross_amount == Decimal("280.00")
    assert second.payments[0].recouped_amount == Decimal("120.00")
    assert second.payments[0].amount == Decimal("160.00")
    assert open_recoups(session, overpaid_package.provider_id) == []
    assert session.get(PaymentRun, first.id).status == "paid"


def test_recoup_carried_part_not_recouped_twice(session, overpaid_package):
    review_financial_year(session, "2026-27")
    create_payment_run(session, date(2027, 4, 1), date(2027, 4, 4))

    assert review_financial_year(session, "2026-27").recoups == []


def test_discard_draft_run_reopens_recoups(session, overpaid_package):
    review_financial_year(session, "2026-27")
    run = create_payment_run(session, date(2027, 4, 1), date(2027, 4, 4))
    session.commit()

    discard_draft_run(session, run.id)
    session.commit()

    recoups = session.scalars(sa.select(Recoup)).all()
    assert [(recoup.amount, recoup.status, recoup.offset_in_payment_id) for recoup in recoups] == [
        (Decimal("280.00"), RecoupStatus.OPEN, None)
    ]
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1


def test_review_financial_year_invalid_label_raises(session):
    with pytest.raises(InvalidValueError, match="2026-27"):
        review_financial_year(session, "2026/27")
