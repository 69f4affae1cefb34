"""Read-only PostgreSQL transactions end with COMMIT, so psycopg keeps its prepared statements; any write still rolls back."""

import pytest
import sqlalchemy as sa

from careplace.db import make_db_engine, make_session_factory
from engine import audit, autocommit, driver, writes
from engine.models import AuditEvent, Deployment
from engine.readonly import is_plain_read
from helpers import START_TIME

PREPARED_COUNT = "SELECT count(*) FROM pg_prepared_statements"
# psycopg prepares a statement on the server at its fifth execution on a connection (prepare_threshold).
EXECUTIONS_TO_PREPARE = 5
SCRATCH_TABLE = "readonly_scratch"
COPY_TABLE = "readonly_copy"


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


@pytest.fixture
def other_connection(pg_url):
    """A second engine outside that pool, standing in for another process such as a migration run."""
    other = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    yield other
    other.dispose()


@pytest.fixture
def scratch_table(other_connection):
    """A table of one row (id 1, value 1), dropped after the test together with any copy of it."""
    with other_connection.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}, {COPY_TABLE}")
        connection.exec_driver_sql(f"CREATE TABLE {SCRATCH_TABLE} (id integer PRIMARY KEY, value integer)")
        connection.exec_driver_sql(f"INSERT INTO {SCRATCH_TABLE} VALUES (1, 1)")
    yield SCRATCH_TABLE
    with other_connection.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}, {COPY_TABLE}")


def change_value_type(other_connection) -> None:
    """Change the type of a selected column from another connection, as a migration would."""
    with other_connection.begin() as connection:
        connection.exec_driver_sql(f"ALTER TABLE {SCRATCH_TABLE} ALTER COLUMN value TYPE bigint")


def scratch_row_count(other_connection) -> int:
    with other_connection.connect() as connection:
        return connection.exec_driver_sql(f"SELECT count(*) FROM {SCRATCH_TABLE}").scalar()


@pytest.mark.postgres
def test_select_into_rolls_back(one_connection, other_connection, scratch_table):
    # SELECT ... INTO creates a table, yet the statement starts with SELECT and has no FOR.
    factory = make_session_factory(one_connection)
    with factory() as session:
        session.execute(sa.text(f"SELECT * INTO {COPY_TABLE} FROM {scratch_table}"))

    with other_connection.connect() as connection:
        created = connection.exec_driver_sql(f"SELECT to_regclass('{COPY_TABLE}')").scalar()
    assert created is None


@pytest.mark.postgres
def test_multiple_statements_roll_back(one_connection, other_connection, scratch_table):
    # psycopg sends a query without parameters in one simple-protocol message, so every statement in it runs.
    with one_connection.connect() as connection:
        connection.exec_driver_sql(f"SELECT 1; INSERT INTO {scratch_table} VALUES (2, 2)")

    assert scratch_row_count(other_connection) == 1


@pytest.mark.postgres
def test_set_config_reverts_on_rollback(one_connection):
    # A session-level setting made in a transaction is undone by ROLLBACK but kept by COMMIT, for the pool's next user.
    factory = make_session_factory(one_connection)
    with factory() as session:
        session.execute(sa.text("SELECT set_config('application_name', 'readonly-leaked', false)"))

    with factory() as session:
        application_name = session.execute(sa.text("SHOW application_name")).scalar()
    assert application_name != "readonly-leaked"


@pytest.mark.postgres
def test_read_after_column_type_change(one_connection, other_connection, scratch_table):
    # A read-only session's COMMIT keeps the statement prepared, so the column change reaches it.
    factory = make_session_factory(one_connection)
    query = sa.text(f"SELECT id, value FROM {scratch_table} WHERE id = :id")
    with factory() as session:
        for _ in range(EXECUTIONS_TO_PREPARE + 1):
            session.execute(query, {"id": 1}).all()

    change_value_type(other_connection)

    # The kept plan fails once; that failure replaces the pool's connections, so the next request plans afresh.
    with factory() as session:
        with pytest.raises(sa.exc.NotSupportedError, match="cached plan must not change result type") as raised:
            session.execute(query, {"id": 1}).all()
    assert raised.value.connection_invalidated
    with factory() as session:
        rows = session.execute(query, {"id": 1}).all()
    assert rows == [(1, 1)]


@pytest.mark.postgres
def test_autocommit_read_recovers_after_type_change(one_connection, other_connection, scratch_table):
    # The task read in engine.rows.read_task_with_instance runs through engine.driver under autocommit.alone. An error
    # outside a transaction leaves psycopg idle, so only replacing the connection clears its prepared statements.
    factory = make_session_factory(one_connection)
    statement = driver.Statement(f"SELECT id, value FROM {scratch_table} WHERE id = %(id)s")

    def read_alone():
        with factory() as session:
            with autocommit.alone(session) as outside_transaction:
                assert outside_transaction
                return statement.fetch_one(session, {"id": 1})

    for _ in range(EXECUTIONS_TO_PREPARE + 1):
        read_alone()
    change_value_type(other_connection)

    with pytest.raises(sa.exc.NotSupportedError, match="cached plan must not change result type") as raised:
        read_alone()
    assert raised.value.connection_invalidated
    # An ordinary read-only request on the same pool, which ends with COMMIT and so clears nothing.
    with factory() as session:
        session.execute(sa.text("SELECT 1")).all()

    assert read_alone() == (1, 1)


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
        ("SELECT * INTO readonly_copy FROM readonly_scratch", False),
        ("SELECT 1; INSERT INTO readonly_scratch VALUES (2, 2)", False),
        ("SELECT 1;", True),
        ("SELECT set_config('application_name', 'x', false)", False),
        ("SELECT nextval('engine_jobs_id_seq')", False),
        ("", False),
    ],
)
def test_is_plain_read(sql, expected):
    assert is_plain_read(sql) is expected
