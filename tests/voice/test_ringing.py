"""Whom a call rings: the pure rule, over plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.paging.eligibility import CaseAudience, Person, Span
from app.voice.ringing import MAX_NUMBERS, ring_plan

NOW = datetime(2026, 5, 11, 16, 0, tzinfo=UTC)
POLICY = {
    "tiers": [
        {"notify": "on_call_leads", "after_minutes": 0},
        {"notify": "all_leads", "after_minutes": 5},
        {"notify": "alternates", "after_minutes": 10},
    ],
    "repeat": 0,
}
LEAD_A, LEAD_B, LEAD_C = (Person(i, "lead", f"+1555555011{i}") for i in (1, 2, 3))
ALT_D, ALT_E = (Person(i, "alternate", f"+1555555012{i}") for i in (4, 5))
PEOPLE = [LEAD_A, LEAD_B, LEAD_C, ALT_D, ALT_E]
A_ON_SHIFT = [Span(1, NOW - timedelta(hours=1), NOW + timedelta(hours=1))]


def plan(
    people: list[Person] = PEOPLE,
    *,
    excluded: set[int] | None = None,
    lead_involved: bool = False,
    holder_id: int | None = None,
    reporter: str = "+15555550150",
    members: set[int] | None = None,
) -> tuple[list[int], list[int]]:
    audience = CaseAudience(
        tuple(people),
        frozenset(excluded or ()),
        reporter,
        frozenset(members) if members is not None else None,
    )
    result = ring_plan(
        POLICY,
        audience,
        A_ON_SHIFT,
        NOW,
        lead_involved=lead_involved,
        holder_id=holder_id,
    )
    return [p.id for p in result.ring], [p.id for p in result.overflow]


def test_rings_the_on_call_leads() -> None:
    assert plan() == ([1], [])


def test_press_2_rings_only_the_alternates() -> None:
    assert plan(lead_involved=True) == ([4, 5], [])
    assert plan(lead_involved=True, excluded={4}) == ([5], [])
    assert plan(lead_involved=True, excluded={4, 5}) == ([], [])  # never a lead instead


def test_an_excluded_on_call_lead_falls_through_to_the_next_tier() -> None:
    assert plan(excluded={1}) == ([2, 3], [])
    assert plan(excluded={1, 2, 3}) == ([4, 5], [])
    assert plan(excluded={1, 2, 3, 4, 5}) == ([], [])


def test_the_reporter_is_never_rung() -> None:
    assert plan(reporter=LEAD_A.phone) == ([2, 3], [])


def test_a_taken_case_rings_whoever_has_it_while_they_may_hear() -> None:
    assert plan(holder_id=3) == ([3], [])
    assert plan(holder_id=3, excluded={3}) == ([1], [])


def test_at_most_ten_numbers_ring_in_tier_order() -> None:
    leads = [Person(i, "lead", f"+155555501{i}") for i in range(30, 42)]
    ring, overflow = plan(leads)
    assert len(ring) == MAX_NUMBERS == 10
    assert ring == list(range(30, 40)) and overflow == [40, 41]


def test_nobody_added_to_the_roster_after_the_case_opened_is_rung() -> None:
    assert plan(members={2, 3, 4}) == ([2, 3], [])  # the on-call lead came later
    assert plan(members={2, 3, 4}, lead_involved=True) == ([4], [])
