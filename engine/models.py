"""Engine tables: deployments, versions, instances, human tasks, message waits, jobs, incidents, audit."""

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class UtcDateTime(sa.types.TypeDecorator):
    """An aware UTC date-time on every database; SQLite would otherwise return naive values."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class Deployment(Base):
    """One uploaded BPMN file, immutable and keyed by the SHA-256 of its bytes."""

    __tablename__ = "engine_deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_name: Mapped[str] = mapped_column(sa.String(255))
    content_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    bpmn_xml: Mapped[str] = mapped_column(sa.Text)
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deployed_by: Mapped[str] = mapped_column(sa.String(120))

    versions: Mapped[list["ProcessVersion"]] = relationship(back_populates="deployment")


class ProcessVersion(Base):
    """An executable process from a deployment, with its parsed spec serialized once."""

    __tablename__ = "engine_process_versions"
    __table_args__ = (sa.UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(sa.ForeignKey("engine_deployments.id"), index=True)
    process_id: Mapped[str] = mapped_column(sa.String(200), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(255))
    version: Mapped[int] = mapped_column(sa.Integer)
    spec_json: Mapped[str] = mapped_column(sa.Text)
    # SHA-256 of spec_json; it keys the in-process cache of built specs.
    spec_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    deployment: Mapped[Deployment] = relationship(back_populates="versions")


class Instance(Base):
    """A running or finished process instance; ``state`` is SpiffWorkflow's JSON without the spec."""

    __tablename__ = "engine_instances"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("engine_process_versions.id"), index=True)
    process_id: Mapped[str] = mapped_column(sa.String(200), index=True)
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    state: Mapped[str] = mapped_column(sa.Text)
    next_timer_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_by: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    row_version: Mapped[int] = mapped_column(sa.Integer, nullable=False)

    version: Mapped[ProcessVersion] = relationship()

    __mapper_args__ = {"version_id_col": row_version}


class HumanTask(Base):
    """A user task as people query it; kept in step with the instance state on every save."""

    __tablename__ = "engine_human_tasks"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("engine_instances.id", ondelete="CASCADE"), index=True)
    process_id: Mapped[str] = mapped_column(sa.String(200))
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    element_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str | None] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    assignee: Mapped[str | None] = mapped_column(sa.String(120), index=True)
    candidate_groups: Mapped[str] = mapped_column(sa.String(500), default="")
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_by: Mapped[str | None] = mapped_column(sa.String(120))

    candidates: Mapped[list["TaskCandidate"]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class TaskCandidate(Base):
    """One candidate group of an open human task, indexed for 'tasks for my groups'."""

    __tablename__ = "engine_task_candidates"

    task_id: Mapped[str] = mapped_column(sa.ForeignKey("engine_human_tasks.id", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(sa.String(120), primary_key=True, index=True)


class MessageWait(Base):
    """An instance waiting for a named message, with the correlation values it can be found by."""

    __tablename__ = "engine_message_waits"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("engine_instances.id", ondelete="CASCADE"), index=True)
    message_name: Mapped[str] = mapped_column(sa.String(200), index=True)
    correlation: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class Job(Base):
    """A service task waiting for the worker, with its retry schedule and lease."""

    __tablename__ = "engine_jobs"
    __table_args__ = (
        sa.UniqueConstraint("instance_id", "task_id"),
        sa.Index("ix_engine_jobs_due", "status", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("engine_instances.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    element_id: Mapped[str] = mapped_column(sa.String(200))
    topic: Mapped[str] = mapped_column(sa.String(200), index=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    retry_intervals: Mapped[list] = mapped_column(sa.JSON, default=list)
    next_run_at: Mapped[datetime] = mapped_column(UtcDateTime())
    locked_by: Mapped[str | None] = mapped_column(sa.String(120))
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Incident(Base):
    """A job whose retries ran out (or a failure nothing caught), waiting for an operator."""

    __tablename__ = "engine_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("engine_instances.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("engine_jobs.id", ondelete="SET NULL"))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    element_id: Mapped[str | None] = mapped_column(sa.String(200))
    topic: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(sa.String(120))


class AuditEvent(Base):
    """An append-only record of one change: who, when, what, and the ids involved (never task data)."""

    __tablename__ = "engine_audit_events"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(60), index=True)
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
