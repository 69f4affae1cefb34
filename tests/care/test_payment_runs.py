"""Tests of payment runs in the database: computation, visit flags, period checks, submission and PayPal results."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from care.errors import InvalidTransitionError, InvalidValueError
from care.models.packages import StatusReason, Visit, VisitFlag
from care.models.payments import Payment, PaymentRun, PaymentRunStatus, PaymentStatus
from care.packages import approve_change, log_visit, request_change, resume_package, suspend_package
from care.payment_runs import create_payment_run, discard_draft_run, mark_run_submitted, record_payment_result


def log_daily_visits(session, package, first: date, last: date, hours="2.00", skip=()):
    day = first
    while day <= last:
        if day not in skip:
            log_visit(session, package.id, visit_on=day, duration_hours=Decimal(hours), recorded_by_id=None, carer_initials="AE")
        day += timedelta(days=1)


def test_payment_run_hospital_suspension_flags_visits(session, build):
    package = build.package()
    staff = build.user()
    log_daily_visits(
        session, package, date(2027, 5, 31), date(2027, 6, 30), skip={date(2027, 6, 12) + timedelta(days=n) for n in range(5)}
    )
    suspend_package(session, package.id, reason=StatusReason.HOSPITAL, effective_on=date(2027, 6, 10), changed_by_id=staff.id)
    resume_package(session, package.id, effective_on=date(2027, 6, 17), changed_by_id=staff.id)
    session.commit()

    run = create_payment_run(session, date(2027, 6, 1), date(2027, 6, 30), created_by_id=staff.id)
    session.commit()

    payment = session.scalars(sa.select(Payment).where(Payment.run_id == run.id)).one()
    assert payment.gross_amount == Decimal("920.00")
    assert payment.amount == Decimal("920.00")
    assert payment.status == PaymentStatus.PENDING
    assert payment.payee_email == package.provider.paypal_email
    assert [(line.hours_delivered, line.unit_price) for line in payment.lines] == [(Decimal("46.00"), Decimal("20.00"))]
    flagged = session.execute(
        sa.select(Visit.visit_on, Visit.payment_flag).where(Visit.payment_flag.is_not(None)).order_by(Visit.visit_on)
    ).all()
    assert flagged == [
        (date(2027, 6, 10), VisitFlag.LOGGED_WHILE_SUSPENDED),
        (date(2027, 6, 11), VisitFlag.LOGGED_WHILE_SUSPENDED),
    ]


def test_payment_run_change_request_raises_hours_mid_period(session, build):
    package = build.package(hours=Decimal("10.00"))
    care_manager = build.user()
    log_daily_visits(session, package, date(2027, 5, 31), date(2027, 6, 30))
    request = request_change(
        session, package.id, reason="Needs a second morning call", requested_by_id=None, hours_per_week=Decimal("14.00")
    )
    approve_change(session, request.id, reviewed_by_id=care_manager.id, effective_from=date(2027, 6, 14))

    run = create_payment_run(session, date(2027, 6, 1), date(2027, 6, 30))

    assert run.payments[0].gross_amount == Decimal("1040.00")
    assert run.payments[0].lines[0].hours_delivered == Decimal("52.00")
    over = session.scalar(
        sa.select(sa.func.count()).select_from(Visit).where(Visit.payment_flag == VisitFlag.EXCEEDS_COMMISSIONED_HOURS)
    )
    assert over == 4


def test_payment_run_groups_packages_by_provider(session, build):
    provider = build.provider()
    first = build.package(provider, price=Decimal("20.00"))
    second = build.package(provider, price=Decimal("18.75"))
    other = build.package(price=Decimal("19.99"))
    for package in (first, second, other):
        log_daily_visits(session, package, date(2027, 6, 7), date(2027, 6, 13))

    run = create_payment_run(session, date(2027, 6, 7), date(2027, 6, 13))

    amounts = {payment.provider_id: payment.gross_amount for payment in run.payments}
    assert amounts == {provider.id: Decimal("542.50"), other.provider_id: Decimal("279.86")}
    assert len(next(payment for payment in run.payments if payment.provider_id == provider.id).lines) == 2


def test_payment_run_period_across_year_end_raises(session, build):
    with pytest.raises(InvalidValueError, match="31 March"):
        create_payment_run(session, date(2027, 3, 15), date(2027, 4, 11))


def test_payment_run_overlapping_period_raises(session, build):
    first = create_payment_run(session, date(2027, 6, 1), date(2027, 6, 30))

    with pytest.raises(InvalidValueError, match=f"overlaps payment run {first.id}"):
        create_payment_run(session, date(2027, 6, 28), date(2027, 7, 25))


def test_payment_run_end_before_start_raises(session, build):
    with pytest.raises(InvalidValueError, match="period_end"):
        create_payment_run(session, date(2027, 6, 30), date(2027, 6, 1))


def test_payment_run_submitted_then_paid(session, build):
    package = build.package()
    log_daily_visits(session, package, date(2027, 6, 7), date(2027, 6, 13))
    run = create_payment_run(session, date(2027, 6, 7), date(2027, 6, 13))

    mark_run_submitted(session, run.id, paypal_batch_id="BATCH-1")
    assert run.status == PaymentRunStatus.SUBMITTED
    assert run.payments[0].status == PaymentStatus.SUBMITTED

    record_payment_result(session, run.payments[0].id, paypal_item_id="ITEM-1", transaction_status="SUCCESS")
    session.commit()

    assert session.get(PaymentRun, run.id).status == PaymentRunStatus.PAID
    assert run.payments[0].transaction_status == "SUCCESS"


def test_payment_run_failed_item_makes_run_partially_failed(session, build):
    for _ in range(2):
        package = build.package()
        log_daily_visits(session, package, date(2027, 6, 7), date(2027, 6, 13))
    run = create_payment_run(session, date(2027, 6, 7), date(2027, 6, 13))
    mark_run_submitted(session, run.id, paypal_batch_id="BATCH-2")

    record_payment_result(session, run.payments[0].id, paypal_item_id="ITEM-1", transaction_status="SUCCESS")
    assert run.status == PaymentRunStatus.SUBMITTED

    record_payment_result(session, run.payments[1].id, paypal_item_id="ITEM-2", transaction_status="UNCLAIMED")
    assert run.status == PaymentRunStatus.SUBMITTED

    record_payment_result(session, run.payments[1].id, paypal_item_id="ITEM-2", transaction_status="RETURNED")
    assert run.payments[1].status == PaymentStatus.FAILED
    assert run.status == PaymentRunStatus.PARTIALLY_FAILED


def test_payment_run_submitted_twice_raises(session, build):
    run = create_payment_run(session, date(2027, 6, 7), date(2027, 6, 13))
    mark_run_submitted(session, run.id, paypal_batch_id=None)

    with pytest.raises(InvalidTransitionError, match="'paid' to 'submitted'"):
        mark_run_submitted(session, run.id, paypal_batch_id="BATCH-3")


def test_payment_run_submit_without_batch_id_raises(session, build):
    package = build.package()
    log_daily_visits(session, package, date(2027, 6, 7), date(2027, 6, 13))
    run = create_payment_run(session, date(2027, 6, 7), date(2027, 6, 13))

    with pytest.raises(InvalidValueError, match="paypal_batch_id"):
        mark_run_submitted(session, run.id, paypal_batch_id=None)


def test_payment_run_discard_draft_only(session, build):
    run = create_payment_run(session, date(2027, 6, 7), date(2027, 6, 13))
    mark_run_submitted(session, run.id, paypal_batch_id=None)

    with pytest.raises(InvalidValueError, match="only a draft run"):
        discard_draft_run(session, run.id)
