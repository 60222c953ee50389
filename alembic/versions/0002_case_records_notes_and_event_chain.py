"""case records, notes, hash-chained events, API indexes

Revision ID: 0002
Revises: 0001

Events written before this revision are chained here, in (case, id) order, so
`hotline audit verify` holds for the whole log from the start.
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.db
from alembic import op
from app.audit import chain

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = """
CREATE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
    FOR EACH ROW EXECUTE FUNCTION event_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "case_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_role", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_case_note_case_id_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_note_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_record",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("incident_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reported_person", sa.Text(), nullable=True),
        sa.Column("circumstances", sa.Text(), nullable=True),
        sa.Column("reporter_name", sa.Text(), nullable=True),
        sa.Column("reporter_contact", sa.Text(), nullable=True),
        sa.Column("reporter_anonymous", sa.Boolean(), nullable=False),
        sa.Column("witnesses", sa.Text(), nullable=True),
        sa.Column("suggested_responses", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("follow_up_assignee", sa.String(length=200), nullable=True),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_case_record_case_id_case")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_record")),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_hotline_opened", ["hotline_id", "opened_at", "id"], unique=False
        )
        batch_op.create_index("ix_case_opened", ["opened_at", "id"], unique=False)
        batch_op.create_index("ix_case_status_opened", ["status", "opened_at", "id"], unique=False)
        batch_op.create_index("ix_case_acknowledged_by", ["acknowledged_by_id"], unique=False)
        batch_op.create_index("ix_case_resolved_by", ["resolved_by_id"], unique=False)

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_events()
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_index(batch_op.f("ix_event_at"))
        batch_op.drop_index(batch_op.f("ix_event_case_id"))
        batch_op.drop_index(batch_op.f("ix_event_type"))
        batch_op.create_index("ix_event_at_id", ["at", "id"], unique=False)
        batch_op.create_index(
            "ix_event_system_seq",
            ["seq"],
            unique=True,
            sqlite_where=sa.text("case_id IS NULL"),
            postgresql_where=sa.text("case_id IS NULL"),
        )
        batch_op.create_index("ix_event_type_at_id", ["type", "at", "id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_event_case_id"), ["case_id", "seq"])

    with op.batch_alter_table("exclusion", schema=None) as batch_op:
        batch_op.create_index("ix_exclusion_responder", ["responder_id", "case_id"], unique=False)

    with op.batch_alter_table("outbound", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_responder_case", ["responder_id", "case_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def _chain_existing_events() -> None:
    """Give every event already stored its place and hash in its chain."""
    event = sa.table(
        "event",
        sa.column("id", sa.Integer()),
        sa.column("case_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("hash", sa.String()),
        sa.column("at", app.db.UTCDateTime()),
        sa.column("type", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("detail", sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            event.c.id, event.c.case_id, event.c.at, event.c.type, event.c.actor, event.c.detail
        ).order_by(event.c.case_id, event.c.id)
    ).all()
    heads: dict[int | None, tuple[int, str]] = {}
    updates = []
    for row in rows:
        seq, prev = heads.get(row.case_id, (0, chain.GENESIS))
        content = chain.canonical(row.case_id, row.at, row.type, row.actor, row.detail)
        heads[row.case_id] = (seq + 1, chain.link(prev, content))
        updates.append({"b_id": row.id, "b_seq": seq + 1, "b_hash": heads[row.case_id][1]})
    if updates:
        bind.execute(
            event.update()
            .where(event.c.id == sa.bindparam("b_id"))
            .values(seq=sa.bindparam("b_seq"), hash=sa.bindparam("b_hash")),
            updates,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_append_only ON event")
        op.execute("DROP FUNCTION IF EXISTS event_append_only()")

    with op.batch_alter_table("outbound", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_responder_case")

    with op.batch_alter_table("exclusion", schema=None) as batch_op:
        batch_op.drop_index("ix_exclusion_responder")

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_event_case_id"), type_="unique")
        batch_op.drop_index("ix_event_type_at_id")
        batch_op.drop_index(
            "ix_event_system_seq",
            sqlite_where=sa.text("case_id IS NULL"),
            postgresql_where=sa.text("case_id IS NULL"),
        )
        batch_op.drop_index("ix_event_at_id")
        batch_op.create_index(batch_op.f("ix_event_type"), ["type"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_at"), ["at"], unique=False)
        batch_op.drop_column("hash")
        batch_op.drop_column("seq")

    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_resolved_by")
        batch_op.drop_index("ix_case_acknowledged_by")
        batch_op.drop_index("ix_case_status_opened")
        batch_op.drop_index("ix_case_opened")
        batch_op.drop_index("ix_case_hotline_opened")

    op.drop_table("case_record")
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_note_case_id"))

    op.drop_table("case_note")
