"""The year-end review: overpayments of a financial year become recoups that later payments offset."""

import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from care.models.payments import Payment, PaymentLine, PaymentRun, PaymentRunStatus, Recoup, RecoupStatus
from care.payment_runs import PAID_STATUSES
from care.payments import ZERO, compute_package_statement, financial_year_bounds, load_package_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class YearEndResult:
    """The recoups a year-end review created, and the packages it found underpaid (for a person to review)."""

    financial_year: str
    recoups: list[Recoup]
    underpaid: dict[int, Decimal]


def review_financial_year(session: Session, financial_year: str) -> YearEndResult:
    """Compare what each package was paid in the year's runs with what it earns on today's records.

    Each run is recomputed over its own period with the current visits, suspensions and approved
    changes, so a hospital stay recorded after the run paid for those days shows up here as an
    overpayment. A package paid more than it earns gets an open recoup for the difference, less
    the recoups earlier reviews of the same year created for it, so running the review twice
    creates nothing new. Underpayments are returned, not paid.
    """
    first_day, last_day = financial_year_bounds(financial_year)
    runs = session.scalars(
        sa.select(PaymentRun)
        .where(PaymentRun.status != PaymentRunStatus.DRAFT)
        .where(PaymentRun.period_start >= first_day, PaymentRun.period_end <= last_day)
        .order_by(PaymentRun.period_start)
    ).all()

    difference: dict[int, Decimal] = defaultdict(lambda: ZERO)
    provider_of: dict[int, int] = {}
    for run in runs:
        paid = _gross_paid_by_package(session, run.id)
        facts = load_package_facts(session, run.period_start, run.period_end, package_ids=paid)
        for package_id, paid_amount in paid.items():
            earned = compute_package_statement(facts[package_id], run.period_start, run.period_end).amount
            difference[package_id] += paid_amount - earned
            provider_of[package_id] = facts[package_id].provider_id

    already = _recouped_by_package(session, financial_year)
    created = []
    underpaid = {}
    for package_id, overpaid in sorted(difference.items()):
        if overpaid < 0:
            underpaid[package_id] = -overpaid
            log.warning("package %s was underpaid in %s, so a person should review it", package_id, financial_year)
            continue

        new_amount = overpaid - already.get(package_id, ZERO)
        if new_amount <= 0:
            continue

        recoup = Recoup(
            provider_id=provider_of[package_id],
            package_id=package_id,
            financial_year=financial_year,
            amount=new_amount,
            reason=(
                f"Year-end review {financial_year}: package {package_id} was paid {new_amount} GBP more "
                "than the care delivered earns"
            ),
            status=RecoupStatus.OPEN,
        )
        session.add(recoup)
        created.append(recoup)

    session.flush()
    log.info("year-end review %s: %d runs checked, %d recoups created", financial_year, len(runs), len(created))

    return YearEndResult(financial_year, created, underpaid)


def _gross_paid_by_package(session: Session, run_id: int) -> dict[int, Decimal]:
    rows = session.execute(
        sa.select(PaymentLine.package_id, PaymentLine.amount)
        .join(Payment, Payment.id == PaymentLine.payment_id)
        .where(Payment.run_id == run_id, Payment.status.in_(PAID_STATUSES))
    )
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for package_id, amount in rows:
        totals[package_id] += amount

    return dict(totals)


def _recouped_by_package(session: Session, financial_year: str) -> dict[int, Decimal]:
    # Carried-forward parts keep the package and year, so the sum over all rows is the total ever recouped.
    rows = session.execute(
        sa.select(Recoup.package_id, sa.func.sum(Recoup.amount))
        .where(Recoup.financial_year == financial_year, Recoup.package_id.is_not(None))
        .group_by(Recoup.package_id)
    )

    return {package_id: Decimal(total) for package_id, total in rows}


def open_recoups(session: Session, provider_id: int) -> list[Recoup]:
    """Return the provider's recoups not yet offset, oldest first."""
    return list(
        session.scalars(
            sa.select(Recoup)
            .where(Recoup.provider_id == provider_id, Recoup.status == RecoupStatus.OPEN)
            .order_by(Recoup.created_at, Recoup.id)
        )
    )
