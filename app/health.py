"""Liveness, readiness and metrics, for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app import metrics
from app.auth.access import ADMIN
from app.auth.deps import CallerDep
from app.services import ServicesDep

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
    body, content_type = metrics.exposition(svc)
    return Response(body, media_type=content_type)
