"""Demo stages 1 and 2: council staff and two live providers, then a new provider onboarded through provider_onboarding.bpmn."""

from decimal import Decimal

import sqlalchemy as sa

from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider, ProviderDistrict, ProviderKind, ProviderStatus, ProviderStatusChange
from careplace.demo_support import Demo, london
from engine.runtime import Actor

# Every name, address and number here is made up. Brightwater's CQC id and company number
# are records of the simulated registers (handlers/simulators/fixtures.py).
DISTRICT = "ZZ1"
BRIGHTWATER = {
    "provider_name": "Brightwater Home Care Ltd",
    "cqc_provider_id": "1-000000001",
    "company_number": "09000001",
    "contact_email": "office@brightwater.example",
    "paypal_email": "pay@brightwater.example",
    "rate": Decimal("22.40"),
}
OTHER_PROVIDERS = (
    ("meadowlark", "Meadowlark Care Services Limited", "09000002", "office@meadowlark.example", "21.90"),
    ("kestrel", "Kestrel Homecare Ltd", "09100007", "office@kestrel.example", "23.10"),
)


def staff_actor(demo: Demo, key: str, group: str) -> Actor:
    return Actor(str(demo.ids[key]), frozenset({group}))


def provider_actor(demo: Demo, name: str) -> Actor:
    provider_id = demo.ids[f"{name}_provider"]
    return Actor(str(demo.ids[f"{name}_user"]), frozenset({f"provider-{provider_id}", "provider_user"}))


def seed_people(demo: Demo) -> None:
    """Create the care manager, the provider services officer, the service user and two providers already live."""
    demo.begin_stage("Set-up", "made-up people; the service user is shown only by reference and postcode district")
    with demo.session_factory.begin() as session:
        care_manager = User(email="cm.ash@council.example", display_name="Robin Ash", role=Role.CARE_MANAGER)
        officer = User(email="ps.birch@council.example", display_name="Sam Birch", role=Role.PROVIDER_SERVICES)
        service_user = ServiceUser(reference="SU-DEMO-0001", display_name="Demo Person", postcode_district=DISTRICT)
        session.add_all([care_manager, officer, service_user])
        session.flush()
        demo.ids.update(care_manager=care_manager.id, officer=officer.id, service_user=service_user.id)

        for key, name, company_number, email, rate in OTHER_PROVIDERS:
            provider = Provider(
                name=name,
                kind=ProviderKind.COMPANY,
                company_number=company_number,
                status=ProviderStatus.LIVE,
                standard_hourly_rate=Decimal(rate),
                paypal_email=f"pay@{key}.example",
            )
            provider.districts = [ProviderDistrict(postcode_district=DISTRICT)]
            session.add(provider)
            session.flush()
            user = User(email=email, display_name=f"{name} office", role=Role.PROVIDER_USER, provider_id=provider.id)
            session.add(user)
            session.flush()
            demo.ids[f"{key}_provider"] = provider.id
            demo.ids[f"{key}_user"] = user.id

    demo.say("set-up", "care manager Robin Ash and provider services officer Sam Birch have accounts")
    demo.say("set-up", f"service user SU-DEMO-0001 lives in {DISTRICT}")
    demo.say("set-up", "Meadowlark Care Services Limited and Kestrel Homecare Ltd are already live in " + DISTRICT)


def onboard_provider(demo: Demo) -> None:
    """Drive provider_onboarding.bpmn for Brightwater: contact, application, checks, profile, workshop and go-live."""
    demo.begin_stage("Stages 1-2: contact and registration", "through provider_onboarding.bpmn")
    officer = staff_actor(demo, "officer", "provider_services")
    email = BRIGHTWATER["contact_email"]
    name = BRIGHTWATER["provider_name"]

    demo.at(london(2027, 1, 4, 9, 30))
    instance_id = demo.engine.start("provider_onboarding", business_key="onboarding-brightwater", actor="demo")
    demo.complete(
        "record_contact",
        {"contact_route": "contact_centre", "provider_name": name, "provider_kind": "company", "contact_email": email},
        officer,
        instance_id,
    )
    provider_id = demo.engine.instance_data(instance_id)["provider_id"]
    demo.ids["brightwater_provider"] = provider_id
    demo.say("provider services", f"recorded a call from {name} to the contact centre")
    demo.check_email(email, "Becoming an approved home-care provider on Care Place")

    demo.at(london(2027, 1, 6, 14, 0))
    applicant = Actor("applicant", frozenset({f"provider-{provider_id}"}))
    demo.complete(
        "apply",
        {
            "provider_name": name,
            "cqc_provider_id": BRIGHTWATER["cqc_provider_id"],
            "company_number": BRIGHTWATER["company_number"],
            "charity_number": "",
            "contact_person": "Jo Example",
            "documents_uploaded": "true",
        },
        applicant,
        instance_id,
    )
    demo.say("Brightwater", f"applied online: CQC {BRIGHTWATER['cqc_provider_id']}, company {BRIGHTWATER['company_number']}")
    demo.check_equal(demo.get(Provider, provider_id).status, "applied", "provider status after the application")

    demo.at(london(2027, 1, 7, 10, 0))
    cqc_calls = demo.simulators.state.call_count("cqc", "get_provider")
    company_calls = demo.simulators.state.call_count("companies_house", "get_company")
    demo.complete("register", {"registration_note": "Application and documents complete"}, officer, instance_id)
    _find_provider_user(demo, provider_id)
    demo.say("provider services", f"registered {name} on Care Place; onboarding created the account {email} and emailed a set-password link")
    demo.check_equal(demo.simulators.state.call_count("cqc", "get_provider") - cqc_calls, 1, "CQC register calls")
    demo.check_equal(demo.simulators.state.call_count("companies_house", "get_company") - company_calls, 1, "Companies House calls")
    demo.say("system", "CQC check passed (Registered) and Companies House check passed (active) on the simulators")
    demo.check_equal(demo.get(Provider, provider_id).status, "registered", "provider status after the checks")
    demo.check_email(email, "Your Care Place account is ready")

    demo.at(london(2027, 1, 11, 11, 0))
    demo.complete(
        "set_up_profile",
        {
            "services_offered": "Personal care, Companionship",
            "districts": f"{DISTRICT}, ZZ2",
            "standard_hourly_rate": str(BRIGHTWATER["rate"]),
            "paypal_email": BRIGHTWATER["paypal_email"],
        },
        provider_actor(demo, "brightwater"),
        instance_id,
    )
    demo.say("Brightwater", f"set up its profile: {DISTRICT} and ZZ2, £{BRIGHTWATER['rate']} an hour, PayPal payee account")

    demo.at(london(2027, 1, 12, 9, 0))
    demo.complete("offer_workshop", {"workshop_start": "2027-01-19T10:00", "workshop_venue": "Exampleton Town Hall"}, officer, instance_id)
    demo.say("provider services", "offered a place at the onboarding workshop on 19 January")

    demo.at(london(2027, 1, 20, 15, 0))
    demo.complete("final_review", {"final_decision": "approve", "workshop_attended": "true"}, officer, instance_id)
    demo.say("provider services", f"approved {name} at the final review")

    provider = demo.get(Provider, provider_id)
    demo.check_status(instance_id, "completed", "onboarding")
    demo.check_equal(provider.status, "live", "provider status after the final review")
    demo.check_equal(provider.standard_hourly_rate, BRIGHTWATER["rate"], "standard hourly rate")
    demo.check_equal(provider.paypal_email, BRIGHTWATER["paypal_email"], "PayPal payee address")
    with demo.session_factory() as session:
        history = list(session.scalars(sa.select(ProviderStatusChange.to_status).where(ProviderStatusChange.provider_id == provider_id).order_by(ProviderStatusChange.id)))
    demo.check_equal(history, ["applied", "registered", "live"], "provider status history")
    demo.check_email(email, "Invitation: Care Place onboarding workshop on Tuesday 19 January 2027")
    demo.check_email(email, f"{name} is now live on Care Place")


def _find_provider_user(demo: Demo, provider_id: int) -> None:
    """Record the id of the provider user that onboarding's create_account step made."""
    with demo.session_factory() as session:
        user_ids = list(session.scalars(sa.select(User.id).where(User.provider_id == provider_id)))
    demo.check_equal(len(user_ids), 1, "provider users created by onboarding")
    demo.ids["brightwater_user"] = user_ids[0]
