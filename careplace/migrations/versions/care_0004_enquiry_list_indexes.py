"""Covering indexes for a provider's enquiry list: recipient rows by provider and state, and enquiries by id.

The list picks one page of recipient ids ordered by the enquiry's respond_by. With enquiry_id
and id in the recipients index, and status and respond_by in an index keyed by enquiry id, that
step reads only the two indexes.

Revision ID: care_0004
Revises: care_0003
Create Date: 2026-12-04 22:55:00.000000
"""
from alembic import op


revision = "care_0004"
down_revision = "care_0003"
branch_labels = None
depends_on = None

RECIPIENT_STATE_COLUMNS = ["provider_id", "outcome", "responded_at", "viewed_at"]


def upgrade() -> None:
    op.drop_index("ix_enquiry_recipients_provider_state", table_name="enquiry_recipients")
    op.create_index("ix_enquiry_recipients_provider_state", "enquiry_recipients", [*RECIPIENT_STATE_COLUMNS, "enquiry_id", "id"], unique=False)
    op.create_index("ix_enquiries_id_status_respond_by", "enquiries", ["id", "status", "respond_by"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_enquiries_id_status_respond_by", table_name="enquiries")
    op.drop_index("ix_enquiry_recipients_provider_state", table_name="enquiry_recipients")
    op.create_index("ix_enquiry_recipients_provider_state", "enquiry_recipients", RECIPIENT_STATE_COLUMNS, unique=False)
