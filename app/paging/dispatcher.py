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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.audit.log import SYSTEM, record
from app.cases import recordings, reporter
from app.cases.models import Case
from app.cases.recordings import Bearer
from app.db import is_sqlite
from app.event_types import EventType
from app.paging import delivery, fallback
from app.paging.engine import Audience, audience
from app.paging.latency import first_page_sent
from app.paging.models import Outbound
from app.paging.outbox import (
    CALL_PAGE,
    CANCELLED,
    CLAIMED,
    DRILL_CALL,
    EMERGENCY_NOTICE,
    FAILED,
    PAGE_KINDS,
    PENDING,
    PROVIDER_ORDER,
    failure,
)
from app.paging.reachability import mark_unreachable, unreachable_among
from app.paging.urls import drill_call_url, page_url
from app.roster.models import Responder
from app.telephony.transport import SendError, Sent, Transport
from app.telephony.twiml import RING_SECONDS
from app.wording import fit_sms

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # the default of Settings.claim_lease_seconds
MAX_ATTEMPTS = 12  # about twelve minutes of trying before a send is given up as failed
MAX_BACKOFF_SECONDS = 120.0
BATCH = 20
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


#: Permanent refusals that say this person cannot get texts from us at all.
CANNOT_TEXT = frozenset({21211, 21610, 21614})


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
    due again once `lease` has passed, so a worker that dies mid-send delays it, no more."""
    claims: list[Claim] = []
    with sessions() as session, session.begin():
        query = (
            select(Outbound)
            .where(Outbound.status.in_((PENDING, CLAIMED)), Outbound.next_attempt_at <= now)
            .order_by(Outbound.next_attempt_at, Outbound.id)
            .limit(limit)
        )
        if not is_sqlite(str(session.get_bind().url)):
            query = query.with_for_update(skip_locked=True)
        audiences: dict[int, Audience] = {}
        for row in session.scalars(query).all():
            reason = _no_longer_owed(session, row, audiences)
            if reason:
                row.status = CANCELLED
                row.error = reason
                continue
            maybe_sent_before = row.status == CLAIMED
            row.status = CLAIMED
            row.attempts += 1
            row.next_attempt_at = now + lease
            claims.append(
                Claim(
                    row.id,
                    row.kind,
                    row.to_phone,
                    row.from_phone,
                    row.body,
                    row.attempts,
                    maybe_sent_before,
                    row.responder_id,
                )
            )
    return claims


def _no_longer_owed(session: Session, row: Outbound, audiences: dict[int, Audience]) -> str | None:
    """Eligibility is asked again at send time: an exclusion or an ACK since queueing wins."""
    if row.case_id is None:
        return None
    if row.case_id not in audiences:
        audiences[row.case_id] = audience(session, session.get_one(Case, row.case_id))
    aud = audiences[row.case_id]
    if row.responder_id is not None and not aud.may_hear(row.responder_id):
        return "responder may not hear about the case"
    if row.kind in OWED_WHILE and aud.case.status not in OWED_WHILE[row.kind]:
        return f"case is {aud.case.status}"
    if row.responder_id is not None and row.kind not in PAGE_KINDS:
        # A notice is no page: it has no fallback, and sending it to someone who opted out
        # only fails again (21610). Pages still go, by call (app.paging.fallback).
        if unreachable_among(session, {row.responder_id}):
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
) -> None:
    """Record what happened to one send, with its event, in one transaction."""
    with sessions() as session, session.begin():
        row = session.get_one(Outbound, claim.id)
        who = _recipient(session, row)
        prefix = "page" if row.kind in PAGE_KINDS else "message"
        detail = {"kind": row.kind, "to": who, "attempt": claim.attempt}
        if row.step is not None:
            detail["step"] = row.step
        if isinstance(outcome, Sent):
            row.status = outcome.status if outcome.status in PROVIDER_ORDER else "queued"
            row.provider_sid = outcome.sid
            row.sent_at = now
            row.error = None
            if claim.maybe_sent_before:
                detail["possible_duplicate"] = True
            record(
                session,
                case_id=row.case_id,
                type=EventType(f"{prefix}_sent"),
                actor=SYSTEM,
                at=now,
                sid=outcome.sid,
                **detail,
            )
            first_page_sent(session, row, now)
            # A status callback may have come before the SID was stored: apply it now.
            delivery.apply_early(session, row, now)
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
        if outcome.code in CANNOT_TEXT:
            _cannot_text(session, row, outcome.code, now)
        # Failing for good is not the end of a page: an SMS page becomes a call, a call
        # page hands the case to the next tier at once.
        if row.kind == "page":
            fallback.call_instead(session, row, now)
        elif row.kind == CALL_PAGE:
            fallback.call_unanswered(session, row, now, status=FAILED)


def _cannot_text(session: Session, row: Outbound, code: int, now: datetime) -> None:
    """Twilio says this person cannot get our texts (opted out, not a mobile, invalid):
    a responder's notices stop (pages fall back below); a reporter is marked on the case."""
    if row.responder_id is not None:
        if row.kind not in PAGE_KINDS:  # a page marks them in fallback.call_instead
            mark_unreachable(session, row.responder_id, row.error or "", now, case_id=row.case_id)
    elif row.case_id is not None:
        case = session.get_one(Case, row.case_id)
        if row.to_phone == case.reporter_phone:
            reporter.mark_unreachable(session, case, reporter.reason_for_code(code), now)


def _recipient(session: Session, row: Outbound) -> str:
    """Who a message went to, by name: the log never needs anyone's number."""
    if row.responder_id is not None:
        return session.get_one(Responder, row.responder_id).name
    return "reporter"


def dispatch_due(
    sessions: sessionmaker[Session],
    transport: Transport,
    public_url: str,
    clock: Callable[[], datetime],
    pool: ThreadPoolExecutor | None = None,
    lease: timedelta = LEASE,
    link_secret: str = "",
    options: SendOptions | None = None,
) -> int:
    """Send one batch of due messages; returns how many were attempted."""
    claimed_at = clock()
    claims = claim(sessions, claimed_at, lease=lease)
    if not claims:
        return 0
    # Different people are sent to side by side; one person's messages go in the order they
    # were queued (a page before the update that follows it).
    by_recipient: dict[str, list[Claim]] = {}
    for c in claims:
        by_recipient.setdefault(c.to_phone, []).append(c)

    def send_in_order(queue: list[Claim]) -> None:
        # Each outcome is recorded as soon as it is known, not once the whole batch is: the
        # message's status callback (Twilio's first comes about a second after it accepts)
        # must find its SID, however slow another send of the batch is.
        # A long queue can outlast the lease it was claimed under: it is renewed as it goes,
        # or another worker would take the rest for abandoned and both would send it.
        held_since = claimed_at
        lost: set[int] = set()
        for i, c in enumerate(queue):
            if clock() - held_since >= lease / 2:
                held_since = clock()
                lost |= {r.id for r in queue[i:]} - renew(sessions, queue[i:], held_since, lease)
            if c.id not in lost:  # else another worker took it over: it sends it
                outcome = send(
                    transport, c, public_url, link_secret=link_secret, now=clock(), options=options
                )
                finish(sessions, c, outcome, clock())

    queues = list(by_recipient.values())
    if pool is None or len(queues) == 1:
        for queue in queues:
            send_in_order(queue)
    else:
        list(pool.map(send_in_order, queues))
    return len(claims)


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
