"""What a drill check came to, from plain data: an answer wins, then a failed text, then
silence, which is 'waiting' until the deadline and 'no answer' after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.drills.rules import check_result, error_code

DEADLINE = datetime(2026, 5, 10, 9, 15, tzinfo=UTC)


def result(**kw: object) -> tuple[str, str | None, bool]:
    args: dict = {
        "name": "Avery",
        "role": "lead",
        "answered_at": None,
        "answered_via": None,
        "text_status": "delivered",
        "text_error": None,
        "call_status": None,
        "call_error": None,
        "deadline": DEADLINE,
        "now": DEADLINE - timedelta(minutes=1),
        "verified": False,
    }
    args.update(kw)
    state = check_result(**args)
    return state.result, state.error_code, state.late


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ("waiting", None, False)),
        ({"now": DEADLINE}, ("no answer", None, False)),
        ({"answered_at": DEADLINE, "now": DEADLINE}, ("answered", None, False)),
        ({"answered_at": DEADLINE + timedelta(seconds=1)}, ("answered", None, True)),
        (
            {"text_status": "failed", "text_error": "invalid 'To' number (code 21211)"},
            ("text failed", "21211", False),
        ),
        (
            {"text_status": "undelivered", "text_error": "undelivered (code 30003)"},
            ("text failed", "30003", False),
        ),
        (
            {"text_status": "failed", "answered_at": DEADLINE},  # answered by call after all
            ("answered", None, False),
        ),
        (
            {"call_status": "no-answer", "call_error": "no-answer", "now": DEADLINE},
            ("no answer", None, False),
        ),
        (
            {"text_status": None, "call_status": "failed", "call_error": "failed (code 13224)"},
            ("call failed", "13224", False),
        ),
    ],
)
def test_a_check_comes_to_one_result(given: dict, expected: tuple) -> None:
    assert result(**given) == expected


def test_the_error_code_is_read_from_the_recorded_error() -> None:
    assert error_code("opted out (code 21610)") == "21610"
    assert error_code("undelivered") is None
    assert error_code(None) is None
