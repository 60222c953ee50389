"""How Twilio's refusals and failed delivery reports are read: one classifier."""

from __future__ import annotations

import pytest

from app.telephony import outcomes
from app.telephony.outcomes import Verdict


@pytest.mark.parametrize("status", [None, 500, 502, 503, 429])
def test_no_answer_server_errors_and_rate_limits_are_retried(status: int | None) -> None:
    assert outcomes.refusal(status, outcomes.OPTED_OUT) is Verdict.RETRY


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (outcomes.OPTED_OUT, Verdict.OPTED_OUT),
        (outcomes.INVALID_TO, Verdict.UNREACHABLE),
        (outcomes.NOT_SMS_CAPABLE, Verdict.UNREACHABLE),
        (outcomes.BODY_TOO_LONG, Verdict.PERMANENT),
        (outcomes.AUTHENTICATION_FAILED, Verdict.PERMANENT),
        (None, Verdict.PERMANENT),
        (99999, Verdict.PERMANENT),
    ],
)
def test_a_client_error_is_classified_by_its_code(code: int | None, verdict: Verdict) -> None:
    assert outcomes.refusal(400, code) is verdict


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        ("30006", Verdict.UNREACHABLE),  # callbacks carry codes as text
        (" 30036 ", Verdict.EXPIRED),
        ("21610", Verdict.OPTED_OUT),
        ("30003", Verdict.PERMANENT),
        ("", Verdict.PERMANENT),
        (None, Verdict.PERMANENT),
        ("abc", Verdict.PERMANENT),
    ],
)
def test_a_failed_delivery_report_is_classified_by_its_code(
    code: str | None, verdict: Verdict
) -> None:
    assert outcomes.delivery_failure(code) is verdict


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (21211, "invalid_number"),
        ("21610", "opted_out"),
        (21614, "not_a_mobile"),
        ("30006", "not_a_mobile"),
        (30036, None),  # expired in the queue: says nothing about the number
        (30003, None),
        (None, None),
        (True, None),
    ],
)
def test_only_some_codes_say_a_number_gets_no_texts(code: object, reason: str | None) -> None:
    assert outcomes.no_texts_reason(code) == reason  # type: ignore[arg-type]


def test_labels_name_known_codes_only() -> None:
    assert outcomes.label(outcomes.OPTED_OUT) == "recipient opted out (STOP)"
    assert outcomes.label(12345) is None and outcomes.label(None) is None
