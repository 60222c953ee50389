"""Conformance to Twilio's published API description (twilio_api_v2010.json).

The harness's stand-in validates every request of every scenario test (tests/harness.py);
this module proves the validator itself refuses what the description refuses, and runs one
scenario that makes every kind of request the service sends, listing what was checked.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import respx
from sqlalchemy import select
from twilio.rest import Client

from app.paging.models import Outbound
from app.telephony.twilio_rest import HttpxTwilioClient
from tests import twilio_conformance as conformance
from tests.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    AVERY,
    CALLS_URL,
    HOTLINE,
    MESSAGES_URL,
    REPORTER,
    TWILIO_BASE,
    Hotline,
)

OAI = Path(conformance.SPEC_PATH).parent
CALLBACK = "https://hotline.example.test/twilio/status"
SERVICE_SID = "MG" + "b" * 32


def message(**fields: object) -> list[str]:
    base: dict[str, object] = {
        "To": AVERY,
        "From": HOTLINE,
        "Body": "Case 1",
        "StatusCallback": CALLBACK,
    }
    form = {k: v for k, v in {**base, **fields}.items() if v is not None}
    return conformance.violations("POST", MESSAGES_URL, urlencode(form, doseq=True))


def call(**fields: object) -> list[str]:
    base: dict[str, object] = {
        "To": AVERY,
        "From": HOTLINE,
        "Url": "https://hotline.example.test/twilio/voice/page/1",
        "StatusCallback": CALLBACK,
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "Timeout": 25,
    }
    form = {k: v for k, v in {**base, **fields}.items() if v is not None}
    return conformance.violations("POST", CALLS_URL, urlencode(form, doseq=True))


def test_the_description_is_kept_with_its_licence_and_provenance() -> None:
    spec = json.loads(conformance.SPEC_PATH.read_text())
    assert "MIT License" in (OAI / "LICENSE").read_text()
    assert set(spec["paths"]) == {
        "/2010-04-01/Accounts/{AccountSid}/Messages.json",
        "/2010-04-01/Accounts/{AccountSid}/Calls.json",
        "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json",
    }
    assert "twilio-oai" in spec["x-extracted-from"]["source"]
    assert (OAI / "extract.py").exists()


def test_well_formed_requests_pass() -> None:
    assert message() == []
    assert message(ValidityPeriod=300) == []
    assert message(From=None, MessagingServiceSid=SERVICE_SID) == []
    assert call() == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"Body": "x" * 1601}, "longer than 1600"),
        ({"Body": "😀" * 801}, "longer than 1600"),  # UTF-16 units, as Twilio counts
        ({"ValidityPeriod": 0}, "ValidityPeriod"),
        ({"ValidityPeriod": 36001}, "ValidityPeriod"),
        ({"ValidityPeriod": "soon"}, "not of type 'integer'"),
        ({"From": None}, "From or MessagingServiceSid"),
        ({"From": None, "MessagingServiceSid": "MGnope"}, "does not match"),
        ({"Body": None}, "needs Body"),
        ({"To": "555-0111"}, "is not a 'phone-number'"),
        ({"StatusCallback": "https://under_score.example/x"}, "is not a 'uri'"),
        ({"Colour": "red"}, "unknown parameter 'Colour'"),
        ({"Body": ["one", "two"]}, "repeated"),
    ],
)
def test_a_message_twilio_would_refuse_is_caught(fields: dict[str, object], expected: str) -> None:
    problems = message(**fields)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"Url": None}, "Url, Twiml or ApplicationSid"),
        ({"Timeout": "long"}, "not of type 'integer'"),
        ({"Method": "PUT"}, "is not one of"),
        ({"MachineDetection": ["Enable", "Enable"]}, "repeated"),
    ],
)
def test_a_call_twilio_would_refuse_is_caught(fields: dict[str, object], expected: str) -> None:
    problems = call(**fields)
    assert any(expected in p for p in problems), problems


def test_status_callback_events_are_an_array() -> None:
    assert call(StatusCallbackEvent=["ringing"]) == []
    assert call(StatusCallbackEvent=["initiated", "completed"]) == []


def test_a_wrong_account_sid_in_the_path_is_caught() -> None:
    url = MESSAGES_URL.replace(ACCOUNT_SID, "AC123")
    form = urlencode({"To": AVERY, "From": HOTLINE, "Body": "x"})
    assert any("AccountSid" in p for p in conformance.violations("POST", url, form))
    assert conformance.violations("POST", f"{TWILIO_BASE}/2010-04-01/Foo.json") != []


def test_a_recording_fetch_as_the_twilio_package_makes_it_conforms() -> None:
    """The one read the service may make: a recording's metadata, with the account's
    credentials (recordings are fetched through the service, never handed out)."""
    seen: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(conformance.violations(request.method, str(request.url)))
        return httpx.Response(200, json={"sid": "RE" + "1" * 32, "status": "completed"})

    with respx.mock(assert_all_called=True) as mock:
        mock.get(url__regex=r".*/Recordings/RE\w+\.json").mock(side_effect=answer)
        http = HttpxTwilioClient(TWILIO_BASE)
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        client.recordings("RE" + "1" * 32).fetch()
        http.close()
    assert seen == [[]]


def test_every_request_of_a_full_scenario_conforms(database_url: str) -> None:
    """Pages (SMS with ValidityPeriod, through a Messaging Service), a page refused as
    opted out and its fallback call, taken and resolved notices, the reporter's notice,
    update notices, a relay in one text and one in parts: all validated, none refused."""
    hl = Hotline(database_url, TWILIO_MESSAGING_SERVICE_SID=SERVICE_SID)
    try:
        hl.answer(REPORTER, "Someone is harassing people at booth 12")
        hl.twilio.fail_next(400, code=21610)  # Avery's page: opted out, becomes a call
        hl.run()
        hl.after(minutes=5)  # all leads
        hl.answer(REPORTER, "they are still here")
        hl.after(minutes=1)
        hl.answer("+15555550112", "ACK 1")
        hl.run()
        hl.answer("+15555550112", "REPLY 1 on our way")
        hl.answer("+15555550112", "REPLY 1 " + "We are coming to you now. " * 80)
        hl.run()
        hl.deliver_callbacks()
        hl.answer("+15555550112", "RESOLVE 1")
        hl.run()
        with hl.services.sessions() as session:
            kinds = Counter(
                session.scalars(select(Outbound.kind).where(Outbound.provider_sid.is_not(None)))
            )
        checked = Counter(kind for kind, _ in hl.twilio.checked)
        shapes = sorted({f"{kind}: {', '.join(keys)}" for kind, keys in hl.twilio.checked})
        print("\nrequest kinds accepted by the stand-in after validation:", dict(kinds))
        print("requests validated against twilio_api_v2010.json:", dict(checked))
        print("\n".join(shapes))
        assert hl.twilio.violations == []
        assert {"page", "call_page", "notice", "reporter_notice", "relay", "update_notice"} <= set(
            kinds
        )
        # Every accepted message and call was validated (plus the refused page).
        assert checked["message"] + checked["call"] == sum(kinds.values()) + 1
    finally:
        hl.close()


def test_other_twilio_routes_can_be_validated_the_same_way(hl: Hotline) -> None:
    """`FakeTwilio.validated` checks any further route (a recording fetch, say)."""
    recording = f"{TWILIO_BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'1' * 32}.json"
    route = hl.respx.get(url__startswith=f"{TWILIO_BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Rec")
    route.mock(side_effect=hl.twilio.validated(lambda _: httpx.Response(200, json={})))
    assert httpx.get(recording, auth=(ACCOUNT_SID, AUTH_TOKEN)).status_code == 200
    bad = recording.replace("RE" + "1" * 32, "RE123")
    assert httpx.get(bad, auth=(ACCOUNT_SID, AUTH_TOKEN)).status_code == 400
    assert [p for _, p in hl.twilio.violations] and "Sid" in hl.twilio.violations[0][1][0]
    hl.twilio.violations.clear()  # expected here
