"""The provider journey driven through the portal pages over the real diagrams, with jobs run between requests."""

import re
from datetime import date, datetime, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from care.delivery import package_reference
from care.models.enquiries import Enquiry, EnquiryNote, EnquiryRecipient
from care.models.messaging import OutboxEmail
from care.models.packages import CarePackage, ChangeRequest, PackageStatusChange, Visit
from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider
from careplace.wiring import STAFF_GROUPS
from engine.clock import set_clock
from engine.jobs import JobRunner
from engine.models import HumanTask, Incident, Instance
from engine.runtime import Engine
from handlers.care_topics import provider_key, recipient_key
from handlers.email import TEMPLATE_NAMES
from handlers.registry import build_registry
from handlers.simulators.server import start_simulators
from processes.loader import load_all

# Monday 7 June 2027, 09:00 UTC: the enquiry's respond-by date and the package dates follow from it.
NOW = datetime(2027, 6, 7, 9, 0, tzinfo=timezone.utc)
PRICE_FIELD = re.compile(r'name="unit_price"[^>]*value="([^"]*)"')


@pytest.fixture(scope="module")
def simulators():
    server = start_simulators()
    yield server
    server.stop()


@pytest.fixture
def services(services, simulators):
    """The web services with the real handler registry, pointed at the simulators, and every journey diagram deployed."""
    simulators.state.reset()
    services.registry = build_registry(simulators.handler_settings())
    services.engine = Engine(services.session_factory, services.registry, known_groups=STAFF_GROUPS, known_templates=set(TEMPLATE_NAMES))
    services.engine.deploy(load_all(), "analyst")
    return services


@pytest.fixture(autouse=True)
def fixed_clock():
    set_clock(lambda: NOW)
    yield
    set_clock(None)


@pytest.fixture
def run_jobs(services):
    """``run_jobs()``: run service tasks, as the worker would, until none is due; fail on any incident."""

    def run() -> None:
        runner = JobRunner(services.session_factory, services.registry, "test-worker")
        try:
            for _ in range(50):
                if not runner.run_due():
                    break
            else:
                raise AssertionError("service-task jobs were still due after 50 batches")
        finally:
            runner.close()
        with services.session_factory() as db:
            incidents = [(incident.topic, incident.error) for incident in db.scalars(sa.select(Incident))]
        assert incidents == []

    return run


def rows(session_factory, query):
    with session_factory() as db:
        result = list(db.scalars(query))
        db.expunge_all()
        return result


def emails(session_factory, template: str) -> list[str]:
    """Return the recipients of the outbox emails made from ``template``, in the order they were queued."""
    return rows(session_factory, sa.select(OutboxEmail.recipient).where(OutboxEmail.template == template).order_by(OutboxEmail.id))


def open_task_id(session_factory, business_key: str, element_id: str) -> str:
    """Return the id of the one open ``element_id`` task of the instance with ``business_key``."""
    tasks = rows(
        session_factory, sa.select(HumanTask.id).where(HumanTask.business_key == business_key, HumanTask.element_id == element_id, HumanTask.status == "open")
    )
    assert len(tasks) == 1, f"expected one open {element_id} task with business key {business_key}, found {len(tasks)}"
    return tasks[0]


def instance(session_factory, process_id: str, business_key: str) -> Instance:
    found = rows(session_factory, sa.select(Instance).where(Instance.process_id == process_id, Instance.business_key == business_key))
    assert len(found) == 1, f"expected one {process_id} instance with business key {business_key}, found {len(found)}"
    return found[0]


def complete_task(client, csrf_token, task_id: str, values: dict):
    """Open the task page, then post its form with ``values``; the response must go back to the task list."""
    token = csrf_token(client, f"/tasks/{task_id}")
    response = client.post(f"/tasks/{task_id}", data={"csrf_token": token, **values})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def add_user(session_factory, provider_id: int, email: str, password_of: User) -> User:
    """Add a provider user with the same password as ``password_of``.

    NOTE: onboarding creates the provider's account at registration, after the online application,
    so the applicant's login is added by hand; the account step then reuses this user.
    """
    with session_factory.begin() as db:
        user = User(
            email=email,
            display_name="Jo Example",
            password_hash=db.get(User, password_of.id).password_hash,
            role=Role.PROVIDER_USER,
            provider_id=provider_id,
        )
        db.add(user)
        db.flush()
        db.expunge(user)
        return user


def onboard_brightwater(session_factory, logged_in, csrf_token, people, run_jobs) -> tuple[int, User]:
    """Take Brightwater from its first contact to live through the portal; return its provider id and user."""
    staff = logged_in(people.provider_services)
    started = staff.post("/staff/providers/contact", data={"csrf_token": csrf_token(staff, "/tasks")})
    assert started.status_code == 302
    record_task = started.headers["Location"].rsplit("/", 1)[-1]
    complete_task(
        staff,
        csrf_token,
        record_task,
        {"contact_route": "contact_centre", "provider_name": "Brightwater Home Care Ltd", "provider_kind": "company", "contact_email": "office@brightwater.example"},
    )
    run_jobs()

    (provider_id,) = rows(session_factory, sa.select(Provider.id).where(Provider.name == "Brightwater Home Care Ltd"))
    key = provider_key(provider_id)
    onboarding = instance(session_factory, "provider_onboarding", key)
    assert onboarding.status == "running"
    assert rows(session_factory, sa.select(Provider.status).where(Provider.id == provider_id)) == ["contacted"]
    assert emails(session_factory, "provider_information_pack") == ["office@brightwater.example"]

    user = add_user(session_factory, provider_id, "office@brightwater.example", people.provider_user)
    provider = logged_in(user)
    complete_task(
        provider,
        csrf_token,
        open_task_id(session_factory, key, "apply"),
        {
            "contact_person": "Jo Example",
            "provider_name": "Brightwater Home Care Ltd",
            "cqc_provider_id": "1-000000001",
            "company_number": "09000001",
            "charity_number": "",
            "documents_uploaded": "true",
        },
    )
    run_jobs()
    assert rows(session_factory, sa.select(Provider.status).where(Provider.id == provider_id)) == ["applied"]

    application = staff.get(f"/staff/providers/{provider_id}").get_data(as_text=True)
    register_task = open_task_id(session_factory, key, "register")
    assert f'href="/tasks/{register_task}"' in application
    complete_task(staff, csrf_token, register_task, {"registration_note": "Application and documents complete"})
    run_jobs()

    assert rows(session_factory, sa.select(Provider.status).where(Provider.id == provider_id)) == ["registered"]
    assert emails(session_factory, "access_instructions") == ["office@brightwater.example"]
    # The provider follows the set-password link in the access email, which works once and logs it in.
    (link,) = rows(session_factory, sa.select(OutboxEmail.link).where(OutboxEmail.template == "access_instructions"))
    link_path = urlsplit(link).path
    password = "correct horse battery staple"
    set_password = provider.post(link_path, data={"csrf_token": csrf_token(provider, link_path), "password": password, "confirmation": password})
    assert set_password.status_code == 302
    assert provider.get(link_path).status_code == 404
    assert rows(session_factory, sa.select(User.id).where(User.provider_id == provider_id)) == [user.id]
    complete_task(
        provider,
        csrf_token,
        open_task_id(session_factory, key, "set_up_profile"),
        {"services_offered": "Personal care, Companionship", "districts": "LS6, LS7", "standard_hourly_rate": "22.40", "paypal_email": "pay@brightwater.example"},
    )
    run_jobs()
    complete_task(staff, csrf_token, open_task_id(session_factory, key, "offer_workshop"), {"workshop_start": "2027-06-21T10:00", "workshop_venue": "Exampleton Town Hall"})
    run_jobs()
    assert emails(session_factory, "workshop_invitation") == ["office@brightwater.example"]

    complete_task(staff, csrf_token, open_task_id(session_factory, key, "final_review"), {"final_decision": "approve", "workshop_attended": "true"})
    run_jobs()

    record = rows(session_factory, sa.select(Provider).where(Provider.id == provider_id))[0]
    assert record.status == "live"
    assert record.standard_hourly_rate == Decimal("22.40")
    assert instance(session_factory, "provider_onboarding", key).status == "completed"
    assert emails(session_factory, "go_live") == ["office@brightwater.example"]
    return provider_id, user


def raise_enquiry(session_factory, logged_in, csrf_token, people, run_jobs, provider_ids: list[int]) -> tuple[object, Enquiry]:
    """Raise an enquiry for SU-00001 to ``provider_ids`` through the portal; return the care manager's client and the enquiry."""
    with session_factory.begin() as db:
        db.add(ServiceUser(reference="SU-00001", display_name="Grace Example", postcode_district="LS6", full_postcode="LS6 9ZZ", address="1 Example Street"))
    care_manager = logged_in(people.care_manager)
    started = care_manager.post("/staff/enquiries/new", data={"csrf_token": csrf_token(care_manager, "/staff/enquiries/new"), "service_user_reference": "SU-00001"})
    assert started.status_code == 302
    raise_task = started.headers["Location"].rsplit("/", 1)[-1]
    complete_task(
        care_manager,
        csrf_token,
        raise_task,
        {"hours_per_week": "10.5", "expected_start_on": "2027-07-05", "urgency": "standard", "provider_ids": ",".join(map(str, provider_ids)), "notes": "Two visits a day"},
    )
    run_jobs()

    (enquiry,) = rows(session_factory, sa.select(Enquiry))
    assert instance(session_factory, "enquiry", enquiry.reference).status == "running"
    for provider_id in provider_ids:
        assert instance(session_factory, "enquiry_recipient", recipient_key(enquiry.reference, provider_id)).status == "running"
    return care_manager, enquiry


def respond(session_factory, client, csrf_token, enquiry: Enquiry, provider_id: int, values: dict) -> str:
    """Open the enquiry as the provider, follow its respond link, and post ``values`` merged into the pre-filled form; return the pre-filled price."""
    page = client.get(f"/provider/enquiries/{enquiry.id}").get_data(as_text=True)
    task_id = open_task_id(session_factory, recipient_key(enquiry.reference, provider_id), "respond")
    assert f'href="/tasks/{task_id}"' in page
    form = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    price = PRICE_FIELD.search(form)
    assert price is not None, "the respond form has no unit_price field"
    complete_task(client, csrf_token, task_id, {"unit_price": price.group(1), **values})
    return price.group(1)


def recipient(session_factory, enquiry_id: int, provider_id: int) -> EnquiryRecipient:
    return rows(session_factory, sa.select(EnquiryRecipient).where(EnquiryRecipient.enquiry_id == enquiry_id, EnquiryRecipient.provider_id == provider_id))[0]


def select_and_confirm(session_factory, care_manager, csrf_token, enquiry: Enquiry, provider_id: int, run_jobs) -> int:
    """Select ``provider_id`` on the selection page and confirm the start; return the new package's id."""
    overview = care_manager.get(f"/staff/enquiries/{enquiry.id}").get_data(as_text=True)
    assert f'href="/staff/enquiries/{enquiry.id}/select"' in overview
    token = csrf_token(care_manager, f"/staff/enquiries/{enquiry.id}/select")
    selected = care_manager.post(f"/staff/enquiries/{enquiry.id}/select", data={"csrf_token": token, "decision": "select", "provider_id": str(provider_id)})
    assert selected.status_code == 302
    run_jobs()

    complete_task(care_manager, csrf_token, open_task_id(session_factory, enquiry.reference, "confirm_start"), {"start_on": "2027-07-05"})
    run_jobs()
    (package_id,) = rows(session_factory, sa.select(CarePackage.id).where(CarePackage.enquiry_id == enquiry.id))
    assert instance(session_factory, "enquiry", enquiry.reference).status == "completed"
    assert instance(session_factory, "care_package", package_reference(package_id)).status == "running"
    return package_id


def package_status(session_factory, package_id: int) -> str:
    return rows(session_factory, sa.select(CarePackage.status).where(CarePackage.id == package_id))[0]


def test_journey_from_contact_to_visit(session_factory, logged_in, csrf_token, people, run_jobs):
    brightwater, brightwater_user = onboard_brightwater(session_factory, logged_in, csrf_token, people, run_jobs)
    other = people.provider.id
    care_manager, enquiry = raise_enquiry(session_factory, logged_in, csrf_token, people, run_jobs, [brightwater, other])
    assert sorted(emails(session_factory, "enquiry_new")) == ["office@brightwater.example", "provider1@example.test"]

    provider = logged_in(brightwater_user)
    page = provider.get(f"/provider/enquiries/{enquiry.id}")
    run_jobs()
    assert page.status_code == 200
    assert recipient(session_factory, enquiry.id, brightwater).viewed_at == NOW

    token = csrf_token(provider, f"/provider/enquiries/{enquiry.id}")
    noted = provider.post(f"/provider/enquiries/{enquiry.id}/notes", data={"csrf_token": token, "body": "Is a hoist in place?"})
    assert noted.status_code == 302
    notes = rows(session_factory, sa.select(EnquiryNote).where(EnquiryNote.enquiry_id == enquiry.id))
    assert [(note.provider_id, note.body) for note in notes] == [(brightwater, "Is a hoist in place?")]

    price = respond(session_factory, provider, csrf_token, enquiry, brightwater, {"response": "accepted", "response_note": "We can start on the 5th"})
    run_jobs()
    assert price == "22.40"
    accepted = recipient(session_factory, enquiry.id, brightwater)
    assert accepted.response == "accepted"
    assert accepted.unit_price == Decimal("22.40")

    respond(session_factory, logged_in(people.provider_user), csrf_token, enquiry, other, {"response": "declined", "decline_reason": "No carers free in LS6"})
    run_jobs()
    assert recipient(session_factory, enquiry.id, other).decline_reason == "No carers free in LS6"

    package_id = select_and_confirm(session_factory, care_manager, csrf_token, enquiry, brightwater, run_jobs)
    assert emails(session_factory, "selection_provisional") == ["office@brightwater.example"]
    assert emails(session_factory, "selection_confirmed") == ["office@brightwater.example"]
    assert emails(session_factory, "selection_not_selected") == ["provider1@example.test"]
    assert recipient(session_factory, enquiry.id, brightwater).outcome == "selected_confirmed"
    assert instance(session_factory, "enquiry_recipient", recipient_key(enquiry.reference, other)).status == "completed"

    outcome = provider.get(f"/provider/enquiries/{enquiry.id}").get_data(as_text=True)
    packages = provider.get("/provider/packages").get_data(as_text=True)
    assert "1 Example Street" in outcome
    assert f'href="/provider/packages/{package_id}"' in packages

    token = csrf_token(provider, f"/provider/packages/{package_id}")
    suspended = provider.post(f"/provider/packages/{package_id}/suspend", data={"csrf_token": token, "suspend-reason": "hospital", "suspend-effective_on": "2027-07-10"})
    assert suspended.status_code == 302
    assert package_status(session_factory, package_id) == "active"

    # The instance is between two waits until the worker suspends the package, so a second report is refused.
    again = provider.post(f"/provider/packages/{package_id}/suspend", data={"csrf_token": token, "suspend-reason": "holiday", "suspend-effective_on": "2027-07-11"})
    assert "Nothing was changed" in provider.get(f"/provider/packages/{package_id}").get_data(as_text=True)
    assert again.status_code == 302
    run_jobs()

    history = rows(session_factory, sa.select(PackageStatusChange).where(PackageStatusChange.package_id == package_id).order_by(PackageStatusChange.id))
    assert package_status(session_factory, package_id) == "suspended"
    assert [(change.to_status, change.reason, change.effective_on, change.changed_by_id) for change in history[1:]] == [
        ("suspended", "hospital", date(2027, 7, 10), brightwater_user.id)
    ]
    assert emails(session_factory, "package_suspended") == ["office@brightwater.example"]

    resumed = provider.post(f"/provider/packages/{package_id}/resume", data={"csrf_token": token, "resume-effective_on": "2027-07-17"})
    run_jobs()
    assert resumed.status_code == 302
    assert package_status(session_factory, package_id) == "active"
    assert emails(session_factory, "package_resumed") == ["office@brightwater.example"]
    assert instance(session_factory, "care_package", package_reference(package_id)).status == "running"

    visit = provider.post(
        f"/provider/packages/{package_id}/visits",
        data={"csrf_token": token, "visit-visit_on": "2027-07-18", "visit-start_time": "09:00", "visit-end_time": "10:30", "visit-carer_initials": "AB"},
    )
    assert visit.status_code == 302
    visits = rows(session_factory, sa.select(Visit).where(Visit.package_id == package_id))
    assert [(row.visit_on, row.duration_hours) for row in visits] == [(date(2027, 7, 18), Decimal("1.50"))]


def test_change_request_review_through_diagram(session_factory, logged_in, csrf_token, people, run_jobs):
    provider_id = people.provider.id
    care_manager, enquiry = raise_enquiry(session_factory, logged_in, csrf_token, people, run_jobs, [provider_id])
    provider = logged_in(people.provider_user)
    respond(session_factory, provider, csrf_token, enquiry, provider_id, {"response": "accepted"})
    run_jobs()
    package_id = select_and_confirm(session_factory, care_manager, csrf_token, enquiry, provider_id, run_jobs)

    token = csrf_token(provider, f"/provider/packages/{package_id}")
    sent = provider.post(f"/provider/packages/{package_id}/change-request", data={"csrf_token": token, "change-hours_per_week": "14", "change-reason": "Needs a second carer"})
    run_jobs()
    assert sent.status_code == 302
    (change,) = rows(session_factory, sa.select(ChangeRequest).where(ChangeRequest.package_id == package_id))
    assert change.requested_hours_per_week == Decimal("14.00")
    assert change.requested_by_id == people.provider_user.id
    review_task = open_task_id(session_factory, package_reference(package_id), "review_change")

    review_token = csrf_token(care_manager, "/staff/change-requests")
    rejected = care_manager.post(f"/staff/change-requests/{change.id}", data={"csrf_token": review_token, "decision": "reject", "note": ""})
    assert rejected.status_code == 302
    assert open_task_id(session_factory, package_reference(package_id), "review_change") == review_task

    approved = care_manager.post(f"/staff/change-requests/{change.id}", data={"csrf_token": review_token, "decision": "approve", "effective_from": "2027-07-12"})
    run_jobs()
    assert approved.status_code == 302
    reviewed = rows(session_factory, sa.select(ChangeRequest).where(ChangeRequest.id == change.id))[0]
    assert reviewed.status == "approved"
    assert reviewed.effective_from == date(2027, 7, 12)
    assert reviewed.reviewed_by_id == people.care_manager.id
    assert rows(session_factory, sa.select(HumanTask.status).where(HumanTask.id == review_task)) == ["completed"]
