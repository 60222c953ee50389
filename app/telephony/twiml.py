"""TwiML for each step of a call, and a text's answer, built from plain data: no session,
no request, no clock.

The handlers decide what happens; these functions only say it in Twilio's words, so every
answer can be read (and tested) without running a call. URLs are absolute, built on the
public URL, because that is what Twilio requests and signs.
"""

from __future__ import annotations

from collections.abc import Sequence

from twilio.twiml.voice_response import VoiceResponse

GREETING_SECONDS = 4  # to press 2 after the greeting; silence rings the leads
RING_SECONDS = 25  # before a responder's own voicemail usually answers
SCREEN_SECONDS = 6  # for a responder to press 1
PAGE_SECONDS = 8  # for a called responder to press 1 after the page is read
# Twilio transcribes only recordings shorter than 120 s: a full-length one would get none.
VOICEMAIL_SECONDS = 115


_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_CDATA = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def message(text: str) -> str:
    """A text back to the sender: what twilio's MessagingResponse with one message gives,
    byte for byte, written directly (an element tree and its serializer cost several times
    as much, on every text the webhook answers)."""
    if not text:
        return f"{_DECLARATION}<Response><Message /></Response>"
    return f"{_DECLARATION}<Response><Message>{text.translate(_CDATA)}</Message></Response>"


def hang_up(text: str | None = None) -> str:
    response = VoiceResponse()
    if text:
        response.say(text)
    response.hangup()
    return str(response)


def prefixed(text: str, answer: str) -> str:
    """The same TwiML answer with something said first."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(answer)
    say = ElementTree.Element("Say")
    say.text = text
    root.insert(0, say)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root, encoding="unicode")


def say(text: str) -> str:
    """Say something and let the call go on: on a screened leg, ending here bridges it."""
    response = VoiceResponse()
    response.say(text)
    return str(response)


def greeting(text: str, choice_url: str) -> str:
    """Greet and wait a moment for a 2; without input the call goes on to the same choice."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, timeout=GREETING_SECONDS, action=choice_url, method="POST"
    )
    gather.say(text)
    response.redirect(choice_url, method="POST")
    return str(response)


def dial(
    *,
    caller_id: str,
    numbers: Sequence[str],
    screen_url: str,
    leg_status_url: str,
    action_url: str,
    intro: str | None = None,
) -> str:
    """Ring every number at once. `caller_id` is the hotline's number, so a responder never
    sees the caller's; each leg is screened, so a voicemail that answers is not connected."""
    response = VoiceResponse()
    if intro:
        response.say(intro)
    dial = response.dial(
        caller_id=caller_id,
        answer_on_bridge=True,
        timeout=RING_SECONDS,
        action=action_url,
        method="POST",
    )
    for phone in numbers:
        dial.number(
            phone,
            url=screen_url,
            method="POST",
            status_callback=leg_status_url,
            status_callback_event="completed",
            status_callback_method="POST",
        )
    return str(response)


def screen(text: str, action_url: str) -> str:
    """Ask the answering responder to press 1. The action is requested even without input,
    so a leg answered but not accepted is logged before it is hung up."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1,
        timeout=SCREEN_SECONDS,
        action=action_url,
        method="POST",
        action_on_empty_result=True,
    )
    gather.say(text)
    response.hangup()
    return str(response)


def voicemail(
    text: str, *, action_url: str, recording_status_url: str, transcription_url: str, after: str
) -> str:
    """Tell the caller they are recorded, then record; `after` is said when nothing was."""
    response = VoiceResponse()
    response.say(text)
    response.record(
        max_length=VOICEMAIL_SECONDS,
        play_beep=True,
        action=action_url,
        method="POST",
        recording_status_callback=recording_status_url,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent",
        transcribe=True,
        transcribe_callback=transcription_url,
    )
    response.say(after)
    response.hangup()
    return str(response)


def page_prompt(text: str, action_url: str) -> str:
    """The start of a paging call: only a person who presses 1 hears the page, so an
    answering machine records nothing about the case (docs/adr/0009-paging-calls.md)."""
    return page(text, action_url)


def page(text: str, action_url: str, play: Sequence[str] = ()) -> str:
    """A page read out to a responder, twice, with 1 to take the case; `play` are the
    voicemails it quotes (links to this service), played after it."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1,
        timeout=PAGE_SECONDS,
        action=action_url,
        method="POST",
        action_on_empty_result=True,
    )
    gather.say(text, loop=2)
    for url in play:
        gather.play(url)
    response.hangup()
    return str(response)
