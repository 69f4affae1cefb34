"""Admin pages: diagram upload with the lint report, deploy, instances with masked variables, incidents and the mailbox."""

import io
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from care.models.messaging import OutboxEmail
from engine import clock
from engine.models import Incident, ProcessVersion
from engine.runtime import Actor
from web import create_app
from web.masking import MASK

DIAGRAMS = Path(__file__).with_name("diagrams")
ADMIN_ACTOR = Actor("test", is_admin=True)


def _versions(session_factory) -> int:
    with session_factory() as db:
        return db.scalar(sa.select(sa.func.count()).select_from(ProcessVersion))


def _upload(client, csrf_token, name: str, action: str):
    token = csrf_token(client, "/admin/processes/deploy")
    data = {"csrf_token": token, "action": action, "files": (io.BytesIO((DIAGRAMS / name).read_bytes()), name)}
    return client.post("/admin/processes/deploy", data=data, content_type="multipart/form-data")


def test_deploy_lint_errors_shown_nothing_deployed(logged_in, csrf_token, people, session_factory):
    client = logged_in(people.analyst)

    response = _upload(client, csrf_token, "broken.bpmn", "deploy")
    page = response.get_data(as_text=True)

    assert response.status_code == 422
    assert "Nothing was deployed" in page
    assert "call_nobody" in page
    assert "no.such.topic" in page
    assert _versions(session_factory) == 0


def test_lint_only_reports_without_deploying(logged_in, csrf_token, people, session_factory):
    client = logged_in(people.analyst)

    response = _upload(client, csrf_token, "web_review.bpmn", "lint")

    assert response.status_code == 200
    assert "The lint found no problems" in response.get_data(as_text=True)
    assert _versions(session_factory) == 0


def test_deploy_valid_diagram_creates_version(logged_in, csrf_token, people, session_factory):
    client = logged_in(people.analyst)

    response = _upload(client, csrf_token, "web_review.bpmn", "deploy")
    listing = client.get("/admin/processes").get_data(as_text=True)

    assert response.status_code == 200
    assert "Deployed web_review version 1" in response.get_data(as_text=True)
    assert _versions(session_factory) == 1
    assert "web_review" in listing


def test_deploy_rejects_other_file_types(logged_in, csrf_token, people, session_factory):
    client = logged_in(people.analyst)
    token = csrf_token(client, "/admin/processes/deploy")

    response = client.post(
        "/admin/processes/deploy",
        data={"csrf_token": token, "action": "deploy", "files": (io.BytesIO(b"<svg/>"), "picture.svg")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert "picture.svg is not a .bpmn file" in response.get_data(as_text=True)
    assert _versions(session_factory) == 0


def test_deploy_without_file_shows_error(logged_in, csrf_token, people):
    client = logged_in(people.analyst)
    token = csrf_token(client, "/admin/processes/deploy")

    response = client.post("/admin/processes/deploy", data={"csrf_token": token, "action": "deploy"}, content_type="multipart/form-data")

    assert response.status_code == 422
    assert "Choose one or more .bpmn files" in response.get_data(as_text=True)


@pytest.fixture
def instance_id(services, deployed) -> str:
    return services.engine.start(
        "web_review",
        business_key="REF-9",
        data={"display_name": "Grace Example", "full_postcode": "LS6 9ZZ", "postcode_district": "LS6", "person": {"date_of_birth": "1940-01-01"}, "hours": 10},
        actor="test",
    )


def test_instances_list_filters(logged_in, people, instance_id):
    client = logged_in(people.admin)

    page = client.get("/admin/instances").get_data(as_text=True)
    filtered = client.get("/admin/instances?status=completed").get_data(as_text=True)
    by_key = client.get("/admin/instances?business_key=REF-9").get_data(as_text=True)

    assert instance_id in page
    assert instance_id not in filtered
    assert instance_id in by_key


def test_instance_page_masks_personal_data(logged_in, people, instance_id):
    client = logged_in(people.admin)

    page = client.get(f"/admin/instances/{instance_id}").get_data(as_text=True)

    assert "Grace Example" not in page
    assert "LS6 9ZZ" not in page
    assert "1940-01-01" not in page
    assert MASK in page
    assert "&#34;postcode_district&#34;: &#34;LS6&#34;" in page
    assert "instance.started" in page


def test_instance_unknown_id_not_found(logged_in, people):
    client = logged_in(people.admin)

    assert client.get("/admin/instances/no-such-instance").status_code == 404


@pytest.fixture
def incident_id(services, deployed, run_jobs, session_factory) -> int:
    engine = services.engine
    engine.start("web_review", actor="test")
    task = engine.list_tasks(ADMIN_ACTOR)[0]
    engine.complete(task.id, {"hours": 5}, ADMIN_ACTOR)
    run_jobs()
    with session_factory() as db:
        return db.scalar(sa.select(Incident.id).where(Incident.status == "open"))


def test_incident_listed_and_retried(logged_in, csrf_token, people, incident_id, services, run_jobs, session_factory):
    client = logged_in(people.admin)
    page = client.get("/admin/incidents").get_data(as_text=True)
    services.flaky.failing = False

    response = client.post(f"/admin/incidents/{incident_id}/retry", data={"csrf_token": csrf_token(client, "/admin/incidents"), "variables": ""})
    run_jobs()

    assert f"Incident {incident_id}" in page
    assert "web.flaky" in page
    assert response.status_code == 302
    with session_factory() as db:
        assert db.get(Incident, incident_id).status != "open"
    instance = services.engine.list_instances(process_id="web_review")[0]
    assert services.engine.get_instance(instance.id).status == "completed"


def test_incident_retry_invalid_json_kept_open(logged_in, csrf_token, people, incident_id, session_factory):
    client = logged_in(people.admin)

    response = client.post(f"/admin/incidents/{incident_id}/retry", data={"csrf_token": csrf_token(client, "/admin/incidents"), "variables": "{not json"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)

    assert "not valid JSON" in page
    with session_factory() as db:
        assert db.get(Incident, incident_id).status == "open"


def test_incident_cancel_needs_reason(logged_in, csrf_token, people, incident_id, session_factory):
    client = logged_in(people.admin)
    token = csrf_token(client, "/admin/incidents")

    without_reason = client.post(f"/admin/incidents/{incident_id}/cancel", data={"csrf_token": token, "reason": ""})
    with session_factory() as db:
        still_open = db.get(Incident, incident_id).status
    with_reason = client.post(f"/admin/incidents/{incident_id}/cancel", data={"csrf_token": token, "reason": "handled by phone"})

    assert without_reason.status_code == 302
    assert still_open == "open"
    assert with_reason.status_code == 302
    with session_factory() as db:
        assert db.get(Incident, incident_id).status == "cancelled"


def test_incident_retry_twice_conflict(logged_in, csrf_token, people, incident_id):
    client = logged_in(people.admin)
    token = csrf_token(client, "/admin/incidents")
    client.post(f"/admin/incidents/{incident_id}/cancel", data={"csrf_token": token, "reason": "closed"})

    response = client.post(f"/admin/incidents/{incident_id}/retry", data={"csrf_token": token})

    assert response.status_code == 409


def test_mailbox_lists_outbox_emails(logged_in, people, session_factory):
    with session_factory.begin() as db:
        db.add(
            OutboxEmail(
                created_at=clock.now(), recipient="provider1@example.test", subject="New enquiry in LS6", body_text="Open Care Place to see it.",
                body_html="<p>Open Care Place to see it.</p>", template="enquiry_sent", idempotency_key="test-1", next_attempt_at=clock.now(),
            )
        )
    client = logged_in(people.admin)

    page = client.get("/admin/mailbox").get_data(as_text=True)

    assert "New enquiry in LS6" in page
    assert "provider1@example.test" in page


def test_mailbox_absent_outside_embedded(services, people, login):
    app = create_app(replace(services.settings, embedded=False), services, {"SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})
    client = app.test_client()
    login(client, people.admin)

    assert client.get("/admin/mailbox").status_code == 404
