"""case.reporter_unreachable_at/_reason: a reporter texts cannot reach (withheld, landline, STOP)

Revision ID: 0008_reporter_reachability
Revises: 0007_i9a
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.db
from alembic import op

revision: str = "0008_reporter_reachability"
down_revision: str | None = "0007_i9a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("reporter_unreachable_at", app.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("reporter_unreachable_reason", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.drop_column("reporter_unreachable_reason")
        batch.drop_column("reporter_unreachable_at")
