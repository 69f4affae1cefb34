"""provider_onboarding.bpmn driven end to end against the simulated registers."""

import hashlib
import logging
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from care.models.account_tokens import AccountToken
from care.models.people import Role, User
from care.models.providers import Provider, ProviderStatusChange
from engine.errors import FormValidationError
from engine.handler_api import HandlerContext
from handlers.account_topics import find_or_add_provider_user

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


def set_password_token(email) -> str:
    """Return the raw token at the end of the set-password link in an outbox email."""
    match = re.search(r"/account/set-password/([A-Za-z0-9_-]+)", email.body_text)
    assert match is not None, "no set-password link in the email body"
    return match.group(1)


def provider_users(journey, provider_id):
    with journey.session_factory() as session:
        return list(session.scalars(sa.select(User).where(User.provider_id == provider_id)))


def account_tokens(journey):
    with journey.session_factory() as session:
        return list(session.scalars(sa.select(AccountToken)))


def test_onboarding_creates_one_account_and_link(journey, actors, caplog):
    caplog.set_level(logging.DEBUG)
    instance_id, provider_id = start_and_apply(journey, actors)
    finish_onboarding(journey, actors, provider_id)

    assert journey.status(instance_id) == "completed"
    (user,) = provider_users(journey, provider_id)
    assert user.email == "office@brightwater.example"
    assert user.role == Role.PROVIDER_USER
    assert user.password_hash is None
    assert user.display_name == "Jo Example"
    (token,) = account_tokens(journey)
    assert token.user_id == user.id
    assert token.used_at is None
    assert token.expires_at - token.created_at == timedelta(days=7)

    (email,) = journey.emails("access_instructions")
    raw_token = set_password_token(email)
    assert email.link == f"http://127.0.0.1:5000/account/set-password/{raw_token}"
    assert email.link in email.body_text
    assert email.link in email.body_html
    assert token.token_hash == hashlib.sha256(raw_token.encode()).hexdigest()
    assert "account_user_id" in journey.engine.instance_data(instance_id)
    assert raw_token not in caplog.text


def test_onboarding_token_only_in_outbox(journey, actors):
    instance_id, provider_id = start_and_apply(journey, actors)
    raw_token = set_password_token(journey.emails("access_instructions")[0])

    with journey.session_factory() as session:
        metadata = sa.MetaData()
        metadata.reflect(bind=session.get_bind())
        for table in metadata.sorted_tables:
            if table.name == "outbox_emails":
                continue
            for row in session.execute(sa.select(table)):
                assert raw_token not in repr(tuple(row)), f"the raw token is stored in table {table.name}"


def test_create_account_retry_reuses_first_result(journey, actors):
    instance_id, provider_id = start_and_apply(journey, actors)
    spec = journey.registry.get("care.provider.create_account")
    (first_token,) = account_tokens(journey)
    (email,) = journey.emails("access_instructions")

    with journey.session_factory.begin() as session:
        context = HandlerContext(
            instance_id=instance_id,
            task_id="retried",
            element_id="create_account",
            topic=spec.topic,
            business_key=None,
            idempotency_key=first_token.idempotency_key,
            attempt=2,
            session=session,
            now=journey.clock(),
        )
        outputs = spec.handler({"provider_id": provider_id, "contact_email": "office@brightwater.example", "contact_person": "Jo Example"}, context)

    assert outputs == {"account_user_id": first_token.user_id, "email_id": email.id}
    assert len(provider_users(journey, provider_id)) == 1
    assert len(account_tokens(journey)) == 1
    assert len(journey.emails("access_instructions")) == 1


def test_create_account_reuses_provider_user(journey, actors, session_factory):
    instance_id, provider_id = start_and_apply(journey, actors, name="Brightwater Home Care Ltd")
    # A second onboarding run for the same provider and address finds the user the first one made.
    with session_factory.begin() as session:
        user = session.scalar(sa.select(User).where(User.provider_id == provider_id))
        provider = session.get(Provider, provider_id)
        found = find_or_add_provider_user(session, provider, " Office@Brightwater.example ", "Someone Else")
        assert found.id == user.id

    assert len(provider_users(journey, provider_id)) == 1


def test_create_account_staff_address_becomes_incident(journey, actors, session_factory):
    with session_factory.begin() as session:
        session.add(User(email="office@brightwater.example", display_name="Sam Birch", role=Role.PROVIDER_SERVICES))

    instance_id, provider_id = start_and_apply(journey, actors)

    (incident,) = journey.incidents()
    assert incident.element_id == "create_account"
    assert "not a user of this provider" in incident.error
    assert provider_users(journey, provider_id) == []
    assert account_tokens(journey) == []
    assert journey.emails("access_instructions") == []


def test_duplicate_cqc_id_incident_names_holder(journey, actors):
    _first_instance, first_id = start_and_apply(journey, actors)
    second_instance = journey.engine.start("provider_onboarding", business_key="onboarding-Second Care Ltd")
    journey.complete(
        "record_contact",
        {"contact_route": "contact_centre", "provider_name": "Second Care Ltd", "provider_kind": "company", "contact_email": "office@second.example"},
        actors.staff,
        instance_id=second_instance,
    )
    second_id = journey.engine.instance_data(second_instance)["provider_id"]
    form = {"contact_person": "Sam Example", "documents_uploaded": "true", "charity_number": "", **BRIGHTWATER, "provider_name": "Second Care Ltd", "company_number": "09000099"}

    journey.complete("apply", form, actors.provider("applicant", second_id), instance_id=second_instance)
    journey.run_jobs()

    [incident] = journey.incidents()
    assert incident.element_id == "record_application"
    assert "1-000000001" in incident.error
    assert f"provider {first_id} (Brightwater Home Care Ltd) already has this CQC provider id" in incident.error
    assert "IntegrityError" not in incident.error
    assert journey.get(Provider, second_id).cqc_provider_id is None
