"""Sends what the outbox holds. Claim in one short transaction, send outside any
transaction, record the outcome in another: no network call ever holds a database lock.

A row is claimed with a lease (its `next_attempt_at` moves a minute ahead; the setting
HOTLINE_CLAIM_LEASE_SECONDS changes that). A process that dies mid-send leaves the row
`claimed`; when the lease runs out another claim takes it again and records that the message
may go out twice: twice is acceptable, never is not.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.audit.log import SYSTEM, chain_heads, insert_events, record, sealed
from app.cases import recordings, reporter
from app.cases.models import Case
from app.cases.recordings import Bearer
from app.db import UTCDateTime, is_sqlite
from app.event_types import EventType
from app.paging import delivery, fallback
from app.paging.engine import Audience, audiences
from app.paging.latency import first_pages_sent
from app.paging.models import Outbound
from app.paging.outbox import (
    CALL_PAGE,
    CANCELLED,
    CLAIMED,
    DRILL_CALL,
    EMERGENCY_NOTICE,
    FAILED,
    NEW_WORK,
    PAGE_KINDS,
    PENDING,
    PROVIDER_ORDER,
    failure,
)
from app.paging.reachability import mark_unreachable, unreachable_among
from app.paging.urls import drill_call_url, page_url
from app.roster.models import Responder
from app.telephony import outcomes
from app.telephony.models import EarlyStatus
from app.telephony.transport import SendError, Sent, Transport
from app.telephony.twiml import RING_SECONDS
from app.wording import fit_sms

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # the default of Settings.claim_lease_seconds
MAX_ATTEMPTS = 12  # about twelve minutes of trying before a send is given up as failed
MAX_BACKOFF_SECONDS = 120.0
BATCH = 100  # rows per claim; never more than the sender has room for
# Pages only matter while nobody has the case; emergency notices until it is resolved.
# A reporter's follow-up is owed whatever happens to the case meanwhile: one held back a
# minute (app.casework.intake.append_report) still reaches whoever it was for.
OWED_WHILE = {
    "page": ("open",),
    CALL_PAGE: ("open",),
    EMERGENCY_NOTICE: ("open", "acknowledged"),
}
STATUS_PATH = "/twilio/status"


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    kind: str
    to_phone: str
    from_phone: str
    body: str
    attempt: int
    maybe_sent_before: bool
    responder_id: int | None = None
    case_id: int | None = None

    @property
    def queue(self) -> tuple[str, int | None]:
        """Messages to one person about one case go in the order they were queued (a page
        before the update that follows it); anything else goes side by side."""
        return (self.to_phone, self.case_id)


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How messages leave, from the settings.

    `page_validity`: seconds Twilio may hold a page in its queue before giving it up (it then
    fails with 30036 and falls back to a call). `messaging_service_sid`: texts to responders
    go through that sender pool; texts to a reporter always come from the hotline number,
    the one they wrote to. `ring_seconds`: how long a paging call rings.
    """

    page_validity: int | None = 300
    messaging_service_sid: str | None = None
    ring_seconds: int = RING_SECONDS


def backoff(attempt: int, rand: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with full jitter: 1 s, 2 s, 4 s ... capped, times 0.5 to 1."""
    base = min(MAX_BACKOFF_SECONDS, 2.0 ** (attempt - 1))
    return timedelta(seconds=base * (0.5 + rand() / 2))


def claim(
    sessions: sessionmaker[Session],
    now: datetime,
    limit: int = BATCH,
    lease: timedelta = LEASE,
) -> list[Claim]:
    """Take due rows for sending, dropping those nobody may send any more. A claimed row is
    due again once `lease` has passed, so a worker that dies mid-send delays it, no more.
    The whole batch is read and judged in a fixed handful of statements, whatever its size."""
    claims: list[Claim] = []
    if limit <= 0:
        return claims
    with sessions() as session, session.begin():
        query = (
            select(*Outbound.__table__.c)
            .where(Outbound.status.in_((PENDING, CLAIMED)), Outbound.next_attempt_at <= now)
            .order_by(Outbound.next_attempt_at, Outbound.id)
            .limit(limit)
        )
        if not is_sqlite(str(session.get_bind().url)):
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        case_ids = sorted({r.case_id for r in rows if r.case_id is not None})
        cases = session.scalars(select(Case).where(Case.id.in_(case_ids))).all() if rows else []
        owed = _Owed(
            audiences(session, cases),
            unreachable_among(
                session,
                {
                    r.responder_id
                    for r in rows
                    if r.responder_id is not None and r.kind not in PAGE_KINDS
                },
            ),
        )
        cancelled: list[dict[str, Any]] = []
        for row in rows:
            reason = owed.no_longer_owed(row)
            if reason:
                cancelled.append({"row_id": row.id, "why": reason})
                continue
            claims.append(
                Claim(
                    row.id,
                    row.kind,
                    row.to_phone,
                    row.from_phone,
                    row.body,
                    row.attempts + 1,
                    row.status == CLAIMED,  # its lease ran out: it may have gone out already
                    row.responder_id,
                    row.case_id,
                )
            )
        # Without the ORM: two statements for the whole batch.
        if cancelled:
            session.execute(_CANCEL, cancelled)
        if claims:
            session.execute(
                _CLAIM,
                [{"row_id": c.id, "attempt": c.attempt, "lease_ends": now + lease} for c in claims],
            )
    return claims


_OUTBOUND = Outbound.__table__
_CANCEL = (
    update(_OUTBOUND)
    .where(_OUTBOUND.c.id == bindparam("row_id"))
    .values(status=CANCELLED, error=bindparam("why"))
)
_CLAIM = (
    update(_OUTBOUND)
    .where(_OUTBOUND.c.id == bindparam("row_id"))
    .values(
        status=CLAIMED,
        attempts=bindparam("attempt"),
        next_attempt_at=bindparam("lease_ends", type_=UTCDateTime()),
    )
)


@dataclass(frozen=True, slots=True)
class _Owed:
    """What a claim asks of each row, read once for the whole batch."""

    audiences: dict[int, Audience]
    cannot_text: set[int]

    def no_longer_owed(self, row: Any) -> str | None:
        """Eligibility is asked again at send time: an exclusion or an ACK since queueing
        wins."""
        if row.case_id is None:
            return None
        aud = self.audiences[row.case_id]
        if row.responder_id is not None and not aud.may_hear(row.responder_id):
            return "responder may not hear about the case"
        if row.kind in OWED_WHILE and aud.case.status not in OWED_WHILE[row.kind]:
            return f"case is {aud.case.status}"
        if row.responder_id is not None and row.kind not in PAGE_KINDS:
            # A notice is no page: it has no fallback, and sending it to someone who opted
            # out only fails again (21610). Pages still go, by call (app.paging.fallback).
            if row.responder_id in self.cannot_text:
                return "responder cannot receive SMS"
        elif row.responder_id is None and row.to_phone == aud.case.reporter_phone:
            why = reporter.cannot_text(aud.case)
            if why:
                return f"reporter cannot receive texts ({why})"
        return None


def send(
    transport: Transport,
    claim: Claim,
    public_url: str,
    *,
    link_secret: str = "",
    now: datetime | None = None,
    options: SendOptions | None = None,
) -> Sent | SendError:
    """Hand one message or call to the transport; its status callbacks come to
    /twilio/status, and a call fetches its TwiML from this service too. A voicemail in the
    text becomes a link made now for this recipient alone (app.cases.recordings)."""
    options = options or SendOptions()
    status_callback = public_url + STATUS_PATH
    try:
        if claim.kind in (CALL_PAGE, DRILL_CALL):
            url = page_url if claim.kind == CALL_PAGE else drill_call_url
            return transport.place_call(
                to=claim.to_phone,
                from_=claim.from_phone,
                url=url(public_url, claim.id),
                status_callback=status_callback,
                timeout=options.ring_seconds,
            )
        bearer = Bearer("r", claim.responder_id) if claim.responder_id is not None else None
        body = recordings.expand(
            claim.body,
            base=public_url,
            secret=link_secret,
            bearer=bearer,
            now=now or datetime.now(UTC),
        )
        return transport.send_sms(
            to=claim.to_phone,
            from_=claim.from_phone,
            body=fit_sms(body),  # a voicemail link must not push it past Twilio's 1600
            status_callback=status_callback,
            validity_period=options.page_validity if claim.kind == "page" else None,
            messaging_service_sid=(
                options.messaging_service_sid if claim.responder_id is not None else None
            ),
        )
    except SendError as error:
        return error
    except Exception as error:  # a bug or an unexpected answer: retry, never lose the page
        log.exception("unexpected error sending outbound %s", claim.id)
        return SendError(type(error).__name__, retryable=True)


def finish(
    sessions: sessionmaker[Session], claim: Claim, outcome: Sent | SendError, now: datetime
) -> bool:
    """Record what happened to one send, with its event, in one transaction. Returns
    whether that queued new work (a page falling back to a call)."""
    with sessions() as session, session.begin():
        _finish_all(session, [_Outcome(claim, outcome, now)])
        return bool(session.info.get(NEW_WORK))


def _finish_all(session: Session, batch: Sequence[_Outcome]) -> None:
    """Record outcomes in the order given, reading what they need once for all of them.

    The usual batch, every message accepted and no status callback come before its SID, is
    written in two statements without the ORM (`_all_sent`); any other takes the general
    path below, one outcome at a time on the rows loaded."""
    read = _prefetch(session, batch)
    sent = [
        (read.recorded[o.claim.id], o.claim, o.outcome, o.at)
        for o in batch
        if isinstance(o.outcome, Sent) and o.claim.id in read.recorded
    ]
    if len(sent) == len(batch) and not read.early:
        _all_sent(session, sent)
        return
    rows = {
        r.id: r
        for r in session.scalars(
            select(Outbound).where(Outbound.id.in_([o.claim.id for o in batch]))
        )
    }
    for o in batch:
        _finish(session, o.claim, o.outcome, o.at, read, rows)


def _finish(
    session: Session,
    claim: Claim,
    outcome: Sent | SendError,
    now: datetime,
    read: _Read,
    rows: dict[int, Outbound],
) -> None:
    row, shown = rows[claim.id], read.recorded[claim.id]
    prefix = "page" if row.kind in PAGE_KINDS else "message"
    detail = _detail(shown, claim)
    if isinstance(outcome, Sent):
        row.status = _status(outcome)
        row.provider_sid = outcome.sid
        row.sent_at = now
        row.error = None
        record(session, **_sent_event(shown, claim, outcome, now))
        # A status callback may have come before the SID was stored: apply it now.
        delivery.apply_early(session, row, now, read.early.get(outcome.sid, []))
        return
    detail.update(code=outcome.code, http_status=outcome.http_status, error=outcome.reason)
    row.error = failure(outcome.reason, outcome.code)
    if outcome.retryable and claim.attempt < MAX_ATTEMPTS:
        row.status = PENDING
        row.next_attempt_at = now + backoff(claim.attempt)
        record(
            session,
            case_id=row.case_id,
            type=EventType(f"{prefix}_retry"),
            actor=SYSTEM,
            at=now,
            next_attempt_at=row.next_attempt_at.isoformat(),
            **detail,
        )
        log.warning("outbound %s failed (%s), retrying", row.id, outcome.reason)
        return
    row.status = FAILED
    record(
        session,
        case_id=row.case_id,
        type=EventType(f"{prefix}_failed"),
        actor=SYSTEM,
        at=now,
        **detail,
    )
    log.error("outbound %s failed for good (%s)", row.id, outcome.reason)
    if outcomes.no_texts_reason(outcome.code) is not None:
        # A permanent refusal that says this person cannot get texts from us at all.
        _cannot_text(session, row, outcome.code, now)
    # Failing for good is not the end of a page: an SMS page becomes a call, a call
    # page hands the case to the next tier at once.
    if row.kind == "page":
        fallback.call_instead(session, row, now)
    elif row.kind == CALL_PAGE:
        fallback.call_unanswered(session, row, now, status=FAILED)


_MARK_SENT = (
    update(_OUTBOUND)
    .where(_OUTBOUND.c.id == bindparam("row_id"))
    .values(
        status=bindparam("new_status"),
        provider_sid=bindparam("sid"),
        sent_at=bindparam("at", type_=UTCDateTime()),
        error=None,
    )
)  # built once: compiled once per engine, then cached


def _all_sent(session: Session, sent: Sequence[tuple[Any, Claim, Sent, datetime]]) -> None:
    """Every outcome of a batch a message or call accepted: their events, sealed into their
    chains in order, in one statement and the rows marked sent in another."""
    insert_events(
        session,
        [sealed(session, **_sent_event(row, c, outcome, at)) for row, c, outcome, at in sent],
    )
    session.execute(
        _MARK_SENT,
        [
            {"row_id": c.id, "new_status": _status(outcome), "sid": outcome.sid, "at": at}
            for _, c, outcome, at in sent
        ],
    )


def _status(outcome: Sent) -> str:
    """What an accepted row's status becomes: Twilio's first status, "queued" if unknown."""
    return outcome.status if outcome.status in PROVIDER_ORDER else "queued"


def _detail(row: Any, claim: Claim) -> dict[str, Any]:
    """What every event about a send says: the kind, to whom by name (the log never needs
    anyone's number), the attempt, and the escalation step of a page."""
    detail: dict[str, Any] = {
        "kind": row.kind,
        "to": "reporter" if row.responder_id is None else row.name,
        "attempt": claim.attempt,
    }
    if row.step is not None:
        detail["step"] = row.step
    return detail


def _sent_event(row: Any, claim: Claim, outcome: Sent, now: datetime) -> dict[str, Any]:
    """The event of an accepted send, as `record` and `sealed` take it."""
    detail = _detail(row, claim)
    if claim.maybe_sent_before:
        detail["possible_duplicate"] = True
    prefix = "page" if row.kind in PAGE_KINDS else "message"
    return dict(
        case_id=row.case_id,
        type=EventType(f"{prefix}_sent"),
        actor=SYSTEM,
        at=now,
        sid=outcome.sid,
        **detail,
    )


def _cannot_text(session: Session, row: Outbound, code: int, now: datetime) -> None:
    """Twilio says this person cannot get our texts (opted out, not a mobile, invalid):
    a responder's notices stop (pages fall back below); a reporter is marked on the case."""
    if row.responder_id is not None:
        if row.kind not in PAGE_KINDS:  # a page marks them in fallback.call_instead
            mark_unreachable(session, row.responder_id, row.error or "", now, case_id=row.case_id)
    elif row.case_id is not None:
        case = session.get_one(Case, row.case_id)
        if row.to_phone == case.reporter_phone:
            reporter.mark_unreachable(session, case, outcomes.no_texts_reason(code), now)


@dataclass(slots=True)
class _Outcome:
    claim: Claim
    outcome: Sent | SendError
    at: datetime
    done: threading.Event = field(default_factory=threading.Event)
    work: bool = False
    error: Exception | None = None


def _record_all(sessions: sessionmaker[Session], batch: list[_Outcome]) -> None:
    """Record a batch of outcomes in one transaction, in case order (two workers' batches
    lock cases' chains in the same order); if that fails, each in a transaction of its
    own, so one bad row never loses the others."""
    batch.sort(key=lambda o: (o.claim.case_id or 0, o.claim.id))
    try:
        with sessions() as session, session.begin():
            _finish_all(session, batch)
            work = bool(session.info.get(NEW_WORK))
        for o in batch:
            o.work = work
    except Exception:
        if len(batch) == 1:
            batch[0].error = sys.exc_info()[1]  # type: ignore[assignment]
        else:
            for o in batch:
                try:
                    o.work = finish(sessions, o.claim, o.outcome, o.at)
                except Exception as error:
                    o.error = error
    finally:
        for o in batch:
            o.done.set()


@dataclass(frozen=True, slots=True)
class _Read:
    """What recording a batch of outcomes reads, once for all of them."""

    recorded: dict[int, Any]  # the batch's rows by id: the columns the events need
    early: dict[str, list[EarlyStatus]]  # status callbacks by SID (app.paging.delivery)


_RECORDED = (
    select(
        Outbound.id,
        Outbound.kind,
        Outbound.step,
        Outbound.case_id,
        Outbound.responder_id,
        Responder.name,
    )
    .outerjoin(Responder, Responder.id == Outbound.responder_id)
    .where(Outbound.id.in_(bindparam("ids", expanding=True)))
)


def _prefetch(session: Session, batch: Sequence[_Outcome]) -> _Read:
    """What recording a batch reads, in one statement each rather than one per outcome
    (on PostgreSQL a round trip each, which held the worker to a fraction of SQLite's pace):
    the rows with their recipients' names (not their encrypted texts and numbers), the
    heads of their cases' chains (locked in case order on PostgreSQL, as `record` would one
    by one), which pages are their cases' first sent (app.paging.latency), and the status
    callbacks that came before the SIDs were stored."""
    recorded = {r.id: r for r in session.execute(_RECORDED, {"ids": [o.claim.id for o in batch]})}
    chain_heads(session, [r.case_id for r in recorded.values() if r.case_id is not None])
    sent = [
        (recorded[o.claim.id], o.at, o.outcome.sid)
        for o in batch
        if isinstance(o.outcome, Sent) and o.claim.id in recorded
    ]
    first_pages_sent(session, [(row, at) for row, at, _ in sent])
    return _Read(recorded, delivery.early_statuses(session, [sid for _, _, sid in sent]))


@dataclass(slots=True)
class _Held:
    claim: Claim
    since: datetime  # when its lease was taken or last renewed


class Sender:
    """Sends claimed messages side by side, at most `max_in_flight` at once, and never
    makes one wait on another's slow answer: each recipient has a queue of their own per
    case (messages go in the order they were queued, a page before the update that follows),
    drained by one thread of a bounded pool while other queues go on.

    Each outcome is recorded as soon as it is known, in a short transaction shared with the
    outcomes that came in meanwhile (group commit): a message's status callback (Twilio's
    first comes about a second after it accepts) must find its SID, however slow another
    send is. A queue that outlasts half its lease renews it, or another worker would take
    the rest for abandoned and both would send it. `on_done` is called when a finished send
    freed room in a full sender or queued new work (a fallback call): the worker claims more.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        transport: Transport,
        public_url: str,
        clock: Callable[[], datetime],
        *,
        max_in_flight: int = 32,
        lease: timedelta = LEASE,
        link_secret: str = "",
        options: SendOptions | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.transport = transport
        self.public_url = public_url
        self.clock = clock
        self.max_in_flight = max_in_flight
        self.lease = lease
        self.link_secret = link_secret
        self.options = options
        self.on_done = on_done
        self.pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="send")
        self._lock = threading.Condition()
        self._queues: dict[tuple[str, int | None], deque[_Held]] = {}
        self._held = 0
        self._full = False  # the loop stopped claiming: wake it once room frees up
        self._outcomes: list[_Outcome] = []
        self._recording = False
        self._outcomes_lock = threading.Lock()

    def waiting_for_room(self) -> bool:
        """Full: the loop claims again when half the room is free (it is woken then)."""
        with self._lock:
            return self._full

    def room(self) -> int:
        """How many more claims this sender takes now."""
        with self._lock:
            return self.max_in_flight - self._held

    def pump(self) -> int:
        """Claim as many due messages as there is room for and start sending them; returns
        how many were claimed. Never waits for a send."""
        total = 0
        if self.waiting_for_room():
            return total
        while (room := self.room()) > 0:
            claimed_at = self.clock()
            claims = claim(self.sessions, claimed_at, limit=min(room, BATCH), lease=self.lease)
            self.submit(claims, claimed_at)
            total += len(claims)
            if len(claims) < min(room, BATCH):
                break
        return total

    def submit(self, claims: list[Claim], claimed_at: datetime) -> None:
        with self._lock:
            self._full = self._full or self._held + len(claims) >= self.max_in_flight
            for c in claims:
                self._held += 1
                queue = self._queues.get(c.queue)
                if queue is None:
                    self._queues[c.queue] = deque([_Held(c, claimed_at)])
                    self.pool.submit(self._drain, c.queue)
                else:
                    queue.append(_Held(c, claimed_at))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every claimed message is sent and recorded."""
        with self._lock:
            return self._lock.wait_for(lambda: self._held == 0, timeout)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)

    def _drain(self, key: tuple[str, int | None]) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                held = queue[0]
                stale = self.clock() - held.since >= self.lease / 2
                waiting = list(queue) if stale else []
            work = False
            try:
                if stale and not self._renew(waiting):
                    continue  # another worker took it over: it sends it
                outcome = send(
                    self.transport,
                    held.claim,
                    self.public_url,
                    link_secret=self.link_secret,
                    now=self.clock(),
                    options=self.options,
                )
                work = self._record(held.claim, outcome)
            except Exception:
                # Recording failed (the database went away): the lease runs out and the
                # message is claimed again, possibly twice, never zero times.
                log.exception("outbound %s: outcome not recorded", held.claim.id)
            finally:
                with self._lock:
                    roomy = False
                    if queue and queue[0] is held:
                        queue.popleft()
                        self._held -= 1
                        # Half the room free again is worth a claim; one freed slot is not.
                        roomy = self._full and self._held <= self.max_in_flight // 2
                        if roomy:
                            self._full = False
                        self._lock.notify_all()
            if self.on_done is not None and (roomy or work):
                self.on_done()

    def _record(self, claim: Claim, outcome: Sent | SendError) -> bool:
        """Record one outcome, committed together with whatever other outcomes arrived
        meanwhile (group commit): the first thread to find nobody recording records every
        waiting outcome in one transaction, again until none is left, while the others wait
        for theirs. Returns whether its transaction queued new work."""
        mine = _Outcome(claim, outcome, self.clock())
        with self._outcomes_lock:
            self._outcomes.append(mine)
            leader = not self._recording
            self._recording = True
        if not leader:
            mine.done.wait()
        else:
            while True:
                with self._outcomes_lock:
                    batch, self._outcomes = self._outcomes, []
                    if not batch:
                        self._recording = False
                        break
                _record_all(self.sessions, batch)
        if mine.error is not None:
            raise mine.error
        return mine.work

    def _renew(self, waiting: list[_Held]) -> bool:
        """Renew the lease of the messages waiting in one queue; drops those another
        worker has taken over since. Returns whether the first is still ours."""
        now = self.clock()
        ours = renew(self.sessions, [h.claim for h in waiting], now, self.lease)
        with self._lock:
            queue = self._queues[waiting[0].claim.queue]
            first_ours = waiting[0].claim.id in ours
            for h in waiting:
                if h.claim.id in ours:
                    h.since = now
                elif h in queue:
                    queue.remove(h)
                    self._held -= 1
            self._lock.notify_all()
        return first_ours


def renew(
    sessions: sessionmaker[Session], claims: list[Claim], now: datetime, lease: timedelta
) -> set[int]:
    """Extend the lease of those claims that are still this worker's; returns their ids.
    A claim is still ours while the row is claimed with the attempt number we gave it."""
    ours = or_(*(and_(Outbound.id == c.id, Outbound.attempts == c.attempt) for c in claims))
    with sessions() as session, session.begin():
        renewed = session.scalars(
            update(Outbound)
            .where(Outbound.status == CLAIMED, ours)
            .values(next_attempt_at=now + lease)
            .returning(Outbound.id)
            .execution_options(synchronize_session=False)
        )
        return set(renewed)


def next_attempt(session: Session) -> datetime | None:
    return session.scalar(
        select(func.min(Outbound.next_attempt_at)).where(Outbound.status.in_((PENDING, CLAIMED)))
    )
