"""What the log API gives: events, pages of them, and a chain's verification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.event_types import EventType

EVENT_EXAMPLE = {
    "id": 42,
    "case": 48213,
    "at": "2026-05-11T16:02:10Z",
    "type": "acknowledged",
    "actor": "Avery Quinn",
    "detail": {"via": "sms"},
}


class EventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})

    id: int
    case: int | None = Field(description="The case number; null for events about no case")
    at: datetime = Field(description="When it happened, UTC")
    type: str = Field(
        description="What happened: one of the event types listed (app.event_types.EventType)",
        json_schema_extra={"enum": [t.value for t in EventType]},
    )
    actor: str = Field(
        description='"system", "reporter", a responder\'s name, or an API token as "name (role)"'
    )
    detail: dict[str, Any]


class EventPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [EVENT_EXAMPLE], "next_cursor": None}]}
    )

    items: list[EventOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


class BrokenLink(BaseModel):
    event_id: int
    seq: int
    type: str
    problem: str


class ChainReport(BaseModel):
    """Whether the case's log is as it was written."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case": 48213,
                    "ok": False,
                    "events": 4,
                    "head": "9f2c...",
                    "broken": {
                        "event_id": 44,
                        "seq": 4,
                        "type": "message_received",
                        "problem": "its content does not match its hash (edited after it "
                        "was written)",
                    },
                }
            ]
        }
    )

    case: int
    ok: bool
    events: int = Field(description="Events checked (up to and including a broken one)")
    head: str = Field(
        description="Hash of the last intact event: note it down elsewhere to detect events "
        "later cut from the end of the log"
    )
    broken: BrokenLink | None
