"""Demo stage 7: payment runs paid through the simulated PayPal, and the year-end recoup offset against the next payment."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from care.journey import provider_contact_email
from care.models.payments import Payment, PaymentRun, Recoup
from care.payment_runs import create_payment_run, mark_run_submitted, record_payment_result
from care.recoups import review_financial_year
from careplace.demo_delivery import ADMITTED_ON
from careplace.demo_enquiry import NAMES
from careplace.demo_onboarding import BRIGHTWATER
from careplace.demo_support import Demo, day_text, london
from engine import clock
from handlers.email import format_long_date, format_money, queue_email
from handlers.paypal import DEFAULT_EMAIL_MESSAGE, DEFAULT_EMAIL_SUBJECT, PENDING_ITEM_STATUSES, TERMINAL_BATCH_STATUSES, request_id_for
from handlers.paypal_client import PayoutItem, PayoutStatus, PayPalClient

RUN_DIAGRAM = "payment_run.bpmn"
RECOUP_DIAGRAM = "year_end_recoup.bpmn"
RUN_NO_DIAGRAM = "payment_run.bpmn is not deployed, so this stage calls the care functions and the PayPal client directly"
RECOUP_NO_DIAGRAM = "year_end_recoup.bpmn is not deployed, so this stage calls the care functions directly"
FINANCIAL_YEAR = "2026-27"
# The simulated PayPal shows a new batch as PENDING on the first read and SUCCESS on the next.
MAX_POLLS = 5


@dataclass(frozen=True)
class ExpectedPayment:
    """The amounts one payment run should pay Brightwater: earned (gross), recouped and sent."""

    gross: Decimal
    recouped: Decimal
    amount: Decimal


def pay_run(demo: Demo, title: str, when: datetime, period_start: date, period_end: date, expected: ExpectedPayment) -> int:
    """Create a payment run, send it to PayPal as one batch, record each item's result and email the remittance."""
    if RUN_DIAGRAM in demo.values["deployed"]:
        return _pay_run_with_diagram(demo, title, when, period_start, period_end, expected)

    demo.begin_stage(title, RUN_NO_DIAGRAM)
    demo.at(when)
    with demo.session_factory.begin() as session:
        run = create_payment_run(session, period_start, period_end, created_by_id=demo.ids["officer"])
        run_id = run.id
        payments = [(payment.id, payment.provider_id, payment.amount, payment.payee_email) for payment in run.payments]
    demo.say("system", f"payment run {run_id} for {day_text(period_start)} to {day_text(period_end)} {period_end.year}: {len(payments)} payment")
    demo.check_equal([provider_id for _id, provider_id, _amount, _email in payments], [demo.ids["brightwater_provider"]], f"providers paid by run {run_id}")

    payment_id = payments[0][0]
    payment = demo.get(Payment, payment_id)
    demo.check_equal((payment.gross_amount, payment.recouped_amount, payment.amount), (expected.gross, expected.recouped, expected.amount), "gross, recouped and paid amounts")

    status = _send_to_paypal(demo, run_id, payments)
    with demo.session_factory.begin() as session:
        for item in status.items:
            record_payment_result(session, int(item.sender_item_id), paypal_item_id=item.payout_item_id, transaction_status=item.transaction_status)
        _queue_remittance(demo, session, run_id, payment_id, expected.amount)
    demo.settle()
    demo.say("PayPal (simulated)", f"batch {status.payout_batch_id} is {status.batch_status}: {format_money(expected.amount)} to {BRIGHTWATER['paypal_email']}")
    _check_paid(demo, run_id, payment_id, expected)
    return payment_id


def _pay_run_with_diagram(demo: Demo, title: str, when: datetime, period_start: date, period_end: date, expected: ExpectedPayment) -> int:
    demo.begin_stage(title, "through payment_run.bpmn")
    demo.at(when)
    payload = {"period_start": period_start.isoformat(), "period_end": period_end.isoformat()}
    instance_ids = demo.engine.send_message("payment_run_requested", payload, actor="demo")
    demo.check_equal(len(instance_ids), 1, "one payment_run instance started")
    demo.settle()
    demo.say("system", f"payment run for {day_text(period_start)} to {day_text(period_end)} {period_end.year} sent to PayPal")

    # The simulated PayPal reports the batch PENDING on the first read, so the diagram waits an hour and reads it again.
    for _ in range(MAX_POLLS):
        if demo.engine.get_instance(instance_ids[0]).status != "running":
            break
        demo.clock.move_to(clock.now() + timedelta(hours=1, minutes=1))
        demo.settle()
    demo.check_status(instance_ids[0], "completed", "payment run")

    run_id = demo.scalar(sa.select(PaymentRun.id).where(PaymentRun.period_start == period_start, PaymentRun.period_end == period_end))
    payment_ids = list(demo.scalars(sa.select(Payment.id).where(Payment.run_id == run_id)))
    demo.check_equal(len(payment_ids), 1, f"payments in run {run_id}")
    payment = demo.get(Payment, payment_ids[0])
    demo.check_equal(payment.provider_id, demo.ids["brightwater_provider"], f"provider paid by run {run_id}")
    demo.check_equal((payment.gross_amount, payment.recouped_amount, payment.amount), (expected.gross, expected.recouped, expected.amount), "gross, recouped and paid amounts")
    demo.say("PayPal (simulated)", f"batch {demo.get(PaymentRun, run_id).paypal_batch_id} paid {format_money(expected.amount)} to {BRIGHTWATER['paypal_email']}")
    _check_paid(demo, run_id, payment.id, expected)
    return payment.id


def _check_paid(demo: Demo, run_id: int, payment_id: int, expected: ExpectedPayment) -> None:
    demo.check_equal(demo.get(PaymentRun, run_id).status, "paid", f"payment run {run_id} status")
    demo.check_equal(demo.get(Payment, payment_id).status, "paid", f"payment {payment_id} status")
    batch_id = demo.get(PaymentRun, run_id).paypal_batch_id
    with demo.simulators.state.lock:
        ledger = [dict(entry) for entry in demo.simulators.state.paypal.ledger if entry["payout_batch_id"] == batch_id]
    demo.check_equal(
        [(entry["receiver"], entry["amount"], entry["currency"]) for entry in ledger],
        [(BRIGHTWATER["paypal_email"], f"{expected.amount:.2f}", "GBP")],
        f"PayPal ledger of batch {batch_id} (payment run {run_id})",
    )
    demo.check_email(BRIGHTWATER["contact_email"], f"Payment of {format_money(expected.amount)} on {format_long_date(clock.now())}")


def _send_to_paypal(demo: Demo, run_id: int, payments) -> PayoutStatus:
    items = [PayoutItem(str(payment_id), email, amount, f"Care Place payment run {run_id}") for payment_id, _provider_id, amount, email in payments if amount > 0]
    client = PayPalClient(demo.services.handler_settings)
    try:
        batch = client.create_payout(
            str(run_id),
            items,
            request_id=request_id_for(f"demo:payment-run:{run_id}"),
            email_subject=DEFAULT_EMAIL_SUBJECT,
            email_message=DEFAULT_EMAIL_MESSAGE,
        )
        with demo.session_factory.begin() as session:
            mark_run_submitted(session, run_id, paypal_batch_id=batch.payout_batch_id)
        demo.say("system", f"sent run {run_id} to PayPal as batch {batch.payout_batch_id} ({len(items)} item)")

        for _ in range(MAX_POLLS):
            status = client.get_payout(batch.payout_batch_id)
            if status.batch_status in TERMINAL_BATCH_STATUSES and not any(item.transaction_status in PENDING_ITEM_STATUSES for item in status.items):
                return status
    finally:
        client.close()

    demo.check(False, f"PayPal batch {batch.payout_batch_id} finished", f"still {status.batch_status} after {MAX_POLLS} reads")
    return status


def _queue_remittance(demo: Demo, session, run_id: int, payment_id: int, amount: Decimal) -> None:
    # This is the remittance payment_run.bpmn sends, written by the demo when that diagram is not deployed.
    queue_email(
        session,
        to=provider_contact_email(session, demo.ids["brightwater_provider"]),
        template="remittance",
        context={"provider_name": NAMES["brightwater"], "amount": str(amount), "payment_date": clock.now().date().isoformat(), "payment_reference": f"RUN-{run_id}"},
        link_path="/provider/notifications",
        idempotency_key=f"demo:remittance:{payment_id}",
        base_url=demo.services.handler_settings.public_base_url,
    )


def year_end_review(demo: Demo, expected_recoup: Decimal) -> None:
    """Review the financial year: the late-reported hospital stay makes the March payment an overpayment."""
    with_diagram = RECOUP_DIAGRAM in demo.values["deployed"]
    demo.begin_stage(f"Stage 7: year-end review {FINANCIAL_YEAR}", "through year_end_recoup.bpmn" if with_diagram else RECOUP_NO_DIAGRAM)
    demo.at(london(2027, 4, 7, 9, 0))
    if with_diagram:
        instance_ids = demo.engine.send_message("year_end_review_requested", {"financial_year": FINANCIAL_YEAR}, actor="demo")
        demo.settle()
        demo.check_equal(len(instance_ids), 1, "one year_end_recoup instance started")
        demo.check_status(instance_ids[0], "completed", "year-end review")
        with demo.session_factory() as session:
            rows = session.scalars(sa.select(Recoup).where(Recoup.financial_year == FINANCIAL_YEAR).order_by(Recoup.id))
            recoups = [(recoup.id, recoup.package_id, recoup.amount, recoup.status) for recoup in rows]
        underpaid = {}
    else:
        with demo.session_factory.begin() as session:
            result = review_financial_year(session, FINANCIAL_YEAR)
            recoups = [(recoup.id, recoup.package_id, recoup.amount, recoup.status) for recoup in result.recoups]
            underpaid = dict(result.underpaid)
    demo.say("system", f"year-end review {FINANCIAL_YEAR}: visits from {day_text(ADMITTED_ON)} were paid while the service user was in hospital")
    demo.check_equal(underpaid, {}, "underpaid packages")
    demo.check_equal([(package_id, amount, status) for _id, package_id, amount, status in recoups], [(demo.ids["package"], expected_recoup, "open")], "recoups created")
    demo.ids["recoup"] = recoups[0][0]
    demo.say("system", f"recoup of {format_money(expected_recoup)} opened against {NAMES['brightwater']}, to offset against its next payment")


def check_recoup_offset(demo: Demo, payment_id: int) -> None:
    recoup = demo.get(Recoup, demo.ids["recoup"])
    demo.check_equal((recoup.status, recoup.offset_in_payment_id), ("offset", payment_id), "recoup offset in the next payment")
    open_count = demo.scalar(sa.select(sa.func.count()).select_from(Recoup).where(Recoup.status == "open"))
    demo.check_equal(open_count, 0, "recoups still open")
    demo.say("system", f"recoup {recoup.id} settled by offset in payment {payment_id}")
