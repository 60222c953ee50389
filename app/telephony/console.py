"""The offline transport: pages are printed and recorded, nothing leaves the machine.

Used for demos and development (HOTLINE_TRANSPORT=console) and by tests that want to see
what would have been sent without mocking HTTP.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import TextIO

from app.telephony.transport import SendError, Sent

__all__ = ["ConsoleTransport"]


def _one_line(text: str) -> str:
    """Escape line breaks so each message stays on one output line."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class ConsoleTransport:
    """`Transport` that writes one line per message to `out` and keeps a list of them.

    `sent` holds (kind, to, from_, body or url) tuples, kind being "sms" or "call", in the order
    they were sent. It always "succeeds", with status "sent"; no status callback ever comes.
    """

    def __init__(self, out: TextIO | None = None) -> None:
        # Resolved at call time, not import time, so pytest's capsys/capfd see the output.
        self._out = out
        self._lock = threading.Lock()
        self.sent: list[tuple[str, str, str, str]] = []

    @property
    def out(self) -> TextIO:
        """Where lines go: the stream given, else the current `sys.stdout`."""
        return self._out if self._out is not None else sys.stdout

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
        """Record and print an SMS; returns a fresh SM... SID."""
        return self._emit("sms", "SMS", "SM", to, from_, body)

    def place_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str | None,
        timeout: int | None = None,
    ) -> Sent:
        """Record and print a call; returns a fresh CA... SID."""
        return self._emit("call", "CALL", "CA", to, from_, url)

    def delete_recording(self, sid: str) -> None:
        """Record and print a recording's deletion (retention)."""
        with self._lock:
            self.out.write(f"[console] DELETE recording {sid}\n")
            self.out.flush()
            self.sent.append(("delete_recording", "", "", sid))

    def stream_media(self, url: str) -> tuple[str, object]:
        """Nothing was recorded at Twilio in an offline demo."""
        raise SendError(
            "recording not fetched: the console transport reaches no Twilio", retryable=False
        )

    def close(self) -> None:
        """Nothing to release; present so callers can close any transport."""

    def _emit(self, kind: str, label: str, prefix: str, to: str, from_: str, text: str) -> Sent:
        sid = prefix + uuid.uuid4().hex
        with self._lock:  # one whole line per message, list order matches output order
            out = self.out
            out.write(f"[console] {label} {from_} -> {to}: {_one_line(text)}\n")
            out.flush()
            self.sent.append((kind, to, from_, text))
        return Sent(sid=sid, status="sent")
