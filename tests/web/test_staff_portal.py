"""Care manager and provider services pages: the audited enquiry page, notes, raising, selection, change requests, providers."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from care.models.enquiries import EnquiryNote
from care.models.packages import ChangeRequest
from care.models.people import ServiceUser
from care.packages import request_change, start_package
from engine.models import AuditEvent


def test_staff_enquiry_page_audited(logged_in, people, enquiry_id, session_factory):
    client = logged_in(people.care_manager)

    response = client.get(f"/staff/enquiries/{enquiry_id}")

    assert response.status_code == 200
    assert "Grace Example" in response.get_data(as_text=True)
    with session_factory() as db:
        events = list(db.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "service_user.viewed")))
    assert len(events) == 1
    assert events[0].detail["enquiry_id"] == enquiry_id
    assert "Grace" not in str(events[0].detail)


def test_staff_phone_note_recorded(logged_in, csrf_token, people, enquiry_id, session_factory):
    client = logged_in(people.care_manager)
    token = csrf_token(client, f"/staff/enquiries/{enquiry_id}")

    response = client.post(f"/staff/enquiries/{enquiry_id}/notes", data={"csrf_token": token, "provider_id": str(people.provider.id), "body": "Phoned: they will respond today", "via_phone": "y"})

    assert response.status_code == 302
    with session_factory() as db:
        note = db.scalar(sa.select(EnquiryNote))
    assert note.via_phone is True
    assert note.author_side == "council"


def test_staff_note_empty_shows_field_error(logged_in, csrf_token, people, enquiry_id):
    client = logged_in(people.care_manager)
    token = csrf_token(client, f"/staff/enquiries/{enquiry_id}")

    response = client.post(f"/staff/enquiries/{enquiry_id}/notes", data={"csrf_token": token, "provider_id": str(people.provider.id), "body": ""})

    assert response.status_code == 422
    assert 'id="field-body-error"' in response.get_data(as_text=True)


def test_raise_enquiry_unknown_reference(logged_in, csrf_token, people):
    client = logged_in(people.care_manager)

    response = client.post("/staff/enquiries/new", data={"csrf_token": csrf_token(client, "/staff/enquiries/new"), "service_user_reference": "SU-99999"})

    assert response.status_code == 422
    assert 'id="field-service_user_reference-error"' in response.get_data(as_text=True)


def test_select_without_task_redirects(logged_in, people, enquiry_id):
    client = logged_in(people.care_manager)

    response = client.get(f"/staff/enquiries/{enquiry_id}/select")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/staff/enquiries/{enquiry_id}"


def _change_request(session_factory, people) -> int:
    with session_factory.begin() as db:
        person = ServiceUser(reference="SU-00003", display_name="Sam Example", postcode_district="LS6")
        db.add(person)
        db.flush()
        package = start_package(db, provider_id=people.provider.id, service_user_id=person.id, unit_price=Decimal("21.50"), hours_per_week=Decimal("10"), start_on=date(2031, 5, 1))
        return request_change(db, package.id, reason="Needs a second carer", requested_by_id=people.provider_user.id, hours_per_week=Decimal("14")).id


def test_change_request_without_review_task_unchanged(logged_in, csrf_token, people, session_factory):
    request_id = _change_request(session_factory, people)
    client = logged_in(people.care_manager)

    listing = client.get("/staff/change-requests").get_data(as_text=True)
    response = client.post(f"/staff/change-requests/{request_id}", data={"csrf_token": csrf_token(client, "/staff/change-requests"), "decision": "approve", "effective_from": "2031-06-01"})
    after = client.get("/staff/change-requests").get_data(as_text=True)

    assert "Needs a second carer" in listing
    assert response.status_code == 302
    assert "its care package process has no open review task for it" in after
    with session_factory() as db:
        assert db.get(ChangeRequest, request_id).status == "pending"


def test_change_request_reject_needs_note(logged_in, csrf_token, people, session_factory):
    request_id = _change_request(session_factory, people)
    client = logged_in(people.care_manager)
    token = csrf_token(client, "/staff/change-requests")

    client.post(f"/staff/change-requests/{request_id}", data={"csrf_token": token, "decision": "reject", "note": ""})

    with session_factory() as db:
        assert db.get(ChangeRequest, request_id).status == "pending"


def test_providers_list_and_application_page(logged_in, people):
    client = logged_in(people.provider_services)

    listing = client.get("/staff/providers?status=live").get_data(as_text=True)
    detail = client.get(f"/staff/providers/{people.provider.id}")

    assert f'href="/staff/providers/{people.provider.id}"' in listing
    assert detail.status_code == 200
    assert "Example Home Care 1 Ltd" in detail.get_data(as_text=True)
