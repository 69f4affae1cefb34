"""Tasks and incidents through the API: list, read, claim, release, complete with If-Match, and retry incidents."""

import pytest


def open_task(call) -> dict:
    return call("GET", "/api/v1/tasks", "care_manager").get_json()["items"][0]


def test_list_tasks_for_care_manager(call, instance):
    items = call("GET", "/api/v1/tasks", "care_manager").get_json()["items"]

    assert [(task["element_id"], task["instance_id"]) for task in items] == [("approve", instance["id"])]
    assert items[0]["candidate_groups"] == ["care_manager"]


def test_list_tasks_hides_staff_task_from_provider(call, instance):
    assert call("GET", "/api/v1/tasks", "provider_user").get_json()["items"] == []


def test_list_tasks_rejects_unknown_parameter(call):
    response = call("GET", "/api/v1/tasks?colour=red", "care_manager")

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "colour"


def test_get_task_has_form_and_instance_etag(call, instance):
    task = open_task(call)

    response = call("GET", f"/api/v1/tasks/{task['id']}", "care_manager")

    assert response.status_code == 200
    body = response.get_json()
    assert [field["id"] for field in body["fields"]] == ["hours", "reason"]
    assert body["instance_etag"] == response.headers["ETag"] == instance["etag"]


def test_get_staff_task_is_404_for_provider(call, instance):
    response = call("GET", f"/api/v1/tasks/{open_task(call)['id']}", "provider_user")

    assert response.status_code == 404
    assert response.get_json()["type"] == "urn:careplace:api:problem:not-found"


def test_provider_lists_own_task_only(call, world, provider_tasks):
    items = call("GET", "/api/v1/tasks", "provider_user").get_json()["items"]

    assert [task["id"] for task in items] == [provider_tasks[world.provider_id]]
    assert items[0]["candidate_groups"] == [f"provider-{world.provider_id}"]


def test_provider_completes_own_task(call, world, provider_tasks):
    task_id = provider_tasks[world.provider_id]
    read = call("GET", f"/api/v1/tasks/{task_id}", "provider_user")
    assert read.status_code == 200, read.get_data(as_text=True)
    claimed = call("POST", f"/api/v1/tasks/{task_id}/claim", "provider_user")
    assert claimed.status_code == 200, claimed.get_data(as_text=True)

    response = call("POST", f"/api/v1/tasks/{task_id}/complete", "provider_user", json={"variables": {"response": "accepted"}}, headers={"If-Match": read.headers["ETag"]})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "completed"
    assert call("GET", "/api/v1/tasks", "provider_user").get_json()["items"] == []


@pytest.mark.parametrize(
    ("method", "action"),
    [("GET", ""), ("POST", "/claim"), ("POST", "/release"), ("POST", "/complete")],
)
def test_other_provider_task_is_404(call, world, provider_tasks, method, action):
    task_id = provider_tasks[world.other_provider_id]
    kwargs = {"json": {"variables": {"response": "accepted"}}, "headers": {"If-Match": "*"}} if action == "/complete" else {}

    response = call(method, f"/api/v1/tasks/{task_id}{action}", "provider_user", **kwargs)

    assert response.status_code == 404
    assert response.get_json()["detail"] == f"task '{task_id}' not found; check the id"


def test_other_provider_task_matches_unknown_task(call, world, provider_tasks):
    unknown = call("GET", "/api/v1/tasks/00000000-0000-4000-8000-000000000000", "provider_user").get_json()
    other = call("GET", f"/api/v1/tasks/{provider_tasks[world.other_provider_id]}", "provider_user").get_json()

    assert other["type"] == unknown["type"]
    assert other["title"] == unknown["title"]
    assert other["status"] == unknown["status"] == 404


def test_claim_and_release_task(call, instance):
    task_id = open_task(call)["id"]

    claimed = call("POST", f"/api/v1/tasks/{task_id}/claim", "care_manager")
    assert claimed.status_code == 200
    assert claimed.get_json()["assignee"].startswith("service_account:")

    released = call("POST", f"/api/v1/tasks/{task_id}/release", "care_manager")
    assert released.status_code == 200
    assert released.get_json()["assignee"] is None


def test_claim_task_claimed_by_another_is_409(call, instance):
    task_id = open_task(call)["id"]
    call("POST", f"/api/v1/tasks/{task_id}/claim", "care_manager")

    response = call("POST", f"/api/v1/tasks/{task_id}/claim", "admin")

    assert response.status_code == 409


def test_claim_staff_task_is_404_for_provider(call, instance):
    assert call("POST", f"/api/v1/tasks/{open_task(call)['id']}/claim", "other_provider").status_code == 404


def test_release_own_unclaimed_task_is_403_for_provider(call, world, provider_tasks):
    assert call("POST", f"/api/v1/tasks/{provider_tasks[world.provider_id]}/release", "provider_user").status_code == 403


def test_release_unclaimed_task_is_403(call, instance):
    assert call("POST", f"/api/v1/tasks/{open_task(call)['id']}/release", "care_manager").status_code == 403


def test_complete_task_needs_if_match(call, instance):
    response = call("POST", f"/api/v1/tasks/{open_task(call)['id']}/complete", "care_manager", json={"variables": {"hours": 10}})

    assert response.status_code == 428


def test_complete_task_with_stale_etag_is_412(call, instance):
    response = call("POST", f"/api/v1/tasks/{open_task(call)['id']}/complete", "care_manager", json={"variables": {"hours": 10}}, headers={"If-Match": '"999"'})

    assert response.status_code == 412
    assert response.headers["ETag"] == instance["etag"]


def test_complete_task_lists_every_invalid_field(call, instance):
    task_id = open_task(call)["id"]

    response = call("POST", f"/api/v1/tasks/{task_id}/complete", "care_manager", json={"variables": {"hours": 500, "reason": "x" * 30}}, headers={"If-Match": instance["etag"]})

    assert response.status_code == 422
    fields = sorted(error["field"] for error in response.get_json()["errors"])
    assert fields == ["hours", "reason"]


def test_complete_task_runs_instance(call, instance):
    task_id = open_task(call)["id"]

    response = call("POST", f"/api/v1/tasks/{task_id}/complete", "care_manager", json={"variables": {"hours": 12}}, headers={"If-Match": instance["etag"]})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "completed"
    assert response.headers["ETag"] != instance["etag"]
    assert call("GET", "/api/v1/tasks", "care_manager").get_json()["items"] == []


@pytest.fixture
def incident_id(call, instance, run_jobs) -> int:
    """An open incident: the api.flaky service task failed after the task and the message."""
    task_id = open_task(call)["id"]
    call("POST", f"/api/v1/tasks/{task_id}/complete", "care_manager", json={"variables": {"hours": 12}}, headers={"If-Match": instance["etag"]})
    call("POST", "/api/v1/messages", "care_manager", json={"name": "documents_received", "correlation": {"case_id": "C1"}})
    run_jobs()
    items = call("GET", "/api/v1/incidents", "analyst").get_json()["items"]
    assert len(items) == 1
    return items[0]["id"]


def test_get_incident(call, incident_id):
    response = call("GET", f"/api/v1/incidents/{incident_id}", "analyst")

    assert response.status_code == 200
    assert response.get_json()["topic"] == "api.flaky"


def test_get_unknown_incident_is_404(call):
    assert call("GET", "/api/v1/incidents/4242", "analyst").status_code == 404


def test_incidents_refused_for_provider_and_care_manager(call):
    assert call("GET", "/api/v1/incidents", "provider_user").status_code == 403
    assert call("GET", "/api/v1/incidents", "care_manager").status_code == 403


def test_list_incidents_rejects_unknown_status(call):
    assert call("GET", "/api/v1/incidents?status=lost", "analyst").status_code == 422


def test_retry_incident_resolves_it(call, services, incident_id, run_jobs):
    services.flaky.failing = False

    response = call("POST", f"/api/v1/incidents/{incident_id}/retry", "admin", json={"variables": {"note_id": 7}})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "resolved"
    run_jobs()
    assert call("GET", "/api/v1/incidents?status=open", "analyst").get_json()["items"] == []


def test_retry_incident_with_stale_etag_is_412(call, incident_id):
    response = call("POST", f"/api/v1/incidents/{incident_id}/retry", "admin", json={}, headers={"If-Match": '"1"'})

    assert response.status_code == 412


def test_retry_resolved_incident_is_409(call, services, incident_id):
    services.flaky.failing = False
    call("POST", f"/api/v1/incidents/{incident_id}/retry", "admin", json={})

    assert call("POST", f"/api/v1/incidents/{incident_id}/retry", "admin", json={}).status_code == 409


def test_retry_incident_refused_for_analyst(call, incident_id):
    assert call("POST", f"/api/v1/incidents/{incident_id}/retry", "analyst", json={}).status_code == 403
