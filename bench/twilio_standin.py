"""A fast local stand-in for Twilio's REST API (Messages.json, Calls.json), for benchmarks.

The hotline's worker sends real HTTP requests here (TWILIO_API_BASE_URL), as it would to
Twilio, so a benchmark measures the worker's real sending work and when each page arrives.
Plain asyncio, one process, keep-alive: thousands of requests a second on one core. Each
request is checked for Basic auth, answered 201 with a fresh SID, and recorded with its
arrival time (time.time(), comparable with the bench process's clock), To and Body. Selected
requests can be held for N seconds first (a slow Twilio answer):

    .venv/bin/python bench/twilio_standin.py --port 8099 --account AC... --token T \\
        [--hold-seconds 10 (--hold-first 1 | --hold-to +15555550111)]

Control (for the bench scripts): GET /_standin/received (JSON list of records, optionally
`?since=N` to skip the first N), POST /_standin/hold (form: seconds, first, to). Nothing
leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import re
import time
import uuid
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, urlsplit

PATH = re.compile(r"/2010-04-01/Accounts/(?P<account>AC\w+)/(?P<what>Messages|Calls)\.json")
REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


@dataclass(slots=True)
class Received:
    """One request as it arrived (before any hold)."""

    at: float  # time.time() on arrival
    kind: str  # "sms" or "call"
    to: str
    body: str
    held: float = 0.0  # seconds it was held before the answer


class StandIn:
    """The server's state: what arrived, and which requests to hold."""

    def __init__(self, account: str, token: str) -> None:
        self.account = account
        self.expected_auth = "Basic " + base64.b64encode(f"{account}:{token}".encode()).decode()
        self.received: list[Received] = []
        self.hold_seconds = 0.0
        self.hold_first = 0  # hold this many of the next requests
        self.hold_to: str | None = None  # or hold every request to this number

    def hold(self, seconds: float, *, first: int = 0, to: str | None = None) -> None:
        self.hold_seconds, self.hold_first, self.hold_to = seconds, first, to

    def _hold_for(self, to: str) -> float:
        if self.hold_seconds <= 0:
            return 0.0
        if self.hold_to is not None:
            return self.hold_seconds if to == self.hold_to else 0.0
        if self.hold_first > 0:
            self.hold_first -= 1
            return self.hold_seconds
        return 0.0

    async def twilio(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        found = PATH.fullmatch(path)
        if found is None or found["account"] != self.account:
            return 404, {"code": 20404, "message": "The requested resource was not found"}
        if headers.get("authorization") != self.expected_auth:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        calls = found["what"] == "Calls"
        if not form.get("To") or not (form.get("From") or form.get("MessagingServiceSid")):
            return 400, {"code": 21604, "message": "A 'To' and a 'From' are required"}
        rec = Received(
            at=time.time(),
            kind="call" if calls else "sms",
            to=form["To"],
            body=form.get("Body", form.get("Url", form.get("Twiml", ""))),
        )
        self.received.append(rec)
        rec.held = self._hold_for(rec.to)
        if rec.held:
            await asyncio.sleep(rec.held)
        sid = ("CA" if calls else "SM") + uuid.uuid4().hex
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        answer = {
            "sid": sid,
            "account_sid": self.account,
            "to": rec.to,
            "from": form.get("From"),
            "status": "queued",
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account}/{found['what']}/{sid}.json",
        }
        if not calls:
            answer |= {"body": rec.body, "num_segments": "1", "messaging_service_sid": None}
        return 201, answer

    async def control(self, method: str, target: str, body: bytes) -> tuple[int, object]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if method == "GET" and parts.path == "/_standin/received":
            since = int(query.get("since", "0"))
            return 200, [asdict(r) for r in self.received[since:]]
        if method == "POST" and parts.path == "/_standin/hold":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            self.hold(
                float(form.get("seconds", "0")),
                first=int(form.get("first", "0")),
                to=form.get("to") or None,
            )
            return 200, {"ok": True}
        return 404, {"message": "unknown control path"}

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """HTTP/1.1 with keep-alive, one request at a time per connection (as httpx sends)."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                if target.startswith("/_standin/"):
                    status, payload = await self.control(method, target, body)
                else:
                    status, payload = await self.twilio(target.split("?", 1)[0], headers, body)
                data = json.dumps(payload).encode()
                status_line = (
                    f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                )
                writer.write(status_line.encode() + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def serve(standin: StandIn, port: int) -> None:
    server = await asyncio.start_server(
        standin.serve_connection, "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account", required=True, help="the expected TWILIO_ACCOUNT_SID")
    parser.add_argument("--token", required=True, help="the expected TWILIO_AUTH_TOKEN")
    parser.add_argument("--hold-seconds", type=float, default=0.0)
    parser.add_argument("--hold-first", type=int, default=0, help="hold this many requests")
    parser.add_argument("--hold-to", help="hold every request to this number")
    args = parser.parse_args()
    standin = StandIn(args.account, args.token)
    standin.hold(args.hold_seconds, first=args.hold_first, to=args.hold_to)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(standin, args.port))


if __name__ == "__main__":
    main()
