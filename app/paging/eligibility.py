"""Who may hear about a case: the one rule every sending path asks.

Plain data in, plain data out: no session, no clock. The shells gather the roster, shifts
and exclusions, pass `now`, and send only to whom this module names.

`CaseAudience` is that rule for one case: every page, reminder, notice, relay, ring, voice
page, recording link and the dispatcher (again, at send time) asks it, so a new channel
cannot forget a conflict. It holds the case's snapshot of the roster taken when the case
opened: a reload that adds someone, or gives a person a new row, never reaches a running case.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.roster.people import Person, Span

LEAD = "lead"
ALTERNATE = "alternate"
TARGETS = ("on_call_leads", "all_leads", "alternates")


def may_hear(
    person: Person,
    excluded: Collection[int],
    reporter_phone: str | None,
    members: Collection[int] | None = None,
) -> bool:
    """Anything about a case may go to an active responder who was on the roster when it
    opened (`members`; None for a case older than that rule), is not excluded from it and
    is not the person who reported it (a responder who texted NEW already knows)."""
    return (
        person.active
        and (members is None or person.id in members)
        and person.id not in excluded
        and person.phone != reporter_phone
    )


@dataclass(frozen=True, slots=True)
class CaseAudience:
    """Who may hear anything about one case, right now: the one audience rule."""

    people: tuple[Person, ...]  # the hotline's roster as it is now, active or not
    excluded: frozenset[int]
    reporter_phone: str | None
    members: frozenset[int] | None = None  # the roster when the case opened

    def may_hear(self, responder_id: int) -> bool:
        person = next((p for p in self.people if p.id == responder_id), None)
        return person is not None and may_hear(
            person, self.excluded, self.reporter_phone, self.members
        )

    def among(self, candidates: Iterable[Person]) -> list[Person]:
        """The candidates who may hear, in their order."""
        return [
            p for p in candidates if may_hear(p, self.excluded, self.reporter_phone, self.members)
        ]

    def of(self, ids: Collection[int]) -> list[Person]:
        """The responders with these ids who may hear, in roster order."""
        return self.among(p for p in self.people if p.id in ids)

    def everyone(self) -> list[Person]:
        """Every eligible lead and alternate: whom an emergency pages at once."""
        return self.among(self.people)

    def tier(self, target: str, shifts: Sequence[Span], now: datetime) -> list[Person]:
        """Whom a tier names and may hear, in roster order."""
        return self.among(tier_members(target, self.people, shifts, now))


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
