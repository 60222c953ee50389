"""Queueing what the service owes someone. Rows are written in the caller's transaction,
so a message exists exactly when the state change that caused it does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from app.paging.models import Outbound
from app.telephony.webhook import receive_work
from app.wording import fit_sms

PENDING = "pending"  # owed, not yet handed to the provider
CLAIMED = "claimed"  # a dispatcher is sending it now (under a lease)
FAILED = "failed"
CANCELLED = "cancelled"  # no longer owed: the case was taken, or the recipient excluded
# After the provider accepts a message, its status follows the provider's own words, in
# this order; a status callback only ever moves a row forward.
PROVIDER_ORDER = {
    "accepted": 2,
    "scheduled": 2,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
    "read": 6,
}
DELIVERY_FAILED = ("undelivered", "failed")


CALL_PAGE = "call_page"  # a page read out by a voice call (app.voice.pages, app.paging.fallback)
PAGE_KINDS = ("page", CALL_PAGE)
# An emergency word on a case someone already holds: everyone eligible hears it at once.
EMERGENCY_NOTICE = "emergency"
UPDATE_NOTICE = "update_notice"
# Drills (app.drills): about no case, never a page, never escalated or fallen back from.
DRILL_SMS = "drill"
DRILL_CALL = "drill_call"
VERIFY_SMS = "verify"

CHANNEL = "hotline_work"  # PostgreSQL NOTIFY channel the workers LISTEN on
NEW_WORK = "new_work"  # session.info flag: this transaction gave the worker something to do


def announce_work(session: Session) -> None:
    """Wake workers in other processes when this transaction commits (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


def forget_new_work(session: Session) -> None:
    """A webhook's unit starts: its session may have carried other webhooks' work before."""
    session.info.pop(NEW_WORK, None)


def announce_new_work(session: Session, work: bool) -> bool:
    """A webhook's transaction created work (its handler says so, or it queued some here):
    announce it. Registered with Twilio's adapter, which calls it without importing paging."""
    work = work or session.info.pop(NEW_WORK, False)
    if work:
        announce_work(session)
    return work


# Twilio's adapter asks these in every webhook's transaction, without importing paging.
receive_work(forget_new_work, announce_new_work)


def failure(reason: str, code: object = None) -> str:
    """How a failed send or call is written on its row: the reason, with Twilio's error code
    when it gave one ("undelivered (code 30006)")."""
    return f"{reason} (code {code})" if code else reason


def mark_new_work(session: Session) -> None:
    """Wake the worker when this transaction commits (see telephony.webhook.once)."""
    session.info[NEW_WORK] = True


def row(
    *,
    kind: str,
    to_phone: str,
    from_phone: str,
    body: str,
    now: datetime,
    case_id: int | None = None,
    responder_id: int | None = None,
    step: int | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """One owed message as the outbound row's values, due now."""
    return {
        "kind": kind,
        "case_id": case_id,
        "responder_id": responder_id,
        "step": step,
        "dedupe_key": dedupe_key,
        "to_phone": to_phone,
        "from_phone": from_phone,
        # Never more than Twilio takes (21617): relays are split before they get here.
        "body": fit_sms(body),
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue(
    session: Session,
    *,
    kind: str,
    to_phone: str,
    from_phone: str,
    body: str,
    now: datetime,
    case_id: int | None = None,
    responder_id: int | None = None,
    step: int | None = None,
    dedupe_key: str | None = None,
) -> Outbound:
    owed = Outbound(
        **row(
            kind=kind,
            to_phone=to_phone,
            from_phone=from_phone,
            body=body,
            now=now,
            case_id=case_id,
            responder_id=responder_id,
            step=step,
            dedupe_key=dedupe_key,
        )
    )
    session.add(owed)
    mark_new_work(session)
    return owed


_INSERT_OUTBOUND = insert(Outbound.__table__)  # built once: compiled once, then cached


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Many owed messages (values from `row`) in one statement (executemany, without the
    ORM): the hot path's way. Rows the session holds go first, in the order they were owed."""
    if not rows:
        return
    session.flush()
    session.execute(_INSERT_OUTBOUND, list(rows))
    mark_new_work(session)


def page_key(case_id: int, responder_id: int, step: int | str, paging_round: int = 0) -> str:
    """One page per (case, responder, step) in each paging round: a case whose holder left
    it pages its policy again from the start (app.casework.conflicts._reopen)."""
    key = f"page:{case_id}:{responder_id}:{step}"
    return key if not paging_round else f"{key}:r{paging_round}"


def already_queued(session: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    rows = session.scalars(select(Outbound.dedupe_key).where(Outbound.dedupe_key.in_(keys)))
    return {k for k in rows if k}


def cancel_pending_pages(session: Session, case_id: int, now: datetime) -> int:
    """Pages not yet handed to Twilio are no longer owed once a case is taken or closed;
    the dispatcher drops other messages that stopped being owed when it claims them."""
    result = session.execute(
        update(Outbound)
        .where(
            Outbound.case_id == case_id,
            Outbound.kind.in_(PAGE_KINDS),
            Outbound.status == PENDING,
        )
        .values(status=CANCELLED, error="case no longer needs paging")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
