"""Calls as Twilio runs them: every request signed, every TwiML answer parsed and followed.

A `Leg` is one call leg with the parameters Twilio sends on every request of it; `Call` is
the caller's (inbound) leg, which also rings responders, records voicemail and receives the
later callbacks. Each TwiML answer is kept in `transcript`, in order, as Twilio received it.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tests.harness import ACCOUNT_SID, HOTLINE, PUBLIC_URL, Hotline, PlacedCall


@dataclass
class Answer:
    """One TwiML answer."""

    xml: str
    root: ET.Element

    @classmethod
    def parse(cls, xml: str) -> Answer:
        root = ET.fromstring(xml)
        assert root.tag == "Response", xml
        return cls(xml, root)

    @property
    def verbs(self) -> list[str]:
        return [el.tag for el in self.root]

    @property
    def said(self) -> str:
        return " ".join((el.text or "") for el in self.root.iter("Say"))

    def one(self, tag: str) -> ET.Element:
        found = self.root.findall(f".//{tag}")
        assert len(found) == 1, f"expected one <{tag}> in {self.xml}"
        return found[0]

    @property
    def hangs_up(self) -> bool:
        return self.verbs[-1:] == ["Hangup"]


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


@dataclass
class Leg:
    """One call leg: the parameters Twilio sends with each of its requests."""

    hl: Hotline
    params: dict[str, str]
    transcript: list[Answer] = field(default_factory=list)

    @property
    def sid(self) -> str:
        return self.params["CallSid"]

    def fetch(self, url: str, **extra: str) -> Answer:
        """POST to a URL from TwiML, signed as Twilio signs it, and parse the answer."""
        assert url.startswith(PUBLIC_URL + "/twilio/"), url
        response = self.hl.post(url.removeprefix(PUBLIC_URL), {**self.params, **extra})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        answer = Answer.parse(response.text)
        self.transcript.append(answer)
        return answer

    def press(self, answer: Answer, digits: str | None) -> Answer | None:
        """At the answer's <Gather>: key in `digits`, or let it time out. On a time-out,
        Twilio requests the action anyway when actionOnEmptyResult is set, else goes on
        with the next verb: a <Redirect> is followed, a <Hangup> ends the leg (None)."""
        gather = answer.one("Gather")
        action = gather.get("action") or ""
        if digits is not None:
            return self.fetch(action, Digits=digits)
        if gather.get("actionOnEmptyResult") == "true":
            return self.fetch(action)
        after = list(answer.root)[list(answer.root).index(gather) + 1 :]
        for verb in after:
            if verb.tag == "Redirect":
                return self.fetch(verb.text or "")
            if verb.tag == "Hangup":
                return None
        return None


@dataclass
class Dial:
    """A <Dial> as Twilio reads it."""

    caller_id: str
    action: str
    timeout: str
    answer_on_bridge: str
    numbers: list[str]
    screen_urls: list[str]
    leg_status_urls: list[str]


@dataclass
class Call(Leg):
    """The caller's leg of an inbound call to the hotline."""

    @classmethod
    def to_hotline(cls, hl: Hotline, caller: str, *, call_sid: str | None = None) -> Call:
        params = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": call_sid or sid("CA"),
            "From": caller,
            "To": HOTLINE,
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        return cls(hl, params)

    def dial_in(self) -> Answer:
        answer = self.fetch(f"{PUBLIC_URL}/twilio/voice")
        self.params["CallStatus"] = "in-progress"
        return answer

    @staticmethod
    def dial(answer: Answer) -> Dial:
        dial = answer.one("Dial")
        numbers = dial.findall("Number")
        return Dial(
            caller_id=dial.get("callerId", ""),
            action=dial.get("action", ""),
            timeout=dial.get("timeout", ""),
            answer_on_bridge=dial.get("answerOnBridge", ""),
            numbers=[(n.text or "").strip() for n in numbers],
            screen_urls=[n.get("url", "") for n in numbers],
            leg_status_urls=[n.get("statusCallback", "") for n in numbers],
        )

    def answered_by(self, dial: Dial, phone: str) -> tuple[Leg, Answer]:
        """The responder at `phone` picks up: Twilio runs the <Number url> on their leg."""
        index = dial.numbers.index(phone)
        leg = Leg(
            self.hl,
            {
                "AccountSid": ACCOUNT_SID,
                "CallSid": sid("CA"),
                "ParentCallSid": self.sid,
                "From": dial.caller_id,
                "To": phone,
                "Direction": "outbound-dial",
                "CallStatus": "in-progress",
            },
        )
        return leg, leg.fetch(dial.screen_urls[index])

    def leg_ended(self, dial: Dial, phone: str, status: str, leg_sid: str | None = None) -> None:
        """The <Number statusCallback> for a rung leg that ended."""
        index = dial.numbers.index(phone)
        params = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": leg_sid or sid("CA"),
            "ParentCallSid": self.sid,
            "From": dial.caller_id,
            "To": phone,
            "CallStatus": status,
            "CallDuration": "0",
        }
        url = dial.leg_status_urls[index]
        assert self.hl.post(url.removeprefix(PUBLIC_URL), params).status_code == 200

    def dial_ends(self, dial: Dial, status: str) -> Answer:
        return self.fetch(dial.action, DialCallStatus=status, DialCallSid=sid("CA"))

    def leave_voicemail(self, answer: Answer, seconds: int = 14) -> tuple[Answer, dict[str, str]]:
        """Speak after the tone and hang up: Twilio requests the <Record action>."""
        recording = self.recording(seconds)
        return self.fetch(answer.one("Record").get("action", ""), **recording), recording

    def recording(self, seconds: int = 14) -> dict[str, str]:
        rec_sid = sid("RE")
        return {
            "RecordingSid": rec_sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
            f"/Recordings/{rec_sid}",
            "RecordingDuration": str(seconds),
        }

    def recording_status(self, answer: Answer, recording: dict[str, str], status: str) -> None:
        url = answer.one("Record").get("recordingStatusCallback", "")
        params = {**self.params, **recording, "RecordingStatus": status}
        assert self.hl.post(url.removeprefix(PUBLIC_URL), params).status_code == 200

    def transcribed(
        self, answer: Answer, recording: dict[str, str], text: str, *, status: str = "completed"
    ) -> None:
        url = answer.one("Record").get("transcribeCallback", "")
        params = {
            **self.params,
            **recording,
            "TranscriptionSid": sid("TR"),
            "TranscriptionStatus": status,
            "TranscriptionText": text,
        }
        assert self.hl.post(url.removeprefix(PUBLIC_URL), params).status_code == 200


def picked_up(hl: Hotline, placed: PlacedCall) -> tuple[Leg, Answer]:
    """A call the service placed (a voice page) is answered: Twilio fetches its Url."""
    leg = Leg(
        hl,
        {
            "AccountSid": ACCOUNT_SID,
            "CallSid": placed.sid,
            "From": placed.sender,
            "To": placed.to,
            "Direction": "outbound-api",
            "CallStatus": "in-progress",
        },
    )
    return leg, leg.fetch(placed.url)


def call_status(hl: Hotline, placed: PlacedCall, status: str, **extra: str) -> None:
    """A status callback for a call the service placed."""
    params = {"AccountSid": ACCOUNT_SID, "CallSid": placed.sid, "CallStatus": status, **extra}
    assert placed.status_callback is not None
    path = placed.status_callback.removeprefix(PUBLIC_URL)
    assert hl.post(path, params).status_code == 200
