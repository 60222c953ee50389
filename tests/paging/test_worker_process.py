"""`hotline worker` as a process of its own: the web process only records and announces;
the worker, woken by PostgreSQL NOTIFY, sends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests import TEST_KEYS
from tests.harness import AUTH_TOKEN, PUBLIC_URL, REPORTER, ROSTER, send_sms

HOTLINE_BIN = Path(sys.executable).parent / "hotline"


def test_a_separate_worker_wakes_on_notify_and_sends(pg_url: str, tmp_path: Path) -> None:
    database_url = pg_url
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
    env.update(
        HOTLINE_DATABASE_URL=database_url,
        HOTLINE_TRANSPORT="console",
        PYTHONUNBUFFERED="1",
        HOTLINE_WORKER_NICE="3",
        **TEST_KEYS,
    )
    log = tmp_path / "worker.out"
    worker = subprocess.Popen(
        [HOTLINE_BIN, "worker"],
        cwd=tmp_path,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    settings = Settings(
        HOTLINE_DATABASE_URL=database_url,
        HOTLINE_PUBLIC_URL=PUBLIC_URL,
        HOTLINE_TRANSPORT="console",
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        HOTLINE_ROSTER=str(roster),
        HOTLINE_WORKER="off",
    )
    try:
        deadline = time.monotonic() + 20
        while "worker running" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        # It gives way to the web process for the CPU (HOTLINE_WORKER_NICE).
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(ours + 3, 19)
        time.sleep(0.5)  # let it reach its idle wait, so only a NOTIFY can wake it early
        with TestClient(create_app(settings)) as client:
            sent_at = time.monotonic()
            assert send_sms(client, REPORTER, "report").status_code == 200
            while "[console] SMS" not in log.read_text():
                assert time.monotonic() - sent_at < 10, log.read_text()
                time.sleep(0.02)
        # its idle wait is 30 s: anything well under that was a wake-up
        assert time.monotonic() - sent_at < 10
    finally:
        worker.terminate()
        assert worker.wait(timeout=15) == 0
