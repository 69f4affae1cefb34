"""Ending a PostgreSQL transaction that wrote nothing with COMMIT, so that psycopg keeps its prepared statements.

psycopg 3 prepares a statement on the server after its fifth execution on
a connection, which spares the planning each time after that. On every
ROLLBACK, though, psycopg discards all of them and sends ``DEALLOCATE ALL``
(psycopg/_connection_base.py, ``_rollback_gen``, in 3.3.9), because the
rolled-back transaction may have dropped or changed an object they use. SQLAlchemy rolls back
every transaction that was not committed, and that is most of them: each
page view, list and look-up only reads, then closes its session. So a
connection's prepared statements rarely lived beyond one request, and each
such close cost a second round trip for ``DEALLOCATE ALL``.

For a transaction that wrote nothing, COMMIT and ROLLBACK have the same
effect, so ``install`` makes SQLAlchemy's rollback send COMMIT instead
when nothing but plain reads ran in the transaction:

- a statement counts as a plain read when its SQL starts with ``SELECT``
  and has no word ``FOR`` (as in ``FOR UPDATE`` and ``FOR SHARE``). Everything
  else counts as a write, the uncertain cases included, so those
  transactions still roll back. This relies on no SELECT here calling a
  function that writes or sends a notification;
- statements sent through psycopg directly (``engine.driver``) are
  classified the same way, by ``mark_written`` calls there;
- a transaction in an error state is rolled back as before.
"""

import logging
import re

import psycopg
import sqlalchemy as sa
from psycopg.pq import TransactionStatus

log = logging.getLogger(__name__)

# Connection.info key, set when the current transaction may have written.
_WROTE = "careplace_transaction_wrote"
# Any FOR as a word, which covers every locking clause (and, harmlessly, a column or string that contains the word).
_FOR = re.compile(r"\bFOR\b", re.IGNORECASE)


def install(engine: sa.Engine) -> None:
    """Register the listeners on a PostgreSQL engine."""
    sa.event.listen(engine, "begin", _forget)
    sa.event.listen(engine, "commit", _forget)
    sa.event.listen(engine, "before_cursor_execute", _note_statement)
    sa.event.listen(engine, "rollback", _commit_when_read_only)


def mark_written(connection: sa.Connection) -> None:
    """Record that the connection's current transaction may have written, so that a rollback really rolls back."""
    connection.info[_WROTE] = True


def is_plain_read(sql: str) -> bool:
    """Tell whether a statement is a SELECT without a locking clause; anything unsure counts as a write."""
    words = sql.split(None, 1)
    return bool(words) and words[0].upper() == "SELECT" and _FOR.search(sql) is None


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
