"""Every request the hotline makes to Twilio, checked against Twilio's own API description.

`tests/twilio_oai/twilio_api_v2010.extract.json` holds the operations we call, as Twilio
publishes them (see tests/twilio_oai/extract.py). `violations` validates one request with
jsonschema: the path and its parameters, each form field against the request body's schema
(unknown fields, repeated keys that are no arrays, wrong types), and the rules Twilio's docs
state only in prose. The Twilio stand-ins (tests/harness.py, tests/faults/standin.py) run it
on every request of every scenario and answer 400 as Twilio would for what it refuses.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jsonschema import Draft7Validator, FormatChecker

SPEC_PATH = Path(__file__).parent / "twilio_oai" / "twilio_api_v2010.extract.json"
API_PREFIX = "/2010-04-01/"
BODY_MAX = 1600  # "The text content of the outgoing message. Can be up to 1,600 characters"
VALIDITY_RANGE = (1, 36000)
WITHHELD = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696"})
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")

#: Twilio error codes the stand-ins answer with (HTTP 400).
INVALID_PARAMETER = 21604  # stand-in's code for a request the description does not allow
INVALID_TO = 21211
OPTED_OUT = 21610
NOT_A_MOBILE = 21614
BODY_TOO_LONG = 21617
NO_SENDER = 21603  # "A 'From' or 'MessagingServiceSid' parameter is required"
NO_URL = 21205  # a call needs Url, Twiml or ApplicationSid


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def _deref(node: Any) -> Any:
    """The schema with every local $ref replaced by its target (the extract has no cycles)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target: Any = spec()
            for part in ref[2:].split("/"):
                target = target[part]
            return _deref(target)
        return {k: _deref(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_deref(v) for v in node]
    return node


_checker = FormatChecker()


@_checker.checks("phone-number")
@_checker.checks("endpoint")
def _is_endpoint(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_E164.match(value)) or value.startswith(("client:", "sip:", "whatsapp:"))


@_checker.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    host = parts.hostname or ""
    # "URL must contain a valid hostname and underscores are not allowed"
    return parts.scheme in ("http", "https") and bool(host) and "_" not in host


@_checker.checks("twiml")
def _is_twiml(value: object) -> bool:
    try:
        return ET.fromstring(str(value)).tag == "Response"
    except ET.ParseError:
        return False


def _template(path: str) -> re.Pattern[str]:
    return re.compile(
        "^"
        + re.sub(
            r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
        )
        + "$"
    )


@cache
def _operations() -> list[tuple[re.Pattern[str], str, str]]:
    return [
        (_template(p), p, m)
        for p, item in spec()["paths"].items()
        for m in item
        if m in ("get", "post", "delete")
    ]


def operation(method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]] | None:
    """(template path, operation, path parameters) for a request path, wherever it is
    mounted (a stand-in may put a prefix before /2010-04-01/)."""
    at = path.find(API_PREFIX)
    if at < 0:
        return None
    path = path[at:]
    for pattern, template, verb in _operations():
        found = pattern.match(path)
        if found and verb == method.lower():
            return template, _deref(spec()["paths"][template][verb]), found.groupdict()
    return None


def _coerce(value: str, schema: dict[str, Any]) -> object:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value.lower(), value)
    return value


def form_document(body: str, schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The form as the JSON object the schema describes: repeated keys only for arrays."""
    problems: list[str] = []
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    properties = schema.get("properties", {})
    doc: dict[str, Any] = {}
    for key, given in values.items():
        prop = properties.get(key)
        if prop is None:
            problems.append(f"unknown parameter {key!r}")
            continue
        if prop.get("type") == "array":
            doc[key] = [_coerce(v, prop.get("items", {})) for v in given]
        elif len(given) > 1:
            problems.append(f"{key} repeated, but it is no array")
        else:
            doc[key] = _coerce(given[0], prop)
    return doc, problems


def violations(method: str, url: str, body: str = "") -> list[str]:
    """What Twilio's API description (schema and prose) says is wrong with this request."""
    parts = urlsplit(url)
    found = operation(method, parts.path)
    if found is None:
        return [f"{method} {parts.path} is not an operation the hotline may call"]
    template, op, path_params = found
    problems: list[str] = []
    for param in op.get("parameters", []):
        if param.get("in") == "path":
            value = path_params.get(param["name"], "")
            for error in Draft7Validator(param["schema"], format_checker=_checker).iter_errors(
                value
            ):
                problems.append(f"path {param['name']}: {error.message}")
    content = op.get("requestBody", {}).get("content", {})
    form_schema = content.get("application/x-www-form-urlencoded", {}).get("schema")
    if form_schema is None:
        if body:
            problems.append(f"{template} takes no body")
        return problems
    doc, form_problems = form_document(body, form_schema)
    problems += form_problems
    validator = Draft7Validator(form_schema, format_checker=_checker)
    for error in validator.iter_errors(doc):
        where = "/".join(str(p) for p in error.absolute_path) or "body"
        problems.append(f"{where}: {error.message}")
    problems += prose_rules(template, doc)
    return problems


def prose_rules(template: str, doc: dict[str, Any]) -> list[str]:
    """The rules Twilio's docs give in words rather than in the schema."""
    problems = []
    if template.endswith("/Messages.json"):
        body = doc.get("Body")
        if body is None and not doc.get("MediaUrl") and not doc.get("ContentSid"):
            problems.append("a message needs Body, MediaUrl or ContentSid")
        if isinstance(body, str) and len(body.encode("utf-16-le")) // 2 > BODY_MAX:
            problems.append(f"Body is longer than {BODY_MAX} characters")
        validity = doc.get("ValidityPeriod")
        if validity is not None and not (
            isinstance(validity, int) and VALIDITY_RANGE[0] <= validity <= VALIDITY_RANGE[1]
        ):
            problems.append("ValidityPeriod must be an integer from 1 to 36000")
        if not doc.get("From") and not doc.get("MessagingServiceSid"):
            problems.append("a message needs From or MessagingServiceSid")
    if template.endswith("/Calls.json"):
        if not (doc.get("Url") or doc.get("Twiml") or doc.get("ApplicationSid")):
            problems.append("a call needs Url, Twiml or ApplicationSid")
        for key in ("To", "From"):
            if not doc.get(key):
                problems.append(f"a call needs {key}")
    return problems


def refusal(kind: str, form: dict[str, list[str]], problems: list[str]) -> int | None:
    """The Twilio error code for a request Twilio refuses, None when it accepts it.
    `problems` are the request's `violations`."""
    to = (form.get("To") or [""])[0]
    if problems:
        for problem in problems:
            if "longer than 1600" in problem:
                return BODY_TOO_LONG
            if "needs From or MessagingServiceSid" in problem:
                return NO_SENDER
            if "needs Url" in problem:
                return NO_URL
        return INVALID_PARAMETER
    if to in WITHHELD or not _E164.match(to):
        return INVALID_TO
    return None


def kind_of(path: str) -> str:
    """A short name for what a request does, for reports."""
    if path.endswith("/Messages.json"):
        return "message"
    if path.endswith("/Calls.json"):
        return "call"
    return "recording"
