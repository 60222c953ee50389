"""A local, append-only spool of signed webhooks that the database could not take.

While the database is unreachable a webhook is still answered (app.telephony.outage); what
Twilio sent is first written here, one JSON line per webhook, and fsync'd (the file, and the
directory when the file is new) before the answer goes out. When the database is back the
entries are replayed through the handlers the webhooks use, which are idempotent by Twilio's
SID: an entry that already landed (the commit succeeded but its answer was lost, or Twilio
also tried the fallback URL) changes nothing the second time. That makes replay safe to
repeat, so the spool is only ever shortened after its entries landed:

- `webhooks.jsonl`: appends go here (under `spool.lock`, flock'd, so processes sharing the
  directory never interleave a write with a rotation).
- `replaying.jsonl`: a replay first renames the file above to this name, then replays it
  line by line; it is removed once every line landed. If the database fails again midway,
  the lines that landed are cut off (atomic rewrite) and the rest waits for the next try. A
  crash at any point leaves it in place, and the next replay starts with it.
- `failed.jsonl`: an entry whose replay failed for a reason other than the database being
  unreachable (a bug, a malformed line) is moved here with the error, logged, and skipped,
  so one bad entry cannot hold back every report behind it. Nothing here is replayed by
  itself: an operator looks at it (`hotline spool status`, `hotline spool replay --failed`).

One replay runs at a time per directory (`replay.lock`, non-blocking: a second replayer
simply leaves it to the first).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

ENTRIES = "webhooks.jsonl"
REPLAYING = "replaying.jsonl"
FAILED = "failed.jsonl"
LOCK = "spool.lock"
REPLAY_LOCK = "replay.lock"


@dataclass(frozen=True)
class Entry:
    """A webhook as Twilio sent it: enough to check its signature again and to replay it."""

    path: str  # the path and query Twilio requested, e.g. "/twilio/voice/recorded?case=3"
    params: dict[str, str]
    received_at: datetime
    signature: str | None = None

    def to_line(self) -> bytes:
        data = {
            "path": self.path,
            "params": self.params,
            "received_at": self.received_at.isoformat(),
            "signature": self.signature,
        }
        return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_line(cls, line: bytes) -> Entry:
        data = json.loads(line)
        params = data["params"]
        if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()
        ):
            raise ValueError("params must map strings to strings")
        return cls(
            path=str(data["path"]),
            params=params,
            received_at=datetime.fromisoformat(data["received_at"]),
            signature=data.get("signature"),
        )


@dataclass
class ReplayResult:
    landed: int = 0  # entries run through their handler (including ones that had landed before)
    failed: int = 0  # entries moved to failed.jsonl
    done: bool = True  # False: the database failed again (or another replay runs); try later
    error: str | None = None


class Spool:
    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory).absolute()
        self.appended = threading.Event()  # set by every append: wakes the replayer
        self._lock = threading.Lock()  # this process's appends and rotations, in turn
        self._replaying = threading.Lock()
        self._dir_ready = False

    # --- writing ------------------------------------------------------------------------

    def append(self, entry: Entry) -> None:
        """Write one entry durably; returns only once it is on disk. Raises OSError."""
        line = entry.to_line()
        with self._exclusive():
            path = self.dir / ENTRIES
            created = not path.exists()
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if not created and not _ends_with_newline(fd):
                    line = b"\n" + line  # a torn last line (crash mid-write) stays on its own
                _write_all(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.dir)
        self.appended.set()

    # --- reading ------------------------------------------------------------------------

    def depth(self) -> int:
        """Entries waiting to be replayed (including any that a running replay just landed)."""
        return len(self._waiting_lines())

    def failed(self) -> int:
        return _count_lines(self.dir / FAILED)

    def entries(self) -> list[Entry]:
        """Every waiting entry, oldest first (for tests and `hotline spool status`)."""
        out = []
        for line in self._waiting_lines():
            try:
                out.append(Entry.from_line(line))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def _waiting_lines(self) -> list[bytes]:
        if not self.dir.exists():
            return []
        with self._exclusive():  # not halfway through a rotation from one file to the other
            return _lines(self.dir / REPLAYING) + _lines(self.dir / ENTRIES)

    # --- replaying ----------------------------------------------------------------------

    def replay(
        self,
        run: Callable[[Entry], object],
        *,
        retry_later: tuple[type[BaseException], ...],
    ) -> ReplayResult:
        """Run every waiting entry through `run`, oldest first.

        `run` raising one of `retry_later` (the database is unreachable again) stops the
        replay and keeps that entry and the ones after it; any other error moves the entry
        to failed.jsonl. The spool is shortened only after entries landed.
        """
        result = ReplayResult()
        if not self.dir.exists():
            return result
        if not self._replaying.acquire(blocking=False):
            return ReplayResult(done=False, error="another replay is running in this process")
        try:
            fd = os.open(self.dir / REPLAY_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return ReplayResult(done=False, error="another process is replaying")
                while self._take_batch():
                    if not self._replay_batch(run, retry_later, result):
                        break
            finally:
                os.close(fd)
        finally:
            self._replaying.release()
        return result

    def _take_batch(self) -> bool:
        """Make sure replaying.jsonl holds the next entries; False when nothing waits."""
        replaying = self.dir / REPLAYING
        if replaying.exists():
            return True  # left by a failed or interrupted replay: its turn comes first
        with self._exclusive():
            entries = self.dir / ENTRIES
            if not entries.exists() or entries.stat().st_size == 0:
                return False
            os.rename(entries, replaying)
            _fsync_dir(self.dir)
        return True

    def _replay_batch(
        self,
        run: Callable[[Entry], object],
        retry_later: tuple[type[BaseException], ...],
        result: ReplayResult,
    ) -> bool:
        replaying = self.dir / REPLAYING
        lines = _lines(replaying)
        for index, line in enumerate(lines):
            try:
                entry = Entry.from_line(line)
            except (ValueError, KeyError, TypeError) as exc:
                self._dead_letter(line, f"unreadable spool line: {exc}")
                result.failed += 1
                continue
            try:
                run(entry)
            except retry_later as exc:
                result.done = False
                result.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                if index:
                    _replace(replaying, b"".join(lines[index:]))
                return False
            except Exception as exc:
                log.exception("spooled webhook %s could not be replayed", entry.path)
                self._dead_letter(line, f"{type(exc).__name__}: {exc}")
                result.failed += 1
                continue
            result.landed += 1
        os.unlink(replaying)
        _fsync_dir(self.dir)
        return True

    def retry_failed(self) -> int:
        """Put the failed entries back in line (after a fix); returns how many."""
        failed = self.dir / FAILED
        moved = []
        for line in _lines(failed):
            try:
                moved.append(json.loads(line)["entry"])
            except (ValueError, KeyError, TypeError):
                continue
        if not moved:
            return 0
        with self._exclusive():
            fd = os.open(self.dir / ENTRIES, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if not _ends_with_newline(fd):
                    _write_all(fd, b"\n")
                _write_all(fd, "".join(m.rstrip("\n") + "\n" for m in moved).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.unlink(failed)
            _fsync_dir(self.dir)
        self.appended.set()
        return len(moved)

    def _dead_letter(self, line: bytes, error: str) -> None:
        record = {"entry": line.decode(errors="replace").rstrip("\n"), "error": error}
        with self._exclusive():
            fd = os.open(self.dir / FAILED, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _write_all(fd, (json.dumps(record, ensure_ascii=False) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            _fsync_dir(self.dir)
        log.error("spooled webhook moved to %s: %s", self.dir / FAILED, error)

    # --- locking ------------------------------------------------------------------------

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock:
            self._ensure_dir()
            fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # and with it the flock

    def _ensure_dir(self) -> None:
        if self._dir_ready and self.dir.is_dir():
            return
        missing = [p for p in (self.dir, *self.dir.parents) if not p.exists()]
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for created in missing:
            _fsync_dir(created.parent)
        self._dir_ready = True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _ends_with_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(path: Path, data: bytes) -> None:
    """Atomically give `path` new contents."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return [line + b"\n" for line in data.split(b"\n") if line.strip()]


def _count_lines(path: Path) -> int:
    return len(_lines(path))
