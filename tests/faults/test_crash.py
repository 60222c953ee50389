"""Crash safety with real processes: SIGKILL a worker or the web process at the worst
moments, and no report and no page is lost. A page may go out twice after a kill (never zero
times), and the second sending is flagged `possible_duplicate` on its `page_sent` event.

Each test runs `hotline serve` (HOTLINE_WORKER=off) and `hotline worker` on the PostgreSQL
test database, with Twilio replaced by a local stand-in, and judges only from outside: what
the stand-in received and what PostgreSQL holds.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import utcnow
from tests.faults.cluster import (
    Cluster,
    Db,
    Tarpit,
    case_in,
    report,
    signed_headers,
    sms_params,
    wait_until,
)
from tests.faults.lines import (
    AVERY,
    BLAKE,
    BODY,
    CASEY,
    EMERY,
    FAULT_LINE,
    LEASE,
    REPORTER,
    TIER_LINE,
)
from tests.faults.standin import Received, StandInTwilio

pytestmark = pytest.mark.postgres_only


def all_sent(db: Db, case: int, phones: set[str]) -> dict[str, dict[str, Any]] | None:
    rows = db.pages(case)
    if set(rows) == phones and all(r["status"] == "queued" for r in rows.values()):
        return rows
    return None


def to(phone: str, seen: list[Received]) -> list[Received]:
    return [r for r in seen if r.to == phone]


def test_worker_killed_mid_send_sends_again_after_the_lease(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    """(a) Twilio is slow; the worker dies with both leads' pages in flight. Avery's was
    accepted by Twilio just before the kill (the worker never learnt it), Blake's was still
    being handled. A new worker sends both again once the lease runs out: Avery gets it twice
    (flagged), Blake once, nobody zero times."""
    web = cluster.web("web")
    first = cluster.worker("worker-1", HOTLINE_CLAIM_LEASE_SECONDS=LEASE)
    cluster.ready(web, first)
    twilio.hang(60)
    case = report(web, REPORTER, BODY, to=FAULT_LINE)
    twilio.wait_for("both pages in flight", lambda s: {r.to for r in s if r.hung} >= {AVERY, BLAKE})
    first.pause()  # frozen mid-send: Twilio's answer for Avery reaches a worker that never reads it
    twilio.release(to=AVERY)
    twilio.wait_for("Avery's page accepted", lambda s: any(r.accepted for r in to(AVERY, s)))
    first.kill()
    twilio.release(to=BLAKE, drop=True)

    claimed = db.pages(case)
    assert {r["status"] for r in claimed.values()} == {"claimed"}
    assert not db.events("page_sent", case)
    lease_ends: datetime = max(r["next_attempt_at"] for r in claimed.values())

    twilio.hang(0)
    second = cluster.worker("worker-2", HOTLINE_CLAIM_LEASE_SECONDS=LEASE)
    rows = wait_until("both pages sent again", lambda: all_sent(db, case, {AVERY, BLAKE}), 30)

    seen = twilio.snapshot()
    assert [r.accepted for r in to(AVERY, seen)] == [True, True]  # a real duplicate
    assert [(r.accepted, r.dropped) for r in to(BLAKE, seen)] == [(False, True), (True, False)]
    for phone in (AVERY, BLAKE):
        assert rows[phone]["attempts"] == 2
        assert rows[phone]["provider_sid"] == to(phone, seen)[-1].sid
    sent = db.events("page_sent", case)
    assert len(sent) == 2
    assert all(e["detail"]["possible_duplicate"] is True for e in sent)
    assert all(e["detail"]["attempt"] == 2 for e in sent)
    assert all(e["at"] >= lease_ends for e in sent), "a live lease was taken over"
    assert second.alive()
    assert db.broken_chains() == []


def test_worker_killed_after_claiming_before_sending(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    """(b) The worker claims the pages and dies before any request reaches Twilio (its
    Twilio URL accepts connections and never reads them). After the lease a new worker sends
    each page once; the dispatcher cannot know the first try never left, so it flags it."""
    tarpit = Tarpit()
    try:
        web = cluster.web("web")
        first = cluster.worker(
            "worker-1", HOTLINE_CLAIM_LEASE_SECONDS=LEASE, TWILIO_API_BASE_URL=tarpit.url
        )
        cluster.ready(web, first)
        case = report(web, REPORTER, BODY, to=FAULT_LINE)
        wait_until(
            "both pages claimed",
            lambda: {r["status"] for r in db.pages(case).values()} == {"claimed"},
        )
        first.kill()
    finally:
        tarpit.close()
    assert twilio.snapshot() == []
    assert len(db.pages(case)) == 2

    cluster.worker("worker-2", HOTLINE_CLAIM_LEASE_SECONDS=LEASE)
    wait_until("both pages sent", lambda: all_sent(db, case, {AVERY, BLAKE}), 30)

    assert twilio.by_case(accepted_only=False) == {(case, AVERY): 1, (case, BLAKE): 1}
    sent = db.events("page_sent", case)
    assert [e["detail"].get("possible_duplicate") for e in sent] == [True, True]
    assert db.broken_chains() == []


def test_web_killed_right_after_answering_keeps_the_report(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    """(c) The web process answers a report and is killed at once, with no worker running:
    the case and its pages were committed before the answer, and a worker started afterwards
    sends them, once each."""
    web = cluster.web("web")
    cluster.ready(web)
    case = report(web, REPORTER, BODY, to=FAULT_LINE)
    web.kill()

    assert db.value('SELECT count(*) FROM "case" WHERE id = :n', n=case) == 1
    assert {r["status"] for r in db.pages(case).values()} == {"pending"}
    assert [e["type"] for e in db.rows("SELECT type FROM event WHERE case_id = :n", n=case)] == [
        "case_opened",
        "message_received",
        "paging",
    ]
    cluster.worker("worker")
    wait_until("both pages sent", lambda: all_sent(db, case, {AVERY, BLAKE}))
    assert twilio.by_case(accepted_only=False) == {(case, AVERY): 1, (case, BLAKE): 1}
    assert not any(e["detail"].get("possible_duplicate") for e in db.events("page_sent"))


BURST = [f"+155555501{n}" for n in range(50, 90)]  # 40 reporters


def test_web_killed_during_a_burst_loses_no_report(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    """(c') The web process is killed while 40 reports arrive at once. Each one either got
    its answer (and its case exists) or got no answer; Twilio retries those with the same
    MessageSid against a new web process. Afterwards every reporter has exactly one case, a
    retry of a report that was committed gets the first answer, and every page is sent once."""
    web = cluster.web("web-1")
    cluster.ready(web)
    forms = {phone: sms_params(phone, BODY, to=FAULT_LINE) for phone in BURST}
    answered: dict[str, int] = {}

    def post(phone: str) -> None:
        params = forms[phone]
        try:
            response = httpx.post(
                f"{web.url}/twilio/sms", data=params, headers=signed_headers(params), timeout=10
            )
        except httpx.HTTPError:
            return  # no answer: Twilio would retry
        answered[phone] = case_in(response)

    with ThreadPoolExecutor(max_workers=len(BURST)) as pool:
        posts = [pool.submit(post, phone) for phone in BURST]
        wait_until("some reports answered", lambda: len(answered) >= 8)
        web.kill()
    for done in posts:
        done.result()  # any answer that came was a proper one
    unanswered = [p for p in BURST if p not in answered]
    committed = {
        r["reporter_phone"]: r["id"] for r in db.rows('SELECT id, reporter_phone FROM "case"')
    }
    assert all(committed[p] == n for p, n in answered.items())  # every answer was kept
    lost_answers = [p for p in unanswered if p in committed]
    print(
        f"burst: {len(answered)} answered, {len(unanswered)} unanswered, of which "
        f"{len(lost_answers)} were committed before the kill"
    )

    retry_web = cluster.web("web-2")
    cluster.ready(retry_web)
    for phone in BURST:  # Twilio's retries; an answered one again too, as on a lost answer
        params = forms[phone]
        response = httpx.post(
            f"{retry_web.url}/twilio/sms", data=params, headers=signed_headers(params)
        )
        number = case_in(response)
        assert number == answered.get(phone, committed.get(phone, number))
        answered[phone] = number

    cases = db.rows('SELECT id, reporter_phone FROM "case" ORDER BY id')
    assert sorted(c["reporter_phone"] for c in cases) == sorted(BURST)  # one case each
    assert db.value("SELECT count(*) FROM message") == len(BURST)  # no retry counted twice
    cluster.worker("worker")
    wait_until(
        "every page sent",
        lambda: (
            len(twilio.accepted()) >= 2 * len(BURST)
            and db.value("SELECT count(*) FROM outbound WHERE status <> 'queued'") == 0
        ),
    )
    assert twilio.by_case(accepted_only=False) == {
        (n, lead): 1 for n in answered.values() for lead in (AVERY, BLAKE)
    }
    assert db.broken_chains() == []


def test_worker_killed_between_tiers_pages_the_next_tier_when_restarted(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    """(d) The worker pages tier 1 and dies; tier 2 falls due while no worker runs. The
    escalation state is on the case, so a restarted worker pages tier 2 at once, once."""
    web = cluster.web("web")
    first = cluster.worker("worker-1")
    cluster.ready(web, first)
    case = report(web, REPORTER, BODY, to=TIER_LINE)
    twilio.wait_for("tier 1 sent", lambda s: any(r.accepted for r in to(CASEY, s)))
    wait_until("tier 1 recorded", lambda: db.events("page_sent", case))
    first.kill()

    state = db.rows('SELECT next_step, next_due_at FROM "case" WHERE id = :n', n=case)[0]
    assert state["next_step"] == 1
    due: datetime = state["next_due_at"]
    time.sleep(max(0.0, (due - utcnow()).total_seconds()) + 0.5)  # tier 2 is now overdue
    assert to(EMERY, twilio.snapshot()) == []

    cluster.worker("worker-2")
    twilio.wait_for("tier 2 sent", lambda s: any(r.accepted for r in to(EMERY, s)))
    wait_until(
        "escalation ended",
        lambda: db.value('SELECT next_due_at IS NULL FROM "case" WHERE id = :n', n=case),
    )
    assert twilio.by_case(accepted_only=False) == {(case, CASEY): 1, (case, EMERY): 1}
    escalated = db.events("escalated", case)
    assert [e["detail"]["step"] for e in escalated] == [1]
    assert escalated[0]["at"] >= due
    assert len(db.events("paging", case)) == 1
    assert db.broken_chains() == []
