"""The engine API that the web, the CLI and the scheduler call; nothing else changes instance state."""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session, joinedload, lazyload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, clock
from engine.deploy import DeployResult, deploy_documents
from engine.errors import (
    AccessDeniedError,
    ConflictError,
    EngineError,
    MessageNotDeliveredError,
    NotFoundError,
)
from engine.forms import FormField, fields_for_groups, form_fields, required_when_rules, validate_submission
from engine.handler_api import HandlerRegistry
from engine.lint import lint_documents
from engine.models import AuditEvent, HumanTask, Instance, MessageWait, ProcessVersion, TaskCandidate
from engine.serializer import new_workflow, spec_from_json
from engine.steps import advance
from engine.rows import TaskRow
from engine.store import Loaded, find_task, load, load_task, message_definitions, save, waiting_message_tasks

log = logging.getLogger(__name__)

# Attempts at a task completion whose instance another writer saved between its read and its write.
COMPLETE_ATTEMPTS = 3

SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """The acting user id (or service name) and the groups it belongs to."""

    user: str
    groups: frozenset[str] = frozenset()
    is_admin: bool = False


@dataclass
class TaskForm:
    """A human task with its form fields and the current values to pre-fill."""

    task: HumanTask
    fields: list[FormField]
    values: dict[str, Any]
    documentation: str | None
    # Fields required only for some submitted values (requiredWhen rules), with the message shown when one is missing.
    conditions: dict[str, str] = field(default_factory=dict)


class Engine:
    """Deploys diagrams and drives instances; every method commits its own transaction.

    ``start``, ``send_message`` and ``set_business_key`` also take a
    ``session`` to act inside the caller's transaction. A handler, which
    runs inside the transaction that completes its service task, uses
    ``Engine(None)`` for that: an engine with no session factory of its own.
    """

    def __init__(self, session_factory: sessionmaker[Session] | None, registry: HandlerRegistry | None = None, *, known_groups: set[str] | None = None, known_templates: set[str] | None = None):
        self.session_factory = session_factory
        self.registry = registry or HandlerRegistry()
        self.known_groups = known_groups
        self.known_templates = known_templates
        self.after_commit: list[Callable[[], None]] = []

    # Deployment

    def lint(self, documents: dict[str, bytes]):
        return lint_documents(documents, self.registry, known_groups=self.known_groups, known_templates=self.known_templates)

    def deploy(self, documents: dict[str, bytes], actor: str) -> DeployResult:
        """Lint then deploy; any lint error raises DiagramError and changes nothing."""
        problems = self.lint(documents)
        with self.session_factory.begin() as session:
            return deploy_documents(session, documents, actor, problems)

    def versions(self, process_id: str | None = None) -> list[ProcessVersion]:
        with self.session_factory() as session:
            query = sa.select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version.desc())
            if process_id:
                query = query.where(ProcessVersion.process_id == process_id)
            return list(session.scalars(query))

    # Instances

    def start(self, process_id: str, *, business_key: str | None = None, data: dict | None = None, actor: str = SYSTEM, session: Session | None = None) -> str:
        """Start an instance of the newest version and run it until it waits; return its id."""
        if session is not None:
            return self._start(session, process_id, business_key, data, actor)
        with self.session_factory.begin() as own:
            instance_id = self._start(own, process_id, business_key, data, actor)
        self.notify_committed()
        return instance_id

    def _start(self, session: Session, process_id: str, business_key, data, actor: str) -> str:
        version = session.scalars(
            sa.select(ProcessVersion).where(ProcessVersion.process_id == process_id).order_by(ProcessVersion.version.desc()).limit(1)
        ).first()
        if version is None:
            raise NotFoundError("process", process_id)

        workflow = new_workflow(version.spec_json)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data or {})
        now = clock.now()
        row = Instance(
            id=str(uuid.uuid4()),
            version_id=version.id,
            process_id=process_id,
            business_key=business_key,
            status="running",
            state="",
            started_by=actor,
            created_at=now,
            updated_at=now,
        )
        row.version = version
        session.add(row)
        loaded = Loaded(row, workflow)
        audit.record(session, "instance.started", actor, instance_id=row.id, process_id=process_id, version=version.version, business_key=business_key)
        advance(session, loaded, actor)
        save(session, loaded)
        session.flush()
        log.info("started instance %s of %s v%s", row.id, process_id, version.version)
        return row.id

    def get_instance(self, instance_id: str) -> Instance:
        """Return the instance row with its version loaded (without the spec JSON), detached from any session."""
        with self.session_factory() as session:
            row = session.get(Instance, instance_id, options=[joinedload(Instance.version).defer(ProcessVersion.spec_json)])
            if row is None:
                raise NotFoundError("instance", instance_id)
            return row

    def instance_data(self, instance_id: str) -> dict:
        """Return the instance's process variables (the data of its last completed task)."""
        with self.session_factory() as session:
            workflow = load(session, instance_id).workflow
            return dict(workflow.last_task.data if workflow.last_task is not None else workflow.data)

    def instance_elements(self, instance_id: str) -> dict[str, list[str]]:
        """Return diagram element ids by state (completed, active, waiting, error), for the diagram view."""
        with self.session_factory() as session:
            workflow = load(session, instance_id).workflow
        states = {"completed": TaskState.COMPLETED, "active": TaskState.READY, "waiting": TaskState.WAITING, "error": TaskState.ERROR}
        # One unfiltered walk: a state-filtered get_tasks skips the tasks below a WAITING task (SpiffWorkflow 3.2.0).
        tasks = [task for task in workflow.get_tasks() if getattr(task.task_spec, "bpmn_id", None)]
        return {name: sorted({task.task_spec.bpmn_id for task in tasks if task.has_state(state)}) for name, state in states.items()}

    def list_instances(self, *, process_id=None, status=None, business_key=None, limit: int = 50, offset: int = 0) -> list[Instance]:
        with self.session_factory() as session:
            query = sa.select(Instance).order_by(Instance.created_at.desc(), Instance.id)
            if process_id:
                query = query.where(Instance.process_id == process_id)
            if status:
                query = query.where(Instance.status == status)
            if business_key:
                query = query.where(Instance.business_key == business_key)
            return list(session.scalars(query.limit(limit).offset(offset)))

    def set_business_key(self, session: Session, instance_id: str, key: str, *, actor: str = SYSTEM) -> None:
        """Set an instance's business key in ``session``, on its row and on its open human tasks, and audit the change.

        A handler calls this once it has created the record that the instance is about, so its
        tasks and messages are found by that record's reference from then on.
        """
        row = session.get(Instance, instance_id)
        if row is None:
            raise NotFoundError("instance", instance_id)

        previous = row.business_key
        row.business_key = key
        session.execute(
            sa.update(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "open").values(business_key=key)
        )
        audit.record(session, "instance.business_key_set", actor, instance_id=instance_id, previous=previous, business_key=key)

    def history(self, instance_id: str) -> list[AuditEvent]:
        with self.session_factory() as session:
            query = sa.select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
            return list(session.scalars(query))

    def cancel_instance(self, instance_id: str, actor: str, reason: str) -> None:
        try:
            with self.session_factory.begin() as session:
                loaded = load(session, instance_id, lock=True)
                loaded.workflow.cancel()
                save(session, loaded)
                loaded.row.status = "cancelled"
                audit.record(session, "instance.cancelled", actor, instance_id=instance_id, reason=reason)
        except StaleDataError as error:
            raise ConflictError(f"instance {instance_id} was changed by someone else at the same time, so it was not cancelled; check its state and try again") from error

    # Human tasks

    def list_tasks(self, actor: Actor, *, status: str = "open", mine_only: bool = False, process_id: str | None = None, business_key: str | None = None, overdue_at: datetime | None = None, limit: int = 50, offset: int = 0, with_candidates: bool = True) -> list[HumanTask]:
        """Return tasks assigned to the actor or offered to one of their groups, oldest due first."""
        with self.session_factory() as session:
            query = self.task_query(actor, status, mine_only)
            if process_id:
                query = query.where(HumanTask.process_id == process_id)
            if business_key:
                query = query.where(HumanTask.business_key == business_key)
            if overdue_at is not None:
                query = query.where(HumanTask.due_at < overdue_at)
            query = query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)
            if not with_candidates:
                # The candidate_groups column is enough for a list page, so skip the query that loads the rows.
                query = query.options(lazyload(HumanTask.candidates))
            return list(session.scalars(query.limit(limit).offset(offset)))

    def count_tasks(self, actor: Actor, *, status: str = "open", mine_only: bool = False) -> int:
        with self.session_factory() as session:
            query = self.task_query(actor, status, mine_only).subquery()
            return session.scalar(sa.select(sa.func.count()).select_from(query))

    @staticmethod
    def task_query(actor: Actor, status: str = "open", mine_only: bool = False):
        """Return the select of human tasks the actor may see: assigned to them or offered to their groups."""
        query = sa.select(HumanTask).where(HumanTask.status == status)
        if mine_only:
            return query.where(HumanTask.assignee == actor.user)
        if actor.is_admin:
            return query
        # A union of two index lookups (by group, by assignee) keeps the cost to this actor's tasks. An OR with
        # EXISTS made PostgreSQL filter every open task of every provider.
        offered = sa.select(TaskCandidate.task_id).where(TaskCandidate.group_name.in_(actor.groups))
        assigned = sa.select(HumanTask.id).where(HumanTask.assignee == actor.user, HumanTask.status == status)
        visible = sa.union(offered, assigned)
        return query.where(HumanTask.id.in_(visible), sa.or_(HumanTask.assignee.is_(None), HumanTask.assignee == actor.user))

    def _task_for(self, session: Session, task_id: str, actor: Actor) -> HumanTask:
        task = session.get(HumanTask, task_id)
        if task is None:
            raise NotFoundError("task", task_id)
        if not self.may_work_on(task, actor):
            raise AccessDeniedError(f"{actor.user} may not work on task {task_id}: it is not assigned to them or offered to their groups")
        return task

    @staticmethod
    def may_work_on(task: HumanTask | TaskRow, actor: Actor) -> bool:
        if actor.is_admin:
            return True
        if task.assignee is not None:
            return task.assignee == actor.user
        # The column lists the same groups as the task's candidate rows, and group names never contain a comma.
        groups = set(task.candidate_groups.split(",")) - {""}
        return bool(groups & set(actor.groups))

    def get_task(self, task_id: str, actor: Actor) -> HumanTask:
        with self.session_factory() as session:
            return self._task_for(session, task_id, actor)

    def claim(self, task_id: str, actor: Actor) -> None:
        with self.session_factory.begin() as session:
            task = self._task_for(session, task_id, actor)
            if task.status != "open":
                raise ConflictError(f"task {task_id} is {task.status}; only open tasks can be claimed")
            if task.assignee == actor.user:
                return
            if task.assignee is not None:
                raise ConflictError(f"task {task_id} is already claimed by {task.assignee}")

            # Claim only if the row is still open and unclaimed, so of two concurrent claims exactly one updates it.
            claimed = session.execute(
                sa.update(HumanTask)
                .where(HumanTask.id == task_id, HumanTask.status == "open", HumanTask.assignee.is_(None))
                .values(assignee=actor.user, claimed_at=clock.now())
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                raise ConflictError(f"task {task_id} was claimed or completed by someone else at the same time; reload the task list")
            audit.record(session, "task.claimed", actor.user, instance_id=task.instance_id, task_id=task_id)

    def release(self, task_id: str, actor: Actor) -> None:
        with self.session_factory.begin() as session:
            task = session.get(HumanTask, task_id)
            if task is None:
                raise NotFoundError("task", task_id)
            if task.assignee != actor.user and not actor.is_admin:
                raise AccessDeniedError(f"task {task_id} is not claimed by {actor.user}, so they cannot release it")
            if not task.candidates:
                raise ConflictError(f"task {task_id} has no candidate groups to return to; reassign it instead")

            # Release only the claim that was read, so a release racing a new claim cannot undo it.
            released = session.execute(
                sa.update(HumanTask)
                .where(HumanTask.id == task_id, HumanTask.status == "open", HumanTask.assignee == task.assignee)
                .values(assignee=None, claimed_at=None)
                .execution_options(synchronize_session=False)
            )
            if released.rowcount != 1:
                raise ConflictError(f"task {task_id} was claimed, released or completed by someone else at the same time; reload the task list")
            audit.record(session, "task.released", actor.user, instance_id=task.instance_id, task_id=task_id)

    def task_form(self, task_id: str, actor: Actor) -> TaskForm:
        with self.session_factory() as session:
            task = self._task_for(session, task_id, actor)
            workflow = load(session, task.instance_id).workflow
            spiff_task = find_task(workflow, task_id)
            if spiff_task is None:
                raise NotFoundError("task", task_id)
            fields, _hidden = fields_for_groups(spiff_task.task_spec, form_fields(spiff_task.task_spec), None if actor.is_admin else actor.groups)
            values = {field.id: spiff_task.data.get(field.id, field.default) for field in fields}
            rules = required_when_rules(spiff_task.task_spec, workflow.script_engine.environment.evaluate)
            conditions = {field_id: message for field_id, (_test, message) in rules.items()}
            return TaskForm(task, fields, values, spiff_task.task_spec.documentation, conditions)

    def complete(self, task_id: str, data: dict, actor: Actor) -> None:
        """Validate ``data`` against the task's form, complete the task and run until the instance waits.

        Raises FormValidationError with every field error, ConflictError when
        the task was completed by someone else first, or when its instance
        kept changing under every attempt.

        When another writer saved the instance between this read and this
        write, such as a service-task job finishing in the background, nothing
        was written, so the completion starts again from a fresh read. It then
        finds the task completed if that writer completed it, and validates the
        data against the instance as it is now.
        """
        for attempt in range(1, COMPLETE_ATTEMPTS + 1):
            try:
                with self.session_factory.begin() as session:
                    self._complete(session, task_id, data, actor)
                break
            except StaleDataError as error:
                if attempt == COMPLETE_ATTEMPTS:
                    raise ConflictError(f"task {task_id} was changed by someone else at the same time; reload it and try again") from error
                log.info("instance of task %s changed while completing it (attempt %d of %d); reading it again", task_id, attempt, COMPLETE_ATTEMPTS)
            except sa.exc.IntegrityError as error:
                raise ConflictError(f"task {task_id} was completed by someone else at the same time; reload it") from error
        self.notify_committed()

    def _complete(self, session: Session, task_id: str, data: dict, actor: Actor) -> None:
        task, loaded = load_task(session, task_id)
        if not self.may_work_on(task, actor):
            raise AccessDeniedError(f"{actor.user} may not work on task {task_id}: it is not assigned to them or offered to their groups")
        if task.status != "open":
            raise ConflictError(f"task {task_id} is already {task.status}; there is nothing left to complete")

        spiff_task = find_task(loaded.workflow, task_id)
        if spiff_task is None or not spiff_task.has_state(TaskState.READY):
            raise ConflictError(f"task {task_id} is no longer waiting for input; reload the task list")

        rules = required_when_rules(spiff_task.task_spec, loaded.workflow.script_engine.environment.evaluate)
        fields, hidden = fields_for_groups(spiff_task.task_spec, form_fields(spiff_task.task_spec), None if actor.is_admin else actor.groups)
        values = validate_submission(task_id, fields, data, spiff_task.data, rules, hidden)
        spiff_task.data.update(values)
        spiff_task.run()
        audit.record(session, "task.completed", actor.user, instance_id=task.instance_id, task_id=task_id, element_id=task.element_id, fields=sorted(name for name in values if name in data))
        advance(session, loaded, actor.user)
        # The writes go with the commit, where a version conflict raises StaleDataError.
        save(session, loaded, completed_by={task_id: actor.user}, send=False)

    # Messages

    def send_message(self, name: str, payload: dict | None = None, *, business_key: str | None = None, correlation: dict | None = None, actor: str = SYSTEM, session: Session | None = None, allow_start: bool = True) -> list[str]:
        """Deliver a message to every instance waiting for it (narrowed by business key and correlation).

        With nothing waiting, a process whose message start event has this
        name is started instead (unless ``allow_start`` is False); failing
        that, MessageNotDeliveredError. Returns the ids of the instances that
        received it.
        """
        if session is not None:
            return self._send_message(session, name, payload or {}, business_key, correlation or {}, actor, allow_start)
        try:
            with self.session_factory.begin() as own:
                delivered = self._send_message(own, name, payload or {}, business_key, correlation or {}, actor, allow_start)
        except StaleDataError as error:
            # SQLite has no row lock, so another writer can change an instance between its read and this write.
            raise ConflictError(f"message {name!r} was not delivered: an instance it was sent to was changed by someone else at the same time; send it again") from error
        self.notify_committed()
        return delivered

    def _send_message(self, session: Session, name: str, payload: dict, business_key, correlation: dict, actor: str, allow_start: bool = True) -> list[str]:
        query = sa.select(MessageWait, Instance).join(Instance, Instance.id == MessageWait.instance_id).where(
            MessageWait.message_name == name, Instance.status == "running"
        )
        if business_key is not None:
            query = query.where(Instance.business_key == business_key)
        targets = []
        for wait, instance in session.execute(query):
            if all(wait.correlation.get(key) == value for key, value in correlation.items()) and instance.id not in targets:
                targets.append(instance.id)

        if not targets:
            process_id = self._message_start_process(session, name) if allow_start else None
            if process_id is None:
                raise MessageNotDeliveredError(name, business_key, correlation)
            instance_id = self._start(session, process_id, business_key, {**payload, **correlation}, actor)
            audit.record(session, "message.started", actor, instance_id=instance_id, message=name)
            # The new instance waits at its message start event until it receives the message below.
            targets = [instance_id]

        for instance_id in targets:
            loaded = load(session, instance_id, lock=True)
            definitions = [
                definition for task in waiting_message_tasks(loaded.workflow) for definition in message_definitions(task) if definition.name == name
            ]
            if not definitions:
                # The wait row was stale: another writer moved the instance on after this query read it.
                raise MessageNotDeliveredError(name, business_key, correlation)
            definition = definitions[0]
            try:
                loaded.workflow.send_event(BpmnEvent(definition, {"payload": payload, "result_var": None}))
            except WorkflowException as error:
                raise MessageNotDeliveredError(name, business_key, correlation) from error
            audit.record(session, "message.received", actor, instance_id=instance_id, message=name, fields=sorted(payload))
            advance(session, loaded, actor)
            save(session, loaded)
        session.flush()
        return targets

    @staticmethod
    def _message_start_process(session: Session, name: str) -> str | None:
        rows = session.execute(
            sa.select(ProcessVersion.process_id, ProcessVersion.spec_json).order_by(ProcessVersion.process_id, ProcessVersion.version.desc())
        )
        newest = {}
        for process_id, spec_json in rows:
            newest.setdefault(process_id, spec_json)
        for process_id, spec_json in newest.items():
            if f'"name": "{name}"' in spec_json and _has_message_start(spec_json, name):
                return process_id
        return None

    def notify_committed(self) -> None:
        """Run the after-commit hooks (for example, waking the in-process scheduler)."""
        for callback in self.after_commit:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a wake-up hook must never undo a committed change
                log.exception("after-commit hook failed")


def _has_message_start(spec_json: str, name: str) -> bool:
    spec, _subprocesses = spec_from_json(spec_json)
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if type(task_spec).__name__ == "StartEvent" and getattr(definition, "name", None) == name:
            return True
    return False


__all__ = ["Actor", "Engine", "EngineError", "TaskForm", "SYSTEM"]
