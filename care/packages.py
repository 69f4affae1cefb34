"""Care package rules: start, suspend, resume and end with history, change requests, visits and assessments."""

import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from care.errors import InvalidValueError, NotFoundError
from care.models.packages import (
    Assessment,
    CarePackage,
    ChangeRequest,
    ChangeRequestStatus,
    PackageStatus,
    PackageStatusChange,
    StatusReason,
    Visit,
)
from care.payments import package_facts, round_hours
from care.transitions import CHANGE_REQUEST, PACKAGE, check_transition
from engine import clock

log = logging.getLogger(__name__)

SUSPEND_REASONS = frozenset({StatusReason.HOLIDAY, StatusReason.HOSPITAL, StatusReason.MISSING, StatusReason.NON_DELIVERY})
END_REASONS = frozenset({StatusReason.DEATH, StatusReason.MISSING, StatusReason.NON_DELIVERY, StatusReason.ENDED})


def get_package(session: Session, package_id: int) -> CarePackage:
    package = session.get(CarePackage, package_id)
    if package is None:
        raise NotFoundError("care package", package_id)

    return package


def start_package(
    session: Session,
    *,
    provider_id: int,
    service_user_id: int,
    unit_price: Decimal,
    hours_per_week: Decimal,
    start_on: date,
    enquiry_id: int | None = None,
    started_by_id: int | None = None,
) -> CarePackage:
    """Create an active package and the first row of its status history."""
    package = CarePackage(
        enquiry_id=enquiry_id,
        provider_id=provider_id,
        service_user_id=service_user_id,
        unit_price=unit_price,
        hours_per_week=hours_per_week,
        start_on=start_on,
        status=PackageStatus.ACTIVE,
    )
    package.status_history.append(
        PackageStatusChange(from_status=None, to_status=PackageStatus.ACTIVE, effective_on=start_on, changed_by_id=started_by_id)
    )
    session.add(package)
    session.flush()
    log.info("care package %s started for provider %s", package.id, provider_id)

    return package


def suspend_package(
    session: Session, package_id: int, *, reason: str, effective_on: date, changed_by_id: int | None, note: str | None = None
) -> PackageStatusChange:
    """Suspend an active package from ``effective_on``, the first unpaid day, for example during a hospital stay."""
    if reason not in SUSPEND_REASONS:
        raise InvalidValueError("reason", reason, f"a suspension needs one of {', '.join(sorted(SUSPEND_REASONS))}")

    return _change_status(session, package_id, PackageStatus.SUSPENDED, reason, effective_on, changed_by_id, note)


def resume_package(
    session: Session, package_id: int, *, effective_on: date, changed_by_id: int | None, note: str | None = None
) -> PackageStatusChange:
    """Resume a suspended package from ``effective_on``, the first day care is delivered and paid again."""
    return _change_status(session, package_id, PackageStatus.ACTIVE, None, effective_on, changed_by_id, note)


def end_package(
    session: Session, package_id: int, *, reason: str, last_day: date, changed_by_id: int | None, note: str | None = None
) -> PackageStatusChange:
    """End a package after ``last_day``, the last day of care, which becomes its ``end_on``."""
    if reason not in END_REASONS:
        raise InvalidValueError("reason", reason, f"ending a package needs one of {', '.join(sorted(END_REASONS))}")

    change = _change_status(session, package_id, PackageStatus.ENDED, reason, last_day + timedelta(days=1), changed_by_id, note)
    change.package.end_on = last_day
    session.flush()

    return change


def _change_status(
    session: Session,
    package_id: int,
    to_status: PackageStatus,
    reason: str | None,
    effective_on: date,
    changed_by_id: int | None,
    note: str | None,
) -> PackageStatusChange:
    package = get_package(session, package_id)
    check_transition(PACKAGE, "care package", package.id, package.status, to_status)

    earliest = max([package.start_on] + [change.effective_on for change in package.status_history])
    if to_status == PackageStatus.ENDED:
        # The day after the last day of care: a package that ends on its first day has effective_on = start_on + 1.
        earliest = max(earliest, package.start_on + timedelta(days=1))
    if effective_on < earliest:
        raise InvalidValueError(
            "effective_on",
            effective_on,
            f"package {package.id} has a status change on {earliest}, so give that day or a later one",
        )

    change = PackageStatusChange(
        from_status=package.status,
        to_status=to_status,
        reason=reason,
        effective_on=effective_on,
        changed_by_id=changed_by_id,
        note=note,
    )
    package.status_history.append(change)
    package.status = to_status
    session.flush()
    log.info("care package %s moved to %s from %s", package.id, to_status, effective_on)

    return change


def terms_on(package: CarePackage, day: date) -> tuple[Decimal, Decimal]:
    """Return the hours per week and unit price of ``package`` in force on ``day``, after approved change requests."""
    return package_facts(package).terms_on(day)


def request_change(
    session: Session,
    package_id: int,
    *,
    reason: str,
    requested_by_id: int | None,
    hours_per_week: Decimal | None = None,
    unit_price: Decimal | None = None,
) -> ChangeRequest:
    """Record a provider's request to change the hours or the price of a package, for a care manager to review."""
    package = get_package(session, package_id)
    if package.status == PackageStatus.ENDED:
        raise InvalidValueError("package_id", package_id, "the package has ended, so raise a new enquiry instead")

    if hours_per_week is None and unit_price is None:
        raise InvalidValueError("hours_per_week", None, "give new hours per week, a new unit price, or both")

    for name, value in (("hours_per_week", hours_per_week), ("unit_price", unit_price)):
        if value is not None and value <= 0:
            raise InvalidValueError(name, value, "must be more than 0")

    if not reason.strip():
        raise InvalidValueError("reason", reason, "say what the provider found, for the care manager's review")

    request = ChangeRequest(
        package_id=package.id,
        requested_hours_per_week=hours_per_week,
        requested_unit_price=unit_price,
        reason=reason,
        requested_by_id=requested_by_id,
        status=ChangeRequestStatus.PENDING,
    )
    session.add(request)
    session.flush()
    log.info("change request %s raised for care package %s", request.id, package.id)

    return request


def approve_change(
    session: Session, request_id: int, *, reviewed_by_id: int, effective_from: date, note: str | None = None
) -> ChangeRequest:
    """Approve a change request, whose new hours or price apply from ``effective_from``, which may be in the past."""
    request = session.get(ChangeRequest, request_id)
    if request is None:
        raise NotFoundError("change request", request_id)

    package = request.package
    if effective_from < package.start_on:
        raise InvalidValueError("effective_from", effective_from, f"must not be before the package start {package.start_on}")

    # The request is approved and dated in one step, because the table requires an approved request to have a date.
    with session.no_autoflush:
        _review(session, request_id, ChangeRequestStatus.APPROVED, reviewed_by_id, note)
        request.effective_from = effective_from
    session.flush()

    return request


def reject_change(session: Session, request_id: int, *, reviewed_by_id: int, note: str) -> ChangeRequest:
    """Reject a change request with a note that gives the provider the reason."""
    if not note.strip():
        raise InvalidValueError("note", note, "tell the provider why the change is rejected")

    request = _review(session, request_id, ChangeRequestStatus.REJECTED, reviewed_by_id, note)
    session.flush()

    return request


def _review(
    session: Session, request_id: int, to_status: ChangeRequestStatus, reviewed_by_id: int, note: str | None
) -> ChangeRequest:
    request = session.get(ChangeRequest, request_id)
    if request is None:
        raise NotFoundError("change request", request_id)

    check_transition(CHANGE_REQUEST, "change request", request.id, request.status, to_status)
    request.status = to_status
    request.reviewed_by_id = reviewed_by_id
    request.reviewed_at = clock.now()
    request.review_note = note
    log.info("change request %s %s", request.id, to_status)

    return request


def log_visit(
    session: Session,
    package_id: int,
    *,
    visit_on: date,
    recorded_by_id: int | None,
    start_time: time | None = None,
    end_time: time | None = None,
    duration_hours: Decimal | None = None,
    carer_initials: str | None = None,
    observations: str | None = None,
) -> Visit:
    """Add a visit to a package's communication sheet, taking the duration from the times when it is not given.

    A visit whose end time is before its start time ran past midnight. Visits are accepted
    while the package is suspended, and the next payment run flags them instead of paying them.
    """
    package = get_package(session, package_id)
    if duration_hours is None:
        if start_time is None or end_time is None:
            raise InvalidValueError("duration_hours", None, "give the duration, or both the start and end times")
        duration_hours = _duration(start_time, end_time)

    if not Decimal(0) < duration_hours <= Decimal(24):
        raise InvalidValueError("duration_hours", duration_hours, "a visit lasts more than 0 and at most 24 hours")

    visit = Visit(
        package_id=package.id,
        visit_on=visit_on,
        start_time=start_time,
        end_time=end_time,
        duration_hours=round_hours(duration_hours),
        carer_initials=carer_initials,
        observations=observations,
        recorded_by_id=recorded_by_id,
    )
    session.add(visit)
    session.flush()

    return visit


def _duration(start_time: time, end_time: time) -> Decimal:
    start = datetime.combine(date.min, start_time)
    end = datetime.combine(date.min, end_time)
    if end <= start:
        end += timedelta(days=1)

    return Decimal((end - start).seconds) / Decimal(3600)


def record_assessment(
    session: Session,
    package_id: int,
    *,
    recorded_by_id: int | None,
    completed_at: datetime,
    environment: str | None = None,
    mobility: str | None = None,
    religious_cultural_needs: str | None = None,
    standard_points: dict | None = None,
) -> Assessment:
    """Store the provider's assessment at the service user's home."""
    package = get_package(session, package_id)
    if completed_at.tzinfo is None:
        raise InvalidValueError("completed_at", completed_at, "pass an aware datetime")

    assessment = Assessment(
        package_id=package.id,
        completed_at=completed_at,
        environment=environment,
        mobility=mobility,
        religious_cultural_needs=religious_cultural_needs,
        standard_points=standard_points or {},
        recorded_by_id=recorded_by_id,
    )
    session.add(assessment)
    session.flush()

    return assessment
