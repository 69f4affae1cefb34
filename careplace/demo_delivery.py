"""Demo stage 6: the provider's assessment, visits on the communication sheet and a hospital stay that suspends the package."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from care.delivery import package_reference
from care.journey import provider_contact_email
from care.models.messaging import Notification
from care.models.packages import Assessment, CarePackage, PackageStatusChange, Visit
from care.packages import log_visit, record_assessment, resume_package, suspend_package
from careplace.demo_enquiry import ACTORS, NAMES
from careplace.demo_onboarding import provider_actor
from careplace.demo_support import Demo, day_text, london
from engine import clock
from handlers.care_delivery_topics import start_package_instance
from handlers.email import queue_email

DIAGRAM = "care_package.bpmn"
WITH_DIAGRAM = "through care_package.bpmn, with visits written straight onto the communication sheet"
NO_DIAGRAM = "care_package.bpmn is not deployed, so this stage calls the care functions directly and queues the emails itself"
ASSESSMENT_FORM = {
    "environment": "Ground-floor flat; clear access",
    "mobility": "Walks with a frame",
    "religious_cultural_needs": "None recorded",
    "point_safe": "true",
    "point_effective": "true",
    "point_caring": "true",
    "point_responsive": "true",
    "point_well_led": "true",
    "assessment_notes": "Medication prompt only",
}
VISIT_START = time(8, 0)
VISIT_END = time(9, 0)
# The service user went into hospital on this day, and the provider reported it a week later.
ADMITTED_ON = date(2027, 3, 26)
HOME_ON = date(2027, 4, 6)


def deliver_march(demo: Demo) -> None:
    """Record the assessment and the March visits, logged each week from the carers' rota."""
    demo.begin_stage("Stage 6: deliver service (March)", WITH_DIAGRAM if _uses_diagram(demo) else NO_DIAGRAM)
    package_id = demo.ids["package"]
    provider_user = demo.ids["brightwater_user"]

    if _uses_diagram(demo):
        _start_package_instance(demo)

    demo.at(london(2027, 3, 1, 12, 0))
    if _uses_diagram(demo):
        demo.complete("assess_needs", ASSESSMENT_FORM, provider_actor(demo, "brightwater"), demo.values["package_instance"])
    else:
        with demo.session_factory.begin() as session:
            record_assessment(
                session,
                package_id,
                recorded_by_id=provider_user,
                completed_at=clock.now(),
                environment=ASSESSMENT_FORM["environment"],
                mobility=ASSESSMENT_FORM["mobility"],
                religious_cultural_needs=ASSESSMENT_FORM["religious_cultural_needs"],
                standard_points={"safe": True, "effective": True, "caring": True, "responsive": True, "well_led": True},
            )
    demo.say(ACTORS["brightwater"], "recorded its assessment at the service user's home")
    with demo.session_factory() as session:
        recorded_by = list(session.scalars(sa.select(Assessment.recorded_by_id).where(Assessment.package_id == package_id)))
    demo.check_equal(recorded_by, [provider_user], "assessments on record and who recorded them")
    if _uses_diagram(demo):
        title = f"Assessment recorded for {demo.values['enquiry_reference']}"
        notified = demo.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.recipient_user_id == demo.ids["care_manager"], Notification.title == title))
        demo.check_equal(notified, 1, "care manager notified of the assessment")

    for week_end in (date(2027, 3, 7), date(2027, 3, 14), date(2027, 3, 21), date(2027, 3, 28), date(2027, 3, 31)):
        _log_week(demo, week_end)
    demo.check_equal(_visit_hours(demo, date(2027, 3, 1), date(2027, 3, 31)), Decimal("31.00"), "hours on the March communication sheet")


def hospital_stay(demo: Demo) -> None:
    """Suspend the package from the admission day, reported late, and resume it when the service user is home."""
    demo.begin_stage("Stage 6: hospital stay", "through care_package.bpmn" if _uses_diagram(demo) else NO_DIAGRAM)
    package_id = demo.ids["package"]
    provider_user = demo.ids["brightwater_user"]

    demo.at(london(2027, 4, 2, 11, 0))
    if _uses_diagram(demo):
        payload = {"suspension_reason": "hospital", "suspended_from": ADMITTED_ON.isoformat(), "reported_by_id": provider_user}
        _send_package_message(demo, "package_suspended", payload)
    else:
        with demo.session_factory.begin() as session:
            suspend_package(
                session, package_id, reason="hospital", effective_on=ADMITTED_ON, changed_by_id=provider_user, note="Reported by the provider after the admission"
            )
            _queue_package_email(demo, session, "package_suspended", {"suspended_from": ADMITTED_ON.isoformat()})
        demo.settle()
    demo.say(ACTORS["brightwater"], f"reported a hospital admission on {day_text(ADMITTED_ON)}: package suspended from that day")
    demo.check_equal(demo.get(CarePackage, package_id).status, "suspended", "care package status during the stay")
    demo.check_email(_provider_email(demo), f"Care package for enquiry {demo.values['enquiry_reference']} suspended from Friday 26 March 2027")

    demo.at(london(2027, 4, 6, 10, 0))
    if _uses_diagram(demo):
        _send_package_message(demo, "package_resumed", {"resumed_from": HOME_ON.isoformat(), "reported_by_id": demo.ids["care_manager"]})
    else:
        with demo.session_factory.begin() as session:
            resume_package(session, package_id, effective_on=HOME_ON, changed_by_id=demo.ids["care_manager"], note="Home from hospital")
            _queue_package_email(demo, session, "package_resumed", {"resumed_from": HOME_ON.isoformat()})
        demo.settle()
    demo.say("care manager", f"the service user is home: package resumes on {day_text(HOME_ON)}")
    demo.check_equal(demo.get(CarePackage, package_id).status, "active", "care package status after the stay")
    demo.check_email(_provider_email(demo), f"Care package for enquiry {demo.values['enquiry_reference']} resumes on Tuesday 6 April 2027")
    with demo.session_factory() as session:
        history = session.execute(
            sa.select(PackageStatusChange.to_status, PackageStatusChange.effective_on).where(PackageStatusChange.package_id == package_id).order_by(PackageStatusChange.id)
        ).all()
    demo.check_equal([tuple(row) for row in history], [("active", date(2027, 3, 1)), ("suspended", ADMITTED_ON), ("active", HOME_ON)], "care package status history")
    if _uses_diagram(demo):
        demo.check_status(demo.values["package_instance"], "running", "care package (waiting for its next event)")


def deliver_april(demo: Demo) -> None:
    """Log the April visits from the day the service user came home."""
    demo.begin_stage("Stage 6: deliver service (April)", WITH_DIAGRAM if _uses_diagram(demo) else NO_DIAGRAM)
    for week_end in (date(2027, 4, 11), date(2027, 4, 18), date(2027, 4, 25), date(2027, 4, 30)):
        _log_week(demo, week_end, first_day=HOME_ON)
    demo.check_equal(_visit_hours(demo, date(2027, 4, 1), date(2027, 4, 30)), Decimal("25.00"), "hours on the April communication sheet")


def _uses_diagram(demo: Demo) -> bool:
    return DIAGRAM in demo.values["deployed"]


def _start_package_instance(demo: Demo) -> None:
    """Start the package's care_package instance, unless the enquiry's confirmation already started it."""
    reference = package_reference(demo.ids["package"])
    running = demo.engine.list_instances(process_id="care_package", business_key=reference)
    if not running:
        with demo.session_factory.begin() as session:
            start_package_instance(session, demo.ids["package"], actor="demo")
        demo.settle()
        running = demo.engine.list_instances(process_id="care_package", business_key=reference)

    demo.check_equal(len(running), 1, f"one care_package instance {reference}")
    demo.values["package_instance"] = running[0].id
    demo.say("system", f"care package {reference} started, waiting for the provider's home assessment")


def _send_package_message(demo: Demo, name: str, payload: dict) -> None:
    delivered = demo.engine.send_message(name, payload, business_key=package_reference(demo.ids["package"]), actor="demo")
    demo.check_equal(delivered, [demo.values["package_instance"]], f"{name} delivered to the care package instance")
    demo.settle()


def _log_week(demo: Demo, week_end: date, first_day: date | None = None) -> None:
    """Log one one-hour visit a day for the days from the Monday of ``week_end``'s week (or ``first_day``) to ``week_end``."""
    monday = week_end - timedelta(days=week_end.weekday())
    start = max(monday, first_day or monday, date(week_end.year, week_end.month, 1))
    demo.at(datetime.combine(week_end, time(18, 0), tzinfo=clock.LONDON))
    with demo.session_factory.begin() as session:
        day = start
        while day <= week_end:
            log_visit(
                session,
                demo.ids["package"],
                visit_on=day,
                recorded_by_id=demo.ids["brightwater_user"],
                start_time=VISIT_START,
                end_time=VISIT_END,
                carer_initials="JE",
                observations="Visit completed as planned",
            )
            day += timedelta(days=1)
    count = (week_end - start).days + 1
    demo.say(ACTORS["brightwater"], f"logged {count} one-hour visits from the carers' rota, {day_text(start)} to {day_text(week_end)}")


def _visit_hours(demo: Demo, first: date, last: date) -> Decimal:
    total = demo.scalar(
        sa.select(sa.func.sum(Visit.duration_hours)).where(Visit.package_id == demo.ids["package"], Visit.visit_on >= first, Visit.visit_on <= last)
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


def _provider_email(demo: Demo) -> str:
    with demo.session_factory() as session:
        return provider_contact_email(session, demo.ids["brightwater_provider"])


def _queue_package_email(demo: Demo, session, template: str, variables: dict) -> None:
    # These are the emails care_package.bpmn sends, written by the demo when that diagram is not deployed.
    queue_email(
        session,
        to=provider_contact_email(session, demo.ids["brightwater_provider"]),
        template=template,
        context={"provider_name": NAMES["brightwater"], "enquiry_reference": demo.values["enquiry_reference"], **variables},
        link_path=f"/provider/enquiries/{demo.ids['enquiry']}",
        idempotency_key=f"demo:package:{demo.ids['package']}:{template}",
        base_url=demo.services.handler_settings.public_base_url,
    )
