"""Running engine steps until an instance waits, turning script failures into incidents."""

import logging

from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.errors import ScriptError
from engine.models import Incident
from engine.assignment import ASSIGNMENT_KEY, resolve_assignment
from engine.store import Loaded, TaskStates

log = logging.getLogger(__name__)


def advance(session: Session, loaded: Loaded, actor: str) -> bool:
    """Run ready engine tasks (gateways, scripts, events) until the instance waits; False on failure.

    A failing condition or script leaves its task in ERROR and opens an
    incident naming the element, so an operator can correct data and retry.
    """
    try:
        loaded.workflow.do_engine_steps()
        _assign_ready_user_tasks(loaded)
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


def _assign_ready_user_tasks(loaded: Loaded) -> None:
    """Evaluate assignee, candidate groups and due date of new user tasks; a failing one goes to ERROR."""
    now = clock.now()
    for task in TaskStates.of(loaded.workflow).ready:
        if not isinstance(task.task_spec, UserTask) or ASSIGNMENT_KEY in task.internal_data:
            continue
        try:
            resolve_assignment(loaded.workflow, task, now)
        except (SpiffWorkflowException, ScriptError, ValueError) as error:
            task.error()
            cause = _root_cause(error)
            message = f"assignee, candidate groups or due date of {task.task_spec.bpmn_id} failed: {type(cause).__name__}: {cause}"
            raise WorkflowTaskException(message, task=task, exception=cause) from error


def _element_of(error) -> str | None:
    task = getattr(error, "task", None)
    if task is not None:
        return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
    return None


def _task_id_of(error) -> str | None:
    task = getattr(error, "task", None)
    return str(task.id) if task is not None else None


def _root_cause(error: BaseException) -> BaseException:
    """Return the exception SpiffWorkflow wrapped (it keeps it only as the implicit context), or the error itself."""
    cause = error
    while isinstance(cause, SpiffWorkflowException) and (cause.__cause__ or cause.__context__) is not None:
        cause = cause.__cause__ or cause.__context__
    return cause


def _describe(error) -> str:
    text = str(error)
    cause = _root_cause(error)
    if cause is not error and str(cause) not in text:
        text = f"{text}: {type(cause).__name__}: {cause}"
    return text[:2000]
