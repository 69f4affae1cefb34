"""Add process_versions.spec_hash: the SHA-256 of spec_json, the key of the in-process spec cache.

Revision ID: engine_0002
Revises: engine_0001
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "engine_0002"
down_revision = "engine_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("engine_process_versions") as batch_op:
        batch_op.add_column(sa.Column("spec_hash", sa.String(length=64), nullable=True))

    versions = sa.table("engine_process_versions", sa.column("id", sa.Integer), sa.column("spec_json", sa.Text), sa.column("spec_hash", sa.String))
    connection = op.get_bind()
    for version_id, spec_json in connection.execute(sa.select(versions.c.id, versions.c.spec_json)).all():
        digest = hashlib.sha256(spec_json.encode("utf-8")).hexdigest()
        connection.execute(versions.update().where(versions.c.id == version_id).values(spec_hash=digest))

    with op.batch_alter_table("engine_process_versions") as batch_op:
        batch_op.alter_column("spec_hash", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("engine_process_versions") as batch_op:
        batch_op.drop_column("spec_hash")
