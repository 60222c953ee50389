"""What the HTTP API's routers share: errors, keyset cursors, checked text and times."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import HTTPException
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
NO_NUL = r"^[^\u0000]*$"  # PostgreSQL text cannot hold NUL; a pattern puts that in the schema


class ErrorOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "no such case"}]})

    detail: str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer."""
    meaning = {
        400: "Malformed: a body that is not JSON, or a cursor this API did not give out",
        401: "Missing, unknown or revoked token",
        403: "The token's role may not do this",
        404: "No such case, or the token's responder is excluded from it",
        409: "The case is already in that state",
    }
    return {code: {"model": ErrorOut, "description": meaning[code]} for code in codes}


def storable(value: str) -> str:
    """Text both databases store as given: neither can store half of a UTF-16 surrogate
    pair (NUL characters are refused by the NO_NUL pattern, which the schema shows)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


StorableText = Annotated[str, StringConstraints(pattern=NO_NUL), AfterValidator(storable)]


def utc(value: datetime | None) -> datetime | None:
    """A time from a client, in UTC; one without an offset is taken as UTC. A bound beyond
    what a datetime holds in UTC (year 1 or 9999 with an offset) is the earliest or latest
    time there is, which is what it means as a filter."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


def encode_cursor(at: datetime, id: int) -> str:
    """The opaque position after the last item of a page: its (time, id)."""
    raw = json.dumps([at.astimezone(UTC).isoformat(), id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """400 for anything this API did not give out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, id = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None or not isinstance(id, int) or not 0 <= id <= MAX_ID:
            raise ValueError(cursor)
        return at.astimezone(UTC), id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise HTTPException(400, "invalid cursor: pass back a next_cursor as given") from None
