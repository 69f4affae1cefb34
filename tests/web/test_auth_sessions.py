"""Login session versions: a session cookie stops working after logout, a password change or a role change."""

import pytest
import sqlalchemy as sa
from alembic import command

from care.models.people import Role, User
from care.people import end_sessions, set_password, set_role
from careplace.db import alembic_config, make_db_engine
from web.access import LoginUser


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def _client_with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie("session", value)
    return client


def test_session_cookie_rejected_after_logout(app, logged_in, people, csrf_token):
    client = logged_in(people.analyst)
    copied_cookie = _session_cookie(client)
    token = csrf_token(client, "/admin/processes")

    client.post("/logout", data={"csrf_token": token})
    replayed = _client_with_cookie(app, copied_cookie).get("/admin/processes")

    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/login")


def test_session_cookie_works_before_logout(app, logged_in, people):
    client = logged_in(people.analyst)

    replayed = _client_with_cookie(app, _session_cookie(client)).get("/admin/processes")

    assert replayed.status_code == 200


def test_logout_raises_session_version(logged_in, people, session_factory, csrf_token):
    client = logged_in(people.analyst)
    token = csrf_token(client, "/admin/processes")

    client.post("/logout", data={"csrf_token": token})

    with session_factory() as db:
        assert db.get(User, people.analyst.id).session_version == 2


def test_session_cookie_rejected_after_password_change(logged_in, people, session_factory):
    client = logged_in(people.care_manager)

    with session_factory.begin() as db:
        set_password(db.get(User, people.care_manager.id), "a new long passphrase")

    assert client.get("/tasks").status_code == 302


def test_session_cookie_rejected_after_role_change(logged_in, people, session_factory):
    client = logged_in(people.care_manager)

    with session_factory.begin() as db:
        set_role(db.get(User, people.care_manager.id), Role.ANALYST)

    assert client.get("/tasks").status_code == 302


def test_set_role_unchanged_keeps_sessions(logged_in, people, session_factory):
    client = logged_in(people.care_manager)

    with session_factory.begin() as db:
        set_role(db.get(User, people.care_manager.id), Role.CARE_MANAGER)

    assert client.get("/tasks").status_code == 200


def test_set_role_provider_user_needs_provider(people, session_factory):
    with session_factory() as db:
        user = db.get(User, people.care_manager.id)

        with pytest.raises(ValueError, match="needs a provider id"):
            set_role(user, Role.PROVIDER_USER)
        assert user.session_version == 1


def test_set_role_staff_without_provider(people, session_factory):
    with session_factory() as db:
        user = db.get(User, people.care_manager.id)

        with pytest.raises(ValueError, match="only a provider user belongs to a provider"):
            set_role(user, Role.ANALYST, people.provider.id)
        assert user.session_version == 1


def test_end_sessions_new_user_keeps_default():
    user = User(email="new@example.test", display_name="New", role=Role.ANALYST)

    end_sessions(user)

    assert user.session_version == 1


def test_session_user_id_includes_version(people):
    user = LoginUser.from_model(people.admin)

    assert user.get_id() == f"{people.admin.id}:1"


def test_session_without_version_loads_no_user(app, people):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(people.admin.id)
        session["_fresh"] = True

    assert client.get("/tasks").status_code == 302


def test_session_malformed_user_id_loads_no_user(app, people):
    for user_id in (f"{people.admin.id}:", f"{people.admin.id}:x", f"{people.admin.id}:1:1", "٣:1"):
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = user_id

        assert client.get("/tasks").status_code == 302, user_id


def test_session_version_column_defaults_to_one(session_factory):
    with session_factory.begin() as db:
        db.execute(sa.text("INSERT INTO users (email, display_name, role, is_active, created_at, updated_at) VALUES ('raw@example.test', 'Raw', 'analyst', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))

    with session_factory() as db:
        version = db.scalar(sa.select(User.session_version).where(User.email == "raw@example.test"))
    assert version == 1


def test_session_version_migration_reversible(db_url):
    config = alembic_config(db_url)
    try:
        command.downgrade(config, "care_0001")
        columns = _user_columns(db_url)
        assert "session_version" not in columns
        assert "email" in columns
    finally:
        command.upgrade(config, "heads")

    assert "session_version" in _user_columns(db_url)


def _user_columns(db_url: str) -> set[str]:
    engine = make_db_engine(db_url)
    try:
        return {column["name"] for column in sa.inspect(engine).get_columns("users")}
    finally:
        engine.dispose()
