"""Room for client: and sip: callers (case.reporter_phone, outbound.to_phone) and for the
receipts of a call's steps (webhook_receipt.sid)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


WIDENED = [("case", "reporter_phone", 32, 128), ("outbound", "to_phone", 32, 128)]


def upgrade() -> None:
    for table, column, old, new in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(new), existing_type=sa.String(old))
    with op.batch_alter_table("webhook_receipt") as batch:
        batch.alter_column("sid", type_=sa.String(255), existing_type=sa.String(64))


def downgrade() -> None:
    with op.batch_alter_table("webhook_receipt") as batch:
        batch.alter_column("sid", type_=sa.String(64), existing_type=sa.String(255))
    for table, column, old, new in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(old), existing_type=sa.String(new))
