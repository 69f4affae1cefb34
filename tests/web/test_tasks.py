"""Task list, claim and release, and completing a task through its generated form."""

import pytest

from engine.runtime import Actor


@pytest.fixture
def task_id(services, people, deployed) -> str:
    services.engine.start("web_review", business_key="REF-1", actor="test")

    return services.engine.list_tasks(Actor("test", is_admin=True))[0].id


def test_task_list_shows_group_task(logged_in, people, task_id):
    client = logged_in(people.care_manager)

    page = client.get("/tasks").get_data(as_text=True)

    assert f'href="/tasks/{task_id}"' in page
    assert "Approve hours" in page
    assert "REF-1" in page


def test_task_list_hides_other_groups_task(logged_in, people, task_id):
    client = logged_in(people.provider_services)

    page = client.get("/tasks").get_data(as_text=True)

    assert task_id not in page


def test_task_list_filters_by_process_and_overdue(logged_in, people, task_id):
    client = logged_in(people.care_manager)

    other_process = client.get("/tasks?process=other").get_data(as_text=True)
    overdue = client.get("/tasks?due=overdue").get_data(as_text=True)
    same_process = client.get("/tasks?process=web_review").get_data(as_text=True)

    assert task_id not in other_process
    assert task_id not in overdue
    assert task_id in same_process


def test_task_list_invalid_view_not_found(logged_in, people):
    client = logged_in(people.care_manager)

    assert client.get("/tasks?view=everyone").status_code == 404
    assert client.get("/tasks?page=0").status_code == 404


def test_claim_then_release(logged_in, csrf_token, people, task_id, services):
    client = logged_in(people.care_manager)
    token = csrf_token(client, "/tasks")

    claimed = client.post(f"/tasks/{task_id}/claim", data={"csrf_token": token})
    mine = client.get("/tasks?view=mine").get_data(as_text=True)
    released = client.post(f"/tasks/{task_id}/release", data={"csrf_token": token})
    mine_after = client.get("/tasks?view=mine").get_data(as_text=True)

    assert claimed.status_code == 302
    assert task_id in mine
    assert released.status_code == 302
    assert task_id not in mine_after


def test_claim_taken_task_conflict(logged_in, csrf_token, people, task_id):
    first = logged_in(people.care_manager)
    first.post(f"/tasks/{task_id}/claim", data={"csrf_token": csrf_token(first, "/tasks")})
    second = logged_in(people.admin)

    response = second.post(f"/tasks/{task_id}/claim", data={"csrf_token": csrf_token(second, "/tasks")})

    assert response.status_code == 409
    assert "Someone else changed this first" in response.get_data(as_text=True)


def test_claim_without_csrf_rejected(logged_in, people, task_id):
    client = logged_in(people.care_manager)

    response = client.post(f"/tasks/{task_id}/claim", data={})

    assert response.status_code == 400


def test_task_form_other_group_forbidden(logged_in, people, task_id):
    client = logged_in(people.provider_user)

    assert client.get(f"/tasks/{task_id}").status_code == 403


def test_task_form_unknown_task_not_found(logged_in, people):
    client = logged_in(people.care_manager)

    assert client.get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


def test_task_form_renders_fields(logged_in, people, task_id):
    client = logged_in(people.care_manager)

    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)

    assert '<label for="field-hours">Hours</label>' in page
    assert 'id="field-hours" name="hours" value="10"' in page
    assert '<select id="field-kind" name="kind"' in page
    assert 'type="date" id="field-start_on"' in page
    assert 'type="checkbox" id="field-approved"' in page


def test_task_form_errors_beside_fields(logged_in, csrf_token, people, task_id):
    client = logged_in(people.care_manager)
    token = csrf_token(client, f"/tasks/{task_id}")

    response = client.post(f"/tasks/{task_id}", data={"csrf_token": token, "hours": "200", "reason": "far too long a reason for this field", "kind": "z"})
    page = response.get_data(as_text=True)

    assert response.status_code == 422
    assert 'href="#field-hours">Hours must be at most 80' in page
    assert 'id="field-hours-error"' in page
    assert 'aria-describedby="field-hours-error"' in page
    assert 'id="field-reason-error"' in page
    assert 'id="field-kind-error"' in page
    assert 'value="far too long a reason for this field"' in page
    assert 'name="hours" value="200"' in page


def test_task_form_completes_and_runs_on(logged_in, csrf_token, people, task_id, services):
    client = logged_in(people.care_manager)
    token = csrf_token(client, f"/tasks/{task_id}")

    response = client.post(
        f"/tasks/{task_id}", data={"csrf_token": token, "hours": "12", "reason": "ok", "kind": "a", "approved": ["false", "true"], "start_on": "2031-07-05"}
    )
    after = client.get("/tasks").get_data(as_text=True)

    assert response.status_code == 302
    assert task_id not in after
    instance = services.engine.list_instances(process_id="web_review")[0]
    data = services.engine.instance_data(instance.id)
    assert data["hours"] == 12
    assert data["approved"] is True


def test_task_form_completed_twice_conflict(logged_in, csrf_token, people, task_id):
    client = logged_in(people.care_manager)
    token = csrf_token(client, f"/tasks/{task_id}")
    client.post(f"/tasks/{task_id}", data={"csrf_token": token, "hours": "12"})

    response = client.post(f"/tasks/{task_id}", data={"csrf_token": token, "hours": "12"})

    assert response.status_code == 409


def test_completed_task_page_shows_no_form(logged_in, csrf_token, people, task_id):
    client = logged_in(people.care_manager)
    token = csrf_token(client, f"/tasks/{task_id}")
    client.post(f"/tasks/{task_id}", data={"csrf_token": token, "hours": "12"})

    response = client.get(f"/tasks/{task_id}")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert f"This task was completed by {people.care_manager.display_name} on" in page
    assert "Complete task" not in page
    assert "Claim task" not in page
    assert 'name="hours"' not in page
