"""Fixtures for the engine tests: an engine with test handlers, a movable clock and a job runner."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from engine import clock
from engine.handler_api import HandlerRegistry
from engine.jobs import JobRunner
from engine.runtime import Engine
from helpers import START_TIME


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
