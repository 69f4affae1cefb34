"""Messaging tables: the transactional email outbox and in-app notifications."""

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from care.models.base import Base

EMAIL_STATUSES = ("pending", "sending", "sent", "failed")


class UtcDateTime(sa.TypeDecorator):
    """An aware UTC datetime on every database: SQLite stores it naive, so UTC is attached on load."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None

        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime such as engine.clock.now()")

        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None

        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)

        return value.astimezone(timezone.utc)


class OutboxEmail(Base):
    """One email written in the transaction of the change that caused it, delivered later over SMTP.

    ``next_attempt_at`` is when a ``pending`` email is due. While an email is
    ``sending``, it is the end of the deliverer's lease, and after that time
    another deliverer may claim the email again.
    """

    __tablename__ = "outbox_emails"
    __table_args__ = (
        sa.Index("ix_outbox_emails_due", "status", "next_attempt_at"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recipient: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    template: Mapped[str] = mapped_column(sa.String(80))
    link: Mapped[str | None] = mapped_column(sa.String(2000))
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    task_id: Mapped[str | None] = mapped_column(sa.String(36))


class Notification(Base):
    """A message shown in Care Place to one user or to every user of one provider."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_unread", "recipient_user_id", "read_at"),
        sa.Index("ix_notifications_provider_unread", "recipient_provider_id", "read_at"),
        sa.CheckConstraint(
            "(recipient_user_id IS NULL) <> (recipient_provider_id IS NULL)",
            name="one_recipient",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recipient_user_id: Mapped[int | None] = mapped_column(sa.Integer)
    recipient_provider_id: Mapped[int | None] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.String(2000))
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    read_by_user_id: Mapped[int | None] = mapped_column(sa.Integer)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)


def insert_once(session: Session, model: type[OutboxEmail] | type[Notification], values: dict) -> int:
    """Insert a row unless one with the same ``idempotency_key`` exists, and return the row's id either way.

    INSERT ... ON CONFLICT DO NOTHING needs no savepoint, so the row joins the
    caller's transaction unchanged on SQLite too, where pysqlite would turn a
    savepoint taken outside a transaction into its own commit.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(model)
    elif dialect == "sqlite":
        statement = sqlite.insert(model)
    else:
        raise NotImplementedError(f"database {dialect!r} is not supported: use SQLite or PostgreSQL")

    statement = statement.values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(model.id)
    row_id = session.execute(statement).scalar_one_or_none()
    if row_id is not None:
        return row_id

    return session.execute(sa.select(model.id).where(model.idempotency_key == values["idempotency_key"])).scalar_one()
