"""What the console's pages show, gathered through the API's own queries and rules.

Every case here comes from `app.casework.queries` (list_cases, visible_case, case_detail), so a
token sees in the console exactly what the API shows it; nothing below decides visibility.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import Event
from app.auth.access import Caller
from app.cases.models import OPEN_STATES, Case
from app.cases.schemas import CaseDetail, CaseSummary
from app.casework import queries
from app.console.words import NOTIFY
from app.event_types import EventType
from app.roster.models import Hotline

OPEN_LIMIT = 200  # more open cases than this at once is not an event, it is a flood
FAILED_DELIVERY = frozenset({"failed", "undelivered", "canceled", "busy", "no-answer"})
TIER_EVENTS = (
    EventType.PAGING,
    EventType.ESCALATED,
    EventType.EMERGENCY_PAGING,
    EventType.LEAD_INVOLVED,
)


@dataclass
class OpenCase:
    """One row of the open-cases page."""

    summary: CaseSummary
    timezone: str
    age: str
    tier: str
    problems: list[str] = field(default_factory=list)


def age(since: datetime, now: datetime) -> str:
    """How long ago, as people say it on a radio: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def tier_reached(last: Event | None, tiers: int) -> str:
    """The escalation step a case reached, from its newest paging event."""
    if last is None:
        return "Not paged yet"
    detail = last.detail or {}
    if last.type == EventType.EMERGENCY_PAGING:
        return "Everyone (emergency)"
    if last.type == EventType.LEAD_INVOLVED:
        return "Alternates (a lead is involved)"
    text = f"Tier {detail.get('tier', '?')} of {tiers}"
    notify = NOTIFY.get(detail.get("notify", ""))
    if notify:
        text += f": {notify}"
    if (detail.get("run") or 1) > 1:
        text += f", round {detail['run']}"
    return text


def problems(case: Case, detail: CaseDetail, lead_flagged: bool) -> list[str]:
    """What needs someone's attention: nobody to page, pages that did not arrive, people
    SMS cannot reach, a lead involved."""
    found = []
    if case.unroutable:
        found.append("Unroutable: nobody eligible is left to page")
    failed = [p for p in detail.pages if p.status in FAILED_DELIVERY]
    if failed:
        names = sorted({p.responder for p in failed})
        found.append(f"{len(failed)} delivery failed ({', '.join(names)})")
    if detail.warnings:
        found.append(f"{len(detail.warnings)} unreachable by SMS")
    if lead_flagged or any(e.reason == "reporter_flagged" for e in detail.exclusions):
        found.append("Lead involved")
    return found


def hotline_zones(session: Session) -> dict[str, str]:
    return {
        number: zone for number, zone in session.execute(select(Hotline.number, Hotline.timezone))
    }


def open_cases(session: Session, caller: Caller, now: datetime) -> list[OpenCase]:
    """Every case not yet resolved that the caller may see, newest first."""
    summaries: list[CaseSummary] = []
    for status in OPEN_STATES:
        page = queries.list_cases(
            session,
            caller,
            status=status,
            hotline=None,
            since=None,
            until=None,
            q=None,
            after=None,
            limit=OPEN_LIMIT,
        )
        summaries.extend(page.items)
    summaries.sort(key=lambda s: s.opened_at, reverse=True)
    zones = hotline_zones(session)
    cases = []
    for summary in summaries[:OPEN_LIMIT]:
        case = queries.visible_case(session, caller, summary.number)
        if case is not None:  # resolved or hidden since the list was read
            cases.append((summary, case))
    latest, flagged = _paging_events(session, [case.id for _, case in cases])
    rows = []
    for summary, case in cases:
        detail = queries.case_detail(session, caller, case)
        rows.append(
            OpenCase(
                summary=summary,
                timezone=zones.get(summary.hotline, "UTC"),
                age=age(summary.opened_at, now),
                tier=tier_reached(latest.get(case.id), len(case.policy.get("tiers", [])) or 1),
                problems=problems(case, detail, case.id in flagged),
            )
        )
    return rows


def _paging_events(session: Session, case_ids: list[int]) -> tuple[dict[int, Event], set[int]]:
    """Per case id its newest paging event; and the cases whose caller said a lead is
    involved."""
    latest: dict[int, Event] = {}
    flagged: set[int] = set()
    if not case_ids:
        return latest, flagged
    rows = session.scalars(
        select(Event)
        .where(Event.case_id.in_(case_ids), Event.type.in_(TIER_EVENTS))
        .order_by(Event.case_id, Event.seq)
    )
    for event in rows:
        assert event.case_id is not None
        latest[event.case_id] = event
        if event.type == EventType.LEAD_INVOLVED:
            flagged.add(event.case_id)
    return latest, flagged


def local(value: datetime | None, timezone: str) -> str:
    """A time as staff at the event read it: their hotline's local time and zone."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%a %d %b %H:%M %Z")


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


def form_time(value: datetime | None, timezone: str) -> str:
    """A stored UTC time as a datetime-local input's value, in the hotline's zone."""
    if value is None:
        return ""
    naive = value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return naive.isoformat(timespec="seconds" if naive.second else "minutes")


def idle_minutes(idle: timedelta) -> str:
    return f"{int(idle.total_seconds() // 60)} minutes"
