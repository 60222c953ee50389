"""A hotline on a real database, driven the way Twilio drives it.

Webhooks go through the ASGI app with real signatures; outbound SMS leave through the real
Twilio REST client and are caught by respx at the HTTP transport; time is a clock the test
moves, and the worker runs one round when the test asks, so every step is deterministic.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import respx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.audit.models import Event
from app.cases.numbers import NumberSource, sequential_case_numbers
from app.casework.roster_load import load_roster
from app.db import transaction
from app.main import create_app
from app.paging.worker import Worker
from app.roster.schema import parse_roster
from app.services import Services
from app.settings import Settings
from app.telephony.signature import (
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    sign,
)
from tests import twilio_conformance as conformance

HOTLINE = "+15555550100"
OTHER_HOTLINE = "+15555550101"
AVERY = "+15555550111"
BLAKE = "+15555550112"
CASEY = "+15555550113"
DANA = "+15555550121"
EMERY = "+15555550122"
REPORTER = "+15555550150"
REPORTER_2 = "+15555550151"
LEADS = (AVERY, BLAKE, CASEY)
ALTERNATES = (DANA, EMERY)

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"
SHARED_KEY_ID = "webhooks_sharedkey_test"
PUBLIC_URL = "https://hotline.example.test"
TWILIO_BASE = "http://twilio.test"
MESSAGES_URL = f"{TWILIO_BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLS_URL = f"{TWILIO_BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"

ROSTER = f"""
hotlines:
  - number: "{HOTLINE}"
    name: "Example Conf 2026"
    timezone: "America/New_York"
    safety_info: "Safety room: Room 23."
    emergency_info: "If anyone is in danger call 911, then venue security +1 555 555 0199."
    responders:
      - {{name: "Avery Quinn", phone: "{AVERY}", role: lead, aliases: ["Avery"]}}
      - {{name: "Blake Rivera", phone: "{BLAKE}", role: lead}}
      - {{name: "Casey Moreau", phone: "{CASEY}", role: lead}}
      - {{name: "Dana Okafor", phone: "{DANA}", role: alternate}}
      - {{name: "Emery Lindqvist", phone: "{EMERY}", role: alternate}}
    shifts:
      - {{responder: "Avery Quinn", start: "2026-05-11T08:00", end: "2026-05-11T20:00"}}
    escalation:
      - {{notify: on_call_leads, after_minutes: 0}}
      - {{notify: all_leads, after_minutes: 5}}
      - {{notify: alternates, after_minutes: 10}}
    repeat: 1
"""
# Noon in New York on the day of Avery's shift: Avery alone is the on-call lead.
START = datetime(2026, 5, 11, 16, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Sms:
    to: str
    sender: str
    body: str


@dataclass
class PlacedCall:
    to: str
    sender: str
    url: str
    status_callback: str | None
    sid: str


@dataclass
class Remote:
    """A message or call Twilio accepted, and the status callbacks it still owes."""

    sid: str
    kind: str  # "message" or "call"
    to: str
    status_callback: str | None
    settled: bool = False


OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})


@dataclass
class FakeTwilio:
    """Twilio's Messages and Calls endpoints under respx: accept, or fail as told.

    Like Twilio, it refuses what Twilio refuses, checked on every request of every test
    against Twilio's API description (tests.twilio_conformance): a request the description
    does not allow is answered 400 and kept in `violations`, which fails the test at close.
    A number that texted STOP to the hotline is refused with 21610 until START; a `landline`
    accepts texts that end undelivered (30006). `status_callbacks` are sent by
    `Hotline.deliver_callbacks`, one per change, as Twilio sends them.
    """

    sent: list[Sms] = field(default_factory=list)
    failures: list[httpx.Response] = field(default_factory=list)
    attempts: int = 0
    calls: list[PlacedCall] = field(default_factory=list)
    call_failures: list[httpx.Response] = field(default_factory=list)
    violations: list[tuple[str, list[str]]] = field(default_factory=list)
    checked: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    landlines: set[str] = field(default_factory=set)
    fates: dict[str, tuple[str, str]] = field(default_factory=dict)  # to -> (status, code)
    call_fates: dict[str, str] = field(default_factory=dict)  # to -> how a call ends
    remote: list[Remote] = field(default_factory=list)
    forms: list[dict[str, list[str]]] = field(default_factory=list)

    def _check(self, request: httpx.Request) -> tuple[dict[str, list[str]], httpx.Response | None]:
        """Validate a request as Twilio would; the refusal to answer with, if any."""
        body = request.content.decode()
        form: dict[str, list[str]] = {}
        for key, value in parse_qs(body, keep_blank_values=True).items():
            form[key] = value
        self.forms.append(form)
        problems = conformance.violations(request.method, str(request.url), body)
        kind = conformance.kind_of(request.url.path)
        self.checked.append((kind, tuple(sorted(form))))
        code = conformance.refusal(kind, form, problems)
        if problems:
            self.violations.append((f"{request.method} {request.url.path}", problems))
        if code is None and kind == "message" and form["To"][0] in self.opted_out:
            code = conformance.OPTED_OUT
        if code is None:
            return form, None
        return form, _failure(400, code)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        raw, refused = self._check(request)
        if refused is not None:
            return refused
        if self.failures:
            return self.failures.pop(0)
        form = {k: v[0] for k, v in raw.items()}
        sender = form.get("From") or form["MessagingServiceSid"]
        self.sent.append(Sms(form["To"], sender, form["Body"]))
        sid = "SM" + uuid.uuid4().hex
        self.remote.append(Remote(sid, "message", form["To"], form.get("StatusCallback")))
        return httpx.Response(201, json={"sid": sid, "status": "queued", "to": form["To"]})

    def fail_next(self, status: int, code: int | None = None) -> None:
        self.failures.append(_failure(status, code))

    def answer_call(self, request: httpx.Request) -> httpx.Response:
        raw, refused = self._check(request)
        if refused is not None:
            return refused
        if self.call_failures:
            return self.call_failures.pop(0)
        form = {k: v[0] for k, v in raw.items()}
        sid = "CA" + uuid.uuid4().hex
        self.calls.append(
            PlacedCall(form["To"], form["From"], form["Url"], form.get("StatusCallback"), sid)
        )
        self.remote.append(Remote(sid, "call", form["To"], form.get("StatusCallback")))
        return httpx.Response(201, json={"sid": sid, "status": "queued", "to": form["To"]})

    def fail_next_call(self, status: int, code: int | None = None) -> None:
        self.call_failures.append(_failure(status, code))

    def take_calls(self) -> list[PlacedCall]:
        out, self.calls = self.calls, []
        return out

    def to(self, phone: str) -> list[str]:
        return [m.body for m in self.sent if m.to == phone]

    def take(self) -> list[Sms]:
        out, self.sent = self.sent, []
        return out

    def validated(
        self, side_effect: Callable[[httpx.Request], httpx.Response]
    ) -> Callable[[httpx.Request], httpx.Response]:
        """Wrap any other respx side effect at Twilio (a recording fetch, say) so its
        requests are checked against Twilio's API description like messages and calls."""

        def checked(request: httpx.Request) -> httpx.Response:
            problems = conformance.violations(
                request.method, str(request.url), request.content.decode()
            )
            self.checked.append((conformance.kind_of(request.url.path), ()))
            if problems:
                self.violations.append((f"{request.method} {request.url.path}", problems))
                return _failure(400, conformance.INVALID_PARAMETER)
            return side_effect(request)

        return checked

    def heard(self, sender: str, body: str) -> None:
        """An inbound text reached Twilio: its opt-out words block or unblock the sender."""
        word = body.strip().upper()
        if word in OPT_OUT_WORDS:
            self.opted_out.add(sender)
        elif word in OPT_IN_WORDS:
            self.opted_out.discard(sender)

    def callbacks_due(self) -> list[tuple[str, dict[str, str]]]:
        """The status callbacks of every message not yet settled: sent, then how it ended.
        A call reports `initiated` and `ringing`, and its end only when `call_fates` names
        one for its number (how a call ends is up to the test's callee)."""
        due = []
        for remote in self.remote:
            if remote.settled or not remote.status_callback:
                continue
            remote.settled = True
            if remote.kind == "call":
                base = {"CallSid": remote.sid, "AccountSid": ACCOUNT_SID, "To": remote.to}
                ending = self.call_fates.get(remote.to)
                for status in ("initiated", "ringing", *((ending,) if ending else ())):
                    due.append((remote.status_callback, {**base, "CallStatus": status}))
                continue
            status, code = self.fates.get(remote.to, ("delivered", ""))
            if remote.to in self.landlines:
                status, code = "undelivered", "30006"
            base = {"MessageSid": remote.sid, "AccountSid": ACCOUNT_SID, "To": remote.to}
            due.append((remote.status_callback, {**base, "MessageStatus": "sent"}))
            final = {**base, "MessageStatus": status}
            if code:
                final["ErrorCode"] = code
            due.append((remote.status_callback, final))
        return due


def _failure(status: int, code: int | None) -> httpx.Response:
    body: dict[str, object] = {"status": status, "message": "failure for the test"}
    if code is not None:
        body["code"] = code
    return httpx.Response(status, content=json.dumps(body))


class Hotline:
    def __init__(
        self,
        database_url: str,
        roster: str = ROSTER,
        clock: Clock | None = None,
        spool_dir: str | None = None,
        case_numbers: NumberSource = sequential_case_numbers,
        **settings: object,
    ):
        self.clock = clock or Clock()
        self.settings = Settings(
            HOTLINE_DATABASE_URL=database_url,
            HOTLINE_PUBLIC_URL=PUBLIC_URL,
            HOTLINE_WORKER="off",
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_API_BASE_URL=TWILIO_BASE,
            # Never the working directory's ./var/spool (app.telephony.outage).
            HOTLINE_SPOOL_DIR=spool_dir or tempfile.mkdtemp(prefix="hotline-spool-"),
            **settings,
        )
        self._own_spool = None if spool_dir else self.settings.spool_dir
        self.app = create_app(self.settings, clock=self.clock)
        self.services: Services = self.app.state.services
        # Production draws case numbers at random; tests read better as "case 1", "case 2".
        self.services.case_numbers = case_numbers
        self.worker = Worker(self.services, embedded=True)
        self.twilio = FakeTwilio()
        self.respx = respx.mock(assert_all_called=False)
        self.respx.post(MESSAGES_URL).mock(side_effect=self.twilio.answer)
        self.respx.post(CALLS_URL).mock(side_effect=self.twilio.answer_call)
        self.respx.start()
        if roster:
            self.load(roster)
        self.client = TestClient(self.app)
        self.client.__enter__()

    def load(self, roster: str) -> None:
        with transaction(self.services.sessions) as session:
            load_roster(session, parse_roster(roster), self.clock())

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.worker.pool.shutdown()
        self.respx.stop()
        if self._own_spool:
            shutil.rmtree(self._own_spool, ignore_errors=True)
        violations, self.twilio.violations = self.twilio.violations, []
        assert not violations, f"requests Twilio would refuse: {violations}"

    def deliver_callbacks(self) -> int:
        """Send the status callbacks Twilio owes for what it accepted; returns how many."""
        due = self.twilio.callbacks_due()
        for url, params in due:
            assert url.startswith(PUBLIC_URL), url
            response = self.post(url.removeprefix(PUBLIC_URL), params)
            assert response.status_code == 200, response.text
        return len(due)

    def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        signature: str | None = "sign",
        shared_key: str | None = None,
    ) -> httpx.Response:
        return signed_post(self.client, path, params, signature=signature, shared_key=shared_key)

    def sms(
        self, sender: str, body: str, *, to: str = HOTLINE, sid: str | None = None
    ) -> httpx.Response:
        self.twilio.heard(sender, body)
        return send_sms(self.client, sender, body, to=to, sid=sid)

    def answer(self, sender: str, body: str, **kw: str) -> str:
        """The text of the TwiML reply to an inbound SMS ("" for an empty answer)."""
        response = self.sms(sender, body, **kw)
        assert response.status_code == 200, response.text
        return twiml_text(response.text)

    def run(self) -> list[Sms]:
        """One worker round; returns what it sent."""
        self.worker.run_once()
        return self.twilio.take()

    def after(self, **delta: float) -> list[Sms]:
        self.clock.advance(**delta)
        return self.run()


def signed_post(
    client: TestClient,
    path: str,
    params: dict[str, str],
    *,
    signature: str | None = "sign",
    shared_key: str | None = None,
) -> httpx.Response:
    """POST a webhook as Twilio would: signed over the public URL, unless told otherwise.

    With `shared_key`, as under a Webhooks signature rule: HMAC-SHA256 with that secret,
    announced in X-Twilio-Webhooks-Signature-Settings.
    """
    headers = {}
    if shared_key is not None:
        headers[SIGNATURE_SETTINGS_HEADER] = f"key={SHARED_KEY_ID},algorithm={HMAC_SHA256}"
    if signature == "sign":
        secret, algorithm = (shared_key, HMAC_SHA256) if shared_key else (AUTH_TOKEN, None)
        headers[SIGNATURE_HEADER] = sign(secret, PUBLIC_URL + path, params, algorithm=algorithm)
    elif signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return client.post(path, data=params, headers=headers)


def send_sms(
    client: TestClient, sender: str, body: str, *, to: str = HOTLINE, sid: str | None = None
) -> httpx.Response:
    params = {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    return signed_post(client, "/twilio/sms", params)


def twiml_text(xml: str) -> str:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    return " ".join((el.text or "") for el in root.iter("Message"))


def recipients(sent: list[Sms]) -> set[str]:
    return {m.to for m in sent}


def count(hl: Hotline, model: type) -> int:
    """How many rows a table holds."""
    with hl.services.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def case_events(hl: Hotline, case_id: int = 1) -> list[Event]:
    """A case's log, oldest first."""
    with hl.services.sessions() as session:
        return list(
            session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.id))
        )
