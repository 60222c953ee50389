"""Liveness, readiness and metrics, for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select, text

from app import metrics
from app.auth.access import ADMIN
from app.auth.deps import CallerDep
from app.cases.models import OPEN_STATES, Case
from app.paging.models import Outbound
from app.paging.outbox import CLAIMED, PENDING
from app.services import ServicesDep
from app.telephony.outage import OUTAGE_ERRORS

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="200 while the process serves")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="200 when the database answers, 503 otherwise",
    description=(
        "`spool` counts the webhooks kept while the database was unreachable and not yet "
        "replayed; `spool_failed` those whose replay failed for another reason (see the "
        "README). Reaching the database gives up after a few seconds (app.db)."
    ),
)
def readyz(svc: ServicesDep) -> JSONResponse:
    spool = {"spool": svc.spool.depth(), "spool_failed": svc.spool.failed()}
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "database unreachable", **spool}, status_code=503)
    return JSONResponse({"status": "ready", **spool})


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics (admin token)",
    description=(
        "The Prometheus text format: webhooks, pages, cases, escalation lateness, spool and "
        "worker rounds (see the README). Needs an `admin` token; labels never carry a "
        "phone number, case number or text."
    ),
)
def metrics_endpoint(svc: ServicesDep, caller: CallerDep) -> Response:
    if caller.role != ADMIN:
        raise HTTPException(403, f"a {caller.role} token may not read metrics")
    body, content_type = exposition(svc)
    return Response(body, media_type=content_type)


# --- reading what is, at scrape time -----------------------------------------------------


class StateCollector:
    """Gauges read when /metrics is scraped: cases, outbox, spool, database reachability."""

    def __init__(self, services: Any) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        svc = self.services
        spool = GaugeMetricFamily(
            "hotline_spool_depth",
            "Webhooks kept in this process's spool during a database outage, not yet replayed.",
        )
        spool.add_metric([], svc.spool.depth())
        yield spool
        failed = GaugeMetricFamily(
            "hotline_spool_failed", "Spooled webhooks set aside because their replay failed."
        )
        failed.add_metric([], svc.spool.failed())
        yield failed
        up = GaugeMetricFamily("hotline_database_up", "1 when the database answered this scrape.")
        try:
            with svc.sessions() as session:
                by_status = dict(
                    session.execute(
                        select(Case.status, func.count())
                        .where(Case.status.in_(OPEN_STATES))
                        .group_by(Case.status)
                    ).all()
                )
                unroutable = session.scalar(
                    select(func.count()).where(
                        Case.status.in_(OPEN_STATES), Case.unroutable.is_(True)
                    )
                )
                outbox = session.scalar(
                    select(func.count()).where(Outbound.status.in_((PENDING, CLAIMED)))
                )
        except OUTAGE_ERRORS:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        cases = GaugeMetricFamily(
            "hotline_cases", "Cases not yet resolved, by status.", labels=["status"]
        )
        for status in OPEN_STATES:
            cases.add_metric([status], by_status.get(status, 0))
        yield cases
        stuck = GaugeMetricFamily(
            "hotline_cases_unroutable",
            "Unresolved cases with nobody left to page (they need a person now).",
        )
        stuck.add_metric([], unroutable or 0)
        yield stuck
        pending = GaugeMetricFamily(
            "hotline_outbox_pending", "Messages and calls owed and not yet handed to Twilio."
        )
        pending.add_metric([], outbox or 0)
        yield pending


class _Registry:
    """Forwards to a registry's collect(), so PROCESS can join a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return self.registry.collect()


def exposition(services: Any) -> tuple[bytes, str]:
    """The text Prometheus scrapes, and its content type."""
    registry = CollectorRegistry()
    if metrics.MULTIPROC_DIR:
        MultiProcessCollector(registry, path=metrics.MULTIPROC_DIR)
    else:
        registry.register(_Registry(metrics.PROCESS))
    registry.register(StateCollector(services))
    return generate_latest(registry), CONTENT_TYPE_LATEST
