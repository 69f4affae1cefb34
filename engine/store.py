"""Loading and saving instances, and keeping the query rows (tasks, jobs, waits, timers) in step."""

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import clock, rows, writes
from engine.errors import NotFoundError
from engine.models import Instance, Job, MessageWait
from engine.serializer import spec_from_json, workflow_from_specs, workflow_to_json
from engine.assignment import ASSIGNMENT_KEY, resolve_assignment
from engine.specs import ExternalServiceTask, camunda_attributes, parse_cycle

log = logging.getLogger(__name__)

DEFAULT_RETRY_CYCLE = "R3/PT1M"


# session.info key: how many times each instance was saved in the session, by instance id.
_SAVES_KEY = "careplace_engine_saves"


@dataclass
class Loaded:
    """An instance row with its live workflow, and the ids of its open human-task rows when they were read with it."""

    row: Instance
    workflow: BpmnWorkflow
    open_task_ids: set[str] | None = None
    # The session's save count of this instance when this workflow was read or last saved.
    saves_seen: int = 0


def _save_counts(session: Session) -> dict[str, int]:
    return session.info.setdefault(_SAVES_KEY, {})


def load(session: Session, instance_id: str, *, lock: bool = False) -> Loaded:
    """Load an instance and rebuild its workflow; ``lock`` takes a row lock on PostgreSQL."""
    read = rows.read_instance(session, instance_id, lock=lock)
    if read is None:
        raise NotFoundError("instance", instance_id)
    return _rebuild(session, read)


def load_task(session: Session, task_id: str) -> tuple[rows.TaskRow, Loaded]:
    """Load a human task's row and its instance, with the instance's workflow rebuilt."""
    found = rows.read_task_with_instance(session, task_id)
    if found is None:
        raise NotFoundError("task", task_id)
    task, read = found
    return task, _rebuild(session, read)


def _rebuild(session: Session, read: rows.InstanceRead) -> Loaded:
    row = read.row

    def read_spec_json() -> str:
        return rows.read_spec_json(session, row.version_id)

    spec, subprocess_specs = version_specs(read.spec_hash, read_spec_json)
    workflow = workflow_from_specs(row.state, spec, subprocess_specs, read_spec_json, instance_id=row.id)
    return Loaded(row, workflow, read.open_task_ids, _save_counts(session).get(row.id, 0))


_SPEC_CACHE: OrderedDict = OrderedDict()
_SPEC_CACHE_SIZE = 256


def version_specs(spec_hash: str, read_spec_json) -> tuple:
    """Return the built (spec, subprocess specs) of a version, calling ``read_spec_json`` only on a cache miss.

    Versions never change once stored, and the key is the hash of the spec
    itself, so two databases that reuse a version id never share an entry.
    """
    cached = _SPEC_CACHE.get(spec_hash)
    if cached is None:
        cached = spec_from_json(read_spec_json())
        _SPEC_CACHE[spec_hash] = cached
        if len(_SPEC_CACHE) > _SPEC_CACHE_SIZE:
            _SPEC_CACHE.popitem(last=False)
    else:
        _SPEC_CACHE.move_to_end(spec_hash)
    return cached


@dataclass
class TaskStates:
    """The tasks of a workflow and of its subprocesses, by state, read from their task dicts in creation order.

    Walking the task tree costs ten times as much, and SpiffWorkflow 3.2.0's
    walk has two gaps: its state filter does not descend below a WAITING task,
    where a repeating timer's branches hang, and it stops 1,000 tasks deep.
    """

    ready: list
    waiting: list
    has_error: bool

    @classmethod
    def of(cls, workflow: BpmnWorkflow) -> "TaskStates":
        ready, waiting, has_error = [], [], False
        for tasks in (workflow.tasks, *(subprocess.tasks for subprocess in workflow.subprocesses.values())):
            for task in tasks.values():
                state = task.state
                if state == TaskState.READY:
                    ready.append(task)
                elif state == TaskState.WAITING:
                    waiting.append(task)
                elif state == TaskState.ERROR:
                    has_error = True
        return cls(ready, waiting, has_error)


def status_of(workflow: BpmnWorkflow, states: TaskStates | None = None) -> str:
    """Return running, completed or error.

    SpiffWorkflow's task iterator stops 1,000 tasks deep, so a long loop can
    make ``is_completed`` true while a task is still unfinished: that is
    reported as an error, never as completed.
    """
    if workflow.is_completed():
        if any(not task.has_state(TaskState.FINISHED_MASK) for task in workflow.tasks.values()):
            return "error"
        return "completed"
    if (states or TaskStates.of(workflow)).has_error:
        return "error"
    return "running"


def save(session: Session, loaded: Loaded, *, completed_by: dict[str, str] | None = None, send: bool = True) -> None:
    """Write the workflow state back and refresh every query row derived from it.

    ``completed_by`` names who completed which human task, for the task rows
    that this save closes. With ``send`` False the instance, task and audit
    writes stay queued until the session's next query, flush or commit, so a
    version conflict is raised there. A save that is the last change before
    the commit then lets them go as one transaction (``engine.autocommit``).
    """
    row, workflow = loaded.row, loaded.workflow
    # Two loads of one instance in a session share its row object, so its row_version cannot show that the other
    # load saved first. Saving this stale workflow would undo that save and leave the task rows out of step.
    saves = _save_counts(session)
    if saves.get(row.id, 0) != loaded.saves_seen:
        raise StaleDataError(f"instance {row.id} was saved by another load in this transaction after this one read it")
    saves[row.id] = loaded.saves_seen = loaded.saves_seen + 1

    now = clock.now()
    states = TaskStates.of(workflow)
    values = {"state": workflow_to_json(workflow), "status": status_of(workflow, states), "updated_at": now, "next_timer_at": next_timer_due(workflow, states)}
    if values["status"] == "completed" and row.completed_at is None:
        values["completed_at"] = now

    if row in session.new:
        for name, value in values.items():
            setattr(row, name, value)
        # The rows synced below refer to the instance without an ORM relationship, so insert a new instance first.
        session.flush()
        if loaded.open_task_ids is None:
            loaded.open_task_ids = set()
    else:
        rows.write_instance(session, row, values)

    _sync_human_tasks(session, loaded, now, states, completed_by or {})
    if send:
        # Send the instance, task and audit writes now, so a version conflict is raised by this call.
        writes.flush(session)

    # A process without service tasks or message events never has job or wait rows, so skip those queries. They
    # autoflush, so they also see job rows that an earlier save in this transaction added.
    if _has_task_spec(workflow, lambda spec: isinstance(spec, ExternalServiceTask)):
        _sync_jobs(session, row, now, states)
    if _has_task_spec(workflow, lambda spec: any(isinstance(definition, MessageEventDefinition) for definition in _event_definitions(spec))):
        _sync_message_waits(session, row, workflow, states)


def _has_task_spec(workflow: BpmnWorkflow, predicate) -> bool:
    """Tell whether any task spec of the process or of its subprocesses and call activities matches."""
    specs = [workflow.spec, *workflow.subprocess_specs.values()]
    return any(predicate(task_spec) for spec in specs for task_spec in spec.task_specs.values())


def next_timer_due(workflow: BpmnWorkflow, states: TaskStates | None = None) -> datetime | None:
    """Return the earliest due time of the workflow's waiting timers, or None."""
    due_times = []
    for task in (states or TaskStates.of(workflow)).waiting:
        if not any(isinstance(definition, TimerEventDefinition) for definition in _event_definitions(task.task_spec)):
            continue
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            value = value.get("next") if value.get("cycles", 0) != 0 else None
        if value:
            due_times.append(datetime.fromisoformat(value))
    return min(due_times) if due_times else None


def _is_human(task) -> bool:
    return isinstance(task.task_spec, UserTask)


def _sync_human_tasks(session: Session, loaded: Loaded, now: datetime, states: TaskStates, completed_by: dict[str, str]) -> None:
    row, workflow = loaded.row, loaded.workflow
    ready = {str(task.id): task for task in states.ready if _is_human(task)}
    existing = loaded.open_task_ids if loaded.open_task_ids is not None else rows.open_task_ids(session, row.id)

    pending = writes.pending(session)
    for task_id in existing:
        if task_id in ready:
            continue
        spiff_task = find_task(workflow, task_id)
        status = "completed" if spiff_task is not None and spiff_task.has_state(TaskState.COMPLETED) else "cancelled"
        pending.closed.append({"id": task_id, "status": status, "completed_at": now, "completed_by": completed_by.get(task_id)})

    for task_id, task in ready.items():
        if task_id in existing:
            continue
        assignment = task.internal_data.get(ASSIGNMENT_KEY) or resolve_assignment(workflow, task, now)
        assignee, groups = assignment["assignee"], assignment["groups"]
        pending.opened.append(
            {
                "id": task_id,
                "instance_id": row.id,
                "process_id": row.process_id,
                "business_key": row.business_key,
                "element_id": task.task_spec.bpmn_id,
                "name": task.task_spec.bpmn_name or task.task_spec.bpmn_id,
                "status": "open",
                "assignee": str(assignee) if assignee else None,
                "candidate_groups": ",".join(groups),
                "due_at": datetime.fromisoformat(assignment["due_at"]) if assignment["due_at"] else None,
                "created_at": now,
            }
        )
        pending.candidates.extend({"task_id": task_id, "group_name": group} for group in groups)
    loaded.open_task_ids = set(ready)


def find_task(workflow: BpmnWorkflow, task_id: str):
    """Return the workflow's task with this id, or None when it no longer exists."""
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except (TaskNotFoundException, ValueError):
        return None


def retry_intervals(cycle: str | None) -> list[float]:
    """Turn a retry cycle such as R3/PT5M into the list of waits (seconds) before each retry."""
    repetitions, _first, interval = parse_cycle(cycle or DEFAULT_RETRY_CYCLE, clock.now())
    if repetitions < 0:
        raise ValueError(f"retry cycle {cycle!r} must give a count, such as R3/PT5M")
    return [interval.total_seconds()] * repetitions


def _sync_jobs(session: Session, row: Instance, now: datetime, states: TaskStates) -> None:
    ready = {str(task.id): task for task in states.ready if isinstance(task.task_spec, ExternalServiceTask)}
    existing = {job.task_id: job for job in session.scalars(sa.select(Job).where(Job.instance_id == row.id, Job.status.in_(("ready", "running", "failed"))))}

    for task_id, job in existing.items():
        if task_id not in ready:
            job.status = "cancelled" if job.status != "done" else job.status
            job.completed_at = now

    for task_id, task in ready.items():
        if task_id in existing:
            continue
        attributes = camunda_attributes(task.task_spec)
        session.add(
            Job(
                instance_id=row.id,
                task_id=task_id,
                element_id=task.task_spec.bpmn_id,
                topic=attributes["topic"],
                status="ready",
                attempts=0,
                retry_intervals=retry_intervals(attributes.get("retryTimeCycle")),
                next_run_at=now,
                created_at=now,
            )
        )


def _event_definitions(task_spec) -> list:
    """Return a catching spec's event definitions; an event-based gateway keeps those of all its events in one."""
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def message_definitions(task) -> list[MessageEventDefinition]:
    """Return the message definitions a waiting task can catch (several for an event-based gateway)."""
    return [definition for definition in _event_definitions(task.task_spec) if isinstance(definition, MessageEventDefinition)]


def waiting_message_tasks(workflow: BpmnWorkflow, states: TaskStates | None = None) -> list:
    """Return the workflow's tasks that wait for a message."""
    return [task for task in (states or TaskStates.of(workflow)).waiting if message_definitions(task)]


def _sync_message_waits(session: Session, row: Instance, workflow: BpmnWorkflow, states: TaskStates) -> None:
    session.execute(sa.delete(MessageWait).where(MessageWait.instance_id == row.id))
    seen = set()
    for task in waiting_message_tasks(workflow, states):
        keys = [key.strip() for key in (task.task_spec.extensions or {}).get("correlationKeys", "").split(",") if key.strip()]
        correlation = {key: _json_scalar(task.data.get(key)) for key in keys}
        for definition in message_definitions(task):
            marker = (definition.name, tuple(sorted(correlation.items())))
            if marker in seen:
                continue
            seen.add(marker)
            session.add(MessageWait(instance_id=row.id, message_name=definition.name, correlation=correlation))


def _json_scalar(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


__all__ = ["Loaded", "load", "load_task", "save", "next_timer_due", "retry_intervals", "waiting_message_tasks", "message_definitions", "find_task"]
