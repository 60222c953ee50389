"""Writing the escalation log: every step of a case lands here, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.audit.models import Event

SYSTEM = "system"
REPORTER = "reporter"


def record(
    session: Session,
    *,
    case_id: int | None,
    type: str,
    actor: str,
    at: datetime,
    **detail: Any,
) -> Event:
    event = Event(case_id=case_id, type=type, actor=actor, at=at, detail=detail)
    session.add(event)
    return event
