"""Twilio webhook signatures (`X-Twilio-Signature`), computed by the `twilio` package.

`is_valid` guards every /twilio/... endpoint; `sign` lets `hotline simulate` and tests make
requests exactly as Twilio would. Both delegate to `twilio.request_validator`, so the
algorithm (URL + sorted keys and values, HMAC, with/without port) is Twilio's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    add_port,
    compare,
    get_signature_algorithm,
    remove_port,
)

__all__ = [
    "HMAC_SHA1",
    "HMAC_SHA256",
    "SIGNATURE_HEADER",
    "SIGNATURE_SETTINGS_HEADER",
    "Params",
    "is_valid",
    "secret_for",
    "sign",
]

SIGNATURE_HEADER = "X-Twilio-Signature"

#: Form parameters: a mapping (values str or lists of str for repeated keys), a multi-dict
#: (Starlette `FormData`, werkzeug `MultiDict`, Django `QueryDict`), or (key, value) pairs.
Params = Mapping[str, str] | Mapping[str, list[str]] | Iterable[tuple[str, str]]


class _MultiParams:
    """Repeated keys in the shape `RequestValidator` reads: iterate keys, `getlist(key)`."""

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("signed parameters must be strings")
            self._values.setdefault(key, []).append(value)

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def getlist(self, key: str) -> list[str]:
        return list(self._values[key])

    getall = getlist  # asked first by `RequestValidator`: without it, an AttributeError a key


def _pairs(params: Params | Any) -> Iterable[tuple[str, str]]:
    """Every (key, value) of `params`, repeated keys included."""
    if isinstance(params, str | bytes):
        raise TypeError("params must be form parameters, not a raw body")
    multi_items = getattr(params, "multi_items", None)  # Starlette (Immutable)MultiDict
    if callable(multi_items):
        return list(multi_items())
    getlist = getattr(params, "getlist", None)  # werkzeug MultiDict, Django QueryDict
    if callable(getlist):
        return [(key, value) for key in params for value in getlist(key)]
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in params.items():
            if isinstance(value, list | tuple):
                pairs.extend((key, item) for item in value)
            else:
                pairs.append((key, value))
        return pairs
    return list(params)


def sign(auth_token: str, url: str, params: Params | Any, *, algorithm: str | None = None) -> str:
    """The `X-Twilio-Signature` Twilio would send for a POST of `params` to `url`.

    `algorithm` is None/"HMAC_SHA1" (auth-token signatures) or "HMAC_SHA256".
    """
    if not auth_token:
        raise ValueError("an auth token is required to sign")
    validator = RequestValidator(auth_token)
    return str(validator.compute_signature(url, _MultiParams(_pairs(params)), algorithm))


def is_valid(
    auth_token: str,
    url: str,
    params: Params | Any,
    signature: str | None,
    *,
    algorithm: str | None = None,
) -> bool:
    """True only if `signature` is Twilio's for `url` and `params` under `auth_token`.

    `url` must be the URL Twilio requested (public base URL + path + query), not the one the
    app sees behind a proxy. Missing signature, empty token or non-string parameters (file
    uploads) are simply invalid, never an error.
    """
    if not signature or not auth_token:
        return False
    try:
        multi = _MultiParams(_pairs(params))
    except (TypeError, ValueError):
        return False
    validator = RequestValidator(auth_token)
    if (algorithm or HMAC_SHA1).upper() not in (HMAC_SHA1, HMAC_SHA256):
        return bool(validator.validate(url, multi, signature, algorithm))  # refuses, and logs
    # What `validate` decides for form parameters (a match for the URL with or without its
    # port), but stopping at the first match: a webhook signed for the URL as configured
    # costs one HMAC, not two.
    return any(
        compare(validator.compute_signature(variant, multi, algorithm), signature)
        for variant in _port_variants(url)
    )


@lru_cache(maxsize=256)
def _port_variants(url: str) -> tuple[str, str]:
    """The two forms of `url` that `RequestValidator.validate` accepts, without and with its
    port (Twilio's own signing is inconsistent about it), the form `url` has first. Webhooks
    come to a handful of URLs: each is parsed once."""
    parsed = urlparse(url)
    without_port, with_port = remove_port(parsed), add_port(parsed)
    return (with_port, without_port) if parsed.port else (without_port, with_port)


def secret_for(
    settings_header: str | None, *, auth_token: str | None, shared_key: str | None
) -> tuple[str, str]:
    """The algorithm a webhook announces and the secret it was signed with.

    Without `X-Twilio-Webhooks-Signature-Settings` Twilio signs with HMAC-SHA1 and the auth
    token; under a Webhooks signature rule it announces HMAC_SHA256 and signs with the rule's
    SharedKey. Raises ValueError, with a message fit for the 403 answer, when the announced
    algorithm is unknown or its secret is not configured: such a webhook cannot be trusted.
    """
    algorithm = get_signature_algorithm(settings_header).upper()
    if algorithm == HMAC_SHA1:
        if not auth_token:
            raise ValueError("TWILIO_AUTH_TOKEN is not set")
        return algorithm, auth_token
    if algorithm == HMAC_SHA256:
        if not shared_key:
            raise ValueError(
                "this webhook is signed with HMAC_SHA256 (X-Twilio-Webhooks-Signature-Settings) "
                "but TWILIO_WEBHOOK_SHARED_KEY is not set: it cannot be verified"
            )
        return algorithm, shared_key
    raise ValueError(f"unsupported webhook signature algorithm {algorithm[:40]!r}")
