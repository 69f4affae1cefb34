"""SQL statements per portal page, and the shortcuts that save them: the navigation's unread count and the task filter's choices."""

import contextlib

import pytest
import sqlalchemy as sa

from engine.runtime import Actor
from handlers.notifications import notify_provider
from web.paging import PER_PAGE


@pytest.fixture
def statements(services):
    """``with statements() as executed:`` collects the SQL statements that run inside the block."""

    @contextlib.contextmanager
    def collect():
        executed: list[str] = []
        engine = services.session_factory.kw["bind"]

        def record(_connection, _cursor, statement, _parameters, _context, _executemany):
            executed.append(statement)

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            yield executed
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)

    return collect


def _notify(session_factory, provider_id: int) -> None:
    with session_factory.begin() as db:
        notify_provider(db, provider_id, "New enquiry ENQ-1", "An enquiry in LS6 is waiting for your response.", "/provider/enquiries")


def _start_reviews(services, count: int) -> None:
    for number in range(count):
        services.engine.start("web_review", business_key=f"REF-{number}", actor="test")


def test_task_list_provider_statement_count(logged_in, people, statements):
    client = logged_in(people.provider_user)

    with statements() as executed:
        response = client.get("/tasks")

    # The user with the unread count in one session, then the task page. The page contains every
    # visible task, so the filter's choices need no query of their own.
    assert response.status_code == 200
    assert len(executed) == 3, executed


def test_task_list_choices_from_single_page(logged_in, people, services, deployed, statements):
    _start_reviews(services, 2)
    client = logged_in(people.care_manager)

    with statements() as executed:
        page = client.get("/tasks").get_data(as_text=True)

    assert '<option value="web_review" >web_review</option>' in page
    assert not any("DISTINCT" in statement for statement in executed)


def test_task_list_choices_queried_with_next_page(logged_in, people, services, deployed, statements):
    _start_reviews(services, PER_PAGE + 1)
    client = logged_in(people.care_manager)

    with statements() as executed:
        page = client.get("/tasks").get_data(as_text=True)

    assert 'rel="next"' in page
    assert '<option value="web_review" >web_review</option>' in page
    assert any("DISTINCT" in statement for statement in executed)


@pytest.mark.parametrize("query", ["?view=mine", "?due=overdue", "?process=web_review", "?page=2"])
def test_task_list_choices_queried_when_filtered(logged_in, people, services, deployed, statements, query):
    _start_reviews(services, 1)
    client = logged_in(people.care_manager)

    with statements() as executed:
        page = client.get(f"/tasks{query}").get_data(as_text=True)

    assert '<option value="web_review"' in page
    assert any("DISTINCT" in statement for statement in executed)


def test_task_list_claim_forms_share_token(logged_in, people, services, deployed):
    _start_reviews(services, 2)
    client = logged_in(people.care_manager)
    task_ids = [task.id for task in services.engine.list_tasks(Actor("test", is_admin=True))]

    page = client.get("/tasks").get_data(as_text=True)
    claimed = client.post(f"/tasks/{task_ids[1]}/claim", data={"csrf_token": _last_csrf_token(page)})

    assert page.count('<input name="csrf_token" type="hidden" value="') == 3
    assert 'id="csrf_token"' not in page
    assert claimed.status_code == 302


def _last_csrf_token(page: str) -> str:
    marker = '<input name="csrf_token" type="hidden" value="'
    start = page.rindex(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_enquiry_list_statement_count(logged_in, people, enquiry_id, statements):
    client = logged_in(people.provider_user)

    with statements() as executed:
        page = client.get("/provider/enquiries").get_data(as_text=True)

    # The user with the unread count, then one statement for the page of rows and their total.
    assert f'href="/provider/enquiries/{enquiry_id}"' in page
    assert "1 enquiry, soonest respond-by first" in page
    assert len(executed) == 3, executed


def test_enquiry_list_page_past_end(logged_in, people, enquiry_id):
    client = logged_in(people.provider_user)

    response = client.get("/provider/enquiries?page=3")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "No enquiries in this state." in page
    assert 'rel="prev" href="/provider/enquiries?page=2"' in page
    assert 'rel="next"' not in page


def test_enquiry_page_repeat_view_checkouts(logged_in, people, enquiry_id, services):
    client = logged_in(people.provider_user)
    client.get(f"/provider/enquiries/{enquiry_id}")
    checkouts = []
    engine = services.session_factory.kw["bind"]

    def record(_dbapi_connection, _record, _proxy):
        checkouts.append(1)

    sa.event.listen(engine, "checkout", record)
    try:
        response = client.get(f"/provider/enquiries/{enquiry_id}")
    finally:
        sa.event.remove(engine, "checkout", record)

    # One connection for the user with the unread count, one for the page with its respond task.
    assert response.status_code == 200
    assert len(checkouts) == 2


def test_enquiry_page_repeat_view_statements(logged_in, people, enquiry_id, statements):
    client = logged_in(people.provider_user)
    client.get(f"/provider/enquiries/{enquiry_id}")

    with statements() as executed:
        response = client.get(f"/provider/enquiries/{enquiry_id}")

    # The user, the unread count, the recipient with its enquiry, the notes, the documents and the
    # open respond task. The first view is kept.
    assert response.status_code == 200
    assert not any(statement.startswith("UPDATE") for statement in executed)
    assert len(executed) == 6, executed


def test_navigation_unread_count_on_get(logged_in, people, session_factory):
    _notify(session_factory, people.provider.id)
    client = logged_in(people.provider_user)

    page = client.get("/tasks").get_data(as_text=True)

    assert '<span class="badge">1<span class="visually-hidden"> unread</span>' in page


def test_navigation_unread_count_on_post_form_error(logged_in, csrf_token, people, enquiry_id, session_factory):
    _notify(session_factory, people.provider.id)
    client = logged_in(people.provider_user)
    token = csrf_token(client, f"/provider/enquiries/{enquiry_id}")

    # An empty note renders the enquiry page again from a POST, which counts at render time.
    response = client.post(f"/provider/enquiries/{enquiry_id}/notes", data={"csrf_token": token, "body": ""})
    page = response.get_data(as_text=True)

    assert response.status_code == 422
    assert '<span class="badge">1<span class="visually-hidden"> unread</span>' in page


def test_navigation_staff_no_unread_count(logged_in, people, statements):
    client = logged_in(people.care_manager)

    with statements() as executed:
        page = client.get("/tasks").get_data(as_text=True)

    assert 'class="badge"' not in page
    assert not any("notifications" in statement for statement in executed)
