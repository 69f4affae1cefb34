"""Providers, enquiries, responses, packages and payments through the API, with provider tokens scoped to their provider."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from engine.clock import set_clock
from care.enquiries import send_enquiry
from care.responses import accept_enquiry

# Tuesday 1 July 2031, 10:00 in London (BST).
NOW = datetime(2031, 7, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def restore_clock():
    yield
    set_clock(None)


def test_staff_list_every_provider(call, world):
    ids = [item["id"] for item in call("GET", "/api/v1/providers", "provider_services").get_json()["items"]]

    assert ids == [world.provider_id, world.other_provider_id]


def test_provider_lists_only_itself(call, world):
    items = call("GET", "/api/v1/providers", "provider_user").get_json()["items"]

    assert [item["id"] for item in items] == [world.provider_id]
    assert items[0]["districts"] == ["LS6"]


def test_provider_cannot_read_other_provider(call, world):
    response = call("GET", f"/api/v1/providers/{world.other_provider_id}", "provider_user")

    assert response.status_code == 404
    assert "22.50" not in response.get_data(as_text=True)


def test_providers_filter_rejects_bad_district(call):
    response = call("GET", "/api/v1/providers?postcode_district=LS6%209ZZ", "admin")

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "postcode_district"


def test_raise_enquiry_creates_draft(call, world):
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": "12.5", "expected_start_on": "2031-07-05"}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 201, response.get_data(as_text=True)
    enquiry = response.get_json()
    assert enquiry["status"] == "draft"
    assert enquiry["service_user_reference"] == "SU-00001"
    assert Decimal(enquiry["hours_per_week"]) == Decimal("12.5")
    assert response.headers["Location"] == f"/api/v1/enquiries/{enquiry['id']}"


def test_raise_enquiry_for_non_care_manager_is_422(call, world):
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.admin_id, "hours_per_week": 10, "expected_start_on": "2031-07-05"}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "raised_by_id"


def test_raise_enquiry_unknown_service_user_is_422(call, world):
    body = {"service_user_id": 999, "raised_by_id": world.care_manager_id, "hours_per_week": 10, "expected_start_on": "2031-07-05"}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "service_user_id"


def test_raise_enquiry_rejects_zero_hours(call, world):
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": 0, "expected_start_on": "2031-07-05"}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "hours_per_week"


@pytest.mark.parametrize("field", ["service_user_id", "raised_by_id"])
@pytest.mark.parametrize("value", [True, "1", 1.0])
def test_raise_enquiry_rejects_non_integer_id(call, world, field, value):
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": 10, "expected_start_on": "2031-07-05", field: value}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 422
    assert [error["field"] for error in response.get_json()["errors"]] == [field]


def test_raise_enquiry_rejects_past_start(call, world):
    set_clock(lambda: NOW)
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": 10, "expected_start_on": "2031-06-30"}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "expected_start_on", "message": "2031-06-30 is in the past; give 2031-07-01 or later"}]


def test_raise_enquiry_accepts_start_today_in_england(call, world):
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST), so 1 July is today.
    set_clock(lambda: datetime(2031, 6, 30, 23, 30, tzinfo=timezone.utc))
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": 10, "expected_start_on": "2031-07-01"}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 201, response.get_data(as_text=True)


def test_raise_enquiry_past_respond_by_shows_iso_time(call, world):
    set_clock(lambda: NOW)
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": 10, "expected_start_on": "2031-07-05", "respond_by": "2031-07-01T09:00:00+01:00"}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 422
    problem = response.get_json()
    assert problem["errors"] == [{"field": "respond_by", "message": "2031-07-01T08:00:00Z is not in the future; give a time after 2031-07-01T09:00:00Z"}]
    assert "datetime" not in problem["detail"]


def test_raise_enquiry_rejects_respond_by_without_offset(call, world):
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": 10, "expected_start_on": "2031-07-05", "respond_by": "2031-07-03T12:00:00"}

    response = call("POST", "/api/v1/enquiries", "care_manager", json=body)

    assert response.status_code == 422
    assert [error["field"] for error in response.get_json()["errors"]] == ["respond_by"]


def test_raise_enquiry_returns_respond_by_in_utc(call, world):
    set_clock(lambda: NOW)
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": 10, "expected_start_on": "2031-07-05", "respond_by": "2031-07-03T12:00:00+01:00"}

    created = call("POST", "/api/v1/enquiries", "care_manager", json=body)
    read = call("GET", created.headers["Location"], "care_manager")

    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["respond_by"] == "2031-07-03T11:00:00Z"
    assert read.get_json()["respond_by"] == "2031-07-03T11:00:00Z"


def test_raise_enquiry_refused_for_provider_and_analyst(call, world):
    body = {"service_user_id": world.service_user_id, "raised_by_id": world.care_manager_id, "hours_per_week": 10, "expected_start_on": "2031-07-05"}

    assert call("POST", "/api/v1/enquiries", "provider_user", json=body).status_code == 403
    assert call("POST", "/api/v1/enquiries", "analyst", json=body).status_code == 403


def test_provider_sees_enquiry_sent_to_it(call, enquiry_id):
    assert [item["id"] for item in call("GET", "/api/v1/enquiries", "provider_user").get_json()["items"]] == [enquiry_id]
    assert call("GET", f"/api/v1/enquiries/{enquiry_id}", "provider_user").status_code == 200


def test_other_provider_cannot_see_enquiry(call, enquiry_id):
    assert call("GET", "/api/v1/enquiries", "other_provider").get_json()["items"] == []
    assert call("GET", f"/api/v1/enquiries/{enquiry_id}", "other_provider").status_code == 404
    assert call("GET", f"/api/v1/enquiries/{enquiry_id}/responses", "other_provider").status_code == 404


def test_enquiry_list_rejects_unknown_status(call):
    assert call("GET", "/api/v1/enquiries?status=lost", "care_manager").status_code == 422


def test_responses_scoped_to_provider(call, session_factory, world, enquiry_id):
    with session_factory.begin() as db:
        send_enquiry(db, enquiry_id, [world.other_provider_id])
        accept_enquiry(db, enquiry_id, world.other_provider_id, recorded_by_id=world.care_manager_id, unit_price=Decimal("30.00"), by_phone=True)

    staff = call("GET", f"/api/v1/enquiries/{enquiry_id}/responses", "care_manager").get_json()["items"]
    own = call("GET", f"/api/v1/enquiries/{enquiry_id}/responses", "provider_user").get_json()["items"]

    assert [item["provider_id"] for item in staff] == [world.other_provider_id, world.provider_id]
    assert staff[0]["unit_price"] == "30.00"
    assert [item["provider_id"] for item in own] == [world.provider_id]


def test_packages_scoped_to_provider(call, billing):
    staff = [item["id"] for item in call("GET", "/api/v1/packages", "care_manager").get_json()["items"]]
    own = [item["id"] for item in call("GET", "/api/v1/packages", "provider_user").get_json()["items"]]

    assert staff == [billing["package"], billing["other_package"]]
    assert own == [billing["package"]]
    assert call("GET", f"/api/v1/packages/{billing['other_package']}", "provider_user").status_code == 404
    assert call("GET", f"/api/v1/packages/{billing['package']}", "provider_user").get_json()["unit_price"] == "22.00"


def test_packages_page_with_cursor(call, billing):
    first = call("GET", "/api/v1/packages?limit=1", "admin").get_json()
    second = call("GET", first["next"], "admin").get_json()

    assert [item["id"] for item in first["items"] + second["items"]] == [billing["package"], billing["other_package"]]
    assert second["next"] is None


def test_payments_scoped_to_provider(call, billing):
    own = call("GET", "/api/v1/payments", "provider_user").get_json()["items"]

    assert [item["id"] for item in own] == [billing["payment"]]
    assert own[0]["lines"][0]["amount"] == "880.00"
    assert call("GET", f"/api/v1/payments/{billing['other_payment']}", "provider_user").status_code == 404
    assert call("GET", f"/api/v1/payments/{billing['payment']}", "provider_services").status_code == 200


def test_payments_refused_for_care_manager(call, billing):
    assert call("GET", "/api/v1/payments", "care_manager").status_code == 403
