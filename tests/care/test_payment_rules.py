"""Tests of the pure payment rules: statements per package, weekly commissioned hours, offsets and financial years."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from care.errors import InvalidValueError
from care.models.packages import PackageStatus, VisitFlag
from care.payments import (
    PackageFacts,
    Suspension,
    TermsChange,
    VisitHours,
    compute_package_statement,
    financial_year_bounds,
    financial_year_of,
    plan_offsets,
    round_money,
    suspensions_from_history,
)

JUNE_START = date(2027, 6, 1)
JUNE_END = date(2027, 6, 30)


def daily_visits(first: date, last: date, hours="2.00", skip=()) -> tuple[VisitHours, ...]:
    visits = []
    day = first
    while day <= last:
        if day not in skip:
            visits.append(VisitHours(visit_id=day.toordinal(), visit_on=day, hours=Decimal(hours)))
        day += timedelta(days=1)
    return tuple(visits)


def facts(**changes) -> PackageFacts:
    values = dict(
        package_id=1,
        provider_id=7,
        start_on=date(2027, 5, 3),
        end_on=None,
        hours_per_week=Decimal("14.00"),
        unit_price=Decimal("20.00"),
        visits=daily_visits(date(2027, 5, 31), JUNE_END),
    )
    values.update(changes)
    return PackageFacts(**values)


def test_statement_full_month_pays_delivered_hours():
    statement = compute_package_statement(facts(), JUNE_START, JUNE_END)

    assert [(line.unit_price, line.hours, line.amount) for line in statement.lines] == [
        (Decimal("20.00"), Decimal("60.00"), Decimal("1200.00"))
    ]
    assert statement.flagged == ()


def test_statement_hospital_suspension_pays_nothing_for_suspended_days():
    # In hospital from Thursday 10 June; back on Thursday 17 June. The provider logged visits on 10 and 11 June.
    missing = {date(2027, 6, 12) + timedelta(days=offset) for offset in range(5)}
    package = facts(
        suspensions=(Suspension(date(2027, 6, 10), date(2027, 6, 17)),),
        visits=daily_visits(date(2027, 5, 31), JUNE_END, skip=missing),
    )

    statement = compute_package_statement(package, JUNE_START, JUNE_END)

    assert statement.amount == Decimal("920.00")
    assert statement.lines[0].hours == Decimal("46.00")
    assert [(item.visit_on, item.flag) for item in statement.flagged] == [
        (date(2027, 6, 10), VisitFlag.LOGGED_WHILE_SUSPENDED),
        (date(2027, 6, 11), VisitFlag.LOGGED_WHILE_SUSPENDED),
    ]
    assert all(item.unpaid_hours == Decimal("2.00") for item in statement.flagged)


def test_statement_suspension_still_open_at_period_end():
    package = facts(suspensions=(Suspension(date(2027, 6, 28), None),))

    statement = compute_package_statement(package, JUNE_START, JUNE_END)

    assert statement.amount == Decimal("1080.00")
    assert len(statement.flagged) == 3


def test_statement_change_raising_hours_applies_from_effective_date():
    # 10 hours a week until Sunday 13 June, 14 from Monday 14 June; the provider delivered 2 hours every day.
    package = facts(
        hours_per_week=Decimal("10.00"),
        changes=(TermsChange(date(2027, 6, 14), Decimal("14.00"), None),),
    )

    statement = compute_package_statement(package, JUNE_START, JUNE_END)

    # Week of 31 May: the visit on 31 May (previous period) uses 2 of the 10 hours, so June gets 8.
    assert statement.lines[0].hours == Decimal("8.00") + Decimal("10.00") + Decimal("28.00") + Decimal("6.00")
    assert statement.amount == Decimal("1040.00")
    flagged_days = [item.visit_on for item in statement.flagged]
    assert flagged_days == [date(2027, 6, 5), date(2027, 6, 6), date(2027, 6, 12), date(2027, 6, 13)]
    assert all(item.flag == VisitFlag.EXCEEDS_COMMISSIONED_HOURS for item in statement.flagged)


def test_statement_change_mid_week_prorates_commissioned_hours():
    # From Thursday 17 June: 3 days at 10/7 hours and 4 days at 14/7 hours make 12.2857, rounded to 12.29.
    package = facts(
        hours_per_week=Decimal("10.00"),
        changes=(TermsChange(date(2027, 6, 17), Decimal("14.00"), None),),
    )

    statement = compute_package_statement(package, date(2027, 6, 14), date(2027, 6, 20))

    assert statement.lines[0].hours == Decimal("12.29")
    assert statement.flagged[-1].unpaid_hours == Decimal("1.71")


def test_statement_price_change_gives_two_lines():
    package = facts(changes=(TermsChange(date(2027, 6, 21), None, Decimal("22.50")),))

    statement = compute_package_statement(package, JUNE_START, JUNE_END)

    assert [(line.unit_price, line.hours, line.amount) for line in statement.lines] == [
        (Decimal("20.00"), Decimal("40.00"), Decimal("800.00")),
        (Decimal("22.50"), Decimal("20.00"), Decimal("450.00")),
    ]


def test_statement_week_split_across_runs_adds_up():
    package = facts(hours_per_week=Decimal("10.00"))

    whole = compute_package_statement(package, date(2027, 6, 7), date(2027, 6, 13))
    first = compute_package_statement(package, date(2027, 6, 7), date(2027, 6, 9))
    second = compute_package_statement(package, date(2027, 6, 10), date(2027, 6, 13))

    assert first.amount + second.amount == whole.amount == Decimal("200.00")


def test_statement_visits_outside_package_dates_flagged():
    package = facts(start_on=date(2027, 6, 7), end_on=date(2027, 6, 20))

    statement = compute_package_statement(package, JUNE_START, JUNE_END)

    assert statement.amount == Decimal("560.00")
    outside = [item for item in statement.flagged if item.flag == VisitFlag.OUTSIDE_PACKAGE_DATES]
    assert len(outside) == 16


def test_statement_rounds_half_up_to_pennies():
    package = facts(unit_price=Decimal("10.50"), visits=(VisitHours(1, date(2027, 6, 8), Decimal("1.25")),))

    statement = compute_package_statement(package, JUNE_START, JUNE_END)

    assert statement.amount == Decimal("13.13")
    assert round_money(Decimal("0.125")) == Decimal("0.13")
    assert round_money(Decimal("-0.125")) == Decimal("-0.13")


def test_statement_period_end_before_start_raises():
    with pytest.raises(InvalidValueError, match="period_end"):
        compute_package_statement(facts(), JUNE_END, JUNE_START)


def test_suspensions_from_history_pairs_suspend_and_resume():
    history = [
        (date(2027, 5, 3), PackageStatus.ACTIVE),
        (date(2027, 6, 10), PackageStatus.SUSPENDED),
        (date(2027, 6, 17), PackageStatus.ACTIVE),
        (date(2027, 7, 1), PackageStatus.SUSPENDED),
    ]

    assert suspensions_from_history(history) == (
        Suspension(date(2027, 6, 10), date(2027, 6, 17)),
        Suspension(date(2027, 7, 1), None),
    )


def test_plan_offsets_never_exceed_payment():
    assert plan_offsets(Decimal("500.00"), [Decimal("120.00"), Decimal("80.00")]) == [Decimal("120.00"), Decimal("80.00")]
    assert plan_offsets(Decimal("160.00"), [Decimal("280.00"), Decimal("50.00")]) == [Decimal("160.00"), Decimal("0.00")]
    assert plan_offsets(Decimal("0.00"), [Decimal("10.00")]) == [Decimal("0.00")]


def test_plan_offsets_negative_gross_raises():
    with pytest.raises(InvalidValueError, match="gross"):
        plan_offsets(Decimal("-1.00"), [])


def test_financial_year_labels_and_bounds():
    assert financial_year_of(date(2027, 3, 31)) == "2026-27"
    assert financial_year_of(date(2027, 4, 1)) == "2027-28"
    assert financial_year_of(date(2099, 12, 1)) == "2099-00"
    assert financial_year_bounds("2026-27") == (date(2026, 4, 1), date(2027, 3, 31))


@pytest.mark.parametrize("label", ["2026", "2026-28", "26-27", "year"])
def test_financial_year_bounds_invalid_label_raises(label):
    with pytest.raises(InvalidValueError, match="financial_year"):
        financial_year_bounds(label)
