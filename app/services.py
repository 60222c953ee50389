"""The long-lived parts of one process, built once: engine, sessions, transport, clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.cases import numbers
from app.cases.numbers import NumberSource, random_case_numbers
from app.db import GroupCommit, make_engine, make_sessionmaker, utcnow
from app.privacy import keys
from app.settings import Settings
from app.telephony.console import ConsoleTransport
from app.telephony.spool import Spool
from app.telephony.transport import Transport

# session.info key: this process's worker's Event, set after a commit that made work (the
# outbox's listener, app.paging.outbox.mark_new_work, which sits above and reads it).
WAKEUP = "worker_wakeup"


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    transport: Transport
    clock: Callable[[], datetime] = utcnow
    # Webhooks kept while the database is unreachable (app.telephony.outage).
    spool: Spool = field(default_factory=lambda: Spool("./var/spool"))
    # Set after a commit that created work, so an in-process worker wakes at once.
    wakeup: threading.Event = field(default_factory=threading.Event)
    # Where new case numbers come from (app.cases.numbers): random unless a test says so.
    case_numbers: NumberSource = random_case_numbers
    # Webhook transactions, committed together (app.db.GroupCommit): a batch of new reports
    # is a handful of statements and one COMMIT on either database (ADR 0014).
    commits: GroupCommit[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.commits = GroupCommit(self.sessions)
        # Every session carries the source, read when a case opens, so replacing
        # `case_numbers` later (as the test harness does) takes effect at once.
        # And this process's worker, woken when a transaction that made work commits
        # (app.paging.outbox.mark_new_work).
        self.sessions.configure(info={numbers.SESSION_KEY: self._case_numbers, WAKEUP: self.wakeup})

    def _case_numbers(self) -> Iterable[int]:
        return self.case_numbers()

    def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if callable(close):
            close()
        self.engine.dispose()


def make_transport(settings: Settings) -> Transport:
    if settings.transport == "console":
        return ConsoleTransport()
    from app.telephony.twilio_rest import TwilioTransport

    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise SystemExit("HOTLINE_TRANSPORT=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    return TwilioTransport(
        settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_base_url
    )


def build(
    settings: Settings,
    *,
    transport: Transport | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Services:
    try:
        keys.ensure(settings)  # refuses encrypted data without its key (app.privacy.keys)
    except keys.KeysError as error:
        raise SystemExit(str(error)) from None
    engine = make_engine(settings.database_url)
    return Services(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        transport=transport or make_transport(settings),
        clock=clock,
        spool=Spool(settings.spool_dir),
    )


async def from_request(request: Request) -> Services:
    """The dependency. Async, so FastAPI calls it on the event loop rather than handing it
    to the thread pool and back on every request."""
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(from_request)]
