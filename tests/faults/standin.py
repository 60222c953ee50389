"""A stand-in for Twilio's REST API on 127.0.0.1, for tests that run real processes.

Real `hotline worker` processes send through the real Twilio client to this server
(TWILIO_API_BASE_URL). It records every request it gets and answers as Twilio does (201 with a
SID), or holds a request open ("hangs") so a test can kill a worker while a send is in flight.
Like Twilio it refuses what Twilio refuses: every request is checked against Twilio's API
description (tests.twilio_conformance), and one it does not allow is answered 400 and kept in
`violations` (the fixture fails the test on any); a number in `opted_out` gets 21610. With
`callbacks_to` set, it sends the status callbacks of each accepted message (sent, then
delivered or its `fates` entry), signed as Twilio signs them. Nothing leaves the machine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx

from app.telephony.signature import SIGNATURE_HEADER, sign
from tests import twilio_conformance as conformance
from tests.harness import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL

# An optional prefix before Twilio's path tells the tests which worker sent a request: each
# worker can get its own TWILIO_API_BASE_URL, e.g. http://127.0.0.1:PORT/w2.
PATH = re.compile(
    r"(?P<prefix>/[\w-]+)?/2010-04-01/Accounts/(?P<account>AC\w+)/(?P<what>Messages|Calls)\.json"
)
CASE_NUMBER = re.compile(r"\bCase (\d+)\b")
HANG_LIMIT = 120.0  # seconds; a hung request is never held longer, whatever a test forgot


@dataclass
class Received:
    """One request as it reached the stand-in, and what became of it."""

    kind: str  # "sms" or "call"
    to: str
    sender: str
    body: str
    status_callback: str
    via: str  # the base URL prefix it came through ("" for none)
    at: float  # time.monotonic() on arrival
    hung: bool = False
    sid: str | None = None  # set once the stand-in answered 201 (Twilio accepted it)
    answered_at: float | None = None
    dropped: bool = False  # held, then closed without an answer
    release: threading.Event = field(default_factory=threading.Event, repr=False)
    drop: bool = False

    @property
    def case(self) -> int | None:
        """The case number a page or notice names, from its body."""
        found = CASE_NUMBER.search(self.body)
        return int(found.group(1)) if found else None

    @property
    def accepted(self) -> bool:
        return self.sid is not None


class StandInTwilio:
    """Twilio's Messages.json and Calls.json, recording each request; see the module doc."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.hang_seconds = 0.0
        self.hang_to: str | None = None
        self.stall_seconds = 0.0
        self.jitter_seconds = 0.0
        self.random = random.Random()
        self.violations: list[tuple[str, list[str]]] = []
        self.opted_out: set[str] = set()
        self.fates: dict[str, tuple[str, str]] = {}  # to -> (final status, error code)
        self.callbacks_to: str | None = None  # a web process's URL, for status callbacks
        self.callbacks_sent: list[dict[str, str]] = []
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandInTwilio:
        self.thread.start()
        return self

    def close(self) -> None:
        """Stop serving; requests still held are closed unanswered (their sender is gone)."""
        with self.lock:
            for rec in self.received:
                if rec.hung and not rec.release.is_set():
                    rec.drop = True
                    rec.release.set()
        self.server.shutdown()
        self.server.server_close()

    def hang(self, seconds: float, *, to: str | None = None) -> None:
        """Hold each new request (or each one to `to`) up to `seconds` before answering
        (0: answer at once), as a slow Twilio would. `release` answers held requests early."""
        self.hang_seconds = seconds
        self.hang_to = to

    def stall(self, seconds: float, *, jitter: float = 0.0, seed: int | None = None) -> None:
        """Answer each request after `seconds` plus a random delay up to `jitter`, as a busy
        Twilio does (a kill then lands before, during or after a send)."""
        self.stall_seconds = seconds
        self.jitter_seconds = jitter
        self.random.seed(seed)

    def release(self, *, to: str | None = None, drop: bool = False) -> list[Received]:
        """Let held requests go (all, or those to `to`): answered, or closed unanswered."""
        with self.lock:
            held = [r for r in self.received if r.hung and not r.release.is_set()]
            chosen = [r for r in held if to is None or r.to == to]
            for rec in chosen:
                rec.drop = drop
                rec.release.set()
        return chosen

    def send_callbacks(self, rec: Received, status_callback: str) -> None:
        """Status callbacks for one accepted message, one per change, as Twilio sends them:
        signed over the URL Twilio was given, posted to the web process that serves it."""
        if not self.callbacks_to or not status_callback.startswith(PUBLIC_URL) or not rec.sid:
            return
        final, code = self.fates.get(rec.to, ("delivered", ""))
        base = {"MessageSid": rec.sid, "AccountSid": ACCOUNT_SID, "To": rec.to}
        target = self.callbacks_to + status_callback.removeprefix(PUBLIC_URL)
        for status in ("sent", final):
            params = {**base, "MessageStatus": status}
            if status == final and code:
                params["ErrorCode"] = code
            signature = sign(AUTH_TOKEN, status_callback, params)
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(target, data=params, headers={SIGNATURE_HEADER: signature}, timeout=10)
            with self.lock:
                self.callbacks_sent.append(params)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def accepted(self) -> list[Received]:
        return [r for r in self.snapshot() if r.accepted]

    def held(self) -> list[Received]:
        return [r for r in self.snapshot() if r.hung and not r.release.is_set()]

    def by_case(self, *, accepted_only: bool = True) -> Counter[tuple[int | None, str]]:
        """How many requests each (case number, recipient) got."""
        return Counter((r.case, r.to) for r in self.snapshot() if r.accepted or not accepted_only)

    def wait_for(
        self, what: str, condition: Callable[[list[Received]], bool], seconds: float = 20.0
    ) -> list[Received]:
        """Poll until `condition` holds for the requests so far; fail naming `what`."""
        deadline = time.monotonic() + seconds
        while True:
            seen = self.snapshot()
            if condition(seen):
                return seen
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {seen}"
            time.sleep(0.02)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # several workers, four sends each: never refuse a connect


def _handler(standin: StandInTwilio) -> type[BaseHTTPRequestHandler]:
    expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx's pool expects

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length).decode()
            raw = parse_qs(raw_body, keep_blank_values=True)
            form = {k: v[0] for k, v in raw.items()}
            path = PATH.fullmatch(self.path.split("?", 1)[0])
            if path is None or path["account"] != ACCOUNT_SID:
                self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                return
            if self.headers.get("Authorization") != expected_auth:
                self._answer(401, {"code": 20003, "message": "authenticate", "status": 401})
                return
            calls = path["what"] == "Calls"
            problems = conformance.violations("POST", "http://standin" + self.path, raw_body)
            code = conformance.refusal("call" if calls else "message", raw, problems)
            if problems:
                with standin.lock:
                    standin.violations.append((self.path, problems))
            if code is None and not calls and form.get("To") in standin.opted_out:
                code = conformance.OPTED_OUT
            if code is not None:
                self._answer(400, {"code": code, "message": "refused", "status": 400})
                return
            rec = Received(
                kind="call" if calls else "sms",
                to=form.get("To", ""),
                sender=form.get("From", ""),
                body=form.get("Body", form.get("Url", "")),
                status_callback=form.get("StatusCallback", ""),
                via=path["prefix"] or "",
                at=time.monotonic(),
            )
            hang = standin.hang_seconds
            with standin.lock:
                rec.hung = hang > 0 and standin.hang_to in (None, rec.to)
                standin.received.append(rec)
            if rec.hung:
                rec.release.wait(min(hang, HANG_LIMIT))
                rec.release.set()
                if rec.drop:
                    rec.dropped = True
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
            if standin.stall_seconds or standin.jitter_seconds:
                with standin.lock:
                    delay = standin.random.uniform(0, standin.jitter_seconds)
                time.sleep(standin.stall_seconds + delay)
            sid = ("CA" if calls else "SM") + uuid.uuid4().hex
            answer = {"sid": sid, "status": "queued", "to": rec.to, "from": rec.sender}
            if self._answer(201, answer):
                rec.sid = sid
                rec.answered_at = time.monotonic()
                if not calls and standin.callbacks_to:
                    # Twilio reports later, from elsewhere: never inside the create request.
                    threading.Thread(
                        target=standin.send_callbacks,
                        args=(rec, form.get("StatusCallback", "")),
                        daemon=True,
                    ).start()

        def _answer(self, status: int, payload: dict[str, object]) -> bool:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                return False
            return True

    return Handler
