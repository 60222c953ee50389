"""Signing in to the console with an API token, and the session cookie that follows.

The cookie holds a random value; the database holds its SHA-256 (as for API tokens). A
session ends when its holder signs out, after `idle` without a page asked for by a person
(the open-cases page refreshing by itself does not count), after MAX_AGE whatever happens,
and as soon as its token is revoked. Each form carries a CSRF token derived from the cookie
value, which a page on another site can neither read nor guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.access import ROLES
from app.auth.models import ApiToken
from app.auth.tokens import digest, find_token
from app.console.models import ConsoleSession
from app.db import transaction

MAX_AGE = timedelta(hours=12)  # sign in again at least once a day's shift
TOUCH_EVERY = timedelta(seconds=30)  # fewer writes: last_seen_at is kept to this precision


@dataclass(frozen=True, slots=True)
class SessionTimes:
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None


def is_live(times: SessionTimes, now: datetime, idle: timedelta) -> bool:
    """Whether a session still stands: not signed out, not idle too long, not too old."""
    return (
        times.ended_at is None
        and now - times.last_seen_at < idle
        and now - times.created_at < MAX_AGE
    )


def needs_touch(times: SessionTimes, now: datetime, idle: timedelta) -> bool:
    return now - times.last_seen_at >= min(TOUCH_EVERY, idle / 10)


def csrf_token(cookie: str) -> str:
    """The value every form of this session must send back."""
    return hmac.new(cookie.encode(), b"console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(cookie: str, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(csrf_token(cookie), sent)


def sign_in(sessions: sessionmaker[Session], api_token: str, now: datetime) -> str | None:
    """A new session's cookie value for a live API token; None for anything else."""
    with transaction(sessions) as session:
        token = find_token(session, api_token)
        if token is None or token.role not in ROLES:
            return None  # a token for something else (a calendar feed) opens nothing here
        cookie = secrets.token_urlsafe(32)
        session.add(
            ConsoleSession(
                session_hash=digest(cookie), token_id=token.id, created_at=now, last_seen_at=now
            )
        )
    return cookie


def token_of(
    session: Session, cookie: str, now: datetime, idle: timedelta, *, activity: bool
) -> ApiToken | None:
    """The live API token behind a live session, or None. `activity`: a person asked for
    this page, so the idle clock starts again (committed by the caller's transaction)."""
    row = session.execute(
        select(ConsoleSession, ApiToken)
        .join(ApiToken, ApiToken.id == ConsoleSession.token_id)
        .where(ConsoleSession.session_hash == digest(cookie), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    console, token = row
    times = SessionTimes(console.created_at, console.last_seen_at, console.ended_at)
    if not is_live(times, now, idle):
        return None
    if activity and needs_touch(times, now, idle):
        console.last_seen_at = now
    return token  # type: ignore[no-any-return]


def sign_out(sessions: sessionmaker[Session], cookie: str, now: datetime) -> None:
    with transaction(sessions) as session:
        row = session.scalar(
            select(ConsoleSession).where(ConsoleSession.session_hash == digest(cookie))
        )
        if row is not None and row.ended_at is None:
            row.ended_at = now
