"""What Twilio's answers mean for us: the one place that reads its error codes and statuses.

A refusal of the REST API (an HTTP error with an error code) or a failed delivery report
(a status callback's ErrorCode) is classified here as retry, opted out, unreachable,
expired or permanent; the dispatcher, delivery reports, the reporter's state and the logs
ask this module instead of comparing codes of their own. Codes stay ints here and raw on
`SendError.code`: a code we do not know is simply permanent (or retry, by its HTTP status).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

# Twilio error codes we act on or name in logs (https://www.twilio.com/docs/api/errors).
AUTHENTICATION_FAILED = 20003
TOO_MANY_REQUESTS = 20429
INVALID_TO = 21211
INVALID_FROM = 21212
UNVERIFIED_TO = 21608  # a trial account may only text verified numbers
OPTED_OUT = 21610  # the recipient texted STOP to this sender
QUEUE_FULL = 21611
NOT_SMS_CAPABLE = 21614  # a landline
BODY_TOO_LONG = 21617  # over 1600 characters (app.wording.SMS_MAX_CHARS)
LANDLINE_OR_UNREACHABLE_CARRIER = 30006
VALIDITY_EXPIRED = 30036  # given up in Twilio's queue at its ValidityPeriod

#: Short, log-safe names; never quote Twilio's own text (it may hold a phone number).
LABELS: Mapping[int, str] = {
    AUTHENTICATION_FAILED: "authentication failed",
    TOO_MANY_REQUESTS: "too many requests",
    INVALID_TO: "invalid 'To' number",
    INVALID_FROM: "invalid 'From' number",
    UNVERIFIED_TO: "unverified 'To' number (trial account)",
    OPTED_OUT: "recipient opted out (STOP)",
    QUEUE_FULL: "outbound queue full",
    NOT_SMS_CAPABLE: "'To' number cannot receive SMS",
    BODY_TOO_LONG: "body too long",
    VALIDITY_EXPIRED: "validity period expired",
}

# Message and call statuses that end in failure (a status callback's word).
MESSAGE_FAILED = ("undelivered", "failed")
CALL_FAILED = ("busy", "no-answer", "failed", "canceled")

# Why a number gets no texts from us, as stored on a case and shown in the API.
REASON_OPTED_OUT = "opted_out"
REASON_NOT_A_MOBILE = "not_a_mobile"
REASON_INVALID_NUMBER = "invalid_number"
_NO_TEXTS = {
    INVALID_TO: REASON_INVALID_NUMBER,
    OPTED_OUT: REASON_OPTED_OUT,
    NOT_SMS_CAPABLE: REASON_NOT_A_MOBILE,
    LANDLINE_OR_UNREACHABLE_CARRIER: REASON_NOT_A_MOBILE,
}


class Verdict(StrEnum):
    RETRY = "retry"  # may pass later: 5xx, 429, no answer at all
    OPTED_OUT = "opted_out"  # they texted STOP: no text reaches them until START
    UNREACHABLE = "unreachable"  # invalid number, not a mobile: texts never reach them
    EXPIRED = "expired"  # sat in Twilio's queue too long: says nothing about the reader
    PERMANENT = "permanent"  # any other refusal: trying again fails the same way


def as_code(code: int | str | None) -> int | None:
    """A code as Twilio sends it (int, or text in a callback), None when absent or odd."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code.strip())
    return None


def retryable(http_status: int | None) -> bool:
    """A REST answer worth trying again: none at all, a server error, or rate limiting."""
    return http_status is None or http_status >= 500 or http_status == 429


def refusal(http_status: int | None, code: int | str | None) -> Verdict:
    """What a refused REST request (HTTP status, Twilio error code) means."""
    if retryable(http_status):
        return Verdict.RETRY
    return delivery_failure(code)


def delivery_failure(code: int | str | None) -> Verdict:
    """What a failed or undelivered report's error code says about the recipient."""
    number = as_code(code)
    if number == OPTED_OUT:
        return Verdict.OPTED_OUT
    if number in _NO_TEXTS:
        return Verdict.UNREACHABLE
    if number == VALIDITY_EXPIRED:
        return Verdict.EXPIRED
    return Verdict.PERMANENT


def no_texts_reason(code: int | str | None) -> str | None:
    """Why this code says the number gets no texts from us, None when later texts may pass."""
    number = as_code(code)
    return _NO_TEXTS.get(number) if number is not None else None


def label(code: int | None) -> str | None:
    return LABELS.get(code) if code is not None else None
