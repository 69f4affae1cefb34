"""Fixtures for the scheduler tests: worker subprocesses, the visit-record table and a clock set in the past."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from careplace.db import make_db_engine, make_session_factory
from engine import clock
from worker_process import VISIT_RECORDS_METADATA

WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")


@pytest.fixture
def pg_session_factory(pg_url):
    db_engine = make_db_engine(pg_url)
    yield make_session_factory(db_engine)
    db_engine.dispose()


@pytest.fixture
def visit_records(pg_session_factory):
    """Create the table the test handler writes to, and drop it afterwards because it is not part of the schema."""
    db_engine = pg_session_factory.kw["bind"]
    VISIT_RECORDS_METADATA.create_all(db_engine)
    yield
    VISIT_RECORDS_METADATA.drop_all(db_engine)


class PinnedClock:
    """The engine clock stopped at ``current``, which a test may move."""

    def __init__(self, current: datetime):
        self.current = current

    def __call__(self) -> datetime:
        return self.current


@pytest.fixture
def engine_clock():
    """Stop the engine clock two hours back, so timers set in the test are due for a worker on the real clock."""
    pinned = PinnedClock(datetime.now(timezone.utc) - timedelta(hours=2))
    clock.set_clock(pinned)
    yield pinned
    clock.set_clock(None)


@pytest.fixture
def launch_worker():
    """Start ``worker_process.py`` subprocesses, and kill any still running at teardown."""
    processes: list[subprocess.Popen] = []

    def launch(database_url: str, worker_id: str, *options: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), database_url, worker_id, *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield launch

    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
