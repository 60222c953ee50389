"""A separate worker's heartbeat file, and what `hotline worker --health` reads from it.

Kept apart from the worker (and from app.metrics) so a health check, run every half minute
by the container engine, imports little and writes nothing of its own.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

# Older than this, the loop is stuck or gone: three of the worker's longest idle waits
# (app.paging.worker.IDLE_WITH_NOTIFY).
MAX_AGE_SECONDS = 90.0


def write(path: Path, *, ok: bool) -> None:
    """The loop turned; `ok` says whether its last round succeeded. Written whole (rename),
    so a reader never sees half a file. The temporary name carries the pid: workers sharing
    one heartbeat path must not rename each other's half-written file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        part.write_text(json.dumps({"at": time.time(), "pid": os.getpid(), "ok": ok}))
        part.replace(path)
    except OSError:
        log.warning("could not write the heartbeat %s", path, exc_info=True)


def health(path: Path, now: float | None = None) -> tuple[bool, str]:
    """Whether a separate worker's loop is turning and its last round succeeded, read from
    its heartbeat file; with a sentence saying why (for `hotline worker --health`)."""
    try:
        beat = json.loads(path.read_text())
        at, ok = float(beat["at"]), bool(beat["ok"])
    except (OSError, ValueError, KeyError, TypeError):
        return False, f"no readable heartbeat at {path}"
    age = (time.time() if now is None else now) - at
    since = datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
    if age > MAX_AGE_SECONDS:
        return False, f"stuck: last heartbeat {age:.0f} s ago ({since})"
    if not ok:
        return False, f"failing: the last round ({since}) failed; see the worker's log"
    return True, f"ok: last round {age:.0f} s ago"
