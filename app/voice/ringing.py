"""Whom an inbound call rings: a rule over plain data, built on the one eligibility rule.

Twilio rings at most ten numbers at once; the rest of those who should hear about the call
are paged by SMS instead, so nobody is silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.paging.eligibility import CaseAudience, Person, Span, on_call_leads
from app.paging.escalation import plan_step

MAX_NUMBERS = 10


@dataclass(frozen=True, slots=True)
class RingPlan:
    ring: tuple[Person, ...]  # at most ten, in the order the tier names them
    overflow: tuple[Person, ...]  # as eligible, past the tenth: paged by SMS instead


def ring_plan(
    policy: dict[str, Any],
    audience: CaseAudience,
    shifts: Sequence[Span],
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
        return _first_ten(audience.tier("alternates", shifts, now))
    candidates = audience.of({holder_id} if holder_id is not None else set())
    if not candidates:
        candidates = audience.among(on_call_leads(audience.people, shifts, now))
    if not candidates:
        step = plan_step(policy, 0, audience, shifts, now)
        candidates = list(step.recipients)
    return _first_ten(candidates)


def _first_ten(candidates: Sequence[Person]) -> RingPlan:
    return RingPlan(ring=tuple(candidates[:MAX_NUMBERS]), overflow=tuple(candidates[MAX_NUMBERS:]))
