"""Care manager and provider services pages: enquiries with responses side by side, and the providers list."""

from decimal import Decimal

from care.responses import accept_enquiry


def test_enquiry_list_for_care_manager(logged_in, people, enquiry_id):
    client = logged_in(people.care_manager)

    page = client.get("/staff/enquiries").get_data(as_text=True)
    closed = client.get("/staff/enquiries?status=closed").get_data(as_text=True)

    assert f'href="/staff/enquiries/{enquiry_id}"' in page
    assert f"/staff/enquiries/{enquiry_id}" not in closed


def test_enquiry_unknown_status_not_found(logged_in, people):
    client = logged_in(people.care_manager)

    assert client.get("/staff/enquiries?status=lost").status_code == 404


def test_enquiry_responses_side_by_side(logged_in, people, enquiry_id, session_factory):
    with session_factory.begin() as db:
        accept_enquiry(db, enquiry_id, people.provider.id, recorded_by_id=people.provider_user.id, unit_price=Decimal("22.00"))
    client = logged_in(people.care_manager)

    page = client.get(f"/staff/enquiries/{enquiry_id}").get_data(as_text=True)

    assert "Example Home Care 1 Ltd" in page
    assert "£22.00 an hour" in page
    assert "Accepted" in page


def test_enquiry_unknown_id_not_found(logged_in, people):
    client = logged_in(people.care_manager)

    assert client.get("/staff/enquiries/999999").status_code == 404


def test_providers_list(logged_in, people):
    client = logged_in(people.provider_services)

    page = client.get("/staff/providers").get_data(as_text=True)
    removed = client.get("/staff/providers?status=removed").get_data(as_text=True)

    assert "Example Home Care 1 Ltd" in page
    assert "Example Home Care 2 Ltd" in page
    assert "LS6" in page
    assert "Example Home Care 1 Ltd" not in removed
