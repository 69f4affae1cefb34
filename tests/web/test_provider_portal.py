"""Provider portal pages: the enquiry's viewed message, address after selection, notes, profile, payments and packages."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from care.models.enquiries import Enquiry, EnquiryNote
from care.models.packages import CarePackage, ChangeRequest, Visit
from care.models.payments import Payment, PaymentRun
from care.models.people import ServiceUser
from care.models.providers import Provider
from care.packages import start_package
from care.responses import accept_enquiry, select_provider
from engine.errors import MessageNotDeliveredError
from engine.models import AuditEvent


def _audit_events(session_factory, kind="service_user.viewed"):
    with session_factory() as db:
        return list(db.scalars(sa.select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)))


@pytest.fixture
def sent_messages(services, monkeypatch):
    """Record every message the pages send instead of delivering it, because the tests in this file deploy no journey diagram."""
    sent = []

    def record(name, payload=None, **kwargs):
        sent.append((name, kwargs.get("business_key")))
        raise MessageNotDeliveredError(name, kwargs.get("business_key"), {})

    monkeypatch.setattr(services.engine, "send_message", record)
    return sent


def test_enquiry_view_sends_viewed_message_once(logged_in, people, enquiry_id, session_factory, sent_messages):
    client = logged_in(people.provider_user)
    with session_factory() as db:
        reference = db.get(Enquiry, enquiry_id).reference

    first = client.get(f"/provider/enquiries/{enquiry_id}")
    second = client.get(f"/provider/enquiries/{enquiry_id}")

    assert first.status_code == 200
    assert second.status_code == 200
    assert sent_messages == [("enquiry_viewed", f"{reference}/{people.provider.id}")]


def test_enquiry_address_shown_after_selection(logged_in, people, enquiry_id, session_factory, sent_messages):
    client = logged_in(people.provider_user)
    before = client.get(f"/provider/enquiries/{enquiry_id}").get_data(as_text=True)
    with session_factory.begin() as db:
        accept_enquiry(db, enquiry_id, people.provider.id, recorded_by_id=people.provider_user.id)
        select_provider(db, enquiry_id, people.provider.id, selected_by_id=people.care_manager.id)

    after = client.get(f"/provider/enquiries/{enquiry_id}").get_data(as_text=True)
    events = _audit_events(session_factory)

    assert "Example Street" not in before
    assert "1 Example Street" in after
    assert "LS6 9ZZ" in after
    assert len(events) == 1
    assert events[0].actor == str(people.provider_user.id)
    assert events[0].detail["enquiry_id"] == enquiry_id
    assert "Grace" not in str(events[0].detail)


def test_enquiry_note_added(logged_in, csrf_token, people, enquiry_id, session_factory, sent_messages):
    client = logged_in(people.provider_user)
    token = csrf_token(client, f"/provider/enquiries/{enquiry_id}")

    response = client.post(f"/provider/enquiries/{enquiry_id}/notes", data={"csrf_token": token, "body": "Is there a hoist at home?"})
    page = client.get(f"/provider/enquiries/{enquiry_id}").get_data(as_text=True)

    assert response.status_code == 302
    assert "Is there a hoist at home?" in page
    with session_factory() as db:
        note = db.scalar(sa.select(EnquiryNote))
    assert note.author_side == "provider"
    assert note.provider_id == people.provider.id


def test_enquiry_note_empty_shows_field_error(logged_in, csrf_token, people, enquiry_id, sent_messages):
    client = logged_in(people.provider_user)
    token = csrf_token(client, f"/provider/enquiries/{enquiry_id}")

    response = client.post(f"/provider/enquiries/{enquiry_id}/notes", data={"csrf_token": token, "body": ""})
    page = response.get_data(as_text=True)

    assert response.status_code == 422
    assert 'href="#field-body"' in page
    assert 'aria-describedby="field-body-error"' in page


def test_enquiry_note_other_provider_forbidden(logged_in, csrf_token, people, enquiry_id, session_factory):
    client = logged_in(people.other_provider_user)
    token = csrf_token(client, "/provider/profile")

    response = client.post(f"/provider/enquiries/{enquiry_id}/notes", data={"csrf_token": token, "body": "Hello"})

    assert response.status_code == 403
    with session_factory() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(EnquiryNote)) == 0


def _profile_form(token, **overrides):
    form = {"csrf_token": token, "services_offered": "Personal care\nMedication support", "districts": "ls6, LS7", "standard_hourly_rate": "23.40", "paypal_email": "pay@example.test"}
    form.update(overrides)
    return form


def test_profile_saved(logged_in, csrf_token, people, session_factory):
    client = logged_in(people.provider_user)
    token = csrf_token(client, "/provider/profile")

    response = client.post("/provider/profile", data=_profile_form(token))

    assert response.status_code == 302
    with session_factory() as db:
        provider = db.get(Provider, people.provider.id)
        assert provider.standard_hourly_rate == Decimal("23.40")
        assert provider.paypal_email == "pay@example.test"
        assert [district.postcode_district for district in provider.districts] == ["LS6", "LS7"]
        assert provider.services_offered == ["Medication support", "Personal care"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("districts", "Leeds 6"), ("paypal_email", "not-an-email"), ("standard_hourly_rate", "0"), ("standard_hourly_rate", "cheap")],
)
def test_profile_invalid_value_shows_field_error(field, value, logged_in, csrf_token, people, session_factory):
    client = logged_in(people.provider_user)
    token = csrf_token(client, "/provider/profile")

    response = client.post("/provider/profile", data=_profile_form(token, **{field: value}))
    page = response.get_data(as_text=True)

    assert response.status_code == 422
    assert f'id="field-{field}-error"' in page
    with session_factory() as db:
        assert db.get(Provider, people.provider.id).standard_hourly_rate == Decimal("21.50")


def test_payments_show_own_provider_only(logged_in, people, session_factory):
    with session_factory.begin() as db:
        run = PaymentRun(period_start=date(2031, 4, 1), period_end=date(2031, 4, 30), status="paid")
        run.payments = [
            Payment(provider_id=people.provider.id, gross_amount=Decimal("111.11"), amount=Decimal("111.11"), status="paid"),
            Payment(provider_id=people.other_provider.id, gross_amount=Decimal("999.99"), amount=Decimal("999.99"), status="paid"),
        ]
        db.add(run)
    client = logged_in(people.provider_user)

    page = client.get("/provider/payments").get_data(as_text=True)

    assert "£111.11" in page
    assert "999.99" not in page


@pytest.fixture
def package_id(session_factory, people) -> int:
    """An active care package of the first provider, for a service user with a made-up address."""
    with session_factory.begin() as db:
        person = ServiceUser(reference="SU-00002", display_name="Alex Example", postcode_district="LS6", full_postcode="LS6 8ZZ", address="2 Example Road")
        db.add(person)
        db.flush()
        package = start_package(db, provider_id=people.provider.id, service_user_id=person.id, unit_price=Decimal("21.50"), hours_per_week=Decimal("10"), start_on=date(2031, 5, 1))
        return package.id


def test_package_list_and_detail_audited(logged_in, people, package_id, session_factory):
    client = logged_in(people.provider_user)

    listing = client.get("/provider/packages").get_data(as_text=True)
    detail = client.get(f"/provider/packages/{package_id}")
    events = _audit_events(session_factory)

    assert f"/provider/packages/{package_id}" in listing
    assert detail.status_code == 200
    assert "2 Example Road" in detail.get_data(as_text=True)
    assert [event.detail["package_id"] for event in events] == [package_id]


def test_package_other_provider_forbidden(logged_in, csrf_token, people, package_id, session_factory):
    client = logged_in(people.other_provider_user)
    token = csrf_token(client, "/provider/profile")

    listing = client.get("/provider/packages").get_data(as_text=True)
    detail = client.get(f"/provider/packages/{package_id}")
    suspend = client.post(f"/provider/packages/{package_id}/suspend", data={"csrf_token": token, "suspend-reason": "hospital", "suspend-effective_on": "2031-06-01"})

    assert f"/provider/packages/{package_id}" not in listing
    assert detail.status_code == 403
    assert suspend.status_code == 403
    assert _audit_events(session_factory) == []
    with session_factory() as db:
        assert db.get(CarePackage, package_id).status == "active"


def test_package_suspend_without_instance_changes_nothing(logged_in, csrf_token, people, package_id, session_factory):
    client = logged_in(people.provider_user)
    token = csrf_token(client, f"/provider/packages/{package_id}")

    suspended = client.post(f"/provider/packages/{package_id}/suspend", data={"csrf_token": token, "suspend-reason": "hospital", "suspend-effective_on": "2031-06-01"})
    page = client.get(f"/provider/packages/{package_id}").get_data(as_text=True)

    assert suspended.status_code == 302
    assert "Nothing was changed: the package&#39;s process is not ready for this report." in page
    with session_factory() as db:
        package = db.get(CarePackage, package_id)
        assert package.status == "active"
        assert len(package.status_history) == 1


def test_package_resume_active_package_rejected(logged_in, csrf_token, people, package_id, session_factory):
    client = logged_in(people.provider_user)
    token = csrf_token(client, f"/provider/packages/{package_id}")

    resumed = client.post(f"/provider/packages/{package_id}/resume", data={"csrf_token": token, "resume-effective_on": "2031-06-10"})
    page = client.get(f"/provider/packages/{package_id}").get_data(as_text=True)

    assert resumed.status_code == 302
    assert "the package&#39;s status does not allow this" in page
    with session_factory() as db:
        assert db.get(CarePackage, package_id).status == "active"


def test_package_suspend_before_start_shows_field_error(logged_in, csrf_token, people, package_id):
    client = logged_in(people.provider_user)
    token = csrf_token(client, f"/provider/packages/{package_id}")

    response = client.post(f"/provider/packages/{package_id}/suspend", data={"csrf_token": token, "suspend-reason": "holiday", "suspend-effective_on": "2031-01-01"})

    assert response.status_code == 422
    assert 'id="field-suspend-effective_on-error"' in response.get_data(as_text=True)


def test_package_visit_logged_and_validated(logged_in, csrf_token, people, package_id, session_factory):
    client = logged_in(people.provider_user)
    token = csrf_token(client, f"/provider/packages/{package_id}")

    missing = client.post(f"/provider/packages/{package_id}/visits", data={"csrf_token": token, "visit-visit_on": "2031-05-02"})
    logged = client.post(
        f"/provider/packages/{package_id}/visits",
        data={"csrf_token": token, "visit-visit_on": "2031-05-02", "visit-start_time": "09:00", "visit-end_time": "10:30", "visit-carer_initials": "AB"},
    )

    assert missing.status_code == 422
    assert 'id="field-visit-duration_hours-error"' in missing.get_data(as_text=True)
    assert logged.status_code == 302
    with session_factory() as db:
        assert db.scalar(sa.select(Visit.duration_hours)) == Decimal("1.50")


def test_package_change_request_without_instance_changes_nothing(logged_in, csrf_token, people, package_id, session_factory):
    client = logged_in(people.provider_user)
    token = csrf_token(client, f"/provider/packages/{package_id}")

    empty = client.post(f"/provider/packages/{package_id}/change-request", data={"csrf_token": token, "change-reason": "Needs a second carer"})
    sent = client.post(f"/provider/packages/{package_id}/change-request", data={"csrf_token": token, "change-hours_per_week": "14", "change-reason": "Needs a second carer"})

    assert empty.status_code == 422
    assert 'id="field-change-hours_per_week-error"' in empty.get_data(as_text=True)
    assert sent.status_code == 302
    with session_factory() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(ChangeRequest)) == 0
