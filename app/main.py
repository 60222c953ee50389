"""create_app(): the web service, with the embedded worker when HOTLINE_WORKER=embedded."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from app import health
from app.audit import views as audit_views
from app.cases import views as case_views
from app.db import utcnow
from app.paging.worker import Worker
from app.roster.load import load_roster_file
from app.services import build
from app.settings import Settings, get_settings
from app.sms import webhook as sms_webhook
from app.telephony import status
from app.telephony.transport import Transport
from app.voice import webhook as voice_webhook

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    transport: Transport | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    settings = settings or get_settings()
    services = build(settings, transport=transport, clock=clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.roster:
            summary = load_roster_file(services.sessions, settings.roster, services.clock())
            log.info("roster %s loaded: %s", settings.roster, summary)
        worker = Worker(services, embedded=True) if settings.worker == "embedded" else None
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                worker.stop()
            services.close()

    app = FastAPI(
        title="hotline",
        summary="SMS and phone escalation for code-of-conduct incident response",
        lifespan=lifespan,
    )
    app.state.services = services
    app.include_router(sms_webhook.router)
    app.include_router(voice_webhook.router)
    app.include_router(status.router)
    app.include_router(health.router)
    app.include_router(case_views.router)
    app.include_router(audit_views.router)
    return app
