"""The contract between service tasks and the Python handlers that run them, and the topic registry."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class HandlerContext:
    """The service task a handler runs for, as the handler receives it.

    ``session`` is the transaction that completes the task: rows a handler
    writes there (an outbox email, say) commit together with the task, or
    not at all. ``idempotency_key`` is the same on every retry of one task.
    """

    instance_id: str
    task_id: str
    element_id: str
    topic: str
    business_key: str | None
    idempotency_key: str
    attempt: int
    session: Session
    now: datetime


Handler = Callable[[dict[str, Any], HandlerContext], dict[str, Any] | None]


@dataclass(frozen=True)
class TopicSpec:
    """A registered topic: its handler, documented inputs and outputs, and a time-out in seconds."""

    topic: str
    handler: Handler
    description: str
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0


class HandlerRegistry:
    """Maps service-task topics to handlers; the linter rejects a topic that is not here."""

    def __init__(self) -> None:
        self._topics: dict[str, TopicSpec] = {}

    def register(self, spec: TopicSpec) -> None:
        if spec.topic in self._topics:
            raise ValueError(f"topic {spec.topic!r} is already registered; pick another topic name")

        self._topics[spec.topic] = spec

    def topic(
        self,
        name: str,
        *,
        description: str,
        inputs: dict[str, str] | None = None,
        outputs: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Callable[[Handler], Handler]:
        """Decorate a handler function to register it under topic ``name``."""

        def decorate(func: Handler) -> Handler:
            self.register(TopicSpec(name, func, description, inputs or {}, outputs or {}, errors or {}, timeout))
            return func

        return decorate

    def get(self, topic: str) -> TopicSpec | None:
        return self._topics.get(topic)

    def __contains__(self, topic: str) -> bool:
        return topic in self._topics

    def topics(self) -> list[TopicSpec]:
        return [self._topics[name] for name in sorted(self._topics)]
