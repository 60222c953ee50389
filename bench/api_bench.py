"""The chair's API on a big log: latency of list, detail, events and the CSV export.

Fills a PostgreSQL database with 100,000 cases and 1,000,000 hash-chained events (COPY, a
minute or so), starts `hotline serve` on loopback against it, and measures over real HTTP.
Not a test, and never collected by pytest:

    .venv/bin/python bench/api_bench.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/hotline_bench

The database is created when missing and emptied first (everything in it is replaced);
`--reuse` skips the fill when it already holds the data. Only 555-01xx numbers are used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app.api import encode_cursor
from app.audit import chain
from app.audit.models import Event
from app.auth.access import Caller
from app.auth.tokens import create_token
from app.casework.events import EventFilter, csv_rows
from app.db import make_engine, make_sessionmaker
from app.migrate import upgrade
from app.privacy import keys

BIN = Path(sys.executable).parent
START = datetime(2026, 5, 1, tzinfo=UTC)
HOTLINES = ("+15555550100", "+15555550101")
# (name, phone, role) per hotline; phone ends differ per hotline so each is its own person,
# except the first lead, who is a responder on both (as people often are).
PEOPLE = [
    ("Avery Quinn", "+15555550111", "lead"),
    ("Blake Rivera", "+155555501{h}2", "lead"),
    ("Casey Moreau", "+155555501{h}3", "lead"),
    ("Dana Okafor", "+155555501{h}4", "alternate"),
    ("Emery Lindqvist", "+155555501{h}5", "alternate"),
]
REPORTERS = [f"+155555501{n}" for n in range(60, 100)]
EVENTS_PER_CASE = 10
LIFE = [  # the ten events of a typical case: (seconds after opening, type, actor, detail)
    (0, "case_opened", "reporter", {"channel": "sms"}),
    (0, "message_received", "reporter", {"message_id": 0, "chars": 64}),
    (0, "paging", "system", {"step": 0, "tier": 1, "run": 1, "notify": "on_call_leads"}),
    (1, "page_sent", "system", {"kind": "page", "to": "Blake Rivera", "attempt": 1}),
    (4, "page_delivered", "system", {"outbound_id": 0, "sid": "SM0"}),
    (300, "escalated", "system", {"step": 1, "tier": 2, "run": 1, "notify": "all_leads"}),
    (301, "page_sent", "system", {"kind": "page", "to": "Casey Moreau", "attempt": 1}),
    (305, "page_delivered", "system", {"outbound_id": 0, "sid": "SM1"}),
    (420, "acknowledged", "Casey Moreau", {"via": "sms"}),
    (3600, "resolved", "Casey Moreau", {}),
]


def ensure_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def fill(url: str, cases: int) -> None:
    """Replace everything in the database by `cases` cases and ten events each."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)
    engine = create_engine(url)
    raw = engine.raw_connection()
    pg = raw.driver_connection
    started = time.perf_counter()
    responders = {}  # (hotline index, person index) -> responder id
    with pg.cursor() as cur:
        policy = json.dumps({"tiers": [{"notify": "on_call_leads", "after_minutes": 0}]})
        for h, number in enumerate(HOTLINES):
            cur.execute(
                "INSERT INTO hotline (id, number, name, timezone, safety_info, emergency_info,"
                " policy, active) VALUES (%s, %s, %s, 'America/New_York', '', '', %s, true)",
                (h + 1, number, f"Bench Conf {h}", policy),
            )
            for p, (name, phone, role) in enumerate(PEOPLE):
                rid = h * len(PEOPLE) + p + 1
                responders[h, p] = rid
                cur.execute(
                    "INSERT INTO responder (id, hotline_id, name, phone, role, aliases, active)"
                    " VALUES (%s, %s, %s, %s, %s, '[]', true)",
                    (rid, h + 1, name, phone.format(h=h), role),
                )
        rng = random.Random(7)
        with cur.copy(
            'COPY "case" (id, hotline_id, reporter_phone, channel, status, emergency,'
            " unroutable, opened_at, acknowledged_at, acknowledged_by_id, resolved_at,"
            " resolved_by_id, policy, escalation_started_at, next_step, next_due_at)"
            " FROM STDIN"
        ) as copy:
            for n in range(1, cases + 1):
                h = n % 2
                opened = START + timedelta(seconds=25 * n)
                state = rng.choices(("resolved", "acknowledged", "open"), (80, 15, 5))[0]
                taker = responders[h, 2] if state != "open" else None
                copy.write_row(
                    (
                        n,
                        h + 1,
                        REPORTERS[n % len(REPORTERS)],
                        "sms",
                        state,
                        False,
                        False,
                        opened,
                        opened + timedelta(seconds=420) if taker else None,
                        taker,
                        opened + timedelta(hours=1) if state == "resolved" else None,
                        taker if state == "resolved" else None,
                        policy,
                        opened,
                        1,
                        None,
                    )
                )
        with cur.copy("COPY message (case_id, direction, author, body, at) FROM STDIN") as copy:
            for n in range(1, cases + 1):
                body = f"Report {n}: someone in a red hoodie is following people at booth {n % 97}"
                copy.write_row((n, "in", "reporter", body, START + timedelta(seconds=25 * n)))
        with cur.copy(
            "COPY outbound (case_id, responder_id, kind, step, dedupe_key, to_phone, from_phone,"
            " body, status, attempts, next_attempt_at, created_at, sent_at) FROM STDIN"
        ) as copy:
            for n in range(1, cases + 1):
                h, at = n % 2, START + timedelta(seconds=25 * n)
                pages = ((0, 1), (1, 2), (2, 0)) if n % 100 == 0 else ((0, 1), (1, 2))
                for step, p in pages:  # Avery, on both hotlines, is paged for 1 case in 100
                    phone = PEOPLE[p][1].format(h=h)
                    copy.write_row(
                        (
                            n,
                            responders[h, p],
                            "page",
                            step,
                            f"page:{n}:{p}:{step}",
                            phone,
                            HOTLINES[h],
                            f"Case {n}",
                            "delivered",
                            1,
                            at,
                            at,
                            at,
                        )
                    )
        with cur.copy(
            "COPY exclusion (case_id, responder_id, reason, at) FROM STDIN"
        ) as copy:  # one case in twenty names the conference chair (Emery)
            for n in range(20, cases + 1, 20):
                copy.write_row(
                    (n, responders[n % 2, 4], "named_in_report", START + timedelta(seconds=25 * n))
                )
        with cur.copy(
            "COPY event (id, case_id, seq, hash, at, type, actor, detail) FROM STDIN"
        ) as copy:
            event_id = 0
            for n in range(1, cases + 1):
                prev = chain.GENESIS
                opened = START + timedelta(seconds=25 * n)
                for seq, (delay, type_, actor, detail) in enumerate(LIFE, start=1):
                    at = opened + timedelta(seconds=delay)
                    content = chain.canonical(n, at, type_, actor, detail)
                    prev = chain.keyed_link(keys.active().chain_key, prev, content)
                    event_id += 1
                    copy.write_row((event_id, n, seq, prev, at, type_, actor, json.dumps(detail)))
        for table in ("hotline", "responder", "case", "event"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                f' (SELECT max(id) FROM "{table}"))'
            )
    pg.commit()
    raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(
        f"filled {cases:,} cases, {cases * EVENTS_PER_CASE:,} events "
        f"in {time.perf_counter() - started:.0f} s"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "HOTLINE_DATABASE_URL": url,
        "HOTLINE_WORKER": "off",
        "HOTLINE_TRANSPORT": "console",
        "TWILIO_AUTH_TOKEN": "bench-auth-token",
        "HOTLINE_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [str(BIN / "hotline"), "serve", "--port", str(port)], env=env, cwd="/tmp"
    )
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the service did not start")


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def measure(
    client: httpx.Client, name: str, requests: Iterator[tuple[str, dict]], count: int
) -> tuple[str, float, float, int]:
    for _ in range(10):  # warm up
        path, params = next(requests)
        client.get(path, params=params).raise_for_status()
    samples, items = [], 0
    for _ in range(count):
        path, params = next(requests)
        began = time.perf_counter()
        response = client.get(path, params=params)
        samples.append(time.perf_counter() - began)
        response.raise_for_status()
        body = response.json()
        items += len(body["items"]) if isinstance(body, dict) and "items" in body else 1
    p50, p99 = percentiles(samples)
    return name, p50, p99, items // count


def forever(make: Callable[[random.Random], tuple[str, dict]]) -> Iterator[tuple[str, dict]]:
    rng = random.Random(11)
    while True:
        yield make(rng)


def csv_export(client: httpx.Client, params: dict, server_pid: int) -> tuple[int, float, int]:
    """Rows, seconds, and the server's resident memory at the end of the export (KiB)."""
    began, rows = time.perf_counter(), 0
    with client.stream("GET", "/api/events", params={"format": "csv", **params}) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            rows += chunk.count(b"\n")
    return rows - 1, time.perf_counter() - began, rss_kib(server_pid, "VmRSS")


def generator_peak(url: str, caller: Caller, where: EventFilter) -> tuple[int, float]:
    """Rows and the peak Python memory (MiB) of the CSV generator alone, by tracemalloc."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    tracemalloc.start()
    rows = sum(chunk.count("\n") for chunk in csv_rows(sessions, caller, where)) - 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    engine.dispose()
    return rows, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="postgresql+psycopg://...")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500, help="per endpoint")
    parser.add_argument("--reuse", action="store_true", help="keep the data already there")
    args = parser.parse_args()
    url = args.database_url
    if not url.startswith("postgresql"):
        raise SystemExit("this benchmark is for PostgreSQL")
    ensure_database(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        have = session.scalar(select(func.count()).select_from(Event)) if args.reuse else 0
    engine.dispose()
    if not have:
        fill(url, args.cases)
    cases = args.cases
    last_at = START + timedelta(seconds=25 * cases)

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    chair = create_token(sessions, role="chair", responder=None, name="bench chair", now=now)
    emery = create_token(sessions, role="chair", responder="+15555550105", name="bench", now=now)
    avery = create_token(sessions, role="responder", responder="+15555550111", name="b", now=now)
    engine.dispose()

    port = free_port()
    server = serve(url, port)
    results = []
    try:
        base = f"http://127.0.0.1:{port}"

        def client_for(token: str) -> httpx.Client:
            return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})

        def deep(rng: random.Random) -> str:
            at = START + timedelta(seconds=25 * rng.randrange(100, cases))
            return encode_cursor(at, 2**31 - 1)

        def event_cursor(rng: random.Random) -> str:
            at = START + timedelta(seconds=25 * rng.randrange(1, cases - 100))
            return encode_cursor(at, 0)

        n = args.requests
        with client_for(chair) as c:
            results += [
                measure(c, "cases, first page", forever(lambda r: ("/api/cases", {})), n),
                measure(
                    c,
                    "cases, a page deep in the list (cursor)",
                    forever(lambda r: ("/api/cases", {"cursor": deep(r)})),
                    n,
                ),
                measure(
                    c,
                    "cases, status=open, deep",
                    forever(lambda r: ("/api/cases", {"status": "open", "cursor": deep(r)})),
                    n,
                ),
                measure(
                    c,
                    "cases, hotline=..., since/until a day",
                    forever(
                        lambda r: (
                            "/api/cases",
                            {
                                "hotline": HOTLINES[1],
                                "since": (last_at - timedelta(days=r.randrange(2, 25))).isoformat(),
                                "until": (last_at - timedelta(days=1)).isoformat(),
                            },
                        )
                    ),
                    n,
                ),
                measure(
                    c,
                    "cases, q= text search (common word)",
                    forever(lambda r: ("/api/cases", {"q": "hoodie", "cursor": deep(r)})),
                    n,
                ),
                measure(
                    c,
                    "case detail",
                    forever(lambda r: (f"/api/cases/{r.randrange(1, cases)}", {})),
                    n,
                ),
                measure(
                    c,
                    "case events (10 per case)",
                    forever(lambda r: (f"/api/cases/{r.randrange(1, cases)}/events", {})),
                    n,
                ),
                measure(
                    c,
                    "case events/verify",
                    forever(lambda r: (f"/api/cases/{r.randrange(1, cases)}/events/verify", {})),
                    n,
                ),
                measure(
                    c,
                    "events, page at a random point (cursor)",
                    forever(lambda r: ("/api/events", {"cursor": event_cursor(r)})),
                    n,
                ),
                measure(
                    c,
                    "events, type=acknowledged, random point",
                    forever(
                        lambda r: (
                            "/api/events",
                            {"type": "acknowledged", "cursor": event_cursor(r)},
                        )
                    ),
                    n,
                ),
            ]
        with client_for(emery) as c:
            results += [
                measure(
                    c,
                    "cases, chair bound to a responder (exclusions apply), deep",
                    forever(lambda r: ("/api/cases", {"cursor": deep(r)})),
                    n,
                ),
                measure(
                    c,
                    "events, same bound chair, random point",
                    forever(lambda r: ("/api/events", {"cursor": event_cursor(r)})),
                    n,
                ),
            ]
        with client_for(avery) as c:
            results += [
                measure(
                    c,
                    "cases, responder token (paged-for cases)",
                    forever(lambda r: ("/api/cases", {})),
                    n,
                ),
                measure(c, "events, responder token", forever(lambda r: ("/api/events", {})), n),
            ]

        print()
        print("| request (limit 50) | p50 ms | p99 ms | items |")
        print("|---|---:|---:|---:|")
        for name, p50, p99, items in results:
            print(f"| {name} | {p50:.1f} | {p99:.1f} | {items} |")

        with client_for(chair) as c:
            idle = rss_kib(server.pid, "VmRSS")
            tenth = {"since": (last_at - (last_at - START) / 10).isoformat()}
            small = csv_export(c, tenth, server.pid)
            full = csv_export(c, {}, server.pid)
        hwm = rss_kib(server.pid, "VmHWM")
        caller = Caller(0, "bench", "chair")
        gen_small = generator_peak(url, caller, EventFilter(since=START + (last_at - START) * 0.9))
        gen_full = generator_peak(url, caller, EventFilter())
        print()
        print(
            "| CSV export | rows | s | rows/s | server RSS after | generator peak (tracemalloc) |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        print(f"| (server idle) | | | | {idle / 1024:.0f} MiB | |")
        for label, (rows, secs, rss), (_, peak) in (
            ("newest tenth", small, gen_small),
            ("everything", full, gen_full),
        ):
            print(
                f"| {label} | {rows:,} | {secs:.1f} | {rows / secs:,.0f} | {rss / 1024:.0f} MiB "
                f"| {peak:.1f} MiB |"
            )
        print(f"\nserver peak RSS over the whole run (VmHWM): {hwm / 1024:.0f} MiB")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
