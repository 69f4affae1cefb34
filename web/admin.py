"""Pages for analysts and administrators: process versions, diagram upload with lint and deploy, instances, incidents and the dev mailbox."""

import json
import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.utils import secure_filename

from engine.errors import DiagramError
from engine.jobs import cancel_incident, list_incidents, retry_incident
from handlers.outbox import list_outbox
from web.access import ADMIN, ANALYST, roles_required, services
from web.forms import CancelIncidentForm, DiagramUploadForm, RetryIncidentForm
from web.masking import mask_variables
from web.paging import fetch_page, page_number

log = logging.getLogger(__name__)

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

INSTANCE_STATUSES = ("running", "completed", "error", "cancelled")
INCIDENT_STATUSES = ("open", "resolved", "cancelled")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


@blueprint.get("/processes")
@roles_required(ANALYST, ADMIN)
def versions():
    return render_template("admin/versions.html", versions=services().engine.versions())


def _uploaded_documents() -> tuple[dict[str, bytes], list[str]]:
    """Return the uploaded .bpmn files by safe file name, and a message for each file that was refused."""
    documents: dict[str, bytes] = {}
    refused = []
    for upload in request.files.getlist("files"):
        name = secure_filename(upload.filename or "")
        if not name:
            continue
        if not name.lower().endswith(".bpmn"):
            refused.append(f"{name} is not a .bpmn file; export the diagram as BPMN 2.0 XML and upload that")
            continue
        documents[name] = upload.read()
    return documents, refused


@blueprint.route("/processes/deploy", methods=["GET", "POST"])
@roles_required(ANALYST, ADMIN)
def deploy():
    """Lint uploaded diagrams and deploy them when ``action`` is ``deploy`` and the lint found no error."""
    form = DiagramUploadForm()
    problems = []
    result = None
    refused: list[str] = []
    status = 200

    if form.validate_on_submit():
        documents, refused = _uploaded_documents()
        engine = services().engine
        if refused or not documents:
            status = 422
        elif request.form.get("action") == "deploy":
            try:
                result = engine.deploy(documents, str(current_user.id))
            except DiagramError as error:
                problems = error.problems
                status = 422
                log.info("deploy by user %s rejected with %d lint errors", current_user.id, len(problems))
            else:
                problems = result.warnings
                log.info("user %s deployed %s", current_user.id, ", ".join(f"{process_id} v{version}" for process_id, version in result.created) or "nothing new")
        else:
            problems = engine.lint(documents)
            if any(problem.severity == "error" for problem in problems):
                status = 422
    elif request.method == "POST":
        status = 422

    has_errors = any(problem.severity == "error" for problem in problems)
    return render_template("admin/deploy.html", form=form, problems=problems, has_errors=has_errors, result=result, refused=refused), status


@blueprint.get("/instances")
@roles_required(ADMIN)
def instances():
    filters = {key: request.args.get(key) or "" for key in ("process_id", "status", "business_key")}
    if filters["status"] and filters["status"] not in INSTANCE_STATUSES:
        abort(404)

    engine = services().engine
    page = fetch_page(
        lambda limit, offset: engine.list_instances(
            process_id=filters["process_id"] or None, status=filters["status"] or None, business_key=filters["business_key"] or None, limit=limit, offset=offset
        ),
        page_number(),
    )
    active = {key: value for key, value in filters.items() if value}
    return render_template("admin/instances.html", page=page, filters=filters, active_filters=active, statuses=INSTANCE_STATUSES)


@blueprint.get("/instances/<instance_id>")
@roles_required(ADMIN)
def instance(instance_id: str):
    engine = services().engine
    record = engine.get_instance(instance_id)
    variables = mask_variables(engine.instance_data(instance_id))
    return render_template(
        "admin/instance.html",
        instance=record,
        variables=json.dumps(variables, indent=2, sort_keys=True, default=str, ensure_ascii=False),
        elements=engine.instance_elements(instance_id),
        history=engine.history(instance_id),
    )


@blueprint.get("/incidents")
@roles_required(ADMIN)
def incidents():
    status = request.args.get("status", "open")
    if status not in INCIDENT_STATUSES and status != "all":
        abort(404)

    session_factory = services().session_factory
    page = fetch_page(lambda limit, offset: list_incidents(session_factory, status=None if status == "all" else status, limit=limit, offset=offset), page_number())
    return render_template(
        "admin/incidents.html", page=page, status=status, statuses=INCIDENT_STATUSES, retry_form=RetryIncidentForm(), cancel_form=CancelIncidentForm()
    )


@blueprint.post("/incidents/<int:incident_id>/retry")
@roles_required(ADMIN)
def retry(incident_id: int):
    form = RetryIncidentForm()
    if not form.validate_on_submit():
        abort(400)

    data = None
    if form.variables.data and form.variables.data.strip():
        try:
            data = json.loads(form.variables.data)
        except json.JSONDecodeError as error:
            flash(f"Incident {incident_id} was not retried: the corrected variables are not valid JSON ({error.msg} at column {error.colno}). Write an object such as {{\"hours\": 10}}.", "error")
            return redirect(url_for("admin.incidents"))
        if not isinstance(data, dict):
            flash(f"Incident {incident_id} was not retried: the corrected variables must be a JSON object such as {{\"hours\": 10}}.", "error")
            return redirect(url_for("admin.incidents"))

    retry_incident(services().session_factory, incident_id, str(current_user.id), data)
    log.info("user %s retried incident %s", current_user.id, incident_id)
    flash(f"Incident {incident_id} is being retried.", "info")
    return redirect(url_for("admin.incidents"))


@blueprint.post("/incidents/<int:incident_id>/cancel")
@roles_required(ADMIN)
def cancel(incident_id: int):
    form = CancelIncidentForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(f"Incident {incident_id} was not closed: give a reason.", "error")
        return redirect(url_for("admin.incidents"))

    cancel_incident(services().session_factory, incident_id, str(current_user.id), form.reason.data)
    log.info("user %s closed incident %s without a retry", current_user.id, incident_id)
    flash(f"Incident {incident_id} is closed without a retry.", "info")
    return redirect(url_for("admin.incidents"))


@blueprint.get("/mailbox")
@roles_required(ADMIN)
def mailbox():
    """List the outbox emails; only in the embedded mode, where no SMTP server delivers them."""
    if not current_app.config["CAREPLACE_EMBEDDED"]:
        abort(404)
    status = request.args.get("status") or None
    if status is not None and status not in OUTBOX_STATUSES:
        abort(404)

    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: list_outbox(db, status, limit=limit, offset=offset), page_number())

    return render_template("admin/mailbox.html", page=page, status=status or "", statuses=OUTBOX_STATUSES)
