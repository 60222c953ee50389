"""Who cannot be reached by SMS. A page that failed for good (opted out, not a mobile,
undelivered) marks its responder; their later pages go out as voice calls instead, and the
API warns, until an SMS reaches them again or they text START to the hotline."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.log import SYSTEM, record
from app.event_types import EventType
from app.roster.models import Responder


def mark_unreachable(
    session: Session, responder_id: int, reason: str, now: datetime, *, case_id: int | None
) -> None:
    responder = session.get_one(Responder, responder_id)
    if responder.sms_unreachable_at is not None:
        return
    responder.sms_unreachable_at = now
    responder.sms_unreachable_reason = reason[:200]
    record(
        session,
        case_id=case_id,
        type=EventType.RESPONDER_UNREACHABLE_BY_SMS,
        actor=SYSTEM,
        at=now,
        responder=responder.name,
        reason=reason,
    )


def mark_reachable(session: Session, responder: Responder, now: datetime, *, why: str) -> None:
    if responder.sms_unreachable_at is None:
        return
    responder.sms_unreachable_at = None
    responder.sms_unreachable_reason = None
    record(
        session,
        case_id=None,
        type=EventType.RESPONDER_REACHABLE_BY_SMS,
        actor=SYSTEM,
        at=now,
        responder=responder.name,
        why=why,
    )


def unreachable_among(session: Session, ids: Collection[int]) -> set[int]:
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Responder.id).where(
                Responder.id.in_(ids), Responder.sms_unreachable_at.is_not(None)
            )
        )
    )
