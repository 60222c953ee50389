"""Whom an inbound call rings: a rule over plain data, built on the one eligibility rule.

Twilio rings at most ten numbers at once; the rest of those who should hear about the call
are paged by SMS instead, so nobody is silently dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.paging.eligibility import Person, Span, eligible, on_call_leads, tier_members
from app.paging.escalation import plan_step

MAX_NUMBERS = 10


@dataclass(frozen=True, slots=True)
class RingPlan:
    ring: tuple[Person, ...]  # at most ten, in the order the tier names them
    overflow: tuple[Person, ...]  # as eligible, past the tenth: paged by SMS instead


def ring_plan(
    policy: dict[str, Any],
    people: Sequence[Person],
    shifts: Sequence[Span],
    excluded: Collection[int],
    reporter_phone: str | None,
    now: datetime,
    *,
    lead_involved: bool,
    holder_id: int | None,
) -> RingPlan:
    """Whom to ring for a call about a case.

    A caller who says a lead is involved reaches only the alternates. A case someone has
    taken rings that person. Otherwise (or when they cannot be rung) the eligible on-call
    leads ring; when exclusions leave none, whoever the policy's first paging step would
    reach (the next tier, then the alternates), so a conflict never leaves a caller
    ringing nobody while someone could answer.
    """
    if lead_involved:
        candidates = eligible(
            tier_members("alternates", people, shifts, now), excluded, reporter_phone
        )
        return _first_ten(candidates)
    candidates = eligible([p for p in people if p.id == holder_id], excluded, reporter_phone)
    if not candidates:
        candidates = eligible(on_call_leads(people, shifts, now), excluded, reporter_phone)
    if not candidates:
        step = plan_step(policy, 0, people, shifts, excluded, reporter_phone, now)
        candidates = list(step.recipients)
    return _first_ten(candidates)


def _first_ten(candidates: Sequence[Person]) -> RingPlan:
    return RingPlan(ring=tuple(candidates[:MAX_NUMBERS]), overflow=tuple(candidates[MAX_NUMBERS:]))
