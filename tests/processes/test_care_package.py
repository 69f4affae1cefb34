"""care_package.bpmn: assessment, visits, change requests, suspension and the policy events that end or interrupt a package."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from care.models.messaging import Notification
from care.models.packages import Assessment, CarePackage, ChangeRequest, PackageStatusChange, Visit
from care.packages import terms_on

from package_helpers import confirmed_package, log_visits, message


def notification_titles(journey, *, provider_id=None, user_id=None) -> list[str]:
    with journey.session_factory() as session:
        query = sa.select(Notification.title).order_by(Notification.id)
        if provider_id is not None:
            query = query.where(Notification.recipient_provider_id == provider_id)
        if user_id is not None:
            query = query.where(Notification.recipient_user_id == user_id)
        return list(session.scalars(query))


def status_history(journey, package_id) -> list[tuple]:
    with journey.session_factory() as session:
        rows = session.scalars(sa.select(PackageStatusChange).where(PackageStatusChange.package_id == package_id).order_by(PackageStatusChange.id))
        return [(row.to_status, row.reason, row.effective_on) for row in rows]


ASSESSMENT = {
    "environment": "Ground-floor flat, two steps at the door",
    "mobility": "Walks with a frame indoors",
    "religious_cultural_needs": "Vegetarian meals; prays at midday",
    "point_safe": "true",
    "point_effective": "true",
    "point_caring": "true",
    "point_responsive": "true",
    "point_well_led": "false",
    "assessment_notes": "Key safe by the door",
}


def test_care_package_happy_path(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, instance_id = confirmed_package(journey, people, actors, provider)

    assert journey.candidate_groups("assess_needs") == {f"provider-{provider[0]}"}
    journey.complete("assess_needs", ASSESSMENT, actors.provider(provider[1], provider[0]), instance_id)
    log_visits(journey, package_id, [date(2027, 7, 5), date(2027, 7, 6)])
    message(journey, "package_end_requested", package_id, {"last_day": "2027-07-31", "end_note": "Moved to residential care"})

    with journey.session_factory() as session:
        assessment = session.scalars(sa.select(Assessment).where(Assessment.package_id == package_id)).one()
        assert assessment.mobility == "Walks with a frame indoors"
        assert assessment.recorded_by_id == provider[1]
        assert assessment.standard_points["safe"] is True
        assert assessment.standard_points["well_led"] is False
        assert assessment.standard_points["notes"] == "Key safe by the door"
        assert session.scalar(sa.select(sa.func.count()).select_from(Visit).where(Visit.package_id == package_id)) == 2
    package = journey.get(CarePackage, package_id)
    assert package.status == "ended"
    assert package.end_on == date(2027, 7, 31)
    assert status_history(journey, package_id)[-1] == ("ended", "ended", date(2027, 8, 1))
    assert journey.status(instance_id) == "completed"
    assert journey.open_tasks(instance_id=instance_id) == []
    assert any(title.startswith("Assessment recorded") for title in notification_titles(journey, user_id=people["care_manager"]))
    assert any(title.startswith("Care package ends") for title in notification_titles(journey, provider_id=provider[0]))


def test_care_package_change_request_approved(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, instance_id = confirmed_package(journey, people, actors, provider)

    payload = {"requested_hours_per_week": "21", "requested_unit_price": None, "change_reason": "Needs help at teatime too", "requested_by_id": provider[1]}
    message(journey, "package_change_requested", package_id, payload)
    journey.complete("review_change", {"change_decision": "approve", "effective_from": "2027-07-19"}, actors.care_manager(people["care_manager"]), instance_id)

    with journey.session_factory() as session:
        change = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.package_id == package_id)).one()
        assert change.status == "approved"
        assert change.effective_from == date(2027, 7, 19)
        assert change.reviewed_by_id == people["care_manager"]
        package = session.get(CarePackage, package_id)
        assert terms_on(package, date(2027, 7, 18)) == (Decimal("14.00"), Decimal("20.00"))
        assert terms_on(package, date(2027, 7, 19)) == (Decimal("21.00"), Decimal("20.00"))
    assert any(title.startswith("Change request approved") for title in notification_titles(journey, provider_id=provider[0]))
    assert journey.status(instance_id) == "running"


def test_care_package_change_request_rejected(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, instance_id = confirmed_package(journey, people, actors, provider)

    message(journey, "package_change_requested", package_id, {"requested_unit_price": "25.00", "change_reason": "Fuel costs"})
    journey.complete("review_change", {"change_decision": "reject", "review_note": "The agreed price stands"}, actors.care_manager(people["care_manager"]), instance_id)

    with journey.session_factory() as session:
        change = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.package_id == package_id)).one()
        assert change.status == "rejected"
        assert change.review_note == "The agreed price stands"
    assert any(title.startswith("Change request rejected") for title in notification_titles(journey, provider_id=provider[0]))


def test_care_package_hospital_stay_and_resume(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, instance_id = confirmed_package(journey, people, actors, provider)

    message(journey, "package_suspended", package_id, {"suspension_reason": "hospital", "suspended_from": "2027-07-12"})
    assert journey.get(CarePackage, package_id).status == "suspended"
    message(journey, "package_resumed", package_id, {"resumed_from": "2027-07-19"})

    assert journey.get(CarePackage, package_id).status == "active"
    assert status_history(journey, package_id)[1:] == [("suspended", "hospital", date(2027, 7, 12)), ("active", None, date(2027, 7, 19))]
    assert [email.recipient for email in journey.emails("package_suspended")] == ["office1@provider.example"]
    assert [email.recipient for email in journey.emails("package_resumed")] == ["office1@provider.example"]
    assert "Monday 19 July 2027" in journey.emails("package_resumed")[0].subject
    assert journey.status(instance_id) == "running"

    # The instance listens again after a full suspension cycle.
    message(journey, "package_suspended", package_id, {"suspension_reason": "holiday", "suspended_from": "2027-08-02"})
    assert status_history(journey, package_id)[-1] == ("suspended", "holiday", date(2027, 8, 2))
    assert len(journey.emails("package_suspended")) == 2


def test_care_package_death_ends_package(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, instance_id = confirmed_package(journey, people, actors, provider)
    message(journey, "package_change_requested", package_id, {"requested_hours_per_week": "20", "change_reason": "More help needed"})

    message(journey, "service_user_died", package_id, {"date_of_death": "2027-07-20"})

    package = journey.get(CarePackage, package_id)
    assert package.status == "ended"
    assert package.end_on == date(2027, 7, 20)
    assert status_history(journey, package_id)[-1] == ("ended", "death", date(2027, 7, 21))
    assert journey.status(instance_id) == "completed"
    assert journey.open_tasks(instance_id=instance_id) == []
    assert any(title.startswith("Care package ended") for title in notification_titles(journey, provider_id=provider[0]))
    assert any(title.startswith("Service user died") for title in notification_titles(journey, user_id=people["care_manager"]))


def test_care_package_missing_opens_task(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, instance_id = confirmed_package(journey, people, actors, provider)

    message(journey, "service_user_missing", package_id, {"missing_since": "2027-07-14", "missing_note": "Not at home for two visits"})

    assert journey.candidate_groups("find_service_user") == {"care_manager"}
    assert any(title.startswith("Service user missing") for title in notification_titles(journey, user_id=people["care_manager"]))
    journey.complete("find_service_user", {"missing_outcome": "found", "missing_outcome_note": "Staying with a daughter for a week"}, actors.care_manager(people["care_manager"]), instance_id)
    assert journey.get(CarePackage, package_id).status == "active"
    assert journey.status(instance_id) == "running"

    message(journey, "service_user_missing", package_id, {"missing_since": "2027-08-03"})
    journey.complete("find_service_user", {"missing_outcome": "end", "missing_outcome_note": "Not found after a week"}, actors.care_manager(people["care_manager"]), instance_id)
    package = journey.get(CarePackage, package_id)
    assert package.status == "ended"
    assert package.end_on == date(2027, 8, 3)
    assert status_history(journey, package_id)[-1][1] == "missing"
    assert journey.status(instance_id) == "completed"


def test_care_package_non_delivery_opens_review(journey, people, actors, make_provider):
    provider = make_provider("Brightwater Home Care Ltd", 1)
    package_id, instance_id = confirmed_package(journey, people, actors, provider)

    message(journey, "non_delivery_reported", package_id, {"missed_on": "2027-07-15", "non_delivery_note": "No carer came on Thursday"})

    assert journey.candidate_groups("review_non_delivery") == {"provider_services"}
    journey.complete("review_non_delivery", {"non_delivery_outcome": "end", "non_delivery_outcome_note": "Third missed week"}, actors.staff, instance_id)
    package = journey.get(CarePackage, package_id)
    assert package.status == "ended"
    assert status_history(journey, package_id)[-1] == ("ended", "non_delivery", date(2027, 7, 16))
    assert any(title.startswith("Care package ended") for title in notification_titles(journey, user_id=people["care_manager"]))
