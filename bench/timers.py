"""Benchmark timer firing: time ``fire_due_timers`` for 100 due instances among 1k, 10k and 100k waiting ones.

Usage (from the repository root, with the virtualenv active)::

    python bench/timers.py                      # SQLite and PostgreSQL, 1k/10k/100k
    python bench/timers.py --databases sqlite --sizes 1000,10000

The waiting instances are bulk copies of one instance started through the
engine, so building 100k rows takes seconds instead of starting 100k
instances. Two template instances of ``exec_timer_script`` are started: a
due one (its one-hour timer is due when the benchmark fires) and a waiting
one (started 29 days later, so its timer is not due). Each copy keeps its
template's state and ``next_timer_at``, so every row is consistent. The
instance count of each size includes the due ones; instances fired in
earlier rounds stay in the table as completed rows.

PostgreSQL runs in a database created for the run on the server at
CAREPLACE_TEST_POSTGRES_URL (the test suite's server) and dropped after it.
After each bulk insert the database is settled (see ``settle``) and one
unreported warm-up round runs, so the figures are of steady-state firing.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from careplace.db import make_db_engine, make_session_factory, upgrade
from engine import clock
from engine.models import Instance
from engine.runtime import Engine
from engine.timers import fire_due_timers

ROOT = Path(__file__).resolve().parent.parent
DIAGRAM = ROOT / "tests" / "engine" / "diagrams" / "exec_timer_script.bpmn"
PG_ADMIN_URL = os.environ.get("CAREPLACE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

START_TIME = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
DUE_AT = START_TIME + timedelta(hours=1)
WAITING_START_TIME = START_TIME + timedelta(days=29)
INSERT_CHUNK = 5000


class BenchClock:
    """The engine clock, stopped at ``current``."""

    def __init__(self, current: datetime):
        self.current = current

    def __call__(self) -> datetime:
        return self.current


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated running instance counts (default 1000,10000,100000)")
    parser.add_argument("--due", type=int, default=100, help="due instances fired per measurement (default 100)")
    parser.add_argument("--repeats", type=int, default=5, help="measurements per size; the median is reported (default 5)")
    args = parser.parse_args(argv)
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    for name in args.databases:
        if name not in ("sqlite", "postgresql"):
            parser.error(f"--databases: unknown database {name!r}; use sqlite, postgresql or both")
    if args.sizes[0] < args.due:
        parser.error(f"--sizes: the smallest size {args.sizes[0]} is below --due {args.due}")
    return args


def start_templates(session_factory, bench_clock: BenchClock) -> tuple[dict, dict]:
    """Start the due and the waiting template instances through the engine, and return their rows as dicts."""
    engine = Engine(session_factory)
    engine.deploy({DIAGRAM.name: DIAGRAM.read_bytes()}, "bench")
    bench_clock.current = START_TIME
    due_id = engine.start("exec_timer_script", business_key="BENCH-DUE")
    bench_clock.current = WAITING_START_TIME
    waiting_id = engine.start("exec_timer_script", business_key="BENCH-WAITING")

    table = Instance.__table__
    with session_factory() as session:
        rows = {row.id: row._asdict() for row in session.execute(sa.select(table).where(table.c.id.in_([due_id, waiting_id])))}
        session.execute(sa.delete(table).where(table.c.id.in_([due_id, waiting_id])))
        session.execute(sa.text("DELETE FROM engine_audit_events"))
        session.commit()
    return rows[due_id], rows[waiting_id]


def insert_copies(session_factory, template: dict, count: int, label: str) -> None:
    """Insert ``count`` copies of a template row with new ids, in chunks of INSERT_CHUNK."""
    table = Instance.__table__
    db_engine = session_factory.kw["bind"]
    remaining = count
    while remaining > 0:
        chunk = min(remaining, INSERT_CHUNK)
        rows = []
        for _ in range(chunk):
            instance_id = str(uuid.uuid4())
            rows.append({**template, "id": instance_id, "business_key": f"{label}-{instance_id[:8]}"})
        with db_engine.begin() as connection:
            connection.execute(sa.insert(table), rows)
        remaining -= chunk


def settle(session_factory) -> None:
    """Finish the bulk load's maintenance before timing, as a database in service would have done it already.

    SQLite: checkpoint the write-ahead log into the database file, then
    ANALYZE. PostgreSQL: VACUUM ANALYZE (what autovacuum does after a load).
    """
    db_engine = session_factory.kw["bind"]
    if db_engine.dialect.name == "sqlite":
        with db_engine.begin() as connection:
            connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            connection.execute(sa.text("ANALYZE"))
        return

    with db_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))


def measure(session_factory, bench_clock: BenchClock, due_template: dict, due: int) -> tuple[float, float]:
    """Insert ``due`` due copies, fire them and return the wall-clock and CPU seconds ``fire_due_timers`` took.

    The CPU time is this process's only: it includes SQLite's work but not the PostgreSQL server's.
    """
    insert_copies(session_factory, due_template, due, "BENCH-DUE")
    bench_clock.current = DUE_AT
    started, cpu_started = time.perf_counter(), time.process_time()
    fired = fire_due_timers(session_factory, actor="bench")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if fired != due:
        raise RuntimeError(f"fire_due_timers fired {fired} instances, expected {due}")
    return elapsed, cpu


def time_empty_pass(session_factory) -> float:
    started = time.perf_counter()
    fired = fire_due_timers(session_factory, actor="bench")
    elapsed = time.perf_counter() - started
    if fired:
        raise RuntimeError(f"an empty pass fired {fired} instances")
    return elapsed


def run(database: str, url: str, args: argparse.Namespace, bench_clock: BenchClock) -> list[dict]:
    upgrade(url)
    db_engine = make_db_engine(url)
    session_factory = make_session_factory(db_engine)
    results = []
    try:
        due_template, waiting_template = start_templates(session_factory, bench_clock)
        waiting = 0
        for size in args.sizes:
            insert_started = time.perf_counter()
            insert_copies(session_factory, waiting_template, size - args.due - waiting, "BENCH-WAIT")
            waiting = size - args.due
            settle(session_factory)
            insert_seconds = time.perf_counter() - insert_started

            measure(session_factory, bench_clock, due_template, args.due)  # warm-up round, not reported
            rounds = [measure(session_factory, bench_clock, due_template, args.due) for _ in range(args.repeats)]
            timings = [elapsed for elapsed, _cpu in rounds]
            empty = time_empty_pass(session_factory)
            results.append(
                {
                    "database": database,
                    "size": size,
                    "median_ms": statistics.median(timings) * 1000,
                    "min_ms": min(timings) * 1000,
                    "max_ms": max(timings) * 1000,
                    "cpu_ms": statistics.median(cpu for _elapsed, cpu in rounds) * 1000,
                    "empty_ms": empty * 1000,
                    "insert_s": insert_seconds,
                }
            )
            print(f"{database} {size:>7}: median {results[-1]['median_ms']:.0f} ms for {args.due} due (empty pass {empty * 1000:.1f} ms; insert {insert_seconds:.1f} s)", file=sys.stderr, flush=True)
    finally:
        db_engine.dispose()
    return results


def run_sqlite(args, bench_clock) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="careplace-bench-") as folder:
        return run("SQLite", f"sqlite:///{folder}/bench.db", args, bench_clock)


def run_postgresql(args, bench_clock) -> list[dict]:
    admin = make_db_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"careplace_test_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            server = connection.execute(sa.text("SHOW server_version")).scalar()
        return [dict(result, server=server) for result in run("PostgreSQL", url, args, bench_clock)]
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def print_table(results: list[dict], args: argparse.Namespace) -> None:
    print(
        f"| database | running instances | fire {args.due} due: median ms (min-max) | ms per fired instance "
        "| bench process CPU ms (median) | pass with nothing due, ms | median / smallest size's median |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for database in dict.fromkeys(result["database"] for result in results):
        rows = [result for result in results if result["database"] == database]
        base = rows[0]["median_ms"]
        for row in rows:
            print(
                f"| {database} | {row['size']:,} | {row['median_ms']:.0f} ({row['min_ms']:.0f}-{row['max_ms']:.0f}) "
                f"| {row['median_ms'] / args.due:.2f} | {row['cpu_ms']:.0f} | {row['empty_ms']:.1f} | {row['median_ms'] / base:.2f}x |"
            )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    bench_clock = BenchClock(START_TIME)
    clock.set_clock(bench_clock)
    results = []
    try:
        if "sqlite" in args.databases:
            results.extend(run_sqlite(args, bench_clock))
        if "postgresql" in args.databases:
            results.extend(run_postgresql(args, bench_clock))
    finally:
        clock.set_clock(None)

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs (os.cpu_count), {args.repeats} measurements per size")
    servers = {result["server"] for result in results if "server" in result}
    if servers:
        print(f"PostgreSQL server {', '.join(sorted(servers))}")
    print_table(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
