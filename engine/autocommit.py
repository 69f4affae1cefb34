"""Running a statement as its own transaction on PostgreSQL, to spare the BEGIN and COMMIT round trips.

psycopg sends ``BEGIN`` before the first statement of a transaction and
``COMMIT`` when it ends, each a round trip of its own. Completing a task
reads its instance once and writes it back once, and on PostgreSQL each of
those is a single statement (``engine.rows`` and ``engine.writes``):

- the read needs no transaction, because the write checks ``row_version``
  and fails if another transaction changed the row in between (under READ
  COMMITTED a read inside a transaction returns the same rows as one outside it);
- the write, when nothing else was read or written in the transaction,
  is atomic on its own, because PostgreSQL runs one statement as one
  transaction.

``alone`` switches the session's connection to autocommit for such a
statement, and only when no transaction is open yet on it.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.orm import Session


@contextmanager
def alone(session: Session) -> Iterator[bool]:
    """Let the statements run in the block commit one by one, if the session's connection has no transaction open yet.

    Yields True when they do. It yields False, and changes nothing, on
    SQLite, when a transaction is already open, or when the session is bound
    to a caller's Connection, so the statements then join that transaction
    as usual.
    """
    connection = session.connection()
    # A session bound to a Connection joins a transaction its caller owns, which may go on after this session commits.
    if connection.dialect.name != "postgresql" or not isinstance(session.get_bind(), sa.Engine):
        yield False
        return
    driver = connection.connection.driver_connection
    if driver.autocommit or driver.info.transaction_status != TransactionStatus.IDLE:
        yield False
        return
    driver.autocommit = True
    try:
        yield True
    finally:
        # A connection lost in the block is discarded by the pool. One still open goes back to opening transactions.
        if not driver.closed and not driver.broken:
            driver.autocommit = False
