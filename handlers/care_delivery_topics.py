"""Service-task topics of the care_package diagram (``care.package.*``): assessment, suspension, change requests and ending."""

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from care.delivery import package_parties, package_reference
from care.models.packages import StatusReason
from care.packages import (
    approve_change,
    end_package,
    record_assessment,
    reject_change,
    request_change,
    resume_package,
    suspend_package,
)
from engine.handler_api import HandlerContext, HandlerRegistry
from engine.runtime import Engine
from handlers.care_topics import as_date, completed_by_user_id

log = logging.getLogger(__name__)

PROCESS_ID = "care_package"

# The regulator's five key questions, each a boolean field of the assessment form.
STANDARD_POINTS = ("safe", "effective", "caring", "responsive", "well_led")


def optional_decimal(value: Any) -> Decimal | None:
    """Read an optional form value as a Decimal; None and empty text stay None."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


def optional_int(value: Any) -> int | None:
    """Read an optional id given as an int or digits; None and empty text stay None."""
    if value is None or value == "":
        return None
    return int(value)


def start_package_instance(session: Session, package_id: int, *, actor: str) -> str:
    """Start the care_package instance of a package in ``session``, with the package reference as business key."""
    return Engine(None).start(PROCESS_ID, business_key=package_reference(package_id), data={"package_id": package_id}, actor=actor, session=session)


def register(registry: HandlerRegistry, settings: object) -> None:
    """Register every ``care.package.*`` topic; ``settings`` is unused and kept for the uniform register signature."""
    register_lifecycle_topics(registry)
    register_change_topics(registry)


def register_lifecycle_topics(registry: HandlerRegistry) -> None:
    """Register the topics that start, load, assess, suspend, resume and end a package."""

    @registry.topic(
        "care.package.start",
        description="Start the care_package instance of a confirmed package, with business key PKG- and the package id.",
        inputs={"package_id": "id of the care package"},
        outputs={"package_reference": "business key of the new instance, such as PKG-000012"},
    )
    def start(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        start_package_instance(context.session, int(inputs["package_id"]), actor=context.topic)
        return {"package_reference": package_reference(int(inputs["package_id"]))}

    @registry.topic(
        "care.package.load",
        description="Load the package's reference, provider, care manager and contact addresses into the instance.",
        inputs={"package_id": "id of the care package"},
        outputs={
            "package_reference": "such as PKG-000012",
            "enquiry_reference": "reference of the enquiry the package came from, quoted in emails",
            "provider_id": "provider id",
            "provider_name": "provider name",
            "provider_email": "address for the provider's emails",
            "care_manager_id": "user id of the care manager, or None for a package without an enquiry",
            "care_manager_name": "care manager's name, or None",
            "care_manager_email": "care manager's address, or None",
            "postcode_district": "the service user's district",
            "start_on": "first day of care, YYYY-MM-DD",
        },
    )
    def load(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        parties = package_parties(context.session, int(inputs["package_id"]))
        return {
            "package_reference": parties.package_reference,
            "enquiry_reference": parties.enquiry_reference,
            "provider_id": parties.provider_id,
            "provider_name": parties.provider_name,
            "provider_email": parties.provider_email,
            "care_manager_id": parties.care_manager_id,
            "care_manager_name": parties.care_manager_name,
            "care_manager_email": parties.care_manager_email,
            "postcode_district": parties.postcode_district,
            "start_on": parties.start_on.isoformat(),
        }

    @registry.topic(
        "care.package.record_assessment",
        description="Store the provider's home assessment, with the regulator's five key questions as standard points.",
        inputs={
            "package_id": "id of the care package",
            "environment": "the home environment",
            "mobility": "the service user's mobility",
            "religious_cultural_needs": "religious and cultural needs",
            **{f"point_{point}": f"True when the care planned is {point.replace('_', '-')}" for point in STANDARD_POINTS},
            "assessment_notes": "optional further notes",
        },
        outputs={"assessment_id": "id of the stored assessment"},
    )
    def assess(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        points = {point: bool(inputs.get(f"point_{point}")) for point in STANDARD_POINTS}
        if inputs.get("assessment_notes"):
            points["notes"] = inputs["assessment_notes"]
        assessment = record_assessment(
            context.session,
            int(inputs["package_id"]),
            recorded_by_id=completed_by_user_id(context, "assess_needs"),
            completed_at=context.now,
            environment=inputs.get("environment"),
            mobility=inputs.get("mobility"),
            religious_cultural_needs=inputs.get("religious_cultural_needs"),
            standard_points=points,
        )
        return {"assessment_id": assessment.id}

    @registry.topic(
        "care.package.suspend",
        description="Suspend the package from a date, so the payment runs pay nothing for the days it is suspended.",
        inputs={
            "package_id": "id of the care package",
            "suspension_reason": "holiday or hospital",
            "suspended_from": "first day without care, YYYY-MM-DD",
            "reported_by_id": "optional user id of who reported it",
        },
    )
    def suspend(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        reason = inputs["suspension_reason"]
        if reason not in (StatusReason.HOLIDAY, StatusReason.HOSPITAL):
            raise ValueError(f"suspension_reason {reason!r} is invalid: send holiday or hospital with the package_suspended message")
        suspend_package(
            context.session,
            int(inputs["package_id"]),
            reason=reason,
            effective_on=as_date(inputs["suspended_from"]),
            changed_by_id=optional_int(inputs.get("reported_by_id")),
        )
        return {}

    @registry.topic(
        "care.package.resume",
        description="Resume a suspended package from a date, the first day care is delivered and paid again.",
        inputs={"package_id": "id of the care package", "resumed_from": "first day of care again, YYYY-MM-DD", "reported_by_id": "optional user id of who reported it"},
    )
    def resume(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        resume_package(
            context.session, int(inputs["package_id"]), effective_on=as_date(inputs["resumed_from"]), changed_by_id=optional_int(inputs.get("reported_by_id"))
        )
        return {}

    @registry.topic(
        "care.package.end",
        description="End the package after its last day of care, for a death, a missing service user, non-delivery or a planned end.",
        inputs={
            "package_id": "id of the care package",
            "end_reason": "death, missing, non_delivery or ended",
            "last_day": "last day of care, YYYY-MM-DD; the day before the first day without care",
            "end_note": "optional note for the status history",
        },
        outputs={"end_on": "the last day of care, YYYY-MM-DD"},
    )
    def end(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        last_day = as_date(inputs["last_day"])
        change = end_package(
            context.session, int(inputs["package_id"]), reason=inputs["end_reason"], last_day=last_day, changed_by_id=None, note=inputs.get("end_note")
        )
        log.info("care package %s ended (%s) by instance %s", change.package_id, inputs["end_reason"], context.instance_id)
        return {"end_on": last_day.isoformat()}


def register_change_topics(registry: HandlerRegistry) -> None:
    """Register the topics of a change request: record it, then apply the care manager's review."""

    @registry.topic(
        "care.package.request_change",
        description="Record the provider's request to change the hours or the price, for the care manager to review.",
        inputs={
            "package_id": "id of the care package",
            "requested_hours_per_week": "optional Decimal, new hours per week",
            "requested_unit_price": "optional Decimal, new price per hour",
            "change_reason": "what the provider found",
            "requested_by_id": "optional user id of the provider user",
        },
        outputs={"change_request_id": "id of the change request"},
    )
    def request(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        change = request_change(
            context.session,
            int(inputs["package_id"]),
            reason=str(inputs.get("change_reason") or ""),
            requested_by_id=optional_int(inputs.get("requested_by_id")),
            hours_per_week=optional_decimal(inputs.get("requested_hours_per_week")),
            unit_price=optional_decimal(inputs.get("requested_unit_price")),
        )
        return {"change_request_id": change.id}

    @registry.topic(
        "care.package.review_change",
        description="Apply the care manager's review of a change request: approve from an effective date, or reject with a note.",
        inputs={
            "change_request_id": "id of the change request",
            "change_decision": "approve or reject",
            "effective_from": "first day of the new terms when approved, YYYY-MM-DD; tomorrow when left empty",
            "review_note": "reason, required to reject",
        },
    )
    def review(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        reviewer_id = completed_by_user_id(context, "review_change")
        request_id = int(inputs["change_request_id"])
        if inputs["change_decision"] == "approve":
            effective_from = as_date(inputs.get("effective_from"))
            if effective_from is None:
                effective_from = context.now.date() + timedelta(days=1)
            approve_change(context.session, request_id, reviewed_by_id=reviewer_id, effective_from=effective_from, note=inputs.get("review_note"))
        else:
            reject_change(context.session, request_id, reviewed_by_id=reviewer_id, note=str(inputs.get("review_note") or ""))
        return {}
