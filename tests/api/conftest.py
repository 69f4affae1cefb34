"""Fixtures for the API tests: an app over the migrated database, people and providers, a token per role and a call helper."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app_services import build_test_services
from care.enquiries import create_enquiry, send_enquiry
from care.models.packages import CarePackage
from care.models.payments import Payment, PaymentLine, PaymentRun
from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider, ProviderDistrict, ProviderKind, ProviderStatus
from engine.jobs import JobRunner
from engine.runtime import Actor
from web import create_app
from web.api.auth import RATE_LIMIT_CONFIG
from web.api.tokens import create_account

DIAGRAMS = Path(__file__).with_name("diagrams")
DIAGRAM = DIAGRAMS / "api_review.bpmn"


@pytest.fixture
def services(db_url, session_factory):
    return build_test_services(db_url, session_factory, "api.flaky")


@pytest.fixture
def app(services):
    return create_app(services.settings, services, {"TESTING": True, RATE_LIMIT_CONFIG: "1000/minute"})


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class World:
    """Two live providers, one user of each staff role, a service user, and the ids tests need."""

    provider_id: int
    other_provider_id: int
    care_manager_id: int
    admin_id: int
    service_user_id: int


def _provider(db, number: int) -> Provider:
    provider = Provider(
        name=f"Example Home Care {number} Ltd",
        kind=ProviderKind.COMPANY,
        company_number=f"ZZ{number:06d}",
        status=ProviderStatus.LIVE,
        standard_hourly_rate=Decimal("21.50") + number,
        paypal_email=f"payments{number}@provider.example.test",
    )
    provider.districts = [ProviderDistrict(postcode_district="LS6")]
    db.add(provider)
    db.flush()
    return provider


@pytest.fixture
def world(session_factory) -> World:
    with session_factory.begin() as db:
        provider = _provider(db, 1)
        other = _provider(db, 2)
        care_manager = User(email="cm@example.test", display_name="Test care manager", role=Role.CARE_MANAGER)
        admin = User(email="admin@example.test", display_name="Test admin", role=Role.ADMIN)
        person = ServiceUser(reference="SU-00001", display_name="Grace Example", postcode_district="LS6", full_postcode="LS6 9ZZ", address="1 Example Street")
        db.add_all([care_manager, admin, person])
        db.flush()
        return World(provider.id, other.id, care_manager.id, admin.id, person.id)


@pytest.fixture
def tokens(session_factory, world) -> dict[str, str]:
    """A token per role, plus ``other_provider`` for the second provider's provider_user."""
    result = {}
    with session_factory.begin() as db:
        for role in Role:
            provider_id = world.provider_id if role == Role.PROVIDER_USER else None
            result[role.value] = create_account(db, name=f"test-{role.value}", role=role, provider_id=provider_id, created_by="test").token
        result["other_provider"] = create_account(db, name="test-other-provider", role=Role.PROVIDER_USER, provider_id=world.other_provider_id, created_by="test").token
    return result


@pytest.fixture
def call(client, tokens):
    """``call(method, path, role=None, **kwargs)``: a request with the role's bearer token (none when ``role`` is None)."""

    def send(method: str, path: str, role: str | None = "admin", headers: dict | None = None, **kwargs):
        headers = dict(headers or {})
        if role is not None:
            headers["Authorization"] = f"Bearer {tokens[role]}"
        return client.open(path, method=method, headers=headers, **kwargs)

    return send


@pytest.fixture
def deployed(services):
    services.engine.deploy({"api_review.bpmn": DIAGRAM.read_bytes()}, "test")


@pytest.fixture
def provider_tasks(services, world) -> dict[int, str]:
    """The open ``respond`` task id of an api_provider_task instance for each provider, keyed by provider id.

    The diagram offers the task to ``${'provider-' + str(provider_id)}``, as the real provider diagrams do.
    """
    name = "api_provider_task.bpmn"
    services.engine.deploy({name: (DIAGRAMS / name).read_bytes()}, "test")
    admin = Actor("test-admin", is_admin=True)
    task_ids = {}
    for provider_id in (world.provider_id, world.other_provider_id):
        instance_id = services.engine.start("api_provider_task", business_key=f"PROVIDER-{provider_id}", data={"provider_id": provider_id})
        (task,) = services.engine.list_tasks(admin, business_key=f"PROVIDER-{provider_id}")
        assert task.instance_id == instance_id
        task_ids[provider_id] = task.id
    return task_ids


@pytest.fixture
def message_start_deployed(services):
    """The api_message_start process, which starts only on the message ``api_run_requested``."""
    name = "api_message_start.bpmn"
    services.engine.deploy({name: (DIAGRAMS / name).read_bytes()}, "test")


@pytest.fixture
def instance(deployed, call) -> dict:
    """A started api_review instance waiting at its care-manager task."""
    response = call("POST", "/api/v1/processes/api_review/instances", "care_manager", json={"business_key": "CASE-1", "variables": {"case_id": "C1"}})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def run_jobs(services):
    def run() -> list:
        runner = JobRunner(services.session_factory, services.registry, "test-worker")
        try:
            return runner.run_due()
        finally:
            runner.close()

    return run


@pytest.fixture
def enquiry_id(session_factory, world) -> int:
    """An open enquiry sent to the first provider only."""
    with session_factory.begin() as db:
        enquiry = create_enquiry(db, service_user_id=world.service_user_id, raised_by_id=world.care_manager_id, hours_per_week=Decimal("12.50"), expected_start_on=date(2031, 7, 5))
        send_enquiry(db, enquiry.id, [world.provider_id])
        return enquiry.id


@pytest.fixture
def billing(session_factory, world) -> dict[str, int]:
    """A care package and a payment for each provider, keyed ``package``, ``other_package``, ``payment``, ``other_payment``."""
    ids = {}
    with session_factory.begin() as db:
        run = PaymentRun(period_start=date(2031, 4, 1), period_end=date(2031, 4, 30))
        db.add(run)
        for key, provider_id in (("", world.provider_id), ("other_", world.other_provider_id)):
            package = CarePackage(provider_id=provider_id, service_user_id=world.service_user_id, unit_price=Decimal("22.00"), hours_per_week=Decimal("10.00"), start_on=date(2031, 4, 1))
            db.add(package)
            db.flush()
            payment = Payment(run=run, provider_id=provider_id, gross_amount=Decimal("880.00"), amount=Decimal("880.00"))
            payment.lines = [PaymentLine(package_id=package.id, hours_delivered=Decimal("40.00"), unit_price=Decimal("22.00"), amount=Decimal("880.00"))]
            db.add(payment)
            db.flush()
            ids[f"{key}package"] = package.id
            ids[f"{key}payment"] = payment.id
    return ids
