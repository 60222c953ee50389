"""The console's pure parts: plain words for the log, session lifetimes, ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.audit.models import Event
from app.cases.schemas import Outcome
from app.console import overview, sessions, words

NOW = datetime(2026, 5, 11, 16, 0, tzinfo=UTC)
IDLE = timedelta(minutes=30)

DETAILS = {
    "case_opened": {"channel": "voice"},
    "message_received": {"message_id": 1, "chars": 12},
    "emergency_paging": {"responders": ["Avery Quinn", "Dana Okafor"]},
    "paging": {"step": 0, "tier": 1, "run": 1, "notify": "on_call_leads"},
    "escalated": {"step": 4, "tier": 2, "run": 2, "notify": "all_leads"},
    "page_sent": {"kind": "page", "to": "Avery Quinn", "attempt": 1, "sid": "SM1"},
    "message_sent": {"kind": "reporter_notice", "to": "reporter", "attempt": 1},
    "page_retry": {"kind": "page", "to": "Avery Quinn", "error": "HTTP 503"},
    "page_failed": {"kind": "call_page", "to": "Avery Quinn", "status": "no-answer"},
    "excluded": {"responder": "Blake Rivera", "reason": "named_in_report"},
    "acknowledged": {"via": "sms"},
    "resolved": {"via": "api", "outcome": "warning", "follow_up_assignee": "Dana Okafor"},
    "record_updated": {"changes": {"reported_person": {"old": None, "new": "x"}}},
    "call_ringing": {"responders": ["Dana Okafor"], "paged_instead": ["Emery Lindqvist"]},
}


@pytest.mark.parametrize("type", sorted(words.SENTENCES))
def test_every_known_event_reads_as_a_sentence_without_codes(type: str) -> None:
    sentence = words.describe(type, "Avery Quinn", DETAILS.get(type, {}))
    assert sentence and "_" not in sentence and "{" not in sentence, sentence


def test_the_sentences_carry_who_and_why() -> None:
    assert words.describe("escalated", "system", DETAILS["escalated"]) == (
        "Nobody acknowledged: escalated to tier 2 (all leads), round 2"
    )
    assert words.describe("excluded", "reporter", DETAILS["excluded"]) == (
        "Blake Rivera excluded from the case: named in the report"
    )
    assert words.describe("resolved", "Chair (chair)", DETAILS["resolved"]) == (
        "Chair (chair) resolved the case in the console or API. Outcome: A warning. "
        "Follow-up: Dana Okafor"
    )


def test_an_event_unknown_or_of_another_shape_still_reads_as_words() -> None:
    assert words.describe("drill_started", "Chair (chair)", {}) == ("Drill started (Chair (chair))")
    assert words.describe("escalation_ended", "system", {}) == (
        "Escalation ended: the policy has run its course"
    )
    assert words.describe("record_updated", "x", {"changes": "not a mapping"}) == (
        "Record updated (x)"
    )


def test_every_outcome_has_plain_words() -> None:
    assert {o.value for o in Outcome} <= set(words.OUTCOMES)
    assert words.outcome(None) == "Not decided"


def test_a_session_lives_while_used_and_dies_idle_old_or_ended() -> None:
    fresh = sessions.SessionTimes(NOW, NOW, None)
    assert sessions.is_live(fresh, NOW + timedelta(minutes=29), IDLE)
    assert not sessions.is_live(fresh, NOW + IDLE, IDLE)
    used = sessions.SessionTimes(NOW, NOW + timedelta(hours=11, minutes=59), None)
    assert sessions.is_live(used, NOW + timedelta(hours=11, minutes=59), IDLE)
    assert not sessions.is_live(used, NOW + sessions.MAX_AGE, IDLE)
    ended = sessions.SessionTimes(NOW, NOW, NOW)
    assert not sessions.is_live(ended, NOW, IDLE)


def test_the_csrf_token_belongs_to_one_session() -> None:
    token = sessions.csrf_token("cookie-a")
    assert sessions.csrf_ok("cookie-a", token)
    assert not sessions.csrf_ok("cookie-b", token)
    assert not sessions.csrf_ok("cookie-a", None)
    assert not sessions.csrf_ok("cookie-a", "")


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (3600, "1 h"),
        (3660 + 240, "1 h 5 min"),
        (86400 * 2 + 3600 * 4, "2 d 4 h"),
        (-5, "0 s"),
    ],
)
def test_ages_read_as_people_say_them(seconds: int, said: str) -> None:
    assert overview.age(NOW, NOW + timedelta(seconds=seconds)) == said


def test_the_tier_reached_names_the_step_and_its_people() -> None:
    def event(type: str, **detail: object) -> Event:
        return Event(type=type, detail=detail)

    assert overview.tier_reached(None, 3) == "Not paged yet"
    assert overview.tier_reached(event("paging", tier=1, run=1, notify="on_call_leads"), 3) == (
        "Tier 1 of 3: the on-call leads"
    )
    assert overview.tier_reached(event("escalated", tier=3, run=2, notify="alternates"), 3) == (
        "Tier 3 of 3: the alternates, round 2"
    )
    assert overview.tier_reached(event("emergency_paging"), 3) == "Everyone (emergency)"
    assert overview.tier_reached(event("lead_involved"), 3) == "Alternates (a lead is involved)"
