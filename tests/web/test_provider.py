"""Provider pages: enquiries by state, the enquiry page recording the first view, notifications and provider scoping."""

import sqlalchemy as sa

from care.models.enquiries import EnquiryRecipient
from handlers.notifications import notify_provider


def _viewed_at(session_factory, enquiry_id, provider_id):
    with session_factory() as db:
        return db.scalar(sa.select(EnquiryRecipient.viewed_at).where(EnquiryRecipient.enquiry_id == enquiry_id, EnquiryRecipient.provider_id == provider_id))


def test_enquiry_list_shows_own_enquiry(logged_in, people, enquiry_id):
    client = logged_in(people.provider_user)

    page = client.get("/provider/enquiries").get_data(as_text=True)
    new_only = client.get("/provider/enquiries?state=new").get_data(as_text=True)
    decided_only = client.get("/provider/enquiries?state=decided").get_data(as_text=True)

    assert f'href="/provider/enquiries/{enquiry_id}"' in page
    assert "LS6" in page
    assert f"/provider/enquiries/{enquiry_id}" in new_only
    assert f"/provider/enquiries/{enquiry_id}" not in decided_only


def test_enquiry_list_unknown_state_not_found(logged_in, people):
    client = logged_in(people.provider_user)

    assert client.get("/provider/enquiries?state=lost").status_code == 404


def test_enquiry_list_hides_other_providers(logged_in, people, enquiry_id):
    client = logged_in(people.other_provider_user)

    page = client.get("/provider/enquiries").get_data(as_text=True)

    assert f"/provider/enquiries/{enquiry_id}" not in page


def test_enquiry_page_records_first_view(logged_in, people, enquiry_id, session_factory):
    client = logged_in(people.provider_user)

    response = client.get(f"/provider/enquiries/{enquiry_id}")
    page = response.get_data(as_text=True)
    first_view = _viewed_at(session_factory, enquiry_id, people.provider.id)
    client.get(f"/provider/enquiries/{enquiry_id}")

    assert response.status_code == 200
    assert "12.50" in page
    assert "LS6" in page
    assert "Two visits a day" in page
    assert "Grace Example" not in page
    assert "Example Street" not in page
    assert first_view is not None
    assert _viewed_at(session_factory, enquiry_id, people.provider.id) == first_view


def test_enquiry_page_other_provider_forbidden(logged_in, people, enquiry_id, session_factory):
    client = logged_in(people.other_provider_user)

    response = client.get(f"/provider/enquiries/{enquiry_id}")

    assert response.status_code == 403
    assert _viewed_at(session_factory, enquiry_id, people.provider.id) is None


def test_enquiry_page_unknown_id_forbidden(logged_in, people):
    client = logged_in(people.provider_user)

    assert client.get("/provider/enquiries/999999").status_code == 403


def _notify(session_factory, provider_id, title="New enquiry ENQ-1"):
    with session_factory.begin() as db:
        return notify_provider(db, provider_id, title, "An enquiry in LS6 is waiting for your response.", "/provider/enquiries")


def test_notifications_unread_count_and_mark_read(logged_in, csrf_token, people, session_factory):
    notification_id = _notify(session_factory, people.provider.id)
    client = logged_in(people.provider_user)

    page = client.get("/provider/notifications").get_data(as_text=True)
    token = csrf_token(client, "/provider/notifications")
    response = client.post(f"/provider/notifications/{notification_id}/read", data={"csrf_token": token})
    after = client.get("/provider/notifications").get_data(as_text=True)

    assert "New enquiry ENQ-1" in page
    assert '<span class="badge">1<span class="visually-hidden"> unread</span>' in page
    assert response.status_code == 302
    assert 'class="badge"' not in after


def test_notification_open_follows_local_link(logged_in, csrf_token, people, session_factory):
    notification_id = _notify(session_factory, people.provider.id)
    client = logged_in(people.provider_user)
    token = csrf_token(client, "/provider/notifications")

    response = client.post(f"/provider/notifications/{notification_id}/read", data={"csrf_token": token, "open": "1"})

    assert response.headers["Location"] == "/provider/enquiries"


def test_notifications_hidden_from_other_provider(logged_in, csrf_token, people, session_factory):
    notification_id = _notify(session_factory, people.provider.id, title="Private title")
    client = logged_in(people.other_provider_user)

    page = client.get("/provider/notifications").get_data(as_text=True)
    response = client.post(f"/provider/notifications/{notification_id}/read", data={"csrf_token": csrf_token(client, "/provider/notifications")})

    assert "Private title" not in page
    assert response.status_code == 403
