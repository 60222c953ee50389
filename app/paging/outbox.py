"""Queueing what the service owes someone. Rows are written in the caller's transaction,
so a message exists exactly when the state change that caused it does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, insert, select, text, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from app.paging.models import Outbound
from app.services import WAKEUP
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


CALL_PAGE = "call_page"  # a page read out by a voice call (app.voice.pages, app.paging.fallback)
PAGE_KINDS = ("page", CALL_PAGE)
# An emergency word on a case someone already holds: everyone eligible hears it at once.
EMERGENCY_NOTICE = "emergency"
UPDATE_NOTICE = "update_notice"
# Drills (app.drills): about no case, never a page, never escalated or fallen back from.
DRILL_SMS = "drill"
DRILL_CALL = "drill_call"
VERIFY_SMS = "verify"

NEW_WORK = "new_work"  # session.info flag: this transaction gave the worker something to do
CHANNEL = "hotline_work"  # PostgreSQL NOTIFY channel the workers listen on


def failure(reason: str, code: object = None) -> str:
    """How a failed send or call is written on its row: the reason, with Twilio's error code
    when it gave one ("undelivered (code 30006)")."""
    return f"{reason} (code {code})" if code else reason


def mark_new_work(session: Session) -> None:
    """Wake the workers when this transaction commits, and only then: this one call is how
    every write that owes a message or makes a step due says so. On commit PostgreSQL
    notifies the workers of other processes, and this process's worker is woken."""
    session.info[NEW_WORK] = True


def webhook_made_work(session: Session) -> None:
    """A webhook's handler says it made work the outbox did not queue (a step come due)."""
    mark_new_work(session)


# Twilio's adapter tells this of every webhook that made work, without importing paging.
receive_work(webhook_made_work)


@sa_event.listens_for(Session, "before_commit")
def _notify(session: Session) -> None:
    # NOTIFY is transactional: the other processes hear it exactly when the work is visible.
    if session.info.get(NEW_WORK) and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


@sa_event.listens_for(Session, "after_commit")
def _wake(session: Session) -> None:
    if session.info.pop(NEW_WORK, False):
        wakeup = session.info.get(WAKEUP)
        if wakeup is not None:
            wakeup.set()


@sa_event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back transaction made no work."""
    if transaction.parent is None:
        session.info.pop(NEW_WORK, None)


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


def already_queued(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of these dedupe keys some row already holds."""
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = list(keys[start : start + CHUNK])
        found.update(
            k
            for k in session.scalars(
                select(Outbound.dedupe_key).where(Outbound.dedupe_key.in_(chunk))
            )
            if k
        )
    return found


CHUNK = 500  # values per IN (...) list


def paged_before(session: Session, case_ids: Sequence[int]) -> dict[int, set[int]]:
    """Who was ever owed a page about each case, whatever became of it: a new page to them
    reads as a reminder."""
    out: dict[int, set[int]] = {}
    for start in range(0, len(case_ids), CHUNK):
        chunk = list(case_ids[start : start + CHUNK])
        for case_id, responder_id in session.execute(
            select(Outbound.case_id, Outbound.responder_id).where(
                Outbound.case_id.in_(chunk), Outbound.kind.in_(PAGE_KINDS)
            )
        ):
            if case_id is not None and responder_id is not None:
                out.setdefault(case_id, set()).add(responder_id)
    return out


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


# "Who was paged for this case": the questions the case domain, the API and the engine ask
# of the outbox, each once, here. A message counts from when it is owed; a cancelled one
# (the case was taken, the person excluded) never counted.


def heard_about(session: Session, case_id: int, *, include_pending: bool = False) -> set[int]:
    """Responders a page about the case was handed to Twilio for (or, with
    `include_pending`, is about to be): whom a follow-up or a reroute counts as told."""
    not_heard = (CANCELLED, FAILED) if include_pending else (PENDING, CANCELLED, FAILED)
    return _responders(
        session,
        Outbound.case_id == case_id,
        Outbound.kind.in_(PAGE_KINDS),
        Outbound.status.not_in(not_heard),
    )


def paged_for(session: Session, case_id: int) -> set[int]:
    """Responders owed a page about the case (sent or not yet): never paged twice by a
    call that rings instead."""
    return _responders(
        session,
        Outbound.case_id == case_id,
        Outbound.kind.in_(PAGE_KINDS),
        Outbound.status != CANCELLED,
    )


def messaged_about(session: Session, case_id: int) -> set[int]:
    """Responders owed anything about the case (a page, a call, a notice): those involved."""
    return _responders(session, Outbound.case_id == case_id, Outbound.status != CANCELLED)


def was_messaged(session: Session, case_id: int, responder_id: int) -> bool:
    owed = session.scalar(
        select(Outbound.id)
        .where(
            Outbound.case_id == case_id,
            Outbound.responder_id == responder_id,
            Outbound.status != CANCELLED,
        )
        .limit(1)
    )
    return owed is not None


def cases_messaged(responder_ids: Sequence[int]) -> Select[tuple[int | None]]:
    """The ids of the cases any of these responders was owed anything about, as a
    subquery (the API's and STATUS's "cases I am involved in")."""
    return select(Outbound.case_id).where(
        Outbound.responder_id.in_(list(responder_ids)), Outbound.status != CANCELLED
    )


def pages_owed_to(responder_id: int) -> ColumnElement[bool]:
    """The condition on outbound rows: a page owed to this responder (not cancelled)."""
    return and_(
        Outbound.responder_id == responder_id,
        Outbound.kind.in_(PAGE_KINDS),
        Outbound.status != CANCELLED,
    )


def _responders(session: Session, *where: ColumnElement[bool]) -> set[int]:
    found = session.scalars(select(Outbound.responder_id).where(*where))
    return {rid for rid in found if rid is not None}
