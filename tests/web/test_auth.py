"""Login, logout, CSRF and the security headers and cookie flags."""

from dataclasses import replace

import pytest
import sqlalchemy as sa

from engine.models import AuditEvent
from web import create_app


def _audit_kinds(session_factory) -> list[str]:
    with session_factory() as db:
        return list(db.scalars(sa.select(AuditEvent.kind).order_by(AuditEvent.id)))


def test_login_page_renders_labelled_fields(client):
    response = client.get("/login")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert '<label for="field-email">' in page
    assert '<label for="field-password">' in page
    assert 'href="#main"' in page


def test_login_valid_password_redirects_home(client, people, session_factory, login):
    response = login(client, people.care_manager)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/staff/enquiries"
    assert "user.login" in _audit_kinds(session_factory)


def test_login_wrong_password_rejected(client, people, session_factory, login):
    response = login(client, people.care_manager, password="wrong password")
    page = response.get_data(as_text=True)

    assert response.status_code == 401
    assert "The email address or password is not right" in page
    assert "user.login_failed" in _audit_kinds(session_factory)
    assert client.get("/tasks").status_code == 302


def test_login_unknown_email_rejected(client, people, csrf_token):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": "nobody@example.test", "password": "x", "csrf_token": token})

    assert response.status_code == 401


def test_login_missing_fields_linked_errors(client, people, csrf_token):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert 'href="#field-email">Enter your email address' in page
    assert 'aria-describedby="field-email-error"' in page


def test_login_rejects_offsite_next(client, people, csrf_token):
    token = csrf_token(client, "/login")
    response = client.post("/login?next=//evil.example/", data={"email": people.admin.email, "password": "correct horse battery staple", "csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "next_page",
    [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0d/evil.example",
        "/%0d%0aSet-Cookie:%20x=1",
        "%09//evil.example",
        "/%e2%80%8b/evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "https:/evil.example",
        "evil.example",
        "javascript:alert(1)",
        "/tasks%20",
    ],
)
def test_login_rejects_unsafe_next(client, people, csrf_token, next_page):
    token = csrf_token(client, "/login")
    response = client.post(f"/login?next={next_page}", data={"email": people.admin.email, "password": "correct horse battery staple", "csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_follows_local_next_with_query(client, people, csrf_token):
    token = csrf_token(client, "/login")
    response = client.post("/login?next=/tasks%3Fview%3Dmine", data={"email": people.admin.email, "password": "correct horse battery staple", "csrf_token": token})

    assert response.headers["Location"] == "/tasks?view=mine"


def test_login_follows_local_next(client, people, csrf_token):
    token = csrf_token(client, "/login")
    response = client.post("/login?next=/tasks", data={"email": people.admin.email, "password": "correct horse battery staple", "csrf_token": token})

    assert response.headers["Location"] == "/tasks"


def test_logout_ends_session_and_is_audited(client, people, session_factory, login, csrf_token):
    login(client, people.analyst)
    token = csrf_token(client, "/admin/processes")

    response = client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/admin/processes").status_code == 302
    assert "user.logout" in _audit_kinds(session_factory)


def test_csrf_missing_token_rejected(client, people):
    response = client.post("/login", data={"email": people.admin.email, "password": "correct horse battery staple"})

    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert client.get("/tasks").status_code == 302


def test_csrf_missing_token_rejected_when_logged_in(client, people, login):
    login(client, people.admin)

    response = client.post("/logout", data={})

    assert response.status_code == 400
    assert client.get("/tasks").status_code == 200


def test_security_headers_present(client):
    response = client.get("/login")

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_session_cookie_flags(client, people, login):
    response = login(client, people.admin)
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))

    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_secure_outside_embedded(services):
    app = create_app(replace(services.settings, embedded=False), services)

    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_create_app_rejects_empty_secret_key(services):
    with pytest.raises(ValueError, match="CAREPLACE_SECRET_KEY"):
        create_app(replace(services.settings, secret_key=""), services)


def test_static_css_served(client):
    with client.get("/static/careplace.css") as response:
        assert response.status_code == 200
        assert "skip-link" in response.get_data(as_text=True)
