"""What the bench scripts share: free ports, the Twilio stand-in, a hotline on SQLite or
PostgreSQL, signed reports from distinct reporters, and percentiles.

Every server runs as a real process on a free loopback port, the way it is deployed: the
hotline with `hotline serve` (SQLite: the embedded worker, as `make run` does) or `hotline
serve` with HOTLINE_WORKER=off plus one `hotline worker` (PostgreSQL, on a scratch database
made and dropped here). Pages go through the real Twilio transport to the stand-in
(TWILIO_API_BASE_URL), so the worker does the HTTP work it does in production. The
hotline's own settings come from nothing in the caller's environment but BENCH_HOTLINE_*:
BENCH_HOTLINE_WORKER_NICE=5 runs it with HOTLINE_WORKER_NICE=5.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from app.privacy.keys import generate_audit_key, generate_data_key
from app.telephony.signature import SIGNATURE_HEADER, sign

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
HOTLINE = "+15555550100"
ACCOUNT_SID = "AC" + "b" * 32
TOKEN = "bench-auth-token"
LEADS = ("+15555550111", "+15555550112", "+15555550113")
ALTERNATES = ("+15555550121", "+15555550122")
POSTGRES_ADMIN = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ("sqlite", "postgres")

# Three leads and no shifts, so all three are on call: every new report pages three leads.
# Tier 2 (alternates) comes `tier2_minutes` after the case opens.
ROSTER = """\
hotlines:
  - number: "{hotline}"
    name: "Bench Conf"
    timezone: "UTC"
    safety_info: "Safety room: Room 23."
    emergency_info: "If anyone is in danger call 911."
    responders:
      - {{name: "Avery Quinn", phone: "{leads[0]}", role: lead}}
      - {{name: "Blake Rivera", phone: "{leads[1]}", role: lead}}
      - {{name: "Casey Moreau", phone: "{leads[2]}", role: lead}}
      - {{name: "Dana Okafor", phone: "{alternates[0]}", role: alternate}}
      - {{name: "Emery Lindqvist", phone: "{alternates[1]}", role: alternate}}
    escalation:
      - {{notify: on_call_leads, after_minutes: 0}}
      - {{notify: alternates, after_minutes: {tier2_minutes}}}
    repeat: 0
"""


def reporters() -> Iterator[str]:
    """Distinct reporter numbers, all fictional 555-01xx: +1 NPA 555 01xx for every area
    code but 555 (the roster's), about 79,000 of them. Distinct reporters keep flood control
    (a few new cases per number a minute) out of the measurement."""
    for npa in range(201, 1000):
        if npa == 555 or npa % 100 == 11:
            continue
        for line in range(100):
            yield f"+1{npa}55501{line:02d}"


def report_form(sender: str, ref: str) -> dict[str, str]:
    """An inbound SMS webhook's form: a new report whose text carries `ref`, so the page
    quoting it can be matched to it."""
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": HOTLINE,
        "Body": f"ref {ref}: someone in a red hoodie keeps following people at the booths",
        "NumMedia": "0",
    }


def signed(url: str, form: dict[str, str]) -> tuple[str, str]:
    """(X-Twilio-Signature, urlencoded body) for a webhook to `url`."""
    return sign(TOKEN, url, form), urlencode(form)


def write_wrk_requests(path: Path, url: str, count: int) -> None:
    """Pre-signed distinct reports, one `signature<TAB>body` a line, for bench/sms.lua."""
    with path.open("w") as out:
        for i, sender in zip(range(count), reporters(), strict=False):
            signature, body = signed(url, report_form(sender, f"w{i}"))
            out.write(f"{signature}\t{body}\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class StandIn:
    """The Twilio stand-in (bench/twilio_standin.py) as a process of its own."""

    def __init__(self, **hold: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, str(HERE / "twilio_standin.py"), "--port", str(self.port)]
        args += ["--account", ACCOUNT_SID, "--token", TOKEN]
        for name, value in hold.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self.proc = subprocess.Popen(args)
        wait_ready(f"{self.url}/_standin/received", self.proc)

    def received(self, since: int = 0) -> list[dict[str, Any]]:
        got = httpx.get(f"{self.url}/_standin/received", params={"since": since}, timeout=30)
        return list(got.raise_for_status().json())

    def hold(self, seconds: float, *, first: int = 0, to: str | None = None) -> None:
        form = {"seconds": seconds, "first": first, "to": to or ""}
        httpx.post(f"{self.url}/_standin/hold", data=form, timeout=5).raise_for_status()

    def close(self) -> None:
        stop(self.proc)


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database for one run, dropped afterwards."""
    import psycopg

    admin = POSTGRES_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    name = f"hotline_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Hotline:
    """A running hotline: its web process, and on PostgreSQL its separate worker."""

    url: str
    database_url: str
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> None:
        """One `hotline worker` process (PostgreSQL; on SQLite the embedded one runs),
        returning once it finished its first round (its heartbeat file appears)."""
        proc = self._spawn([str(BIN / "hotline"), "worker"])
        self.procs.append(proc)
        self.wait_for_worker(proc)

    def wait_for_worker(self, proc: subprocess.Popen[bytes]) -> None:
        """Until a worker finished its first round (its heartbeat file appears): the
        embedded one too, so that a bench measures a running worker, not its start-up
        (about a second of imports in which the first reports would wait)."""
        heartbeat = Path(self.env["HOTLINE_WORKER_HEARTBEAT"])
        deadline = time.monotonic() + 60
        while not heartbeat.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start ({proc.returncode})")
            time.sleep(0.1)

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            args, cwd=self.env["BENCH_DIR"], env=self.env, stdout=subprocess.DEVNULL
        )

    def run(self, *args: str) -> None:
        subprocess.run(
            [str(BIN / "hotline"), *args],
            cwd=self.env["BENCH_DIR"],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


@contextlib.contextmanager
def hotline(
    db: str,
    standin: StandIn,
    *,
    tier2_minutes: float = 5,
    before_start: Callable[[Hotline], None] | None = None,
) -> Iterator[Hotline]:
    """A hotline on `db` ("sqlite" or "postgres") paging through `standin`, set up from
    nothing and removed afterwards. SQLite: `hotline serve` with its embedded worker;
    PostgreSQL: `hotline serve` (HOTLINE_WORKER=off) and one `hotline worker`.
    `before_start(hotline)` runs after migration and roster load, before any server starts
    (to seed the database)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"hotline-bench-{db}-"))
    stack = contextlib.ExitStack()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if db == "sqlite":
            database_url = f"sqlite:///{tmp / 'bench.db'}"
        else:
            database_url = stack.enter_context(scratch_postgres())
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        (tmp / "roster.yaml").write_text(
            ROSTER.format(
                hotline=HOTLINE, leads=LEADS, alternates=ALTERNATES, tier2_minutes=tier2_minutes
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
        env.update(
            BENCH_DIR=str(tmp),
            HOTLINE_DATABASE_URL=database_url,
            HOTLINE_PUBLIC_URL=url,
            HOTLINE_LOG_LEVEL="WARNING",
            HOTLINE_SPOOL_DIR=str(tmp / "spool"),
            HOTLINE_WORKER_HEARTBEAT=str(tmp / "worker.heartbeat"),
            HOTLINE_DATA_KEY=generate_data_key(),
            HOTLINE_AUDIT_KEY=generate_audit_key(),
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_API_BASE_URL=standin.url,
            HOTLINE_WORKER="embedded" if db == "sqlite" else "off",
            **{k[6:]: v for k, v in os.environ.items() if k.startswith("BENCH_HOTLINE_")},
        )
        running = Hotline(url, database_url, env, procs)
        running.run("migrate")
        running.run("roster", "load", str(tmp / "roster.yaml"))
        if before_start is not None:
            before_start(running)
        web = running._spawn([str(BIN / "hotline"), "serve", "--port", str(port)])
        running.procs.append(web)
        wait_ready(f"{url}/healthz", web)
        if db == "postgres":
            running.start_worker()
        else:
            running.wait_for_worker(web)  # the embedded worker, a child of `hotline serve`
        yield running
    finally:
        for proc in reversed(procs):
            stop(proc)
        stack.close()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


def webhook(url: str, form: dict[str, str]) -> tuple[dict[str, str], str]:
    """(headers, body) of a signed inbound-SMS webhook to `url` (…/twilio/sms)."""
    signature, body = signed(url, form)
    headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/x-www-form-urlencoded"}
    return headers, body


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a live process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (the embedded worker of `hotline serve`)."""
    listed = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in listed.read_text().split()] if listed.exists() else []


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """A duration for a table: milliseconds, or seconds from 10 s up; "-" for none."""
    if seconds != seconds:
        return "-"
    return f"{seconds:,.1f} s" if abs(seconds) >= 10 else f"{seconds * 1000:,.0f} ms"


def command_line() -> str:
    """The exact command that produced a table, for the notes beside it."""
    script = Path(sys.argv[0]).resolve().relative_to(ROOT)
    return " ".join([".venv/bin/python", str(script), *sys.argv[1:]])


def print_table(title: str, rows: dict[str, dict[str, str]]) -> None:
    """A script's result: its title, the command that produced it, one row per database."""
    print(f"\n{title}")
    print(f"`{command_line()}`\n")
    columns = list(next(iter(rows.values())))
    print("| database | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for db, row in rows.items():
        print(f"| {db} | " + " | ".join(row[c] for c in columns) + " |")
