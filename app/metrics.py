"""Prometheus metrics: what an operator watches to see that pages go out and escalations
run on time (docs/adr/0006-metrics-and-logs.md).

Two kinds, by where the truth lives:
- Things that happen (webhooks answered, pages sent, worker rounds, the two histograms) are
  counted in the process where they happen. With PROMETHEUS_MULTIPROC_DIR set (several web
  and worker processes), each process writes its counts to files there and any process's
  /metrics adds them all up.
- Things that are (open and unroutable cases, the outbox, the spool) are read when /metrics
  is scraped (app.health): from the database, which every process shares, and from this
  process's spool. This module sits at the base, below the tables those read.

Labels are vocabularies only (a route's path template, an outcome, a channel, an event
type): never a phone number, a case number or any text.
"""

from __future__ import annotations

import os
import socket
from collections import Counter as TallyCounter
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import cache
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    values,
)

from app.event_types import EventType

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


_HOST = socket.gethostname().replace("_", "-")


def _process_identifier() -> str:
    """Host and pid: two containers sharing the metrics directory both run as pid 1, and
    two processes writing one file would corrupt it. prometheus_client asks at every
    increment (to notice a fork), so the host name is read once."""
    return f"{_HOST}-{os.getpid()}"


disable_created_metrics()  # *_created samples: noise here, and absent in multiprocess mode
if MULTIPROC_DIR:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)
    values.ValueClass = values.MultiProcessValue(_process_identifier)

#: This process's own metrics (not prometheus_client's global registry: tests build many apps).
PROCESS = CollectorRegistry()

WEBHOOKS = Counter(
    "hotline_webhooks",
    "Twilio webhooks answered, by route and outcome "
    "(answered, spooled, lost, outage, refused, rejected, unavailable, error).",
    ["path", "outcome"],
    registry=PROCESS,
)
CASE_EVENTS = Counter(
    "hotline_case_events",
    "Events written to the case log, by type (counted when their transaction commits).",
    ["event"],
    registry=PROCESS,
)
CASES_OPENED = Counter(
    "hotline_cases_opened", "Cases opened, by channel (sms, voice).", ["channel"], registry=PROCESS
)
PAGES = Counter(
    "hotline_pages",
    "Pages to responders by channel (sms, voice) and outcome: sent (accepted by Twilio), "
    "delivered (SMS delivered, call answered), failed (for good), retried.",
    ["channel", "outcome"],
    registry=PROCESS,
)
FIRST_PAGE = Histogram(
    "hotline_first_page_seconds",
    "From a case opening to its first page accepted by Twilio.",
    buckets=(0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600),
    registry=PROCESS,
)
ESCALATION_LATENESS = Histogram(
    "hotline_escalation_lateness_seconds",
    "How long after its due time a step of an escalation policy ran (tier 1 included).",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
    registry=PROCESS,
)
WORKER_ROUNDS = Counter(
    "hotline_worker_rounds", "Rounds of the escalation engine and dispatcher.", registry=PROCESS
)
WORKER_FAILURES = Counter(
    "hotline_worker_round_failures",
    "Worker rounds that failed (e.g. database unreachable).",
    registry=PROCESS,
)

# --- counting what happens ---------------------------------------------------------------

#: Case event type -> the page outcome it counts as.
PAGE_OUTCOMES = {
    EventType.PAGE_SENT: "sent",
    EventType.PAGE_DELIVERED: "delivered",
    EventType.PAGE_FAILED: "failed",
    EventType.PAGE_RETRY: "retried",
}


def page_channel(detail: dict[str, Any]) -> str:
    return "voice" if detail.get("kind") == "call_page" else "sms"


def count_events(events: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Count a transaction's committed case events, by type and detail (app.observe calls
    this): each counter's label set is incremented once by its total (a batch of webhooks
    commits many events, and every increment takes a lock and writes the metrics file)."""
    counts: TallyCounter[tuple[Counter, tuple[str, ...]]] = TallyCounter()
    for event, detail in events:
        counts[(CASE_EVENTS, (event,))] += 1
        if event == EventType.CASE_OPENED:
            counts[(CASES_OPENED, ("voice" if detail.get("channel") == "voice" else "sms",))] += 1
        elif event in PAGE_OUTCOMES:
            counts[(PAGES, (page_channel(detail), PAGE_OUTCOMES[event]))] += 1
        elif event == EventType.CALL_STATUS and detail.get("status") == "completed":
            counts[(PAGES, ("voice", "delivered"))] += 1  # a call page that was answered
    for (counter, labels), times in counts.items():
        counter.labels(*labels).inc(times)


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]
#: Scope key: how a webhook was answered without the database (app.telephony.outage):
#: spooled, lost (the spool could not be written) or outage (a live call step, not kept).
OUTCOME = "hotline.outcome"


def webhook_outcome(status: int, outage: str | None) -> str:
    if status == 403:
        return "refused"  # no valid signature
    if outage:
        return outage
    if status < 400:
        return "answered"
    if status == 503:
        return "unavailable"
    return "rejected" if status < 500 else "error"


class WebhookCounter:
    """ASGI middleware counting /twilio/... requests by route template and outcome: one
    counter increment on the webhook's hot path, nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/twilio/"):
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "unknown")
            _webhooks(path, webhook_outcome(status, scope.get(OUTCOME))).inc()


@cache
def _webhooks(path: str, outcome: str) -> Counter:
    """The count of one route template and outcome (a few dozen in all), looked up once
    rather than through `labels` (a lock and a tuple) on every webhook."""
    return WEBHOOKS.labels(path, outcome)
