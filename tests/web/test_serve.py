"""The demo set-up of ``careplace serve``: accounts for every role, demo data, and the command's options."""

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from care.models.enquiries import Enquiry
from care.models.people import User
from careplace.cli import build_parser
from careplace.config import Settings
from careplace.serve import DEMO_ACCOUNTS, create_demo_accounts, deploy_demo_diagrams, seed_demo_data
from careplace.wiring import build_services
from handlers.config import HandlerSettings
from handlers.simulators.server import start_simulators
from scheduler.jobs import SchedulerJobs
from web import create_app
from web.access import LoginUser, actor_for


@pytest.fixture(scope="module")
def simulators():
    server = start_simulators()
    yield server
    server.stop()


@pytest.fixture
def demo_services(db_url, simulators):
    """The services ``careplace serve --demo`` builds, over the test database and the simulated outside APIs."""
    settings = Settings(database_url=db_url, secret_key="test-secret-key", embedded=True)
    services = build_services(settings, simulators.handler_settings(HandlerSettings()))
    yield services
    services.session_factory.kw["bind"].dispose()


def run_scheduled_service_tasks(services) -> int:
    """Run service tasks as the in-process scheduler does, until none is due; return how many ran."""
    jobs = SchedulerJobs(services, "test-worker", deliver_email=False)
    total = 0
    try:
        for _ in range(20):
            count = jobs.run_service_tasks()
            if count == 0:
                return total
            total += count
    finally:
        jobs.close()
    raise AssertionError(f"service tasks still due after 20 passes ({total} run)")


def test_demo_accounts_cover_every_role(session_factory):
    passwords = create_demo_accounts(session_factory)

    with session_factory() as db:
        users = {user.email: user for user in db.scalars(sa.select(User))}
    assert {role.value for _email, _name, role in DEMO_ACCOUNTS} == {"provider_user", "care_manager", "provider_services", "analyst", "admin"}
    for email, _name, _role in DEMO_ACCOUNTS:
        assert check_password_hash(users[email].password_hash, passwords[email])
    assert users["provider@example.test"].provider_id is not None


def test_demo_accounts_reset_passwords(session_factory):
    first = create_demo_accounts(session_factory)
    second = create_demo_accounts(session_factory)

    with session_factory() as db:
        count = db.scalar(sa.select(sa.func.count()).select_from(User))
    assert count == len(DEMO_ACCOUNTS)
    assert first["cm@example.test"] != second["cm@example.test"]


def test_demo_enquiry_reaches_provider_task(demo_services):
    deploy_demo_diagrams(demo_services)
    create_demo_accounts(demo_services.session_factory)

    seed_demo_data(demo_services)
    run_scheduled_service_tasks(demo_services)

    with demo_services.session_factory() as db:
        enquiries = db.scalars(sa.select(Enquiry)).all()
        recipients = len(enquiries[0].recipients)
        provider_user = LoginUser.from_model(db.scalar(sa.select(User).where(User.email == "provider@example.test")))
        other_provider_user = LoginUser.from_model(db.scalar(sa.select(User).where(User.email == "provider2@example.test")))
    assert len(enquiries) == 1
    assert enquiries[0].status == "open"
    assert recipients == 2
    for user in (provider_user, other_provider_user):
        tasks = demo_services.engine.list_tasks(actor_for(user))
        assert [task.name for task in tasks] == ["Respond to enquiry"]


def test_demo_enquiry_task_opens_for_provider(demo_services):
    deploy_demo_diagrams(demo_services)
    passwords = create_demo_accounts(demo_services.session_factory)
    seed_demo_data(demo_services)
    run_scheduled_service_tasks(demo_services)
    client = create_app(demo_services.settings, demo_services, {"TESTING": True, "WTF_CSRF_ENABLED": False}).test_client()

    login = client.post("/login", data={"email": "provider@example.test", "password": passwords["provider@example.test"]})
    enquiries_page = client.get("/provider/enquiries").get_data(as_text=True)
    task_list = client.get("/tasks").get_data(as_text=True)
    task_path = task_list.split('href="/tasks/', 1)[1].split('"', 1)[0]
    task_page = client.get(f"/tasks/{task_path}")

    assert login.status_code == 302
    assert "LS6" in enquiries_page
    assert "Respond to enquiry" in task_list
    assert task_page.status_code == 200


def test_demo_data_seeded_once(demo_services):
    deploy_demo_diagrams(demo_services)
    create_demo_accounts(demo_services.session_factory)

    seed_demo_data(demo_services)
    run_scheduled_service_tasks(demo_services)
    seed_demo_data(demo_services)
    run_scheduled_service_tasks(demo_services)

    with demo_services.session_factory() as db:
        enquiries = db.scalars(sa.select(Enquiry)).all()
    assert len(enquiries) == 1
    assert len(demo_services.engine.list_instances(process_id="enquiry")) == 1


def test_demo_data_without_diagrams_skipped(demo_services, caplog):
    create_demo_accounts(demo_services.session_factory)

    seed_demo_data(demo_services)

    with demo_services.session_factory() as db:
        enquiries = db.scalars(sa.select(Enquiry)).all()
    assert enquiries == []
    assert "the enquiry process is not deployed" in caplog.text


def test_demo_accounts_reset_ends_sessions(session_factory):
    create_demo_accounts(session_factory)
    with session_factory() as db:
        first = LoginUser.from_model(db.scalar(sa.select(User).where(User.email == "cm@example.test")))

    create_demo_accounts(session_factory)

    with session_factory() as db:
        second = db.scalar(sa.select(User).where(User.email == "cm@example.test"))
    assert first.session_version == 1
    assert second.session_version == 2


def test_serve_options_parsed():
    args = build_parser().parse_args(["serve", "--demo", "--port", "5077"])

    assert args.demo is True
    assert args.host == "127.0.0.1"
    assert args.port == 5077
    assert args.embedded_command is True
    assert args.needs_services is False


def test_worker_command_still_registered():
    args = build_parser().parse_args(["worker", "--once"])

    assert args.once is True
