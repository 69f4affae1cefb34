"""The append-only audit log: one row per change, with ids and field names but never task values."""

import logging

from sqlalchemy.orm import Session

from engine import clock, writes

log = logging.getLogger(__name__)


def record(session: Session, kind: str, actor: str, *, instance_id: str | None = None, task_id: str | None = None, **detail) -> None:
    """Queue an audit event in the session's transaction; it commits with the change it describes."""
    writes.pending(session).audit.append({"at": clock.now(), "actor": actor, "kind": kind, "instance_id": instance_id, "task_id": task_id, "detail": detail})
    log.debug("audit %s by %s instance=%s task=%s", kind, actor, instance_id, task_id)
