"""Diagram pages drawn by bpmn-js: an instance's state on its diagram, a version's diagram, and the in-browser editor that deploys."""

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask_login import current_user
from werkzeug.utils import secure_filename

from engine.deploy import executable_process_ids
from engine.errors import DiagramError, NotFoundError
from engine.models import Deployment, ProcessVersion
from engine.xmlsafe import parse_xml
from web.access import ADMIN, ANALYST, roles_required, services

log = logging.getLogger(__name__)

blueprint = Blueprint("diagrams", __name__, url_prefix="/admin")

# The name a new diagram is saved under when its XML has no executable process to name it after.
FALLBACK_FILE_NAME = "diagram.bpmn"
XML_MIMETYPE = "application/xml"


@dataclass(frozen=True)
class VersionSource:
    """A deployed process version and the BPMN file it came from."""

    process_id: str
    version: int
    name: str | None
    source_name: str
    bpmn_xml: str


def _version_source(*conditions) -> VersionSource | None:
    query = (
        sa.select(ProcessVersion.process_id, ProcessVersion.version, ProcessVersion.name, Deployment.source_name, Deployment.bpmn_xml)
        .join(Deployment, Deployment.id == ProcessVersion.deployment_id)
        .where(*conditions)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    with services().session_factory() as session:
        row = session.execute(query).first()

    return VersionSource(*row) if row is not None else None


def _instance_source(instance_id: str) -> VersionSource:
    """Return the version an instance runs on, or raise NotFoundError (a 404 page) for an unknown instance."""
    instance = services().engine.get_instance(instance_id)
    source = _version_source(ProcessVersion.id == instance.version_id)
    if source is None:
        raise NotFoundError("process version", instance.version_id)

    return source


def _required_version(process_id: str, version: int) -> VersionSource:
    source = _version_source(ProcessVersion.process_id == process_id, ProcessVersion.version == version)
    if source is None:
        raise NotFoundError("process version", f"{process_id} version {version}")

    return source


def _xml_response(source: VersionSource) -> Response:
    response = Response(source.bpmn_xml, mimetype=XML_MIMETYPE)
    response.headers["Content-Disposition"] = f'inline; filename="{secure_filename(source.source_name) or FALLBACK_FILE_NAME}"'
    return response


# Instance state


@blueprint.get("/instances/<instance_id>/diagram")
@roles_required(ADMIN)
def instance_diagram(instance_id: str):
    source = _instance_source(instance_id)
    return render_template(
        "diagrams/instance.html",
        instance=services().engine.get_instance(instance_id),
        source=source,
        xml_url=url_for("diagrams.instance_xml", instance_id=instance_id),
        elements_url=url_for("diagrams.instance_elements", instance_id=instance_id),
    )


@blueprint.get("/instances/<instance_id>/diagram.xml")
@roles_required(ADMIN)
def instance_xml(instance_id: str):
    return _xml_response(_instance_source(instance_id))


@blueprint.get("/instances/<instance_id>/elements.json")
@roles_required(ADMIN)
def instance_elements(instance_id: str):
    """Return the instance's element ids by state (completed, active, waiting, error)."""
    return jsonify(services().engine.instance_elements(instance_id))


# Deployed versions


@blueprint.get("/processes/<process_id>/versions/<int:version>/diagram")
@roles_required(ANALYST, ADMIN)
def version_diagram(process_id: str, version: int):
    source = _required_version(process_id, version)
    return render_template("diagrams/version.html", source=source, xml_url=url_for("diagrams.version_xml", process_id=process_id, version=version))


@blueprint.get("/processes/<process_id>/versions/<int:version>/diagram.xml")
@roles_required(ANALYST, ADMIN)
def version_xml(process_id: str, version: int):
    return _xml_response(_required_version(process_id, version))


# Editor


@blueprint.get("/processes/editor")
@roles_required(ANALYST, ADMIN)
def editor():
    """Open the newest version of ``?process_id=`` in the modeller, or a blank diagram without it."""
    process_id = request.args.get("process_id") or None
    source = None
    xml_url = None
    if process_id is not None:
        source = _version_source(ProcessVersion.process_id == process_id)
        if source is None:
            raise NotFoundError("process", process_id)
        xml_url = url_for("diagrams.version_xml", process_id=source.process_id, version=source.version)

    return render_template("diagrams/editor.html", source=source, xml_url=xml_url, save_url=url_for("diagrams.save"))


def _file_name_for(requested: str | None, xml: bytes) -> str:
    """Return a safe .bpmn file name: the requested one, else the first executable process id in the XML."""
    name = secure_filename(requested or "")
    if name:
        return name if name.lower().endswith(".bpmn") else f"{name}.bpmn"

    try:
        processes = executable_process_ids(parse_xml(xml, FALLBACK_FILE_NAME))
    except DiagramError:
        # The lint reports the same parse error against this name, so the editor shows it.
        return FALLBACK_FILE_NAME
    if not processes:
        return FALLBACK_FILE_NAME
    return secure_filename(f"{processes[0][0]}.bpmn") or FALLBACK_FILE_NAME


def _problem_json(problem) -> dict:
    return {**problem.as_dict(), "text": str(problem)}


@blueprint.post("/processes/editor")
@roles_required(ANALYST, ADMIN)
def save():
    """Lint the posted diagram and, when ``action`` is ``deploy`` and the lint found no error, deploy it.

    The body is JSON: ``xml`` (the BPMN 2.0 XML), optional ``file_name`` and
    ``action`` (``deploy``, the default, or ``lint``). The CSRF token comes
    in the ``X-CSRFToken`` header. Lint errors return 422 and deploy nothing.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str) or not body["xml"].strip():
        return jsonify(error="Send a JSON object with the diagram's BPMN XML in \"xml\"."), 400
    action = body.get("action", "deploy")
    if action not in ("deploy", "lint"):
        return jsonify(error=f"Unknown action {action!r}: use \"deploy\" or \"lint\"."), 400

    xml = body["xml"].encode("utf-8")
    file_name = _file_name_for(body.get("file_name") if isinstance(body.get("file_name"), str) else None, xml)
    engine = services().engine

    if action == "lint":
        problems = engine.lint({file_name: xml})
        has_errors = any(problem.severity == "error" for problem in problems)
        return jsonify(file_name=file_name, deployed=False, problems=[_problem_json(problem) for problem in problems]), 422 if has_errors else 200

    try:
        result = engine.deploy({file_name: xml}, str(current_user.id))
    except DiagramError as error:
        log.info("editor deploy of %s by user %s rejected with %d lint errors", file_name, current_user.id, len(error.problems))
        return jsonify(file_name=file_name, deployed=False, problems=[_problem_json(problem) for problem in error.problems]), 422

    log.info("user %s deployed %s from the editor: %s", current_user.id, file_name, ", ".join(f"{process_id} v{version}" for process_id, version in result.created) or "nothing new")
    return jsonify(
        file_name=file_name,
        deployed=bool(result.created),
        created=[{"process_id": process_id, "version": version} for process_id, version in result.created],
        unchanged=result.unchanged,
        problems=[_problem_json(problem) for problem in result.warnings],
    )
