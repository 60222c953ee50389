"""Minting and checking API tokens. Only a SHA-256 hash is stored: a leaked database does
not leak working tokens, and the token is shown once, when it is made."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.models import ApiToken
from app.db import transaction
from app.roster.models import Responder

ROLES = ("admin", "chair", "responder")
PREFIX = "hl_"


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
) -> str:
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "responder" and not responder:
        raise TokenError("a responder token needs --responder PHONE")
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction(sessions) as session:
        if responder and not session.scalar(
            select(Responder.id).where(Responder.phone == responder).limit(1)
        ):
            raise TokenError(f"no responder has the phone number {responder}")
        session.add(
            ApiToken(
                name=name or role,
                role=role,
                responder_phone=responder,
                token_hash=digest(token),
                created_at=now,
            )
        )
    return token


def find_token(session: Session, token: str) -> ApiToken | None:
    """The live token matching `token`; the lookup is by hash, compared in constant time."""
    wanted = digest(token)
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == wanted, ApiToken.revoked_at.is_(None))
    )
    if row is None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return row
