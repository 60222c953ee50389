"""drills, drill checks, responder.phone_verified_at, api_token.hotline_number (issue 10)

Revision ID: 0010_drills
Revises: 0009_console_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.db
from alembic import op

revision: str = "0010_drills"
down_revision: str | None = "0009_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hotline_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("voice", sa.Boolean(), nullable=False),
        sa.Column("started_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("deadline_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["hotline_id"], ["hotline.id"], name=op.f("fk_drill_hotline_id_hotline")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill")),
    )
    op.create_index(op.f("ix_drill_hotline_id"), "drill", ["hotline_id"])
    op.create_table(
        "drill_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("responder_id", sa.Integer(), nullable=False),
        sa.Column("sms_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("answered_via", sa.String(10), nullable=True),
        sa.ForeignKeyConstraint(
            ["drill_id"], ["drill.id"], name=op.f("fk_drill_check_drill_id_drill")
        ),
        sa.ForeignKeyConstraint(
            ["responder_id"], ["responder.id"], name=op.f("fk_drill_check_responder_id_responder")
        ),
        sa.ForeignKeyConstraint(
            ["sms_id"], ["outbound.id"], name=op.f("fk_drill_check_sms_id_outbound")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["outbound.id"], name=op.f("fk_drill_check_call_id_outbound")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill_check")),
    )
    op.create_index(op.f("ix_drill_check_drill_id"), "drill_check", ["drill_id"])
    op.create_index(op.f("ix_drill_check_responder_id"), "drill_check", ["responder_id"])
    with op.batch_alter_table("responder") as batch:
        batch.add_column(sa.Column("phone_verified_at", app.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("hotline_number", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("hotline_number")
    with op.batch_alter_table("responder") as batch:
        batch.drop_column("phone_verified_at")
    op.drop_index(op.f("ix_drill_check_responder_id"), table_name="drill_check")
    op.drop_index(op.f("ix_drill_check_drill_id"), table_name="drill_check")
    op.drop_table("drill_check")
    op.drop_index(op.f("ix_drill_hotline_id"), table_name="drill")
    op.drop_table("drill")
