"""The embedded worker of `hotline serve`, run as a child process rather than a thread.

A worker thread shares the web process's interpreter: every page it sends and every
escalation round it runs holds the same GIL the event loop needs to answer webhooks, and
measured on SQLite that halved the webhook's rate. As a process of its own it runs beside
the web process, on the other core. It is still "embedded" for the operator: `hotline serve`
starts it, stops it, and starts it again should it die.

The web process wakes it at once after a commit that created work (there is no PostgreSQL
NOTIFY on SQLite): a byte on the child's stdin per wake-up. The child stops when its stdin
closes, so it never outlives the web process, even one that was killed.

What the worker counts (pages sent, its rounds, the two histograms) must still show on the
web process's /metrics: unless the operator shares a PROMETHEUS_MULTIPROC_DIR already, the
two processes share a private one for as long as `hotline serve` runs (app.metrics).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

RESTART_AFTER_SECONDS = 1.0
WORKER_COMMAND = [sys.executable, "-c", "from app.cli import main; main()", "worker", "--stdin"]


METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics() -> Iterator[None]:
    """The web process and its worker child count into one private metrics directory,
    removed when the service stops. Must run before app.metrics is imported."""
    if os.environ.get(METRICS_DIR):
        yield  # the operator's own, shared with other processes on purpose
        return
    if "app.metrics" in sys.modules:  # pragma: no cover (serve imports it only after this)
        log.warning("the embedded worker's metrics will not show on /metrics")
        yield
        return
    folder = tempfile.mkdtemp(prefix="hotline-metrics-")
    os.environ[METRICS_DIR] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class WorkerProcess:
    """Runs `hotline worker --stdin` beside the web process and relays its wake-ups."""

    def __init__(self, wakeup: threading.Event) -> None:
        self.wakeup = wakeup
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self._spawn()
        self.threads = [
            threading.Thread(target=self._relay, name="worker-wakeup", daemon=True),
            threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _spawn(self) -> None:
        with self.lock:
            self.child = subprocess.Popen(WORKER_COMMAND, stdin=subprocess.PIPE)

    def _relay(self) -> None:
        """Each wake-up of the web process (a commit that created work) wakes the child."""
        while not self.stopping.is_set():
            self.wakeup.wait()
            self.wakeup.clear()
            if self.stopping.is_set():
                return
            with self.lock:
                child = self.child
            try:
                if child is not None and child.stdin is not None:
                    child.stdin.write(b"\n")
                    child.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass  # the child died: the supervisor starts another, which catches up

    def _supervise(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                child = self.child
            assert child is not None
            code = child.wait()
            if self.stopping.is_set():
                return
            log.error("the embedded worker process ended (exit %s); starting it again", code)
            if self.stopping.wait(RESTART_AFTER_SECONDS):
                return
            self._spawn()

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()
        with self.lock:
            child = self.child
        if child is not None:
            if child.stdin is not None:
                child.stdin.close()  # the child's signal to finish its round and stop
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for thread in self.threads:
            thread.join(timeout=5)
