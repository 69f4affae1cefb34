"""The append-only audit log: one row per change, with ids and field names but never task values."""

import logging

from sqlalchemy.orm import Session

from engine import clock
from engine.models import AuditEvent

log = logging.getLogger(__name__)


def record(session: Session, kind: str, actor: str, *, instance_id: str | None = None, task_id: str | None = None, **detail) -> None:
    """Add an audit event to the session; it commits with the change it describes."""
    session.add(AuditEvent(at=clock.now(), actor=actor, kind=kind, instance_id=instance_id, task_id=task_id, detail=detail))
    log.debug("audit %s by %s instance=%s task=%s", kind, actor, instance_id, task_id)
