"""provider_onboarding.bpmn driven end to end against the simulated registers."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from care.models.providers import Provider, ProviderStatusChange
from engine.errors import FormValidationError

BRIGHTWATER = {"provider_name": "Brightwater Home Care Ltd", "cqc_provider_id": "1-000000001", "company_number": "09000001"}


def start_and_apply(journey, actors, *, kind="company", application=None, name="Brightwater Home Care Ltd"):
    instance_id = journey.engine.start("provider_onboarding", business_key=f"onboarding-{name}")
    journey.complete(
        "record_contact",
        {"contact_route": "contact_centre", "provider_name": name, "provider_kind": kind, "contact_email": "office@brightwater.example"},
        actors.staff,
    )
    provider_id = journey.engine.instance_data(instance_id)["provider_id"]
    form = {"contact_person": "Jo Example", "documents_uploaded": "true", "company_number": "", "charity_number": ""}
    form.update(application or BRIGHTWATER)
    journey.complete("apply", form, actors.provider("applicant", provider_id))
    journey.complete("register", {"registration_note": "Application complete"}, actors.staff)
    return instance_id, provider_id


def finish_onboarding(journey, actors, provider_id):
    journey.complete(
        "set_up_profile",
        {"services_offered": "Personal care, Companionship", "districts": "ZZ1, ZZ2", "standard_hourly_rate": "22.40", "paypal_email": "pay@brightwater.example"},
        actors.provider("applicant", provider_id),
    )
    journey.complete("offer_workshop", {"workshop_start": "2027-06-21T10:00", "workshop_venue": "Exampleton Town Hall"}, actors.staff)
    journey.complete("final_review", {"final_decision": "approve", "workshop_attended": "true"}, actors.staff)


def status_reasons(journey, provider_id):
    with journey.session_factory() as session:
        rows = session.execute(
            sa.select(ProviderStatusChange.to_status, ProviderStatusChange.reason).where(ProviderStatusChange.provider_id == provider_id).order_by(ProviderStatusChange.id)
        )
        return [tuple(row) for row in rows]


def test_onboarding_company_goes_live(journey, actors):
    instance_id, provider_id = start_and_apply(journey, actors)

    assert journey.candidate_groups("set_up_profile") == {f"provider-{provider_id}"}
    finish_onboarding(journey, actors, provider_id)

    assert journey.status(instance_id) == "completed"
    provider = journey.get(Provider, provider_id)
    assert provider.status == "live"
    assert provider.cqc_provider_id == "1-000000001"
    assert provider.company_number == "09000001"
    assert provider.standard_hourly_rate == Decimal("22.40")
    assert provider.paypal_email == "pay@brightwater.example"
    assert provider.workshop_attended_on == date(2027, 6, 21)
    assert provider.contact_route == "contact_centre"
    assert [status for status, _reason in status_reasons(journey, provider_id)] == ["applied", "registered", "live"]
    templates = [email.template for email in journey.emails()]
    assert templates == ["provider_information_pack", "access_instructions", "workshop_invitation", "go_live"]
    assert all(email.recipient == "office@brightwater.example" for email in journey.emails())
    assert journey.incidents() == []


def test_onboarding_charity_check_fails_and_is_overridden(journey, actors):
    application = {"provider_name": "Hollybank Community Care", "cqc_provider_id": "1-000000004", "charity_number": "1200002"}
    instance_id, provider_id = start_and_apply(journey, actors, kind="charity", application=application, name="Hollybank Community Care")

    review = journey.task("review_registry")
    assert journey.get(Provider, provider_id).status == "checks_failed"
    assert journey.open_tasks("set_up_profile") == []
    form = journey.engine.task_form(review.id, actors.staff)
    assert form.values["decision"] is None

    journey.complete("review_registry", {"decision": "override", "review_reason": "Removed in error; the register is being corrected"}, actors.staff)

    assert journey.get(Provider, provider_id).status == "registered"
    assert ("registered", "override: Removed in error; the register is being corrected") in status_reasons(journey, provider_id)
    finish_onboarding(journey, actors, provider_id)
    assert journey.status(instance_id) == "completed"
    assert journey.get(Provider, provider_id).status == "live"


def test_onboarding_override_needs_reason(journey, actors):
    application = {"provider_name": "Hollybank Community Care", "cqc_provider_id": "1-000000004", "charity_number": "1200002"}
    start_and_apply(journey, actors, kind="charity", application=application, name="Hollybank Community Care")

    review = journey.task("review_registry")
    with pytest.raises(FormValidationError, match="review_reason"):
        journey.engine.complete(review.id, {"decision": "override"}, actors.staff)


def test_onboarding_failed_checks_rejected(journey, actors):
    application = {"provider_name": "Old Mill Domiciliary Care Ltd", "cqc_provider_id": "1-000000003", "company_number": "09000003"}
    instance_id, provider_id = start_and_apply(journey, actors, application=application, name="Old Mill Domiciliary Care Ltd")

    assert len(journey.open_tasks("review_cqc")) == 1
    assert len(journey.open_tasks("review_registry")) == 1
    journey.complete("review_cqc", {"decision": "reject", "review_reason": "CQC registration was cancelled in 2021"}, actors.staff)

    assert journey.status(instance_id) == "completed"
    assert journey.open_tasks(instance_id=instance_id) == []
    provider = journey.get(Provider, provider_id)
    assert provider.status == "removed"
    assert status_reasons(journey, provider_id)[-1] == ("removed", "CQC registration was cancelled in 2021")
    assert [email.template for email in journey.emails()] == ["provider_information_pack"]


def test_onboarding_register_outage_becomes_incident(journey, actors, simulators):
    simulators.state.add_fault("cqc", status=503, times=20)
    instance_id, provider_id = start_and_apply(journey, actors)
    journey.clock.advance(timedelta(minutes=10))
    journey.run_jobs()
    journey.clock.advance(timedelta(minutes=10))
    journey.run_jobs()
    journey.clock.advance(timedelta(minutes=10))
    journey.run_jobs()

    incidents = journey.incidents()
    assert [incident.element_id for incident in incidents] == ["check_cqc"]
    assert journey.status(instance_id) == "running"
    assert journey.get(Provider, provider_id).status == "registered"
