"""The escalation clock of ADR 0002 as pure rules: when each step is due, and the `repeat`
rhythm (a run starts again one period after the previous one started)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.paging import escalation
from app.paging.eligibility import CaseAudience, Person, Span

START = datetime(2026, 5, 11, 16, 0, tzinfo=UTC)
THREE_TIERS = {
    "tiers": [
        {"notify": "on_call_leads", "after_minutes": 0},
        {"notify": "all_leads", "after_minutes": 5},
        {"notify": "alternates", "after_minutes": 10},
    ],
    "repeat": 1,
}
AVERY = Person(1, "lead", "+15555550111")
BLAKE = Person(2, "lead", "+15555550112")
DANA = Person(4, "alternate", "+15555550121")
AVERY_ON_CALL = [Span(1, START - timedelta(hours=1), START + timedelta(hours=8))]


def minutes_after_start(policy: dict, step: int) -> float | None:
    due = escalation.step_due_at(policy, START, step)
    return None if due is None else (due - START).total_seconds() / 60


def test_each_tier_is_due_its_minutes_after_escalation_started() -> None:
    assert [minutes_after_start(THREE_TIERS, s) for s in range(3)] == [0, 5, 10]


def test_a_repeat_runs_again_one_period_after_the_first_run_started() -> None:
    # 0, 5, 10 repeats at 15: the last tier's time plus the spacing before it.
    assert escalation.period_minutes(THREE_TIERS) == 15
    assert [minutes_after_start(THREE_TIERS, s) for s in range(3, 6)] == [15, 20, 25]


def test_nothing_is_due_past_the_last_run() -> None:
    assert escalation.step_count(THREE_TIERS) == 6
    assert escalation.step_due_at(THREE_TIERS, START, 6) is None


def test_no_repeat_means_one_run() -> None:
    once = {**THREE_TIERS, "repeat": 0}
    assert escalation.step_count(once) == 3
    assert escalation.step_due_at(once, START, 3) is None


def test_a_one_tier_policy_repeats_five_minutes_later() -> None:
    one = {"tiers": [{"notify": "alternates", "after_minutes": 0}], "repeat": 2}
    assert escalation.period_minutes(one) == escalation.DEFAULT_SPACING_MINUTES == 5
    assert [minutes_after_start(one, s) for s in range(4)] == [0, 5, 10, None]


def test_tiers_at_the_same_minute_repeat_after_the_default_spacing() -> None:
    same = {
        "tiers": [
            {"notify": "on_call_leads", "after_minutes": 0},
            {"notify": "all_leads", "after_minutes": 0},
        ],
        "repeat": 1,
    }
    assert [minutes_after_start(same, s) for s in range(4)] == [0, 0, 5, 5]


def test_fractional_minutes_keep_their_rhythm() -> None:
    quick = {
        "tiers": [
            {"notify": "on_call_leads", "after_minutes": 0},
            {"notify": "all_leads", "after_minutes": 0.5},
        ],
        "repeat": 1,
    }
    assert [minutes_after_start(quick, s) for s in range(4)] == [0, 0.5, 1.0, 1.5]


@pytest.mark.parametrize(("step", "tier", "run"), [(0, 0, 0), (2, 2, 0), (3, 0, 1), (5, 2, 1)])
def test_step_k_is_tier_k_mod_n_of_run_k_div_n(step: int, tier: int, run: int) -> None:
    assert escalation.step_tier(THREE_TIERS, step) == THREE_TIERS["tiers"][tier]
    assert escalation.step_run(THREE_TIERS, step) == run


def test_a_retired_hotline_pages_its_alternates_at_once_and_again_at_least_once() -> None:
    retired = escalation.retired_policy({**THREE_TIERS, "repeat": 0})
    assert retired == {"tiers": [{"notify": "alternates", "after_minutes": 0}], "repeat": 1}


def audience(*people: Person, excluded: frozenset[int] = frozenset()) -> CaseAudience:
    return CaseAudience(people, excluded, "+15555550150")


def test_a_due_step_pages_its_tier() -> None:
    plan = escalation.plan_step(THREE_TIERS, 0, audience(AVERY, BLAKE, DANA), AVERY_ON_CALL, START)
    assert plan == escalation.StepPlan(step=0, recipients=(AVERY,))


def test_a_tier_that_exclusions_empty_is_skipped_for_the_next() -> None:
    everyone = audience(AVERY, BLAKE, DANA, excluded=frozenset({1}))
    plan = escalation.plan_step(THREE_TIERS, 0, everyone, AVERY_ON_CALL, START)
    assert plan.step == 1 and plan.recipients == (BLAKE,) and not plan.fallback


def test_with_no_tier_naming_anyone_the_alternates_are_paged() -> None:
    leads_only = {"tiers": [{"notify": "all_leads", "after_minutes": 0}], "repeat": 0}
    blake_named = audience(BLAKE, DANA, excluded=frozenset({BLAKE.id}))
    plan = escalation.plan_step(leads_only, 0, blake_named, [], START)
    assert plan.fallback and plan.recipients == (DANA,)


def test_with_nobody_at_all_the_case_is_unroutable() -> None:
    plan = escalation.plan_step(THREE_TIERS, 0, audience(), [], START)
    assert plan.unroutable and plan.recipients == () and plan.step == 5
