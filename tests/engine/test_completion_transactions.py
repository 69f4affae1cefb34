"""How a task completion reaches PostgreSQL: one read and one write, each its own transaction when nothing else is written.

The observer below wraps psycopg's own cursor and commit, so it records what
goes to the server whether SQLAlchemy or engine.driver sends it.
"""

from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

import engine.runtime as runtime
from careplace.db import make_db_engine, make_session_factory
from engine import rows
from engine.errors import ConflictError
from engine.models import HumanTask, Instance, Job
from engine.runtime import Engine
from helpers import ADMIN, audit_kinds, deploy_file, instance_row, only_task, open_elements


@pytest.fixture
def pg_engine(pg_url, registry):
    pool = make_db_engine(pg_url)
    yield Engine(make_session_factory(pool), registry)
    pool.dispose()


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, bool]]:
    """Each statement psycopg sends, as (first word, whether it ran in autocommit), and each COMMIT that had a transaction to end."""
    statements: list[tuple[str, bool]] = []
    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def observed_execute(cursor, query, params=None, **options):
        statements.append((str(query).split(None, 1)[0].upper(), cursor.connection.autocommit))
        return execute(cursor, query, params, **options)

    def observed_commit(connection):
        if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            statements.append(("COMMIT", False))
        return commit(connection)

    monkeypatch.setattr(psycopg.Cursor, "execute", observed_execute)
    monkeypatch.setattr(psycopg.Connection, "commit", observed_commit)
    return statements


@pytest.mark.postgres
def test_completion_read_and_write_alone(pg_engine, sent):
    deploy_file(pg_engine, "parallel_gateway.bpmn")
    instance_id = pg_engine.start("parallel_checks")
    task = only_task(pg_engine, instance_id, "check_references")
    version_before = instance_row(pg_engine.session_factory, instance_id).row_version
    # A first completion in this process also reads the version's spec; this one finds it cached.
    warm_up = pg_engine.start("parallel_checks")
    pg_engine.complete(only_task(pg_engine, warm_up, "check_references").id, {}, ADMIN)
    sent.clear()

    pg_engine.complete(task.id, {}, ADMIN)

    # Autocommit means psycopg sent no BEGIN, and no COMMIT was left to send.
    assert sent == [("SELECT", True), ("WITH", True)]
    assert open_elements(pg_engine, instance_id) == ["check_training"]
    assert instance_row(pg_engine.session_factory, instance_id).row_version == version_before + 1
    assert audit_kinds(pg_engine.session_factory, instance_id)[-1] == "task.completed"


@pytest.mark.postgres
def test_completion_with_job_one_transaction(pg_engine, sent):
    deploy_file(pg_engine, "user_service.bpmn")
    instance_id = pg_engine.start("review", data={"owner": "casey.manager"})
    task = only_task(pg_engine, instance_id)
    sent.clear()

    pg_engine.complete(task.id, {"approved": True, "hours": 12}, ADMIN)

    # The read needs no transaction; the instance write and the job insert share one.
    assert sent[0] == ("SELECT", True)
    assert ("WITH", False) in sent
    assert sent[-1] == ("COMMIT", False)
    with pg_engine.session_factory() as session:
        assert session.scalars(sa.select(Job.topic).where(Job.instance_id == instance_id)).all() == ["test.echo"]


@pytest.mark.postgres
def test_failed_job_insert_rolls_back_the_completion(pg_engine, pg_url):
    deploy_file(pg_engine, "user_service.bpmn")
    instance_id = pg_engine.start("review", data={"owner": "casey.manager"})
    task = only_task(pg_engine, instance_id)
    version_before = instance_row(pg_engine.session_factory, instance_id).row_version
    admin = make_db_engine(pg_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'job inserts refused by the test'; END $$"
        )
        connection.exec_driver_sql("CREATE TRIGGER refuse_job BEFORE INSERT ON engine_jobs FOR EACH ROW EXECUTE FUNCTION refuse_job()")
    try:
        with pytest.raises(sa.exc.DBAPIError, match="job inserts refused"):
            pg_engine.complete(task.id, {"approved": True, "hours": 12}, ADMIN)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER refuse_job ON engine_jobs")
            connection.exec_driver_sql("DROP FUNCTION refuse_job()")
        admin.dispose()

    assert open_elements(pg_engine, instance_id) == ["approve"]
    assert instance_row(pg_engine.session_factory, instance_id).row_version == version_before
    assert "task.completed" not in audit_kinds(pg_engine.session_factory, instance_id)


@pytest.mark.postgres
def test_instance_changed_before_write_retries(pg_engine, monkeypatch):
    deploy_file(pg_engine, "parallel_gateway.bpmn")
    instance_id = pg_engine.start("parallel_checks")
    references = only_task(pg_engine, instance_id, "check_references")
    training = only_task(pg_engine, instance_id, "check_training")
    save = runtime.save
    attempts = []

    def save_after_another_writer(session, loaded, **options):
        attempts.append(loaded.row.row_version)
        if len(attempts) == 1:
            # Another completion commits after this one read the instance and before it writes.
            pg_engine.complete(training.id, {}, ADMIN)
        save(session, loaded, **options)

    monkeypatch.setattr(runtime, "save", save_after_another_writer)

    pg_engine.complete(references.id, {}, ADMIN)

    # The nested completion saved once; the first attempt failed its version check and the second read afresh.
    assert len(attempts) == 3
    assert attempts[2] == attempts[0] + 1
    assert open_elements(pg_engine, instance_id) == ["approve_provider"]
    assert audit_kinds(pg_engine.session_factory, instance_id).count("task.completed") == 2


@pytest.mark.postgres
def test_instance_changing_every_attempt_is_a_conflict(pg_engine, monkeypatch):
    deploy_file(pg_engine, "parallel_gateway.bpmn")
    instance_id = pg_engine.start("parallel_checks")
    references = only_task(pg_engine, instance_id, "check_references")
    version_before = instance_row(pg_engine.session_factory, instance_id).row_version
    save = runtime.save
    attempts = []

    def save_after_a_bump(session, loaded, **options):
        attempts.append(loaded.row.row_version)
        # Another writer saves the instance between every read and write of this completion.
        with pg_engine.session_factory.begin() as other:
            other.execute(sa.update(Instance).where(Instance.id == instance_id).values(row_version=Instance.row_version + 1))
        save(session, loaded, **options)

    monkeypatch.setattr(runtime, "save", save_after_a_bump)

    with pytest.raises(ConflictError, match=references.id):
        pg_engine.complete(references.id, {}, ADMIN)

    assert len(attempts) == runtime.COMPLETE_ATTEMPTS
    assert instance_row(pg_engine.session_factory, instance_id).row_version == version_before + runtime.COMPLETE_ATTEMPTS
    assert open_elements(pg_engine, instance_id) == ["check_references", "check_training"]
    assert "task.completed" not in audit_kinds(pg_engine.session_factory, instance_id)


@pytest.mark.postgres
def test_lost_connection_is_replaced_and_hides_task_data(pg_engine, pg_url, monkeypatch):
    deploy_file(pg_engine, "parallel_gateway.bpmn")
    instance_id = pg_engine.start("parallel_checks", data={"full_name": "Ada Example"})
    references = only_task(pg_engine, instance_id, "check_references")
    training = only_task(pg_engine, instance_id, "check_training")
    admin = make_db_engine(pg_url, isolation_level="AUTOCOMMIT")
    save = runtime.save

    def save_after_losing_the_connection(session, loaded, **options):
        monkeypatch.setattr(runtime, "save", save)
        backend = session.connection().connection.driver_connection.info.backend_pid
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        save(session, loaded, **options)

    monkeypatch.setattr(runtime, "save", save_after_losing_the_connection)
    try:
        with pytest.raises(sa.exc.OperationalError) as raised:
            pg_engine.complete(references.id, {}, ADMIN)
    finally:
        admin.dispose()

    assert raised.value.connection_invalidated
    assert "Ada Example" not in str(raised.value)
    # The pool connects again, and the task is still open.
    pg_engine.complete(references.id, {}, ADMIN)
    pg_engine.complete(training.id, {}, ADMIN)
    assert open_elements(pg_engine, instance_id) == ["approve_provider"]


@pytest.mark.postgres
def test_driver_read_times_in_utc(pg_engine):
    deploy_file(pg_engine, "parallel_gateway.bpmn")
    instance_id = pg_engine.start("parallel_checks")
    task = only_task(pg_engine, instance_id, "check_references")
    with pg_engine.session_factory() as session:
        stored = session.get(Instance, instance_id).created_at

    with pg_engine.session_factory() as session:
        session.execute(sa.text("SET TIME ZONE 'Asia/Kolkata'"))
        found, read = rows.read_task_with_instance(session, task.id)

    assert found == rows.TaskRow(task.id, instance_id, "open", None, "provider_services", "check_references")
    assert read.row.created_at == stored
    assert read.row.created_at.utcoffset() == timedelta(0)
    assert read.open_task_ids == {task.id, only_task(pg_engine, instance_id, "check_training").id}


@pytest.mark.postgres
def test_driver_read_of_a_missing_task_is_none(pg_engine):
    with pg_engine.session_factory() as session:
        assert rows.read_task_with_instance(session, "00000000-0000-0000-0000-000000000000") is None
        assert session.scalars(sa.select(HumanTask)).all() == []


def terminate_backends(pg_url: str, pids: list[int]) -> None:
    admin = make_db_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for pid in pids:
                connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def test_completion_in_outer_transaction_rolls_back(db_engine, registry):
    engine = Engine(make_session_factory(db_engine), registry)
    deploy_file(engine, "parallel_gateway.bpmn")
    instance_id = engine.start("parallel_checks")
    references = only_task(engine, instance_id, "check_references")

    # SQLAlchemy's way to join a session to a transaction that its caller owns: the session's commit
    # leaves the outer transaction open, so the caller's rollback undoes everything the session wrote.
    # SQLAlchemy has begun the outer transaction, but psycopg sends BEGIN only with the first statement.
    with db_engine.connect() as connection:
        outer = connection.begin()
        joined = Engine(sessionmaker(bind=connection, expire_on_commit=False), registry)
        joined.complete(references.id, {}, ADMIN)
        outer.rollback()

    assert open_elements(engine, instance_id) == ["check_references", "check_training"]
    assert "task.completed" not in audit_kinds(engine.session_factory, instance_id)


@pytest.mark.postgres
def test_lost_server_fails_only_one_completion(pg_url, registry):
    pool = make_db_engine(pg_url, pool_size=3, max_overflow=0)
    engine = Engine(make_session_factory(pool), registry)
    try:
        deploy_file(engine, "parallel_gateway.bpmn")
        instance_id = engine.start("parallel_checks")
        references = only_task(engine, instance_id, "check_references")

        # Fill the pool with three connections, then end all of them, as a server restart does.
        checked_out = [pool.connect() for _ in range(3)]
        pids = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() for connection in checked_out]
        for connection in checked_out:
            connection.close()
        terminate_backends(pg_url, pids)

        # careplace.db relies on this: the first statement on a dead connection fails, SQLAlchemy then
        # marks every pooled connection stale, and the next checkout connects afresh.
        with pytest.raises(sa.exc.OperationalError) as first_failure:
            engine.complete(references.id, {}, ADMIN)
        assert first_failure.value.connection_invalidated

        # The first failure marked the whole pool stale, so this completion gets a new connection.
        engine.complete(references.id, {}, ADMIN)

        assert open_elements(engine, instance_id) == ["check_training"]
    finally:
        pool.dispose()
