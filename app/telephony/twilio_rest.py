"""Twilio's REST API through the `twilio` package, over one pooled `httpx.Client`.

The package builds the requests (paths, parameter names, error parsing) so the wire format stays
Twilio's own; httpx carries them so that (1) one long-lived connection pool serves every page,
(2) every request can be redirected to `TWILIO_API_BASE_URL` (a local stand-in, a test), and
(3) tests can mock Twilio at the transport level with respx.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from app.telephony.outcomes import Verdict, as_code, label, refusal
from app.telephony.transport import SendError, Sent

__all__ = [
    "CALL_STATUS_EVENTS",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_TIMEOUT",
    "HttpxTwilioClient",
    "TwilioTransport",
]

_logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0
#: Call progress events we ask Twilio to report for every paging call.
CALL_STATUS_EVENTS: tuple[str, ...] = ("initiated", "ringing", "answered", "completed")

# Media types the package sends as JSON bodies (its TwilioHttpClient does the same).
_JSON_MEDIA_TYPES = frozenset({"application/json", "application/scim+json"})


class HttpxTwilioClient(HttpClient):
    """A `twilio.http.HttpClient` on one long-lived `httpx.Client`, aimed at `api_base_url`.

    The package builds URIs on https://api.twilio.com (or other *.twilio.com hosts); each one
    is rewritten onto `api_base_url` (scheme, host, port and any path prefix), keeping its path
    and query, so all REST traffic goes where the configuration says. Bodies and credentials
    are never logged.
    """

    def __init__(
        self,
        api_base_url: str = DEFAULT_API_BASE_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        logger: logging.Logger = _logger,
    ) -> None:
        super().__init__(logger, is_async=False, timeout=timeout)
        base = urlsplit(api_base_url.strip())
        if base.scheme not in ("http", "https") or not base.netloc:
            raise ValueError(f"TWILIO_API_BASE_URL must be an http(s) URL, got {api_base_url!r}")
        if base.query or base.fragment:
            raise ValueError("TWILIO_API_BASE_URL must not have a query or fragment")
        self._scheme = base.scheme
        self._netloc = base.netloc
        self._path_prefix = base.path.rstrip("/")
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)
        # Made once, not per request: every page posts to the same URI with the same
        # credentials (the worker's CPU per page, ADR 0014).
        self._url = lru_cache(maxsize=256)(self._rebased_url)
        self._basic = lru_cache(maxsize=4)(_basic_authorization)

    @property
    def api_base_url(self) -> str:
        """The base URL every request is sent to (normalised, no trailing slash)."""
        return urlunsplit((self._scheme, self._netloc, self._path_prefix, "", ""))

    def rebase(self, uri: str) -> str:
        """Move `uri` onto the configured base URL, keeping its path and query."""
        parts = urlsplit(uri)
        path = self._path_prefix + (parts.path or "/")
        return urlunsplit((self._scheme, self._netloc, path, parts.query, ""))

    def _rebased_url(self, uri: str) -> httpx.URL:
        return httpx.URL(self.rebase(uri))

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send one request built by the package; httpx errors propagate unchanged."""
        if timeout is None:
            timeout = self.timeout
        elif timeout <= 0:
            raise ValueError(timeout)
        url = self._url(uri)
        if params:
            # Merge, as requests does: httpx would replace a query already in the URI.
            url = url.copy_merge_params(params)  # type: ignore[arg-type]
        body: dict[str, Any] = {}
        if data is not None:
            body["json" if _is_json(headers) else "data"] = data
        if auth is not None:
            headers = {**(headers or {}), "Authorization": self._basic(*auth)}
        self._test_only_last_response = None
        response = self._client.request(
            method.upper(),
            url,
            headers=headers,
            timeout=timeout,
            follow_redirects=allow_redirects,
            **body,
        )
        self.logger.debug("twilio %s %s -> %s", method.upper(), url.path, response.status_code)
        result = Response(response.status_code, response.text, response.headers)
        self._test_only_last_response = result
        return result

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _basic_authorization(username: str, password: str) -> str:
    """The header httpx's BasicAuth sends, made once for the account's credentials."""
    return httpx.BasicAuth(username, password)._auth_header


def _is_json(headers: Mapping[str, str] | None) -> bool:
    """True when the package asked for a JSON body (its own client checks Content-Type too)."""
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            media_type = value.split(";", 1)[0].strip().lower()
            return media_type in _JSON_MEDIA_TYPES
    return False


class _HasSidStatus(Protocol):
    sid: str | None
    status: object


class TwilioTransport:
    """`Transport` over Twilio's REST API, mapping every failure to a `SendError`.

    5xx and 429 answers, timeouts and connection errors are retryable; other 4xx answers
    (opted out, invalid number, ...) are not. A timeout after the request was sent is
    ambiguous (Twilio may have accepted it): it is still reported as retryable, because a
    duplicate page is better than a missing one.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_base_url: str = DEFAULT_API_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("TwilioTransport needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        self.http_client = HttpxTwilioClient(api_base_url, timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http_client)
        self._credentials = (account_sid, auth_token)
        # Reached once here rather than at the first page: the package imports its API
        # modules lazily, a tenth of a second of CPU in the worker's first send.
        self._messages = self.client.messages
        self._calls = self.client.calls

    def send_sms(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        status_callback: str | None,
        validity_period: int | None = None,
        messaging_service_sid: str | None = None,
    ) -> Sent:
        """Create an outbound message; Twilio queues it and reports progress to the callback.

        With `messaging_service_sid` the message goes through that Messaging Service's sender
        pool and carries no From (Twilio picks the sender); with `validity_period` Twilio
        gives it up (failed, 30036) if it is still queued after that many seconds.
        """
        kwargs: dict[str, Any] = {"to": to, "body": body}
        if messaging_service_sid:
            kwargs["messaging_service_sid"] = messaging_service_sid
        else:
            kwargs["from_"] = from_
        if validity_period is not None:
            kwargs["validity_period"] = validity_period
        if status_callback is not None:
            kwargs["status_callback"] = status_callback
        return self._create("SMS", lambda: self._messages.create(**kwargs))

    def place_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str | None,
        timeout: int | None = None,
    ) -> Sent:
        """Create an outbound call; Twilio fetches TwiML from `url` once it connects and
        stops ringing after `timeout` seconds (its default is 60)."""
        kwargs: dict[str, Any] = {"to": to, "from_": from_, "url": url}
        if timeout is not None:
            kwargs["timeout"] = timeout
        if status_callback is not None:
            kwargs["status_callback"] = status_callback
            kwargs["status_callback_event"] = list(CALL_STATUS_EVENTS)
        return self._create("call", lambda: self._calls.create(**kwargs))

    def delete_recording(self, sid: str) -> None:
        """DELETE the Recording resource (retention erases a voicemail at Twilio too). A
        recording Twilio no longer has (404) is as good as deleted."""
        try:
            self.client.recordings(sid).delete()
        except (TwilioRestException, TwilioServiceException) as exc:
            if as_code(exc.status) == 404:
                return
            raise _rest_error("recording deletion", exc) from None
        except httpx.HTTPError as exc:
            raise SendError(
                f"recording not deleted: cannot reach Twilio ({type(exc).__name__})",
                retryable=True,
            ) from exc

    def stream_media(self, url: str) -> tuple[str, Iterator[bytes]]:
        """A recording (or other media) at Twilio, fetched with the account's credentials:
        with "HTTP auth for media" on, nothing else can read it. The URL is moved onto
        TWILIO_API_BASE_URL like every REST call, so the credentials never go elsewhere
        (a redirect to another host drops them). Returns its media type and its bytes."""
        client = self.http_client._client
        request = client.build_request("GET", self.http_client.rebase(url))
        try:
            response = client.send(
                request,
                stream=True,
                auth=httpx.BasicAuth(*self._credentials),
                follow_redirects=True,
            )
        except httpx.HTTPError as exc:
            raise SendError(
                f"recording not fetched: cannot reach Twilio ({type(exc).__name__})",
                retryable=True,
            ) from exc
        if response.status_code != 200:
            response.close()
            raise SendError(
                f"recording not fetched: HTTP {response.status_code}",
                retryable=response.status_code >= 500,
                http_status=response.status_code,
            )

        def chunks() -> Iterator[bytes]:
            try:
                yield from response.iter_bytes()
            finally:
                response.close()

        return response.headers.get("content-type", "audio/mpeg"), chunks()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http_client.close()

    def __enter__(self) -> TwilioTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _create(self, kind: str, create: Callable[[], _HasSidStatus]) -> Sent:
        """Run one create call and translate its outcome into `Sent` or `SendError`."""
        try:
            instance = create()
        except (TwilioRestException, TwilioServiceException) as exc:
            # `from None`: Twilio's message text can quote phone numbers; status and code suffice.
            raise _rest_error(kind, exc) from None
        except httpx.TimeoutException as exc:
            raise SendError(
                f"{kind} not confirmed: timeout talking to Twilio ({type(exc).__name__})",
                retryable=True,
            ) from exc
        except httpx.TransportError as exc:
            raise SendError(
                f"{kind} not sent: cannot reach Twilio ({type(exc).__name__})", retryable=True
            ) from exc
        except json.JSONDecodeError:
            raise SendError(
                f"{kind} not confirmed: unreadable answer from Twilio", retryable=True
            ) from None
        except TwilioException as exc:
            raise SendError(
                f"{kind} not sent: twilio client error ({type(exc).__name__})", retryable=False
            ) from None
        if not instance.sid:
            raise SendError(f"{kind} not confirmed: Twilio's answer has no SID", retryable=True)
        status = instance.status
        return Sent(sid=str(instance.sid), status=str(status) if status else "queued")


def _rest_error(kind: str, exc: TwilioRestException | TwilioServiceException) -> SendError:
    """Classify an HTTP error answer: 5xx and 429 may pass later, other 4xx will not."""
    status = as_code(exc.status)
    code = as_code(exc.code)
    if code is not None and code == status:
        # The package falls back to the HTTP status when the answer carries no error code.
        code = None
    reason = f"Twilio refused {kind}: HTTP {status}"
    if code is not None:
        reason += f", error {code}"
        name = label(code)
        if name:
            reason += f" ({name})"
    return SendError(
        reason,
        retryable=refusal(status, code) is Verdict.RETRY,
        code=code,
        http_status=status,
    )
