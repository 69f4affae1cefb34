"""payment_run.bpmn and year_end_recoup.bpmn: runs paid through the PayPal simulator, their results, and recoups."""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from care.models.messaging import Notification
from care.models.packages import CarePackage, Visit
from care.models.payments import Payment, PaymentLine, PaymentRun, Recoup

from package_helpers import at, confirmed_package, daily, log_visits, message

JULY = (date(2027, 7, 5), date(2027, 8, 1))
AUGUST = (date(2027, 8, 2), date(2027, 8, 29))


def run_payments(journey, period, *, polls=1):
    """Request a payment run for ``period``, then let the hourly polling timer fire ``polls`` times; return the instance id."""
    journey.clock.set(at((period[1] + timedelta(days=1)).isoformat(), 6))
    payload = {"period_start": period[0].isoformat(), "period_end": period[1].isoformat()}
    (instance_id,) = journey.engine.send_message("payment_run_requested", payload, business_key=f"payments-{period[1].isoformat()}")
    journey.run_jobs()
    for _ in range(polls):
        journey.clock.advance(timedelta(hours=1, minutes=1))
        journey.fire_timers()
        journey.run_jobs()
    return instance_id


def payments_of(journey, run_id) -> dict[int, Payment]:
    with journey.session_factory() as session:
        payments = session.scalars(sa.select(Payment).where(Payment.run_id == run_id)).all()
        session.expunge_all()
        return {payment.provider_id: payment for payment in payments}


def lines_of(journey, payment_id) -> list[tuple]:
    with journey.session_factory() as session:
        lines = session.scalars(sa.select(PaymentLine).where(PaymentLine.payment_id == payment_id).order_by(PaymentLine.unit_price))
        return [(line.hours_delivered, line.unit_price, line.amount) for line in lines]


def run_id_of(journey, instance_id) -> int:
    return journey.engine.instance_data(instance_id)["payment_run_id"]


def test_payment_run_pays_two_providers(journey, people, actors, make_provider, simulators):
    first = make_provider("Brightwater Home Care Ltd", 1)
    second = make_provider("Meadowlark Care Services Limited", 2)
    first_package, _ = confirmed_package(journey, people, actors, first)
    second_package, _ = confirmed_package(journey, people, actors, second, unit_price="22.50", hours="7")
    log_visits(journey, first_package, daily(*JULY))
    log_visits(journey, second_package, daily(*JULY), hours="1")

    instance_id = run_payments(journey, JULY)

    run_id = run_id_of(journey, instance_id)
    assert journey.status(instance_id) == "completed"
    assert journey.get(PaymentRun, run_id).status == "paid"
    payments = payments_of(journey, run_id)
    assert payments[first[0]].amount == Decimal("1120.00")
    assert payments[second[0]].amount == Decimal("630.00")
    assert {payment.status for payment in payments.values()} == {"paid"}
    ledger = simulators.state.paypal.ledger_for(f"careplace-run-{run_id}")
    assert sorted(entry["amount"] for entry in ledger) == ["1120.00", "630.00"]
    remittances = journey.emails("remittance")
    assert sorted(email.recipient for email in remittances) == ["office1@provider.example", "office2@provider.example"]
    assert any("£1,120.00" in email.subject for email in remittances)


def test_payment_run_crash_retry_pays_once(journey, people, actors, make_provider, simulators):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, _ = confirmed_package(journey, people, actors, provider)
    log_visits(journey, package_id, daily(*JULY))
    real = journey.registry.get("paypal.create_payout")
    crashes = []

    def crash_after_paying(inputs, context):
        result = real.handler(inputs, context)
        if not crashes:
            crashes.append(context.task_id)
            raise ConnectionResetError("worker lost its connection after PayPal accepted the batch")
        return result

    journey.registry._topics["paypal.create_payout"] = dataclasses.replace(real, handler=crash_after_paying)

    instance_id = run_payments(journey, JULY, polls=0)
    journey.clock.advance(timedelta(minutes=6))
    journey.run_jobs()
    journey.clock.advance(timedelta(hours=1, minutes=1))
    journey.fire_timers()
    journey.run_jobs()

    run_id = run_id_of(journey, instance_id)
    assert len(crashes) == 1
    assert len(simulators.state.paypal.request_ids) == 2
    assert len(simulators.state.paypal.ledger_for(f"careplace-run-{run_id}")) == 1
    assert journey.get(PaymentRun, run_id).status == "paid"
    assert len(journey.emails("remittance")) == 1


def test_payment_run_unclaimed_emails_provider(journey, people, actors, make_provider, simulators):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, _ = confirmed_package(journey, people, actors, provider)
    log_visits(journey, package_id, daily(*JULY))
    simulators.state.paypal.set_outcome("payments1@provider.example", "UNCLAIMED")

    instance_id = run_payments(journey, JULY)

    payment = payments_of(journey, run_id_of(journey, instance_id))[provider[0]]
    assert payment.transaction_status == "UNCLAIMED"
    assert payment.status == "submitted"
    assert [email.recipient for email in journey.emails("payout_unclaimed")] == ["office1@provider.example"]
    assert journey.emails("remittance") == []
    assert journey.status(instance_id) == "completed"


def test_payment_run_failed_opens_review(journey, people, actors, make_provider, simulators):
    first = make_provider("Brightwater Home Care Ltd", 1)
    second = make_provider("Meadowlark Care Services Limited", 2)
    first_package, _ = confirmed_package(journey, people, actors, first)
    second_package, _ = confirmed_package(journey, people, actors, second)
    log_visits(journey, first_package, daily(*JULY))
    log_visits(journey, second_package, daily(*JULY))
    simulators.state.paypal.set_outcome("payments2@provider.example", "FAILED")

    instance_id = run_payments(journey, JULY)

    run_id = run_id_of(journey, instance_id)
    payments = payments_of(journey, run_id)
    assert payments[first[0]].status == "paid"
    assert payments[second[0]].status == "failed"
    assert journey.get(PaymentRun, run_id).status == "partially_failed"
    assert journey.candidate_groups("review_failed_payments") == {"provider_services"}
    assert "Meadowlark Care Services Limited: £1,120.00, PayPal FAILED" in journey.engine.instance_data(instance_id)["failed_summary"]
    assert [email.recipient for email in journey.emails("remittance")] == ["office1@provider.example"]
    journey.complete("review_failed_payments", {"failed_review_note": "Provider is fixing its PayPal account"}, actors.staff, instance_id)
    assert journey.status(instance_id) == "completed"


def test_payment_run_change_request_from_effective_date(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, instance_id = confirmed_package(journey, people, actors, provider)
    message(journey, "package_change_requested", package_id, {"requested_hours_per_week": "21", "change_reason": "Needs help at teatime too"})
    journey.complete("review_change", {"change_decision": "approve", "effective_from": "2027-07-19"}, actors.care_manager(people["care_manager"]), instance_id)
    log_visits(journey, package_id, daily(*JULY), hours="3")

    run_instance = run_payments(journey, JULY)

    payment = payments_of(journey, run_id_of(journey, run_instance))[provider[0]]
    # Two weeks at 14 hours a week, then two weeks at 21: 28 + 42 hours at £20.
    assert lines_of(journey, payment.id) == [(Decimal("70.00"), Decimal("20.00"), Decimal("1400.00"))]
    assert payment.amount == Decimal("1400.00")
    with journey.session_factory() as session:
        flagged = session.scalars(sa.select(Visit.visit_on).where(Visit.package_id == package_id, Visit.payment_flag == "exceeds_commissioned_hours")).all()
    # Each 14-hour week pays Monday to Thursday in full and two of Friday's three hours.
    assert min(flagged) == date(2027, 7, 9)
    assert max(flagged) == date(2027, 7, 18)


def test_payment_run_hospital_stay_unpaid(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, _ = confirmed_package(journey, people, actors, provider)
    message(journey, "package_suspended", package_id, {"suspension_reason": "hospital", "suspended_from": "2027-07-26"})
    log_visits(journey, package_id, daily(date(2027, 7, 5), date(2027, 7, 25)))

    july_run = run_payments(journey, JULY)

    assert payments_of(journey, run_id_of(journey, july_run))[provider[0]].amount == Decimal("840.00")
    message(journey, "package_resumed", package_id, {"resumed_from": "2027-08-09"})
    log_visits(journey, package_id, daily(date(2027, 8, 9), AUGUST[1]))
    august_run = run_payments(journey, AUGUST)

    assert journey.get(CarePackage, package_id).status == "active"
    assert payments_of(journey, run_id_of(journey, august_run))[provider[0]].amount == Decimal("840.00")
    assert len(journey.emails("package_suspended")) == 1
    assert len(journey.emails("package_resumed")) == 1


def test_payment_year_end_recoup_offsets_next(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, _ = confirmed_package(journey, people, actors, provider)
    log_visits(journey, package_id, daily(*JULY))
    run_payments(journey, JULY)
    # The hospital stay of the last July week is reported after the run paid for it.
    message(journey, "package_suspended", package_id, {"suspension_reason": "hospital", "suspended_from": "2027-07-26"})
    message(journey, "package_resumed", package_id, {"resumed_from": "2027-08-02"})

    journey.clock.set(at("2028-04-01", 6))
    (review_instance,) = journey.engine.send_message("year_end_review_requested", {"financial_year": "2027-28"}, business_key="year-end-2027-28")
    journey.run_jobs()

    with journey.session_factory() as session:
        recoup = session.scalars(sa.select(Recoup).where(Recoup.provider_id == provider[0])).one()
        assert recoup.amount == Decimal("280.00")
        assert recoup.status == "open"
        titles = session.scalars(sa.select(Notification.title).where(Notification.recipient_provider_id == provider[0])).all()
    assert "Overpayment of £280.00 to be recouped" in titles
    assert journey.status(review_instance) == "completed"

    log_visits(journey, package_id, daily(date(2028, 4, 3), date(2028, 4, 30)))
    next_run = run_payments(journey, (date(2028, 4, 3), date(2028, 4, 30)))
    payment = payments_of(journey, run_id_of(journey, next_run))[provider[0]]
    assert payment.gross_amount == Decimal("1120.00")
    assert payment.recouped_amount == Decimal("280.00")
    assert payment.amount == Decimal("840.00")
    assert journey.get(Recoup, recoup.id).status == "offset"
