"""A slow Twilio, with several workers: still no page twice, and no delivery report lost.

A worker claims a batch of messages under one lease and sends each recipient's messages in
order, so a slow Twilio can make a batch outlast its lease while the worker is alive and
well. And a page Twilio accepts but cannot deliver must still reach someone: its
`undelivered` status callback turns it into a call, which only works if the page's SID is in
the database when the callback comes, about a second after Twilio accepted the message.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.faults.cluster import Cluster, Db, report, signed_headers, wait_until
from tests.faults.lines import AVERY, BLAKE, BODY, FAULT_LINE, LEASE, REPORTER
from tests.faults.standin import StandInTwilio
from tests.harness import ACCOUNT_SID

pytestmark = pytest.mark.postgres_only
TWILIO_CALLBACK_DELAY = 1.0  # seconds from accepting a message to its first status callback


def test_undelivered_report_for_a_page_whose_batch_is_still_sending(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    """Both leads' pages are claimed in one batch; Twilio accepts Avery's at once and is
    slow with Blake's. Avery's page then comes back undelivered: the callback must find it
    and call Avery instead, not be dropped as a report about an unknown message."""
    web = cluster.web("web")
    worker = cluster.worker("worker")
    cluster.ready(web, worker)
    twilio.hang(15, to=BLAKE)
    case = report(web, REPORTER, BODY, to=FAULT_LINE)
    seen = twilio.wait_for(
        "Avery's page accepted, Blake's held",
        lambda s: any(r.accepted and r.to == AVERY for r in s) and bool(twilio.held()),
    )
    avery = next(r for r in seen if r.to == AVERY)
    assert avery.sid is not None and avery.answered_at is not None
    # Positioned as Twilio would: its callback comes about a second after accepting.
    time.sleep(max(0.0, avery.answered_at + TWILIO_CALLBACK_DELAY - time.monotonic()))
    params = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": avery.sid,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "To": AVERY,
        "From": FAULT_LINE,
    }
    assert avery.status_callback.endswith("/twilio/status")
    answer = httpx.post(
        f"{web.url}/twilio/status",
        data=params,
        headers=signed_headers(params, "/twilio/status"),
    )
    assert answer.status_code == 200

    rows = db.pages(case)
    assert rows[AVERY]["status"] == "undelivered"
    assert rows[BLAKE]["status"] == "claimed"  # still being sent
    assert [e["detail"]["to"] for e in db.events("call_fallback", case)] == ["Avery Quinn"]

    twilio.hang(0)
    twilio.release(to=BLAKE)
    twilio.wait_for("the call to Avery", lambda s: any(r.kind == "call" for r in s))
    wait_until("Blake's page recorded", lambda: db.pages(case)[BLAKE]["status"] == "queued")


def test_a_batch_slower_than_its_lease_is_not_sent_twice(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    """Ten reports wait for the workers; the first worker to look claims all twenty pages
    (ten per lead, sent in order) and Twilio takes half a second each, so its queue outlasts
    the lease. Its lease is renewed as it goes: the other worker, idle and looking for due
    rows, must not take over pages that a live worker is about to send."""
    web = cluster.web("web")
    cluster.ready(web)
    reporters = [f"+155555501{50 + i}" for i in range(10)]
    cases = [report(web, phone, BODY, to=FAULT_LINE) for phone in reporters]
    twilio.stall(float(LEASE) / 6)  # ten sends in a row take 5/3 of the lease
    workers = [cluster.worker(f"worker-{i}", HOTLINE_CLAIM_LEASE_SECONDS=LEASE) for i in (1, 2)]
    cluster.ready(*workers)
    wait_until(
        "every page sent",
        lambda: db.value("SELECT count(*) FROM outbound WHERE status = 'queued'") == 20,
        30,
    )
    assert twilio.by_case(accepted_only=False) == {(n, p): 1 for n in cases for p in (AVERY, BLAKE)}
    sent = db.events("page_sent")
    assert len(sent) == 20
    assert not [e for e in sent if e["detail"].get("possible_duplicate")]
