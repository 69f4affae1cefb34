"""Demo stage 6: the provider's assessment, visits on the communication sheet and a hospital stay that suspends the package."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from care.journey import provider_contact_email
from care.models.packages import Assessment, CarePackage, PackageStatusChange, Visit
from care.packages import log_visit, record_assessment, resume_package, suspend_package
from careplace.demo_enquiry import ACTORS, NAMES
from careplace.demo_support import Demo, day_text, london
from engine import clock
from handlers.email import queue_email

NO_DIAGRAM = "care_package.bpmn is not deployed, so this stage calls the care functions directly and queues the emails itself"
VISIT_START = time(8, 0)
VISIT_END = time(9, 0)
# The service user went into hospital on this day, and the provider reported it a week later.
ADMITTED_ON = date(2027, 3, 26)
HOME_ON = date(2027, 4, 6)


def deliver_march(demo: Demo) -> None:
    """Record the assessment and the March visits, logged each week from the carers' rota."""
    demo.begin_stage("Stage 6: deliver service (March)", NO_DIAGRAM)
    package_id = demo.ids["package"]
    provider_user = demo.ids["brightwater_user"]

    demo.at(london(2027, 3, 1, 12, 0))
    with demo.session_factory.begin() as session:
        record_assessment(
            session,
            package_id,
            recorded_by_id=provider_user,
            completed_at=clock.now(),
            environment="Ground-floor flat; clear access",
            mobility="Walks with a frame",
            religious_cultural_needs="None recorded",
            standard_points={"consent": True, "medication": "prompt only", "risk_assessment": True},
        )
    demo.say(ACTORS["brightwater"], "recorded its assessment at the service user's home")
    demo.check_equal(demo.scalar(sa.select(sa.func.count()).select_from(Assessment).where(Assessment.package_id == package_id)), 1, "assessments on record")

    for week_end in (date(2027, 3, 7), date(2027, 3, 14), date(2027, 3, 21), date(2027, 3, 28), date(2027, 3, 31)):
        _log_week(demo, week_end)
    demo.check_equal(_visit_hours(demo, date(2027, 3, 1), date(2027, 3, 31)), Decimal("31.00"), "hours on the March communication sheet")


def hospital_stay(demo: Demo) -> None:
    """Suspend the package from the admission day, reported late, and resume it when the service user is home."""
    demo.begin_stage("Stage 6: hospital stay", NO_DIAGRAM)
    package_id = demo.ids["package"]
    provider_user = demo.ids["brightwater_user"]

    demo.at(london(2027, 4, 2, 11, 0))
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


def deliver_april(demo: Demo) -> None:
    """Log the April visits from the day the service user came home."""
    demo.begin_stage("Stage 6: deliver service (April)", NO_DIAGRAM)
    for week_end in (date(2027, 4, 11), date(2027, 4, 18), date(2027, 4, 25), date(2027, 4, 30)):
        _log_week(demo, week_end, first_day=HOME_ON)
    demo.check_equal(_visit_hours(demo, date(2027, 4, 1), date(2027, 4, 30)), Decimal("25.00"), "hours on the April communication sheet")


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
    # NOTE: care_package.bpmn is meant to send these emails. Until it is deployed, the demo writes them to the outbox.
    queue_email(
        session,
        to=provider_contact_email(session, demo.ids["brightwater_provider"]),
        template=template,
        context={"provider_name": NAMES["brightwater"], "enquiry_reference": demo.values["enquiry_reference"], **variables},
        link_path=f"/provider/enquiries/{demo.ids['enquiry']}",
        idempotency_key=f"demo:package:{demo.ids['package']}:{template}",
        base_url=demo.services.handler_settings.public_base_url,
    )
