"""Voicemail recordings reach people only through this service, never as a Twilio URL.

A recording's Twilio URL stays in the `recording` table. What a case's messages hold is a
marker (`<voicemail:7>`); each message to a responder and each API answer replaces it with
a link of its own: `/recordings/<token>`, signed (HMAC-SHA256 under a key derived from the
auth token), bound to one responder (or one API token) and valid for LINK_TTL. Following the
link asks the case's audience rule again, so a link handed out before an exclusion is
refused after it; the service then fetches the recording from Twilio with the account's
credentials (which "HTTP auth for media" requires) and streams it through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.wording import VOICEMAIL_MARKER

LINK_TTL = timedelta(hours=1)
LINK_PATH = "/recordings"
MARKER = VOICEMAIL_MARKER
_KEY_LABEL = b"hotline recording links v1"


def marker(recording_id: int) -> str:
    return f"<voicemail:{recording_id}>"


@dataclass(frozen=True, slots=True)
class Bearer:
    """Whom a link is for: a responder ("r") or an API token with no responder ("t")."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"{self.kind}{self.id}"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _signature(secret: str, payload: str) -> str:
    mac = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def sign(secret: str, recording_id: int, bearer: Bearer, expires: datetime) -> str:
    payload = f"{recording_id}.{bearer}.{int(expires.timestamp())}"
    return f"{payload}.{_signature(secret, payload)}"


@dataclass(frozen=True, slots=True)
class Grant:
    recording_id: int
    bearer: Bearer
    expires: datetime


def verify(secret: str, token: str) -> Grant | None:
    """The grant a token carries when its signature holds (expiry is the caller's check)."""
    parts = token.split(".")
    if len(parts) != 4 or not secret:
        return None
    recording, bearer, expires, signature = parts
    payload = f"{recording}.{bearer}.{expires}"
    if not hmac.compare_digest(_signature(secret, payload), signature):
        return None
    if not (recording.isdigit() and expires.isdigit() and bearer[:1] in ("r", "t")):
        return None
    if not bearer[1:].isdigit():
        return None
    return Grant(
        int(recording),
        Bearer(bearer[0], int(bearer[1:])),
        datetime.fromtimestamp(int(expires), UTC),
    )


def link(base: str, secret: str, recording_id: int, bearer: Bearer, now: datetime) -> str:
    return f"{base}{LINK_PATH}/{sign(secret, recording_id, bearer, now + LINK_TTL)}"


def expand(text: str, *, base: str, secret: str, bearer: Bearer | None, now: datetime) -> str:
    """Each voicemail marker in `text` as a link for `bearer` (or a plain mention when
    there is nobody to bind it to)."""
    if bearer is None or not secret:
        return MARKER.sub("(voicemail)", text)
    return MARKER.sub(lambda m: link(base, secret, int(m.group(1)), bearer, now), text)


def without_links(text: str) -> str:
    """For speech: a link cannot be read out."""
    return MARKER.sub("a voicemail", text)
