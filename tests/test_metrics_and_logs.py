"""What an operator sees of a real `hotline serve`: /metrics after a report and its ACK, and
the JSON log lines of that case, which never carry a message body or a phone number.

Real processes on an SQLite file, sending through the stand-in Twilio (tests/faults); every
conclusion comes from outside them: /metrics, their output, the stand-in.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.faults.cluster import (
    HOTLINE_BIN,
    Cluster,
    Proc,
    Web,
    report,
    signed_headers,
    sms_params,
    wait_until,
)
from tests.faults.standin import StandInTwilio
from tests.harness import ACCOUNT_SID

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "roster.yaml"
HOTLINE = "+15555550100"
REPORTER = "+15555550150"
AVERY = "+15555550111"  # the example roster's on-call lead
REPORT = "Someone is harassing people at booth 12"
# A phone number in any spelling a log might use: E.164 or its bare digits.
PHONE = re.compile(r"\+?1?555\s?555\s?01\d\d")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def twilio() -> Iterator[StandInTwilio]:
    standin = StandInTwilio().start()
    yield standin
    standin.close()


@pytest.fixture
def cluster(tmp_path: Path, twilio: StandInTwilio) -> Iterator[Cluster]:
    processes = Cluster(tmp_path, f"sqlite:///{tmp_path / 'hotline.db'}", twilio.url)
    processes.env |= {
        "HOTLINE_ROSTER": str(EXAMPLE),
        "HOTLINE_LOG_FORMAT": "json",
        "HOTLINE_SPOOL_DIR": str(tmp_path / "spool"),
        "HOTLINE_WORKER_HEARTBEAT": str(tmp_path / "worker.heartbeat"),
    }
    yield processes
    processes.close()
    print(processes.logs())  # shown by pytest when the test failed


def hotline(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HOTLINE_BIN), *args],
        cwd=cluster.workdir,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def token(cluster: Cluster, role: str) -> str:
    made = hotline(cluster, "token", "create", "--role", role, "--name", f"{role} metrics")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def scrape(web: Web, admin: str) -> tuple[str, Samples]:
    answer = httpx.get(f"{web.url}/metrics", headers={"Authorization": f"Bearer {admin}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return answer.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def text_sms(web: Web, sender: str, body: str) -> httpx.Response:
    params = sms_params(sender, body, to=HOTLINE)
    return httpx.post(f"{web.url}/twilio/sms", data=params, headers=signed_headers(params))


def delivered(web: Web, sid: str) -> None:
    """Twilio's status callback saying the message `sid` reached the phone."""
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    answer = httpx.post(
        f"{web.url}/twilio/status",
        data=params,
        headers=signed_headers(params, "/twilio/status"),
    )
    assert answer.status_code == 200, answer.text


def json_lines(proc: Proc) -> list[dict[str, object]]:
    """Every line the process wrote, each of which must be one JSON object."""
    lines = [line for line in proc.output().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_a_report_and_its_ack_show_in_metrics_and_in_json_logs_without_body_or_number(
    cluster: Cluster, twilio: StandInTwilio
) -> None:
    web = cluster.web("web", HOTLINE_WORKER="embedded")
    cluster.ready(web)
    admin, chair = token(cluster, "admin"), token(cluster, "chair")

    case = report(web, REPORTER, REPORT, to=HOTLINE)
    page = twilio.wait_for("the page", lambda seen: any(r.to == AVERY and r.sid for r in seen))
    delivered(web, next(r.sid for r in page if r.to == AVERY and r.sid))
    assert f"case {case}" in text_sms(web, AVERY, f"ACK {case}").text.lower()
    forged = sms_params(REPORTER, "forged", to=HOTLINE)
    assert httpx.post(f"{web.url}/twilio/sms", data=forged).status_code == 403
    search = httpx.get(
        f"{web.url}/api/cases",
        params={"q": "booth"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert search.status_code == 200

    def after_the_ack() -> tuple[str, Samples] | None:
        text, samples = scrape(web, admin)
        return (text, samples) if value(samples, "hotline_pages_total", **SMS_SENT) else None

    text, samples = wait_until("the page counted", after_the_ack)
    print(text)
    sms = {"path": "/twilio/sms"}
    assert value(samples, "hotline_webhooks_total", **sms, outcome="answered") == 2
    assert value(samples, "hotline_webhooks_total", **sms, outcome="refused") == 1
    assert value(samples, "hotline_webhooks_total", path="/twilio/status", outcome="answered") == 1
    assert value(samples, "hotline_cases_opened_total", channel="sms") == 1
    assert value(samples, "hotline_pages_total", channel="sms", outcome="delivered") == 1
    assert value(samples, "hotline_case_events_total", event="acknowledged") == 1
    assert value(samples, "hotline_first_page_seconds_count") == 1
    assert value(samples, "hotline_first_page_seconds_bucket", le="+Inf") == 1
    assert 0 < value(samples, "hotline_first_page_seconds_sum") < 30
    assert value(samples, "hotline_escalation_lateness_seconds_count") >= 1
    assert value(samples, "hotline_cases", status="acknowledged") == 1
    assert value(samples, "hotline_cases", status="open") == 0
    assert value(samples, "hotline_cases_unroutable") == 0
    assert value(samples, "hotline_spool_depth") == 0
    assert value(samples, "hotline_database_up") == 1
    assert value(samples, "hotline_worker_rounds_total") >= 1
    assert not PHONE.search(text) and "booth" not in text

    no_token = httpx.get(f"{web.url}/metrics")
    assert no_token.status_code == 401
    chair_token = httpx.get(f"{web.url}/metrics", headers={"Authorization": f"Bearer {chair}"})
    assert chair_token.status_code == 403

    cluster.close()
    lines = json_lines(web)
    for line in lines:
        shown = json.dumps(line)
        assert not PHONE.search(shown), shown
        for word in ("booth", "harassing", "q="):
            assert word not in shown, shown
    of_case = [line for line in lines if line.get("case") == case]
    for line in of_case:
        print(json.dumps(line))
    events = [line["event"] for line in of_case]
    assert events[0] == "case_opened"
    for event in ("paging", "page_sent", "acknowledged"):
        assert event in events
    sent = next(line for line in of_case if line["event"] == "page_sent")
    assert sent["level"] == "INFO" and sent["channel"] == "sms" and sent["attempt"] == 1
    access = [line for line in lines if line.get("logger") == "uvicorn.access"]
    assert any(line["path"] == "/api/cases" for line in access)


SMS_SENT = {"channel": "sms", "outcome": "sent"}


def test_a_separate_worker_counts_into_the_metrics_the_web_process_serves(
    cluster: Cluster, twilio: StandInTwilio, tmp_path: Path
) -> None:
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    web = cluster.web("web", HOTLINE_WORKER="off", **shared)
    cluster.ready(web)
    worker = cluster.worker("worker", **shared)
    cluster.ready(worker)
    admin = token(cluster, "admin")

    report(web, REPORTER, REPORT, to=HOTLINE)
    twilio.wait_for("the page", lambda seen: any(r.to == AVERY and r.sid for r in seen))

    def counted() -> Samples | None:
        _, samples = scrape(web, admin)
        return samples if value(samples, "hotline_pages_total", **SMS_SENT) else None

    samples = wait_until("the worker's page counted", counted)
    assert value(samples, "hotline_first_page_seconds_count") == 1  # the worker's histogram
    assert value(samples, "hotline_worker_rounds_total") >= 1
    # The web process counted the webhook; it opened the case, and said so in its own files.
    assert value(samples, "hotline_webhooks_total", path="/twilio/sms", outcome="answered") == 1
    assert value(samples, "hotline_cases_opened_total", channel="sms") == 1
    assert value(samples, "hotline_cases", status="open") == 1

    healthy = hotline(cluster, "worker", "--health")
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.startswith("ok")
    worker.stop()
    worker.wait()
    sick = hotline(cluster, "worker", "--health")
    assert sick.returncode == 0  # a stopped worker's heartbeat is recent: "stuck" only later
