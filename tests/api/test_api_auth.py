"""Tokens, errors and limits: bearer authentication, audit, rate limits, problem details and the token commands."""

import json

import sqlalchemy as sa

from care.models.service_accounts import ServiceAccount
from careplace.cli import build_parser
from engine.models import AuditEvent
from web import create_app
from web.api.auth import RATE_LIMIT_CONFIG
from web.api.tokens import revoke_account, token_digest
from web.security import STORAGE_CONFIG

PROVIDERS = "/api/v1/providers"


def test_missing_token_is_401_problem(call):
    response = call("GET", PROVIDERS, role=None)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["type"] == "urn:careplace:api:problem:unauthenticated"
    assert body["instance"] == PROVIDERS


def test_basic_auth_scheme_is_401(client):
    response = client.get(PROVIDERS, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})

    assert response.status_code == 401
    assert "bearer" in response.get_json()["detail"]


def test_unknown_token_is_401(client, tokens):
    response = client.get(PROVIDERS, headers={"Authorization": "Bearer cpt_not-a-real-token"})

    assert response.status_code == 401


def test_token_in_query_string_is_ignored(client, tokens):
    response = client.get(f"{PROVIDERS}?access_token={tokens['admin']}")

    assert response.status_code == 401


def test_revoked_token_is_401(call, session_factory):
    with session_factory.begin() as db:
        account_id = db.scalar(sa.select(ServiceAccount.id).where(ServiceAccount.name == "test-admin"))
        revoke_account(db, account_id, revoked_by="test")

    assert call("GET", PROVIDERS, "admin").status_code == 401


def test_token_stored_only_as_digest(tokens, session_factory):
    with session_factory() as db:
        account = db.scalar(sa.select(ServiceAccount).where(ServiceAccount.name == "test-admin"))

    assert account.token_sha256 == token_digest(tokens["admin"])
    assert tokens["admin"] not in (account.token_prefix, account.token_sha256)


def test_call_is_audited_and_sets_last_used(call, session_factory, world):
    response = call("GET", f"{PROVIDERS}/{world.provider_id}", "provider_services")

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    with session_factory() as db:
        account = db.scalar(sa.select(ServiceAccount).where(ServiceAccount.name == "test-provider_services"))
        event = db.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "api.call")).one()
    assert account.last_used_at is not None
    assert event.actor == f"service_account:{account.id}"
    assert event.detail == {"method": "GET", "endpoint": "api.get_provider", "status": 200, "ids": {"provider_id": str(world.provider_id)}}


def test_post_needs_no_csrf_token(call, deployed):
    response = call("POST", "/api/v1/processes/api_review/instances", "care_manager", json={})

    assert response.status_code == 201


def test_rate_limit_is_429_with_retry_after(services, tokens):
    app = create_app(services.settings, services, {"TESTING": True, RATE_LIMIT_CONFIG: "2/minute"})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}

    statuses = [client.get(PROVIDERS, headers=headers).status_code for _ in range(3)]
    other = client.get(PROVIDERS, headers={"Authorization": f"Bearer {tokens['admin']}"})

    assert statuses == [200, 200, 429]
    assert other.status_code == 200
    limited = client.get(PROVIDERS, headers=headers)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.get_json()["type"] == "urn:careplace:api:problem:rate-limited"


def test_rate_limit_storage_outage_lets_calls_through(services, tokens, caplog):
    # Nothing listens on port 1 of loopback, so every counter call fails.
    app = create_app(services.settings, services, {"TESTING": True, RATE_LIMIT_CONFIG: "2/minute", STORAGE_CONFIG: "redis://127.0.0.1:1/0"})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}

    statuses = [client.get(PROVIDERS, headers=headers).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert "rate-limit storage failed" in caplog.text


def test_unknown_api_path_is_404_problem(client):
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_wrong_method_is_405_problem(call):
    response = call("DELETE", PROVIDERS, "admin")

    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert "GET" in response.headers["Allow"]


def test_server_error_is_problem_without_trace(call, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("web.api.providers.provider_out", explode)

    response = call("GET", PROVIDERS, "admin")

    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_invalid_json_is_400(call, deployed):
    response = call("POST", "/api/v1/processes/api_review/instances", "care_manager", data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["type"] == "urn:careplace:api:problem:invalid-request"


def test_form_body_is_415(call, deployed):
    response = call("POST", "/api/v1/processes/api_review/instances", "care_manager", data={"business_key": "x"})

    assert response.status_code == 415


def test_nul_character_is_422(call, deployed):
    response = call("POST", "/api/v1/processes/api_review/instances", "care_manager", json={"variables": {"note": "a\x00b"}})

    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "variables.note", "message": "contains a NUL character"}]


def test_oversized_id_is_404(call):
    assert call("GET", "/api/v1/providers/99999999999999999999", "admin").status_code == 404


def run_cli(argv: list[str], services) -> int:
    """Parse ``argv`` with the real parser and run the command over the test's services (main() would open its own engine)."""
    args = build_parser().parse_args(argv)
    return args.func(args, services)


def test_token_commands_create_list_revoke(services, world, capsys):
    assert run_cli(["--user", "alice", "token", "create", "finance", "--role", "provider_user", "--provider-id", str(world.provider_id), "--json"], services) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["token"].startswith("cpt_")

    assert run_cli(["token", "list", "--json"], services) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listed] == ["finance"]
    assert listed[0]["created_by"] == "alice"
    assert "token" not in listed[0]

    assert run_cli(["token", "revoke", str(created["id"])], services) == 0
    capsys.readouterr()
    assert run_cli(["token", "list", "--json"], services) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_token_create_text_shows_token_once(services, world, capsys):
    assert run_cli(["token", "create", "reporting", "--role", "analyst"], services) == 0

    output = capsys.readouterr().out
    assert output.count("cpt_") == 1
    assert "only time" in output


def test_token_create_rejects_provider_role_without_provider(services, world, capsys):
    assert run_cli(["token", "create", "orphan", "--role", "provider_user"], services) == 1
    assert "provider_id" in capsys.readouterr().err


def test_token_revoke_unknown_account(services, world, capsys):
    assert run_cli(["token", "revoke", "999"], services) == 1
    assert "999" in capsys.readouterr().err


def test_oversized_body_is_413_problem(call, app, deployed):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps({"variables": {"note": "x" * limit}})

    response = call("POST", "/api/v1/processes/api_review/instances", "care_manager", data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == "urn:careplace:api:problem:payload-too-large"
    assert problem["status"] == 413
    assert str(limit) in problem["detail"]


def test_oversized_portal_form_keeps_html_page(client, app):
    response = client.post("/login", data="x" * (app.config["MAX_CONTENT_LENGTH"] + 1), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 413
    assert response.mimetype == "text/html"
