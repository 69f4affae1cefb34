"""enquiry.bpmn with one enquiry_recipient.bpmn instance per provider, driven through responses, timers and selection."""

from datetime import datetime, timezone
from decimal import Decimal

import sqlalchemy as sa

from care.models.enquiries import Enquiry, EnquiryRecipient
from care.models.messaging import Notification
from care.models.packages import CarePackage


def raise_enquiry(journey, people, actors, provider_ids, **extra):
    instance_id = journey.engine.start("enquiry", data={"service_user_id": people["service_user"], "care_manager_id": people["care_manager"]})
    form = {"hours_per_week": "10.5", "expected_start_on": "2027-07-05", "urgency": "standard", "provider_ids": ",".join(str(i) for i in provider_ids)}
    form.update(extra)
    journey.complete("raise_enquiry", form, actors.care_manager(people["care_manager"]), instance_id)
    return instance_id, journey.engine.instance_data(instance_id)


def recipient(journey, enquiry_id, provider_id) -> EnquiryRecipient:
    with journey.session_factory() as session:
        row = session.scalar(sa.select(EnquiryRecipient).where(EnquiryRecipient.enquiry_id == enquiry_id, EnquiryRecipient.provider_id == provider_id))
        session.expunge_all()
        return row


def respond_task(journey, reference, provider_id):
    instance = journey.engine.list_instances(process_id="enquiry_recipient", business_key=f"{reference}/{provider_id}")[0]
    return instance.id


def test_enquiry_selection_happy_path(journey, people, actors, make_provider):
    first, first_user = make_provider("Brightwater Home Care Ltd", 1, rate="22.00")
    second, second_user = make_provider("Meadowlark Care Services Limited", 2)
    enquiry_instance, data = raise_enquiry(journey, people, actors, [first, second])

    assert data["respond_by"] == "2027-06-14T16:00:00+00:00"
    assert len(journey.emails("enquiry_new")) == 2
    first_instance = respond_task(journey, data["enquiry_reference"], first)
    second_instance = respond_task(journey, data["enquiry_reference"], second)
    form = journey.engine.task_form(journey.task("respond", first_instance).id, actors.provider(first_user, first))
    assert form.values["unit_price"] == Decimal("22.00")

    journey.engine.send_message("enquiry_viewed", business_key=f"{data['enquiry_reference']}/{first}")
    journey.run_jobs()
    assert recipient(journey, data["enquiry_id"], first).viewed_at is not None

    journey.complete("respond", {"response": "accepted", "unit_price": "22.00"}, actors.provider(first_user, first), first_instance)
    journey.complete("respond", {"response": "declined", "decline_reason": "No carers free in ZZ1"}, actors.provider(second_user, second), second_instance)
    journey.complete("select_provider", {"decision": "select", "selected_provider_id": str(first)}, actors.care_manager(people["care_manager"]), enquiry_instance)
    journey.complete("confirm_start", {"start_on": "2027-07-05"}, actors.care_manager(people["care_manager"]), enquiry_instance)

    assert journey.status(enquiry_instance) == "completed"
    assert journey.status(first_instance) == "completed"
    assert journey.status(second_instance) == "completed"
    enquiry = journey.get(Enquiry, data["enquiry_id"])
    assert enquiry.status == "confirmed"
    assert enquiry.selected_provider_id == first
    assert recipient(journey, data["enquiry_id"], first).outcome == "selected_confirmed"
    assert recipient(journey, data["enquiry_id"], first).unit_price == Decimal("22.00")
    assert recipient(journey, data["enquiry_id"], second).outcome == "not_selected"
    assert recipient(journey, data["enquiry_id"], second).decline_reason == "No carers free in ZZ1"
    package = journey.get(CarePackage, journey.engine.instance_data(enquiry_instance)["package_id"])
    assert package.provider_id == first
    assert package.hours_per_week == Decimal("10.50")
    assert [email.recipient for email in journey.emails("selection_provisional")] == ["office1@provider.example"]
    assert [email.recipient for email in journey.emails("selection_confirmed")] == ["office1@provider.example"]
    assert [email.recipient for email in journey.emails("selection_not_selected")] == ["office2@provider.example"]
    with journey.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.recipient_provider_id == first)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.recipient_user_id == people["care_manager"])) == 2


def test_enquiry_all_providers_decline(journey, people, actors, make_provider):
    first, first_user = make_provider("Brightwater Home Care Ltd", 1)
    second, second_user = make_provider("Meadowlark Care Services Limited", 2)
    enquiry_instance, data = raise_enquiry(journey, people, actors, [first, second])
    for provider_id, user_id in ((first, first_user), (second, second_user)):
        instance_id = respond_task(journey, data["enquiry_reference"], provider_id)
        journey.complete("respond", {"response": "declined", "decline_reason": "No capacity"}, actors.provider(user_id, provider_id), instance_id)

    journey.complete("select_provider", {"decision": "close"}, actors.care_manager(people["care_manager"]), enquiry_instance)

    assert journey.status(enquiry_instance) == "completed"
    assert journey.get(Enquiry, data["enquiry_id"]).status == "closed"
    assert recipient(journey, data["enquiry_id"], first).outcome == "not_selected"
    assert len(journey.emails("selection_not_selected")) == 2
    assert journey.engine.list_instances(process_id="enquiry_recipient", status="running") == []


def test_enquiry_nobody_responds(journey, people, actors, make_provider):
    first, _user = make_provider("Brightwater Home Care Ltd", 1)
    enquiry_instance, data = raise_enquiry(journey, people, actors, [first])
    instance_id = respond_task(journey, data["enquiry_reference"], first)

    journey.clock.set(datetime(2027, 6, 11, 16, 1, tzinfo=timezone.utc))
    journey.fire_timers()
    journey.run_jobs()
    assert [email.recipient for email in journey.emails("enquiry_reminder")] == ["office1@provider.example"]
    assert journey.open_tasks("follow_up_call") == []

    journey.clock.set(datetime(2027, 6, 14, 16, 1, tzinfo=timezone.utc))
    journey.fire_timers()
    journey.run_jobs()
    assert [email.recipient for email in journey.emails("follow_up_call_due")] == ["cm.ash@council.example"]
    journey.complete("follow_up_call", {"follow_up_result": "unresolved", "follow_up_note": "No answer twice"}, actors.care_manager(people["care_manager"]))

    assert [email.recipient for email in journey.emails("enquiry_escalation")] == ["providerservices@council.example"]
    assert len(journey.open_tasks("resolve_non_response", instance_id)) == 1
    assert len(journey.open_tasks("respond", instance_id)) == 1
    assert journey.open_tasks("select_provider", enquiry_instance)[0].due_at == datetime(2027, 6, 14, 16, 0, tzinfo=timezone.utc)

    journey.complete("select_provider", {"decision": "close"}, actors.care_manager(people["care_manager"]), enquiry_instance)
    assert journey.status(instance_id) == "completed"
    assert journey.open_tasks(instance_id=instance_id) == []
    assert recipient(journey, data["enquiry_id"], first).response is None


def test_enquiry_phone_response_by_staff(journey, people, actors, make_provider):
    first, _user = make_provider("Brightwater Home Care Ltd", 1)
    _enquiry_instance, data = raise_enquiry(journey, people, actors, [], interim_provider_id=str(first))
    instance_id = respond_task(journey, data["enquiry_reference"], first)
    officer = actors.staff.__class__(str(people["officer"]), frozenset({"provider_services"}))

    journey.complete("respond", {"response": "accepted", "by_phone": "true", "response_note": "Rang the office"}, officer, instance_id)

    row = recipient(journey, data["enquiry_id"], first)
    assert row.is_interim_provider is True
    assert row.recorded_by_staff is True
    assert row.recorded_by_id == people["officer"]
    assert row.unit_price == Decimal("21.50")
