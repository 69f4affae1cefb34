"""Deploying diagrams: lint, then store each file once (by content hash) and a new version per process."""

import hashlib
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.errors import DiagramError
from engine.lint_types import LintProblem
from engine.models import Deployment, ProcessVersion
from engine.parser import CareParser
from engine.serializer import spec_to_json
from engine.xmlsafe import parse_xml

log = logging.getLogger(__name__)


@dataclass
class DeployResult:
    """The outcome of a deploy: versions created, and files skipped because they were already deployed."""

    created: list[tuple[str, int]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[LintProblem] = field(default_factory=list)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def executable_process_ids(root) -> list[tuple[str, str | None]]:
    """Return (id, name) of each executable process in a parsed diagram."""
    processes = root.xpath("//bpmn:process", namespaces={"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"})
    return [(node.get("id"), node.get("name")) for node in processes if node.get("isExecutable", "true") == "true"]


def _latest_sources(session: Session, excluding: set[str]) -> dict[str, bytes]:
    """Return the newest deployed bytes of every other file, so call activities across files resolve."""
    newest = sa.select(Deployment.source_name, sa.func.max(Deployment.id).label("id")).group_by(Deployment.source_name).subquery()
    rows = session.execute(sa.select(Deployment.source_name, Deployment.bpmn_xml).join(newest, Deployment.id == newest.c.id))
    return {name: xml.encode() for name, xml in rows if name not in excluding}


def deploy_documents(session: Session, documents: dict[str, bytes], actor: str, problems: list[LintProblem]) -> DeployResult:
    """Store new files and versions; ``problems`` is the lint result, and any error there stops the deploy."""
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors:
        raise DiagramError(errors)

    result = DeployResult(warnings=[problem for problem in problems if problem.severity != "error"])
    new_files = {}
    for name, data in documents.items():
        digest = content_hash(data)
        if session.scalar(sa.select(Deployment.id).where(Deployment.content_hash == digest)) is not None:
            result.unchanged.append(name)
        else:
            new_files[name] = (data, digest)
    if not new_files:
        return result

    parser = CareParser()
    roots = {}
    for name, data in {**_latest_sources(session, set(documents)), **documents}.items():
        roots[name] = parse_xml(data, name)
        parser.add_bpmn_xml(roots[name], filename=name)

    now = clock.now()
    for name, (data, digest) in new_files.items():
        deployment = Deployment(source_name=name, content_hash=digest, bpmn_xml=data.decode("utf-8"), deployed_at=now, deployed_by=actor)
        session.add(deployment)
        for process_id, process_name in executable_process_ids(roots[name]):
            try:
                spec = parser.get_spec(process_id)
                subprocess_specs = parser.get_subprocess_specs(process_id)
            except ValidationException as error:
                raise DiagramError([LintProblem(name, getattr(error, "id", None), str(error), getattr(error, "line_number", None))]) from error
            latest = session.scalar(sa.select(sa.func.max(ProcessVersion.version)).where(ProcessVersion.process_id == process_id)) or 0
            spec_json = spec_to_json(spec, subprocess_specs)
            session.add(
                ProcessVersion(
                    deployment=deployment,
                    process_id=process_id,
                    name=process_name,
                    version=latest + 1,
                    spec_json=spec_json,
                    spec_hash=content_hash(spec_json.encode("utf-8")),
                    created_at=now,
                )
            )
            result.created.append((process_id, latest + 1))
            audit.record(session, "process.deployed", actor, process_id=process_id, version=latest + 1, source=name, content_hash=digest)
        log.info("deployed %s (%s) by %s", name, digest[:12], actor)
    return result
