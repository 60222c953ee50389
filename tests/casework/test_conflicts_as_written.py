"""Reporters write names the way people write: "Blake's", "Rivera", "@blake_rivera", a name
split over two texts, "CONFLICT, Blake". Each still keeps that responder out of the case."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.cases.models import Exclusion
from tests.harness import (
    AVERY,
    BLAKE,
    CASEY,
    DANA,
    REPORTER,
    ROSTER,
    Hotline,
    recipients,
)


def exclusions(hl: Hotline, case_id: int = 1) -> dict[str, str]:
    with hl.services.sessions() as session:
        rows = session.scalars(select(Exclusion).where(Exclusion.case_id == case_id)).all()
        return {r.responder.phone: r.reason for r in rows}


def assert_blake_learns_nothing(hl: Hotline) -> None:
    """Through every tier, an acknowledgement and a resolution: nothing reaches Blake."""
    sent = hl.run()
    for _ in range(3):
        sent += hl.after(minutes=5)
    hl.answer(AVERY, "ACK 1")
    hl.answer(AVERY, "RESOLVE 1")
    sent += hl.run()
    assert BLAKE not in recipients(sent)
    assert hl.answer(BLAKE, "ACK 1") == "No such case: 1."


def test_report_naming_blake_possessive_excludes_blake(hl: Hotline) -> None:
    hl.answer(REPORTER, "Blake's friend grabbed my arm at the party")
    assert exclusions(hl) == {BLAKE: "named_in_report"}
    assert_blake_learns_nothing(hl)


def test_report_naming_only_a_last_name_excludes(hl: Hotline) -> None:
    hl.answer(REPORTER, "Rivera kept following me around the expo hall")
    assert exclusions(hl) == {BLAKE: "named_in_report"}
    assert_blake_learns_nothing(hl)


def test_report_naming_only_a_first_name_excludes(hl: Hotline) -> None:
    hl.answer(REPORTER, "Blake was drunk and shouting at volunteers")
    assert exclusions(hl) == {BLAKE: "named_in_report"}


@pytest.mark.parametrize(
    "report",
    [
        "@blake_rivera keeps messaging me",
        "it was @blakerivera",
        "Blake-Rivera cornered me",
        "RIVERA’S hotel room",
        "(blâke) was there",
        "the guy is rivera, blake",
        "B. Rivera from the team",
        "Blakes friend did it",
    ],
)
def test_report_naming_blake_in_a_common_written_form_excludes_blake(
    hl: Hotline, report: str
) -> None:
    hl.answer(REPORTER, report)
    assert exclusions(hl) == {BLAKE: "named_in_report"}


@pytest.mark.parametrize(
    "report",
    [
        "CONFLICT, Blake",
        "conflict: blake",
        "CONFLICT - Blake",
        "Conflict; Blake. He is my manager",
        "CONFLICT!!! Blake",
        "CONFLICT... blake",
    ],
)
def test_conflict_followed_by_comma_excludes(hl: Hotline, report: str) -> None:
    hl.answer(REPORTER, report)
    assert exclusions(hl) == {BLAKE: "reporter_flagged"}
    assert_blake_learns_nothing(hl)


def test_name_split_over_two_texts_excludes(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone made comments at booth 12, it was Bla")
    hl.clock.advance(seconds=40)
    hl.answer(REPORTER, "ke. Sorry, sent too early")
    assert exclusions(hl) == {BLAKE: "named_in_report"}
    assert_blake_learns_nothing(hl)


TWO_BLAKES = ROSTER.replace(
    '{name: "Casey Moreau", phone: "+15555550113", role: lead}',
    '{name: "Blake Chen", phone: "+15555550113", role: lead}',
)


def test_a_first_name_two_leads_share_excludes_neither_until_the_next_text_says_which(
    database_url: str,
) -> None:
    hl = Hotline(database_url, roster=TWO_BLAKES)
    try:
        hl.answer(REPORTER, "It was Blake")
        assert exclusions(hl) == {}  # which Blake? nobody is excluded on a guess
        hl.clock.advance(minutes=2)
        hl.answer(REPORTER, "Rivera")
        assert exclusions(hl) == {BLAKE: "named_in_report"}
        hl.answer(REPORTER, "CONFLICT Blake")  # asked outright: both
        assert exclusions(hl) == {BLAKE: "named_in_report", CASEY: "reporter_flagged"}
    finally:
        hl.close()


def test_texts_far_apart_are_read_alone(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone made comments at booth 12, it was Bla")
    hl.clock.advance(minutes=30)
    hl.answer(REPORTER, "ke the bar is closing")
    assert exclusions(hl) == {}


def test_a_responder_who_reports_is_not_excluded_by_their_own_name(hl: Hotline) -> None:
    hl.answer(DANA, "NEW Dana here: someone was grabbed near room 2")
    assert exclusions(hl) == {}
