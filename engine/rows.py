"""Reading instance and human-task rows with prebuilt Core statements, and queueing the instance write.

Completing a task, firing a timer and delivering a message each read one
instance and write it back once. The ORM's query building and unit of work
cost more than the SpiffWorkflow step itself, so these paths read with
statements built once at import and write through ``engine.writes``. The
instance row is still handed to callers as an ORM object in the session, so
code that changes it afterwards keeps working.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.util import identity_key

from engine import autocommit, driver, writes
from engine.models import Instance, ProcessVersion
from engine.writes import INSTANCES, MUTABLE_COLUMNS, TASKS


_OPEN_TASKS = TASKS.alias("open_tasks")
_OPEN_TASK_IDS = (
    sa.select(sa.func.aggregate_strings(_OPEN_TASKS.c.id, ","))
    .where(_OPEN_TASKS.c.instance_id == INSTANCES.c.id, _OPEN_TASKS.c.status == "open")
    .correlate(INSTANCES)
    .scalar_subquery()
    .label("open_task_ids")
)
_INSTANCE_COLUMNS = (*INSTANCES.c, ProcessVersion.__table__.c.spec_hash, _OPEN_TASK_IDS)
_TASK_COLUMNS = (
    TASKS.c.id.label("task_id"),
    TASKS.c.status.label("task_status"),
    TASKS.c.assignee.label("task_assignee"),
    TASKS.c.candidate_groups.label("task_candidate_groups"),
    TASKS.c.element_id.label("task_element_id"),
)
_ROW_KEYS = tuple(column.key for column in INSTANCES.c)
_INSTANCE_MANAGER = sa.inspect(Instance).class_manager

_SELECT_INSTANCE = (
    sa.select(*_INSTANCE_COLUMNS)
    .join_from(INSTANCES, ProcessVersion.__table__, ProcessVersion.__table__.c.id == INSTANCES.c.version_id)
    .where(INSTANCES.c.id == sa.bindparam("instance_id"))
)
_SELECT_INSTANCE_LOCKED = _SELECT_INSTANCE.with_for_update(of=INSTANCES)
_SELECT_TASK_WITH_INSTANCE = (
    sa.select(*_TASK_COLUMNS, *_INSTANCE_COLUMNS)
    .join_from(TASKS, INSTANCES, INSTANCES.c.id == TASKS.c.instance_id)
    .join(ProcessVersion.__table__, ProcessVersion.__table__.c.id == INSTANCES.c.version_id)
    .where(TASKS.c.id == sa.bindparam("task_id"))
)
_SELECT_SPEC_JSON = sa.select(ProcessVersion.__table__.c.spec_json).where(ProcessVersion.__table__.c.id == sa.bindparam("version_id"))
_SELECT_OPEN_TASK_IDS = sa.select(TASKS.c.id).where(TASKS.c.instance_id == sa.bindparam("instance_id"), TASKS.c.status == "open")

# The same read on PostgreSQL as text for engine.driver, which skips SQLAlchemy's per-execution cost.
_TASK_KEYS = tuple(column.key for column in _TASK_COLUMNS)
_DRIVER_SELECT_TASK_WITH_INSTANCE = driver.Statement(
    f"""SELECT task.id, task.status, task.assignee, task.candidate_groups, task.element_id,
    {", ".join(f"instance.{key}" for key in _ROW_KEYS)}, version.spec_hash,
    (SELECT string_agg(open_task.id, ',') FROM engine_human_tasks AS open_task
     WHERE open_task.instance_id = instance.id AND open_task.status = 'open') AS open_task_ids
FROM engine_human_tasks AS task
JOIN engine_instances AS instance ON instance.id = task.instance_id
JOIN engine_process_versions AS version ON version.id = instance.version_id
WHERE task.id = %(task_id)s""",
    result_types=(*(column.type for column in _TASK_COLUMNS), *(column.type for column in INSTANCES.c), None, None),
)
_DRIVER_KEYS = (*_TASK_KEYS, *_ROW_KEYS, "spec_hash", "open_task_ids")


@dataclass(frozen=True)
class TaskRow:
    """The columns of a human task that completing it needs: who may work on it and whether it is still open."""

    id: str
    instance_id: str
    status: str
    assignee: str | None
    candidate_groups: str
    element_id: str


@dataclass
class InstanceRead:
    """An instance row attached to the session, with its version's spec hash and its open human tasks' ids."""

    row: Instance
    spec_hash: str
    open_task_ids: set[str]


@contextmanager
def _outside_transaction(session: Session) -> Iterator[None]:
    """Run the block's reads outside a transaction when none is open yet (see engine.autocommit).

    Queued engine writes are sent first, inside the transaction, as before any
    other query. Sending them opens it, so the reads then join it.
    """
    writes.flush(session)
    with autocommit.alone(session):
        yield


def _execute(session: Session, statement, params):
    """Execute without the ORM's autoflush: a flush here could write the very row about to be version-checked."""
    with session.no_autoflush:
        return session.execute(statement, params)


def read_instance(session: Session, instance_id: str, *, lock: bool = False) -> InstanceRead | None:
    """Read an instance with its spec hash and open task ids in one statement; ``lock`` locks its row (PostgreSQL)."""
    statement = _SELECT_INSTANCE_LOCKED if lock else _SELECT_INSTANCE
    result = _execute(session, statement, {"instance_id": instance_id}).mappings().one_or_none()
    return None if result is None else _instance_read(session, result)


def read_task_with_instance(session: Session, task_id: str) -> tuple[TaskRow, InstanceRead] | None:
    """Read a human task together with its instance, in one statement, outside a transaction if none is open yet.

    Nothing is locked, so the read needs no transaction, because the instance
    write checks ``row_version`` (see ``engine.autocommit``).
    """
    with _outside_transaction(session):
        if session.get_bind().dialect.name == "postgresql":
            values = _DRIVER_SELECT_TASK_WITH_INSTANCE.fetch_one(session, {"task_id": task_id})
            result = None if values is None else dict(zip(_DRIVER_KEYS, values, strict=True))
        else:
            result = _execute(session, _SELECT_TASK_WITH_INSTANCE, {"task_id": task_id}).mappings().one_or_none()
    if result is None:
        return None
    task = TaskRow(
        id=result["task_id"],
        instance_id=result["id"],
        status=result["task_status"],
        assignee=result["task_assignee"],
        candidate_groups=result["task_candidate_groups"],
        element_id=result["task_element_id"],
    )
    return task, _instance_read(session, result)


def read_spec_json(session: Session, version_id: int) -> str:
    # Versions never change, so this read needs no transaction either.
    with _outside_transaction(session):
        return _execute(session, _SELECT_SPEC_JSON, {"version_id": version_id}).scalar_one()


def open_task_ids(session: Session, instance_id: str) -> set[str]:
    return set(_execute(session, _SELECT_OPEN_TASK_IDS, {"instance_id": instance_id}).scalars())


def _instance_read(session: Session, result) -> InstanceRead:
    values = {key: result[key] for key in _ROW_KEYS}
    ids = result["open_task_ids"]
    return InstanceRead(_attach(session, values), result["spec_hash"], set(ids.split(",")) if ids else set())


def _attach(session: Session, values: dict) -> Instance:
    """Return the session's object for this instance row, creating it without another query.

    An object already in the session keeps its unsaved changes; its other
    attributes take the values just read.
    """
    row = session.identity_map.get(identity_key(Instance, values["id"]))
    if row is None:
        # Fill the new object's state as the ORM does when it loads a row, because the constructor would record each value as a change.
        row = _INSTANCE_MANAGER.new_instance()
        instance_state(row).dict.update(values)
        make_transient_to_detached(row)
        session.add(row)
        return row
    attributes = sa.inspect(row).attrs
    for key, value in values.items():
        if not attributes[key].history.has_changes():
            set_committed_value(row, key, value)
    return row


def write_instance(session: Session, row: Instance, values: dict) -> None:
    """Queue the write of ``values`` and the row's other changeable columns, checked against and increasing ``row_version``.

    The write is sent by ``writes.flush``, which raises StaleDataError when
    another transaction changed the row since it was read, as the ORM would.
    The values are set on the row as saved ones, so the ORM does not write
    them again at commit.
    """
    version = row.row_version
    params = {name: values[name] if name in values else getattr(row, name) for name in MUTABLE_COLUMNS}
    writes.update_instance(session, {**params, "id": row.id, "row_version": version})
    for name, value in params.items():
        set_committed_value(row, name, value)
    set_committed_value(row, "row_version", version + 1)
