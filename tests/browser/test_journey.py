"""The provider journey walked in Chromium by each role in turn, from first contact to payment, over the real diagrams."""

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from care.models.messaging import OutboxEmail
from care.models.people import Role, ServiceUser
from care.models.providers import Provider
from tests.browser.conftest import PASSWORD, add_user, save_screenshot

try:
    from playwright.sync_api import expect
except ImportError:
    # The browser fixture skips the test locally, or fails it on CI, with the install command.
    expect = None

# The journey starts on Monday 7 June 2027 at 09:00 UTC, and the app's clock runs on from there.
START = datetime(2027, 6, 7, 9, 0, tzinfo=timezone.utc)
# The first payment period runs from the anchor for 28 days, so its run falls due on Monday 5 July 2027 at 06:00 London time.
PAYMENT_ANCHOR = "2027-06-07"
FIRST_RUN_DUE = datetime(2027, 7, 5, 5, 0, tzinfo=timezone.utc)
PROVIDER_NAME = "Brightwater Home Care Ltd"
PROVIDER_EMAIL = "office@brightwater.example"
# Milliseconds to wait for the in-process scheduler to finish the work a page started.
WORKER_WAIT_MS = 20_000

pytestmark = pytest.mark.slow


@pytest.fixture
def journey_server(monkeypatch, request):
    """The live server with its clock at START and the payment calendar anchored on that day."""
    monkeypatch.setenv("CAREPLACE_PAYMENT_RUN_ANCHOR", PAYMENT_ANCHOR)
    monkeypatch.setenv("CAREPLACE_PAYMENT_RUN_EVERY_DAYS", "28")
    server = request.getfixturevalue("live_server")
    server.clock.advance(START - server.clock())
    return server


class Person:
    """One person at one browser context: logs in, follows links and fills forms as they would."""

    def __init__(self, browser, base_url: str, email: str):
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.base_url = base_url
        self.email = email

    def log_in(self) -> None:
        self.page.goto(f"{self.base_url}/login")
        expect(self.page.get_by_role("heading", name="Log in to Care Place")).to_be_visible()
        self.page.get_by_label("Email").fill(self.email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_load_state()

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base_url}{path}")

    def heading(self, name) -> None:
        expect(self.page.get_by_role("heading", level=1, name=name)).to_be_visible()

    def flash(self, text) -> None:
        expect(self.page.locator(".flash").filter(has_text=text)).to_be_visible()

    def open_task(self, name: str) -> None:
        """Open the task list and follow the link of the task named ``name``, reloading until the worker has created it."""
        self.open("/tasks")
        link = self.page.get_by_role("link", name=name, exact=True)
        self.reload_until(link)
        link.first.click()
        self.heading(name)

    def reload_until(self, locator, timeout_ms: int = WORKER_WAIT_MS) -> None:
        deadline = self.page.evaluate("Date.now()") + timeout_ms
        while locator.count() == 0:
            assert self.page.evaluate("Date.now()") < deadline, f"{locator} did not appear on {self.page.url} within {timeout_ms} ms"
            self.page.wait_for_timeout(250)
            self.page.reload()

    def wait_for_text(self, path: str, text: str, timeout_ms: int = WORKER_WAIT_MS) -> None:
        """Open ``path`` and reload it until ``text`` shows, as a person does while the worker finishes."""
        self.open(path)
        self.reload_until(self.page.get_by_text(text), timeout_ms)

    def fill(self, label: str, value: str) -> None:
        self.page.get_by_label(label, exact=True).fill(value)

    def choose(self, label: str, option: str) -> None:
        self.page.get_by_label(label, exact=True).select_option(label=option)

    def complete_task(self, name: str) -> None:
        self.page.get_by_role("button", name="Complete task").click()
        self.flash(f"Task “{name}” is complete.")


def test_journey_contact_to_payment(journey_server, browser):
    server = journey_server
    base = server.base_url
    officer_account = add_user(server.services, Role.PROVIDER_SERVICES, "ps.birch@council.example", "Sam Birch")
    care_manager_account = add_user(server.services, Role.CARE_MANAGER, "cm.ash@council.example", "Robin Ash")
    add_user(server.services, Role.ADMIN, "admin@council.example", "Alex Admin")
    with server.services.session_factory.begin() as db:
        db.add(ServiceUser(reference="SU-00042", display_name="Grace Example", postcode_district="ZZ1", full_postcode="ZZ1 9ZZ", address="1 Example Street"))

    # Stage 1, contact: the provider services team records a call from Brightwater.
    officer = Person(browser, base, officer_account.email)
    officer.log_in()
    officer.heading("Providers")
    officer.page.get_by_role("button", name="Record a new provider contact").click()
    officer.heading("Record provider contact")
    officer.choose("How the provider came to us", "The provider contacted the contact centre")
    officer.fill("Organisation name", PROVIDER_NAME)
    officer.choose("Company or charity", "Company")
    officer.fill("Contact email address", PROVIDER_EMAIL)
    save_screenshot(officer.page, "task-form")
    officer.complete_task("Record provider contact")
    officer.heading("Tasks")

    officer.wait_for_text("/staff/providers", PROVIDER_NAME)
    with server.services.session_factory() as db:
        provider_id = db.scalar(sa.select(Provider.id).where(Provider.name == PROVIDER_NAME))
    # NOTE: onboarding creates the provider's account at registration, after the online application, so the
    # applicant's login is added by hand; the account step reuses it and emails a set-password link.
    add_user(server.services, Role.PROVIDER_USER, PROVIDER_EMAIL, "Jo Example", provider_id)

    # Stage 2, registration: the provider applies online.
    provider = Person(browser, base, PROVIDER_EMAIL)
    provider.log_in()
    provider.heading("Enquiries")
    provider.open("/tasks")
    provider.heading("Tasks")
    expect(provider.page.get_by_role("link", name="Apply to join Care Place")).to_be_visible()
    save_screenshot(provider.page, "task-list")
    provider.open_task("Apply to join Care Place")
    provider.fill("Legal name of the organisation", PROVIDER_NAME)
    provider.fill("CQC provider id, such as 1-000000001", "CQC-1")
    provider.fill("Main contact person", "Jo Example")
    provider.page.get_by_role("button", name="Complete task").click()
    expect(provider.page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(provider.page.get_by_role("alert")).to_contain_text("CQC provider id, such as 1-000000001")
    save_screenshot(provider.page, "task-form-error")

    provider.fill("CQC provider id, such as 1-000000001", "1-000000001")
    provider.fill("Companies House number (companies) (optional)", "09000001")
    provider.page.get_by_label("I have uploaded the required documents").check()
    provider.complete_task("Apply to join Care Place")

    # The team registers the provider from its application page; the CQC and Companies House checks run on the simulators.
    officer.open(f"/staff/providers/{provider_id}")
    officer.heading(PROVIDER_NAME)
    register = officer.page.get_by_role("link", name="Register provider on Care Place")
    officer.reload_until(register)
    register.click()
    officer.fill("Note for the record (optional)", "Application and documents complete")
    officer.complete_task("Register provider on Care Place")
    officer.wait_for_text(f"/staff/providers/{provider_id}", "Registered")
    expect(officer.page.locator("dl.summary")).to_contain_text("1-000000001")

    # The provider sets up its profile once the checks pass and the access email is queued.
    provider.open_task("Set up profile and PayPal account")
    provider.fill("Services offered, separated by commas", "Personal care, Companionship")
    provider.fill("Postcode districts covered, separated by commas, such as ZZ1, ZZ2", "ZZ1, ZZ2")
    provider.fill("Standard hourly rate in pounds", "22.40")
    provider.fill("Email address of the PayPal payee account", "pay@brightwater.example")
    provider.complete_task("Set up profile and PayPal account")

    # The access email's set-password link works once and logs the provider in.
    with server.services.session_factory() as db:
        (link,) = db.scalars(sa.select(OutboxEmail.link).where(OutboxEmail.template == "access_instructions"))
    provider.open(urlsplit(link).path)
    provider.heading("Set your password")
    provider.fill("New password", PASSWORD)
    provider.fill("Confirm the new password", PASSWORD)
    provider.page.get_by_role("button", name="Set password").click()
    provider.flash("Your password is set and you are logged in.")
    provider.open(urlsplit(link).path)
    provider.heading("This link does not work")

    officer.open_task("Offer a workshop place")
    officer.fill("Workshop date and London time, such as 2027-06-21T10:00", "2027-06-21T10:00")
    officer.fill("Workshop venue or video link", "Exampleton Town Hall")
    officer.complete_task("Offer a workshop place")

    officer.open_task("Final review")
    officer.choose("Decision", "Approve: the provider goes live")
    officer.page.get_by_label("The provider attended the workshop").check()
    officer.complete_task("Final review")
    officer.wait_for_text(f"/staff/providers/{provider_id}", "Live")
    expect(officer.page.locator("dl.summary")).to_contain_text("£22.40")

    # Stage 3, receive enquiry: the care manager raises one for SU-00042 and sends it to Brightwater.
    care_manager = Person(browser, base, care_manager_account.email)
    care_manager.log_in()
    care_manager.heading("Enquiries")
    care_manager.page.get_by_role("link", name="Raise an enquiry").click()
    care_manager.fill("Service user reference", "SU-00042")
    care_manager.page.get_by_role("button", name="Continue").click()
    care_manager.heading("Raise enquiry")
    care_manager.fill("Hours of care per week", "10.5")
    care_manager.fill("Expected start date", "2027-06-14")
    care_manager.fill("Providers to send to (ids separated by commas) (optional)", str(provider_id))
    care_manager.fill("Notes for providers (optional)", "Morning and evening visits; help with medication.")
    care_manager.complete_task("Raise enquiry")

    # The provider sees the new enquiry in its list and opens it.
    provider.wait_for_text("/provider/enquiries", "ENQ-")
    provider.page.get_by_role("link", name=re.compile(r"ENQ-")).first.click()
    provider.heading(re.compile(r"Enquiry ENQ-"))
    reference = provider.page.get_by_role("heading", level=1).inner_text().removeprefix("Enquiry ").strip()
    enquiry_path = provider.page.url.removeprefix(base)
    expect(provider.page.locator("dl.summary")).to_contain_text("ZZ1")
    expect(provider.page.get_by_text("The service user's full address is shown only to the provider the care manager selects.")).to_be_visible()
    expect(provider.page.get_by_text("1 Example Street")).to_have_count(0)

    # Stage 4, respond: a question in a note, the care manager's answer, then accept at the pre-filled price.
    provider.fill("Your note", "Is a hoist already in place?")
    provider.page.get_by_role("button", name="Send note to the council").click()
    provider.flash("Your note was sent to the council.")
    save_screenshot(provider.page, "provider-enquiry")

    care_manager.open("/staff/enquiries")
    care_manager.page.get_by_role("link", name=reference).click()
    care_manager.heading(f"Enquiry {reference}")
    expect(care_manager.page.get_by_text("Is a hoist already in place?")).to_be_visible()
    care_manager.choose("Provider", PROVIDER_NAME)
    care_manager.fill("Note", "Yes, a ceiling hoist was fitted in May.")
    care_manager.page.get_by_role("button", name="Add note").click()
    care_manager.flash("The note is added to the provider's thread.")

    provider.open(enquiry_path)
    expect(provider.page.get_by_text("Yes, a ceiling hoist was fitted in May.")).to_be_visible()
    provider.page.get_by_role("link", name="Respond to this enquiry").click()
    provider.heading("Respond to enquiry")
    expect(provider.page.get_by_label("Price per hour in pounds (accept) (optional)")).to_have_value("22.40")
    provider.choose("Response", "Accept")
    provider.fill("Note for the care manager (optional)", "We can start on the 14th.")
    provider.complete_task("Respond to enquiry")

    # Stage 5, response notification: the care manager compares, selects and confirms.
    care_manager.wait_for_text(f"/staff/enquiries/{enquiry_path.rsplit('/', 1)[-1]}", "£22.40 an hour")
    responses = care_manager.page.locator(".side-by-side article").filter(has_text=PROVIDER_NAME)
    expect(responses).to_contain_text("Accepted")
    expect(responses).to_contain_text("We can start on the 14th.")
    save_screenshot(care_manager.page, "responses-side-by-side")

    select = care_manager.page.get_by_role("link", name="Compare responses and select a provider")
    care_manager.reload_until(select)
    select.click()
    care_manager.heading(f"Select a provider for enquiry {reference}")
    care_manager.page.get_by_label("Select a provider that accepted").check()
    care_manager.page.get_by_label(f"{PROVIDER_NAME}, £22.40 an hour").check()
    care_manager.page.get_by_role("button", name="Record decision").click()
    care_manager.flash("Your decision is recorded.")

    care_manager.open_task("Confirm the care package start")
    care_manager.fill("Care starts on", "2027-06-14")
    care_manager.complete_task("Confirm the care package start")

    provider.wait_for_text(enquiry_path, "Selected confirmed")
    expect(provider.page.get_by_text("You are the selected provider, so you can see where to deliver care.")).to_be_visible()
    expect(provider.page.get_by_text("1 Example Street")).to_be_visible()

    # Stage 6, deliver service: the provider logs a visit on the communication sheet of the new package.
    provider.wait_for_text("/provider/packages", "SU-00042")
    provider.page.get_by_role("link", name=re.compile(r"Package \d+")).first.click()
    provider.heading(re.compile(r"Care package \d+"))
    expect(provider.page.locator("dl.summary")).to_contain_text("£22.40")
    provider.fill("Date of the visit", "2027-06-14")
    provider.fill("Start time (optional)", "09:00")
    provider.fill("End time (optional)", "10:30")
    provider.fill("Carer's initials (optional)", "AB")
    provider.page.get_by_role("button", name=re.compile("visit", re.IGNORECASE)).click()
    provider.flash("The visit is added to the communication sheet.")
    expect(provider.page.get_by_role("table").filter(has_text="Latest visits first")).to_contain_text("1.50")

    # Stage 7, receive payment: the first payment run falls due on 5 July. The app's clock moves there and the
    # scheduler's calendar job is brought forward, as the worker would reach it on its own within five minutes.
    server.clock.advance(FIRST_RUN_DUE + timedelta(minutes=30) - server.clock())
    server.run_calendar_now()
    admin = Person(browser, base, "admin@council.example")
    admin.log_in()
    admin.open("/admin/instances?process_id=payment_run")
    run_row = admin.page.locator("tr").filter(has_text="payment_run")
    # The simulated PayPal reports a new batch as pending on the first read, so the run sets a one-hour timer
    # (the fifth column, "Next timer") and reads the batch again when it fires.
    admin.reload_until(run_row.locator("td").nth(4).locator("time"))
    run_row.get_by_role("link").first.click()
    admin.page.get_by_role("link", name="Show the state on the diagram").click()
    admin.page.wait_for_selector(".djs-container", timeout=WORKER_WAIT_MS)
    expect(admin.page.get_by_text("Diagram loaded.")).to_be_visible()
    save_screenshot(admin.page, "instance-diagram")
    server.clock.advance(timedelta(hours=1, minutes=5))

    provider.open("/provider/payments")
    provider.heading("Payments and remittances")
    provider.reload_until(provider.page.locator("dl.summary dd").filter(has_text=re.compile(r"^Paid$")), timeout_ms=60_000)
    payment = provider.page.locator("section").filter(has_text="Care from")
    expect(payment).to_contain_text("£33.60")
    expect(payment).to_contain_text("pay@brightwater.example")
    save_screenshot(provider.page, "payments")
