"""The failed-login throttle: per account and address, per account, per client address, rejected with 429 before the password is checked."""

import dataclasses
import secrets

import pytest
import sqlalchemy as sa

import web.auth
from engine.models import AuditEvent
from tests.web.conftest import PASSWORD
from web import create_app
from web.security import ACCOUNT_LIMIT_CONFIG, ACCOUNT_TOTAL_LIMIT_CONFIG, STORAGE_CONFIG

# The Redis server on loopback that the test machines run.
REDIS_STORAGE = "redis://127.0.0.1:6379/0"


def _post_login(client, csrf_token, email: str, password: str):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def _fail(client, csrf_token, email: str, times: int) -> list[int]:
    return [_post_login(client, csrf_token, email, "wrong password").status_code for _ in range(times)]


def _client_from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _audit_events(session_factory, kind: str) -> list[AuditEvent]:
    with session_factory() as db:
        return list(db.scalars(sa.select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)))


@pytest.fixture
def password_checks(monkeypatch):
    """The number of password hash comparisons the login view makes."""
    calls = []
    real = web.auth.check_password_hash

    def counting(password_hash, password):
        calls.append(1)
        return real(password_hash, password)

    monkeypatch.setattr(web.auth, "check_password_hash", counting)
    return calls


def test_throttle_locks_account_after_five_failures(client, people, csrf_token):
    statuses = _fail(client, csrf_token, people.care_manager.email, 6)

    assert statuses == [401, 401, 401, 401, 401, 429]


def test_throttle_locked_account_rejects_right_password(client, people, csrf_token, password_checks):
    _fail(client, csrf_token, people.care_manager.email, 5)
    checks_before = len(password_checks)

    response = _post_login(client, csrf_token, people.care_manager.email, PASSWORD)
    page = response.get_data(as_text=True)

    assert response.status_code == 429
    assert len(password_checks) == checks_before
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed logins" in page
    assert "Try again in 15 minutes" in page
    assert client.get("/tasks").status_code == 302


def test_throttle_account_key_ignores_case(client, people, csrf_token):
    _fail(client, csrf_token, people.care_manager.email.upper(), 5)

    response = _post_login(client, csrf_token, f" {people.care_manager.email} ", PASSWORD)

    assert response.status_code == 429


def test_throttle_other_account_unaffected(client, people, csrf_token):
    _fail(client, csrf_token, people.care_manager.email, 5)

    response = _post_login(client, csrf_token, people.analyst.email, PASSWORD)

    assert response.status_code == 302


def test_throttle_unknown_email_locked_alike(client, people, csrf_token):
    statuses = _fail(client, csrf_token, "nobody@example.test", 6)

    assert statuses[-1] == 429


def test_throttle_successful_logins_not_counted(app, people, csrf_token):
    for _ in range(6):
        client = app.test_client()
        assert _post_login(client, csrf_token, people.care_manager.email, PASSWORD).status_code == 302

    client = app.test_client()
    assert _fail(client, csrf_token, people.care_manager.email, 5) == [401] * 5


def test_throttle_locks_address_after_twenty_failures(app, people, csrf_token):
    attacker = _client_from(app, "192.0.2.10")
    for number in range(20):
        assert _fail(attacker, csrf_token, f"guess{number}@example.test", 1) == [401]

    blocked = _post_login(attacker, csrf_token, people.care_manager.email, PASSWORD)
    elsewhere = _post_login(_client_from(app, "192.0.2.20"), csrf_token, people.care_manager.email, PASSWORD)

    assert blocked.status_code == 429
    assert "Logging in from your network is paused" in blocked.get_data(as_text=True)
    assert "Retry-After" in blocked.headers
    assert elsewhere.status_code == 302


def test_throttle_lockout_audited_without_email(client, people, csrf_token, session_factory, caplog):
    caplog.set_level("DEBUG")
    _fail(client, csrf_token, people.care_manager.email, 7)
    _fail(client, csrf_token, "nobody@example.test", 5)

    locked = _audit_events(session_factory, "user.login_locked")

    assert [(event.actor, event.detail["scope"]) for event in locked] == [(str(people.care_manager.id), "account"), ("anonymous", "account")]
    assert all("example.test" not in str(event.detail) for event in locked)
    assert "example.test" not in caplog.text
    assert f"logins locked for user {people.care_manager.id}: too many failed logins per account" in caplog.text


def test_throttle_limit_from_config(services, people, csrf_token):
    app = create_app(services.settings, services, {"TESTING": True, ACCOUNT_LIMIT_CONFIG: "2 per 15 minutes"})
    client = app.test_client()

    assert _fail(client, csrf_token, people.care_manager.email, 3) == [401, 401, 429]


def test_throttle_invalid_limit_rejected(services):
    with pytest.raises(ValueError, match=ACCOUNT_LIMIT_CONFIG):
        create_app(services.settings, services, {"TESTING": True, ACCOUNT_LIMIT_CONFIG: "often"})


def test_throttle_stranger_cannot_lock_out_owner(app, people, csrf_token):
    stranger = _client_from(app, "192.0.2.30")
    statuses = _fail(stranger, csrf_token, people.care_manager.email, 6)

    owner = _post_login(_client_from(app, "192.0.2.40"), csrf_token, people.care_manager.email, PASSWORD)

    assert statuses[-1] == 429
    assert owner.status_code == 302


def test_throttle_account_total_across_addresses(services, people, csrf_token):
    app = create_app(services.settings, services, {"TESTING": True, ACCOUNT_TOTAL_LIMIT_CONFIG: "3 per hour"})
    statuses = [_fail(_client_from(app, f"192.0.2.{50 + number}"), csrf_token, people.care_manager.email, 1)[0] for number in range(3)]

    blocked = _post_login(_client_from(app, "192.0.2.60"), csrf_token, people.care_manager.email, PASSWORD)

    assert statuses == [401, 401, 401]
    assert blocked.status_code == 429
    assert "Logging in to this account is paused" in blocked.get_data(as_text=True)


def test_throttle_counts_shared_through_redis(services, csrf_token):
    # Two apps stand for two gunicorn workers; a fresh email and address keep earlier runs' counts apart.
    first, second = (create_app(services.settings, services, {"TESTING": True, STORAGE_CONFIG: REDIS_STORAGE}) for _ in range(2))
    email = f"nobody-{secrets.token_hex(8)}@example.test"
    address = f"198.51.100.{secrets.randbelow(250) + 1}"

    statuses = _fail(_client_from(first, address), csrf_token, email, 3) + _fail(_client_from(second, address), csrf_token, email, 3)

    assert statuses == [401, 401, 401, 401, 401, 429]


def test_throttle_invalid_storage_rejected(services):
    with pytest.raises(ValueError, match=STORAGE_CONFIG):
        create_app(services.settings, services, {"TESTING": True, STORAGE_CONFIG: "carrier-pigeon://loft"})


@pytest.mark.parametrize("uri", ["carrier-pigeon://:s3cret@loft/0", "redis://:s3cret@127.0.0.1:port/0"])
def test_throttle_storage_error_hides_password(services, uri):
    with pytest.raises(ValueError) as raised:
        create_app(services.settings, services, {"TESTING": True, STORAGE_CONFIG: uri})

    assert "s3cret" not in str(raised.value)
    assert ":***@" in str(raised.value)
    # The original error quotes the URI, so it must not be chained into the traceback.
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_throttle_ipv6_network_counted_once(app, people, csrf_token):
    # A whole /64 usually belongs to one client, so each address in it adds to the same count.
    statuses = [_fail(_client_from(app, f"2001:db8:1:2::{number:x}"), csrf_token, f"guess{number}@example.test", 1)[0] for number in range(20)]

    blocked = _post_login(_client_from(app, "2001:db8:1:2::ffff"), csrf_token, people.care_manager.email, PASSWORD)
    other_network = _post_login(_client_from(app, "2001:db8:1:3::1"), csrf_token, people.care_manager.email, PASSWORD)

    assert statuses == [401] * 20
    assert blocked.status_code == 429
    assert other_network.status_code == 302


def test_throttle_storage_outage_lets_login_through(services, people, csrf_token, caplog):
    # Nothing listens on port 1 of loopback, so every counter call fails.
    app = create_app(services.settings, services, {"TESTING": True, STORAGE_CONFIG: "redis://127.0.0.1:1/0"})
    client = app.test_client()

    failed = _fail(client, csrf_token, people.care_manager.email, 6)
    response = _post_login(client, csrf_token, people.care_manager.email, PASSWORD)

    assert failed == [401] * 6
    assert response.status_code == 302
    assert "login throttle storage failed" in caplog.text


def test_throttle_limit_from_settings(services, people, csrf_token):
    settings = dataclasses.replace(services.settings, rate_limits={ACCOUNT_LIMIT_CONFIG: "2 per 15 minutes"})
    client = create_app(settings, services, {"TESTING": True}).test_client()

    assert _fail(client, csrf_token, people.care_manager.email, 3) == [401, 401, 429]
