"""Workers killed at random moments while reports stream in and a second tier falls due:
whatever instant a SIGKILL lands on (starting up, claiming, mid-send, between a send and its
record, inside an escalation), no page is lost, a page sent more than once has its later
sending flagged, and every escalation step runs exactly once.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.faults.cluster import Cluster, Db, Worker, report, wait_until
from tests.faults.lines import BODY, CASEY, EMERY, LEASE, TIER_LINE
from tests.faults.standin import StandInTwilio

pytestmark = pytest.mark.postgres_only
REPORTERS = [f"+155555501{n}" for n in range(50, 80)]  # 30 reports, one case each
KILLING_FOR = 8.0  # seconds


def test_workers_killed_at_random_moments_lose_no_page(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    seed = random.randrange(1 << 32)
    print(f"chaos seed {seed}")  # shown on failure: the same kill timings again
    rng = random.Random(seed)
    twilio.stall(0.0, jitter=0.3, seed=seed)
    web = cluster.web("web")
    started = 0

    def new_worker() -> Worker:
        nonlocal started
        started += 1
        return cluster.worker(f"worker-{started}", HOTLINE_CLAIM_LEASE_SECONDS=LEASE)

    workers = [new_worker(), new_worker()]
    cluster.ready(web, *workers)

    def stream() -> list[int]:
        numbers = []
        for phone in REPORTERS:
            numbers.append(report(web, phone, BODY, to=TIER_LINE))
            time.sleep(KILLING_FOR / len(REPORTERS) / 1.5)  # paces the stream, waits for nothing
        return numbers

    kills = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        reports = pool.submit(stream)
        until = time.monotonic() + KILLING_FOR
        while time.monotonic() < until:
            time.sleep(rng.uniform(0.3, 1.0))  # positions the next kill
            victim = rng.choice(workers)
            victim.kill()
            kills += 1
            workers = [w for w in workers if w is not victim] + [new_worker()]
        numbers = reports.result()

    def finished() -> bool:
        return (
            db.value('SELECT count(*) FROM "case" WHERE next_due_at IS NOT NULL') == 0
            and db.value("SELECT count(*) FROM outbound WHERE status <> 'queued'") == 0
        )

    wait_until("every page sent after the last kill", finished, 60)

    # Every case has both tiers' pages, each sent at least once, recorded with a SID that
    # Twilio really gave it.
    assert sorted(numbers) == sorted(r["id"] for r in db.rows('SELECT id FROM "case"'))
    seen = twilio.snapshot()
    accepted = {(r.case, r.to, r.sid) for r in seen if r.accepted}
    received = Counter((r.case, r.to) for r in seen)
    rows = db.outbound()
    assert sorted((r["case_id"], r["to_phone"]) for r in rows) == sorted(
        (n, phone) for n in numbers for phone in (CASEY, EMERY)
    )
    assert all((r["case_id"], r["to_phone"], r["provider_sid"]) in accepted for r in rows)

    # A page that reached Twilio more than once is flagged on the sending that counted.
    flagged = {
        e["detail"]["sid"] for e in db.events("page_sent") if e["detail"].get("possible_duplicate")
    }
    twice = [r for r in rows if received[(r["case_id"], r["to_phone"])] > 1]
    assert all(r["provider_sid"] in flagged for r in twice)

    for kind, step in (("paging", 0), ("escalated", 1)):
        steps = Counter((e["case_id"], e["detail"]["step"]) for e in db.events(kind))
        assert steps == Counter({(n, step): 1 for n in numbers}), kind
    assert db.broken_chains() == []
    print(
        f"chaos: {kills} workers killed; {len(rows)} pages, {len(twice)} reached Twilio more "
        f"than once, {sum(1 for r in rows if r['provider_sid'] in flagged)} flagged "
        f"possible_duplicate, {len(accepted) - len(rows)} extra accepted by Twilio"
    )
