"""Webhooks signed under a Twilio Webhooks signature rule: HMAC-SHA256 with the rule's
SharedKey, announced in X-Twilio-Webhooks-Signature-Settings, next to the auth token's
HMAC-SHA1. A forged or unverifiable webhook is refused and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator

import pytest

from app.cases.models import Case
from app.telephony.signature import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER
from tests.harness import (
    ACCOUNT_SID,
    HOTLINE,
    PUBLIC_URL,
    REPORTER,
    SHARED_KEY_ID,
    Hotline,
    count,
)

SHARED_KEY = "shared-key-secret-for-the-test"


@pytest.fixture
def ruled(database_url: str) -> Iterator[Hotline]:
    """A hotline whose Twilio account signs webhooks under a SharedKey rule."""
    hotline = Hotline(database_url, TWILIO_WEBHOOK_SHARED_KEY=SHARED_KEY)
    yield hotline
    hotline.close()


def report(body: str = "someone is harassing people at booth 12") -> dict[str, str]:
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": REPORTER,
        "To": HOTLINE,
        "Body": body,
        "NumMedia": "0",
    }


def sha256_reference(secret: str, url: str, params: dict[str, str]) -> str:
    """Twilio's algorithm written out: URL, then keys and values sorted by key, HMAC-SHA256."""
    data = url + "".join(k + v for k, v in sorted(params.items()))
    digest = hmac.new(secret.encode(), data.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_an_hmac_sha256_signed_webhook_is_accepted(ruled: Hotline) -> None:
    params = report()
    response = ruled.post("/twilio/sms", params, shared_key=SHARED_KEY)
    print("HMAC-SHA256 signed webhook ->", response.status_code, response.text[:90])
    assert response.status_code == 200
    assert count(ruled, Case) == 1


def test_the_signature_is_twilios_own_hmac_sha256(ruled: Hotline) -> None:
    params = report()
    headers = {
        SIGNATURE_SETTINGS_HEADER: f"key={SHARED_KEY_ID},algorithm=HMAC_SHA256",
        SIGNATURE_HEADER: sha256_reference(SHARED_KEY, PUBLIC_URL + "/twilio/sms", params),
    }
    assert ruled.client.post("/twilio/sms", data=params, headers=headers).status_code == 200


def test_a_forged_hmac_sha256_webhook_is_refused_and_changes_nothing(ruled: Hotline) -> None:
    params = report()
    forged = ruled.post("/twilio/sms", params, shared_key="not-the-shared-key")
    print("forged HMAC-SHA256 webhook ->", forged.status_code, forged.text)
    assert forged.status_code == 403
    # Nor does the auth token's signature pass when SHA-256 is announced.
    token_signed = {
        SIGNATURE_SETTINGS_HEADER: f"key={SHARED_KEY_ID},algorithm=HMAC_SHA256",
        SIGNATURE_HEADER: sha256_reference("test-auth-token", PUBLIC_URL + "/twilio/sms", params),
    }
    assert ruled.client.post("/twilio/sms", data=params, headers=token_signed).status_code == 403
    # A body changed after signing.
    headers = {
        SIGNATURE_SETTINGS_HEADER: f"key={SHARED_KEY_ID},algorithm=HMAC_SHA256",
        SIGNATURE_HEADER: sha256_reference(SHARED_KEY, PUBLIC_URL + "/twilio/sms", params),
    }
    tampered = {**params, "Body": "something else"}
    assert ruled.client.post("/twilio/sms", data=tampered, headers=headers).status_code == 403
    assert count(ruled, Case) == 0
    assert ruled.run() == []


def test_auth_token_signatures_still_pass_beside_a_shared_key(ruled: Hotline) -> None:
    assert ruled.post("/twilio/sms", report()).status_code == 200
    assert count(ruled, Case) == 1


def test_an_sha256_webhook_without_the_shared_key_configured_is_refused_clearly(
    hl: Hotline,
) -> None:
    response = hl.post("/twilio/sms", report(), shared_key=SHARED_KEY)
    assert response.status_code == 403
    assert "TWILIO_WEBHOOK_SHARED_KEY" in response.json()["detail"]
    assert count(hl, Case) == 0


def test_an_unknown_signature_algorithm_is_refused(ruled: Hotline) -> None:
    params = report()
    headers = {
        SIGNATURE_SETTINGS_HEADER: f"key={SHARED_KEY_ID},algorithm=HMAC_MD5",
        SIGNATURE_HEADER: sha256_reference(SHARED_KEY, PUBLIC_URL + "/twilio/sms", params),
    }
    assert ruled.client.post("/twilio/sms", data=params, headers=headers).status_code == 403
    assert count(ruled, Case) == 0


def test_status_callbacks_and_voice_webhooks_accept_sha256_too(ruled: Hotline) -> None:
    call = {
        "CallSid": "CA" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": REPORTER,
        "To": HOTLINE,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    assert ruled.post("/twilio/voice", call, shared_key=SHARED_KEY).status_code == 200
    status = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
    assert ruled.post("/twilio/status", status, shared_key=SHARED_KEY).status_code == 200
    assert ruled.post("/twilio/status", status, shared_key="forged").status_code == 403
