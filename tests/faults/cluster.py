"""Real `hotline serve` and `hotline worker` processes on one PostgreSQL database, started,
killed and inspected the way an operator (or a crash) would.

Everything a test concludes comes from outside the processes: what the stand-in Twilio
received and what PostgreSQL holds.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine, create_engine, text

from app.casework.events import verify_all
from app.casework.roster_load import load_roster_file
from app.db import make_sessionmaker, utcnow
from app.privacy import keys
from app.telephony.signature import SIGNATURE_HEADER, sign
from tests import TEST_KEYS
from tests.harness import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, twiml_text

HOTLINE_BIN = Path(sys.executable).parent / "hotline"
CASE_IN_ANSWER = re.compile(r"\bcase (\d+)\b")
T = TypeVar("T")


def wait_until(what: str, probe: Callable[[], T | None], seconds: float = 20.0) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proc:
    """One `hotline ...` process with its output in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log = cwd / f"{name}.out"
        with self.log.open("w") as out:
            self.popen = subprocess.Popen(
                [str(HOTLINE_BIN), *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed, as in a crash."""
        os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: frozen where it is, sockets open, to position a kill exactly."""
        os.kill(self.pid, signal.SIGSTOP)

    def stop(self) -> None:
        """Ask it to stop as its operator would (SIGTERM); `wait` for it."""
        if self.alive():
            self.popen.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
            self.popen.terminate()

    def wait(self) -> None:
        """Wait for it to end; SIGKILL if it hangs."""
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def ready(self) -> bool:
        raise NotImplementedError


class Worker(Proc):
    def ready(self) -> bool:
        assert self.alive(), f"{self.name} exited:\n{self.output()}"
        return "worker running" in self.output()


class Web(Proc):
    def __init__(self, name: str, port: int, env: dict[str, str], cwd: Path) -> None:
        super().__init__(name, ["serve", "--port", str(port)], env, cwd)
        self.url = f"http://127.0.0.1:{port}"

    def ready(self) -> bool:
        assert self.alive(), f"{self.name} exited:\n{self.output()}"
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


class Cluster:
    """The processes of one test; `close` ends whichever are still running."""

    def __init__(self, workdir: Path, database_url: str, twilio_url: str) -> None:
        self.workdir = workdir
        self.procs: list[Proc] = []
        base = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
        self.env = base | {
            "HOTLINE_DATABASE_URL": database_url,
            "HOTLINE_PUBLIC_URL": PUBLIC_URL,
            "HOTLINE_WORKER": "off",
            "HOTLINE_TRANSPORT": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": twilio_url,
            "PYTHONUNBUFFERED": "1",
            **TEST_KEYS,
        }

    def web(self, name: str, **env: str) -> Web:
        proc = Web(name, free_port(), self.env | env, self.workdir)
        self.procs.append(proc)
        return proc

    def worker(self, name: str, **env: str) -> Worker:
        proc = Worker(name, ["worker"], self.env | env, self.workdir)
        self.procs.append(proc)
        return proc

    def ready(self, *procs: Proc, seconds: float = 30.0) -> None:
        for proc in procs:
            wait_until(f"{proc.name} to be ready", proc.ready, seconds)

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()
        for proc in self.procs:
            proc.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid})\n{p.output()[-4000:]}" for p in self.procs)


def sms_params(sender: str, body: str, *, to: str, sid: str | None = None) -> dict[str, str]:
    """An inbound-SMS webhook's form, as Twilio posts it."""
    return {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }


def signed_headers(params: dict[str, str], path: str = "/twilio/sms") -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(AUTH_TOKEN, PUBLIC_URL + path, params)}


def case_in(answer: httpx.Response) -> int:
    """The case number a reporter's TwiML answer confirms."""
    assert answer.status_code == 200, answer.text
    found = CASE_IN_ANSWER.search(twiml_text(answer.text))
    assert found, answer.text
    return int(found.group(1))


def report(web: Web, sender: str, body: str, *, to: str, sid: str | None = None) -> int:
    """Text a hotline through `web` as a reporter; the case number it answers."""
    params = sms_params(sender, body, to=to, sid=sid)
    return case_in(httpx.post(f"{web.url}/twilio/sms", data=params, headers=signed_headers(params)))


ENCRYPTED_COLUMNS = ("to_phone", "body", "reporter_phone")


def _readable(row: dict[str, Any]) -> dict[str, Any]:
    for name in ENCRYPTED_COLUMNS:
        if isinstance(row.get(name), str):
            row[name] = keys.active().decrypt(row[name])
    return row


class Db:
    """Read-only questions to the shared database, in plain SQL."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, pool_size=2)

    def close(self) -> None:
        self.engine.dispose()

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows as dicts, the encrypted columns decrypted (app.privacy.types)."""
        with self.engine.connect() as conn:
            return [_readable(dict(r._mapping)) for r in conn.execute(text(sql), params)]

    def value(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def outbound(self, case_id: int | None = None) -> list[dict[str, Any]]:
        where = "" if case_id is None else "WHERE case_id = :case_id"
        return self.rows(f"SELECT * FROM outbound {where} ORDER BY id", case_id=case_id)

    def pages(self, case_id: int) -> dict[str, dict[str, Any]]:
        """The case's page rows by recipient phone."""
        return {r["to_phone"]: r for r in self.outbound(case_id) if r["kind"] == "page"}

    def events(self, type: str, case_id: int | None = None) -> list[dict[str, Any]]:
        where = "type = :type" + ("" if case_id is None else " AND case_id = :case_id")
        return self.rows(
            f"SELECT * FROM event WHERE {where} ORDER BY id", type=type, case_id=case_id
        )

    def load_roster(self, path: Path) -> None:
        """Load a roster as `hotline roster load` would (in this process: quicker)."""
        load_roster_file(make_sessionmaker(self.engine), path, utcnow())

    def broken_chains(self) -> list[str]:
        """Every case's event log still verifies after the kills: the broken links, if any."""
        with make_sessionmaker(self.engine)() as session:
            return [str(v.broken) for _, v in verify_all(session) if v.broken]


class Tarpit:
    """A port whose connections are accepted by the kernel and never read: a Twilio the
    request never reaches. A worker sending there is stuck after its claim with nothing sent."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.sock.close()
