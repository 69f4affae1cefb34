"""The set-password link, the password change page and the staff page that emails a new link."""

import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from care.models.account_tokens import AccountToken
from care.models.messaging import OutboxEmail
from care.models.people import User
from engine import clock
from handlers.account_topics import issue_token
from handlers.config import HandlerSettings

NEW_PASSWORD = "a new password of some length"
INVALID_LINK = "Ask the provider services team for a new link."


@pytest.fixture
def services(services):
    """The web services with handler settings, which the staff page needs for the link's base URL."""
    services.handler_settings = HandlerSettings()
    return services


@pytest.fixture
def link_for(session_factory):
    """``link_for(user)``: issue a set-password token for ``user`` and return the path of its link."""

    def issue(user: User) -> str:
        with session_factory.begin() as db:
            _token, raw_token = issue_token(db, user.id, issued_by="test")
        return f"/account/set-password/{raw_token}"

    return issue


@pytest.fixture
def moved_clock():
    """``moved_clock(delta)``: move the app's clock forward by ``delta`` for the rest of the test."""
    real_now = clock.now()

    def move(delta: timedelta) -> None:
        clock.set_clock(lambda: real_now + delta)

    yield move
    clock.set_clock(None)


def post_new_password(client, csrf_token, path: str, password: str = NEW_PASSWORD, confirmation: str | None = None):
    token = csrf_token(client, path)
    data = {"csrf_token": token, "password": password, "confirmation": password if confirmation is None else confirmation}
    return client.post(path, data=data)


def stored_hash(session_factory, user: User) -> str | None:
    with session_factory() as db:
        return db.get(User, user.id).password_hash


def test_set_password_link_logs_in(client, csrf_token, link_for, people, session_factory):
    path = link_for(people.provider_user)

    response = post_new_password(client, csrf_token, path)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/provider/enquiries"
    assert client.get("/provider/enquiries").status_code == 200
    assert check_password_hash(stored_hash(session_factory, people.provider_user), NEW_PASSWORD)
    with session_factory() as db:
        token = db.scalar(sa.select(AccountToken))
    assert token.used_at is not None


def test_set_password_link_works_once(app, client, csrf_token, link_for, people):
    path = link_for(people.provider_user)
    assert post_new_password(client, csrf_token, path).status_code == 302

    second = app.test_client().get(path)

    assert second.status_code == 404
    assert INVALID_LINK in second.get_data(as_text=True)


def test_set_password_link_expires(client, link_for, people, moved_clock):
    path = link_for(people.provider_user)
    moved_clock(timedelta(days=7, seconds=1))

    response = client.get(path)

    assert response.status_code == 404
    assert INVALID_LINK in response.get_data(as_text=True)


def test_set_password_link_valid_before_expiry(client, link_for, people, moved_clock):
    path = link_for(people.provider_user)
    moved_clock(timedelta(days=6, hours=23))

    assert client.get(path).status_code == 200


def test_set_password_wrong_token(client, link_for, people):
    link_for(people.provider_user)

    response = client.get("/account/set-password/not-the-token")

    assert response.status_code == 404
    assert INVALID_LINK in response.get_data(as_text=True)


def test_set_password_newer_link_replaces_older(client, link_for, people):
    older = link_for(people.provider_user)
    newer = link_for(people.provider_user)

    assert client.get(older).status_code == 404
    assert client.get(newer).status_code == 200


@pytest.mark.parametrize(
    ("password", "confirmation", "message"),
    [
        ("short pass", None, "Use between 12 and 200 characters."),
        ("123456789012345", None, "Use letters or other characters as well as digits."),
        (NEW_PASSWORD, "a different password", "The two passwords differ."),
        ("x" * 201, None, "Use between 12 and 200 characters."),
    ],
)
def test_set_password_rules(client, csrf_token, link_for, people, session_factory, password, confirmation, message):
    path = link_for(people.provider_user)
    before = stored_hash(session_factory, people.provider_user)

    response = post_new_password(client, csrf_token, path, password, confirmation)

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert stored_hash(session_factory, people.provider_user) == before
    assert client.get(path).status_code == 200


def test_set_password_needs_csrf(client, link_for, people, session_factory):
    path = link_for(people.provider_user)
    before = stored_hash(session_factory, people.provider_user)

    response = client.post(path, data={"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})

    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert stored_hash(session_factory, people.provider_user) == before


def test_set_password_token_not_logged(client, csrf_token, link_for, people, caplog):
    caplog.set_level(logging.DEBUG)
    path = link_for(people.provider_user)
    raw_token = path.rsplit("/", 1)[-1]

    post_new_password(client, csrf_token, path)
    client.get(path)
    client.get("/account/set-password/not-the-token")

    assert raw_token not in caplog.text
    assert NEW_PASSWORD not in caplog.text


def test_change_password_ends_other_sessions(logged_in, csrf_token, people, session_factory, login, app):
    current = logged_in(people.care_manager)
    other = logged_in(people.care_manager)
    token = csrf_token(current, "/account/password")

    response = current.post(
        "/account/password",
        data={"csrf_token": token, "current_password": "correct horse battery staple", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert current.get("/account/password").status_code == 200
    assert other.get("/account/password").status_code == 302
    assert login(app.test_client(), people.care_manager, NEW_PASSWORD).status_code == 302


def test_change_password_wrong_current(logged_in, csrf_token, people, session_factory):
    client = logged_in(people.provider_user)
    before = stored_hash(session_factory, people.provider_user)
    token = csrf_token(client, "/account/password")

    response = client.post("/account/password", data={"csrf_token": token, "current_password": "not my password", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})

    assert response.status_code == 400
    assert "The current password is not right." in response.get_data(as_text=True)
    assert stored_hash(session_factory, people.provider_user) == before


def test_change_password_throttled(logged_in, csrf_token, people):
    client = logged_in(people.provider_user)
    statuses = []
    for _ in range(6):
        token = csrf_token(client, "/account/password")
        response = client.post("/account/password", data={"csrf_token": token, "current_password": "not my password", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
        statuses.append(response.status_code)

    assert statuses == [400, 400, 400, 400, 400, 429]


def test_change_password_rules(logged_in, csrf_token, people):
    client = logged_in(people.provider_user)
    token = csrf_token(client, "/account/password")

    response = client.post("/account/password", data={"csrf_token": token, "current_password": "correct horse battery staple", "password": "1234567890123", "confirmation": "1234567890123"})

    assert response.status_code == 400
    assert "Use letters or other characters as well as digits." in response.get_data(as_text=True)


def test_change_password_needs_csrf(logged_in, people, session_factory):
    client = logged_in(people.provider_user)
    before = stored_hash(session_factory, people.provider_user)

    response = client.post("/account/password", data={"current_password": "correct horse battery staple", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})

    assert response.status_code == 400
    assert stored_hash(session_factory, people.provider_user) == before


def test_change_password_needs_login(client):
    response = client.get("/account/password")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def reissue_path(people) -> str:
    return f"/staff/providers/{people.provider.id}/users/{people.provider_user.id}/set-password-link"


def test_staff_reissue_emails_new_link(logged_in, csrf_token, people, link_for, session_factory, app):
    older = link_for(people.provider_user)
    staff = logged_in(people.provider_services)
    page = staff.get(f"/staff/providers/{people.provider.id}").get_data(as_text=True)
    assert reissue_path(people) in page
    token = csrf_token(staff, f"/staff/providers/{people.provider.id}")

    response = staff.post(reissue_path(people), data={"csrf_token": token})

    assert response.status_code == 302
    with session_factory() as db:
        (email,) = db.scalars(sa.select(OutboxEmail))
    assert email.template == "access_instructions"
    assert email.recipient == "provider1@example.test"
    new_path = re.search(r"/account/set-password/[A-Za-z0-9_-]+", email.body_text).group(0)
    visitor = app.test_client()
    assert visitor.get(older).status_code == 404
    assert visitor.get(new_path).status_code == 200


def test_staff_reissue_needs_csrf(logged_in, people, session_factory):
    staff = logged_in(people.provider_services)

    response = staff.post(reissue_path(people))

    assert response.status_code == 400
    with session_factory() as db:
        assert db.scalars(sa.select(OutboxEmail)).all() == []


@pytest.mark.parametrize("role", ["provider_user", "care_manager", "analyst"])
def test_staff_reissue_other_roles_forbidden(logged_in, csrf_token, people, role):
    client = logged_in(people.by_role(role))
    token = csrf_token(client, "/account/password")

    response = client.post(reissue_path(people), data={"csrf_token": token})

    assert response.status_code == 403


def test_staff_reissue_other_provider_not_found(logged_in, csrf_token, people):
    staff = logged_in(people.admin)
    token = csrf_token(staff, f"/staff/providers/{people.provider.id}")

    response = staff.post(f"/staff/providers/{people.other_provider.id}/users/{people.provider_user.id}/set-password-link", data={"csrf_token": token})

    assert response.status_code == 404
