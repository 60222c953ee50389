"""TwilioTransport and HttpxTwilioClient against a respx-mocked Twilio: no network."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from app.telephony.transport import SendError, Sent, Transport
from app.telephony.twilio_rest import CALL_STATUS_EVENTS, HttpxTwilioClient, TwilioTransport

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 32
BASE = "http://127.0.0.1:9999"
MESSAGES_URL = f"{BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLS_URL = f"{BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
MESSAGE_SID = "SM" + "1" * 32
CALL_SID = "CA" + "2" * 32
RESPONDER = "+15555550111"
HOTLINE_NUMBER = "+15555550100"
BODY = "CoC report #12 from the venue: reply 1 to take it"
CALLBACK = "https://hotline.example.org/twilio/status/sms?outbound=42"
VOICE_URL = "https://hotline.example.org/twilio/voice/page?case=12"


def message_json(**overrides: Any) -> dict[str, Any]:
    """A Messages.json create answer as Twilio returns it."""
    uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}"
    payload: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": BODY,
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
        "date_sent": None,
        "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": HOTLINE_NUMBER,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": MESSAGE_SID,
        "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": RESPONDER,
        "uri": f"{uri}.json",
    }
    payload.update(overrides)
    return payload


def call_json() -> dict[str, Any]:
    """A Calls.json create answer as Twilio returns it."""
    uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{CALL_SID}"
    return {
        "account_sid": ACCOUNT_SID,
        "annotation": None,
        "answered_by": None,
        "api_version": "2010-04-01",
        "caller_name": None,
        "date_created": None,
        "date_updated": None,
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": HOTLINE_NUMBER,
        "from_formatted": "(555) 555-0100",
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": "PN" + "3" * 32,
        "price": None,
        "price_unit": "USD",
        "sid": CALL_SID,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {"recordings": f"{uri}/Recordings.json"},
        "to": RESPONDER,
        "to_formatted": "(555) 555-0111",
        "trunk_sid": None,
        "uri": f"{uri}.json",
        "queue_time": "0",
    }


def error_json(code: int, status: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def transport() -> Iterator[TwilioTransport]:
    with TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, BASE) as t:
        yield t


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode(), keep_blank_values=True, strict_parsing=True)


def send(transport: TwilioTransport, callback: str | None = CALLBACK) -> Sent:
    return transport.send_sms(
        to=RESPONDER, from_=HOTLINE_NUMBER, body=BODY, status_callback=callback
    )


def test_is_a_transport(transport: TwilioTransport) -> None:
    assert isinstance(transport, Transport)


def test_send_sms_posts_form_to_configured_base(
    mock: respx.MockRouter, transport: TwilioTransport
) -> None:
    route = mock.post(MESSAGES_URL).respond(201, json=message_json())

    sent = send(transport)

    assert sent == Sent(sid=MESSAGE_SID, status="queued")
    assert route.call_count == 1
    request = route.calls.last.request
    assert str(request.url) == MESSAGES_URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "To": [RESPONDER],
        "From": [HOTLINE_NUMBER],
        "Body": [BODY],
        "StatusCallback": [CALLBACK],
    }
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("twilio-python/")


def test_send_sms_without_callback_omits_it(
    mock: respx.MockRouter, transport: TwilioTransport
) -> None:
    route = mock.post(MESSAGES_URL).respond(201, json=message_json())

    send(transport, callback=None)

    assert "StatusCallback" not in form(route.calls.last.request)


def test_unicode_body_is_sent_intact(mock: respx.MockRouter, transport: TwilioTransport) -> None:
    route = mock.post(MESSAGES_URL).respond(201, json=message_json())
    body = "Signalement n°12 – salle B ✅ & ok=1"

    transport.send_sms(to=RESPONDER, from_=HOTLINE_NUMBER, body=body, status_callback=None)

    assert form(route.calls.last.request)["Body"] == [body]


def test_base_url_path_prefix_and_trailing_slash(mock: respx.MockRouter) -> None:
    url = f"{BASE}/fake-twilio/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    route = mock.post(url).respond(201, json=message_json())

    with TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, f"{BASE}/fake-twilio/") as t:
        assert send(t).sid == MESSAGE_SID

    assert route.call_count == 1


def test_default_base_url_is_twilio(mock: respx.MockRouter) -> None:
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    route = mock.post(url).respond(201, json=message_json(status="accepted"))

    with TwilioTransport(ACCOUNT_SID, AUTH_TOKEN) as t:
        assert send(t) == Sent(sid=MESSAGE_SID, status="accepted")

    assert route.call_count == 1


def test_edge_and_region_hosts_are_rewritten_too(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TWILIO_EDGE/TWILIO_REGION make the package target api.<edge>.<region>.twilio.com.
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    route = mock.post(MESSAGES_URL).respond(201, json=message_json())

    with TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, BASE) as t:
        send(t)

    assert route.call_count == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_throttling_are_retryable(
    mock: respx.MockRouter, transport: TwilioTransport, status: int
) -> None:
    code = 20429 if status == 429 else 20500
    mock.post(MESSAGES_URL).respond(status, json=error_json(code, status, "try later"))

    with pytest.raises(SendError) as info:
        send(transport)

    assert info.value.retryable is True
    assert info.value.http_status == status
    assert info.value.code == code


def test_server_error_without_json_has_no_code(
    mock: respx.MockRouter, transport: TwilioTransport
) -> None:
    mock.post(MESSAGES_URL).respond(502, text="<html>Bad Gateway</html>")

    with pytest.raises(SendError) as info:
        send(transport)

    assert (info.value.retryable, info.value.http_status, info.value.code) == (True, 502, None)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21610, "Attempt to send to unsubscribed recipient"),
        (21211, f"The 'To' number {RESPONDER} is not a valid phone number."),
        (21614, f"'To' number {RESPONDER} is not a valid mobile number"),
        (21617, "The concatenated message body exceeds the 1600 character limit."),
    ],
)
def test_permanent_errors_are_not_retryable(
    mock: respx.MockRouter, transport: TwilioTransport, code: int, message: str
) -> None:
    mock.post(MESSAGES_URL).respond(400, json=error_json(code, 400, message))

    with pytest.raises(SendError) as info:
        send(transport)

    error = info.value
    assert error.retryable is False
    assert error.code == code
    assert error.http_status == 400
    assert str(code) in error.reason
    # Safe to log: neither the message body nor any phone number.
    for secret in (RESPONDER, HOTLINE_NUMBER, BODY, "555"):
        assert secret not in error.reason
        assert secret not in str(error)
        assert secret not in repr(error)
    assert error.__cause__ is None
    assert error.__suppress_context__ is True


def test_authentication_failure_is_not_retryable(
    mock: respx.MockRouter, transport: TwilioTransport
) -> None:
    mock.post(MESSAGES_URL).respond(401, json=error_json(20003, 401, "Authenticate"))

    with pytest.raises(SendError) as info:
        send(transport)

    assert (info.value.retryable, info.value.http_status, info.value.code) == (False, 401, 20003)


def test_rfc9457_problem_answers_are_mapped(
    mock: respx.MockRouter, transport: TwilioTransport
) -> None:
    # The package raises TwilioServiceException (not a TwilioRestException) for these.
    problem = {
        "type": "https://www.twilio.com/docs/errors/21610",
        "title": "Message cannot be sent to an unsubscribed recipient",
        "status": 400,
        "code": 21610,
    }
    mock.post(MESSAGES_URL).respond(400, json=problem)

    with pytest.raises(SendError) as info:
        send(transport)

    assert (info.value.retryable, info.value.http_status, info.value.code) == (False, 400, 21610)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_network_failures_are_retryable(
    mock: respx.MockRouter, transport: TwilioTransport, exc: Exception
) -> None:
    mock.post(MESSAGES_URL).mock(side_effect=exc)

    with pytest.raises(SendError) as info:
        send(transport)

    assert info.value.retryable is True
    assert info.value.code is None
    assert info.value.http_status is None
    assert type(exc).__name__ in info.value.reason


def test_unreadable_success_answer_is_retryable(
    mock: respx.MockRouter, transport: TwilioTransport
) -> None:
    mock.post(MESSAGES_URL).respond(201, text="not json")

    with pytest.raises(SendError) as info:
        send(transport)

    assert info.value.retryable is True


def test_success_answer_without_sid_is_an_error(
    mock: respx.MockRouter, transport: TwilioTransport
) -> None:
    mock.post(MESSAGES_URL).respond(201, json=message_json(sid=None))

    with pytest.raises(SendError):
        send(transport)


def test_place_call_posts_to_calls(mock: respx.MockRouter, transport: TwilioTransport) -> None:
    route = mock.post(CALLS_URL).respond(201, json=call_json())
    callback = "https://hotline.example.org/twilio/status/call?outbound=7"

    sent = transport.place_call(
        to=RESPONDER, from_=HOTLINE_NUMBER, url=VOICE_URL, status_callback=callback
    )

    assert sent == Sent(sid=CALL_SID, status="queued")
    assert form(route.calls.last.request) == {
        "To": [RESPONDER],
        "From": [HOTLINE_NUMBER],
        "Url": [VOICE_URL],
        "StatusCallback": [callback],
        "StatusCallbackEvent": list(CALL_STATUS_EVENTS),
    }
    assert list(CALL_STATUS_EVENTS) == ["initiated", "ringing", "answered", "completed"]


def test_place_call_without_callback(mock: respx.MockRouter, transport: TwilioTransport) -> None:
    route = mock.post(CALLS_URL).respond(201, json=call_json())

    transport.place_call(to=RESPONDER, from_=HOTLINE_NUMBER, url=VOICE_URL, status_callback=None)

    fields = form(route.calls.last.request)
    assert "StatusCallback" not in fields
    assert "StatusCallbackEvent" not in fields


def test_place_call_invalid_number(mock: respx.MockRouter, transport: TwilioTransport) -> None:
    mock.post(CALLS_URL).respond(400, json=error_json(21211, 400, "Invalid 'To' Phone Number"))

    with pytest.raises(SendError) as info:
        transport.place_call(
            to=RESPONDER, from_=HOTLINE_NUMBER, url=VOICE_URL, status_callback=None
        )

    assert (info.value.retryable, info.value.code) == (False, 21211)


def test_close_closes_the_pool() -> None:
    transport = TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, BASE)
    transport.close()
    assert transport.http_client._client.is_closed


def test_missing_credentials_are_refused() -> None:
    with pytest.raises(ValueError):
        TwilioTransport("", AUTH_TOKEN, BASE)
    with pytest.raises(ValueError):
        TwilioTransport(ACCOUNT_SID, "", BASE)


# --- HttpxTwilioClient on its own -------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://api.twilio.com/2010-04-01/Accounts.json", f"{BASE}/2010-04-01/Accounts.json"),
        ("https://messaging.twilio.com/v1/Services?PageSize=5", f"{BASE}/v1/Services?PageSize=5"),
        ("https://api.dublin.ie1.twilio.com/x/y", f"{BASE}/x/y"),
        ("https://api.twilio.com", f"{BASE}/"),
    ],
)
def test_rebase(uri: str, expected: str) -> None:
    client = HttpxTwilioClient(BASE + "/")
    try:
        assert client.api_base_url == BASE
        assert client.rebase(uri) == expected
    finally:
        client.close()


@pytest.mark.parametrize("bad", ["", "api.twilio.com", "ftp://x.example", "http://h/?a=1"])
def test_invalid_base_url(bad: str) -> None:
    with pytest.raises(ValueError):
        HttpxTwilioClient(bad)


def test_request_keeps_query_merges_params_and_uses_default_timeout(
    mock: respx.MockRouter,
) -> None:
    route = mock.get(f"{BASE}/v1/Things").respond(200, json={"things": []}, headers={"X-A": "b"})
    client = HttpxTwilioClient(BASE, timeout=7.5)
    try:
        response = client.request(
            "get",
            "https://api.twilio.com/v1/Things?Existing=1",
            params={"PageSize": 50, "Tag": ["a", "b"]},
            headers={"Accept": "application/json"},
            auth=("user", "pass"),
        )
    finally:
        client.close()

    assert response.status_code == 200
    assert json.loads(response.text) == {"things": []}
    assert response.headers["x-a"] == "b"
    request = route.calls.last.request
    assert request.method == "GET"
    assert parse_qs(request.url.query.decode()) == {
        "Existing": ["1"],
        "PageSize": ["50"],
        "Tag": ["a", "b"],
    }
    assert request.content == b""
    assert request.extensions["timeout"]["read"] == 7.5


def test_request_sends_json_when_asked(mock: respx.MockRouter) -> None:
    route = mock.post(f"{BASE}/v1/Json").respond(201, json={"ok": True})
    client = HttpxTwilioClient(BASE)
    try:
        client.request(
            "POST",
            "https://api.twilio.com/v1/Json",
            data={"Friendly": "x", "Nested": {"a": [1, 2]}},
            headers={"Content-Type": "application/json"},
            timeout=3,
        )
    finally:
        client.close()

    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"Friendly": "x", "Nested": {"a": [1, 2]}}
    assert request.extensions["timeout"]["read"] == 3


def test_request_does_not_follow_redirects(mock: respx.MockRouter) -> None:
    mock.get(f"{BASE}/v1/Moved").respond(307, headers={"Location": "https://elsewhere.example/"})
    client = HttpxTwilioClient(BASE)
    try:
        response = client.request("GET", "https://api.twilio.com/v1/Moved")
    finally:
        client.close()

    assert response.status_code == 307


def test_request_rejects_non_positive_timeout() -> None:
    client = HttpxTwilioClient(BASE)
    try:
        with pytest.raises(ValueError):
            client.request("GET", "https://api.twilio.com/v1/X", timeout=0)
    finally:
        client.close()
    with pytest.raises(ValueError):
        HttpxTwilioClient(BASE, timeout=0)


def test_send_sms_with_validity_period_and_messaging_service(
    mock: respx.MockRouter, transport: TwilioTransport
) -> None:
    route = mock.post(MESSAGES_URL).respond(201, json=message_json())
    service = "MG" + "c" * 32

    transport.send_sms(
        to=RESPONDER,
        from_=HOTLINE_NUMBER,
        body=BODY,
        status_callback=CALLBACK,
        validity_period=300,
        messaging_service_sid=service,
    )

    # The pool picks the sender: no From beside MessagingServiceSid.
    assert form(route.calls.last.request) == {
        "To": [RESPONDER],
        "MessagingServiceSid": [service],
        "Body": [BODY],
        "StatusCallback": [CALLBACK],
        "ValidityPeriod": ["300"],
    }


def test_place_call_with_a_ring_timeout(mock: respx.MockRouter, transport: TwilioTransport) -> None:
    route = mock.post(CALLS_URL).respond(201, json=call_json())

    transport.place_call(
        to=RESPONDER, from_=HOTLINE_NUMBER, url=VOICE_URL, status_callback=None, timeout=25
    )

    assert form(route.calls.last.request)["Timeout"] == ["25"]
