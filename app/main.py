"""create_app(): the web service, with the embedded worker when HOTLINE_WORKER=embedded."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from app import (
    apidocs,
    health,
    observe,  # noqa: F401  (observe: committed events are logged, counted)
)
from app.casework.roster_load import load_roster_file
from app.console import views as console
from app.db import utcnow
from app.embedded import WorkerProcess
from app.metrics import WebhookCounter
from app.paging.worker import Worker
from app.services import build
from app.settings import Settings, get_settings
from app.sms import webhook as sms_webhook
from app.telephony import outage
from app.telephony.transport import Transport
from app.voice import media as voice_media
from app.voice import webhook as voice_webhook
from app.web import audit as audit_views
from app.web import cases as case_views
from app.web import drills as drill_views
from app.web import roster as roster_views
from app.web import status

log = logging.getLogger(__name__)


MAX_BODY_BYTES = 1024 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    transport: Transport | None = None,
    clock: Callable[[], datetime] = utcnow,
    worker_process: bool = False,
) -> FastAPI:
    """The web app. With HOTLINE_WORKER=embedded it also runs the worker: in a thread, or,
    with `worker_process` (what `hotline serve` asks for), in a child process that leaves
    the web process's interpreter to the webhooks (app.embedded)."""
    settings = settings or get_settings()
    services = build(settings, transport=transport, clock=clock)

    def load_roster() -> None:
        assert settings.roster
        summary = load_roster_file(services.sessions, settings.roster, services.clock())
        log.info("roster %s loaded: %s", settings.roster, summary)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The replayer empties the spool kept during a database outage, from start-up on.
        replayer = app.state.replayer = outage.Replayer(services)
        if settings.roster:
            try:
                load_roster()
            except outage.OUTAGE_ERRORS:
                # Serve anyway, so webhooks are answered and spooled; the database keeps
                # the roster loaded before, and this file is loaded once it answers.
                log.error("database unreachable: roster %s will be loaded later", settings.roster)
                replayer.pending.append(load_roster)
        replayer.start()
        worker: Worker | WorkerProcess | None = None
        if settings.worker == "embedded":
            if worker_process:
                worker = WorkerProcess(services.wakeup)
            else:
                worker = Worker(services, embedded=True)
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                worker.stop()
            replayer.stop()
            services.close()

    app = FastAPI(
        title="hotline",
        summary="SMS and phone escalation for code-of-conduct incident response",
        lifespan=lifespan,
        docs_url=None,  # served from local files instead (app.apidocs): no CDN
        redoc_url=None,
        # Nothing we take comes near it (Twilio's webhooks are a few kilobytes, a note or
        # a record edit a few more): an unsigned megabyte is refused before it is read
        # into memory, let alone checked.
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.services = services
    app.add_middleware(WebhookCounter)
    for error in outage.OUTAGE_ERRORS:
        app.add_exception_handler(error, outage.database_unreachable)
    app.include_router(sms_webhook.router)
    app.include_router(voice_webhook.router)
    app.include_router(voice_media.router)
    app.include_router(status.router)
    app.include_router(health.router)
    app.include_router(case_views.router)
    app.include_router(audit_views.router)
    app.include_router(drill_views.router)
    app.include_router(roster_views.router)
    apidocs.install(app)
    console.install(app)
    return app
