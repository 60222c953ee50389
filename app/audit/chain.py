"""The escalation log's hash chain: pure functions, no session, no clock.

Each event carries `seq` (1, 2, 3 ... within its chain) and `hash` = HMAC-SHA256, keyed with
HOTLINE_AUDIT_KEY (kept outside the database), over the hash of the event before it in the
same chain and the event's canonical content. A case's events form one chain; events without a
case form another. Editing, deleting or reordering any stored event breaks the link at that
event, which `verify` finds; without the key, nobody can compute the hashes again after an
edit (a plain SHA-256 chain, as before migration 0006, anyone who reads the code could).

What a report says never enters the content directly: the private part of an event's detail
(a note's text, a record's old and new values) is stored encrypted beside it, and the chain
covers its keyed digest. Retention can then erase that part and every link still holds
(docs/adr/0007-keys-encryption-and-retention.md).

What a chain cannot show by itself is its last events being cut off: the head (the last
hash) is what to note down elsewhere, e.g. in the minutes of the staff meeting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.event_types import EventType

GENESIS = "0" * 64  # the "previous hash" of every chain's first event


# Detail keys that carry what people wrote about a case: kept apart, encrypted, erasable.
PRIVATE_DETAIL = frozenset({"changes", "text", "note", "body", "transcript"})
ERASED = EventType.CONTENTS_ERASED  # the event type that may leave private parts erased before it


def canonical(
    case_id: int | None,
    at: datetime,
    type: str,
    actor: str,
    detail: dict[str, Any],
    private_digest: str | None = None,
) -> bytes:
    """The event's content as bytes that do not depend on key order, spacing or time zone,
    so the same event read back from either database hashes the same."""
    content: dict[str, Any] = {
        "case_id": case_id,
        "at": at.astimezone(UTC).isoformat(),
        "type": type,
        "actor": actor,
        "detail": detail,
    }
    if private_digest is not None:
        content["private"] = private_digest
    return _json(content)


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(prev_hash: str, content: bytes) -> str:
    """The unkeyed link of chains written before migration 0006 (kept to check them)."""
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


def keyed_link(key: bytes, prev_hash: str, content: bytes) -> str:
    return hmac.new(key, prev_hash.encode("ascii") + content, hashlib.sha256).hexdigest()


def split(detail: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An event's detail as (public, private): the private part is what people wrote."""
    private = {k: v for k, v in detail.items() if k in PRIVATE_DETAIL}
    public = {k: v for k, v in detail.items() if k not in PRIVATE_DETAIL}
    return public, private or None


def private_digest(key: bytes, private: dict[str, Any]) -> str:
    """A keyed digest: without the key it tells nothing about the words, even short ones."""
    return hmac.new(key, b"private\x00" + _json(private), hashlib.sha256).hexdigest()


def checkpoint_digest(heads: dict[str, list[Any]]) -> str:
    """One digest of every chain's head: {chain: [seq, hash]}, chain "-" = no case."""
    return hashlib.sha256(_json(heads)).hexdigest()


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
    private_digest: str | None = None
    private: dict[str, Any] | None = None  # None: none, or erased when private_digest is set


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


def verify(events: Iterable[Stored], key: bytes | None) -> Verdict:
    """Walk one chain in `seq` order and report its first broken link. `key` is the audit
    key; None checks an unkeyed chain written before migration 0006."""
    prev, expected_seq, count = GENESIS, 1, 0
    erased: Stored | None = None  # the first event whose private part is gone
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
        content = canonical(
            event.case_id, event.at, event.type, event.actor, event.detail, event.private_digest
        )
        expected = link(prev, content) if key is None else keyed_link(key, prev, content)
        if not hmac.compare_digest(expected, event.hash):
            problem = (
                "its content does not match its hash (edited after it was written, or "
                "re-hashed without the audit key)"
            )
            return Verdict(count, prev, _break(event, problem))
        if event.private_digest is not None and key is not None:
            if event.private is None:
                erased = erased or event
            elif not hmac.compare_digest(private_digest(key, event.private), event.private_digest):
                problem = "its private part does not match its digest (edited)"
                return Verdict(count, prev, _break(event, problem))
        if event.type == ERASED:
            erased = None  # retention erased what came before, and said so
        prev, expected_seq = event.hash, expected_seq + 1
    if erased is not None:
        problem = "its private part was deleted, and no contents_erased event says so"
        return Verdict(count, prev, _break(erased, problem))
    return Verdict(count, prev, None)


def _break(event: Stored, problem: str) -> Break:
    return Break(event.case_id, event.id, event.seq, event.type, problem)
