"""Ending a PostgreSQL transaction that wrote nothing with COMMIT, so that psycopg keeps its prepared statements.

psycopg 3 prepares a statement on the server after its fifth execution on
a connection, which spares the planning each time after that. On every
ROLLBACK, though, psycopg discards all of them and sends ``DEALLOCATE ALL``
(psycopg/_connection_base.py, ``_rollback_gen``, in 3.3.9), because the
rolled-back transaction may have dropped or changed an object they use.
SQLAlchemy rolls back every transaction that was not committed, and that is
most of them: each
page view, list and look-up only reads, then closes its session. So a
connection's prepared statements rarely lived beyond one request, and each
such close cost a second round trip for ``DEALLOCATE ALL``.

For a transaction that wrote nothing, COMMIT and ROLLBACK have the same
effect, so ``install`` makes SQLAlchemy's rollback send COMMIT instead
when nothing but plain reads ran in the transaction:

- a statement counts as a plain read when its SQL starts with ``SELECT``
  and has no locking clause, no ``INTO`` and no second statement. It must
  not call a built-in function that writes or changes the session either,
  such as ``set_config``, ``nextval`` or ``pg_notify``. Everything else
  counts as a write, the uncertain cases included, so those transactions
  still roll back. This relies on no SELECT here calling a function of its
  own that writes;
- statements sent through psycopg directly (``engine.driver``) are
  classified the same way, by ``mark_written`` calls there;
- a transaction in an error state is rolled back as before.

Kept prepared statements have one cost. After a migration changes the type
of a column that one of them returns, it fails with "cached plan must not
change result type" until its connection is replaced. The first such
failure is treated as a lost connection, so SQLAlchemy replaces every
pooled connection and that one request fails, once per process.
"""

import functools
import logging
import re

import psycopg
import sqlalchemy as sa
from psycopg.pq import TransactionStatus

log = logging.getLogger(__name__)

# Connection.info key, set when the current transaction may have written.
_WROTE = "careplace_transaction_wrote"
# Signs that a SELECT is more than a plain read: a locking clause (any FOR), SELECT INTO (which creates a table), a
# second statement after a semicolon, or a call to a built-in function that writes or changes the session. A column,
# string or comment that merely contains one of these only makes a read-only transaction roll back, as it did before.
_NOT_PLAIN = re.compile(
    r"\b(?:FOR|INTO)\b|;\s*\S|\b(?:set_config|pg_notify|nextval|setval|lo_\w+|pg_advisory\w*|dblink\w*)\s*\(",
    re.IGNORECASE,
)
_STALE_PLAN = "cached plan must not change result type"


def install(engine: sa.Engine) -> None:
    """Register the listeners on an engine that uses psycopg 3; other engines are left as they are."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return
    sa.event.listen(engine, "handle_error", _replace_connections_on_stale_plan)
    sa.event.listen(engine, "begin", _forget)
    sa.event.listen(engine, "commit", _forget)
    sa.event.listen(engine, "before_cursor_execute", _note_statement)
    sa.event.listen(engine, "rollback", _commit_when_read_only)


def mark_written(connection: sa.Connection) -> None:
    """Record that the connection's current transaction may have written, so that a rollback really rolls back."""
    connection.info[_WROTE] = True


@functools.lru_cache(maxsize=2048)
def is_plain_read(sql: str) -> bool:
    """Tell whether a statement is a SELECT without a locking clause; anything unsure counts as a write."""
    words = sql.split(None, 1)
    return bool(words) and words[0].upper() == "SELECT" and _NOT_PLAIN.search(sql) is None


def is_stale_plan(error: BaseException) -> bool:
    """Tell whether a statement failed because a prepared plan's result columns changed type since it was prepared."""
    return isinstance(error, psycopg.errors.FeatureNotSupported) and _STALE_PLAN in str(error)


def _replace_connections_on_stale_plan(context: sa.engine.ExceptionContext) -> None:
    # Prepared statements now outlive read-only transactions, so after a migration changes a column's type each one
    # fails until its connection goes. Treated as a lost connection, the first failure makes the pool replace them all.
    if is_stale_plan(context.original_exception):
        context.is_disconnect = True


def _forget(connection: sa.Connection) -> None:
    connection.info.pop(_WROTE, None)


def _note_statement(connection, _cursor, statement, _parameters, _context, _executemany) -> None:
    if not is_plain_read(statement):
        connection.info[_WROTE] = True


def _commit_when_read_only(connection: sa.Connection) -> None:
    # SQLAlchemy's own rollback follows this listener; after a COMMIT it finds no transaction and sends nothing.
    # An invalidated connection has no DB-API connection to look at: its info would reconnect, which SQLAlchemy forbids here.
    if connection.invalidated or connection.info.pop(_WROTE, False):
        return
    driver = connection.connection.driver_connection
    if driver.info.transaction_status != TransactionStatus.INTRANS:
        return
    try:
        driver.commit()
    except psycopg.Error as error:
        # The rollback that follows meets the same error and hands it to SQLAlchemy, which invalidates a lost connection.
        log.warning("ending a read-only transaction with COMMIT failed (%s); rolling back instead", type(error).__name__)
