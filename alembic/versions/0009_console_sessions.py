"""console_session: browsers signed in to the chair's console

Revision ID: 0009_console_sessions
Revises: 0008_reporter_reachability
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.db
from alembic import op

revision: str = "0009_console_sessions"
down_revision: str | None = "0008_reporter_reachability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_token.id"], name=op.f("fk_console_session_token_id_api_token")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_session")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_console_session_session_hash")),
    )
    op.create_index(
        op.f("ix_console_session_token_id"), "console_session", ["token_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_console_session_token_id"), table_name="console_session")
    op.drop_table("console_session")
