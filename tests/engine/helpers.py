"""Helpers shared by the engine tests: reading and deploying diagrams, actors and audit look-ups."""

import json
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from engine.deploy import DeployResult
from engine.models import AuditEvent, HumanTask, Instance
from engine.runtime import Actor, Engine

DIAGRAMS = Path(__file__).with_name("diagrams")

# Where the movable clock fixture stops the engine clock: a Monday morning, UTC.
START_TIME = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)

ADMIN = Actor("admin.example", is_admin=True)
MANAGER = Actor("casey.manager", frozenset({"care_manager"}))
OTHER_MANAGER = Actor("robin.manager", frozenset({"care_manager"}))
OUTSIDER = Actor("pat.outsider", frozenset({"finance"}))


def read_diagram(name: str) -> bytes:
    return (DIAGRAMS / name).read_bytes()


def deploy_file(engine: Engine, *names: str, actor: str = "analyst.example") -> DeployResult:
    """Deploy diagram files from the diagrams folder together, as one upload."""
    return engine.deploy({name: read_diagram(name) for name in names}, actor)


def open_tasks(engine: Engine, instance_id: str) -> list[HumanTask]:
    """Return the instance's open human tasks, as an admin sees them."""
    return [task for task in engine.list_tasks(ADMIN) if task.instance_id == instance_id]


def open_elements(engine: Engine, instance_id: str) -> list[str]:
    """Return the element ids of the instance's open human tasks, sorted."""
    return sorted(task.element_id for task in open_tasks(engine, instance_id))


def only_task(engine: Engine, instance_id: str, element_id: str | None = None) -> HumanTask:
    """Return the one open human task of the instance (with this element id, when given)."""
    tasks = [task for task in open_tasks(engine, instance_id) if element_id is None or task.element_id == element_id]
    assert len(tasks) == 1, f"expected one open task{' ' + element_id if element_id else ''}, found {[t.element_id for t in tasks]}"
    return tasks[0]


def complete_step(engine: Engine, instance_id: str, element_id: str, data: dict | None = None, actor: Actor = ADMIN) -> None:
    """Complete the open task ``element_id`` of the instance."""
    engine.complete(only_task(engine, instance_id, element_id).id, data or {}, actor)


def audit_events(session_factory, instance_id: str | None = None) -> list[AuditEvent]:
    with session_factory() as session:
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if instance_id is not None:
            query = query.where(AuditEvent.instance_id == instance_id)
        return list(session.scalars(query))


def audit_kinds(session_factory, instance_id: str) -> list[str]:
    return [event.kind for event in audit_events(session_factory, instance_id)]


def instance_row(session_factory, instance_id: str) -> Instance:
    with session_factory() as session:
        return session.get(Instance, instance_id)


def state_of(session_factory, instance_id: str) -> dict:
    """Return the instance's stored SpiffWorkflow state as a dict."""
    return json.loads(instance_row(session_factory, instance_id).state)
