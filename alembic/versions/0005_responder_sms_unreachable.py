"""responder.sms_unreachable_at/_reason: whom SMS cannot reach, paged by voice instead

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.db
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responder") as batch:
        batch.add_column(sa.Column("sms_unreachable_at", app.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("sms_unreachable_reason", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responder") as batch:
        batch.drop_column("sms_unreachable_reason")
        batch.drop_column("sms_unreachable_at")
