"""Service-task topics that read and write the care records for the journey diagrams (``care.*``)."""

import logging
from datetime import date
from decimal import Decimal
from typing import Any

from care import journey
from care.providers import change_provider_status, update_profile
from engine import clock
from engine.handler_api import HandlerContext, HandlerRegistry

log = logging.getLogger(__name__)


def split_list(text: str | None) -> list[str]:
    """Split a comma-separated form value into its stripped, non-empty items."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def as_date(value: Any) -> date | None:
    """Read a date given as a date or an ISO 8601 string; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def register(registry: HandlerRegistry, settings: object) -> None:
    """Register every ``care.*`` topic; ``settings`` gives the public base URL for the emails some topics queue."""
    register_provider_topics(registry)


def register_provider_topics(registry: HandlerRegistry) -> None:
    """Register the onboarding topics, which move a provider through its statuses."""

    @registry.topic(
        "care.provider.record_contact",
        description="Create the provider record when a provider first contacts the council.",
        inputs={"provider_name": "organisation name", "provider_kind": "company or charity", "contact_route": "how the provider came to the team"},
        outputs={"provider_id": "id of the new provider record"},
    )
    def record_contact(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        provider = journey.record_contact(
            context.session, name=inputs["provider_name"], kind=inputs["provider_kind"], contact_route=inputs["contact_route"]
        )
        return {"provider_id": provider.id}

    @registry.topic(
        "care.provider.record_application",
        description="Store the application details and move the provider to applied.",
        inputs={
            "provider_id": "provider id",
            "provider_name": "legal name",
            "cqc_provider_id": "CQC provider id",
            "company_number": "Companies House number, or None for a charity",
            "charity_number": "registered charity number, or None for a company",
            "documents_uploaded": "True once the provider has uploaded its documents in the portal",
        },
    )
    def record_application(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        if not inputs.get("documents_uploaded"):
            raise ValueError(f"provider {inputs['provider_id']} applied without confirming its documents were uploaded; the form requires it")
        journey.record_application(
            context.session,
            inputs["provider_id"],
            name=inputs["provider_name"],
            cqc_provider_id=inputs["cqc_provider_id"],
            company_number=inputs.get("company_number"),
            charity_number=inputs.get("charity_number"),
        )
        return {}

    @registry.topic("care.provider.register", description="Move an applied provider to registered.", inputs={"provider_id": "provider id"})
    def register_provider(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        change_provider_status(context.session, inputs["provider_id"], "registered", changed_by_id=None, reason="registered by the provider services team")
        return {}

    @registry.topic(
        "care.provider.check_failed",
        description="Record that a registration check failed, moving the provider to checks_failed.",
        inputs={"provider_id": "provider id", "check": "cqc or registry", "error_code": "the BPMN error code of the failed check"},
    )
    def check_failed(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        journey.record_check_failure(context.session, inputs["provider_id"], check=inputs["check"], error_code=inputs.get("error_code"))
        return {}

    @registry.topic(
        "care.provider.override_check",
        description="Record a person's override of a failed check, returning the provider to registered.",
        inputs={"provider_id": "provider id", "reason": "why the failure is overridden"},
    )
    def override_check(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        journey.override_check(context.session, inputs["provider_id"], reason=inputs["reason"])
        return {}

    @registry.topic(
        "care.provider.reject",
        description="Reject a provider's application: the provider is removed, with the reason in its history.",
        inputs={"provider_id": "provider id", "reason": "why the application is rejected"},
    )
    def reject(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        change_provider_status(context.session, inputs["provider_id"], "removed", changed_by_id=None, reason=inputs["reason"])
        return {}

    @registry.topic(
        "care.provider.save_profile",
        description="Save the provider's profile: services, postcode districts covered, standard hourly rate and PayPal address.",
        inputs={
            "provider_id": "provider id",
            "services_offered": "services, separated by commas",
            "districts": "postcode districts, separated by commas",
            "standard_hourly_rate": "Decimal, pounds per hour",
            "paypal_email": "PayPal payee address",
        },
    )
    def save_profile(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        update_profile(
            context.session,
            inputs["provider_id"],
            services_offered=split_list(inputs["services_offered"]),
            districts=split_list(inputs["districts"]),
            standard_hourly_rate=Decimal(str(inputs["standard_hourly_rate"])),
            paypal_email=inputs["paypal_email"],
        )
        return {}

    @registry.topic(
        "care.provider.go_live",
        description="Set the provider live after the final review.",
        inputs={"provider_id": "provider id", "workshop_attended": "True when the provider attended the workshop", "workshop_start": "workshop date"},
        outputs={"live_from": "the go-live date, YYYY-MM-DD"},
    )
    def go_live(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        workshop_on = as_date(inputs.get("workshop_start")) if inputs.get("workshop_attended") else None
        provider = journey.go_live(context.session, inputs["provider_id"], workshop_on=workshop_on)
        return {"live_from": (provider.go_live_on or clock.now().date()).isoformat()}

