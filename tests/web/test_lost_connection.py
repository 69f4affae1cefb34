"""A page requested just after PostgreSQL dropped every pooled connection still loads, because the user load retries once."""

import pytest
import sqlalchemy as sa

from careplace.db import make_db_engine


@pytest.fixture
def db_url(pg_url):
    """These tests need PostgreSQL, where a server restart ends connections the pool still holds."""
    return pg_url


def end_other_connections(pg_url: str) -> int:
    admin = make_db_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return connection.execute(
                sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            ).scalar_one()
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_page_after_lost_connections_loads(logged_in, people, pg_url, caplog):
    client = logged_in(people.care_manager)
    assert client.get("/tasks").status_code == 200

    ended = end_other_connections(pg_url)
    response = client.get("/tasks")

    assert ended >= 1
    assert response.status_code == 200
    assert "retrying once" in caplog.text
