"""Payment rules: what a package earns in a period, how recoups offset a payment, and financial years.

A package earns the hours of the visits on its communication sheet times the unit price in force
on each visit's day. Three rules limit that:

- Visits on days outside the package's dates, or while it is suspended, earn nothing and are flagged.
- Each Monday-to-Sunday week pays at most the commissioned hours for that week: the sum over its
  days of hours per week / 7, counting only days in force and not suspended, rounded half-up to
  0.01 hours. Visits take that allowance in date order, so the weeks that straddle two periods
  are split the same way by both payment runs. Hours beyond it are flagged.
- Approved change requests change the hours per week and the unit price from their effective date.

Amounts are rounded half-up to pennies once per line (package and unit price).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from care.errors import InvalidValueError
from care.models.packages import CarePackage, ChangeRequestStatus, PackageStatus, Visit, VisitFlag

PENNY = Decimal("0.01")
ZERO = Decimal("0.00")


def round_money(value: Decimal) -> Decimal:
    """Round ``value`` half-up to pennies."""
    return value.quantize(PENNY, rounding=ROUND_HALF_UP)


def round_hours(value: Decimal | Fraction) -> Decimal:
    """Round ``value`` half-up to hundredths of an hour."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)

    return value.quantize(PENNY, rounding=ROUND_HALF_UP)


def financial_year_of(day: date) -> str:
    """Return the label of the financial year (1 April to 31 March) containing ``day``, such as ``"2026-27"``."""
    first_year = day.year if day.month >= 4 else day.year - 1

    return f"{first_year}-{(first_year + 1) % 100:02d}"


def financial_year_bounds(label: str) -> tuple[date, date]:
    """Return the first and last day of the financial year ``label`` (``"2026-27"``)."""
    try:
        first_year = int(label[:4])
    except ValueError:
        first_year = None

    if first_year is None or label != f"{first_year}-{(first_year + 1) % 100:02d}":
        raise InvalidValueError("financial_year", label, "write it as the two years it spans, such as '2026-27'")

    return date(first_year, 4, 1), date(first_year + 1, 3, 31)


@dataclass(frozen=True)
class TermsChange:
    """An approved change of hours or unit price from ``effective_from``, where None keeps the earlier value."""

    effective_from: date
    hours_per_week: Decimal | None
    unit_price: Decimal | None


@dataclass(frozen=True)
class Suspension:
    """Days from ``start_on`` up to, not including, ``resumed_on`` (None while still suspended)."""

    start_on: date
    resumed_on: date | None

    def covers(self, day: date) -> bool:
        return self.start_on <= day and (self.resumed_on is None or day < self.resumed_on)


@dataclass(frozen=True)
class VisitHours:
    visit_id: int | None
    visit_on: date
    hours: Decimal


@dataclass(frozen=True)
class PackageFacts:
    """The data of one package that the payment rules need, loaded once so that the rules run without the database."""

    package_id: int
    provider_id: int
    start_on: date
    end_on: date | None
    hours_per_week: Decimal
    unit_price: Decimal
    changes: tuple[TermsChange, ...] = ()
    suspensions: tuple[Suspension, ...] = ()
    visits: tuple[VisitHours, ...] = ()

    def terms_on(self, day: date) -> tuple[Decimal, Decimal]:
        """Return the hours per week and the unit price in force on ``day``."""
        hours, price = self.hours_per_week, self.unit_price
        for change in sorted(self.changes, key=lambda item: item.effective_from):
            if change.effective_from > day:
                break
            hours = change.hours_per_week if change.hours_per_week is not None else hours
            price = change.unit_price if change.unit_price is not None else price

        return hours, price

    def in_force(self, day: date) -> bool:
        return self.start_on <= day and (self.end_on is None or day <= self.end_on)

    def is_suspended(self, day: date) -> bool:
        return any(suspension.covers(day) for suspension in self.suspensions)


@dataclass(frozen=True)
class StatementLine:
    unit_price: Decimal
    hours: Decimal
    amount: Decimal


@dataclass(frozen=True)
class FlaggedVisit:
    visit_id: int | None
    visit_on: date
    flag: VisitFlag
    unpaid_hours: Decimal


@dataclass(frozen=True)
class PackageStatement:
    """The earnings of one package in one period, and the visits left wholly or partly unpaid."""

    package_id: int
    provider_id: int
    lines: tuple[StatementLine, ...]
    flagged: tuple[FlaggedVisit, ...] = field(default=())

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def compute_package_statement(facts: PackageFacts, period_start: date, period_end: date) -> PackageStatement:
    """Compute what ``facts`` earns for the visits from ``period_start`` to ``period_end``, both days included.

    ``facts.visits`` must include the visits since the Monday of ``period_start``'s week, because
    they use up that week's commissioned hours first.
    """
    if period_end < period_start:
        raise InvalidValueError("period_end", period_end, f"must not be before period_start {period_start}")

    visits_by_week: dict[date, list[VisitHours]] = defaultdict(list)
    for visit in facts.visits:
        visits_by_week[_monday_of(visit.visit_on)].append(visit)

    hours_by_price: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    flagged: list[FlaggedVisit] = []

    week_start = _monday_of(period_start)
    while week_start <= period_end:
        remaining = _commissioned_hours(facts, week_start)
        visits = sorted(visits_by_week.get(week_start, []), key=lambda item: (item.visit_on, item.visit_id or 0))
        for visit in visits:
            if visit.visit_on > period_end:
                break

            in_period = visit.visit_on >= period_start
            if not facts.in_force(visit.visit_on):
                flag, paid = VisitFlag.OUTSIDE_PACKAGE_DATES, ZERO
            elif facts.is_suspended(visit.visit_on):
                flag, paid = VisitFlag.LOGGED_WHILE_SUSPENDED, ZERO
            else:
                paid = min(visit.hours, remaining)
                remaining -= paid
                flag = VisitFlag.EXCEEDS_COMMISSIONED_HOURS if paid < visit.hours else None

            if not in_period:
                continue

            if paid > 0:
                hours_by_price[facts.terms_on(visit.visit_on)[1]] += paid
            if flag is not None:
                flagged.append(FlaggedVisit(visit.visit_id, visit.visit_on, flag, visit.hours - paid))

        week_start += timedelta(days=7)

    lines = tuple(
        StatementLine(unit_price=price, hours=hours, amount=round_money(hours * price))
        for price, hours in sorted(hours_by_price.items())
    )

    return PackageStatement(facts.package_id, facts.provider_id, lines, tuple(flagged))


def _monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _commissioned_hours(facts: PackageFacts, week_start: date) -> Decimal:
    total = Fraction(0)
    for offset in range(7):
        day = week_start + timedelta(days=offset)
        if facts.in_force(day) and not facts.is_suspended(day):
            total += Fraction(facts.terms_on(day)[0]) / 7

    return round_hours(total)


def plan_offsets(gross: Decimal, recoup_amounts: Sequence[Decimal]) -> list[Decimal]:
    """Return how much of each open recoup, oldest first, to offset against a payment of ``gross``.

    The offsets never exceed ``gross``, so the payment is never negative, and what a recoup keeps
    is carried forward to the next payment.
    """
    if gross < 0:
        raise InvalidValueError("gross", gross, "a payment before recoups cannot be negative")

    remaining = gross
    offsets = []
    for amount in recoup_amounts:
        offset = min(amount, remaining)
        offsets.append(offset)
        remaining -= offset

    return offsets


def suspensions_from_history(changes: Iterable[tuple[date, str]]) -> tuple[Suspension, ...]:
    """Build the suspended periods from (effective_on, to_status) pairs in the order they were recorded."""
    suspensions = []
    suspended_from: date | None = None
    for effective_on, to_status in changes:
        if to_status == PackageStatus.SUSPENDED and suspended_from is None:
            suspended_from = effective_on
        elif to_status != PackageStatus.SUSPENDED and suspended_from is not None:
            suspensions.append(Suspension(suspended_from, effective_on))
            suspended_from = None

    if suspended_from is not None:
        suspensions.append(Suspension(suspended_from, None))

    return tuple(suspensions)


def package_facts(package: CarePackage, visits: Iterable[Visit] = ()) -> PackageFacts:
    """Build the facts of ``package`` from its loaded status history and change requests, with ``visits``."""
    changes = tuple(
        TermsChange(request.effective_from, request.requested_hours_per_week, request.requested_unit_price)
        for request in package.change_requests
        if request.status == ChangeRequestStatus.APPROVED and request.effective_from is not None
    )
    suspensions = suspensions_from_history((change.effective_on, change.to_status) for change in package.status_history)
    visit_hours = tuple(VisitHours(visit.id, visit.visit_on, visit.duration_hours) for visit in visits)

    return PackageFacts(
        package_id=package.id,
        provider_id=package.provider_id,
        start_on=package.start_on,
        end_on=package.end_on,
        hours_per_week=package.hours_per_week,
        unit_price=package.unit_price,
        changes=changes,
        suspensions=suspensions,
        visits=visit_hours,
    )


def load_package_facts(
    session: Session, period_start: date, period_end: date, package_ids: Iterable[int] | None = None
) -> dict[int, PackageFacts]:
    """Load the facts of the packages in force on some day of the period, or of ``package_ids`` whatever their dates.

    The result is keyed by package id. Visits are loaded from the Monday of ``period_start``'s
    week, as ``compute_package_statement`` needs.
    """
    query = (
        sa.select(CarePackage)
        .options(selectinload(CarePackage.status_history), selectinload(CarePackage.change_requests))
        .order_by(CarePackage.id)
    )
    if package_ids is None:
        query = query.where(CarePackage.start_on <= period_end)
        query = query.where(sa.or_(CarePackage.end_on.is_(None), CarePackage.end_on >= period_start))
    else:
        query = query.where(CarePackage.id.in_(list(package_ids)))
    packages = session.scalars(query).all()

    visits_by_package: dict[int, list[Visit]] = defaultdict(list)
    if packages:
        visits = session.scalars(
            sa.select(Visit)
            .where(Visit.package_id.in_([package.id for package in packages]))
            .where(Visit.visit_on >= _monday_of(period_start), Visit.visit_on <= period_end)
        )
        for visit in visits:
            visits_by_package[visit.package_id].append(visit)

    return {package.id: package_facts(package, visits_by_package[package.id]) for package in packages}
