"""Answering Twilio while the database is unreachable: keep the webhook, answer, replay later.

A reporter who texts or calls during a database outage must still hear that the report is
received and what to do in an emergency, and the report must still reach the responders.
So when a /twilio/... webhook's transaction fails because the database cannot be reached
(`OUTAGE_ERRORS`, raised fast: see app.db's connect timeout), `database_unreachable`:

1. writes the signed webhook to the local spool (app.telephony.spool), fsync'd;
2. answers what that path answers during an outage (`register`): for a text, "received"
   and the hotline's emergency information; for a call, the same said, then hang up. The
   hotline's name and information come from memory (app.roster.cache.contact_of), or a
   generic emergency line when this process never read that hotline;
3. `Replayer`, a thread of the web process, replays the spool through the same handlers
   once the database answers again. They are idempotent by Twilio's SID, so each webhook
   lands exactly once, however often it was spooled or replayed.

Twilio's fallback URLs (`/twilio/sms/fallback`, `/twilio/voice/fallback`, set on the number
as "Primary handler fails") do steps 1 and 2 without trying the database at all: Twilio
calls them when the primary URL errored or took more than 15 s.

Paths registered without `replay` (the middle steps of a live call) are answered but not
kept: replaying them after the call ended would describe ringing that never happened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool

from app import wording
from app.metrics import OUTCOME
from app.roster.cache import Contact, contact_of, remember_all
from app.telephony import twiml as answers
from app.telephony.carrier import carrier_keyword_in
from app.telephony.spool import Entry, ReplayResult
from app.telephony.webhook import (
    EMPTY_TWIML,
    SIGNED_WEBHOOK,
    Services,
    SignedWebhook,
    cleaned,
    from_request,
    replaying,
    twiml,
)

log = logging.getLogger(__name__)

#: The database could not be reached (refused, timed out, gone, locked for too long, pool
#: exhausted). Other errors, IntegrityError and programming errors included, are not outages.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)

REPLAY_RETRY_SECONDS = 5.0  # between tries while the database stays unreachable
REPLAY_IDLE_SECONDS = 60.0  # a look at the spool now and then (another process may share it)

#: (form, kept) -> TwiML; kept is False when not even the spool could be written.
Answer = Callable[[dict[str, str], bool], str]
#: (services, form, query) -> anything; runs the webhook's own handler, idempotently.
Replay = Callable[[Services, dict[str, str], dict[str, str]], object]


@dataclass(frozen=True)
class Route:
    answer: Answer
    replay: Replay | None


ROUTES: dict[str, Route] = {}


def register(path: str, *, answer: Answer, replay: Replay | None = None) -> None:
    """What `path` (a route's path template) does while the database is unreachable."""
    ROUTES[path] = Route(answer, replay)


# --- answers --------------------------------------------------------------------------


def _contact(*numbers: str | None) -> Contact | None:
    for number in numbers:
        contact = contact_of((number or "").strip())
        if contact is not None:
            return contact
    return None


def sms_answer(form: dict[str, str], kept: bool) -> str:
    if carrier_keyword_in(form.get("Body", "")) is not None:
        return EMPTY_TWIML  # STOP and friends are the carrier's to answer, outage or not
    contact = _contact(form.get("To"))
    name, info = (contact.name, contact.emergency_info) if contact else (None, None)
    return answers.message(
        wording.outage_sms(name, info) if kept else wording.outage_not_kept(name, info)
    )


def call_answer(form: dict[str, str], kept: bool) -> str:
    contact = _contact(form.get("To"))
    name, info = (contact.name, contact.emergency_info) if contact else (None, None)
    said = wording.outage_call(name, info) if kept else wording.outage_call_not_kept(name, info)
    return answers.hang_up(said)


def call_step_answer(form: dict[str, str], kept: bool) -> str:
    """A later step of a call: the caller's leg is To the hotline, a responder's leg From it."""
    contact = _contact(form.get("To"), form.get("From"))
    info = contact.emergency_info if contact else None
    return answers.hang_up(wording.outage_call_step(info))


def empty_answer(form: dict[str, str], kept: bool) -> str:
    """Status callbacks: Twilio reads no TwiML from them."""
    return EMPTY_TWIML


# --- answering ------------------------------------------------------------------------


def keep(svc: Services, webhook: SignedWebhook) -> bool:
    """Spool the webhook durably; False (and a loud log) when even that fails."""
    try:
        svc.spool.append(
            Entry(webhook.path, webhook.params, svc.clock(), signature=webhook.signature)
        )
    except OSError:
        log.critical("webhook %s could NOT be spooled: it is lost", webhook.path, exc_info=True)
        return False
    return True


async def answer_without_database(request: Request) -> Response:
    """Spool the request's signed webhook (when its path is replayable) and answer it as
    during an outage. Used by the fallback URLs and by `database_unreachable`."""
    webhook: SignedWebhook | None = getattr(request.state, SIGNED_WEBHOOK, None)
    route_path = getattr(request.scope.get("route"), "path", request.url.path)
    route = ROUTES.get(route_path)
    if webhook is None or route is None:
        return twiml(EMPTY_TWIML)
    kept = True
    if route.replay is not None:
        kept = await run_in_threadpool(keep, from_request(request), webhook)
    request.scope[OUTCOME] = ("spooled" if kept else "lost") if route.replay else "outage"
    return twiml(route.answer(webhook.params, kept))


async def database_unreachable(request: Request, exc: Exception) -> Response:
    """The app's handler for `OUTAGE_ERRORS`: webhooks are spooled and answered, anything
    else (the API) gets 503."""
    reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if getattr(request.state, SIGNED_WEBHOOK, None) is None:
        log.error("database unreachable during %s: %s", request.url.path, reason)
        return JSONResponse({"detail": "database unreachable"}, status_code=503)
    log.error("database unreachable: webhook %s spooled (%s)", request.url.path, reason)
    return await answer_without_database(request)


# --- replaying ------------------------------------------------------------------------


def run_entry(svc: Services, entry: Entry) -> None:
    """Run a spooled webhook through its handler, as if Twilio had sent it now."""
    url = urlsplit(entry.path)
    route = ROUTES.get(url.path)
    if route is None or route.replay is None:
        raise LookupError(f"no replay for {url.path}")
    token = replaying.set(entry.received_at)
    try:
        route.replay(svc, cleaned(entry.params), dict(parse_qsl(url.query)))
    finally:
        replaying.reset(token)


def replay(svc: Services) -> ReplayResult:
    """Replay what the spool holds; safe to call any time, from any process, repeatedly."""
    result = svc.spool.replay(partial(run_entry, svc), retry_later=OUTAGE_ERRORS)
    if result.landed or result.failed:
        log.info(
            "spool replay: %d webhook(s) landed, %d failed, %s",
            result.landed,
            result.failed,
            "done" if result.done else f"stopped ({result.error})",
        )
    return result


class Replayer:
    """The web process's thread that empties its spool: at start-up, whenever an entry is
    added, and every few seconds while entries wait. It also remembers every hotline's
    information once the database answers, for answers given without it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.stopping = threading.Event()
        self.contacts_known = False
        # Start-up steps that found the database unreachable (the roster file's load), run
        # in order once it answers.
        self.pending: list[Callable[[], object]] = []
        self.thread: threading.Thread | None = None

    def round(self) -> bool:
        """One try; True when nothing is left to do for now."""
        while self.pending:
            try:
                self.pending[0]()
            except OUTAGE_ERRORS:
                raise
            except Exception:
                log.exception("a start-up step failed after the database came back; skipped")
            self.pending.pop(0)
        if not self.contacts_known:
            with self.services.sessions() as session:
                remember_all(session)
            self.contacts_known = True
        if self.services.spool.depth() == 0:
            return True
        return replay(self.services).done

    def run(self) -> None:
        appended = self.services.spool.appended
        while not self.stopping.is_set():
            appended.clear()
            try:
                idle = self.round()
            except OUTAGE_ERRORS as exc:
                log.warning("database unreachable: %s", f"{exc}".splitlines()[0])
                idle = False
            except Exception:
                log.exception("spool replay failed; trying again shortly")
                idle = False
            if idle:
                appended.wait(REPLAY_IDLE_SECONDS)
            else:
                self.stopping.wait(REPLAY_RETRY_SECONDS)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="spool-replay", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.services.spool.appended.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
