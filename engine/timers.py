"""Firing due timers: select only instances whose earliest timer is due, lock each, refresh and save."""

import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, clock
from engine.models import Instance
from engine.steps import advance
from engine.store import load, save

log = logging.getLogger(__name__)

STUCK_TIMER_DELAY = timedelta(minutes=1)


def due_instance_ids(session: Session, *, limit: int) -> list[str]:
    """Lock and return up to ``limit`` running instances whose next timer is due (SKIP LOCKED on PostgreSQL)."""
    query = (
        sa.select(Instance.id)
        .where(Instance.next_timer_at <= clock.now(), Instance.status == "running")
        .order_by(Instance.next_timer_at)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def fire_due_timers(session_factory: sessionmaker[Session], *, actor: str = "scheduler", batch_size: int = 50, max_batches: int | None = None) -> int:
    """Fire every due timer and return how many instances were woken.

    Each batch is one transaction holding row locks on its instances, so two
    workers never fire the same timer: the second skips the locked rows and,
    after the first commits, reads the next due time moved on.
    """
    woken = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        with session_factory.begin() as session:
            ids = due_instance_ids(session, limit=batch_size)
            if not ids:
                break
            for instance_id in ids:
                _fire(session, instance_id, actor)
        woken += len(ids)
        batches += 1
    return woken


def _fire(session: Session, instance_id: str, actor: str) -> None:
    loaded = load(session, instance_id)
    due = loaded.row.next_timer_at
    loaded.workflow.refresh_timers()
    advance(session, loaded, actor)
    save(session, loaded)
    if loaded.row.next_timer_at is not None and due is not None and loaded.row.next_timer_at <= due:
        # A timer that refresh did not fire would be selected again forever: push it past now.
        log.warning("instance %s: timer due %s did not fire; rescheduling after now", instance_id, due.isoformat())
        loaded.row.next_timer_at = clock.now() + STUCK_TIMER_DELAY
    audit.record(session, "timer.fired", actor, instance_id=instance_id, due=due.isoformat() if due else None)
    log.info("fired timer of instance %s (due %s)", instance_id, due.isoformat() if due else "-")
