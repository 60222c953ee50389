"""Who may hear about a case: the one rule every sending path asks.

Plain data in, plain data out: no session, no clock. The shells gather the roster, shifts
and exclusions, pass `now`, and send only to whom this module names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

LEAD = "lead"
ALTERNATE = "alternate"
TARGETS = ("on_call_leads", "all_leads", "alternates")


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    role: str
    phone: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class Span:
    """A shift: the responder is on call from `start` (inclusive) to `end` (exclusive)."""

    responder_id: int
    start: datetime
    end: datetime


def may_hear(person: Person, excluded: Collection[int], reporter_phone: str | None) -> bool:
    """Anything about a case may go to an active responder who is not excluded from it and
    is not the person who reported it (a responder who texted NEW already knows)."""
    return person.active and person.id not in excluded and person.phone != reporter_phone


def on_call_leads(people: Iterable[Person], shifts: Iterable[Span], now: datetime) -> list[Person]:
    """Leads with a shift covering `now`; when no shift covers `now`, every lead is on call."""
    leads = [p for p in people if p.role == LEAD and p.active]
    covering = {s.responder_id for s in shifts if s.start <= now < s.end}
    on_shift = [p for p in leads if p.id in covering]
    return on_shift or leads


def tier_members(
    target: str, people: Sequence[Person], shifts: Sequence[Span], now: datetime
) -> list[Person]:
    """Everyone a tier names, before exclusions, in roster order."""
    if target == "on_call_leads":
        return on_call_leads(people, shifts, now)
    if target == "all_leads":
        return [p for p in people if p.role == LEAD and p.active]
    if target == "alternates":
        return [p for p in people if p.role == ALTERNATE and p.active]
    raise ValueError(f"unknown tier target {target!r}")


def eligible(
    candidates: Iterable[Person], excluded: Collection[int], reporter_phone: str | None
) -> list[Person]:
    return [p for p in candidates if may_hear(p, excluded, reporter_phone)]


def everyone(
    people: Sequence[Person], excluded: Collection[int], reporter_phone: str | None
) -> list[Person]:
    """Every eligible lead and alternate: whom an emergency pages at once."""
    return eligible(people, excluded, reporter_phone)
