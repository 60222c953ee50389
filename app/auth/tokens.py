"""Minting and checking API tokens. Only a SHA-256 hash is stored: a leaked database does
not leak working tokens, and the token is shown once, when it is made."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.audit.log import record
from app.auth.access import CALENDAR, ROLES
from app.auth.models import ApiToken
from app.db import transaction
from app.event_types import EventType
from app.roster.models import Hotline, Responder

PREFIX = "hl_"
CLI = "hotline command"  # the log's actor for what the command line does


class TokenError(ValueError):
    pass


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    sessions: sessionmaker[Session],
    *,
    role: str,
    responder: str | None,
    name: str | None,
    now: datetime,
    hotline: str | None = None,
) -> str:
    if role not in (*ROLES, CALENDAR):
        raise TokenError(f"role must be one of {', '.join((*ROLES, CALENDAR))}, not {role!r}")
    if role == "responder" and not responder:
        raise TokenError("a responder token needs --responder PHONE")
    if (role == CALENDAR) != (hotline is not None):
        raise TokenError("--hotline NUMBER goes with --role calendar, and only with it")
    if role == CALENDAR and responder:
        raise TokenError("a calendar token reads a hotline's shifts; it is bound to no responder")
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction(sessions) as session:
        if hotline is not None and not session.scalar(
            select(Hotline.id).where(Hotline.number == hotline)
        ):
            raise TokenError(f"no hotline has the number {hotline}")
        if responder and not session.scalar(
            select(Responder.id).where(Responder.phone == responder).limit(1)
        ):
            raise TokenError(f"no responder has the phone number {responder}")
        row = ApiToken(
            name=name or role,
            role=role,
            responder_phone=responder,
            hotline_number=hotline,
            token_hash=digest(token),
            created_at=now,
        )
        session.add(row)
        session.flush()
        record(
            session,
            case_id=None,
            type=EventType.TOKEN_CREATED,
            actor=CLI,
            at=now,
            token_id=row.id,
            name=row.name,
            role=role,
            bound_to_responder=responder is not None,
        )
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(sessions: sessionmaker[Session], token_id: int, now: datetime) -> ApiToken:
    """Revoke a token; it stops working at once. Revoking twice changes nothing."""
    with transaction(sessions) as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise TokenError(f"no token has the id {token_id}")
        if row.revoked_at is None:
            row.revoked_at = now
            record(
                session,
                case_id=None,
                type=EventType.TOKEN_REVOKED,
                actor=CLI,
                at=now,
                token_id=row.id,
                name=row.name,
                role=row.role,
            )
        return row


def find_token(session: Session, token: str) -> ApiToken | None:
    """The live token matching `token`; the lookup is by hash, compared in constant time."""
    wanted = digest(token)
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == wanted, ApiToken.revoked_at.is_(None))
    )
    if row is None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return row
