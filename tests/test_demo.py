"""The offline demo as a new user runs it: `hotline serve` on the embedded default, then
`hotline simulate sms`, and the pages appear on the console transport's output."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HOTLINE_BIN = Path(sys.executable).parent / "hotline"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "roster.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_serve_then_simulate_shows_the_pages(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
    env.update(HOTLINE_ROSTER=str(EXAMPLE), HOTLINE_PUBLIC_URL=base, PYTHONUNBUFFERED="1")
    out = (tmp_path / "serve.out").open("w")
    server = subprocess.Popen(
        [HOTLINE_BIN, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready)
        dotenv = (tmp_path / ".env").read_text()
        assert "TWILIO_AUTH_TOKEN=" in dotenv
        assert "HOTLINE_DATA_KEY=" in dotenv and "HOTLINE_AUDIT_KEY=" in dotenv
        assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600  # it holds secrets
        assert (tmp_path / "hotline.db").stat().st_mode & 0o777 == 0o600
        result = subprocess.run(
            [
                HOTLINE_BIN,
                "simulate",
                "sms",
                "--from",
                "+15555550150",
                "--to",
                "+15555550100",
                "Someone is harassing people at booth 12",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert "<Message>" in result.stdout
        number = re.search(r"case (\d+)", result.stdout)
        assert number and len(number.group(1)) >= 4  # drawn at random, never "case 1"

        def paged() -> bool:
            text = (tmp_path / "serve.out").read_text()
            return "[console] SMS +15555550100 -> +15555550111" in text

        wait_until(paged)
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("hotline.db*"))
        assert b"harassing" not in stored and b"5555550150" not in stored
        assert b"5555550111" in stored  # the roster is there in clear: the grep can find

        call = subprocess.run(
            [
                HOTLINE_BIN,
                "simulate",
                "call",
                "--from",
                "+15555550151",
                "--to",
                "+15555550100",
                "--press",
                "2",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert call.returncode == 0, call.stderr
        greeting, rings = call.stdout.split("HTTP 200")[1:]
        assert "<Gather" in greeting and "press 2" in greeting
        assert "<Dial" in rings and "+15555550121" in rings  # the alternates only
        assert "+15555550111" not in rings
        log = (tmp_path / "serve.out").read_text()
        assert "+15555550150" not in log.split("-> +15555550111", 1)[1].splitlines()[0]
    finally:
        server.terminate()
        server.wait(timeout=15)
        out.close()
