"""Sending the engine's hottest PostgreSQL statements through psycopg directly, on the session's own connection.

Completing a task runs two statements on PostgreSQL: one read of the task
with its instance and one write of everything the completion changed. For
each execution SQLAlchemy builds a cache key, an execution context and a
result, which costs 0.1 to 0.2 ms, as much as the statement itself takes on
the server. These two statements are fixed text, so they go straight to the
DB-API cursor instead, in whatever transaction the session has open.

What SQLAlchemy would otherwise do is kept. Column types convert bound and
returned values, because ``Statement`` takes their processors. psycopg
errors are raised as SQLAlchemy's ``DBAPIError`` subclasses, and a lost
connection is invalidated so that the pool replaces it. A write is recorded
for ``engine.readonly``. Statement events and echo logging do not see these
statements.
"""

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine import readonly


class Statement:
    """A PostgreSQL statement in psycopg's ``%(name)s`` style, with the SQLAlchemy types of its parameters and result columns.

    ``result_types`` is empty, for rows returned as psycopg gives them, or
    names a type (or None) for every column.
    """

    def __init__(self, sql: str, *, parameter_types: Mapping[str, sa.types.TypeEngine] | None = None, result_types: Sequence[sa.types.TypeEngine | None] = ()):
        self.sql = sql
        self.parameter_types = dict(parameter_types or {})
        self.result_types = tuple(result_types)
        self._processors = None

    def _processors_for(self, dialect: sa.Dialect) -> tuple[dict, list]:
        if self._processors is None:
            binds = {name: type_.bind_processor(dialect) for name, type_ in self.parameter_types.items()}
            results = [type_.result_processor(dialect, None) if type_ is not None else None for type_ in self.result_types]
            self._processors = ({name: processor for name, processor in binds.items() if processor is not None}, results)
        return self._processors

    def fetch_one(self, session: Session, params: dict) -> tuple | None:
        """Run the statement and return its first row, with each column converted by its type; None when there is none."""
        connection = session.connection()
        binds, results = self._processors_for(connection.dialect)
        bound = {name: binds[name](value) if name in binds else value for name, value in params.items()}
        row = _execute(connection, self.sql, bound)
        if row is None or not results:
            return row
        return tuple(processor(value) if processor is not None else value for processor, value in zip(results, row, strict=True))


def _execute(connection: sa.Connection, sql: str, params: dict) -> tuple | None:
    driver = connection.connection.driver_connection
    dialect = connection.dialect
    if not readonly.is_plain_read(sql):
        # SQLAlchemy's statement events do not see this one, so record the write for the rollback (engine.readonly).
        readonly.mark_written(connection)
    try:
        with driver.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except dialect.loaded_dbapi.Error as error:
        # A stale prepared plan is handled as a lost connection, as engine.readonly does for SQLAlchemy's statements.
        disconnected = dialect.is_disconnect(error, driver, None) or readonly.is_stale_plan(error)
        if disconnected and not connection.invalidated:
            # As SQLAlchemy's own error handling does: a lost connection usually means the server restarted, so every
            # pooled connection made before now is replaced at its next checkout, not only this one.
            connection.engine.pool._invalidate(connection.connection, error)
            connection.invalidate(error)
        # The parameters hold instance state, which can name a service user, so the error leaves them out.
        raise sa.exc.DBAPIError.instance(sql, params, error, dialect.loaded_dbapi.Error, hide_parameters=True, connection_invalidated=disconnected) from error
