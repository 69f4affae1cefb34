"""Scheduler tables: one row per calendar trigger sent, so each period's message is sent exactly once."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.models import NAMING, UtcDateTime


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class SchedulerTrigger(Base):
    """A calendar message sent for one period of one job, inserted in the transaction that sent it.

    The unique constraint on (job_name, period_key) is what makes a trigger fire once: a second
    scheduler that reaches the same period finds the row and sends nothing.
    """

    __tablename__ = "scheduler_triggers"
    __table_args__ = (sa.UniqueConstraint("job_name", "period_key", name="uq_scheduler_triggers_job_name_period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(sa.String(60))
    # The period the message covers, such as "2027-01-04/2027-01-31" (an ISO 8601 interval) or "2026-27".
    period_key: Mapped[str] = mapped_column(sa.String(60))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fired_by: Mapped[str] = mapped_column(sa.String(200))
    instance_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
