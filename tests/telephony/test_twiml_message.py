"""The SMS answer is written without a tree: byte for byte what twilio's MessagingResponse
gives, whatever the text holds."""

from __future__ import annotations

import pytest
from twilio.twiml.messaging_response import MessagingResponse

from app.telephony.twiml import message
from app.wording import fit_sms


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Thanks, we got your report (case 1234). A responder will text you back.",
        "a & b < c > d \"quoted\" 'single' &amp; already escaped",
        "line one\nline two\r\n\ttabbed   spaced ",
        "Ünïcödé 日本語 emoji 🚨 and a right-to-left مرحبا",
        "]]> <![CDATA[ not cdata ]]>",
        "<Message>nested</Message></Response>",
        fit_sms("long " * 400),
    ],
)
def test_message_is_what_messaging_response_gives(text: str) -> None:
    reply = MessagingResponse()
    reply.message(text)
    assert message(text) == str(reply)
