"""Oversized requests get the 413 page, and the task list's process filter offers only processes with visible tasks."""

import re

from web import MAX_UPLOAD_BYTES

PROCESS_OPTION = re.compile(r'<option value="([^"]+)"')


def _process_choices(client, path: str = "/tasks") -> list[str]:
    page = client.get(path).get_data(as_text=True)
    select = page.split('id="filter-process"', 1)[1].split("</select>", 1)[0]
    return PROCESS_OPTION.findall(select)


def test_oversized_post_logged_in_gets_413_page(logged_in, people, csrf_token):
    for user in (people.care_manager, people.provider_user):
        client = logged_in(user)
        token = csrf_token(client, "/tasks")

        response = client.post("/logout", data={"csrf_token": token, "padding": "x" * (MAX_UPLOAD_BYTES + 1)})
        page = response.get_data(as_text=True)

        assert response.status_code == 413, user.role
        assert "File too large" in page
        assert "Log out" in page
        assert client.get("/tasks").status_code == 200


def test_oversized_post_anonymous_gets_413_page(client):
    response = client.post("/login", data={"padding": "x" * (MAX_UPLOAD_BYTES + 1)})

    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)


def test_process_filter_hides_processes_without_visible_tasks(logged_in, people, services, deployed):
    services.engine.start("web_review", business_key="REF-1", actor="test")

    provider_choices = _process_choices(logged_in(people.provider_user))
    care_manager_choices = _process_choices(logged_in(people.care_manager))

    assert provider_choices == []
    assert care_manager_choices == ["web_review"]


def test_process_filter_lists_deployed_process_only_with_tasks(logged_in, people, deployed):
    client = logged_in(people.admin)

    assert _process_choices(client) == []


def test_process_filter_keeps_selected_process(logged_in, people, deployed):
    client = logged_in(people.provider_user)

    assert _process_choices(client, "/tasks?process=web_review") == ["web_review"]
