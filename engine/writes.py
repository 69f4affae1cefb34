"""Engine row writes gathered per transaction and sent together: on PostgreSQL as one statement.

Saving an instance writes its state (checking ``row_version``), closes and
opens human-task rows and adds audit events. Sent one by one that is five
statements or more. ``flush`` sends them on PostgreSQL as one statement
whose parts are all skipped when the version check fails, and elsewhere as
separate statements in the same order.

``save`` flushes at its end, so a conflict is raised there. Audit events
recorded at other times are flushed before the ORM flushes, before an ORM
query runs and before the transaction commits, so nothing recorded is lost
or read before it is written.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import autocommit, driver
from engine.models import AuditEvent, HumanTask, Instance, TaskCandidate

_KEY = "careplace_engine_writes"

INSTANCES = Instance.__table__
TASKS = HumanTask.__table__
CANDIDATES = TaskCandidate.__table__
AUDIT = AuditEvent.__table__

# The columns that saving an instance may change. The id, version, process, creator and creation time never change.
MUTABLE_COLUMNS = ("business_key", "status", "state", "next_timer_at", "error", "updated_at", "completed_at")
OPENED_COLUMNS = ("id", "instance_id", "process_id", "business_key", "element_id", "name", "status", "assignee", "candidate_groups", "due_at", "created_at")
AUDIT_COLUMNS = ("at", "actor", "kind", "instance_id", "task_id", "detail")


@dataclass
class PendingWrites:
    # Parameters of the version-checked instance update: id, row_version and the mutable columns.
    instance: dict | None = None
    # Task rows to close: id, status, completed_at, completed_by.
    closed: list[dict] = field(default_factory=list)
    opened: list[dict] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    audit: list[dict] = field(default_factory=list)


def pending(session: Session) -> PendingWrites:
    writes = session.info.get(_KEY)
    if writes is None:
        if not session.in_transaction():
            # Begin the transaction now, so that a rollback or close without one still drops these writes.
            session.connection()
        writes = session.info[_KEY] = PendingWrites()
    return writes


def update_instance(session: Session, params: dict) -> None:
    """Queue the version-checked update of one instance. A batch has room for one, so an earlier one is flushed first."""
    if pending(session).instance is not None:
        flush(session)
    pending(session).instance = params


def flush(session: Session) -> None:
    """Send the pending writes; raise StaleDataError when the instance changed since it was read."""
    writes = session.info.pop(_KEY, None)
    if writes is None:
        return
    with session.no_autoflush:
        if session.get_bind().dialect.name == "postgresql":
            _flush_as_one_statement(session, writes)
        else:
            _flush_statement_by_statement(session, writes)


def _stale(params: dict) -> StaleDataError:
    return StaleDataError(f"instance {params['id']} was changed by another transaction after it was read (row version {params['row_version']})")


# Separate statements (SQLite, where a statement costs no round trip).

_UPDATE_INSTANCE = (
    sa.update(INSTANCES)
    .where(INSTANCES.c.id == sa.bindparam("b_id"), INSTANCES.c.row_version == sa.bindparam("b_row_version"))
    .values(row_version=INSTANCES.c.row_version + 1, **{name: sa.bindparam(f"b_{name}", type_=INSTANCES.c[name].type) for name in MUTABLE_COLUMNS})
)
_CLOSE_TASK = (
    sa.update(TASKS)
    .where(TASKS.c.id == sa.bindparam("b_id"), TASKS.c.status == "open")
    .values(
        status=sa.bindparam("b_status"),
        completed_at=sa.func.coalesce(TASKS.c.completed_at, sa.bindparam("b_completed_at", type_=TASKS.c.completed_at.type)),
        completed_by=sa.func.coalesce(sa.bindparam("b_completed_by", type_=TASKS.c.completed_by.type), TASKS.c.completed_by),
    )
)


def _execute(session: Session, statement, rows: list[dict]):
    return session.execute(statement, rows[0] if len(rows) == 1 else rows)


def _flush_statement_by_statement(session: Session, writes: PendingWrites) -> None:
    if writes.instance is not None:
        params = {f"b_{name}": value for name, value in writes.instance.items()}
        if session.execute(_UPDATE_INSTANCE, params).rowcount != 1:
            raise _stale(writes.instance)
    if writes.closed:
        _execute(session, _CLOSE_TASK, [{f"b_{name}": value for name, value in row.items()} for row in writes.closed])
    if writes.opened:
        _execute(session, sa.insert(TASKS), writes.opened)
    if writes.candidates:
        _execute(session, sa.insert(CANDIDATES), writes.candidates)
    if writes.audit:
        _execute(session, sa.insert(AUDIT), writes.audit)


# One statement (PostgreSQL), sent through engine.driver: each part reads its rows from a JSON array parameter.

_SET_INSTANCE = ", ".join(f"{name} = %({name})s" for name in MUTABLE_COLUMNS)
_INSTANCE_PART = f"""instance_update AS (
    UPDATE engine_instances SET {_SET_INSTANCE}, row_version = row_version + 1
    WHERE id = %(id)s AND row_version = %(row_version)s
    RETURNING id
)"""
_CLOSED_PART = """closed_tasks AS (
    UPDATE engine_human_tasks AS task
    SET status = closed.status,
        completed_at = COALESCE(task.completed_at, closed.completed_at),
        completed_by = COALESCE(closed.completed_by, task.completed_by)
    FROM json_to_recordset(CAST(%(closed)s AS json)) AS closed(id varchar, status varchar, completed_at timestamptz, completed_by varchar)
    WHERE task.id = closed.id AND task.id = ANY(%(closed_ids)s) AND task.status = 'open' AND {guard}
    RETURNING task.id
)"""
_OPENED_PART = f"""opened_tasks AS (
    INSERT INTO engine_human_tasks ({", ".join(OPENED_COLUMNS)})
    SELECT {", ".join(OPENED_COLUMNS)}
    FROM json_to_recordset(CAST(%(opened)s AS json)) AS opened(
        id varchar, instance_id varchar, process_id varchar, business_key varchar, element_id varchar, name varchar,
        status varchar, assignee varchar, candidate_groups varchar, due_at timestamptz, created_at timestamptz)
    WHERE {{guard}}
    RETURNING id
)"""
_CANDIDATES_PART = """opened_candidates AS (
    INSERT INTO engine_task_candidates (task_id, group_name)
    SELECT task_id, group_name FROM json_to_recordset(CAST(%(candidates)s AS json)) AS candidate(task_id varchar, group_name varchar)
    WHERE {guard}
    RETURNING task_id
)"""
# Ordinality keeps the audit ids in the order the events were recorded.
_AUDIT_PART = f"""audit_events AS (
    INSERT INTO engine_audit_events ({", ".join(AUDIT_COLUMNS)})
    SELECT {", ".join(AUDIT_COLUMNS)}
    FROM ROWS FROM (json_to_recordset(CAST(%(audit)s AS json)) AS (
        at timestamptz, actor varchar, kind varchar, instance_id varchar, task_id varchar, detail json)) WITH ORDINALITY AS event({", ".join(AUDIT_COLUMNS)}, position)
    WHERE {{guard}}
    ORDER BY position
    RETURNING id
)"""


def _one_statement(with_instance: bool) -> driver.Statement:
    guard = "EXISTS (SELECT FROM instance_update)" if with_instance else "TRUE"
    parts = [part.format(guard=guard) for part in (_CLOSED_PART, _OPENED_PART, _CANDIDATES_PART, _AUDIT_PART)]
    if with_instance:
        parts.insert(0, _INSTANCE_PART)
        result = "SELECT count(*) FROM instance_update"
    else:
        result = "SELECT 1"
    types = {name: INSTANCES.c[name].type for name in MUTABLE_COLUMNS} if with_instance else {}
    return driver.Statement("WITH " + ",\n".join(parts) + "\n" + result, parameter_types=types)


_WITH_INSTANCE = _one_statement(True)
_WITHOUT_INSTANCE = _one_statement(False)


def _json_rows(rows: list[dict]) -> str:
    return json.dumps(rows, default=_json_value)


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} value {value!r} cannot be written to an engine row")


def _flush_as_one_statement(session: Session, writes: PendingWrites) -> None:
    params = {
        # The ids again as an array, so the planner finds the rows by primary key and not by scanning every open task.
        "closed_ids": [row["id"] for row in writes.closed],
        "closed": _json_rows(writes.closed),
        "opened": _json_rows(writes.opened),
        "candidates": _json_rows(writes.candidates),
        "audit": _json_rows(writes.audit),
    }
    if writes.instance is None:
        _WITHOUT_INSTANCE.fetch_one(session, params)
        return
    if _WITH_INSTANCE.fetch_one(session, {**params, **writes.instance}) != (1,):
        raise _stale(writes.instance)


def _flush_before_orm(session: Session, *_args) -> None:
    if _KEY in session.info:
        flush(session)


def _flush_before_commit(session: Session) -> None:
    """Send the pending writes, as a transaction of their own when nothing else was run or is left to write in this one.

    The ORM flushes after this hook and before the commit, so with no ORM
    changes left these writes are the transaction's last statement, and
    when it is also its first, sending it alone spares two round trips.
    """
    if _KEY not in session.info:
        return
    if session.new or session.dirty or session.deleted:
        flush(session)
        return
    with autocommit.alone(session):
        flush(session)


def _flush_before_query(orm_execute_state) -> None:
    session = orm_execute_state.session
    if _KEY in session.info:
        flush(session)


def _drop_when_transaction_ends(session: Session, transaction) -> None:
    # Writes still queued when the outermost transaction ends were rolled back with it, as unflushed ORM objects are.
    # NOTE: rolling back a SAVEPOINT (begin_nested) keeps the writes queued in it, and a write queued before the
    # SAVEPOINT but sent inside it is rolled back with it. The engine never uses SAVEPOINTs.
    if transaction.parent is None:
        session.info.pop(_KEY, None)


sa.event.listen(Session, "before_flush", _flush_before_orm)
sa.event.listen(Session, "before_commit", _flush_before_commit)
sa.event.listen(Session, "do_orm_execute", _flush_before_query)
sa.event.listen(Session, "after_transaction_end", _drop_when_transaction_ends)
