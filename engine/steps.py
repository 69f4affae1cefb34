"""Running engine steps until an instance waits, turning script failures into incidents."""

import logging

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.errors import ScriptError
from engine.models import Incident
from engine.store import Loaded

log = logging.getLogger(__name__)


def advance(session: Session, loaded: Loaded, actor: str) -> bool:
    """Run ready engine tasks (gateways, scripts, events) until the instance waits; False on failure.

    A failing condition or script leaves its task in ERROR and opens an
    incident naming the element, so an operator can correct data and retry.
    """
    try:
        loaded.workflow.do_engine_steps()
        return True
    except (SpiffWorkflowException, ScriptError) as error:
        element_id = _element_of(error)
        message = _describe(error)
        # The incident has no ORM relationship to the instance, so insert a new instance row first or its foreign key fails.
        session.flush()
        incident = Incident(
            instance_id=loaded.row.id,
            task_id=_task_id_of(error),
            element_id=element_id,
            topic=None,
            error=message,
            attempts=1,
            status="open",
            created_at=clock.now(),
        )
        session.add(incident)
        session.flush()
        loaded.row.error = message
        # The message can quote task data (a failed int() shows its argument), so the audit event names the incident instead.
        audit.record(session, "incident.opened", actor, instance_id=loaded.row.id, element_id=element_id, incident_id=incident.id)
        log.warning("instance %s failed at %s: %s", loaded.row.id, element_id, type(error).__name__)
        return False


def _element_of(error) -> str | None:
    task = getattr(error, "task", None)
    if task is not None:
        return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
    return None


def _task_id_of(error) -> str | None:
    task = getattr(error, "task", None)
    return str(task.id) if task is not None else None


def _describe(error) -> str:
    text = str(error)
    original = getattr(error, "error", None) or getattr(error, "exception", None)
    if original is not None and str(original) not in text:
        text = f"{text}: {original}"
    return text[:2000]
