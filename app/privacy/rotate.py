"""`hotline keys rotate`: every encrypted value again under the newest data key.

Run with the service stopped (or about to restart): it decrypts with any configured key and
encrypts with the newest, in one transaction, and recomputes the reporters' keyed hashes,
which derive from the newest key. The event log's chain is not touched: it covers the keyed
digest of each private part, not its ciphertext.
"""

from __future__ import annotations

from sqlalchemy import Connection, Integer, Text, bindparam, column, or_, select, table

from app.privacy.keys import Keyring

# (table, key column, encrypted columns): every EncryptedText/EncryptedJSON column.
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
    ("event", "id", ("private",)),
)


def reencrypt_all(conn: Connection, keyring: Keyring) -> int:
    """Re-encrypt every value in the caller's transaction; returns how many rows changed."""
    changed = 0
    for name, pk, columns in ENCRYPTED:
        extra = ("reporter_hash",) if name == "case" else ()
        texts = (column(c, Text()) for c in (*columns, *extra))
        rows_of = table(name, column(pk, Integer()), *texts)
        updates = []
        query = select(rows_of.c[pk], *(rows_of.c[c] for c in columns)).where(
            or_(*(rows_of.c[c].is_not(None) for c in columns))
        )
        for row in conn.execute(query):
            values = {
                f"b_{c}": None if getattr(row, c) is None else keyring.reencrypt(getattr(row, c))
                for c in columns
            }
            if name == "case":
                phone = row.reporter_phone and keyring.decrypt(row.reporter_phone)
                values["b_reporter_hash"] = keyring.lookup(phone) if phone else None
            updates.append({"b_pk": getattr(row, pk), **values})
        if updates:
            conn.execute(
                rows_of.update()
                .where(rows_of.c[pk] == bindparam("b_pk"))
                .values({c: bindparam(f"b_{c}") for c in (*columns, *extra)}),
                updates,
            )
        changed += len(updates)
    return changed
