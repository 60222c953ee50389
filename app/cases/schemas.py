"""What the cases API takes and gives: pydantic models with OpenAPI examples.

No phone number of anyone appears here: responders are named, the reporter's number is shown
masked at most (the contract: neither side ever learns the other's number).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.api import NO_NUL, storable

CaseStatus = Literal["open", "acknowledged", "resolved"]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=10_000, pattern=NO_NUL),
    AfterValidator(storable),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200, pattern=NO_NUL),
    AfterValidator(storable),
]
# Something besides white space, and no NUL (see app.api.NO_NUL).
WORDS = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
NoteText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000, pattern=WORDS),
    AfterValidator(storable),
]


class Outcome(StrEnum):
    """The response decided for an incident: the staff procedure's list of possible responses.

    - `no_action`: nothing; the behaviour was found not to violate the Code of Conduct
    - `warning`: a verbal or emailed warning
    - `no_contact_order`: the reported person must avoid any interaction with, and physical
      proximity to, another person for the rest of the event
    - `no_evening_events`: the reported person may not attend evening events
    - `no_alcohol`: alcoholic beverage purchases refused at events
    - `talk_ended`: a talk that violated the Code of Conduct was ended early
    - `talk_unpublished`: the video or slides of a talk are not published
    - `speaker_banned`: the speaker may not give (further) talks, now or in future
    - `volunteer_ended`: event volunteer responsibilities and privileges ended at once
    - `volunteer_banned`: the person may not volunteer for future events
    - `refund_grants`: travel grants and similar must be refunded
    - `removed_from_event`: the person must leave the event at once and not return
    - `banned_from_events`: the person is banned from future events
    - `membership_removed`: the person is removed from membership of relevant organizations
    - `public_account`: an account of the incident is published (optionally calling for a
      resignation)
    """

    no_action = "no_action"
    warning = "warning"
    no_contact_order = "no_contact_order"
    no_evening_events = "no_evening_events"
    no_alcohol = "no_alcohol"
    talk_ended = "talk_ended"
    talk_unpublished = "talk_unpublished"
    speaker_banned = "speaker_banned"
    volunteer_ended = "volunteer_ended"
    volunteer_banned = "volunteer_banned"
    refund_grants = "refund_grants"
    removed_from_event = "removed_from_event"
    banned_from_events = "banned_from_events"
    membership_removed = "membership_removed"
    public_account = "public_account"


def _plausible(value: datetime | None) -> datetime | None:
    if value is not None and not 1900 <= value.year <= 2999:
        raise ValueError("must be a date between the years 1900 and 2999")
    return value


IncidentTime = Annotated[datetime, AfterValidator(_plausible)]

CASE_EXAMPLE = {
    "number": 48213,
    "hotline": "+15555550100",
    "hotline_name": "Example Conf 2026",
    "status": "acknowledged",
    "channel": "sms",
    "emergency": False,
    "unroutable": False,
    "opened_at": "2026-05-11T16:00:00Z",
    "acknowledged_at": "2026-05-11T16:02:10Z",
    "acknowledged_by": "Avery Quinn",
    "resolved_at": None,
    "outcome": None,
}


class CaseSummary(BaseModel):
    """A case as listed: enough to pick one to open."""

    model_config = ConfigDict(json_schema_extra={"examples": [CASE_EXAMPLE]})

    number: int = Field(
        description="The case number responders type (ACK 48213): random, at least four digits"
    )
    hotline: str = Field(description="The hotline's own number (E.164)")
    hotline_name: str
    status: CaseStatus
    channel: str = Field(description="How the report came in: sms or voice")
    emergency: bool
    unroutable: bool = Field(description="Nobody eligible was left to page")
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(description="Name of the responder who took the case")
    resolved_at: datetime | None
    outcome: Outcome | None


class CasePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [CASE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[CaseSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


class MessageOut(BaseModel):
    direction: str = Field(description="in: to the hotline; out: relayed to the reporter")
    author: str = Field(description='"reporter", or the responder who wrote it')
    body: str
    at: datetime


class PageOut(BaseModel):
    """Something the hotline owed a responder about the case (a page, reminder or notice)
    and how its delivery went."""

    responder: str
    kind: str
    step: int | None = Field(description="The escalation step a page belongs to")
    status: str = Field(description="pending, claimed, cancelled, failed or Twilio's status")
    attempts: int
    error: str | None
    sent_at: datetime | None


class ExclusionOut(BaseModel):
    responder: str
    reason: str = Field(
        description="named_in_report (also: named in what was written on the case), "
        "reporter_flagged, recused or chair_excluded"
    )
    at: datetime


class ExclusionIn(BaseModel):
    """Whom to exclude: a responder of the case's hotline, by full name or alias (any case
    and accents) or by phone number (E.164)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"responder": "Blake Rivera"}, {"responder": "+15555550112"}]
        },
    )

    responder: ShortText = Field(
        description="The responder's full name or an alias, or their phone number (E.164)"
    )


class NoteOut(BaseModel):
    id: int
    author: str
    author_role: str
    body: str
    at: datetime


class RecordOut(BaseModel):
    """What staff gathered, per the staff procedure. `reporter_name` and `reporter_contact`
    are null for responder tokens when the reporter asked to stay anonymous."""

    incident_at: datetime | None
    location: str | None
    description: str | None
    reported_person: str | None
    circumstances: str | None
    reporter_name: str | None
    reporter_contact: str | None
    reporter_anonymous: bool
    witnesses: str | None
    suggested_responses: str | None


class CaseDetail(CaseSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                CASE_EXAMPLE
                | {
                    "reporter": "•••• 0150",
                    "resolved_by": None,
                    "follow_up_assignee": None,
                    "record": {
                        "incident_at": "2026-05-11T15:40:00Z",
                        "location": "Booth 12, expo hall",
                        "description": "Repeated unwanted comments to booth staff",
                        "reported_person": "Red hoodie, badge from an exhibitor",
                        "circumstances": None,
                        "reporter_name": None,
                        "reporter_contact": None,
                        "reporter_anonymous": True,
                        "witnesses": "Two booth volunteers",
                        "suggested_responses": None,
                    },
                    "messages": [
                        {
                            "direction": "in",
                            "author": "reporter",
                            "body": "Someone is harassing people at booth 12",
                            "at": "2026-05-11T16:00:00Z",
                        }
                    ],
                    "pages": [
                        {
                            "responder": "Avery Quinn",
                            "kind": "page",
                            "step": 0,
                            "status": "delivered",
                            "attempts": 1,
                            "error": None,
                            "sent_at": "2026-05-11T16:00:01Z",
                        }
                    ],
                    "exclusions": [
                        {
                            "responder": "Blake Rivera",
                            "reason": "named_in_report",
                            "at": "2026-05-11T16:00:00Z",
                        }
                    ],
                    "notes": [],
                    "warnings": [],
                    "reporter_reachable_by_sms": True,
                    "reporter_unreachable_reason": None,
                }
            ]
        }
    )

    reporter: str = Field(description="The reporter's number, masked: never more than this")
    reporter_reachable_by_sms: bool = Field(
        True, description="False when texts cannot reach the reporter: REPLY then sends nothing"
    )
    reporter_unreachable_reason: str | None = Field(
        None,
        description="Why: caller_id_withheld, not_a_phone_number, not_a_mobile, opted_out "
        "(texted STOP; START clears it) or invalid_number",
    )
    resolved_by: str | None = Field(description="Who resolved it: a responder, or a token")
    follow_up_assignee: str | None
    record: RecordOut
    messages: list[MessageOut]
    pages: list[PageOut]
    exclusions: list[ExclusionOut]
    notes: list[NoteOut]
    warnings: list[str] = Field(description="Problems to act on, e.g. a responder opted out")


class RecordPatch(BaseModel):
    """Fields to change; a field left out stays as it is, null clears it. A time without a
    UTC offset is taken in the hotline's time zone."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "incident_at": "2026-05-11T11:40:00",
                    "location": "Booth 12, expo hall",
                    "reported_person": "Red hoodie, exhibitor badge",
                    "reporter_anonymous": True,
                }
            ]
        },
    )

    incident_at: IncidentTime | None = Field(
        None, description="When it happened: between the years 1900 and 2999"
    )
    location: LongText | None = None
    description: LongText | None = None
    reported_person: LongText | None = Field(
        None,
        description="Identifying information: name, appearance, clothing, badge ...",
    )
    circumstances: LongText | None = None
    reporter_name: LongText | None = None
    reporter_contact: LongText | None = None
    reporter_anonymous: bool = False
    witnesses: LongText | None = Field(
        None, description="Others involved or who saw it, with contact or description"
    )
    suggested_responses: LongText | None = Field(
        None, description="The reporter's suggestions, if they offered any (never prompt)"
    )


class NoteIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Spoke with booth staff; they confirm."}]},
    )

    body: NoteText


class ResolveIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "warning",
                    "follow_up_assignee": "Dana Okafor",
                    "note": "Warned in person at 17:00; the reporter is told by the assignee.",
                }
            ]
        },
    )

    outcome: Outcome
    follow_up_assignee: ShortText | None = Field(
        None, description="Who follows up with the people impacted and the reporter"
    )
    note: NoteText | None = None
