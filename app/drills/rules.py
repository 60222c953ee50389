"""What a drill check came to: pure, from plain data and `now`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

ANSWERED = "answered"
TEXT_FAILED = "text failed"
CALL_FAILED = "call failed"
NO_ANSWER = "no answer"
WAITING = "waiting"

TEXT_FAILURES = ("failed", "undelivered")
CALL_FAILURES = ("busy", "no-answer", "failed", "canceled")
_CODE = re.compile(r"code (\d+)")


@dataclass(frozen=True, slots=True)
class CheckState:
    name: str
    role: str
    result: str  # answered | text failed | call failed | no answer | waiting
    answered_at: datetime | None
    answered_via: str | None
    late: bool  # answered after the deadline
    text_status: str | None
    call_status: str | None
    error_code: str | None  # Twilio's, for a failed text (else a failed call)
    error: str | None
    verified: bool  # their current number has answered a drill or verification


def error_code(error: str | None) -> str | None:
    """Twilio's error code as the outbox row's error records it ("... (code 21211)")."""
    found = _CODE.search(error or "")
    return found.group(1) if found else None


def check_result(
    *,
    name: str,
    role: str,
    answered_at: datetime | None,
    answered_via: str | None,
    text_status: str | None,
    text_error: str | None,
    call_status: str | None,
    call_error: str | None,
    deadline: datetime,
    now: datetime,
    verified: bool,
) -> CheckState:
    """An answer wins; else a failed text (then a failed call) with Twilio's error; else
    silence is 'no answer' once the deadline has passed, 'waiting' before."""
    error = None
    if answered_at is not None:
        result = ANSWERED
    elif text_status in TEXT_FAILURES:
        result, error = TEXT_FAILED, text_error
    elif call_status in CALL_FAILURES and text_status is None:
        result, error = CALL_FAILED, call_error
    elif now >= deadline:
        result = NO_ANSWER
        if call_status in CALL_FAILURES:
            error = call_error
    else:
        result = WAITING
    return CheckState(
        name=name,
        role=role,
        result=result,
        answered_at=answered_at,
        answered_via=answered_via,
        late=answered_at is not None and answered_at > deadline,
        text_status=text_status,
        call_status=call_status,
        error_code=error_code(error),
        error=error,
        verified=verified,
    )
