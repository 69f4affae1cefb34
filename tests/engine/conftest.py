"""Fixtures for the engine tests: quickly emptied databases, an engine with test handlers, a movable clock and a job runner."""

import shutil
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from careplace.db import make_db_engine
from careplace.metadata import all_metadata
from engine import clock
from engine.handler_api import HandlerRegistry
from engine.jobs import JobRunner
from engine.runtime import Engine
from helpers import START_TIME


def empty_postgres(url: str) -> None:
    """Delete every row of every table, children first.

    The root fixtures TRUNCATE instead, which took 0.3 to 1.3 s per test on
    the 2-CPU development machine against 10 to 20 ms for these DELETEs on
    the few rows a test leaves. Sequences are not reset, so no engine test
    may depend on an id value.
    """
    tables = sa.schema.sort_tables([table for metadata in all_metadata() for table in metadata.tables.values()])
    db_engine = make_db_engine(url)
    with db_engine.begin() as connection:
        for table in reversed(tables):
            connection.execute(table.delete())
    db_engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """The URL of an empty, migrated database, once on SQLite and once on PostgreSQL (overrides the root fixture)."""
    if request.param == "sqlite":
        path = tmp_path / "careplace.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"

    url = request.getfixturevalue("postgres_database_url")
    empty_postgres(url)
    return url


@pytest.fixture
def pg_url(request) -> str:
    """The URL of an empty, migrated PostgreSQL database (overrides the root fixture)."""
    url = request.getfixturevalue("postgres_database_url")
    empty_postgres(url)
    return url


class MovableClock:
    """A clock that stays at ``current`` until a test advances or sets it."""

    def __init__(self, current: datetime):
        self.current = current

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs) -> None:
        self.current += timedelta(**kwargs)


class HandlerCalls:
    """The inputs each test handler received, by topic."""

    def __init__(self):
        self.by_topic: dict[str, list[dict]] = {}

    def add(self, topic: str, inputs: dict) -> None:
        self.by_topic.setdefault(topic, []).append(dict(inputs))


@pytest.fixture
def handler_calls() -> HandlerCalls:
    return HandlerCalls()


@pytest.fixture
def registry(handler_calls) -> HandlerRegistry:
    registry = HandlerRegistry()

    @registry.topic("test.echo", description="Return the doubled input plus one", inputs={"doubled": "a number"}, outputs={"result": "a number"})
    def echo(inputs, context):
        handler_calls.add("test.echo", inputs)
        return {"result": inputs["doubled"] + 1}

    @registry.topic("test.quote", description="Price weekly hours at a fixed hourly rate", inputs={"weekly_hours": "hours"}, outputs={"total": "Decimal"})
    def quote(inputs, context):
        handler_calls.add("test.quote", inputs)
        return {"total": Decimal("21.50") * inputs["weekly_hours"], "provider": "Example Care Ltd"}

    return registry


@pytest.fixture
def engine(session_factory, registry) -> Engine:
    return Engine(session_factory, registry)


@pytest.fixture
def job_runner(session_factory, registry):
    runner = JobRunner(session_factory, registry, "test-worker")
    yield runner
    runner.close()


@pytest.fixture
def movable_clock(request) -> MovableClock:
    """Stop the engine clock at a known UTC instant; the test moves it with ``advance``."""
    movable = MovableClock(START_TIME)
    clock.set_clock(movable)
    request.addfinalizer(lambda: clock.set_clock(None))
    return movable
