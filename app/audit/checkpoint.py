"""Checkpoints: one short digest of the whole log that the chair keeps outside the database.

`hotline audit checkpoint` records every chain's head (seq and hash) in an `audit_checkpoint`
event and prints `<event id>-<digest>`. Later, `hotline audit verify --checkpoint ...` finds
that event, checks its heads still digest to what was printed, and that every head is still in
the log with the same hash: events cut off the end of a chain, a deleted checkpoint or a chain
rewritten since all show, which a chain cannot show by itself.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.audit import chain
from app.audit.log import SYSTEM, record
from app.audit.models import Event
from app.event_types import EventType

CHECKPOINT = EventType.AUDIT_CHECKPOINT
PRINTED_HEX = 32  # 128 bits of the digest: short enough to copy into minutes or an email
NO_CASE = "-"


def chain_heads(session: Session) -> dict[str, list[Any]]:
    """{chain: [seq, hash]} of every chain, the chain of events without a case as "-"."""
    last = (
        select(Event.case_id, func.max(Event.seq).label("seq")).group_by(Event.case_id).subquery()
    )
    rows = session.execute(
        select(Event.case_id, Event.seq, Event.hash).join(
            last, and_(Event.case_id.is_not_distinct_from(last.c.case_id), Event.seq == last.c.seq)
        )
    )
    return {_name(r.case_id): [r.seq, r.hash] for r in rows}


def _name(case_id: int | None) -> str:
    return NO_CASE if case_id is None else str(case_id)


def take(session: Session, now: datetime) -> str:
    """Record a checkpoint; returns what to print and keep elsewhere."""
    heads = chain_heads(session)
    digest = chain.checkpoint_digest(heads)
    event = record(
        session,
        case_id=None,
        type=CHECKPOINT,
        actor=SYSTEM,
        at=now,
        chains=len(heads),
        events=sum(seq for seq, _ in heads.values()),
        digest=digest,
        heads=heads,
    )
    session.flush()
    return f"{event.id}-{digest[:PRINTED_HEX]}"


def check(session: Session, printed: str) -> list[str]:
    """What no longer matches the checkpoint the chair kept; empty when all of it holds."""
    number, _, digest = printed.strip().partition("-")
    if not number.isdigit() or len(digest) < 16:
        return [f"{printed!r} is not a checkpoint (expected ID-DIGEST, as printed)"]
    event = session.get(Event, int(number))
    if event is None or event.type != CHECKPOINT:
        return [f"checkpoint {number} is not in the log (deleted?)"]
    heads: dict[str, list[Any]] = event.detail.get("heads", {})
    recomputed = chain.checkpoint_digest(heads)
    if not hmac.compare_digest(recomputed[: len(digest)], digest.lower()):
        return [f"checkpoint {number} in the log differs from the one printed (altered)"]
    stored = {
        (_name(r.case_id), r.seq): r.hash
        for r in session.execute(
            select(Event.case_id, Event.seq, Event.hash).execution_options(yield_per=5000)
        )
    }
    problems = []
    for name, (seq, digest_at_head) in sorted(heads.items()):
        where = "events without a case" if name == NO_CASE else f"case {name}"
        now_there = stored.get((name, seq))
        if now_there is None:
            problems.append(f"{where}: event seq {seq}, there at the checkpoint, is gone")
        elif now_there != digest_at_head:
            problems.append(f"{where}: event seq {seq} differs from the checkpoint (rewritten)")
    return problems
