"""Webhook signatures, checked against the twilio package and an independent HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlparse

import pytest
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator, add_port, remove_port

from app.telephony.signature import is_valid, sign

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://hotline.example.org/twilio/sms?source=test"
PARAMS = {
    "AccountSid": "AC" + "0123456789abcdef" * 2,
    "MessageSid": "SM" + "a" * 32,
    "From": "+15555550111",
    "To": "+15555550100",
    "Body": "1",
    "NumMedia": "0",
}


def reference_signature(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """Twilio's documented algorithm: URL, then each key and value sorted by key, HMAC-SHA1."""
    data = url + "".join(k + v for k, v in sorted(pairs))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_sign_matches_package_and_reference() -> None:
    signature = sign(TOKEN, URL, PARAMS)

    assert signature == RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    assert signature == reference_signature(TOKEN, URL, list(PARAMS.items()))
    assert is_valid(TOKEN, URL, PARAMS, signature)


def test_known_vector() -> None:
    # Fixed once from the package; guards against accidental algorithm changes.
    params = {"From": "+15555550111", "To": "+15555550100", "Body": "STOP"}
    url = "https://hotline.example.org/twilio/sms"
    expected = "wLJoBmnV3xOSh9qzPaPmwH2imBk="
    assert reference_signature("12345", url, list(params.items())) == expected
    assert sign("12345", url, params) == expected
    assert is_valid("12345", url, params, expected)


def test_tampered_param_is_rejected() -> None:
    signature = sign(TOKEN, URL, PARAMS)
    assert not is_valid(TOKEN, URL, {**PARAMS, "Body": "2"}, signature)
    assert not is_valid(TOKEN, URL, {**PARAMS, "Extra": "x"}, signature)
    assert not is_valid(TOKEN, URL, {k: v for k, v in PARAMS.items() if k != "Body"}, signature)


def test_wrong_token_is_rejected() -> None:
    signature = sign(TOKEN, URL, PARAMS)
    assert not is_valid("f" * 32, URL, PARAMS, signature)
    assert not is_valid("", URL, PARAMS, signature)


@pytest.mark.parametrize(
    "url",
    [
        "https://hotline.example.org/twilio/sms",
        "https://hotline.example.org/twilio/sms?source=other",
        "http://hotline.example.org/twilio/sms?source=test",
        "https://evil.example.org/twilio/sms?source=test",
        "https://hotline.example.org/twilio/voice?source=test",
    ],
)
def test_wrong_url_is_rejected(url: str) -> None:
    assert not is_valid(TOKEN, url, PARAMS, sign(TOKEN, URL, PARAMS))


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_is_rejected(signature: str | None) -> None:
    assert not is_valid(TOKEN, URL, PARAMS, signature)


def test_garbage_signature_is_rejected() -> None:
    assert not is_valid(TOKEN, URL, PARAMS, "not-a-signature")


def test_default_port_is_accepted_either_way() -> None:
    # The package tries the URL with and without the port, as Twilio is inconsistent.
    signature = sign(TOKEN, "https://hotline.example.org/twilio/sms", PARAMS)
    assert is_valid(TOKEN, "https://hotline.example.org:443/twilio/sms", PARAMS, signature)


def test_no_params() -> None:
    signature = sign(TOKEN, URL, {})
    assert is_valid(TOKEN, URL, {}, signature)
    assert is_valid(TOKEN, URL, [], signature)
    assert not is_valid(TOKEN, URL, {"a": "b"}, signature)


def test_repeated_keys_in_every_shape() -> None:
    pairs = [("To", "+15555550100"), ("Tag", "b"), ("Tag", "a"), ("From", "+15555550111")]
    signature = sign(TOKEN, URL, pairs)

    assert signature == reference_signature(TOKEN, URL, pairs)
    form = FormData(pairs)
    assert sign(TOKEN, URL, form) == signature
    assert is_valid(TOKEN, URL, form, signature)
    assert is_valid(TOKEN, URL, pairs, signature)
    as_lists = {"To": ["+15555550100"], "Tag": ["b", "a"], "From": ["+15555550111"]}
    assert is_valid(TOKEN, URL, as_lists, signature)
    # The package checks FormData directly the same way.
    assert RequestValidator(TOKEN).validate(URL, form, signature)
    # Dropping one of the repeated values (what dict(form) would do) breaks the signature.
    assert not is_valid(TOKEN, URL, dict(form), signature)
    assert not is_valid(TOKEN, URL, [*pairs[:1], *pairs[2:]], signature)


def test_file_upload_is_invalid_not_an_error() -> None:
    class Upload:  # stands in for starlette's UploadFile
        pass

    form = FormData([("Body", "1"), ("Media", Upload())])  # type: ignore[list-item]
    assert not is_valid(TOKEN, URL, form, sign(TOKEN, URL, {"Body": "1"}))
    with pytest.raises(TypeError):
        sign(TOKEN, URL, form)


def test_raw_body_is_refused() -> None:
    with pytest.raises(TypeError):
        sign(TOKEN, URL, "Body=1")  # type: ignore[arg-type]
    assert not is_valid(TOKEN, URL, "Body=1", "sig")  # type: ignore[arg-type]


def test_sign_needs_a_token() -> None:
    with pytest.raises(ValueError):
        sign("", URL, PARAMS)


def test_hmac_sha256_signatures() -> None:
    signature = sign(TOKEN, URL, PARAMS, algorithm="HMAC_SHA256")

    assert signature != sign(TOKEN, URL, PARAMS)
    assert is_valid(TOKEN, URL, PARAMS, signature, algorithm="HMAC_SHA256")
    assert not is_valid(TOKEN, URL, PARAMS, signature)
    assert not is_valid(TOKEN, URL, PARAMS, signature, algorithm="HMAC_MD5")


@pytest.mark.parametrize(
    "url",
    [
        "https://hotline.example.org/twilio/sms",
        "https://hotline.example.org:443/twilio/sms?source=test",
        "http://127.0.0.1:8000/twilio/voice/screen?case=12",
    ],
)
@pytest.mark.parametrize("algorithm", [None, "HMAC_SHA256"])
def test_is_valid_decides_as_the_package_does(url: str, algorithm: str | None) -> None:
    # is_valid stops at the first form of the URL that matches, where RequestValidator.validate
    # computes both: the same answer whichever form Twilio signed, or another URL.
    parsed = urlparse(url)
    signed_urls = [remove_port(parsed), add_port(parsed), "https://elsewhere.example.org/"]
    signatures = [sign(TOKEN, signed, PARAMS, algorithm=algorithm) for signed in signed_urls]
    answers = []
    for signature in [*signatures, "not-a-signature"]:
        answers.append(is_valid(TOKEN, url, PARAMS, signature, algorithm=algorithm))
        assert answers[-1] is RequestValidator(TOKEN).validate(url, PARAMS, signature, algorithm)
    assert answers == [True, True, False, False]
