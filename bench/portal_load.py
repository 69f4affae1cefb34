"""Benchmark the provider portal under load: 16 provider users reading their task list and enquiries over HTTP on PostgreSQL.

Usage (from the repository root, with the virtualenv active and ``pip install gunicorn``)::

    python bench/portal_load.py
    python bench/portal_load.py --server werkzeug --clients 8 --rounds 20

The script creates the database ``bench_portal_<pid>`` on the PostgreSQL server at
CAREPLACE_BENCH_POSTGRES_URL (default 127.0.0.1:5432 as user postgres). It migrates the
database, deploys the diagrams of the ``processes`` package, and bulk inserts made-up
rows straight into the care and engine tables:

- ``--providers`` live providers (default 200) in 30 postcode districts, one user each;
- ``--enquiries`` enquiries (default 10,000), each with its service user and an
  ``enquiry`` instance, sent to providers that cover its district. Providers are
  picked with Zipf-like weights, so a few busy providers receive many enquiries;
- one ``enquiry_recipient`` instance per provider an enquiry went to, and
  ``--tasks`` human tasks in all (default 50,000): a completed ``raise_enquiry``
  task per enquiry, a ``select_provider`` task per enquiry past the open stage,
  and a ``respond`` task per recipient offered to the group ``provider-<id>``.
  Respond tasks of open enquiries are open, the rest completed.

Instance rows carry an empty state because neither page reads it. The app runs under
gunicorn (``--workers`` processes, default 2 x CPUs + 1) or, with ``--server werkzeug``
or without gunicorn installed, under werkzeug's threaded server, on a free loopback port.
``CAREPLACE_EMBEDDED=1`` is set only so the session cookie lacks the Secure flag over
plain HTTP; the scheduler and simulators do not run. ``--clients`` threads (default 16),
each with its own ``requests.Session`` logged in as a different provider user, fetch
``/tasks``, ``/provider/enquiries`` and one of that provider's enquiries in turn.
Each client's first round warms up and is not recorded. The database is dropped at the end
unless ``--keep`` is given. ``--database-url`` then runs the clients against the kept database
again without seeding it.
"""

import argparse
import os
import platform
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import requests
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

import processes
from care.models.enquiries import Enquiry, EnquiryRecipient
from care.models.people import ServiceUser, User
from care.models.providers import Provider, ProviderDistrict
from careplace.config import Settings
from careplace.db import make_db_engine, upgrade
from careplace.wiring import build_services
from engine.models import HumanTask, Instance, ProcessVersion, TaskCandidate
from handlers.care_topics import recipient_key

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("CAREPLACE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-portal-password"
DISTRICTS = [f"ZZ{number}" for number in range(1, 31)]
NOW = datetime(2030, 3, 4, 9, 0, tzinfo=timezone.utc)
INSERT_CHUNK = 5000
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ENQUIRY_LINK = re.compile(r'href="/provider/enquiries/(\d+)"')
GOAL_P95_MS = 100.0

# Share of enquiries in each status. Open ones still wait for responses, so their respond tasks are open.
STATUS_WEIGHTS = {"open": 0.15, "selecting": 0.05, "provisional": 0.05, "confirmed": 0.55, "closed": 0.15, "cancelled": 0.05}


@dataclass
class Timings:
    """Client-side latencies in seconds, by page."""

    by_page: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, seconds: float) -> None:
        with self.lock:
            self.by_page.setdefault(page, []).append(seconds)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=200, help="live providers, one user each (default 200)")
    parser.add_argument("--enquiries", type=int, default=10_000, help="enquiries (default 10000)")
    parser.add_argument("--tasks", type=int, default=50_000, help="human tasks in all (default 50000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads, each a different provider user (default 16)")
    parser.add_argument("--rounds", type=int, default=50, help="recorded rounds per client; a round fetches each page once (default 50)")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn", help="WSGI server (default gunicorn, werkzeug when gunicorn is missing)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn worker processes (default 2 x CPUs + 1)")
    parser.add_argument("--keep", action="store_true", help="keep the database and print its URL instead of dropping it")
    parser.add_argument(
        "--database-url",
        help="run against a database that an earlier run kept with --keep, without seeding it again (--providers, --enquiries and --tasks are then ignored). The database is migrated and never dropped",
    )
    args = parser.parse_args(argv)
    if args.clients > args.providers:
        parser.error(f"--clients {args.clients} is above --providers {args.providers}: each client needs its own provider user")
    if args.tasks < 2 * args.enquiries:
        parser.error(f"--tasks {args.tasks} is below 2 x --enquiries: each enquiry needs a raise task and at least one respond task")
    return args


# Data


def insert_rows(connection, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        connection.execute(table.insert(), rows[start : start + INSERT_CHUNK])


def zipf_weights(count: int, exponent: float = 0.9) -> list[float]:
    return [1.0 / (rank**exponent) for rank in range(1, count + 1)]


def seed(database_url: str, args: argparse.Namespace, rng: random.Random) -> dict:
    """Insert the made-up rows; return the provider user emails, their provider ids and row counts."""
    services = build_services(Settings(database_url=database_url, secret_key="bench"))
    services.engine.deploy(processes.load_all(), "bench")
    with services.session_factory() as session:
        version_ids = dict(session.execute(sa.select(ProcessVersion.process_id, ProcessVersion.id)).all())
    services.session_factory.kw["bind"].dispose()

    db_engine = make_db_engine(database_url)
    password_hash = generate_password_hash(PASSWORD)
    with db_engine.begin() as connection:
        provider_ids, emails, districts_of = _insert_providers(connection, args.providers, password_hash, rng)
        care_manager_id = connection.execute(
            User.__table__.insert().returning(User.__table__.c.id),
            {"email": "cm.bench@council.example", "display_name": "Bench care manager", "password_hash": password_hash, "role": "care_manager", "is_active": True, "created_at": NOW, "updated_at": NOW},
        ).scalar_one()
        counts = {"providers": len(provider_ids), **_insert_enquiries(connection, args, rng, provider_ids, districts_of, care_manager_id, version_ids)}

    with db_engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    db_engine.dispose()
    return {"emails": emails, "provider_ids": provider_ids, "counts": counts}


def read_seeded(database_url: str) -> dict:
    """Return the provider user emails, provider ids and row counts of a database that ``seed`` filled earlier."""
    db_engine = make_db_engine(database_url)
    if not sa.inspect(db_engine).has_table(User.__tablename__):
        db_engine.dispose()
        raise SystemExit(f"{database_url} has no {User.__tablename__} table: pass the URL that a run with --keep printed")

    with db_engine.connect() as connection:
        # Providers were inserted busiest first, so id order is the Zipf order that pick_clients expects.
        users = connection.execute(
            sa.select(User.provider_id, User.email).where(User.role == "provider_user", User.provider_id.is_not(None)).order_by(User.provider_id)
        ).all()
        counts = {
            "providers": connection.scalar(sa.select(sa.func.count()).select_from(Provider)),
            "enquiries": connection.scalar(sa.select(sa.func.count()).select_from(Enquiry)),
            "recipients": connection.scalar(sa.select(sa.func.count()).select_from(EnquiryRecipient)),
            "instances": connection.scalar(sa.select(sa.func.count()).select_from(Instance)),
            "tasks": connection.scalar(sa.select(sa.func.count()).select_from(HumanTask)),
            "open_tasks": connection.scalar(sa.select(sa.func.count()).select_from(HumanTask).where(HumanTask.status == "open")),
        }
    db_engine.dispose()
    if not users:
        raise SystemExit(f"{database_url} has no provider users: pass the URL that a run with --keep printed")

    return {"emails": dict(users), "provider_ids": [provider_id for provider_id, _ in users], "counts": counts}


def _insert_providers(connection, count: int, password_hash: str, rng: random.Random):
    providers = [
        {
            "name": f"Bench Home Care {number:03d} Ltd",
            "kind": "company",
            "company_number": f"BP{number:06d}",
            "status": "live",
            "services_offered": ["Personal care"],
            "standard_hourly_rate": Decimal("18.00") + Decimal(rng.randint(0, 800)) / 100,
            "paypal_email": f"pay{number}@bench-provider.example",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for number in range(1, count + 1)
    ]
    table = Provider.__table__
    provider_ids = list(connection.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), providers).scalars())

    districts_of = {provider_id: rng.sample(DISTRICTS, rng.randint(1, 4)) for provider_id in provider_ids}
    insert_rows(connection, ProviderDistrict.__table__, [{"provider_id": pid, "postcode_district": d} for pid, ds in districts_of.items() for d in ds])

    emails = {provider_id: f"office{index}@bench-provider.example" for index, provider_id in enumerate(provider_ids, 1)}
    users = [
        {"email": email, "display_name": f"Office {provider_id}", "password_hash": password_hash, "role": "provider_user", "provider_id": provider_id, "is_active": True, "created_at": NOW, "updated_at": NOW}
        for provider_id, email in emails.items()
    ]
    insert_rows(connection, User.__table__, users)
    return provider_ids, emails, districts_of


def _recipient_counts(enquiries: int, recipients: int, rng: random.Random) -> list[int]:
    """Split ``recipients`` over the enquiries: at least one each, most between two and five."""
    counts = [1] * enquiries
    for _ in range(recipients - enquiries):
        counts[rng.randrange(enquiries)] += 1
    return counts


def _insert_enquiries(connection, args, rng: random.Random, provider_ids, districts_of, care_manager_id: int, version_ids: dict) -> dict:
    statuses = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()), k=args.enquiries)
    selecting_or_later = sum(status != "open" for status in statuses)
    recipient_total = args.tasks - args.enquiries - selecting_or_later
    if recipient_total < args.enquiries:
        raise SystemExit(f"--tasks {args.tasks} leaves {recipient_total} respond tasks for {args.enquiries} enquiries; raise --tasks")
    recipient_counts = _recipient_counts(args.enquiries, recipient_total, rng)

    by_district = {district: [pid for pid in provider_ids if district in districts_of[pid]] for district in DISTRICTS}
    weight_of = dict(zip(provider_ids, zipf_weights(len(provider_ids))))
    service_users, enquiries, recipients, instances, tasks, candidates = [], [], [], [], [], []

    for index in range(args.enquiries):
        district = rng.choice([d for d in DISTRICTS if by_district[d]])
        status = statuses[index]
        created = NOW - timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 1440))
        reference = f"ENQ-{created:%Y%m%d}-{index:08X}"
        service_users.append({"reference": f"SU-B{index:06d}", "display_name": f"Person {index}", "postcode_district": district, "created_at": created, "updated_at": created})
        enquiry_instance = str(uuid.uuid4())
        enquiries.append(
            {
                "reference": reference,
                "raised_by_id": care_manager_id,
                "hours_per_week": Decimal(rng.choice((5, 7, 10, 14, 21))),
                "expected_start_on": (created + timedelta(days=14)).date(),
                "respond_by": created + timedelta(days=3),
                "urgency": "standard",
                "postcode_district": district,
                "notes": "Made-up benchmark enquiry",
                "status": status,
                "process_instance_id": enquiry_instance,
                "created_at": created,
                "updated_at": created,
            }
        )
        instances.append(_instance(enquiry_instance, version_ids["enquiry"], "enquiry", reference, "completed" if status in ("confirmed", "closed", "cancelled") else "running", created))
        tasks.append(_task(enquiry_instance, "enquiry", reference, "raise_enquiry", "Describe the care needed", "care_manager", created, open_=False))
        if status != "open":
            tasks.append(_task(enquiry_instance, "enquiry", reference, "select_provider", "Select a provider", "care_manager", created + timedelta(days=3), open_=status == "selecting"))
            if status == "selecting":
                candidates.append({"task_id": tasks[-1]["id"], "group_name": "care_manager"})

        pool = by_district[district]
        chosen = _weighted_sample(pool, [weight_of[pid] for pid in pool], min(recipient_counts[index], len(pool)), rng)
        if len(chosen) < recipient_counts[index] and index + 1 < args.enquiries:
            # A district with few providers takes fewer; the next enquiry takes the rest, so the task count stays exact.
            recipient_counts[index + 1] += recipient_counts[index] - len(chosen)
        for provider_id in chosen:
            recipients.append(_recipient(index, provider_id, status, created, rng))
            key = recipient_key(reference, provider_id)
            recipient_instance = str(uuid.uuid4())
            responded = recipients[-1]["response"] is not None
            instances.append(_instance(recipient_instance, version_ids["enquiry_recipient"], "enquiry_recipient", key, "completed" if responded and status != "open" else "running", created))
            tasks.append(_task(recipient_instance, "enquiry_recipient", key, "respond", "Respond to the enquiry", f"provider-{provider_id}", created + timedelta(days=3), open_=not responded))
            if not responded:
                candidates.append({"task_id": tasks[-1]["id"], "group_name": f"provider-{provider_id}"})

    table = ServiceUser.__table__
    service_user_ids = list(connection.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), service_users).scalars())
    for enquiry, service_user_id in zip(enquiries, service_user_ids):
        enquiry["service_user_id"] = service_user_id
    table = Enquiry.__table__
    enquiry_ids = list(connection.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), enquiries).scalars())
    for recipient in recipients:
        recipient["enquiry_id"] = enquiry_ids[recipient.pop("enquiry_index")]
    insert_rows(connection, EnquiryRecipient.__table__, recipients)
    insert_rows(connection, Instance.__table__, instances)
    insert_rows(connection, HumanTask.__table__, tasks)
    insert_rows(connection, TaskCandidate.__table__, candidates)
    return {"enquiries": len(enquiries), "recipients": len(recipients), "instances": len(instances), "tasks": len(tasks), "open_tasks": len(candidates)}


def _weighted_sample(pool: list[int], weights: list[float], count: int, rng: random.Random) -> list[int]:
    chosen: list[int] = []
    pool, weights = list(pool), list(weights)
    for _ in range(count):
        pick = rng.choices(range(len(pool)), weights=weights)[0]
        chosen.append(pool.pop(pick))
        weights.pop(pick)
    return chosen


def _recipient(enquiry_index: int, provider_id: int, status: str, created: datetime, rng: random.Random) -> dict:
    responded = status != "open" or rng.random() < 0.3
    accepted = responded and rng.random() < 0.6
    row = {
        "enquiry_index": enquiry_index,
        "provider_id": provider_id,
        "is_interim_provider": False,
        "sent_at": created,
        "viewed_at": created + timedelta(hours=2) if responded or rng.random() < 0.5 else None,
        "responded_at": created + timedelta(days=1) if responded else None,
        "response": ("accepted" if accepted else "declined") if responded else None,
        "unit_price": Decimal("21.50") if accepted else None,
        "decline_reason": None if accepted or not responded else "No capacity in this area",
        "recorded_by_staff": False,
        "outcome": "not_selected" if status in ("provisional", "confirmed", "closed") and responded else None,
        "outcome_at": created + timedelta(days=4) if status in ("provisional", "confirmed", "closed") and responded else None,
        "created_at": created,
        "updated_at": created,
    }
    return row


def _instance(instance_id: str, version_id: int, process_id: str, business_key: str, status: str, created: datetime) -> dict:
    return {
        "id": instance_id,
        "version_id": version_id,
        "process_id": process_id,
        "business_key": business_key,
        "status": status,
        "state": "{}",
        "started_by": "bench",
        "created_at": created,
        "updated_at": created,
        "completed_at": created + timedelta(days=5) if status == "completed" else None,
        "row_version": 1,
    }


def _task(instance_id: str, process_id: str, business_key: str, element_id: str, name: str, group: str, created: datetime, *, open_: bool) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "instance_id": instance_id,
        "process_id": process_id,
        "business_key": business_key,
        "element_id": element_id,
        "name": name,
        "status": "open" if open_ else "completed",
        "assignee": None,
        "candidate_groups": group,
        "due_at": created + timedelta(days=3),
        "created_at": created,
        "completed_at": None if open_ else created + timedelta(days=1),
        "completed_by": None if open_ else "bench",
    }


# Server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(kind: str, workers: int, database_url: str) -> tuple[subprocess.Popen, str, str]:
    """Start the app on a free loopback port; return the process, its base URL and a description of the server."""
    port = free_port()
    env = dict(os.environ, CAREPLACE_DATABASE_URL=database_url, CAREPLACE_SECRET_KEY=secrets.token_urlsafe(32), CAREPLACE_EMBEDDED="1", CAREPLACE_LOG_LEVEL="WARNING")
    if kind == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "web.wsgi:app"]
        description = f"gunicorn, {workers} sync workers"
    else:
        code = "from werkzeug.serving import run_simple; from web.wsgi import app; run_simple('127.0.0.1', %d, app, threaded=True)" % port
        command = [sys.executable, "-c", code]
        description = "werkzeug threaded server, one process"
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}", description


def wait_until_ready(process: subprocess.Popen, base_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode} before it answered; see its output above")
        try:
            requests.get(f"{base_url}/login", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer on {base_url} within {timeout:.0f} s")


# Clients


def log_in(base_url: str, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=10)
    token = CSRF_FIELD.search(page.text).group(1)
    response = session.post(f"{base_url}/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, timeout=10, allow_redirects=False)
    if response.status_code != 302:
        raise SystemExit(f"login as {email} failed with status {response.status_code}")
    return session


def run_client(base_url: str, email: str, rounds: int, timings: Timings, start: threading.Barrier, rng: random.Random) -> None:
    session = log_in(base_url, email)
    listing = session.get(f"{base_url}/provider/enquiries", timeout=10)
    enquiry_ids = ENQUIRY_LINK.findall(listing.text)
    if not enquiry_ids:
        timings.fail(f"{email}: no enquiries on the first page of /provider/enquiries")
        start.wait()
        return

    pages = {"task list (/tasks)": "/tasks", "enquiry list (/provider/enquiries)": "/provider/enquiries", "enquiry (/provider/enquiries/<id>)": None}
    start.wait()
    for round_number in range(rounds + 1):
        for name, path in pages.items():
            url = f"{base_url}{path or '/provider/enquiries/' + rng.choice(enquiry_ids)}"
            began = time.perf_counter()
            response = session.get(url, timeout=30)
            elapsed = time.perf_counter() - began
            if response.status_code != 200:
                timings.fail(f"{email}: GET {url} returned {response.status_code}")
            elif round_number > 0:
                timings.add(name, elapsed)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run_load(base_url: str, emails: list[str], rounds: int, rng: random.Random) -> tuple[Timings, float]:
    timings = Timings()
    start = threading.Barrier(len(emails) + 1)
    threads = [threading.Thread(target=run_client, args=(base_url, email, rounds, timings, start, random.Random(rng.random())), daemon=True) for email in emails]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return timings, time.perf_counter() - began


def pick_clients(provider_ids: list[int], emails: dict[int, str], count: int) -> list[str]:
    """Pick providers spread from the busiest (first, by the Zipf weights) to the quietest."""
    step = len(provider_ids) / count
    return [emails[provider_ids[int(index * step)]] for index in range(count)]


def report(timings: Timings, wall: float, args, server: str, counts: dict) -> bool:
    print(f"\nmachine: {os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, {platform.platform()}")
    print(f"server: {server}; database: PostgreSQL on 127.0.0.1")
    print(f"rows: {counts['providers']} providers, {counts['enquiries']} enquiries, {counts['recipients']} recipients, {counts['instances']} instances, {counts['tasks']} human tasks ({counts['open_tasks']} open)")
    print(f"load: {args.clients} clients x {args.rounds} rounds in {wall:.1f} s\n")
    print(f"{'page':<38} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    met = True
    for name, values in timings.by_page.items():
        p95 = percentile(values, 0.95) * 1000
        met = met and p95 < GOAL_P95_MS
        print(f"{name:<38} {len(values):>8} {statistics.median(values) * 1000:>8.1f} {p95:>8.1f} {percentile(values, 0.99) * 1000:>8.1f} {len(values) / wall:>8.1f}")
    total = sum(len(values) for values in timings.by_page.values())
    print(f"{'all pages':<38} {total:>8} {'':>8} {'':>8} {'':>8} {total / wall:>8.1f}")
    for error in timings.errors[:10]:
        print(f"error: {error}")
    print(f"\ngoal p95 < {GOAL_P95_MS:.0f} ms on every page: {'met' if met and not timings.errors else 'MISSED'}")
    return met and not timings.errors


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.server == "gunicorn":
        try:
            import gunicorn  # noqa: F401  (only checks that it is installed)
        except ImportError:
            print("gunicorn is not installed (pip install gunicorn), so the werkzeug threaded server runs the app", file=sys.stderr)
            args.server = "werkzeug"

    rng = random.Random(20300304)
    if args.database_url:
        # Read the rows before migrating, so a wrong URL is rejected before any table is created in it.
        seeded = read_seeded(args.database_url)
        upgrade(args.database_url)
        return run_and_report(args, args.database_url, seeded, rng)

    admin = make_db_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_portal_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(database_url)
        began = time.perf_counter()
        seeded = seed(database_url, args, rng)
        print(f"seeded {name} in {time.perf_counter() - began:.1f} s", flush=True)
        return run_and_report(args, database_url, seeded, rng)
    finally:
        if args.keep:
            print(f"kept the database: {database_url}")
        else:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_and_report(args: argparse.Namespace, database_url: str, seeded: dict, rng: random.Random) -> int:
    """Serve the app over ``database_url``, run the clients, print the report and return the exit status."""
    server = None
    try:

        if args.clients > len(seeded["provider_ids"]):
            raise SystemExit(f"--clients {args.clients} is above the {len(seeded['provider_ids'])} provider users of the database")
        server, base_url, description = start_server(args.server, args.workers, database_url)
        wait_until_ready(server, base_url)
        emails = pick_clients(seeded["provider_ids"], seeded["emails"], args.clients)
        timings, wall = run_load(base_url, emails, args.rounds, rng)
        met = report(timings, wall, args, description, seeded["counts"])
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
