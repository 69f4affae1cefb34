"""Fixtures for the web tests: an app over the migrated database, people of every role, and a login helper."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from app_services import build_test_services
from care.enquiries import create_enquiry, send_enquiry
from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider, ProviderDistrict, ProviderKind, ProviderStatus
from engine.jobs import JobRunner
from web import create_app

DIAGRAMS = Path(__file__).with_name("diagrams")
PASSWORD = "correct horse battery staple"
# A cheap hash keeps the many logins in these tests fast; real accounts use werkzeug's default.
TEST_HASH_METHOD = "pbkdf2:sha256:1000"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def services(db_url, session_factory):
    return build_test_services(db_url, session_factory, "web.flaky")


@pytest.fixture
def app(services):
    return create_app(services.settings, services, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class People:
    """One user of every role, two live providers with a user each, and their ids."""

    care_manager: User
    provider_services: User
    analyst: User
    admin: User
    provider_user: User
    other_provider_user: User
    provider: Provider
    other_provider: Provider

    def by_role(self, role: str) -> User:
        return getattr(self, role)


def _provider(db, number: int) -> Provider:
    provider = Provider(
        name=f"Example Home Care {number} Ltd",
        kind=ProviderKind.COMPANY,
        company_number=f"ZZ{number:06d}",
        status=ProviderStatus.LIVE,
        standard_hourly_rate=Decimal("21.50"),
        paypal_email=f"payments{number}@provider.example.test",
    )
    provider.districts = [ProviderDistrict(postcode_district="LS6")]
    db.add(provider)
    db.flush()
    return provider


def _user(db, role: str, email: str, provider: Provider | None = None) -> User:
    user = User(
        email=email,
        display_name=f"Test {role.replace('_', ' ')}",
        password_hash=generate_password_hash(PASSWORD, method=TEST_HASH_METHOD),
        role=role,
        provider_id=provider.id if provider else None,
    )
    db.add(user)
    db.flush()
    return user


@pytest.fixture
def people(session_factory) -> People:
    with session_factory.begin() as db:
        provider = _provider(db, 1)
        other_provider = _provider(db, 2)
        result = People(
            care_manager=_user(db, Role.CARE_MANAGER, "cm@example.test"),
            provider_services=_user(db, Role.PROVIDER_SERVICES, "ps@example.test"),
            analyst=_user(db, Role.ANALYST, "analyst@example.test"),
            admin=_user(db, Role.ADMIN, "admin@example.test"),
            provider_user=_user(db, Role.PROVIDER_USER, "provider1@example.test", provider),
            other_provider_user=_user(db, Role.PROVIDER_USER, "provider2@example.test", other_provider),
            provider=provider,
            other_provider=other_provider,
        )
    return result


def read_csrf_token(client, path: str) -> str:
    """Return the CSRF token from the form on the page at ``path``."""
    response = client.get(path)
    match = CSRF_FIELD.search(response.get_data(as_text=True))
    assert match is not None, f"no CSRF token on {path} (status {response.status_code})"
    return match.group(1)


def post_login(client, user: User, password: str = PASSWORD):
    token = read_csrf_token(client, "/login")
    return client.post("/login", data={"email": user.email, "password": password, "csrf_token": token})


@pytest.fixture
def csrf_token():
    """``csrf_token(client, path)``: the CSRF token of the form at ``path``."""
    return read_csrf_token


@pytest.fixture
def login():
    """``login(client, user, password=PASSWORD)``: post the login form and return the response."""
    return post_login


@pytest.fixture
def logged_in(app):
    """``logged_in(user)``: a new test client logged in as ``user``."""

    def make(user: User):
        client = app.test_client()
        response = post_login(client, user)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def enquiry_id(session_factory, people) -> int:
    """An open enquiry sent to the first provider only."""
    with session_factory.begin() as db:
        person = ServiceUser(reference="SU-00001", display_name="Grace Example", postcode_district="LS6", full_postcode="LS6 9ZZ", address="1 Example Street")
        db.add(person)
        db.flush()
        enquiry = create_enquiry(db, service_user_id=person.id, raised_by_id=people.care_manager.id, hours_per_week=Decimal("12.50"), expected_start_on=date(2031, 7, 5), notes="Two visits a day")
        send_enquiry(db, enquiry.id, [people.provider.id])
        return enquiry.id


@pytest.fixture
def deployed(services):
    services.engine.deploy({"web_review.bpmn": (DIAGRAMS / "web_review.bpmn").read_bytes()}, "test")


@pytest.fixture
def run_jobs(services):
    """``run_jobs()``: run the due service-task jobs once, as the worker would, and return the outcomes."""

    def run() -> list:
        runner = JobRunner(services.session_factory, services.registry, "test-worker")
        try:
            return runner.run_due()
        finally:
            runner.close()

    return run
