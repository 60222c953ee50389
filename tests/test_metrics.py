"""The metrics a hotline's operator watches, driven through the ASGI app on both databases
with a movable clock: exact histogram values, pages by channel and outcome, webhook outcomes
(spooled, lost, refused), and who may read /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import metrics
from app.auth.tokens import create_token
from app.telephony.spool import Spool
from tests.harness import AVERY, REPORTER, Hotline, twiml_text

pytestmark = pytest.mark.skipif(
    metrics.MULTIPROC_DIR is not None, reason="reads this process's own registry"
)


def sample(name: str, **labels: str) -> float:
    return metrics.PROCESS.get_sample_value(name, labels) or 0.0


class Delta:
    """How much each named sample grew since this object was made."""

    def __init__(self, *names: tuple[str, dict[str, str]]) -> None:
        self.before = {(n, tuple(sorted(lbl.items()))): sample(n, **lbl) for n, lbl in names}

    def __call__(self, name: str, **labels: str) -> float:
        return sample(name, **labels) - self.before[(name, tuple(sorted(labels.items())))]


LATENESS = ("hotline_escalation_lateness_seconds_sum", {})
LATENESS_COUNT = ("hotline_escalation_lateness_seconds_count", {})
FIRST_PAGE = ("hotline_first_page_seconds_sum", {})
FIRST_PAGE_COUNT = ("hotline_first_page_seconds_count", {})
FIRST_PAGE_UNDER_60 = ("hotline_first_page_seconds_bucket", {"le": "60.0"})


def pages(channel: str, outcome: str) -> tuple[str, dict[str, str]]:
    return ("hotline_pages_total", {"channel": channel, "outcome": outcome})


def webhooks(path: str, outcome: str) -> tuple[str, dict[str, str]]:
    return ("hotline_webhooks_total", {"path": path, "outcome": outcome})


def test_a_tier_run_two_minutes_after_it_fell_due_is_two_minutes_late(hl: Hotline) -> None:
    delta = Delta(LATENESS, LATENESS_COUNT)
    hl.sms(REPORTER, "Someone is harassing people at booth 12")  # tier 1, due at once
    hl.run()
    hl.after(minutes=7)  # tier 2 fell due at 5 minutes
    assert delta("hotline_escalation_lateness_seconds_count") == 2
    assert delta("hotline_escalation_lateness_seconds_sum") == pytest.approx(120.0)


def test_the_time_to_first_page_is_observed_once_per_case(hl: Hotline) -> None:
    delta = Delta(FIRST_PAGE, FIRST_PAGE_COUNT, FIRST_PAGE_UNDER_60, pages("sms", "sent"))
    hl.sms(REPORTER, "Someone is harassing people at booth 12")
    hl.clock.advance(seconds=40)  # the worker was slow
    assert [m.to for m in hl.run()] == [AVERY]
    later = hl.after(minutes=6)  # tier 2: more pages, not another first one
    assert len(later) == 3
    assert delta("hotline_first_page_seconds_count") == 1
    assert delta("hotline_first_page_seconds_sum") == pytest.approx(40.0)
    assert delta("hotline_first_page_seconds_bucket", le="60.0") == 1
    assert delta("hotline_pages_total", channel="sms", outcome="sent") == 4


def test_a_page_that_fails_for_good_counts_as_failed_sms_then_sent_voice(hl: Hotline) -> None:
    delta = Delta(pages("sms", "failed"), pages("voice", "sent"), FIRST_PAGE_COUNT)
    hl.sms(REPORTER, "Someone is harassing people at booth 12")
    hl.twilio.fail_next(400, 21610)  # Avery opted out
    hl.run()
    hl.run()  # the call that replaces the page
    assert [c.to for c in hl.twilio.take_calls()] == [AVERY]
    assert delta("hotline_pages_total", channel="sms", outcome="failed") == 1
    assert delta("hotline_pages_total", channel="voice", outcome="sent") == 1
    assert delta("hotline_first_page_seconds_count") == 1  # the call was the first page out


def test_webhooks_are_counted_by_route_and_outcome(hl: Hotline, tmp_path: Path) -> None:
    hl.app.state.replayer.stop()
    fallback = "/twilio/sms/fallback"
    delta = Delta(
        webhooks("/twilio/sms", "answered"),
        webhooks("/twilio/sms", "refused"),
        webhooks(fallback, "spooled"),
        webhooks(fallback, "lost"),
    )
    hl.sms(REPORTER, "Someone is harassing people at booth 12")
    params = {"MessageSid": "SM" + "1" * 32, "From": REPORTER, "To": "+15555550100", "Body": "x"}
    assert hl.post("/twilio/sms", params, signature="forged").status_code == 403
    assert hl.post(fallback, params).status_code == 200
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    hl.services.spool = Spool(blocker / "spool")
    lost = hl.post(fallback, {**params, "MessageSid": "SM" + "2" * 32})
    assert lost.status_code == 200 and "again" in twiml_text(lost.text)
    assert delta("hotline_webhooks_total", path="/twilio/sms", outcome="answered") == 1
    assert delta("hotline_webhooks_total", path="/twilio/sms", outcome="refused") == 1
    assert delta("hotline_webhooks_total", path=fallback, outcome="spooled") == 1
    assert delta("hotline_webhooks_total", path=fallback, outcome="lost") == 1


@pytest.fixture
def tokens(hl: Hotline) -> Iterator[dict[str, str]]:
    yield {
        role: create_token(
            hl.services.sessions, role=role, responder=None, name=role, now=hl.clock()
        )
        for role in ("admin", "chair")
    }


def test_only_an_admin_token_reads_metrics_and_gauges_come_from_the_database(
    hl: Hotline, tokens: dict[str, str]
) -> None:
    assert hl.client.get("/metrics").status_code == 401
    chair = hl.client.get("/metrics", headers={"Authorization": f"Bearer {tokens['chair']}"})
    assert chair.status_code == 403
    hl.sms(REPORTER, "Someone is harassing people at booth 12")
    answer = hl.client.get("/metrics", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert answer.status_code == 200
    gauges = {
        (s.name, tuple(s.labels.values())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }
    assert gauges[("hotline_cases", ("open",))] == 1
    assert gauges[("hotline_cases", ("acknowledged",))] == 0
    assert gauges[("hotline_cases_unroutable", ())] == 0
    assert gauges[("hotline_outbox_pending", ())] == 1  # Avery's page, not yet sent
    assert gauges[("hotline_database_up", ())] == 1
    assert gauges[("hotline_spool_depth", ())] == 0
    # Counters are per process and grow over the whole test run, so a value may read 555.0:
    # what must never carry a number or report words is a label.
    labels = [
        value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
        for value in s.labels.values()
    ]
    assert not [value for value in labels if "555" in value or "booth" in value]
    assert "booth" not in answer.text


def test_a_transactions_events_are_counted_by_type_and_detail_all_at_once() -> None:
    delta = Delta(
        ("hotline_case_events_total", {"event": "case_opened"}),
        ("hotline_case_events_total", {"event": "page_sent"}),
        ("hotline_cases_opened_total", {"channel": "sms"}),
        ("hotline_cases_opened_total", {"channel": "voice"}),
        pages("sms", "sent"),
        pages("voice", "sent"),
        pages("voice", "delivered"),
    )
    metrics.count_events(
        [
            ("case_opened", {"channel": "sms"}),
            ("page_sent", {"kind": "page"}),
            ("case_opened", {"channel": "voice"}),
            ("page_sent", {"kind": "call_page"}),
            ("page_sent", {"kind": "page"}),
            ("case_opened", {"channel": "sms"}),
            ("call_status", {"status": "completed"}),
            ("call_status", {"status": "busy"}),
        ]
    )
    assert delta("hotline_case_events_total", event="case_opened") == 3
    assert delta("hotline_case_events_total", event="page_sent") == 3
    assert delta("hotline_cases_opened_total", channel="sms") == 2
    assert delta("hotline_cases_opened_total", channel="voice") == 1
    assert delta("hotline_pages_total", channel="sms", outcome="sent") == 2
    assert delta("hotline_pages_total", channel="voice", outcome="sent") == 1
    assert delta("hotline_pages_total", channel="voice", outcome="delivered") == 1
