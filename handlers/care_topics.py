"""Service-task topics that read and write the care records for the journey diagrams (``care.*``)."""

import logging
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from care import deadlines, journey
from care.enquiries import create_enquiry, get_enquiry, get_user, record_view, send_enquiry
from care.models.providers import Provider
from care.providers import change_provider_status, update_profile
from care.responses import accept_enquiry, confirm_selection, decline_enquiry, select_provider
from engine import clock
from engine.errors import MessageNotDeliveredError
from engine.handler_api import HandlerContext, HandlerRegistry
from engine.models import HumanTask
from engine.runtime import Engine

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


def provider_key(provider_id: int) -> str:
    """Return the business key of a provider's provider_onboarding instance, such as ``PRV-000012``."""
    return f"PRV-{provider_id:06d}"


def register(registry: HandlerRegistry, settings: object) -> None:
    """Register every ``care.*`` topic; ``settings`` is unused and kept for the uniform register signature."""
    register_provider_topics(registry)
    register_enquiry_topics(registry)


def register_provider_topics(registry: HandlerRegistry) -> None:
    """Register the onboarding topics, which move a provider through its statuses."""

    @registry.topic(
        "care.provider.record_contact",
        description="Create the provider record when a provider first contacts the council, and make PRV- and its id the instance's business key.",
        inputs={"provider_name": "organisation name", "provider_kind": "company or charity", "contact_route": "how the provider came to the team"},
        outputs={"provider_id": "id of the new provider record"},
    )
    def record_contact(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        provider = journey.record_contact(
            context.session, name=inputs["provider_name"], kind=inputs["provider_kind"], contact_route=inputs["contact_route"]
        )
        Engine(None).set_business_key(context.session, context.instance_id, provider_key(provider.id), actor=context.topic)
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
        inputs={"provider_id": "provider id", "reason": "why the application is rejected; without it, final_reason from the final review"},
    )
    def reject(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        reason = inputs.get("reason") or inputs.get("final_reason") or "rejected at final review"
        change_provider_status(context.session, inputs["provider_id"], "removed", changed_by_id=None, reason=reason)
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



def recipient_key(enquiry_reference: str, provider_id: int) -> str:
    """Return the business key of the enquiry_recipient instance of one provider."""
    return f"{enquiry_reference}/{provider_id}"


def completed_by_user_id(context: HandlerContext, element_id: str) -> int:
    """Return the id of the user who completed the latest ``element_id`` task of this instance."""
    user = context.session.scalar(
        sa.select(HumanTask.completed_by)
        .where(HumanTask.instance_id == context.instance_id, HumanTask.element_id == element_id, HumanTask.status == "completed")
        .order_by(HumanTask.completed_at.desc())
        .limit(1)
    )
    if user is None or not str(user).isdigit():
        raise ValueError(f"task {element_id!r} of instance {context.instance_id} was not completed by a portal user (completed by {user!r})")
    return int(user)


def send_to_recipients(context: HandlerContext, enquiry_reference: str, provider_ids, name: str, payload_of) -> None:
    """Deliver message ``name`` to the enquiry_recipient instance of each provider; one that has ended is skipped."""
    engine = Engine(None)
    for provider_id in provider_ids:
        try:
            engine.send_message(name, payload_of(provider_id), business_key=recipient_key(enquiry_reference, provider_id), session=context.session)
        except MessageNotDeliveredError:
            log.info("enquiry %s: recipient instance of provider %s no longer waits for %s", enquiry_reference, provider_id, name)


def register_enquiry_topics(registry: HandlerRegistry) -> None:
    """Register the enquiry topics: create, send (starting one enquiry_recipient instance per provider), respond, select, confirm, close."""

    @registry.topic(
        "care.enquiry.create",
        description="Create the enquiry, whose reference becomes the instance's business key; its respond-by date follows from the urgency (English working days, London time).",
        inputs={
            "service_user_id": "service user id",
            "care_manager_id": "user id of the care manager",
            "hours_per_week": "Decimal",
            "expected_start_on": "date",
            "urgency": "standard, emergency_48h or emergency_24h",
            "notes": "optional notes for providers",
        },
        outputs={"enquiry_id": "id", "enquiry_reference": "reference such as ENQ-20270607-1A2B3C4D", "respond_by": "ISO 8601 date-time", "postcode_district": "the service user's district"},
    )
    def create(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        enquiry = create_enquiry(
            context.session,
            service_user_id=inputs["service_user_id"],
            raised_by_id=inputs["care_manager_id"],
            hours_per_week=Decimal(str(inputs["hours_per_week"])),
            expected_start_on=as_date(inputs["expected_start_on"]),
            urgency=inputs["urgency"],
            notes=inputs.get("notes"),
        )
        Engine(None).set_business_key(context.session, context.instance_id, enquiry.reference, actor=context.topic)
        return {
            "enquiry_id": enquiry.id,
            "enquiry_reference": enquiry.reference,
            "respond_by": enquiry.respond_by.isoformat(),
            "postcode_district": enquiry.postcode_district,
        }

    @registry.topic(
        "care.enquiry.send",
        description="Send the enquiry to providers (or straight to the interim-care provider) and start one enquiry_recipient instance for each.",
        inputs={"enquiry_id": "id", "provider_ids": "provider ids separated by commas, may be empty with an interim provider", "interim_provider_id": "optional provider id"},
        outputs={"recipient_count": "number of providers the enquiry went to"},
    )
    def send(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        session = context.session
        provider_ids = [int(item) for item in split_list(str(inputs.get("provider_ids") or ""))]
        recipients = send_enquiry(session, inputs["enquiry_id"], provider_ids, interim_provider_id=inputs.get("interim_provider_id"))
        enquiry = get_enquiry(session, inputs["enquiry_id"])
        care_manager = get_user(session, enquiry.raised_by_id)
        engine = Engine(None)
        for recipient in recipients:
            provider = session.get(Provider, recipient.provider_id)
            reminder = deadlines.reminder_at(enquiry.urgency, enquiry.respond_by, recipient.sent_at) or enquiry.respond_by
            data = {
                "enquiry_id": enquiry.id,
                "enquiry_reference": enquiry.reference,
                "provider_id": provider.id,
                "provider_name": provider.name,
                "provider_email": journey.provider_contact_email(session, provider.id),
                "postcode_district": enquiry.postcode_district,
                "respond_by": enquiry.respond_by.isoformat(),
                "reminder_at": reminder.isoformat(),
                "unit_price": provider.standard_hourly_rate,
                "care_manager_id": care_manager.id,
                "care_manager_name": care_manager.display_name,
                "care_manager_email": care_manager.email,
            }
            engine.start("enquiry_recipient", business_key=recipient_key(enquiry.reference, provider.id), data=data, actor=context.topic, session=session)
        return {"recipient_count": len(recipients)}

    @registry.topic(
        "care.enquiry.record_view",
        description="Record when the provider first opened the enquiry (later views keep the first time).",
        inputs={"enquiry_id": "id", "provider_id": "provider id"},
    )
    def view(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        record_view(context.session, inputs["enquiry_id"], inputs["provider_id"])
        return {}

    @registry.topic(
        "care.enquiry.record_response",
        description="Record the provider's acceptance (with its price per hour) or decline (with a reason); by_phone marks a response staff took by phone.",
        inputs={
            "enquiry_id": "id",
            "provider_id": "provider id",
            "response": "accepted or declined",
            "unit_price": "Decimal price per hour, pre-filled from the profile",
            "decline_reason": "reason, required to decline",
            "response_note": "optional note",
            "by_phone": "True when council staff recorded it from a phone call",
        },
    )
    def respond(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        recorder_id = completed_by_user_id(context, "respond")
        common = {"recorded_by_id": recorder_id, "note": inputs.get("response_note"), "by_phone": bool(inputs.get("by_phone"))}
        if inputs["response"] == "accepted":
            price = inputs.get("unit_price")
            accept_enquiry(context.session, inputs["enquiry_id"], inputs["provider_id"], unit_price=Decimal(str(price)) if price is not None else None, **common)
        else:
            decline_enquiry(context.session, inputs["enquiry_id"], inputs["provider_id"], reason=inputs.get("decline_reason") or "", **common)
        return {}

    @registry.topic(
        "care.enquiry.select",
        description="Select a provider that accepted (provisional), mark every other recipient not selected, and tell each recipient instance its outcome.",
        inputs={"enquiry_id": "id", "provider_id": "the selected provider", "care_manager_id": "user id of the care manager"},
    )
    def select(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        selection = select_provider(context.session, inputs["enquiry_id"], inputs["provider_id"], selected_by_id=inputs["care_manager_id"])
        enquiry = get_enquiry(context.session, inputs["enquiry_id"])
        everyone = [selection.selected.provider_id] + [recipient.provider_id for recipient in selection.not_selected]
        chosen = selection.selected.provider_id
        send_to_recipients(context, enquiry.reference, everyone, "enquiry_outcome", lambda provider_id: {"outcome": "selected" if provider_id == chosen else "not_selected"})
        return {}

    @registry.topic(
        "care.enquiry.confirm",
        description="Confirm the provisional provider, start its care package and tell its recipient instance the start date.",
        inputs={"enquiry_id": "id", "care_manager_id": "user id of the care manager", "start_on": "date care starts"},
        outputs={"package_id": "id of the new care package"},
    )
    def confirm(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        start_on = as_date(inputs["start_on"])
        package = confirm_selection(context.session, inputs["enquiry_id"], confirmed_by_id=inputs["care_manager_id"], start_on=start_on)
        enquiry = get_enquiry(context.session, inputs["enquiry_id"])
        send_to_recipients(context, enquiry.reference, [package.provider_id], "enquiry_confirmed", lambda _provider_id: {"start_date": start_on.isoformat()})
        return {"package_id": package.id}

    @registry.topic(
        "care.enquiry.close",
        description="Close the enquiry with no provider selected and tell every recipient instance it was not selected.",
        inputs={"enquiry_id": "id"},
    )
    def close(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        provider_ids = journey.close_unfilled_enquiry(context.session, inputs["enquiry_id"])
        enquiry = get_enquiry(context.session, inputs["enquiry_id"])
        send_to_recipients(context, enquiry.reference, provider_ids, "enquiry_outcome", lambda _provider_id: {"outcome": "not_selected"})
        return {}
