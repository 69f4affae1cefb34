"""Read-only PostgreSQL transactions end with COMMIT, so psycopg keeps its prepared statements; any write still rolls back."""

import pytest
import sqlalchemy as sa

from careplace.db import make_db_engine, make_session_factory
from engine import audit, writes
from engine.models import AuditEvent, Deployment
from engine.readonly import is_plain_read
from helpers import START_TIME

PREPARED_COUNT = "SELECT count(*) FROM pg_prepared_statements"
# psycopg prepares a statement on the server at its fifth execution on a connection (prepare_threshold).
EXECUTIONS_TO_PREPARE = 5


@pytest.fixture
def one_connection(pg_url):
    """A pool of exactly one connection, so every session reuses it."""
    pool = make_db_engine(pg_url, pool_size=1, max_overflow=0)
    yield pool
    pool.dispose()


def read_deployments(session) -> None:
    for _ in range(EXECUTIONS_TO_PREPARE + 1):
        session.scalars(sa.select(Deployment).where(Deployment.source_name == "none.bpmn")).all()


def prepared_count(pool) -> int:
    with pool.connect() as connection:
        return connection.exec_driver_sql(PREPARED_COUNT).scalar()


@pytest.mark.postgres
def test_read_only_session_keeps_prepared_statements(one_connection):
    factory = make_session_factory(one_connection)
    with factory() as session:
        read_deployments(session)

    assert prepared_count(one_connection) >= 1


@pytest.mark.postgres
def test_session_that_wrote_still_rolls_back(one_connection):
    factory = make_session_factory(one_connection)
    with factory() as session:
        session.add(Deployment(source_name="draft.bpmn", content_hash="a" * 64, bpmn_xml="<x/>", deployed_at=START_TIME, deployed_by="analyst.example"))
        session.flush()

    with factory() as session:
        assert session.scalars(sa.select(Deployment)).all() == []


@pytest.mark.postgres
def test_driver_write_then_rollback_writes_nothing(one_connection):
    factory = make_session_factory(one_connection)
    with factory() as session:
        session.scalars(sa.select(Deployment)).all()
        audit.record(session, "test.discarded", "casey.manager")
        # Sent through psycopg directly, inside the open transaction, which the session then rolls back.
        writes.flush(session)

    with factory() as session:
        assert session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "test.discarded")).all() == []


@pytest.mark.postgres
def test_failed_statement_rolls_back_and_connection_recovers(one_connection):
    factory = make_session_factory(one_connection)
    with factory() as session:
        with pytest.raises(sa.exc.ProgrammingError):
            session.execute(sa.text("SELECT missing_column FROM engine_deployments"))

    with factory() as session:
        assert session.execute(sa.text("SELECT 1")).scalar() == 1


@pytest.mark.postgres
def test_locking_read_rolls_back(one_connection, monkeypatch):
    rollbacks = []
    factory = make_session_factory(one_connection)
    with factory() as session:
        session.scalars(sa.select(Deployment).with_for_update()).all()
        driver = session.connection().connection.driver_connection
        rollback = type(driver).rollback
        monkeypatch.setattr(type(driver), "rollback", lambda self: rollbacks.append(self.info.transaction_status) or rollback(self))

    assert len(rollbacks) >= 1
    assert rollbacks[0].name == "INTRANS"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", True),
        ("  select id FROM engine_jobs WHERE status = 'ready'", True),
        ("SELECT id FROM engine_jobs\nFOR UPDATE SKIP LOCKED", False),
        ("SELECT id FROM engine_jobs FOR SHARE", False),
        ("WITH x AS (UPDATE engine_jobs SET status = 'done' RETURNING id) SELECT count(*) FROM x", False),
        ("INSERT INTO engine_jobs DEFAULT VALUES", False),
        ("UPDATE engine_jobs SET status = 'done'", False),
        ("", False),
    ],
)
def test_is_plain_read(sql, expected):
    assert is_plain_read(sql) is expected
