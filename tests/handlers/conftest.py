"""Fixtures for the outside-system handlers: the simulators on loopback, fast HTTP settings and handler contexts."""

from collections.abc import Callable

import pytest

from engine import clock
from engine.handler_api import HandlerContext
from handlers.config import HandlerSettings
from handlers.simulators import SimulatorServer, start_simulators


@pytest.fixture(scope="session")
def simulator_server():
    server = start_simulators()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator_server) -> SimulatorServer:
    """The running simulators, reset to their invented records with no faults."""
    simulator_server.state.reset()
    yield simulator_server
    simulator_server.state.reset()


@pytest.fixture
def settings(sim) -> HandlerSettings:
    """Settings aimed at the simulators with short time-outs, quick backoff and no client-side rate limit."""
    return sim.handler_settings(
        http_connect_timeout=1.0,
        http_read_timeout=2.0,
        http_retries=2,
        http_backoff_factor=0.01,
        http_retry_after_max=2,
        cqc_max_requests_per_second=0,
        companies_house_max_requests_per_second=0,
        charity_commission_max_requests_per_second=0,
    )


@pytest.fixture
def make_context() -> Callable[..., HandlerContext]:
    """Build a HandlerContext without a database session, for handlers that do not write rows."""

    def build(topic: str, idempotency_key: str = "instance-1:task-1", attempt: int = 1) -> HandlerContext:
        instance_id, _, task_id = idempotency_key.partition(":")
        return HandlerContext(
            instance_id=instance_id,
            task_id=task_id,
            element_id="service_task",
            topic=topic,
            business_key=None,
            idempotency_key=idempotency_key,
            attempt=attempt,
            session=None,
            now=clock.now(),
        )

    return build


@pytest.fixture
def restore_clock():
    """Put the engine clock back to real time after a test that moves it."""
    yield clock
    clock.set_clock(None)


@pytest.fixture
def unused_port() -> int:
    """A loopback port that nothing listens on, so connecting to it is refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
