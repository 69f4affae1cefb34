"""Database engines, sessions and schema migrations (Alembic) for every package's tables."""

import logging
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from engine import readonly

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# A pooled PostgreSQL connection unused for this long is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 10.0
_CHECKED_IN_AT = "careplace_checked_in_at"


def make_db_engine(url: str, **kwargs) -> sa.Engine:
    """Create a SQLAlchemy engine; SQLite gets a busy time-out, WAL and enforced foreign keys.

    Statement parameters are left out of errors and logs, because instance
    states and task data can name service users.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("check_same_thread", False)
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine

    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_after_idle(engine)
    readonly.install(engine)
    return engine


def _ping_after_idle(engine: sa.Engine) -> None:
    """Ping a pooled connection before reuse only when it sat unused for PING_AFTER_IDLE_SECONDS or more.

    SQLAlchemy's pool_pre_ping costs a round trip on every checkout, and a
    portal page or a task completion checks out a connection for a handful of
    statements. A connection used a moment ago is very likely alive. If the server went away within that
    moment, the first statement fails, SQLAlchemy marks every pooled connection
    stale, and the next checkout connects afresh.
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error

    @sa.event.listens_for(engine, "checkin")
    def remember_checkin(_dbapi_connection, record) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        # A new connection has no check-in time: it was made just now, so it needs no ping.
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except dbapi_error as error:
            log.warning("a pooled database connection idle for %.0f s failed its ping (%s); connecting again", time.monotonic() - checked_in_at, type(error).__name__)
            # The pool discards this connection and checks out a new one.
            raise sa.exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema of every package."""
    log.info("upgrading database schema")
    command.upgrade(alembic_config(url), "heads")


def schema_heads(url: str) -> list[str]:
    """Return the newest migration revision of each package."""
    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())
