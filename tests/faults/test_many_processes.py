"""Several processes on one PostgreSQL database: 2 `hotline serve` and 3 `hotline worker`,
200 reports at once split across the web processes, and a second tier that falls due while
the first is still being sent. Every page goes out exactly once per (case, responder, step)
and every escalation step runs once, although the workers compete for every row.

Distinct cases need distinct (hotline, reporter) pairs, and test numbers are limited to
+1 555 555 01xx: three hotlines with responders of their own (+15555550103..111) share 67
reporters (+15555550120..186), so 200 reports are 200 cases.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.faults.cluster import Cluster, Db, Web, case_in, signed_headers, sms_params, wait_until
from tests.faults.standin import StandInTwilio

HOTLINES = ("+15555550100", "+15555550101", "+15555550102")
LEADS = {
    h: (f"+155555501{3 * i + 3:02}", f"+155555501{3 * i + 4:02}") for i, h in enumerate(HOTLINES)
}
ALTERNATE = {h: f"+155555501{3 * i + 5:02}" for i, h in enumerate(HOTLINES)}
REPORTS = 200
WORKERS = 3
TIER_2_MINUTES = 0.05  # 3 s: due while tier 1 of later reports is still going out

ROSTER = "hotlines:\n" + "".join(
    f"""
  - number: "{hotline}"
    name: "Hall {i + 1}"
    timezone: "UTC"
    responders:
      - {{name: "Lead {i}a", phone: "{LEADS[hotline][0]}", role: lead}}
      - {{name: "Lead {i}b", phone: "{LEADS[hotline][1]}", role: lead}}
      - {{name: "Alternate {i}", phone: "{ALTERNATE[hotline]}", role: alternate}}
    escalation:
      - {{notify: on_call_leads, after_minutes: 0}}
      - {{notify: alternates, after_minutes: {TIER_2_MINUTES}}}
"""
    for i, hotline in enumerate(HOTLINES)
)

pytestmark = pytest.mark.postgres_only


def reports() -> list[tuple[str, str]]:
    """(reporter, hotline) for each report: all distinct pairs."""
    pairs = [(f"+155555501{20 + i // 3}", HOTLINES[i % 3]) for i in range(REPORTS)]
    assert len(set(pairs)) == REPORTS
    return pairs


async def post_all(webs: list[Web], pairs: list[tuple[str, str]]) -> list[tuple[int, float]]:
    """Every report at once, alternating between the web processes; their case numbers and
    when each was answered (time.monotonic())."""
    limits = httpx.Limits(max_connections=REPORTS)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def post(i: int, reporter: str, hotline: str) -> tuple[int, float]:
            params = sms_params(
                reporter, f"Report {i}: a guest was cornered by the bar", to=hotline
            )
            url = f"{webs[i % len(webs)].url}/twilio/sms"
            answer = await client.post(url, data=params, headers=signed_headers(params))
            return case_in(answer), time.monotonic()

        return await asyncio.gather(*(post(i, r, h) for i, (r, h) in enumerate(pairs)))


def test_two_web_and_three_worker_processes_page_exactly_once(
    cluster: Cluster, twilio: StandInTwilio, db: Db, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    # Both web processes load the roster as they start, into an empty database.
    webs = [cluster.web(f"web-{i}", HOTLINE_ROSTER=str(roster)) for i in (1, 2)]
    # Each worker reaches the stand-in under a path of its own, to see who sent what.
    workers = [
        cluster.worker(f"worker-{i}", TWILIO_API_BASE_URL=f"{twilio.url}/w{i}")
        for i in range(1, WORKERS + 1)
    ]
    cluster.ready(*webs, *workers)

    pairs = reports()
    started = time.monotonic()
    answers = asyncio.run(post_all(webs, pairs))
    numbers = [n for n, _ in answers]
    assert len(set(numbers)) == REPORTS
    hotline_of = dict(zip(numbers, (h for _, h in pairs), strict=True))

    def finished() -> bool:
        return (
            len(twilio.accepted()) >= 3 * REPORTS
            and db.value('SELECT count(*) FROM "case" WHERE next_due_at IS NOT NULL') == 0
            and db.value("SELECT count(*) FROM outbound WHERE status <> 'queued'") == 0
        )

    wait_until("every page of both tiers sent", finished, 60)
    done = time.monotonic()

    # At the stand-in: each (case, responder) exactly once, tier 1 and tier 2.
    expected = Counter(
        {(n, phone): 1 for n, h in hotline_of.items() for phone in (*LEADS[h], ALTERNATE[h])}
    )
    assert twilio.by_case(accepted_only=False) == expected
    senders = Counter(r.via for r in twilio.snapshot())
    print(f"sends per worker: {dict(sorted(senders.items()))}")
    assert set(senders) == {f"/w{i}" for i in range(1, WORKERS + 1)}, senders
    # Woken by NOTIFY, not by their 30 s idle timer: tier 1 leaves soon after each answer.
    first_page = {}
    for r in twilio.snapshot():
        first_page.setdefault(r.case, r.at)
    waits = sorted(first_page[n] - answered for n, answered in answers)
    print(
        f"{REPORTS} reports answered in {answers[-1][1] - started:.1f} s, every page sent "
        f"{done - started:.1f} s after the first; report to first page: median "
        f"{waits[len(waits) // 2]:.2f} s, max {waits[-1]:.2f} s"
    )
    assert waits[-1] < 15

    # In PostgreSQL: one row per page, each claimed once and recorded with the SID it got.
    rows = db.outbound()
    assert len(rows) == 3 * REPORTS
    assert {r["attempts"] for r in rows} == {1}
    assert {r["provider_sid"] for r in rows} == {r.sid for r in twilio.snapshot()}
    sent = db.events("page_sent")
    assert len(sent) == 3 * REPORTS
    assert not [e for e in sent if e["detail"].get("possible_duplicate")]
    assert not db.events("page_retry") and not db.events("page_failed")

    # Each escalation step ran once per case, and the second tier only when due.
    opened = {r["id"]: r["opened_at"] for r in db.rows('SELECT id, opened_at FROM "case"')}
    assert set(opened) == set(numbers)
    for kind, step in (("paging", 0), ("escalated", 1)):
        steps = Counter((e["case_id"], e["detail"]["step"]) for e in db.events(kind))
        assert steps == Counter({(n, step): 1 for n in numbers}), kind
    tier_2 = timedelta(minutes=TIER_2_MINUTES)
    assert all(e["at"] >= opened[e["case_id"]] + tier_2 for e in db.events("escalated"))
    assert Counter(e["case_id"] for e in db.events("escalation_ended")) == Counter(numbers)
    assert db.broken_chains() == []

    for proc in (*webs, *workers):
        assert proc.alive(), proc.name
        assert "Traceback" not in proc.output(), proc.name
