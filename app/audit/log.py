"""Writing the escalation log: every step of a case lands here, in the caller's transaction.

Each event extends its case's hash chain (app.audit.chain), keyed with the audit key; what
people wrote (a note's text, a record's changes) goes to the event's encrypted private part.

The webhook, the API and any number of workers append to the same case at once, so the
chain's head is read only after the chain is locked for this transaction: the case row on
PostgreSQL (FOR NO KEY UPDATE, so rows that merely refer to the case, which take KEY SHARE
locks, never deadlock against it), a transaction-scoped advisory lock for the events without
a case; SQLite has one writer at a time already. UNIQUE(case_id, seq) turns any fork that
slipped past that into an error. The head is then kept in `session.info` until the
transaction ends, so a webhook writing five events for one case reads it once, and a case
opened by this transaction needs no read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, column, func, insert, select, table
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapper, Session, SessionTransaction, object_session

from app.audit import chain
from app.audit.models import Event
from app.privacy import keys

SYSTEM = "system"
REPORTER = "reporter"

HEADS = "audit_chain_heads"  # session.info key: {case_id: (seq, hash)} for this transaction
WRITTEN = "audit_cases_written"  # session.info key: ids of the cases given events, ever
# session.info key: (case, type, detail) of events `insert_events` wrote, for app.observe
INSERTED = "audit_events_inserted"
SYSTEM_CHAIN_LOCK = 0x686C6F67  # advisory lock key of the chain of events without a case
# The case row, by table name: the log sits below the case domain, which registers
# `new_chain` on its model (app.cases.models).
_CASE = table("case", column("id"))
_INSERT_EVENT = insert(Event.__table__)  # built once: compiled once per engine, then cached


def record(
    session: Session,
    *,
    case_id: int | None,
    type: str,
    actor: str,
    at: datetime,
    **detail: Any,
) -> Event:
    event = Event(**sealed(session, case_id=case_id, type=type, actor=actor, at=at, **detail))
    session.add(event)
    return event


def sealed(
    session: Session,
    *,
    case_id: int | None,
    type: str,
    actor: str,
    at: datetime,
    **detail: Any,
) -> dict[str, Any]:
    """The next event of the case's chain as the values of its row, linked to the chain's
    head and made the new head: `record` adds it to the session, the hot path (a new
    report) inserts several at once with `insert_events`. Either way, in chain order."""
    heads: dict[int | None, tuple[int, str]] = session.info.setdefault(HEADS, {})
    if case_id not in heads:
        heads[case_id] = _chain_head(session, case_id)
    seq, prev = heads[case_id]
    key = keys.active().chain_key
    public, private = chain.split(detail)
    hidden = chain.private_digest(key, private) if private is not None else None
    digest = chain.keyed_link(key, prev, chain.canonical(case_id, at, type, actor, public, hidden))
    heads[case_id] = (seq + 1, digest)
    if case_id is not None:
        session.info.setdefault(WRITTEN, set()).add(case_id)
    return {
        "case_id": case_id,
        "seq": seq + 1,
        "hash": digest,
        "type": type,
        "actor": actor,
        "at": at,
        "detail": public,
        "private": private,
        "private_digest": hidden,
    }


def insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Events from `sealed`, in one statement (executemany) without the ORM: the rows
    must follow every event of theirs the session still holds, so it flushes first. They
    are announced after the commit like every other event (app.observe reads INSERTED)."""
    if not rows:
        return
    session.flush()
    session.execute(_INSERT_EVENT, rows)
    session.info.setdefault(INSERTED, []).extend(
        (row["case_id"], row["type"], row["detail"]) for row in rows
    )


def chain_started(session: Session, case_id: int) -> None:
    """A case inserted by this transaction has an empty chain nobody else can see yet: no
    lock or read is needed to start it (the webhook's hot path, a new report)."""
    session.info.setdefault(HEADS, {})[case_id] = (0, chain.GENESIS)


def _chain_head(session: Session, case_id: int | None) -> tuple[int, str]:
    """The chain's last (seq, hash), read after locking the chain for this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        if case_id is None:
            session.execute(select(func.pg_advisory_xact_lock(SYSTEM_CHAIN_LOCK)))
        else:
            session.execute(
                select(_CASE.c.id).where(_CASE.c.id == case_id).with_for_update(key_share=True)
            )
    in_chain = Event.case_id.is_(None) if case_id is None else Event.case_id == case_id
    row = session.execute(
        select(Event.seq, Event.hash).where(in_chain).order_by(Event.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row else (0, chain.GENESIS)


_LOCK_CASES = (
    select(_CASE.c.id)
    .where(_CASE.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_CASE.c.id)
    .with_for_update(key_share=True)
)
_LAST = (
    select(Event.case_id, func.max(Event.seq).label("seq"))
    .where(Event.case_id.in_(bindparam("ids", expanding=True)))
    .group_by(Event.case_id)
    .subquery()
)
# Built once, as `_INSERT_EVENT`: the worker reads heads for every batch it records.
_HEADS = select(Event.case_id, Event.seq, Event.hash).join(
    _LAST, (Event.case_id == _LAST.c.case_id) & (Event.seq == _LAST.c.seq)
)


def chain_heads(session: Session, case_ids: Sequence[int]) -> None:
    """Lock and read the heads of many cases' chains in two statements, for a writer of
    events on a whole batch of cases (the escalation engine): `record` then reads none."""
    heads: dict[int | None, tuple[int, str]] = session.info.setdefault(HEADS, {})
    wanted = sorted({i for i in case_ids if i not in heads})
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_LOCK_CASES, {"ids": chunk})
        found = {
            row.case_id: (row.seq, row.hash) for row in session.execute(_HEADS, {"ids": chunk})
        }
        for case_id in chunk:
            heads[case_id] = found.get(case_id, (0, chain.GENESIS))


def new_chain(_mapper: Mapper[Any], _connection: Connection, case: Any) -> None:
    """A case the session inserted starts its chain (see `chain_started`)."""
    session = object_session(case)
    if session is not None:
        chain_started(session, case.id)


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_heads(session: Session, transaction: SessionTransaction) -> None:
    """A cached head is only true inside the transaction (or savepoint) that read it. A
    flush runs in an inner transaction of its own, whose end changes nothing of that."""
    if transaction.parent is None or transaction.nested:
        session.info.pop(HEADS, None)
