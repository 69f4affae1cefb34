"""The services object the web and API tests give create_app: a test registry with a topic that fails on demand."""

from dataclasses import dataclass, field

from careplace.config import Settings
from careplace.wiring import STAFF_GROUPS
from engine.errors import BusinessError
from engine.handler_api import HandlerRegistry
from engine.runtime import Engine


@dataclass
class FlakyHandler:
    """A test topic's handler: raises a business error (an incident at once) while ``failing`` is true."""

    failing: bool = True
    calls: list[str] = field(default_factory=list)

    def __call__(self, inputs, context):
        self.calls.append(context.task_id)
        if self.failing:
            raise BusinessError("unavailable", "the simulated service is down")
        return {"notified": True}


@dataclass
class TestServices:
    """The parts of careplace.wiring.Services that the app reads, with the flaky handler beside them."""

    __test__ = False  # not a test class, despite the name

    settings: Settings
    session_factory: object
    registry: HandlerRegistry
    engine: Engine
    flaky: FlakyHandler


def build_test_services(db_url: str, session_factory, flaky_topic: str) -> TestServices:
    """Build services over the test database with one topic, ``flaky_topic``, served by a FlakyHandler."""
    settings = Settings(database_url=db_url, secret_key="test-secret-key", embedded=True)
    flaky = FlakyHandler()
    registry = HandlerRegistry()
    registry.topic(flaky_topic, description="Test topic that fails on demand.")(flaky)
    engine = Engine(session_factory, registry, known_groups=STAFF_GROUPS)
    return TestServices(settings, session_factory, registry, engine, flaky)
