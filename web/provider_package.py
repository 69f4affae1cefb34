"""Provider pages for care packages: the list, one package with its history, and reporting changes, absences and visits.

Changes and absences are messages to the package's care_package instance; a visit is a direct write to the
communication sheet, which is not a process step.
"""

import logging

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from care import packages as care_packages
from care.delivery import package_reference
from care.errors import CareError, InvalidValueError, NotFoundError
from care.models.packages import PackageStatus
from care.portal import package_visits, provider_package, provider_packages
from engine import audit
from engine.errors import MessageNotDeliveredError
from web.access import PROVIDER_USER, own_provider_id, roles_required, services
from web.paging import fetch_page, page_number
from web.portal_forms import ChangeRequestForm, ResumeForm, SuspendForm, VisitForm
from web.provider_account import show_domain_error

log = logging.getLogger(__name__)

blueprint = Blueprint("provider_package", __name__, url_prefix="/provider/packages")

VISITS_SHOWN = 50


def _forms(submitted: str | None = None) -> dict:
    """Return the four action forms of the package page; only the ``submitted`` one reads the posted data."""
    classes = {"change": ChangeRequestForm, "suspend": SuspendForm, "resume": ResumeForm, "visit": VisitForm}
    return {name: form_class(prefix=name) if name == submitted else form_class(prefix=name, formdata=None) for name, form_class in classes.items()}


@blueprint.get("")
@roles_required(PROVIDER_USER)
def packages():
    provider_id = own_provider_id()
    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: provider_packages(db, provider_id, limit=limit, offset=offset), page_number())
        rows = [(package, package.service_user.reference) for package in page.items]

    return render_template("provider/packages.html", page=page, rows=rows)


def _package_page(package_id: int, forms: dict, status: int = 200):
    """Render one of the provider's packages with the service user's details; every view is audited."""
    provider_id = own_provider_id()
    with services().session_factory.begin() as db:
        try:
            package = provider_package(db, package_id, provider_id)
        except NotFoundError:
            log.warning("user %s (provider %s) was refused care package %s", current_user.id, provider_id, package_id)
            abort(403)
        audit.record(db, "service_user.viewed", str(current_user.id), service_user_id=package.service_user_id, package_id=package.id, page="provider_package.package")
        person = package.service_user
        history = list(package.status_history)
        change_requests = list(package.change_requests)
        visits = package_visits(db, package.id, limit=VISITS_SHOWN, offset=0)
        db.expunge_all()

    return (
        render_template(
            "provider/package.html",
            package=package,
            person=person,
            history=history,
            change_requests=change_requests,
            visits=visits,
            forms=forms,
            active=package.status == PackageStatus.ACTIVE,
            suspended=package.status == PackageStatus.SUSPENDED,
        ),
        status,
    )


@blueprint.get("/<int:package_id>")
@roles_required(PROVIDER_USER)
def package(package_id: int):
    return _package_page(package_id, _forms())


def _validated_form(package_id: int, name: str):
    """Return the ``name`` form and its forms dict, or the response that shows its field errors; a bad CSRF token is a 400."""
    forms = _forms(name)
    form = forms[name]
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return forms, form, _package_page(package_id, forms, 422)

    return forms, form, None


def _act(package_id: int, name: str, action, success: str):
    """Validate the ``name`` form and run ``action(db, form)`` on the provider's own package, showing errors beside the fields."""
    provider_id = own_provider_id()
    forms, form, invalid = _validated_form(package_id, name)
    if invalid is not None:
        return invalid

    try:
        with services().session_factory.begin() as db:
            provider_package(db, package_id, provider_id)
            action(db, form)
    except NotFoundError:
        abort(403)
    except InvalidValueError as error:
        show_domain_error(form, error)
        return _package_page(package_id, forms, 422)
    except CareError as error:
        log.info("user %s: %s on care package %s rejected: %s", current_user.id, name, package_id, type(error).__name__)
        flash(f"Nothing was changed: the package's status does not allow this ({error}).", "error")
        return redirect(url_for("provider_package.package", package_id=package_id))

    log.info("user %s: %s recorded on care package %s", current_user.id, name, package_id)
    flash(success, "info")
    return redirect(url_for("provider_package.package", package_id=package_id))


def _send(package_id: int, name: str, check, message: str, payload_of, success: str):
    """Validate the ``name`` form, check it with the care rules, then send ``message`` to the package's care_package instance.

    ``check(db, form)`` applies the change in a transaction that is rolled back, so a value the
    care rules reject is shown beside its field here, not turned into an incident in the worker.
    The worker makes the change itself when it runs the service task the message leads to.
    """
    provider_id = own_provider_id()
    forms, form, invalid = _validated_form(package_id, name)
    if invalid is not None:
        return invalid

    try:
        with services().session_factory() as db:
            provider_package(db, package_id, provider_id)
            check(db, form)
            db.rollback()
    except NotFoundError:
        abort(403)
    except InvalidValueError as error:
        show_domain_error(form, error)
        return _package_page(package_id, forms, 422)
    except CareError as error:
        log.info("user %s: %s on care package %s rejected: %s", current_user.id, name, package_id, type(error).__name__)
        flash(f"Nothing was changed: the package's status does not allow this ({error}).", "error")
        return redirect(url_for("provider_package.package", package_id=package_id))

    try:
        services().engine.send_message(message, payload_of(form), business_key=package_reference(package_id), actor=str(current_user.id))
    except MessageNotDeliveredError:
        log.warning("user %s: %s on care package %s not delivered: no instance waits for it", current_user.id, message, package_id)
        flash(
            "Nothing was changed: the package's process is not ready for this report. "
            "If you reported something else a moment ago, wait a minute and send it again; otherwise contact the council.",
            "error",
        )
        return redirect(url_for("provider_package.package", package_id=package_id))

    log.info("user %s: %s sent for care package %s", current_user.id, message, package_id)
    flash(success, "info")
    return redirect(url_for("provider_package.package", package_id=package_id))


def _optional_text(value) -> str | None:
    return str(value) if value is not None else None


@blueprint.post("/<int:package_id>/change-request")
@roles_required(PROVIDER_USER)
def request_change(package_id: int):
    def check(db, form):
        care_packages.request_change(
            db, package_id, reason=form.reason.data, requested_by_id=current_user.id, hours_per_week=form.hours_per_week.data, unit_price=form.unit_price.data
        )

    def payload(form):
        return {
            "requested_hours_per_week": _optional_text(form.hours_per_week.data),
            "requested_unit_price": _optional_text(form.unit_price.data),
            "change_reason": form.reason.data,
            "requested_by_id": current_user.id,
        }

    return _send(package_id, "change", check, "package_change_requested", payload, "Your change request is sent to the care manager for review.")


# NOTE: the care_package diagram's suspend and resume topics take no note, so the optional note is
# kept only in the instance's message payload; the package's status history does not show it.
@blueprint.post("/<int:package_id>/suspend")
@roles_required(PROVIDER_USER)
def suspend(package_id: int):
    def check(db, form):
        care_packages.suspend_package(db, package_id, reason=form.reason.data, effective_on=form.effective_on.data, changed_by_id=current_user.id, note=form.note.data or None)

    def payload(form):
        return {
            "suspension_reason": form.reason.data,
            "suspended_from": form.effective_on.data.isoformat(),
            "reported_by_id": current_user.id,
            "note": form.note.data or None,
        }

    return _send(package_id, "suspend", check, "package_suspended", payload, "The absence is reported. Within a minute the package shows as suspended, with payments paused from that day.")


@blueprint.post("/<int:package_id>/resume")
@roles_required(PROVIDER_USER)
def resume(package_id: int):
    def check(db, form):
        care_packages.resume_package(db, package_id, effective_on=form.effective_on.data, changed_by_id=current_user.id, note=form.note.data or None)

    def payload(form):
        return {"resumed_from": form.effective_on.data.isoformat(), "reported_by_id": current_user.id, "note": form.note.data or None}

    return _send(package_id, "resume", check, "package_resumed", payload, "The return is reported. Within a minute the package shows as active again, with payments resumed from that day.")


@blueprint.post("/<int:package_id>/visits")
@roles_required(PROVIDER_USER)
def log_visit(package_id: int):
    def action(db, form):
        care_packages.log_visit(
            db,
            package_id,
            visit_on=form.visit_on.data,
            recorded_by_id=current_user.id,
            start_time=form.start_time.data,
            end_time=form.end_time.data,
            duration_hours=form.duration_hours.data,
            carer_initials=form.carer_initials.data or None,
            observations=form.observations.data or None,
        )

    return _act(package_id, "visit", action, "The visit is added to the communication sheet.")
