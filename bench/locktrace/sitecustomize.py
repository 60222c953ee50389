"""Records how long each SQLite write transaction waited for the write lock, held it, and
how much CPU its thread spent meanwhile, in every process started with this folder on
PYTHONPATH (an absolute path: the bench's servers run in a folder of their own) and
LOCKTRACE_DIR set. bench/lock_trace.py reads what it writes. Not imported otherwise.

Listeners are added around app.db's own: one before its "begin" (the wait starts), one after
it (the lock is held), one before its "commit"/"rollback" (the lock is about to go)."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from typing import Any

OUT = os.environ.get("LOCKTRACE_DIR")


def _where() -> str:
    """The thread and the innermost app function that opened the transaction."""
    frame = sys._getframe(2)
    name = "?"
    while frame is not None:
        path = frame.f_code.co_filename
        if "/app/" in path and not path.endswith("/app/db.py"):
            name = frame.f_code.co_name
            break
        frame = frame.f_back  # type: ignore[assignment]
    return f"{threading.current_thread().name.split('_')[0]}:{name}"


def _role() -> str:
    args = " ".join(sys.argv[1:])
    return "serve" if "serve" in args else "worker" if "worker" in args else "other"


def _install(out: str) -> None:
    from sqlalchemy import event

    import app.db as db

    rows: list[str] = []
    dumping = threading.Lock()
    path = os.path.join(out, f"locks.{_role()}.{os.getpid()}.txt")

    def dump() -> None:
        # Every 200 rows too: a process stopped by a signal runs no atexit.
        with dumping:
            taken = rows[:]
            del rows[: len(taken)]
            if taken:
                with open(path, "a") as file:
                    file.write("\n".join(taken) + "\n")

    serialize = db._serialize_sqlite_transactions

    def traced(engine: Any) -> None:
        def before(conn: Any) -> None:
            conn.info["trace"] = [time.perf_counter()]

        def after(conn: Any) -> None:
            if conn.info.get("holds_write_lock"):  # a transaction that only reads takes none
                conn.info["trace"] += [time.perf_counter(), time.thread_time(), _where()]

        def end(conn: Any) -> None:
            trace = conn.info.pop("trace", None)
            if trace and len(trace) == 4:
                t0, t1, cpu, where = trace
                hold, cpu = time.perf_counter() - t1, time.thread_time() - cpu
                rows.append(f"{t0:.6f} {t1 - t0:.6f} {hold:.6f} {cpu:.6f} {where}")
                if len(rows) >= 200:
                    threading.Thread(target=dump).start()

        # In this order around app.db's listeners (insert=True is not honoured for them).
        event.listen(engine, "begin", before)
        event.listen(engine, "commit", end)
        event.listen(engine, "rollback", end)
        serialize(engine)
        event.listen(engine, "begin", after)

    db._serialize_sqlite_transactions = traced  # type: ignore[assignment]
    atexit.register(dump)


if OUT:
    _install(OUT)
