"""How the service logs: text for people, or one JSON object a line (HOTLINE_LOG_FORMAT=json)
for a log collector.

What a log line may hold is narrower than what the case log holds: at INFO never a message
body, a phone number or a URL's query string (a chair's `?q=` search is report content).
Case events are logged from a whitelist of fields (`EVENT_FIELDS`) by app.observe, and the
access log loses its query strings here, whatever the format.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

EVENTS_LOGGER = "hotline.events"
ACCESS_LOGGER = "uvicorn.access"

#: Fields of a case event that may appear in a log line: vocabulary, counts and ids only.
#: Never `to`/`responders` (names), a body, a number, a SID's recording URL or a reason text.
EVENT_FIELDS = (
    "channel",
    "kind",
    "via",
    "step",
    "tier",
    "run",
    "notify",
    "fallback",
    "attempt",
    "status",
    "code",
    "outcome",
    "reason",
    "possible_duplicate",
)

# A field's text value is logged only when it is a word of a vocabulary (`sms`, `named_in_report`)
# or a short code (`21610`): a provider's error text can quote a phone number.
_WORD = re.compile(r"[a-z][a-z0-9_-]{0,39}|[0-9]{1,6}")

# Attributes every LogRecord has; anything else on a record was passed with `extra=`.
# (uvicorn adds `color_message`, the message with terminal colours.)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, and the `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class AccessLogWithoutQuery(logging.Filter):
    """uvicorn's access log names the path with its query string; keep the path only, and
    give the JSON format the request's parts as fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, http_version, status = args
            path = str(path).split("?", 1)[0]
            record.args = (client, method, path, http_version, status)
            record.method, record.path, record.status = method, path, status
        return True


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Set up the root logger once per process; uvicorn's loggers propagate to it (serve
    passes `log_config=None`), so its access log is filtered and formatted the same way."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request at INFO; the case events already say what was sent.
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, AccessLogWithoutQuery) for f in access.filters):
        access.addFilter(AccessLogWithoutQuery())


def case_event(case: int | None, event: str, detail: dict[str, Any], level: int) -> None:
    """The log line of one committed case event, with whitelisted fields only."""
    logger = logging.getLogger(EVENTS_LOGGER)
    if not logger.isEnabledFor(level):
        return  # most are DEBUG: not worth their fields and text on the webhook's hot path
    fields = {key: detail[key] for key in EVENT_FIELDS if _loggable(detail.get(key))}
    shown = " ".join(f"{key}={value}" for key, value in fields.items())
    subject = f"case {case}" if case is not None else "no case"
    logger.log(
        level,
        "%s: %s%s",
        subject,
        event,
        f" ({shown})" if shown else "",
        extra={"case": case, "event": event, **fields},
    )


def _loggable(value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and _WORD.fullmatch(value) is not None
