"""case.members and case.paging_round, recordings, early status callbacks

- case.members: the responder ids on the roster when the case opened (its audience snapshot);
  NULL for a case older than this revision, which keeps paging the current roster.
- case.paging_round: bumped when the holder leaves a case, so its pages go out again.
- recording: a voicemail's Twilio recording, reached only through a signed link.
- early_status: a status callback that came before its SID was stored, kept until it is.

Revision ID: 0007_i9a
Revises: 0006_privacy_at_rest
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.db
from alembic import op

revision: str = "0007_i9a"
down_revision: str | None = "0006_privacy_at_rest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("members", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("paging_round", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "recording",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), nullable=False),
        sa.Column("sid", sa.String(64), nullable=True),
        sa.Column("twilio_url", sa.Text(), nullable=False),  # encrypted (app.privacy)
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.Column("at", app.db.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_recording_case_id", "recording", ["case_id"])
    op.create_table(
        "early_status",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("code", sa.String(20), nullable=True),
        sa.Column("seconds", sa.String(20), nullable=True),
        sa.Column("received_at", app.db.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_early_status_sid", "early_status", ["sid"])


def downgrade() -> None:
    op.drop_index("ix_early_status_sid", table_name="early_status")
    op.drop_table("early_status")
    op.drop_index("ix_recording_case_id", table_name="recording")
    op.drop_table("recording")
    with op.batch_alter_table("case") as batch:
        batch.drop_column("paging_round")
        batch.drop_column("members")
