"""``careplace serve``: the web app, the scheduler and the simulated outside APIs in one process (the embedded mode)."""

import logging
import os
import secrets
import signal
import threading
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from werkzeug.serving import make_server

import processes
from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider, ProviderDistrict, ProviderKind, ProviderStatus
from care.people import set_password
from careplace.config import Settings
from careplace.db import upgrade
from careplace.wiring import build_services
from engine import clock
from engine.errors import DiagramError, NotFoundError
from handlers.config import HandlerSettings
from handlers.simulators.server import start_simulators
from scheduler.worker import default_worker_id, start_scheduler, wake
from web import create_app
from web.access import LoginUser, actor_for

log = logging.getLogger(__name__)

DEMO_ACTOR = "demo"
# Demo accounts with made-up names. The two provider users belong to the two demo providers, in order.
DEMO_ACCOUNTS = (
    ("cm@example.test", "Casey Morgan (care manager)", Role.CARE_MANAGER),
    ("ps@example.test", "Priya Shah (provider services)", Role.PROVIDER_SERVICES),
    ("analyst@example.test", "Alex Bell (analyst)", Role.ANALYST),
    ("admin@example.test", "Sam Okafor (administrator)", Role.ADMIN),
    ("provider@example.test", "Jo Rivers (Brookside Home Care)", Role.PROVIDER_USER),
    ("provider2@example.test", "Lee Chen (Meadow Lane Care)", Role.PROVIDER_USER),
)
DEMO_SERVICE_USER = "SU-DEMO-1"
# The business key until the enquiry is created, when the process takes the enquiry's reference instead.
DEMO_ENQUIRY_KEY = f"{DEMO_SERVICE_USER}/demo"


def run_serve(args) -> int:
    """Serve until SIGINT or SIGTERM; ``args`` carries ``demo``, ``host`` and ``port``."""
    settings = Settings.from_env(embedded=True)
    # APScheduler logs every job run at INFO, every few seconds; its warnings and errors still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if settings.generated_secret:
        log.warning("CAREPLACE_SECRET_KEY is not set, so a random key was generated: sessions end when the server stops")
    if settings.database_url.startswith("sqlite"):
        upgrade(settings.database_url)

    simulators = start_simulators()
    overrides = {}
    if not os.environ.get("CAREPLACE_PUBLIC_BASE_URL"):
        # Links in emails should reach this server, on whatever port it was given.
        overrides["public_base_url"] = f"http://{args.host}:{args.port}"
    services = build_services(settings, simulators.handler_settings(HandlerSettings.from_env(), **overrides))
    if args.demo:
        deploy_demo_diagrams(services)
        passwords = create_demo_accounts(services.session_factory)
        seed_demo_data(services)
        _print_accounts(passwords, args.host, args.port)

    # The scheduler's first pass runs at once, so it creates and sends the demo enquiry raised above.
    worker_id = default_worker_id()
    scheduler, jobs = start_scheduler(services, worker_id, interval=settings.worker_interval, deliver_email=False)
    services.engine.after_commit.append(lambda: wake(scheduler))
    app = create_app(settings, services)
    server = make_server(args.host, args.port, app, threaded=True)

    stop = threading.Event()

    def request_stop(signum, _frame):
        log.info("serve received signal %s; stopping", signum)
        stop.set()
        threading.Thread(target=server.shutdown, name="careplace-shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("Care Place listening on http://%s:%s (embedded mode, worker %s)", args.host, server.server_port, worker_id)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        scheduler.shutdown(wait=True)
        jobs.close()
        simulators.stop()
        log.info("Care Place stopped")
    return 0


def deploy_demo_diagrams(services) -> None:
    documents = processes.load_all()
    if not documents:
        log.info("no diagrams in the processes package, so none were deployed")
        return

    try:
        result = services.engine.deploy(documents, DEMO_ACTOR)
    except DiagramError as error:
        log.error("demo diagrams were not deployed because the lint found %d errors:", len(error.problems))
        for problem in error.problems:
            log.error("  %s", problem)
        return

    for process_id, version in result.created:
        log.info("deployed %s version %s", process_id, version)
    for name in result.unchanged:
        log.info("%s is already deployed", name)


def create_demo_accounts(session_factory) -> dict[str, str]:
    """Create (or reset) one account per role with a new random password; return {email: password}."""
    passwords = {}
    with session_factory.begin() as db:
        providers = _demo_providers(db)
        provider_by_email = {"provider@example.test": providers[0], "provider2@example.test": providers[1]}
        for email, display_name, role in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(12)
            user = db.scalar(sa.select(User).where(User.email == email))
            if user is None:
                provider = provider_by_email.get(email)
                user = User(email=email, display_name=display_name, role=role, provider_id=provider.id if provider else None)
                db.add(user)
            set_password(user, password)
            user.is_active = True
            passwords[email] = password
    log.info("demo accounts ready: %d, with new passwords", len(passwords))
    return passwords


def _demo_providers(db) -> list[Provider]:
    names = (("Brookside Home Care Ltd", "DM000001", ("LS6", "LS7")), ("Meadow Lane Care Ltd", "DM000002", ("LS6", "LS16")))
    providers = []
    for name, company_number, districts in names:
        provider = db.scalar(sa.select(Provider).where(Provider.company_number == company_number))
        if provider is None:
            provider = Provider(
                name=name,
                kind=ProviderKind.COMPANY,
                company_number=company_number,
                status=ProviderStatus.LIVE,
                standard_hourly_rate=Decimal("21.50"),
                paypal_email=f"payments.{company_number.lower()}@example.test",
            )
            provider.districts = [ProviderDistrict(postcode_district=district) for district in districts]
            db.add(provider)
            db.flush()
        providers.append(provider)
    return providers


def seed_demo_data(services) -> None:
    """Add one made-up service user and raise one enquiry for both demo providers through the ``enquiry`` process.

    The care manager's "Raise enquiry" task is completed here. The service tasks that
    create the enquiry and send it to the providers run in the scheduler, which then
    gives each provider user a "Respond to enquiry" task. Nothing is added twice.
    """
    engine = services.engine
    try:
        with services.session_factory.begin() as db:
            if db.scalar(sa.select(ServiceUser.id).where(ServiceUser.reference == DEMO_SERVICE_USER)) is not None:
                log.info("demo data already present")
                return

            person = ServiceUser(reference=DEMO_SERVICE_USER, display_name="Robin Example", postcode_district="LS6", full_postcode="LS6 9ZZ", address="1 Example Road")
            db.add(person)
            db.flush()
            care_manager_user = LoginUser.from_model(db.scalar(sa.select(User).where(User.email == "cm@example.test")))
            provider_ids = list(db.scalars(sa.select(Provider.id).where(Provider.company_number.in_(("DM000001", "DM000002"))).order_by(Provider.id)))
            # Started in the service user's transaction, so a demo database with the service user always has the enquiry instance.
            data = {"service_user_id": person.id, "care_manager_id": care_manager_user.id}
            instance_id = engine.start("enquiry", business_key=DEMO_ENQUIRY_KEY, data=data, actor=DEMO_ACTOR, session=db)
    except NotFoundError:
        log.error("the enquiry process is not deployed, so the demo enquiry was not raised")
        return

    actor = actor_for(care_manager_user)
    raise_task = next(task for task in engine.list_tasks(actor, business_key=DEMO_ENQUIRY_KEY) if task.element_id == "raise_enquiry")
    start_on = clock.now().date() + timedelta(days=14)
    form = {
        "hours_per_week": "10.5",
        "expected_start_on": start_on.isoformat(),
        "urgency": "standard",
        "provider_ids": ",".join(str(provider_id) for provider_id in provider_ids),
        "notes": "Morning and evening visits; help with medication.",
    }
    engine.complete(raise_task.id, form, actor)
    log.info("demo enquiry raised in instance %s for %d providers; the scheduler sends it", instance_id, len(provider_ids))


def _print_accounts(passwords: dict[str, str], host: str, port: int) -> None:
    # Printed, not logged, so the passwords reach the person at the console and no log file.
    print(f"\nCare Place demo: open http://{host}:{port}/ and log in with one of these accounts:")
    for email, display_name, role in DEMO_ACCOUNTS:
        print(f"  {role.value:<18} {email:<24} {passwords[email]}   ({display_name})")
    print("The passwords change each time the demo starts.\n", flush=True)
