"""Who is on call: whom a report made at a given time would page, tier by tier, and the
shifts as an iCalendar feed.

The answer comes from the same pure rules the escalation engine follows
(app.paging.escalation.plan_step, app.paging.eligibility), asked at each tier's due time:
it cannot drift from what paging does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.paging import escalation
from app.paging.eligibility import CaseAudience, Person, Span, on_call_leads
from app.roster.cache import roster_of
from app.roster.models import Hotline, Responder, Shift


@dataclass(frozen=True, slots=True)
class TierOnCall:
    tier: int  # 1-based
    notify: str
    after_minutes: float
    at: datetime  # when this tier would be paged (UTC)
    responders: tuple[str, ...]
    note: str | None = None  # why nobody of this tier would be paged, and who instead


@dataclass(frozen=True, slots=True)
class OnCall:
    number: str
    name: str
    timezone: str
    at: datetime
    tiers: tuple[TierOnCall, ...]
    next_change: datetime | None  # when the on-call leads change next (a shift boundary)
    next_on_call: tuple[str, ...]  # the on-call leads from then


def plan_tiers(
    policy: dict[str, Any],
    people: Sequence[Person],
    spans: Sequence[Span],
    names: dict[int, str],
    at: datetime,
) -> list[TierOnCall]:
    """Each tier of the policy's first run for a report at `at`, as the engine would page it
    (no exclusions: a report that names nobody)."""
    # A report that names nobody, from someone who is no responder.
    nobody_excluded = CaseAudience(people=tuple(people), excluded=frozenset(), reporter_phone=None)
    out = []
    for step, tier in enumerate(escalation.tiers(policy)):
        due = escalation.step_due_at(policy, at, step)
        assert due is not None
        plan = escalation.plan_step(policy, step, nobody_excluded, spans, due)
        note = None
        recipients: tuple[str, ...] = tuple(names[p.id] for p in plan.recipients)
        if plan.unroutable:
            note = "nobody: no active responder to page"
        elif plan.step != step or plan.fallback:
            recipients = ()
            later = escalation.step_tier(policy, plan.step)
            who = (
                "the alternates"
                if plan.fallback
                else f"tier {plan.step % len(policy['tiers']) + 1} ({later['notify']})"
            )
            note = f"nobody in this tier: {who} would be paged at once instead"
        out.append(
            TierOnCall(
                tier=step + 1,
                notify=tier["notify"],
                after_minutes=float(tier["after_minutes"]),
                at=due,
                responders=recipients,
                note=note,
            )
        )
    return out


def next_change(
    people: Sequence[Person], spans: Sequence[Span], at: datetime
) -> tuple[datetime | None, list[Person]]:
    """The next shift boundary after `at` at which the on-call leads change, and who then."""
    now_on = {p.id for p in on_call_leads(people, spans, at)}
    for boundary in sorted({t for s in spans for t in (s.start, s.end) if t > at}):
        then = on_call_leads(people, spans, boundary)
        if {p.id for p in then} != now_on:
            return boundary, then
    return None, []


def parse_at(text: str | None, timezone: str, now: datetime) -> datetime:
    """--at: ISO 8601; without an offset it is the hotline's local time."""
    return localize(None if text is None else datetime.fromisoformat(text), timezone, now)


def localize(value: datetime | None, timezone: str, now: datetime) -> datetime:
    """A time in UTC; one without an offset is the hotline's local time; None is now. A time
    beyond what UTC can hold is the earliest or latest there is."""
    if value is None:
        return now
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


def hotlines_for(session: Session, number: str | None) -> list[Hotline]:
    query = select(Hotline).where(Hotline.active).order_by(Hotline.id)
    if number is not None:
        query = select(Hotline).where(Hotline.number == number)
    return list(session.scalars(query))


def on_call(session: Session, hotline: Hotline, at: datetime) -> OnCall:
    roster = roster_of(session, hotline)
    people, spans = list(roster.people), list(roster.spans)
    change, then = next_change(people, spans, at)
    return OnCall(
        number=hotline.number,
        name=hotline.name,
        timezone=hotline.timezone,
        at=at,
        tiers=tuple(plan_tiers(hotline.policy, people, spans, roster.names, at)),
        next_change=change,
        next_on_call=tuple(roster.names[p.id] for p in then),
    )


def format_on_call(entry: OnCall) -> str:
    """The command's table, times in the hotline's time zone."""
    zone = ZoneInfo(entry.timezone)

    def local(t: datetime) -> str:
        return t.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    lines = [f"{entry.name} ({entry.number}), a report at {local(entry.at)}:"]
    for t in entry.tiers:
        who = ", ".join(t.responders) or t.note or "nobody"
        lines.append(
            f"  tier {t.tier} {t.notify:<14} at {local(t.at)} (+{t.after_minutes:g} min): {who}"
        )
    if entry.next_change is not None:
        lines.append(
            f"  next change {local(entry.next_change)}: on-call leads then"
            f" {', '.join(entry.next_on_call) or 'every lead'}"
        )
    return "\n".join(lines)


def shifts_ics(session: Session, hotline: Hotline, now: datetime) -> bytes:
    """Every shift of the hotline's active responders as an iCalendar feed."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//hotline//on-call shifts//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{hotline.name} on call")
    calendar.add("x-wr-timezone", hotline.timezone)
    rows = session.execute(
        select(Shift, Responder)
        .join(Responder, Responder.id == Shift.responder_id)
        .where(Responder.hotline_id == hotline.id, Responder.active)
        .order_by(Shift.start, Responder.id)
    ).all()
    domain = hotline.number.lstrip("+")
    for shift, responder in rows:
        event = Event()
        event.add("uid", f"shift-{shift.id}@{domain}.hotline")
        event.add("dtstamp", now)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"On call: {responder.name} ({responder.role})")
        event.add("description", f"{hotline.name} ({hotline.number})")
        calendar.add_component(event)
    return calendar.to_ical()
