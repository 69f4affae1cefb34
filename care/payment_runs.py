"""Payment runs in the database: compute a run's payments with recoup offsets, submit it and record PayPal's results."""

import logging
from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from care.errors import InvalidValueError, NotFoundError
from care.models.packages import Visit
from care.models.payments import Payment, PaymentLine, PaymentRun, PaymentRunStatus, PaymentStatus, Recoup, RecoupStatus
from care.models.providers import Provider
from care.payments import ZERO, PackageStatement, compute_package_statement, financial_year_of, load_package_facts, plan_offsets
from care.transitions import PAYMENT_RUN, check_transition
from engine import clock

log = logging.getLogger(__name__)

# PayPal transaction statuses that end an item: SUCCESS pays it, the others leave it unpaid.
PAYPAL_SUCCESS = "SUCCESS"
PAYPAL_FAILURES = frozenset({"FAILED", "RETURNED", "BLOCKED", "REFUNDED", "REVERSED", "DENIED"})

# Payments whose gross amount reached the provider, as money or as recoup offsets.
PAID_STATUSES = (PaymentStatus.SUBMITTED.value, PaymentStatus.PAID.value, PaymentStatus.NOTHING_DUE.value)


def create_payment_run(session: Session, period_start: date, period_end: date, *, created_by_id: int | None = None) -> PaymentRun:
    """Create a draft run that pays every provider for the care delivered in the period, after recoup offsets.

    The period must lie inside one financial year and overlap no other run. Visits in the period
    that earned nothing, or less than their hours, get a ``payment_flag``, and the others lose any
    flag an earlier draft set. Providers that earned nothing get no payment row.
    """
    _validate_period(session, period_start, period_end)

    run = PaymentRun(period_start=period_start, period_end=period_end, status=PaymentRunStatus.DRAFT, created_by_id=created_by_id)
    session.add(run)

    facts = load_package_facts(session, period_start, period_end)
    statements_by_provider: dict[int, list[PackageStatement]] = defaultdict(list)
    for package_facts in facts.values():
        statement = compute_package_statement(package_facts, period_start, period_end)
        statements_by_provider[statement.provider_id].append(statement)
        _flag_visits(session, statement, period_start, period_end)

    for provider_id, statements in sorted(statements_by_provider.items()):
        gross = sum((statement.amount for statement in statements), ZERO)
        if gross == 0:
            continue

        provider = session.get(Provider, provider_id)
        payment = Payment(
            provider_id=provider_id, gross_amount=gross, recouped_amount=ZERO, amount=gross, payee_email=provider.paypal_email
        )
        for statement in statements:
            for line in statement.lines:
                payment.lines.append(
                    PaymentLine(
                        package_id=statement.package_id,
                        hours_delivered=line.hours,
                        unit_price=line.unit_price,
                        amount=line.amount,
                    )
                )
        run.payments.append(payment)
        session.flush()
        _offset_recoups(session, payment)

    session.flush()
    log.info("payment run %s created for %s to %s with %d payments", run.id, period_start, period_end, len(run.payments))

    return run


def _validate_period(session: Session, period_start: date, period_end: date) -> None:
    if period_end < period_start:
        raise InvalidValueError("period_end", period_end, f"must not be before period_start {period_start}")

    if financial_year_of(period_start) != financial_year_of(period_end):
        raise InvalidValueError(
            "period_end",
            period_end,
            f"the period crosses 31 March: end it on 31 March {period_end.year} and start another run on 1 April",
        )

    # NOTE: two sessions that create overlapping runs at the same moment both pass this check,
    # so run creation must be serialised by its caller (one scheduler job at a time).
    overlapping = session.scalar(
        sa.select(PaymentRun.id).where(PaymentRun.period_start <= period_end, PaymentRun.period_end >= period_start).limit(1)
    )
    if overlapping is not None:
        raise InvalidValueError(
            "period_start", period_start, f"the period overlaps payment run {overlapping}: choose days that run does not cover"
        )


def _flag_visits(session: Session, statement: PackageStatement, period_start: date, period_end: date) -> None:
    session.execute(
        sa.update(Visit)
        .where(Visit.package_id == statement.package_id, Visit.visit_on >= period_start, Visit.visit_on <= period_end)
        .values(payment_flag=None)
    )
    for flagged in statement.flagged:
        if flagged.visit_id is not None:
            session.execute(sa.update(Visit).where(Visit.id == flagged.visit_id).values(payment_flag=flagged.flag.value))


def _offset_recoups(session: Session, payment: Payment) -> None:
    """Offset the provider's open recoups, oldest first, and carry forward what the payment cannot cover."""
    recoups = session.scalars(
        sa.select(Recoup)
        .where(Recoup.provider_id == payment.provider_id, Recoup.status == RecoupStatus.OPEN)
        .order_by(Recoup.created_at, Recoup.id)
        .with_for_update()
    ).all()
    offsets = plan_offsets(payment.gross_amount, [recoup.amount for recoup in recoups])

    for recoup, offset in zip(recoups, offsets, strict=True):
        if offset == 0:
            break

        if offset < recoup.amount:
            carried = Recoup(
                provider_id=recoup.provider_id,
                package_id=recoup.package_id,
                financial_year=recoup.financial_year,
                amount=recoup.amount - offset,
                reason=recoup.reason,
                status=RecoupStatus.OPEN,
                carried_from_id=recoup.id,
            )
            session.add(carried)
            recoup.amount = offset
            log.info("recoup %s partly offset in payment %s, with the rest carried forward", recoup.id, payment.id)

        recoup.status = RecoupStatus.OFFSET
        recoup.offset_in_payment_id = payment.id

    recouped = sum(offsets, ZERO)
    payment.recouped_amount = recouped
    payment.amount = payment.gross_amount - recouped
    if payment.amount == 0:
        payment.status = PaymentStatus.NOTHING_DUE


def discard_draft_run(session: Session, run_id: int) -> None:
    """Delete a draft run and reopen the recoups it offset, merging back the parts it carried forward."""
    run = _get_run(session, run_id)
    if run.status != PaymentRunStatus.DRAFT:
        raise InvalidValueError("run_id", run_id, f"run is {run.status!r}, but only a draft run can be discarded")

    payment_ids = [payment.id for payment in run.payments]
    offset = session.scalars(sa.select(Recoup).where(Recoup.offset_in_payment_id.in_(payment_ids))).all() if payment_ids else []
    for recoup in offset:
        carried = session.scalars(
            sa.select(Recoup).where(Recoup.carried_from_id == recoup.id, Recoup.status == RecoupStatus.OPEN)
        ).all()
        for part in carried:
            recoup.amount += part.amount
            session.delete(part)
        recoup.status = RecoupStatus.OPEN
        recoup.offset_in_payment_id = None

    session.flush()
    session.delete(run)
    session.flush()
    log.info("draft payment run %s discarded and %d recoups reopened", run_id, len(offset))


def mark_run_submitted(session: Session, run_id: int, *, paypal_batch_id: str | None) -> PaymentRun:
    """Record that PayPal accepted the run's batch, and mark its pending payments submitted.

    ``paypal_batch_id`` is None when recoups took every payment, so nothing went to PayPal, and
    such a run is paid at once.
    """
    run = _get_run(session, run_id)
    check_transition(PAYMENT_RUN, "payment run", run.id, run.status, PaymentRunStatus.SUBMITTED)
    if paypal_batch_id is None and any(payment.status == PaymentStatus.PENDING for payment in run.payments):
        raise InvalidValueError(
            "paypal_batch_id", None, f"run {run.id} has payments to send, so pass the batch id PayPal returned"
        )

    run.status = PaymentRunStatus.SUBMITTED
    run.paypal_batch_id = paypal_batch_id
    run.submitted_at = clock.now()
    for payment in run.payments:
        if payment.status == PaymentStatus.PENDING:
            payment.status = PaymentStatus.SUBMITTED

    _settle_run(run)
    session.flush()
    log.info("payment run %s submitted as PayPal batch %s", run.id, paypal_batch_id)

    return run


def record_payment_result(session: Session, payment_id: int, *, paypal_item_id: str, transaction_status: str) -> Payment:
    """Store PayPal's item result on a payment, then settle the run when no item is still in progress."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFoundError("payment", payment_id)

    payment.paypal_item_id = paypal_item_id
    payment.transaction_status = transaction_status
    if transaction_status == PAYPAL_SUCCESS:
        payment.status = PaymentStatus.PAID
    elif transaction_status in PAYPAL_FAILURES:
        payment.status = PaymentStatus.FAILED
        log.warning("payment %s of run %s failed at PayPal with %s", payment.id, payment.run_id, transaction_status)

    _settle_run(payment.run)
    session.flush()

    return payment


def _settle_run(run: PaymentRun) -> None:
    statuses = {payment.status for payment in run.payments}
    if run.status == PaymentRunStatus.DRAFT or PaymentStatus.SUBMITTED in statuses or PaymentStatus.PENDING in statuses:
        return

    target = PaymentRunStatus.PARTIALLY_FAILED if PaymentStatus.FAILED in statuses else PaymentRunStatus.PAID
    if target != run.status:
        check_transition(PAYMENT_RUN, "payment run", run.id, run.status, target)
        run.status = target


def _get_run(session: Session, run_id: int) -> PaymentRun:
    run = session.get(PaymentRun, run_id)
    if run is None:
        raise NotFoundError("payment run", run_id)

    return run
