"""Tests of care package rules: suspension and resumption with history, ending, change requests, visits and assessments."""

from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest

from care.errors import InvalidTransitionError, InvalidValueError
from care.models.packages import ChangeRequestStatus, PackageStatus, StatusReason
from care.packages import (
    approve_change,
    end_package,
    log_visit,
    record_assessment,
    reject_change,
    request_change,
    resume_package,
    suspend_package,
    terms_on,
)


def test_suspend_and_resume_keep_history(session, build):
    package = build.package()
    staff = build.user()

    suspend_package(
        session,
        package.id,
        reason=StatusReason.HOLIDAY,
        effective_on=date(2027, 6, 10),
        changed_by_id=staff.id,
        note="Away for a week",
    )
    resume_package(session, package.id, effective_on=date(2027, 6, 17), changed_by_id=staff.id)
    session.commit()

    assert package.status == PackageStatus.ACTIVE
    history = [(change.from_status, change.to_status, change.reason, change.effective_on) for change in package.status_history]
    assert history == [
        (None, PackageStatus.ACTIVE, None, date(2027, 5, 3)),
        (PackageStatus.ACTIVE, PackageStatus.SUSPENDED, StatusReason.HOLIDAY, date(2027, 6, 10)),
        (PackageStatus.SUSPENDED, PackageStatus.ACTIVE, None, date(2027, 6, 17)),
    ]


def test_suspend_with_end_reason_raises(session, build):
    package = build.package()

    with pytest.raises(InvalidValueError, match="reason 'death'"):
        suspend_package(session, package.id, reason=StatusReason.DEATH, effective_on=date(2027, 6, 10), changed_by_id=None)


def test_suspend_before_last_change_raises(session, build):
    package = build.package()
    suspend_package(session, package.id, reason=StatusReason.HOSPITAL, effective_on=date(2027, 6, 10), changed_by_id=None)

    with pytest.raises(InvalidValueError, match="2027-06-10"):
        resume_package(session, package.id, effective_on=date(2027, 6, 9), changed_by_id=None)


def test_resume_active_package_raises(session, build):
    package = build.package()

    with pytest.raises(InvalidTransitionError, match="'active' to 'active'") as raised:
        resume_package(session, package.id, effective_on=date(2027, 6, 9), changed_by_id=None)

    assert (raised.value.current, raised.value.requested) == ("active", "active")


def test_end_package_sets_end_on_and_is_final(session, build):
    package = build.package()
    suspend_package(session, package.id, reason=StatusReason.HOSPITAL, effective_on=date(2027, 6, 10), changed_by_id=None)

    change = end_package(session, package.id, reason=StatusReason.DEATH, last_day=date(2027, 6, 12), changed_by_id=None)

    assert package.end_on == date(2027, 6, 12)
    assert change.effective_on == date(2027, 6, 13)
    with pytest.raises(InvalidTransitionError, match="final"):
        suspend_package(session, package.id, reason=StatusReason.HOLIDAY, effective_on=date(2027, 6, 20), changed_by_id=None)


def test_end_package_with_suspend_reason_raises(session, build):
    package = build.package()

    with pytest.raises(InvalidValueError, match="reason 'holiday'"):
        end_package(session, package.id, reason=StatusReason.HOLIDAY, last_day=date(2027, 6, 12), changed_by_id=None)


def test_change_request_approved_changes_terms_from_date(session, build):
    package = build.package(hours=Decimal("10.00"), price=Decimal("20.00"))
    request = request_change(
        session,
        package.id,
        reason="Needs help at lunch",
        requested_by_id=None,
        hours_per_week=Decimal("14.00"),
        unit_price=Decimal("21.00"),
    )

    approve_change(session, request.id, reviewed_by_id=build.user().id, effective_from=date(2027, 6, 14))

    assert request.status == ChangeRequestStatus.APPROVED
    assert request.reviewed_at is not None
    assert terms_on(package, date(2027, 6, 13)) == (Decimal("10.00"), Decimal("20.00"))
    assert terms_on(package, date(2027, 6, 14)) == (Decimal("14.00"), Decimal("21.00"))


def test_change_request_reviewed_twice_raises(session, build):
    package = build.package()
    request = request_change(session, package.id, reason="More hours", requested_by_id=None, hours_per_week=Decimal("16.00"))
    reviewer = build.user()
    reject_change(session, request.id, reviewed_by_id=reviewer.id, note="Needs a review visit first")

    with pytest.raises(InvalidTransitionError, match="'rejected' to 'approved'"):
        approve_change(session, request.id, reviewed_by_id=reviewer.id, effective_from=date(2027, 6, 14))


def test_change_request_without_change_raises(session, build):
    package = build.package()

    with pytest.raises(InvalidValueError, match="hours per week"):
        request_change(session, package.id, reason="Nothing", requested_by_id=None)


def test_change_request_effective_before_start_raises(session, build):
    package = build.package()
    request = request_change(session, package.id, reason="More hours", requested_by_id=None, hours_per_week=Decimal("16.00"))

    with pytest.raises(InvalidValueError, match="effective_from"):
        approve_change(session, request.id, reviewed_by_id=build.user().id, effective_from=date(2027, 1, 1))


def test_log_visit_duration_from_times_past_midnight(session, build):
    package = build.package()

    visit = log_visit(
        session, package.id, visit_on=date(2027, 6, 7), start_time=time(22, 30), end_time=time(0, 50), recorded_by_id=None
    )

    assert visit.duration_hours == Decimal("2.33")


@pytest.mark.parametrize("options", [{}, {"duration_hours": Decimal("0")}, {"duration_hours": Decimal("24.5")}])
def test_log_visit_invalid_duration_raises(session, build, options):
    package = build.package()

    with pytest.raises(InvalidValueError, match="duration_hours"):
        log_visit(session, package.id, visit_on=date(2027, 6, 7), recorded_by_id=None, **options)


def test_record_assessment_stores_points(session, build):
    package = build.package()

    assessment = record_assessment(
        session,
        package.id,
        recorded_by_id=None,
        completed_at=datetime(2027, 7, 6, 10, 0, tzinfo=timezone.utc),
        mobility="Walks with a frame",
        standard_points={"safe": True, "effective": True},
    )
    session.commit()

    assert assessment.standard_points == {"safe": True, "effective": True}
    assert package.assessments == [assessment]
