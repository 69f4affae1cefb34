"""Demo stages 3 to 5: an enquiry to three providers (silent, declining, accepting), then selection and confirmation."""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from care.models.enquiries import Enquiry, EnquiryRecipient
from care.models.packages import CarePackage
from careplace.demo_onboarding import BRIGHTWATER, DISTRICT, provider_actor, staff_actor
from careplace.demo_support import Demo, day_text, london, next_minute
from engine import clock

# Escalations of a non-response go to this mailbox, which enquiry_recipient.bpmn names as a constant.
TEAM_MAILBOX = "providerservices@council.example"
HOURS_PER_WEEK = Decimal("7")
START_ON = date(2027, 3, 1)
NAMES = {"brightwater": BRIGHTWATER["provider_name"], "meadowlark": "Meadowlark Care Services Limited", "kestrel": "Kestrel Homecare Ltd"}
ACTORS = {"brightwater": "Brightwater", "meadowlark": "Meadowlark", "kestrel": "Kestrel"}
EMAILS = {"brightwater": BRIGHTWATER["contact_email"], "meadowlark": "office@meadowlark.example", "kestrel": "office@kestrel.example"}


def run_enquiry(demo: Demo) -> None:
    """Drive enquiry.bpmn and one enquiry_recipient.bpmn instance per provider through to a confirmed package."""
    demo.begin_stage("Stages 3-5: enquiry, responses and selection", "through enquiry.bpmn and enquiry_recipient.bpmn")
    care_manager = staff_actor(demo, "care_manager", "care_manager")
    officer = staff_actor(demo, "officer", "provider_services")
    order = ("brightwater", "meadowlark", "kestrel")

    demo.at(london(2027, 2, 1, 9, 0))
    instance_id = demo.engine.start(
        "enquiry", data={"service_user_id": demo.ids["service_user"], "care_manager_id": demo.ids["care_manager"]}, actor="demo"
    )
    demo.complete(
        "raise_enquiry",
        {
            "hours_per_week": str(HOURS_PER_WEEK),
            "expected_start_on": START_ON.isoformat(),
            "urgency": "standard",
            "provider_ids": ",".join(str(demo.ids[f"{name}_provider"]) for name in order),
            "notes": "Morning visits; help with washing, dressing and breakfast.",
        },
        care_manager,
        instance_id,
    )
    data = demo.engine.instance_data(instance_id)
    reference = data["enquiry_reference"]
    demo.ids["enquiry"] = data["enquiry_id"]
    demo.values["enquiry_reference"] = reference
    demo.say("care manager", f"raised enquiry {reference}: {HOURS_PER_WEEK} hours a week in {DISTRICT}, sent to 3 providers")
    recipients = {name: _recipient_instance(demo, reference, demo.ids[f"{name}_provider"]) for name in order}
    for name in order:
        demo.check_email(EMAILS[name], f"New enquiry {reference} for home care in {DISTRICT}")

    demo.at(london(2027, 2, 1, 11, 15))
    demo.engine.send_message("enquiry_viewed", business_key=f"{reference}/{demo.ids['brightwater_provider']}", actor=str(demo.ids["brightwater_user"]))
    demo.settle()
    demo.say(ACTORS["brightwater"], "opened the enquiry")
    demo.check(_recipient(demo, "brightwater").viewed_at is not None, "the time Brightwater viewed the enquiry is recorded")

    demo.at(london(2027, 2, 2, 10, 0))
    demo.complete(
        "respond",
        {"response": "declined", "decline_reason": f"No carers free in {DISTRICT} until April"},
        provider_actor(demo, "meadowlark"),
        recipients["meadowlark"],
    )
    demo.say(ACTORS["meadowlark"], f"declined: no carers free in {DISTRICT} until April")

    demo.at(london(2027, 2, 3, 15, 0))
    brightwater = provider_actor(demo, "brightwater")
    form = demo.engine.task_form(demo.task("respond", recipients["brightwater"]).id, brightwater)
    demo.check_equal(form.values["unit_price"], BRIGHTWATER["rate"], "price pre-filled from the profile")
    demo.complete("respond", {"response": "accepted", "unit_price": str(BRIGHTWATER["rate"])}, brightwater, recipients["brightwater"])
    demo.say(ACTORS["brightwater"], f"accepted at £{BRIGHTWATER['rate']} an hour")

    kestrel_data = demo.engine.instance_data(recipients["kestrel"])
    demo.at(next_minute(kestrel_data["reminder_at"]))
    demo.say("system", "reminder timer fired for the provider that has not responded")
    demo.check_email(EMAILS["kestrel"], _reminder_subject(reference, data["respond_by"]))
    demo.check_no_email(EMAILS["brightwater"], "Reminder:")
    demo.check_no_email(EMAILS["meadowlark"], "Reminder:")

    demo.at(next_minute(data["respond_by"]))
    demo.say("system", "respond-by date passed: the care manager must phone the provider")
    demo.check_email("cm.ash@council.example", f"Follow-up call due: {NAMES['kestrel']} has not responded to enquiry {reference}")
    demo.at(london(2027, 2, 9, 9, 30))
    demo.complete("follow_up_call", {"follow_up_result": "unresolved", "follow_up_note": "No answer twice"}, care_manager, recipients["kestrel"])
    demo.say("care manager", f"phoned {NAMES['kestrel']} twice with no answer and escalated")
    demo.check_email(TEAM_MAILBOX, f"Escalation: no response from {NAMES['kestrel']} to enquiry {reference}")
    demo.complete("resolve_non_response", {"resolution_note": "Spoke to the manager: no capacity this month"}, officer, recipients["kestrel"])
    demo.say("provider services", f"reached {NAMES['kestrel']}: no capacity this month")

    demo.at(london(2027, 2, 9, 10, 0))
    demo.complete("select_provider", {"decision": "select", "selected_provider_id": str(demo.ids["brightwater_provider"])}, care_manager, instance_id)
    demo.say("care manager", f"compared the responses and selected {NAMES['brightwater']} (provisional)")
    demo.check_email(EMAILS["brightwater"], f"Enquiry {reference}: you have been provisionally selected")
    for name in ("meadowlark", "kestrel"):
        demo.check_email(EMAILS[name], f"Enquiry {reference}: another provider was selected")
    demo.check_equal(_recipient(demo, "brightwater").outcome, "selected_provisional", "Brightwater's outcome before confirmation")

    demo.at(london(2027, 2, 15, 10, 0))
    demo.complete("confirm_start", {"start_on": START_ON.isoformat()}, care_manager, instance_id)
    demo.say("care manager", f"confirmed the care package start on {day_text(START_ON)} {START_ON.year}")
    demo.check_email(EMAILS["brightwater"], f"Enquiry {reference}: care package confirmed from Monday 1 March 2027")
    _check_outcome(demo, instance_id, recipients)


def _check_outcome(demo: Demo, instance_id: str, recipients: dict[str, str]) -> None:
    demo.check_status(instance_id, "completed", "enquiry")
    for name, recipient_instance in recipients.items():
        demo.check_status(recipient_instance, "completed", f"{name} recipient")

    enquiry = demo.get(Enquiry, demo.ids["enquiry"])
    demo.check_equal(enquiry.status, "confirmed", "enquiry status")
    demo.check_equal(enquiry.selected_provider_id, demo.ids["brightwater_provider"], "selected provider")
    expected = {
        "brightwater": ("accepted", "selected_confirmed"),
        "meadowlark": ("declined", "not_selected"),
        "kestrel": (None, "not_selected"),
    }
    for name, (response, outcome) in expected.items():
        row = _recipient(demo, name)
        demo.check_equal((row.response, row.outcome), (response, outcome), f"{name} response and outcome")

    package_id = demo.engine.instance_data(instance_id)["package_id"]
    package = demo.get(CarePackage, package_id)
    demo.ids["package"] = package_id
    demo.check_equal(package.provider_id, demo.ids["brightwater_provider"], "care package provider")
    demo.check_equal((package.unit_price, package.hours_per_week, package.start_on), (BRIGHTWATER["rate"], HOURS_PER_WEEK, START_ON), "care package terms")
    demo.check_equal(package.status, "active", "care package status")


def _recipient_instance(demo: Demo, reference: str, provider_id: int) -> str:
    instances = demo.engine.list_instances(process_id="enquiry_recipient", business_key=f"{reference}/{provider_id}")
    demo.check_equal(len(instances), 1, f"one enquiry_recipient instance for provider {provider_id}")
    return instances[0].id


def _recipient(demo: Demo, name: str) -> EnquiryRecipient:
    with demo.session_factory() as session:
        row = session.scalar(
            sa.select(EnquiryRecipient).where(EnquiryRecipient.enquiry_id == demo.ids["enquiry"], EnquiryRecipient.provider_id == demo.ids[f"{name}_provider"])
        )
        session.expunge_all()
        return row


def _reminder_subject(reference: str, respond_by_iso: str) -> str:
    day = datetime.fromisoformat(respond_by_iso).astimezone(clock.LONDON).date()
    return f"Reminder: please respond to enquiry {reference} by {day:%A} {day.day} {day:%B %Y}"
