"""Helpers for the care package and payment tests: a package confirmed through the enquiry diagram, visits and messages."""

from datetime import date, datetime, timezone
from decimal import Decimal

from care.delivery import package_reference
from care.packages import log_visit

from test_enquiry import raise_enquiry, respond_task


def confirmed_package(journey, people, actors, provider, *, start_on="2027-07-05", unit_price="20.00", hours="14"):
    """Run an enquiry to a confirmed provider, whose confirmation starts the care_package instance; return (package id, instance id)."""
    provider_id, user_id = provider
    enquiry_instance, data = raise_enquiry(journey, people, actors, [provider_id], hours_per_week=hours)
    recipient_instance = respond_task(journey, data["enquiry_reference"], provider_id)
    journey.complete("respond", {"response": "accepted", "unit_price": unit_price}, actors.provider(user_id, provider_id), recipient_instance)
    care_manager = actors.care_manager(people["care_manager"])
    journey.complete("select_provider", {"decision": "select", "selected_provider_id": str(provider_id)}, care_manager, enquiry_instance)
    journey.complete("confirm_start", {"start_on": start_on}, care_manager, enquiry_instance)
    journey.run_jobs()
    package_id = journey.engine.instance_data(enquiry_instance)["package_id"]

    instances = journey.engine.list_instances(process_id="care_package", business_key=package_reference(package_id))
    assert len(instances) == 1, f"expected one care_package instance, found {len(instances)}"
    journey.run_jobs()
    return package_id, instances[0].id


def message(journey, name, package_id, payload):
    """Send a package message to the package's instance and run the service tasks it makes ready."""
    delivered = journey.engine.send_message(name, payload, business_key=package_reference(package_id))
    journey.run_jobs()
    return delivered


def log_visits(journey, package_id, days, hours="2"):
    """Log one visit of ``hours`` on each day of ``days`` on the package's communication sheet."""
    with journey.session_factory.begin() as session:
        for day in days:
            log_visit(session, package_id, visit_on=day, recorded_by_id=None, duration_hours=Decimal(hours), carer_initials="AB")


def daily(first: date, last: date) -> list[date]:
    """Return every day from ``first`` to ``last``, both included."""
    return [date.fromordinal(ordinal) for ordinal in range(first.toordinal(), last.toordinal() + 1)]


def at(day: str, hour: int = 9) -> datetime:
    """Return ``day`` (YYYY-MM-DD) at ``hour`` UTC."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=timezone.utc)
