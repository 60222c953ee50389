"""Real processes against a stand-in Twilio that behaves as Twilio does: it refuses what
Twilio refuses and reports each change of a message by status callback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.cluster import Cluster, Db, report, wait_until
from tests.faults.lines import AVERY, BLAKE, BODY, FAULT_LINE, REPORTER
from tests.faults.standin import StandInTwilio

pytestmark = pytest.mark.postgres_only


def test_an_expired_page_reported_by_callback_becomes_a_call(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    """Avery's page waits in Twilio's queue past its ValidityPeriod: Twilio reports it
    `failed` with 30036, and the web process that gets the callback calls Avery instead."""
    web = cluster.web("web")
    worker = cluster.worker("worker")
    cluster.ready(web, worker)
    twilio.callbacks_to = web.url
    twilio.fates[AVERY] = ("failed", "30036")
    case = report(web, REPORTER, BODY, to=FAULT_LINE)
    seen = twilio.wait_for(
        "the call to Avery", lambda s: any(r.kind == "call" and r.to == AVERY for r in s)
    )
    pages = [r for r in seen if r.kind == "sms" and r.to in (AVERY, BLAKE)]
    assert {r.to for r in pages} == {AVERY, BLAKE}
    wait_until("Blake's page delivered", lambda: db.pages(case)[BLAKE]["status"] == "delivered")
    assert db.pages(case)[AVERY]["status"] == "failed"
    statuses = [c["MessageStatus"] for c in twilio.callbacks_sent]
    assert statuses.count("sent") == 2 and "delivered" in statuses and "failed" in statuses


def test_a_page_to_an_opted_out_number_is_refused_and_becomes_a_call(
    cluster: Cluster, twilio: StandInTwilio, db: Db, roster: Path
) -> None:
    web = cluster.web("web")
    worker = cluster.worker("worker")
    cluster.ready(web, worker)
    twilio.opted_out.add(BLAKE)
    report(web, REPORTER, BODY, to=FAULT_LINE)
    seen = twilio.wait_for(
        "the call to Blake", lambda s: any(r.kind == "call" and r.to == BLAKE for r in s)
    )
    assert not any(r.kind == "sms" and r.to == BLAKE for r in seen)  # refused, not accepted
