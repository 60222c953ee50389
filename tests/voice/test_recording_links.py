"""Voicemail recordings reach people only through the service: a short-lived link bound to
one responder (or API token), refused once they may no longer hear about the case, that
streams the recording fetched from Twilio with the account's credentials."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from tests.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BLAKE,
    CASEY,
    PUBLIC_URL,
    REPORTER,
    TWILIO_BASE,
    Hotline,
)
from tests.voice.phone import Call, picked_up
from tests.web.conftest import Api

LINK = re.compile(re.escape(PUBLIC_URL) + r"(/recordings/[A-Za-z0-9._\-]+)")
AUDIO = b"ID3 fake mp3 bytes of a voicemail"


@pytest.fixture
def api(hl: Hotline) -> Api:
    return Api(hl)


class TwilioMedia:
    """Twilio's recording URLs with "HTTP auth for media" on: the account's Basic auth only."""

    def __init__(self, hl: Hotline) -> None:
        self.fetched: list[str] = []
        hl.respx.get(url__regex=rf"^{re.escape(TWILIO_BASE)}/.*/Recordings/RE\w+\.mp3$").mock(
            side_effect=self.answer
        )

    def answer(self, request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, json={"code": 20003, "message": "Authenticate"})
        self.fetched.append(request.url.path)
        return httpx.Response(200, content=AUDIO, headers={"content-type": "audio/mpeg"})


def voicemail_paged_to_all_leads(hl: Hotline) -> tuple[dict[str, str], dict[str, str]]:
    """Nobody answers a call; the voicemail is left; tier 2 pages every lead with a link.
    Returns the recording Twilio reported and each lead's link path."""
    call = Call.to_hotline(hl, REPORTER)
    ringing = call.press(call.dial_in(), None)
    assert ringing is not None
    hl.run()
    offer = call.dial_ends(call.dial(ringing), "no-answer")
    _, recording = call.leave_voicemail(offer)
    tier2 = hl.after(minutes=5)
    links = {}
    for m in tier2:
        found = LINK.search(m.body)
        assert found, m.body
        links[m.to] = found.group(1)
    assert "twilio.com" not in " ".join(m.body for m in tier2)
    return recording, links


def test_recording_link_streams_the_recording_fetched_with_the_accounts_credentials(
    hl: Hotline,
) -> None:
    media = TwilioMedia(hl)
    recording, links = voicemail_paged_to_all_leads(hl)
    assert len(set(links.values())) == len(links)  # one link per responder
    answer = hl.client.get(links[BLAKE])
    assert answer.status_code == 200, answer.text
    assert answer.content == AUDIO and answer.headers["content-type"] == "audio/mpeg"
    assert media.fetched == [
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording['RecordingSid']}.mp3"
    ]


def test_recording_link_is_refused_after_exclusion(hl: Hotline) -> None:
    media = TwilioMedia(hl)
    _, links = voicemail_paged_to_all_leads(hl)
    hl.answer(REPORTER, "CONFLICT Blake Rivera")
    assert hl.client.get(links[BLAKE]).status_code == 404
    assert hl.client.get(links[CASEY]).status_code == 200  # still on the case
    assert len(media.fetched) == 1  # Twilio was never asked for Blake


def test_recording_link_is_bound_to_one_responder_and_cannot_be_altered(hl: Hotline) -> None:
    TwilioMedia(hl)
    _, links = voicemail_paged_to_all_leads(hl)
    recording_id, bearer, expires, signature = links[BLAKE].rsplit("/", 1)[1].split(".")
    for forged in (
        f"{recording_id}.r1.{expires}.{signature}",  # someone else's
        f"{recording_id}.{bearer}.{int(expires) + 86400}.{signature}",  # a longer life
        f"{int(recording_id) + 1}.{bearer}.{expires}.{signature}",  # another recording
        "not-a-token",
    ):
        assert hl.client.get(f"/recordings/{forged}").status_code == 404, forged


def test_recording_link_expires_within_the_hour(hl: Hotline) -> None:
    TwilioMedia(hl)
    _, links = voicemail_paged_to_all_leads(hl)
    hl.clock.advance(minutes=61)
    assert hl.client.get(links[BLAKE]).status_code == 410


def test_api_shows_a_link_bound_to_the_token_never_twilios_url(hl: Hotline, api: Api) -> None:
    media = TwilioMedia(hl)
    recording, _ = voicemail_paged_to_all_leads(hl)
    chair = api.token("chair", name="Chair")
    blake = api.token("responder", responder=BLAKE, name="Blake")
    detail = api.ok("/api/cases/1", chair)
    body = " ".join(m["body"] for m in detail["messages"])
    assert recording["RecordingUrl"] not in body and "twilio.com" not in body
    chair_link = LINK.search(body)
    assert chair_link
    blakes = LINK.search(" ".join(m["body"] for m in api.ok("/api/cases/1", blake)["messages"]))
    assert blakes and blakes.group(1) != chair_link.group(1)
    assert hl.client.get(chair_link.group(1)).status_code == 200
    hl.answer(REPORTER, "it was Blake Rivera")
    assert api.get("/api/cases/1", blake).status_code == 404
    assert hl.client.get(blakes.group(1)).status_code == 404
    assert hl.client.get(chair_link.group(1)).status_code == 200
    assert len(media.fetched) == 2


def test_a_voice_page_plays_the_voicemail_through_a_link_of_its_own(hl: Hotline) -> None:
    media = TwilioMedia(hl)
    call = Call.to_hotline(hl, REPORTER)
    ringing = call.press(call.dial_in(), None)
    assert ringing is not None
    hl.run()
    offer = call.dial_ends(call.dial(ringing), "no-answer")
    call.leave_voicemail(offer)
    hl.twilio.fail_next(400, code=21610)  # the first lead of tier 2 opted out: called instead
    hl.after(minutes=5)
    (placed,) = hl.twilio.take_calls()
    leg, prompt = picked_up(hl, placed)
    assert not list(prompt.root.iter("Play"))  # nothing of the case before a person presses 1
    page = leg.press(prompt, "1")
    assert page is not None
    (played,) = [el.text or "" for el in page.root.iter("Play")]
    assert played.startswith(f"{PUBLIC_URL}/recordings/") and "twilio.com" not in page.xml
    assert "a voicemail" in page.said
    assert hl.client.get(played.removeprefix(PUBLIC_URL)).content == AUDIO
    assert len(media.fetched) == 1
