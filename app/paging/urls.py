"""Where Twilio reaches each step of a call: absolute URLs on the public URL, since that is
what Twilio requests and what its signature covers.

The case number travels in the query: Twilio signs the whole URL, so it cannot be forged.
"""

from __future__ import annotations

from dataclasses import dataclass

VOICE = "/twilio/voice"


@dataclass(frozen=True, slots=True)
class CallUrls:
    """The steps of one inbound call about one case."""

    base: str
    case: int
    joined: bool = False  # the caller's open case, which the call joins unless they press 2

    def _step(self, step: str) -> str:
        return f"{self.base}{VOICE}/{step}?case={self.case}"

    @property
    def choice(self) -> str:
        return self._step("choice") + ("&joined=1" if self.joined else "")

    @property
    def screen(self) -> str:
        return self._step("screen")

    @property
    def screen_result(self) -> str:
        return self._step("screen-result")

    @property
    def leg_status(self) -> str:
        return self._step("leg")

    @property
    def dial_result(self) -> str:
        return self._step("dial-result")

    @property
    def recorded(self) -> str:
        return self._step("recorded")

    @property
    def recording_status(self) -> str:
        return self._step("recording")

    @property
    def transcription(self) -> str:
        return self._step("transcription")


def page_url(base: str, outbound_id: int) -> str:
    """The TwiML of a call that reads a page to a responder."""
    return f"{base}{VOICE}/page/{outbound_id}"


def page_listen_url(base: str, outbound_id: int) -> str:
    """Where the answer to the paging call's first question (press 1 to hear it) goes."""
    return f"{page_url(base, outbound_id)}/listen"


def page_choice_url(base: str, outbound_id: int) -> str:
    return f"{page_url(base, outbound_id)}/choice"


def drill_call_url(base: str, outbound_id: int) -> str:
    """The TwiML of a drill's test call (app.drills): press 1 to confirm."""
    return f"{base}{VOICE}/drill/{outbound_id}"


def drill_choice_url(base: str, outbound_id: int) -> str:
    return f"{drill_call_url(base, outbound_id)}/choice"
