"""Running service-task jobs: lease, handler call with a time-out, output mapping, retries and incidents."""

import threading
import traceback
import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, clock
from engine.errors import BusinessError, ConflictError, HandlerTimeoutError, NotFoundError, TransientError
from engine.handler_api import HandlerContext, HandlerRegistry
from engine.mapping import evaluate_inputs, map_outputs
from engine.models import Incident, Job
from engine.steps import advance
from engine.store import find_task, load, save

log = logging.getLogger(__name__)

LEASE_MARGIN = timedelta(seconds=30)



@dataclass
class JobOutcome:
    job_id: int
    result: str  # done, caught, retry, incident, skipped


def acquire_jobs(session_factory: sessionmaker[Session], worker_id: str, *, limit: int = 10, lease_seconds: float = 300.0) -> list[int]:
    """Lease up to ``limit`` due jobs (ready, or running with an expired lease) for this worker.

    On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers
    lease disjoint jobs; on SQLite the single writer gives the same result.
    """
    now = clock.now()
    with session_factory.begin() as session:
        due = sa.or_(
            sa.and_(Job.status == "ready", Job.next_run_at <= now),
            sa.and_(Job.status == "running", Job.locked_until < now),
        )
        query = sa.select(Job).where(due).order_by(Job.next_run_at, Job.id).limit(limit)
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        jobs = list(session.scalars(query))
        for job in jobs:
            if job.status == "running":
                log.warning("job %s (instance %s) lease by %s expired; taking it over", job.id, job.instance_id, job.locked_by)
            job.status = "running"
            job.locked_by = worker_id
            job.locked_until = now + timedelta(seconds=lease_seconds) + LEASE_MARGIN
            job.attempts += 1
        return [job.id for job in jobs]


class JobRunner:
    """Runs leased jobs with the handlers of a registry."""

    def __init__(self, session_factory: sessionmaker[Session], registry: HandlerRegistry, worker_id: str):
        self.session_factory = session_factory
        self.registry = registry
        self.worker_id = worker_id
        self.abandoned_handlers = 0

    def close(self) -> None:
        if self.abandoned_handlers:
            log.warning("worker %s leaves %s timed-out handler threads running", self.worker_id, self.abandoned_handlers)

    def run_due(self, limit: int = 10) -> list[JobOutcome]:
        lease = max((spec.timeout for spec in self.registry.topics()), default=30.0)
        return [self.run(job_id) for job_id in acquire_jobs(self.session_factory, self.worker_id, limit=limit, lease_seconds=lease)]

    def run(self, job_id: int) -> JobOutcome:
        """Run one leased job: call its handler and complete the task in one transaction."""
        try:
            with self.session_factory.begin() as session:
                return self._run(session, job_id)
        except BusinessError as error:
            return self._business_failure(job_id, error)
        except (TransientError, HandlerTimeoutError, ConflictError, StaleDataError, sa.exc.OperationalError, OSError) as error:
            return self._failure(job_id, error)
        except Exception as error:  # noqa: BLE001 - a handler bug or bad data: retrying cannot help
            # The message can quote task data, so the log names only the error type and where it was raised.
            frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
            where = f"{frame.filename}:{frame.lineno}" if frame else "unknown place"
            log.error("job %s: handler failed with %s at %s; opening an incident", job_id, type(error).__name__, where)
            return self._failure(job_id, error, retry=False)

    def _run(self, session: Session, job_id: int) -> JobOutcome:
        job = session.get(Job, job_id)
        if job is None or job.status != "running" or job.locked_by != self.worker_id:
            return JobOutcome(job_id, "skipped")

        loaded = load(session, job.instance_id, lock=True)
        task = find_task(loaded.workflow, job.task_id)
        if task is None or not task.has_state(TaskState.READY):
            job.status = "cancelled"
            job.completed_at = clock.now()
            return JobOutcome(job_id, "skipped")

        spec = self.registry.get(job.topic)
        if spec is None:
            raise TransientError(f"no handler is registered for topic {job.topic!r}; deploy the handler, then retry the incident")

        inputs = evaluate_inputs(loaded.workflow, task)
        context = HandlerContext(
            instance_id=job.instance_id,
            task_id=job.task_id,
            element_id=job.element_id,
            topic=job.topic,
            business_key=loaded.row.business_key,
            idempotency_key=f"{job.instance_id}:{job.task_id}",
            attempt=job.attempts,
            session=session,
            now=clock.now(),
        )
        log.info("job %s: running %s for instance %s task %s (attempt %s)", job_id, job.topic, job.instance_id, job.element_id, job.attempts)
        outputs = self._call_with_timeout(spec, inputs, context) or {}

        map_outputs(loaded.workflow, task, outputs)
        task.run()
        job.status = "done"
        job.completed_at = clock.now()
        job.last_error = None
        audit.record(session, "job.completed", self.worker_id, instance_id=job.instance_id, task_id=job.task_id, topic=job.topic, attempts=job.attempts)
        advance(session, loaded, self.worker_id)
        save(session, loaded)
        return JobOutcome(job_id, "done")

    def _call_with_timeout(self, spec, inputs: dict, context: HandlerContext):
        """Call the handler in its own daemon thread and wait at most ``spec.timeout`` seconds.

        A thread per call means a hung handler cannot starve the others. Python
        cannot stop a thread, so a timed-out handler keeps running until it
        returns; its transaction is rolled back, so nothing it writes commits.
        """
        result: dict = {}

        def call() -> None:
            try:
                result["value"] = spec.handler(inputs, context)
            except BaseException as error:  # noqa: BLE001 - re-raised in the waiting thread below
                result["error"] = error

        thread = threading.Thread(target=call, name=f"handler-{context.topic}", daemon=True)
        thread.start()
        thread.join(spec.timeout)
        if thread.is_alive():
            self.abandoned_handlers += 1
            raise HandlerTimeoutError(f"handler for {context.topic} timed out after {spec.timeout} s")
        if "error" in result:
            raise result["error"]
        return result.get("value")

    def _business_failure(self, job_id: int, error: BusinessError) -> JobOutcome:
        """Throw the BPMN error into the diagram; with no boundary event to catch it, open an incident."""
        with self.session_factory.begin() as session:
            job = session.get(Job, job_id)
            loaded = load(session, job.instance_id, lock=True)
            task = find_task(loaded.workflow, job.task_id)
            if task is not None and _has_error_boundary(loaded.workflow, task, error.code):
                definition = ErrorEventDefinition(error.code, code=error.code)
                loaded.workflow.catch(BpmnEvent(definition, {"error_code": error.code, "error_message": error.message}, target=task.workflow))
                _merge_error(task, error)
                job.status = "done"
                job.completed_at = clock.now()
                job.last_error = str(error)
                audit.record(session, "job.business_error", self.worker_id, instance_id=job.instance_id, task_id=job.task_id, topic=job.topic, code=error.code)
                log.info("job %s: business error %s caught by the diagram", job_id, error.code)
                advance(session, loaded, self.worker_id)
                save(session, loaded)
                return JobOutcome(job_id, "caught")

            self._open_incident(session, job, f"business error {error.code} with no error boundary event: {error.message}")
            return JobOutcome(job_id, "incident")

    def _failure(self, job_id: int, error: Exception, *, retry: bool = True) -> JobOutcome:
        """Schedule a retry per the job's retry cycle, or open an incident when retries are spent or ``retry`` is False.

        Only transient failures are retried: TransientError, time-outs, write
        conflicts (another writer saved the instance first), database outages and OS-level I/O errors such as a reset
        connection. Any other exception means bad data or a handler bug,
        which the same input would hit again.
        """
        with self.session_factory.begin() as session:
            job = session.get(Job, job_id)
            if job is None:
                return JobOutcome(job_id, "skipped")
            message = _error_text(error)
            job.last_error = message
            retries_used = job.attempts - 1
            if retry and retries_used < len(job.retry_intervals):
                delay = job.retry_intervals[retries_used]
                job.status = "ready"
                job.locked_by = None
                job.locked_until = None
                job.next_run_at = clock.now() + timedelta(seconds=delay)
                audit.record(session, "job.retry_scheduled", self.worker_id, instance_id=job.instance_id, task_id=job.task_id, topic=job.topic, attempts=job.attempts, delay_seconds=delay)
                log.warning("job %s (%s, instance %s) failed on attempt %s, retrying in %ss: %s", job_id, job.topic, job.instance_id, job.attempts, delay, type(error).__name__)
                return JobOutcome(job_id, "retry")

            self._open_incident(session, job, message)
            return JobOutcome(job_id, "incident")

    def _open_incident(self, session: Session, job: Job, message: str) -> None:
        job.status = "failed"
        job.locked_by = None
        job.locked_until = None
        job.last_error = message
        session.add(
            Incident(
                instance_id=job.instance_id,
                job_id=job.id,
                task_id=job.task_id,
                element_id=job.element_id,
                topic=job.topic,
                error=message,
                attempts=job.attempts,
                status="open",
                created_at=clock.now(),
            )
        )
        audit.record(session, "incident.opened", self.worker_id, instance_id=job.instance_id, task_id=job.task_id, topic=job.topic, attempts=job.attempts)
        log.error("job %s (%s, instance %s) opened an incident after %s attempts", job.id, job.topic, job.instance_id, job.attempts)


def _has_error_boundary(workflow, task, code: str) -> bool:
    parent = task.parent
    if parent is None:
        return False
    for sibling in parent.children:
        definition = getattr(sibling.task_spec, "event_definition", None)
        if isinstance(definition, ErrorEventDefinition) and definition.code in (None, code) and sibling.has_state(TaskState.WAITING):
            return True
    return False


def _merge_error(task, error: BusinessError) -> None:
    for sibling in task.parent.children:
        sibling.data["error_code"] = error.code
        sibling.data["error_message"] = error.message


def _error_text(error: Exception) -> str:
    if isinstance(error, HandlerTimeoutError):
        return "the handler timed out"
    return f"{type(error).__name__}: {error}"[:2000]


def retry_incident(session_factory: sessionmaker[Session], incident_id: int, actor: str, data: dict | None = None) -> None:
    """Retry an incident: apply corrected data, then run the job again (or re-run the failed script)."""
    with session_factory.begin() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFoundError("incident", incident_id)
        if incident.status != "open":
            raise ConflictError(f"incident {incident_id} is {incident.status}; only open incidents can be retried")

        loaded = load(session, incident.instance_id, lock=True)
        if data:
            task = find_task(loaded.workflow, incident.task_id) if incident.task_id else None
            target = task.data if task is not None else loaded.workflow.data
            target.update(data)

        if incident.job_id is not None:
            job = session.get(Job, incident.job_id)
            job.status = "ready"
            job.attempts = 0
            job.next_run_at = clock.now()
            job.last_error = None
        else:
            task = find_task(loaded.workflow, incident.task_id) if incident.task_id else None
            if task is not None and task.has_state(TaskState.ERROR):
                loaded.workflow.reset_from_task_id(task.id, data=dict(task.data))
            advance(session, loaded, actor)
            loaded.row.error = None

        save(session, loaded)
        incident.status = "resolved"
        incident.resolved_at = clock.now()
        incident.resolved_by = actor
        audit.record(session, "incident.retried", actor, instance_id=incident.instance_id, task_id=incident.task_id, incident_id=incident_id, fields=sorted(data or {}))


def cancel_incident(session_factory: sessionmaker[Session], incident_id: int, actor: str, reason: str) -> None:
    """Close an incident without retrying; the job stays failed and the instance waits for an operator."""
    with session_factory.begin() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFoundError("incident", incident_id)
        if incident.status != "open":
            raise ConflictError(f"incident {incident_id} is {incident.status}; only open incidents can be cancelled")
        incident.status = "cancelled"
        incident.resolved_at = clock.now()
        incident.resolved_by = actor
        if incident.job_id is not None:
            session.get(Job, incident.job_id).status = "cancelled"
        audit.record(session, "incident.cancelled", actor, instance_id=incident.instance_id, incident_id=incident_id, reason=reason)


def list_incidents(session_factory: sessionmaker[Session], status: str | None = "open", limit: int = 50, offset: int = 0) -> list[Incident]:
    with session_factory() as session:
        query = sa.select(Incident).order_by(Incident.created_at.desc(), Incident.id.desc())
        if status:
            query = query.where(Incident.status == status)
        return list(session.scalars(query.limit(limit).offset(offset)))


__all__ = ["JobRunner", "JobOutcome", "acquire_jobs", "retry_incident", "cancel_incident", "list_incidents"]
