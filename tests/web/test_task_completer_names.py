"""The closed-task page names who completed it: a web user by display name, any other actor as recorded."""

from engine.runtime import Actor


def test_completer_with_superscript_digit_shown(logged_in, people, services, deployed):
    services.engine.start("web_review", business_key="REF-9", actor="test")
    [task] = services.engine.list_tasks(Actor("test", is_admin=True), business_key="REF-9")
    # "²".isdigit() is True but int("²") raises ValueError, so the page must not treat the actor as a user id.
    services.engine.complete(task.id, {"hours": 12}, Actor("²", is_admin=True))
    client = logged_in(people.care_manager)

    response = client.get(f"/tasks/{task.id}")

    assert response.status_code == 200
    assert "This task was completed by ² on" in response.get_data(as_text=True)
