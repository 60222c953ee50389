"""What every /twilio/... endpoint shares: the signature check, idempotency by SID, TwiML."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Annotated, Any, Protocol
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from app.db import GENERAL, Batched, BatchKind, GroupCommit
from app.event_types import EventType
from app.settings import Settings
from app.telephony.models import WebhookReceipt
from app.telephony.signature import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    is_valid,
    secret_for,
)
from app.telephony.spool import Spool


class Services(Protocol):
    """What Twilio's adapter uses of the process's long-lived parts. app.services.Services
    has them all; telephony names only this, so it never imports the layers above it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def sessions(self) -> sessionmaker[Session]: ...
    @property
    def commits(self) -> GroupCommit[Any]: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def spool(self) -> Spool: ...


def from_request(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


#: Told about every webhook whose handler says it created work, in its transaction (work
#: queued through the outbox says so itself). The paging domain registers the receiver that
#: wakes the workers when the transaction commits (app.paging.outbox.mark_new_work): the one
#: after-commit wake-up, which telephony never imports.
WorkMade = Callable[[Session], None]
_work_receivers: list[WorkMade] = []


def receive_work(receiver: WorkMade) -> None:
    """Register a receiver (once) for every webhook that created work."""
    if receiver not in _work_receivers:
        _work_receivers.append(receiver)


TWIML = "application/xml"
FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
SIGNED_WEBHOOK = "signed_webhook"  # request.state attribute: the checked webhook, as sent

#: Set while a spooled webhook is replayed (app.telephony.outage): when Twilio sent it.
replaying: ContextVar[datetime | None] = ContextVar("replaying", default=None)


@dataclass(frozen=True)
class SignedWebhook:
    """A webhook whose signature checked out, kept so it can be spooled during an outage."""

    path: str  # path and query, as signed
    params: dict[str, str]
    signature: str | None


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form, once its X-Twilio-Signature proves it came from Twilio.

    HMAC-SHA1 with the auth token, or HMAC-SHA256 with TWILIO_WEBHOOK_SHARED_KEY when the
    request announces it in X-Twilio-Webhooks-Signature-Settings (a Webhooks signature rule).

    The URL checked is the configured public URL plus path and query, which is what Twilio
    signed even when a proxy in front changed scheme, host or port. Twilio posts
    application/x-www-form-urlencoded; the body is parsed here directly, which is cheaper
    than a general form parser on the hot path.
    """
    settings = from_request(request).settings
    if not settings.twilio_auth_token:
        raise HTTPException(503, "TWILIO_AUTH_TOKEN is not set: webhooks cannot be verified")
    if not request.headers.get("content-type", "").startswith(FORM):
        raise HTTPException(415, f"expected {FORM}")
    try:
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "the body is not a form") from exc
    path = _signed_path(request.scope)
    signature = request.headers.get(SIGNATURE_HEADER)
    try:
        algorithm, secret = secret_for(
            request.headers.get(SIGNATURE_SETTINGS_HEADER),
            auth_token=settings.twilio_auth_token,
            shared_key=settings.twilio_webhook_shared_key,
        )
    except ValueError as exc:
        raise HTTPException(403, str(exc)) from None
    url = settings.public_url + path
    if not is_valid(secret, url, pairs, signature, algorithm=algorithm):
        raise HTTPException(403, "invalid or missing X-Twilio-Signature")
    params = dict(pairs)
    # Kept as sent, to be spooled if the database turns out to be unreachable.
    setattr(request.state, SIGNED_WEBHOOK, SignedWebhook(path, params, signature))
    return cleaned(params)


def _signed_path(scope: Scope) -> str:
    """Path and query as requested: what `request.url` gives for a webhook's route (whose
    path has no character that URL would escape), without building and parsing a URL."""
    path: str = scope["path"]
    query: bytes = scope["query_string"]
    return f"{path}?{query.decode()}" if query else path


def cleaned(params: dict[str, str]) -> dict[str, str]:
    """The form as handlers see it. No database stores NUL in text, and Twilio never sends
    it: drop it rather than fail."""
    return {key: value.replace("\x00", "") for key, value in params.items()}


SignedForm = Annotated[dict[str, str], Depends(signed_form)]

#: What a webhook does inside its transaction: returns its TwiML answer and whether it
#: created work for the worker.
Handler = Callable[[Session], tuple[str, bool]]


MAX_SID = 40  # Twilio's SIDs are 34 characters
MAX_ADDRESS = 128  # E.164 numbers, short codes, client: and sip: addresses


def required(form: dict[str, str], *names: str) -> list[str]:
    """The named fields, present and of a sane length (a 400 names any that are not)."""
    missing = [n for n in names if not form.get(n, "").strip()]
    if missing:
        raise HTTPException(400, f"missing form field(s): {', '.join(missing)}")
    values = [form[n].strip() for n in names]
    for name, value in zip(names, values, strict=True):
        limit = MAX_SID if name.endswith("Sid") else MAX_ADDRESS
        if len(value) > limit:
            raise HTTPException(400, f"form field {name} is longer than {limit} characters")
    return values


def twiml(xml: str) -> Response:
    return Response(content=xml, media_type=TWIML)


#: What many webhooks of one endpoint do at once, in the batch's session: per item (what
#: the endpoint read of each form), in order, its TwiML answer and whether it created work,
#: or None for the webhooks that need their own `Handler` (nothing written for them).
BatchHandler = Callable[[Services, Session, list[Any]], list[tuple[str, bool] | None]]


async def answer_once(
    svc: Services,
    sid: str,
    kind: str,
    handle: Handler,
    batch: tuple[BatchHandler, Any] | None = None,
) -> str:
    """`once` for async endpoints: the event loop waits for the group commit without
    holding a thread (or, without writers, for the transaction in the thread pool), and goes
    on reading other requests meanwhile.

    With `batch` (a handler for many and this webhook's item), the webhooks of the endpoint
    that wait together are handled together (app.db.Batched): their receipts are one
    statement, and what the batch handler leaves runs `handle` as usual."""
    unit: Callable[[Session], str] | Batched[str] = _unit(svc, sid, kind, handle)
    if batch is not None and replaying.get() is None:
        handler, item = batch
        unit = Batched(_batch_kind(handler), _Webhook(svc, sid, kind, item), unit)
    try:
        if svc.commits.writers:
            return await svc.commits.wait(unit)
        return await run_in_threadpool(svc.commits.run, unit)
    except IntegrityError as error:
        return _answered_before(svc, sid, error)


def once(svc: Services, sid: str, kind: str, handle: Callable[[Session], tuple[str, bool]]) -> str:
    """Run `handle` at most once per Twilio SID and answer a retry as the first time.

    `handle` returns the TwiML answer and whether it created work for the worker (work
    queued through app.paging.outbox marks itself); the workers wake after the COMMIT. The
    receipt is written in the same transaction as everything `handle` does: both or neither. The
    transaction is committed together with the webhooks that arrived beside it
    (app.db.GroupCommit), and the answer is given only after that COMMIT.

    When the webhook is replayed from the outage spool (`replaying` is set), each case it
    touched also gets a `received_during_outage` event with the time Twilio sent it, in the
    same transaction: the log shows why the case's steps came later than the report.
    """
    unit = _unit(svc, sid, kind, handle)
    try:
        return svc.commits.run(unit)
    except IntegrityError as error:
        return _answered_before(svc, sid, error)


def _unit(
    svc: Services, sid: str, kind: str, handle: Callable[[Session], tuple[str, bool]]
) -> Callable[[Session], str]:
    """The webhook's unit of work for the group commit: safe to run again (it writes only
    through its session), which the commit's one-by-one fallback relies on."""
    from app.audit.log import WRITTEN

    received_at = replaying.get()  # read here: the unit runs in the writer's thread

    def unit(session: Session) -> str:
        session.info.pop(WRITTEN, None)
        answer, work = handle(session)
        if received_at is not None:
            _note_delay(session, sid, received_at, svc.clock())
        # Written last, so a retry (rare) costs a rollback rather than every first
        # delivery paying for a lookup.
        session.flush()
        session.execute(
            _INSERT_RECEIPT,
            {"sid": sid, "kind": kind, "received_at": svc.clock(), "answer": answer},
        )
        if work:
            for receiver in _work_receivers:
                receiver(session)
        return answer

    return unit


_INSERT_RECEIPT = insert(WebhookReceipt.__table__)  # built once: compiled once, then cached
_receipt = WebhookReceipt.__table__.c
_ANSWERED = select(_receipt.sid).where(_receipt.sid.in_(bindparam("sids", expanding=True)))


@dataclass(frozen=True, slots=True)
class _Webhook:
    """A webhook waiting in a batch."""

    svc: Services
    sid: str
    kind: str
    item: Any


@cache
def _batch_kind(handler: BatchHandler) -> BatchKind:
    """The group commit's batch kind of the handler's webhooks: one object per handler,
    as the group commit tells kinds apart by it."""
    return partial(_answer_batch, handler)


def _answer_batch(handler: BatchHandler, session: Session, webhooks: list[_Webhook]) -> list[Any]:
    """Webhooks handled together, with their receipts in one statement. A SID answered
    before, or twice in the batch, goes to the general path, which answers it as the
    first time; so does every webhook the handler leaves. A SID another process answers
    meanwhile fails the receipts' insert, and with it the batch: each then runs alone."""
    answered = set(session.scalars(_ANSWERED, {"sids": [w.sid for w in webhooks]}))
    fresh: list[int] = []
    for at, webhook in enumerate(webhooks):
        if webhook.sid not in answered:
            answered.add(webhook.sid)
            fresh.append(at)
    svc = webhooks[0].svc
    results: list[Any] = [GENERAL] * len(webhooks)
    receipts = []
    made_work = False
    for at, result in zip(
        fresh, handler(svc, session, [webhooks[at].item for at in fresh]), strict=True
    ):
        if result is not None:
            results[at], work = result
            made_work = made_work or work
            receipts.append(
                {
                    "sid": webhooks[at].sid,
                    "kind": webhooks[at].kind,
                    "received_at": svc.clock(),
                    "answer": results[at],
                }
            )
    if receipts:
        session.execute(_INSERT_RECEIPT, receipts)
    if made_work:
        for receiver in _work_receivers:
            receiver(session)
    return results


def _answered_before(svc: Services, sid: str, error: IntegrityError) -> str:
    """This SID was answered before (or concurrently): answer as then, change nothing."""
    with svc.sessions() as session:
        seen = session.get(WebhookReceipt, sid)
        if seen is None:
            raise error
        return seen.answer


def _note_delay(session: Session, sid: str, received_at: datetime, now: datetime) -> None:
    from app.audit.log import SYSTEM, WRITTEN, record

    # The cases this session (one webhook's transaction) gave events: the ones it touched.
    for case_id in sorted(session.info.pop(WRITTEN, ())):
        record(
            session,
            case_id=case_id,
            type=EventType.RECEIVED_DURING_OUTAGE,
            actor=SYSTEM,
            at=now,
            sid=sid,
            received_at=received_at.isoformat(),
        )
