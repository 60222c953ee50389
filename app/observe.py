"""Every committed case event becomes a log line and a metric, and nothing else does.

The case log (app.audit.log.record) already sees every step of every case, in the
transaction that makes it. Its events are collected as they are flushed (or inserted
without the ORM by app.audit.log.insert_events) and announced once that transaction
commits, so a rolled-back step is neither logged nor counted, and no domain module needs a
log or metric call of its own. `after_commit` runs anything else (a histogram
observation) at the same moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapper, Session, SessionTransaction, object_session

from app import logs, metrics
from app.audit.log import INSERTED
from app.audit.models import Event
from app.event_types import EventType

log = logging.getLogger(__name__)

SEEN = "observe_events"  # session.info key: (case, type, detail) of events flushed, uncommitted
CALLBACKS = "observe_after_commit"  # session.info key: what runs once the transaction commits

# The steps an operator follows at INFO; trouble at WARNING; every other event at DEBUG.
LEVELS = {
    EventType.CASE_OPENED: logging.INFO,
    EventType.PAGING: logging.INFO,
    EventType.PAGE_SENT: logging.INFO,
    EventType.ACKNOWLEDGED: logging.INFO,
    EventType.ESCALATED: logging.INFO,
    EventType.EMERGENCY_PAGING: logging.INFO,
    EventType.EXCLUDED: logging.INFO,
    EventType.RESOLVED: logging.INFO,
    EventType.ESCALATION_ENDED: logging.INFO,
    EventType.PAGE_FAILED: logging.WARNING,
    EventType.PAGE_RETRY: logging.WARNING,
    EventType.MESSAGE_FAILED: logging.WARNING,
    EventType.UNROUTABLE: logging.WARNING,
    EventType.RESPONDER_UNREACHABLE_BY_SMS: logging.WARNING,
    EventType.REPORTER_UNREACHABLE_BY_SMS: logging.WARNING,
    EventType.RELAY_NOT_SENT: logging.WARNING,
}


def after_commit(session: Session, fn: Callable[..., object], *args: Any) -> None:
    """Run `fn(*args)` once the session's transaction commits; never if it rolls back."""
    session.info.setdefault(CALLBACKS, []).append(partial(fn, *args))


def step_ran(session: Session, *, due: datetime, now: datetime) -> None:
    """A due step of an escalation policy ran `now`: how late (the engine's lag)."""
    after_commit(session, metrics.ESCALATION_LATENESS.observe, (now - due).total_seconds())


@sa_event.listens_for(Event, "after_insert")
def _flushed(_mapper: Mapper[Event], _connection: Connection, event: Event) -> None:
    session = object_session(event)
    if session is not None:
        session.info.setdefault(SEEN, []).append((event.case_id, event.type, event.detail or {}))


@sa_event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    seen = session.info.pop(SEEN, []) + session.info.pop(INSERTED, [])
    callbacks = session.info.pop(CALLBACKS, [])
    try:
        metrics.count_events((type_, detail) for _, type_, detail in seen)
        for case_id, type_, detail in seen:
            if type_ in metrics.PAGE_OUTCOMES:
                detail = {**detail, "channel": metrics.page_channel(detail)}
            logs.case_event(case_id, type_, detail, LEVELS.get(type_, logging.DEBUG))
        for callback in callbacks:
            callback()
    except Exception:  # the transaction is committed: a metric must not fail the request
        log.exception("could not log or count committed events")


@sa_event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without committing announces nothing."""
    if transaction.parent is None:
        session.info.pop(SEEN, None)
        session.info.pop(INSERTED, None)
        session.info.pop(CALLBACKS, None)
