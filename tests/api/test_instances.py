"""Instances through the API: start, list with cursors, read with ETags, history and messages."""

import pytest

START = "/api/v1/processes/api_review/instances"


def complete_approval(call, instance: dict) -> None:
    task = call("GET", "/api/v1/tasks", "care_manager").get_json()["items"][0]
    etag = call("GET", f"/api/v1/tasks/{task['id']}", "care_manager").headers["ETag"]
    response = call("POST", f"/api/v1/tasks/{task['id']}/complete", "care_manager", json={"variables": {"hours": 10}}, headers={"If-Match": etag})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_start_instance_returns_location_and_etag(call, deployed):
    response = call("POST", START, "care_manager", json={"business_key": "CASE-9", "variables": {"case_id": "C9"}})

    assert response.status_code == 201
    body = response.get_json()
    assert body["process_id"] == "api_review"
    assert body["status"] == "running"
    assert body["started_by"].startswith("service_account:")
    assert response.headers["Location"] == f"/api/v1/instances/{body['id']}"
    assert response.headers["ETag"] == body["etag"]


def test_start_instance_unknown_process_is_404(call, deployed):
    response = call("POST", "/api/v1/processes/no_such_process/instances", "care_manager", json={})

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "no_such_process" in response.get_json()["detail"]


def test_start_instance_rejects_unknown_field(call, deployed):
    response = call("POST", START, "care_manager", json={"business_key": "CASE-1", "colour": "red"})

    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "colour", "message": "Extra inputs are not permitted"}]


@pytest.mark.parametrize("role", ["analyst", "provider_user"])
def test_start_instance_refused_for_role(call, deployed, role):
    response = call("POST", START, role, json={})

    assert response.status_code == 403
    assert response.get_json()["type"] == "urn:careplace:api:problem:forbidden"


def test_list_instances_pages_with_cursor(call, deployed):
    started = [call("POST", START, "care_manager", json={"business_key": f"CASE-{n}"}).get_json()["id"] for n in range(5)]

    seen = []
    url = "/api/v1/instances?limit=2&process_id=api_review"
    pages = 0
    while url:
        response = call("GET", url, "analyst")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        seen += [item["id"] for item in body["items"]]
        if body["next"]:
            assert response.headers["Link"] == f'<{body["next"]}>; rel="next"'
        url = body["next"]
        pages += 1

    assert pages == 3
    assert sorted(seen) == sorted(started)
    assert len(seen) == len(set(seen))


def test_list_instances_filters_by_business_key(call, deployed):
    call("POST", START, "care_manager", json={"business_key": "CASE-A"})
    call("POST", START, "care_manager", json={"business_key": "CASE-B"})

    items = call("GET", "/api/v1/instances?business_key=CASE-B", "analyst").get_json()["items"]

    assert [item["business_key"] for item in items] == ["CASE-B"]


@pytest.mark.parametrize("cursor", ["not-base64!", "bnVsbA", "WzEsMl0"])
def test_list_instances_rejects_invalid_cursor(call, cursor):
    response = call("GET", f"/api/v1/instances?cursor={cursor}", "analyst")

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "cursor"


def test_list_instances_rejects_bad_limit(call):
    response = call("GET", "/api/v1/instances?limit=0", "analyst")

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "limit"


def test_list_instances_refused_for_provider(call):
    assert call("GET", "/api/v1/instances", "provider_user").status_code == 403


def test_get_instance_has_etag(call, instance):
    response = call("GET", f"/api/v1/instances/{instance['id']}", "analyst")

    assert response.status_code == 200
    assert response.headers["ETag"] == instance["etag"]
    assert response.get_json()["business_key"] == "CASE-1"


def test_get_instance_unknown_is_404(call):
    response = call("GET", "/api/v1/instances/00000000-0000-0000-0000-000000000000", "analyst")

    assert response.status_code == 404


def test_get_instance_malformed_id_is_404(call):
    assert call("GET", "/api/v1/instances/not-a-uuid", "analyst").status_code == 404


def test_instance_history_lists_events(call, instance):
    response = call("GET", f"/api/v1/instances/{instance['id']}/history", "analyst")

    assert response.status_code == 200
    kinds = [event["kind"] for event in response.get_json()["items"]]
    assert kinds[0] == "instance.started"
    assert "api.call" not in kinds


def test_instance_history_pages(call, instance):
    task_id = call("GET", "/api/v1/tasks", "care_manager").get_json()["items"][0]["id"]
    call("POST", f"/api/v1/tasks/{task_id}/claim", "care_manager")

    first = call("GET", f"/api/v1/instances/{instance['id']}/history?limit=1", "analyst").get_json()
    assert first["next"] is not None
    second = call("GET", first["next"], "analyst").get_json()

    assert first["items"][0]["id"] < second["items"][0]["id"]


def test_instance_history_refused_for_provider(call, instance):
    assert call("GET", f"/api/v1/instances/{instance['id']}/history", "provider_user").status_code == 403


def test_send_message_by_correlation(call, instance):
    complete_approval(call, instance)

    response = call("POST", "/api/v1/messages", "care_manager", json={"name": "documents_received", "correlation": {"case_id": "C1"}})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"delivered_to": [instance["id"]]}


def test_send_message_with_no_waiting_instance_is_409(call, instance):
    response = call("POST", "/api/v1/messages", "care_manager", json={"name": "documents_received", "business_key": "CASE-404"})

    assert response.status_code == 409
    assert response.get_json()["type"] == "urn:careplace:api:problem:message-not-delivered"


def test_send_message_requires_name(call):
    response = call("POST", "/api/v1/messages", "care_manager", json={"payload": {}})

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "name"


def test_send_message_refused_for_analyst(call):
    assert call("POST", "/api/v1/messages", "analyst", json={"name": "documents_received"}).status_code == 403


def test_instance_message_needs_if_match(call, instance):
    complete_approval(call, instance)

    response = call("POST", f"/api/v1/instances/{instance['id']}/messages", "care_manager", json={"name": "documents_received"})

    assert response.status_code == 428
    assert "If-Match" in response.get_json()["detail"]


def test_instance_message_with_stale_etag_is_412(call, instance):
    stale = instance["etag"]
    complete_approval(call, instance)

    response = call("POST", f"/api/v1/instances/{instance['id']}/messages", "care_manager", json={"name": "documents_received"}, headers={"If-Match": stale})

    assert response.status_code == 412
    assert response.headers["ETag"] != stale


def test_instance_message_delivers_with_current_etag(call, instance):
    complete_approval(call, instance)
    etag = call("GET", f"/api/v1/instances/{instance['id']}", "analyst").headers["ETag"]

    response = call("POST", f"/api/v1/instances/{instance['id']}/messages", "care_manager", json={"name": "documents_received"}, headers={"If-Match": etag})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"delivered_to": [instance["id"]]}
    assert response.headers["ETag"] != etag


def test_instance_message_not_waiting_is_409(call, instance):
    response = call("POST", f"/api/v1/instances/{instance['id']}/messages", "care_manager", json={"name": "documents_received"}, headers={"If-Match": "*"})

    assert response.status_code == 409
    assert "not waiting" in response.get_json()["detail"]


def test_instance_message_refused_for_provider(call, instance):
    response = call("POST", f"/api/v1/instances/{instance['id']}/messages", "provider_user", json={"name": "documents_received"}, headers={"If-Match": "*"})

    assert response.status_code == 403


@pytest.mark.parametrize("role", ["care_manager", "provider_services"])
def test_send_message_does_not_start_process_for_casework(call, message_start_deployed, role):
    response = call("POST", "/api/v1/messages", role, json={"name": "api_run_requested", "business_key": "RUN-1"})

    assert response.status_code == 409
    assert response.get_json()["type"] == "urn:careplace:api:problem:message-not-delivered"
    assert call("GET", "/api/v1/instances?process_id=api_message_start", "admin").get_json()["items"] == []


def test_send_message_starts_process_for_admin(call, message_start_deployed):
    response = call("POST", "/api/v1/messages", "admin", json={"name": "api_run_requested", "business_key": "RUN-1"})

    assert response.status_code == 200, response.get_data(as_text=True)
    (instance_id,) = response.get_json()["delivered_to"]
    started = call("GET", f"/api/v1/instances/{instance_id}", "admin").get_json()
    assert started["process_id"] == "api_message_start"
    assert started["status"] == "completed"


@pytest.mark.parametrize("role", ["care_manager", "admin"])
def test_start_message_start_process_is_422(call, message_start_deployed, role):
    response = call("POST", "/api/v1/processes/api_message_start/instances", role, json={"business_key": "RUN-2"})

    assert response.status_code == 422
    body = response.get_json()
    assert body["type"] == "urn:careplace:api:problem:validation-failed"
    assert "'api_run_requested'" in body["detail"]
    assert "POST /api/v1/messages" in body["detail"]
    assert body["errors"] == [{"field": "process_id", "message": "starts on message 'api_run_requested'"}]
    assert call("GET", "/api/v1/instances?process_id=api_message_start", "admin").get_json()["items"] == []
