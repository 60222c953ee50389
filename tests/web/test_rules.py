"""The API's pure rules: who sees what, the hash chain, record diffs, cursors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi import HTTPException
from hypothesis import given
from hypothesis import strategies as st

from app.api import decode_cursor, encode_cursor
from app.audit import chain
from app.auth.access import (
    Caller,
    mask_phone,
    may_edit,
    may_see_case,
    may_see_caseless_events,
    sees_reporter_identity,
)
from app.casework.events import _spreadsheet_safe
from app.casework.queries import unreachable_warnings
from app.casework.record import changes, in_zone

CHAIR = Caller(1, "chair", "chair")
ADMIN = Caller(2, "admin", "admin")
AVERY_RESPONDER = Caller(3, "avery", "responder", frozenset({11, 21}))  # two hotlines
EMERY_CHAIR = Caller(4, "emery", "chair", frozenset({15}))


class TestWhoSeesACase:
    def test_chair_and_admin_read_every_case_nobody_excluded_them_from(self) -> None:
        assert may_see_case(CHAIR, excluded={11, 15}, involved=set())
        assert may_see_case(ADMIN, excluded=set(), involved=set())

    def test_a_conflicted_chair_sees_no_trace_of_the_case(self) -> None:
        assert not may_see_case(EMERY_CHAIR, excluded={15}, involved={15})
        assert may_see_case(EMERY_CHAIR, excluded={11}, involved=set())

    def test_a_responder_reads_only_cases_they_were_involved_in(self) -> None:
        assert may_see_case(AVERY_RESPONDER, excluded=set(), involved={11})
        assert not may_see_case(AVERY_RESPONDER, excluded=set(), involved={12, 13})

    def test_an_exclusion_on_any_hotline_of_the_phone_counts(self) -> None:
        # Avery is responder 11 on one hotline and 21 on another.
        assert not may_see_case(AVERY_RESPONDER, excluded={21}, involved={11})

    def test_only_organizers_edit_and_see_caseless_events(self) -> None:
        assert may_edit(CHAIR) and may_edit(ADMIN) and not may_edit(AVERY_RESPONDER)
        assert may_see_caseless_events(EMERY_CHAIR)
        assert not may_see_caseless_events(AVERY_RESPONDER)

    def test_an_anonymous_reporter_is_named_to_organizers_only(self) -> None:
        assert sees_reporter_identity(CHAIR, reporter_anonymous=True)
        assert not sees_reporter_identity(AVERY_RESPONDER, reporter_anonymous=True)
        assert sees_reporter_identity(AVERY_RESPONDER, reporter_anonymous=False)

    def test_the_reporter_number_shows_four_digits_at_most(self) -> None:
        assert mask_phone("+15555550150") == "•••• 0150"
        assert mask_phone("anonymous") == "••••"

    def test_the_log_names_a_token_by_name_and_role(self) -> None:
        assert Caller(5, "Chair laptop", "chair").actor == "Chair laptop (chair)"


AT = datetime(2026, 5, 11, 16, 0, tzinfo=UTC)


KEY = b"audit-key-for-the-rules-tests"


def chain_of(
    *details: dict[str, object], case_id: int | None = 1, key: bytes | None = KEY
) -> list[chain.Stored]:
    """A chain as record() writes it: private parts apart, linked with `key` (None: the
    unkeyed SHA-256 of chains before migration 0006)."""
    events, prev = [], chain.GENESIS
    for seq, detail in enumerate(details, start=1):
        at = AT + timedelta(seconds=seq)
        public, private = chain.split(detail)
        sealed = chain.private_digest(key or b"", private) if private else None
        content = chain.canonical(case_id, at, "t", "system", public, sealed)
        digest = chain.link(prev, content) if key is None else chain.keyed_link(key, prev, content)
        events.append(
            chain.Stored(
                100 + seq, case_id, seq, digest, at, "t", "system", public, sealed, private
            )
        )
        prev = digest
    return events


class TestHashChain:
    def test_canonical_content_ignores_key_order_and_time_zone(self) -> None:
        plus_two = timezone(timedelta(hours=2))
        a = chain.canonical(1, AT, "t", "x", {"a": 1, "b": [1, 2]})
        b = chain.canonical(1, AT.astimezone(plus_two), "t", "x", {"b": [1, 2], "a": 1})
        assert a == b

    def test_an_intact_chain_verifies_and_reports_its_head(self) -> None:
        events = chain_of({"n": 1}, {"n": 2}, {"n": 3})
        verdict = chain.verify(events, KEY)
        assert verdict.broken is None and verdict.events == 3
        assert verdict.head == events[-1].hash

    def test_an_edited_detail_breaks_the_chain_at_that_event(self) -> None:
        events = chain_of({"n": 1}, {"n": 2}, {"n": 3})
        events[1] = replace(events[1], detail={"n": 20})
        broken = chain.verify(events, KEY).broken
        assert broken is not None and broken.event_id == 102
        assert "edited" in broken.problem

    def test_a_deleted_event_is_reported_where_it_is_missing(self) -> None:
        events = chain_of({"n": 1}, {"n": 2}, {"n": 3})
        broken = chain.verify([events[0], events[2]], KEY).broken
        assert broken is not None and broken.event_id == 103
        assert broken.problem == "the event with seq 2 before it is missing (deleted)"
        broken = chain.verify([events[2]], KEY).broken
        assert broken is not None
        assert broken.problem == "the events with seq 1 to 2 before it are missing (deleted)"

    def test_a_renumbered_chain_still_breaks(self) -> None:
        events = chain_of({"n": 1}, {"n": 2}, {"n": 3})
        renumbered = [events[0], replace(events[2], seq=2)]
        broken = chain.verify(renumbered, KEY).broken
        assert broken is not None and broken.event_id == 103

    def test_an_event_moved_to_another_case_breaks_both_chains(self) -> None:
        events = chain_of({"n": 1}, {"n": 2})
        moved = replace(events[1], case_id=2, seq=1)
        assert chain.verify([moved], KEY).broken is not None

    def test_the_break_reads_as_a_sentence(self) -> None:
        events = chain_of({"n": 1})
        events[0] = replace(events[0], actor="someone else")
        assert str(chain.verify(events, KEY).broken) == (
            "case 1: broken at event 101 (seq 1, t): its content does not match its hash "
            "(edited after it was written, or re-hashed without the audit key)"
        )

    def test_a_chain_re_hashed_without_the_audit_key_breaks_at_the_edit(self) -> None:
        events = chain_of({"n": 1}, {"n": 2}, {"n": 3})
        forged = chain_of({"n": 1}, {"n": 2}, {"n": 3}, key=b"what the code would guess")
        assert chain.verify(forged, KEY).broken is not None
        unkeyed = chain_of({"n": 1}, {"n": 2}, {"n": 3}, key=None)
        broken = chain.verify(unkeyed, KEY).broken
        assert broken is not None and broken.event_id == 101
        assert chain.verify(events, KEY).broken is None

    def test_what_people_wrote_is_kept_apart_and_covered_by_its_digest(self) -> None:
        events = chain_of({"note_id": 1, "text": "Red hoodie at booth 12"})
        assert events[0].detail == {"note_id": 1}
        assert b"hoodie" not in chain.canonical(1, AT, "t", "x", events[0].detail)
        edited = replace(events[0], private={"text": "nothing happened"})
        broken = chain.verify([edited], KEY).broken
        assert broken is not None and "private part" in broken.problem

    def test_a_private_part_erased_without_a_retention_event_breaks_the_chain(self) -> None:
        events = chain_of({"text": "words"}, {"n": 2})
        erased = [replace(events[0], private=None), events[1]]
        broken = chain.verify(erased, KEY).broken
        assert broken is not None and broken.event_id == 101
        assert "no contents_erased event" in broken.problem

    def test_a_private_part_erased_by_retention_still_verifies(self) -> None:
        (first,) = chain_of({"text": "words"})
        closing = chain_of({"text": "words"}, {"erased": ["notes"]})[1]
        closing = replace(closing, type=chain.ERASED)
        # re-link the closing event as a contents_erased one
        content = chain.canonical(1, closing.at, chain.ERASED, "system", closing.detail)
        closing = replace(closing, hash=chain.keyed_link(KEY, first.hash, content))
        assert chain.verify([replace(first, private=None), closing], KEY).broken is None

    @given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5)))
    def test_any_json_detail_round_trips_to_the_same_hash(self, detail: dict) -> None:
        import json

        again = json.loads(json.dumps(detail))
        assert chain.canonical(None, AT, "t", "a", detail) == chain.canonical(
            None, AT, "t", "a", again
        )


class TestRecordChanges:
    def test_only_real_changes_are_logged_with_old_and_new(self) -> None:
        old = {"location": "Booth 12", "witnesses": None}
        new = {"location": "Booth 12", "witnesses": "Two volunteers"}
        assert changes(old, new) == {"witnesses": {"old": None, "new": "Two volunteers"}}

    def test_times_are_logged_as_iso_text(self) -> None:
        assert changes({}, {"incident_at": AT}) == {
            "incident_at": {"old": None, "new": "2026-05-11T16:00:00+00:00"}
        }

    def test_a_time_without_offset_is_the_hotlines_local_time(self) -> None:
        local = datetime(2026, 5, 11, 12, 0)
        assert in_zone(local, "America/New_York") == AT
        assert in_zone(AT, "Europe/Paris") == AT


class TestCursor:
    def test_round_trip(self) -> None:
        assert decode_cursor(encode_cursor(AT, 42)) == (AT, 42)

    @pytest.mark.parametrize("bad", ["x", "WzFd", "bnVsbA", "W1siYSJdLDFd", "!!!!"])
    def test_anything_else_is_a_400(self, bad: str) -> None:
        with pytest.raises(HTTPException) as error:
            decode_cursor(bad)
        assert error.value.status_code == 400


def test_only_responders_sms_cannot_reach_are_warned_about() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    at = datetime(2026, 5, 11, 16, 5, tzinfo=UTC)
    responders = [
        SimpleNamespace(name="Avery Quinn", sms_unreachable_at=at, sms_unreachable_reason="x"),
        SimpleNamespace(name="Blake Rivera", sms_unreachable_at=None, sms_unreachable_reason=None),
    ]
    (warning,) = unreachable_warnings(responders)
    assert warning.startswith("Avery Quinn cannot be reached by SMS since 2026-05-11 16:05 UTC")


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)"])
def test_csv_cells_that_spreadsheets_would_run_are_defused(cell: str) -> None:
    assert _spreadsheet_safe(cell) == "'" + cell
    assert _spreadsheet_safe("Avery Quinn") == "Avery Quinn"
