"""The escalation log's hash chain: pure functions, no session, no clock.

Each event carries `seq` (1, 2, 3 ... within its chain) and `hash` = SHA-256 over the hash of
the event before it in the same chain and the event's canonical content. A case's events form
one chain; events without a case form another. Editing, deleting or reordering any stored
event breaks the link at that event, which `first_break` finds.

What a chain cannot show by itself is its last events being cut off: the head (the last
hash) is what to note down elsewhere, e.g. in the minutes of the staff meeting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of every chain's first event


def canonical(
    case_id: int | None, at: datetime, type: str, actor: str, detail: dict[str, Any]
) -> bytes:
    """The event's content as bytes that do not depend on key order, spacing or time zone,
    so the same event read back from either database hashes the same."""
    content = {
        "case_id": case_id,
        "at": at.astimezone(UTC).isoformat(),
        "type": type,
        "actor": actor,
        "detail": detail,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


@dataclass(frozen=True, slots=True)
class Stored:
    """An event as read back from the table."""

    id: int
    case_id: int | None
    seq: int
    hash: str
    at: datetime
    type: str
    actor: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Break:
    """The first link of a chain that does not hold."""

    case_id: int | None
    event_id: int
    seq: int
    type: str
    problem: str

    def __str__(self) -> str:
        chain = f"case {self.case_id}" if self.case_id is not None else "events without a case"
        return f"{chain}: broken at event {self.event_id} (seq {self.seq}, {self.type}): " + (
            self.problem
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    events: int
    head: str  # the last hash: note it down to detect later truncation
    broken: Break | None


def verify(events: Iterable[Stored]) -> Verdict:
    """Walk one chain in `seq` order and report its first broken link."""
    prev, expected_seq, count = GENESIS, 1, 0
    for event in events:
        count += 1
        if event.seq != expected_seq:
            if event.seq == expected_seq + 1:
                problem = f"the event with seq {expected_seq} before it is missing (deleted)"
            elif event.seq > expected_seq:
                problem = (
                    f"the events with seq {expected_seq} to {event.seq - 1} before it are "
                    "missing (deleted)"
                )
            else:
                problem = f"expected seq {expected_seq}: seq repeated or out of order"
            return Verdict(count, prev, _break(event, problem))
        content = canonical(event.case_id, event.at, event.type, event.actor, event.detail)
        if link(prev, content) != event.hash:
            problem = "its content does not match its hash (edited after it was written)"
            return Verdict(count, prev, _break(event, problem))
        prev, expected_seq = event.hash, expected_seq + 1
    return Verdict(count, prev, None)


def _break(event: Stored, problem: str) -> Break:
    return Break(event.case_id, event.id, event.seq, event.type, problem)
