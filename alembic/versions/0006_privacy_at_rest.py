"""privacy at rest: encrypted report contents, keyed reporter look-up, keyed event chain

Revision ID: 0006_privacy_at_rest
Revises: 0005

Data already stored is converted here, with the keys of app.privacy.keys (HOTLINE_DATA_KEY,
HOTLINE_AUDIT_KEY or HOTLINE_KEY_FILE; `hotline serve` makes them first on the demo's SQLite):
message and note bodies, the record's free text, reporters' numbers and outbound rows are
encrypted; each event's private part (what people wrote) moves out of its detail; every chain
is checked as it was (plain SHA-256) and then linked again with the audit key. A chain that is
already broken stops the upgrade: re-keying it would hide the break.

On PostgreSQL the append-only trigger now lets one thing through: an UPDATE that changes
nothing but the encrypted private part (re-encrypted by `hotline keys rotate`, erased by
retention); the chain covers that part's keyed digest, so any other change to it shows.
"""

from collections.abc import Sequence
from itertools import groupby

import sqlalchemy as sa

import app.db
from alembic import op
from app.audit import chain
from app.privacy import keys

revision: str = "0006_privacy_at_rest"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_BUT_PRIVATE = """
CREATE OR REPLACE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.id, NEW.case_id, NEW.seq, NEW.hash, NEW.at, NEW.type, NEW.actor,
            NEW.detail::text, NEW.private_digest)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.case_id, OLD.seq, OLD.hash, OLD.at, OLD.type, OLD.actor,
            OLD.detail::text, OLD.private_digest) THEN
        RETURN NEW;  -- only the encrypted private part: re-encrypted, or erased by retention
    END IF;
    RAISE EXCEPTION 'the event log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

# (table, key column, encrypted columns)
ENCRYPTED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("message", "id", ("body",)),
    ("case_note", "id", ("body",)),
    (
        "case_record",
        "case_id",
        (
            "location",
            "description",
            "reported_person",
            "circumstances",
            "reporter_name",
            "reporter_contact",
            "witnesses",
            "suggested_responses",
        ),
    ),
    ("outbound", "id", ("to_phone", "body")),
    ("case", "id", ("reporter_phone",)),
)


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("reporter_hash", sa.String(length=64), nullable=True))
        batch.alter_column("reporter_phone", existing_type=sa.String(length=128), type_=sa.Text())
        batch.drop_index("ix_case_reporter")
        batch.create_index("ix_case_reporter", ["hotline_id", "reporter_hash", "status"])
    with op.batch_alter_table("outbound") as batch:
        batch.alter_column("to_phone", existing_type=sa.String(length=128), type_=sa.Text())
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("private", sa.Text(), nullable=True))
        batch.add_column(sa.Column("private_digest", sa.String(length=64), nullable=True))

    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if _holds_data(bind):
        keyring = keys.active()  # no keys and data to convert: stops with a clear message
        if postgres:
            op.execute("ALTER TABLE event DISABLE TRIGGER event_append_only")
        _rechain_events(bind, keyring)
        _encrypt_columns(bind, keyring)
        if postgres:
            op.execute("ALTER TABLE event ENABLE TRIGGER event_append_only")
    if postgres:
        op.execute(APPEND_ONLY_BUT_PRIVATE)


def _holds_data(bind: sa.Connection) -> bool:
    tables = ("event", *(t for t, _, _ in ENCRYPTED))
    return any(bind.execute(sa.text(f'SELECT 1 FROM "{t}" LIMIT 1')).first() for t in tables)


def _event_table() -> sa.TableClause:
    return sa.table(
        "event",
        sa.column("id", sa.Integer()),
        sa.column("case_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("hash", sa.String()),
        sa.column("at", app.db.UTCDateTime()),
        sa.column("type", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("private", sa.Text()),
        sa.column("private_digest", sa.String()),
    )


def _rechain_events(bind: sa.Connection, keyring: keys.Keyring) -> None:
    event = _event_table()
    rows = bind.execute(
        sa.select(
            event.c.id,
            event.c.case_id,
            event.c.seq,
            event.c.hash,
            event.c.at,
            event.c.type,
            event.c.actor,
            event.c.detail,
        ).order_by(event.c.case_id, event.c.seq)
    ).all()
    key = keyring.chain_key
    updates = []
    for _, group in groupby(rows, key=lambda r: r.case_id):
        stored = [chain.Stored(*r) for r in group]
        verdict = chain.verify(stored, None)
        if verdict.broken is not None:
            raise RuntimeError(
                f"the event log is broken ({verdict.broken}); re-keying it would hide that. "
                "Keep a copy of this database as evidence and repair the log before upgrading."
            )
        prev = chain.GENESIS
        for e in stored:
            public, private = chain.split(e.detail)
            sealed = chain.private_digest(key, private) if private is not None else None
            content = chain.canonical(e.case_id, e.at, e.type, e.actor, public, sealed)
            prev = chain.keyed_link(key, prev, content)
            updates.append(
                {
                    "b_id": e.id,
                    "b_hash": prev,
                    "b_detail": public,
                    "b_private": _encrypt_json(keyring, private) if private else None,
                    "b_digest": sealed,
                }
            )
    if updates:
        bind.execute(
            event.update()
            .where(event.c.id == sa.bindparam("b_id"))
            .values(
                hash=sa.bindparam("b_hash"),
                detail=sa.bindparam("b_detail"),
                private=sa.bindparam("b_private"),
                private_digest=sa.bindparam("b_digest"),
            ),
            updates,
        )


def _encrypt_json(keyring: keys.Keyring, value: dict[str, object]) -> str:
    import json

    return keyring.encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _encrypt_columns(bind: sa.Connection, keyring: keys.Keyring) -> None:
    for name, pk, columns in ENCRYPTED:
        extra = ("reporter_hash",) if name == "case" else ()
        table = sa.table(
            name,
            sa.column(pk, sa.Integer()),
            *(sa.column(c, sa.Text()) for c in (*columns, *extra)),
        )
        updates = []
        for row in bind.execute(sa.select(table.c[pk], *(table.c[c] for c in columns))):
            values = {f"b_{c}": _encrypted(keyring, getattr(row, c)) for c in columns}
            if name == "case":
                phone = row.reporter_phone
                values["b_reporter_hash"] = (
                    keyring.lookup(keyring.decrypt(phone)) if phone else None
                )
            updates.append({"b_pk": getattr(row, pk), **values})
        if updates:
            bind.execute(
                table.update()
                .where(table.c[pk] == sa.bindparam("b_pk"))
                .values({c: sa.bindparam(f"b_{c}") for c in (*columns, *extra)}),
                updates,
            )


def _encrypted(keyring: keys.Keyring, value: str | None) -> str | None:
    if value is None or value.startswith(keys.TOKEN_PREFIX):
        return value
    return keyring.encrypt(value)


def downgrade() -> None:
    """Back to the old format, with the keys: data in clear, chains unkeyed again."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if _holds_data(bind):
        keyring = keys.active()
        if postgres:
            op.execute("ALTER TABLE event DISABLE TRIGGER event_append_only")
        _unchain_events(bind)
        _decrypt_columns(bind, keyring)
        if postgres:
            op.execute("ALTER TABLE event ENABLE TRIGGER event_append_only")
    if postgres:
        op.execute(APPEND_ONLY)
    with op.batch_alter_table("event") as batch:
        batch.drop_column("private_digest")
        batch.drop_column("private")
    with op.batch_alter_table("case") as batch:
        batch.drop_index("ix_case_reporter")
        batch.create_index("ix_case_reporter", ["hotline_id", "reporter_phone", "status"])
        batch.drop_column("reporter_hash")


def _unchain_events(bind: sa.Connection) -> None:
    import json

    keyring = keys.active()
    event = _event_table()
    rows = bind.execute(
        sa.select(
            event.c.id,
            event.c.case_id,
            event.c.at,
            event.c.type,
            event.c.actor,
            event.c.detail,
            event.c.private,
            event.c.private_digest,
        ).order_by(event.c.case_id, event.c.seq)
    ).all()
    updates = []
    for _, group in groupby(rows, key=lambda r: r.case_id):
        prev = chain.GENESIS
        for e in group:
            detail = dict(e.detail)
            if e.private is not None:
                detail.update(json.loads(keyring.decrypt(e.private)))
            elif e.private_digest is not None:
                detail["erased"] = True
            prev = chain.link(prev, chain.canonical(e.case_id, e.at, e.type, e.actor, detail))
            updates.append({"b_id": e.id, "b_hash": prev, "b_detail": detail})
    if updates:
        bind.execute(
            event.update()
            .where(event.c.id == sa.bindparam("b_id"))
            .values(hash=sa.bindparam("b_hash"), detail=sa.bindparam("b_detail")),
            updates,
        )


def _decrypt_columns(bind: sa.Connection, keyring: keys.Keyring) -> None:
    for name, pk, columns in ENCRYPTED:
        table = sa.table(
            name, sa.column(pk, sa.Integer()), *(sa.column(c, sa.Text()) for c in columns)
        )
        updates = [
            {
                "b_pk": getattr(row, pk),
                **{f"b_{c}": _decrypted(keyring, getattr(row, c)) for c in columns},
            }
            for row in bind.execute(sa.select(table.c[pk], *(table.c[c] for c in columns)))
        ]
        if updates:
            bind.execute(
                table.update()
                .where(table.c[pk] == sa.bindparam("b_pk"))
                .values({c: sa.bindparam(f"b_{c}") for c in columns}),
                updates,
            )


def _decrypted(keyring: keys.Keyring, value: str | None) -> str | None:
    return None if value is None else keyring.decrypt(value)
