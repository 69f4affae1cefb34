"""The PostgreSQL connection pool: a ping only after a connection sat idle, and recovery from a dropped connection."""

import pytest
import sqlalchemy as sa

import careplace.db
from careplace.db import make_db_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def pool(pg_url):
    engine = make_db_engine(pg_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(pool, monkeypatch) -> list[int]:
    """The pings the pool sends, counted around the dialect's own ping."""
    calls: list[int] = []
    real = pool.dialect.do_ping

    def counting(dbapi_connection):
        calls.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(pool.dialect, "do_ping", counting)
    return calls


def backend_pid(pool) -> int:
    with pool.connect() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def terminate(pg_url, pid: int) -> None:
    admin = make_db_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def test_recent_connection_not_pinged(pool, pings):
    first = backend_pid(pool)
    second = backend_pid(pool)

    assert second == first
    assert pings == []


def test_idle_connection_pinged(pool, pings, monkeypatch):
    backend_pid(pool)
    monkeypatch.setattr(careplace.db, "PING_AFTER_IDLE_SECONDS", 0.0)

    backend_pid(pool)

    assert pings == [1]


def test_idle_dropped_connection_replaced(pool, pg_url, monkeypatch):
    dropped = backend_pid(pool)
    terminate(pg_url, dropped)
    monkeypatch.setattr(careplace.db, "PING_AFTER_IDLE_SECONDS", 0.0)

    replacement = backend_pid(pool)

    assert replacement != dropped


def test_recent_dropped_connection_fails_once(pool, pg_url):
    dropped = backend_pid(pool)
    terminate(pg_url, dropped)

    with pytest.raises(sa.exc.OperationalError) as raised:
        backend_pid(pool)
    replacement = backend_pid(pool)

    assert raised.value.connection_invalidated
    assert replacement != dropped
