"""When each tier of a case's policy is due, and whom a due step pages.

A policy is `{"tiers": [{"notify": target, "after_minutes": m}, ...], "repeat": r}`, frozen on
the case when it opens. Running it flattens into steps: step k is tier k % n of run k // n,
for r + 1 runs. Tier times count from the start of escalation; each run again starts one
period later, the period being the last tier's time plus the spacing before it (so 0, 5, 10
repeats at 15), or plus five minutes when there is no spacing to copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.paging.eligibility import CaseAudience, Person, Span

DEFAULT_SPACING_MINUTES = 5.0


def retired_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy of a case on a deactivated hotline: its alternates at once, again as
    reminders (at least once), since nobody plans shifts for a number out of service."""
    return {
        "tiers": [{"notify": "alternates", "after_minutes": 0}],
        "repeat": max(1, int(policy.get("repeat", 0))),
    }


def tiers(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["tiers"])


def step_count(policy: dict[str, Any]) -> int:
    return len(tiers(policy)) * (int(policy.get("repeat", 0)) + 1)


def period_minutes(policy: dict[str, Any]) -> float:
    times = [float(t["after_minutes"]) for t in tiers(policy)]
    spacing = times[-1] - times[-2] if len(times) > 1 else 0.0
    return times[-1] + (spacing if spacing > 0 else DEFAULT_SPACING_MINUTES)


def step_tier(policy: dict[str, Any], step: int) -> dict[str, Any]:
    all_tiers = tiers(policy)
    return all_tiers[step % len(all_tiers)]


def step_run(policy: dict[str, Any], step: int) -> int:
    """Which run of the policy a step belongs to: 0 for the first, 1 for the first repeat."""
    return step // len(tiers(policy))


def step_due_at(policy: dict[str, Any], started_at: datetime, step: int) -> datetime | None:
    """When step `step` is due, or None past the end of the policy."""
    if step >= step_count(policy):
        return None
    minutes = step_run(policy, step) * period_minutes(policy) + float(
        step_tier(policy, step)["after_minutes"]
    )
    return started_at + timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class StepPlan:
    """What a due step does.

    `step` is the step actually paged: later than the due one when exclusions emptied the
    tiers in between. `fallback` says the alternates were paged because no tier named anyone
    eligible; `unroutable` that not even an alternate is left.
    """

    step: int
    recipients: tuple[Person, ...]
    fallback: bool = False
    unroutable: bool = False


def plan_step(
    policy: dict[str, Any],
    due_step: int,
    audience: CaseAudience,
    shifts: Sequence[Span],
    now: datetime,
) -> StepPlan:
    """Whom to page for the step that fell due.

    A tier that exclusions (or an empty roster) leave with nobody is skipped at once in
    favour of the next. When no remaining tier names anyone eligible, the alternates are
    paged; when not even they can be, the case is unroutable.
    """
    for step in range(due_step, step_count(policy)):
        recipients = audience.tier(step_tier(policy, step)["notify"], shifts, now)
        if recipients:
            return StepPlan(step=step, recipients=tuple(recipients))
    last = max(due_step, step_count(policy) - 1)
    alternates = audience.tier("alternates", shifts, now)
    if alternates:
        return StepPlan(step=last, recipients=tuple(alternates), fallback=True)
    leads = audience.tier("all_leads", shifts, now)
    if leads:
        return StepPlan(step=last, recipients=tuple(leads), fallback=True)
    return StepPlan(step=last, recipients=(), unroutable=True)


def step_detail(
    policy: dict[str, Any], plan: StepPlan, due_step: int, paged: list[str]
) -> dict[str, Any]:
    """What the case's log says of a step that paged `paged` (their names)."""
    return {
        "step": plan.step,
        "tier": plan.step % len(policy["tiers"]) + 1,
        "run": step_run(policy, plan.step) + 1,
        "notify": "alternates" if plan.fallback else step_tier(policy, plan.step)["notify"],
        "fallback": plan.fallback,
        "skipped": plan.step - due_step,
        "responders": paged,
    }
