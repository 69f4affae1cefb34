"""A scheduler worker process for the concurrency tests: the real scheduler jobs with a test handler registry.

Run as ``python worker_process.py DATABASE_URL WORKER_ID [--hang-marker PATH]
[--go-file PATH] [--clock-offset SECONDS]``. It runs scheduler passes until
three passes in a row find nothing due, then exits 0 (1 when a pass failed).

The ``exec.record`` handler inserts one row into ``exec_visit_records`` in
the handler's transaction, keyed by the idempotency key. With
``--hang-marker`` it writes the marker file after the insert and then
sleeps, so a test can kill the process while the row is uncommitted.
"""

import argparse
import logging
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

from careplace.db import make_db_engine, make_session_factory
from engine import clock
from engine.handler_api import HandlerRegistry
from scheduler.jobs import SchedulerJobs

VISIT_RECORDS_METADATA = sa.MetaData()
VISIT_RECORDS = sa.Table(
    "exec_visit_records",
    VISIT_RECORDS_METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("idempotency_key", sa.String(80), nullable=False),
    sa.Column("worker_id", sa.String(80), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
)

HANDLER_TIMEOUT_SECONDS = 60.0
IDLE_PASSES_BEFORE_EXIT = 3
IDLE_PAUSE_SECONDS = 0.1


def build_registry(worker_id: str, hang_marker: Path | None) -> HandlerRegistry:
    registry = HandlerRegistry()

    @registry.topic("exec.record", description="Insert a visit record keyed by the idempotency key", timeout=HANDLER_TIMEOUT_SECONDS)
    def record_visit(inputs, context):
        context.session.execute(sa.insert(VISIT_RECORDS).values(idempotency_key=context.idempotency_key, worker_id=worker_id, attempt=context.attempt))
        context.session.flush()
        if hang_marker is not None:
            hang_marker.write_text(context.idempotency_key)
            time.sleep(HANDLER_TIMEOUT_SECONDS * 10)
        return {"recorded": True}

    return registry


def wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"worker_process: {path} did not appear within {timeout} seconds")
        time.sleep(0.01)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("worker_id")
    parser.add_argument("--hang-marker", type=Path, help="write this file inside the handler, then hang")
    parser.add_argument("--go-file", type=Path, help="write GO_FILE.WORKER_ID.ready, then wait for GO_FILE before the first pass")
    parser.add_argument("--clock-offset", type=float, default=0.0, help="seconds added to the engine clock")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.clock_offset:
        offset = timedelta(seconds=args.clock_offset)
        clock.set_clock(lambda: datetime.now(timezone.utc) + offset)

    session_factory = make_session_factory(make_db_engine(args.database_url))
    services = SimpleNamespace(session_factory=session_factory, registry=build_registry(args.worker_id, args.hang_marker))
    jobs = SchedulerJobs(services, args.worker_id, deliver_email=False)

    if args.go_file is not None:
        Path(f"{args.go_file}.{args.worker_id}.ready").write_text("ready")
        wait_for(args.go_file, timeout=60)

    idle_passes = 0
    try:
        while idle_passes < IDLE_PASSES_BEFORE_EXIT:
            report = jobs.run_pass()
            if report.errors:
                print(f"worker_process {args.worker_id}: pass failed: {report.errors}", file=sys.stderr)
                return 1
            if report.timers_fired or report.jobs_run:
                idle_passes = 0
                print(f"timers={report.timers_fired} jobs={report.jobs_run}", flush=True)
            else:
                idle_passes += 1
                time.sleep(IDLE_PAUSE_SECONDS)
    finally:
        jobs.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
