"""The seam between paging logic and whatever delivers SMS and calls.

Paging code depends only on `Transport`, so the Twilio REST transport and the offline console
transport are interchangeable, and failures arrive as one exception type (`SendError`) that
says whether trying again can help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["SendError", "Sent", "Transport"]


@dataclass(frozen=True, slots=True)
class Sent:
    """What the provider answered for an accepted message or call.

    `sid` is the provider's id (status callbacks quote it); `status` is the initial status,
    e.g. "queued" (Twilio sends no callback for that first status).
    """

    sid: str
    status: str


class SendError(Exception):
    """A message or call the provider did not accept.

    `retryable` tells the dispatcher whether trying again later can succeed (5xx, 429,
    timeouts, connection errors) or not (opted out, invalid number, ...). `code` is the raw
    Twilio error code, kept as is because the meaning of codes may change; `http_status` is the
    HTTP status of the answer, None when there was none. `reason` is short and safe to log: it
    never holds a message body or a phone number.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.code = code
        self.http_status = http_status

    def __repr__(self) -> str:
        return (
            f"SendError(reason={self.reason!r}, retryable={self.retryable!r}, "
            f"code={self.code!r}, http_status={self.http_status!r})"
        )


@runtime_checkable
class Transport(Protocol):
    """Sends SMS and places calls; raises `SendError` when the provider refuses."""

    def send_sms(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        status_callback: str | None,
        validity_period: int | None = None,
        messaging_service_sid: str | None = None,
    ) -> Sent:
        """Send one SMS; `status_callback` is the URL for delivery status updates.

        `validity_period` (seconds) lets the provider drop a message stuck in its queue;
        `messaging_service_sid` sends through that sender pool instead of `from_`.
        """
        ...

    def place_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str | None,
        timeout: int | None = None,
    ) -> Sent:
        """Place one call whose TwiML is fetched from `url` when it is answered; `timeout`
        is how many seconds it rings."""
        ...
