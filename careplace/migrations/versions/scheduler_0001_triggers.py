"""Scheduler tables: the calendar triggers sent, unique per job and period.

Revision ID: scheduler_0001
Revises:
Create Date: 2026-12-04 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "scheduler_0001"
down_revision = None
branch_labels = ("scheduler",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_name", sa.String(length=60), nullable=False),
        sa.Column("period_key", sa.String(length=60), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_by", sa.String(length=200), nullable=False),
        sa.Column("instance_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_triggers")),
        sa.UniqueConstraint("job_name", "period_key", name=op.f("uq_scheduler_triggers_job_name_period_key")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_triggers")
