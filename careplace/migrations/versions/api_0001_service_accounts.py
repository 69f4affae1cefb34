"""API tables: service accounts that call the JSON API with hashed bearer tokens.

Revision ID: api_0001
Revises:
Create Date: 2026-12-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "api_0001"
down_revision = None
branch_labels = ("api",)
# The provider_id foreign key needs the providers table of the care branch.
depends_on = "care_0001"


def upgrade() -> None:
    op.create_table(
        "api_service_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('provider_user', 'care_manager', 'provider_services', 'analyst', 'admin')",
            name=op.f("ck_api_service_accounts_role"),
        ),
        sa.CheckConstraint(
            "(role = 'provider_user' AND provider_id IS NOT NULL) OR (role <> 'provider_user' AND provider_id IS NULL)",
            name=op.f("ck_api_service_accounts_provider_only_for_provider_users"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_api_service_accounts_provider_id_providers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_service_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_api_service_accounts_name")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_service_accounts_token_sha256")),
    )
    with op.batch_alter_table("api_service_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_service_accounts_provider_id"), ["provider_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_service_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_service_accounts_provider_id"))

    op.drop_table("api_service_accounts")
