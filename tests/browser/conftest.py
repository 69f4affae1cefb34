"""Fixtures for the browser tests: the whole app served on loopback (web, scheduler, simulators) and headless Chromium."""

import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

import processes
from care.models.people import Role, User
from careplace.config import Settings
from careplace.db import upgrade
from careplace.wiring import Services, build_services
from engine.clock import set_clock
from handlers.config import HandlerSettings
from handlers.simulators.server import SimulatorServer, start_simulators
from scheduler.worker import start_scheduler, wake
from web import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ON_CI = os.environ.get("CI") == "true"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"
# A cheap hash keeps account set-up fast, and the login page checks it like any other.
TEST_HASH_METHOD = "pbkdf2:sha256:1000"
# Seconds between scheduler passes. Commits also wake the scheduler, so most jobs run sooner.
WORKER_INTERVAL = 0.5


def require_browser():
    """Return Playwright's sync API. Without it or Chromium, skip locally but fail on CI, where both must be installed."""
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None

    problem = None
    if sync_api is None:
        problem = "Playwright's Python package is missing: pip install -e '.[test]'"
    elif not CHROMIUM.is_file():
        problem = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run installs it on CI)"
    if problem and ON_CI:
        pytest.fail(f"the browser tests must run on CI (CI=true), but {problem}", pytrace=False)
    if problem:
        pytest.skip(problem)
    return sync_api


class MovableClock:
    """The app's clock: the real time plus an offset that a test moves forward, as the demo does."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class LiveServer:
    """The running app: its base URL, its services and the simulated outside APIs."""

    base_url: str
    services: Services
    simulators: SimulatorServer
    clock: MovableClock
    scheduler: BackgroundScheduler

    def run_calendar_now(self) -> None:
        """Bring the scheduler's calendar job forward, which otherwise runs every five minutes."""
        self.scheduler.get_job("calendar").modify(next_run_time=datetime.now(timezone.utc))


@pytest.fixture
def live_server(tmp_path):
    """Serve the app as ``careplace serve`` does: a fresh SQLite file, deployed diagrams, the scheduler and the simulators."""
    database_url = f"sqlite:///{tmp_path / 'careplace.db'}"
    upgrade(database_url)
    clock = MovableClock()
    set_clock(clock)

    simulators = start_simulators()
    settings = Settings(database_url=database_url, secret_key="browser-test-secret-key", embedded=True, upload_dir=tmp_path / "uploads", worker_interval=WORKER_INTERVAL)
    services = build_services(settings, simulators.handler_settings(HandlerSettings()))
    services.engine.deploy(processes.load_all(), "browser-test")

    scheduler, jobs = start_scheduler(services, "browser-test-worker", interval=WORKER_INTERVAL, deliver_email=False)
    services.engine.after_commit.append(lambda: wake(scheduler))
    server = make_server("127.0.0.1", 0, create_app(settings, services), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()

    yield LiveServer(f"http://127.0.0.1:{server.server_port}", services, simulators, clock, scheduler)

    server.shutdown()
    thread.join(timeout=10)
    scheduler.shutdown(wait=True)
    jobs.close()
    simulators.stop()
    set_clock(None)


def add_user(services: Services, role: Role, email: str, display_name: str, provider_id: int | None = None) -> User:
    """Create an active account with the test password, as an administrator would."""
    with services.session_factory.begin() as db:
        user = User(
            email=email,
            display_name=display_name,
            role=role,
            provider_id=provider_id,
            password_hash=generate_password_hash(PASSWORD, method=TEST_HASH_METHOD),
        )
        db.add(user)
        db.flush()
        db.expunge(user)
    return user


@pytest.fixture
def browser():
    """A headless Chromium. Each role opens its own context, so their sessions stay apart."""
    sync_api = require_browser()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def save_screenshot(page, name: str) -> None:
    """Save a full-page PNG to docs/screenshots/<name>.png when CAREPLACE_SCREENSHOTS=1."""
    if os.environ.get("CAREPLACE_SCREENSHOTS") != "1":
        return

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
