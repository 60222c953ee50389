"""Inbound-SMS webhook throughput and latency: hotline against the Flask baseline.

Runs each server on loopback, drives it with wrk (Debian package `wrk`) replaying pre-signed
webhooks (no MessageSid repeats), and prints requests/s and latency percentiles. Not a test:

    .venv/bin/pip install -e '.[bench]'    # the Flask baseline's flask and waitress
    .venv/bin/python bench/webhook_bench.py [--seconds 10] [--connections 16]

The hotline runs its embedded default: SQLite in WAL mode, the console transport, the
embedded worker paging as it would in production.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx

from app.telephony.signature import sign

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
HOTLINE = "+15555550100"
TOKEN = "bench-auth-token"
# 555-01xx numbers only: reporters are the ones no responder in the example roster has.
ROSTER_PHONES = {"+15555550111", "+15555550112", "+15555550113", "+15555550121", "+15555550122"}
REPORTERS = [
    f"+155555501{n:02d}" for n in range(30, 100) if f"+155555501{n:02d}" not in ROSTER_PHONES
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_requests(path: Path, url: str, count: int) -> None:
    with path.open("w") as out:
        for i in range(count):
            params = {
                "MessageSid": "SM" + uuid.uuid4().hex,
                "AccountSid": "AC" + "0" * 32,
                "From": REPORTERS[i % len(REPORTERS)],
                "To": HOTLINE,
                "Body": f"Report {i}: someone in a red hoodie is following people at booth {i % 9}",
                "NumMedia": "0",
            }
            out.write(f"{sign(TOKEN, url, params)}\t{urlencode(params)}\n")


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def run_wrk(base: str, path: str, requests: Path, seconds: int, connections: int) -> dict[str, str]:
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(HERE / "sms.lua"),
            base,
            "--",
            path,
            str(threads),
            str(requests),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"req/s": re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)}
    for pct in ("50%", "90%", "99%"):
        result[f"p{pct[:-1]}"] = re.search(rf"\s{pct}\s+(\S+)", out).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = non2xx.group(1) if non2xx else "0"
    return result


def bench_hotline(tmp: Path, seconds: int, connections: int) -> dict[str, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
    env.update(
        HOTLINE_DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
        HOTLINE_ROSTER=str(ROOT / "examples" / "roster.yaml"),
        HOTLINE_PUBLIC_URL=base,
        HOTLINE_TRANSPORT="console",
        TWILIO_AUTH_TOKEN=TOKEN,
        HOTLINE_LOG_LEVEL="WARNING",
        HOTLINE_WORKER=os.environ.get("BENCH_WORKER", "embedded"),
    )
    requests = tmp / "hotline.txt"
    write_requests(requests, f"{base}/twilio/sms", 120_000)
    server = subprocess.Popen(
        [BIN / "hotline", "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"{base}/healthz")
        return run_wrk(base, "/twilio/sms", requests, seconds, connections)
    finally:
        server.terminate()
        server.wait()


def bench_flask(tmp: Path, seconds: int, connections: int) -> dict[str, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    requests = tmp / "flask.txt"
    write_requests(requests, f"{base}/incoming_sms", 120_000)
    server = subprocess.Popen(
        [sys.executable, HERE / "flask_baseline.py", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(base)
        return run_wrk(base, "/incoming_sms", requests, seconds, connections)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    load = (args.seconds, args.connections)
    rows = {
        "flask baseline (no validation, no persistence)": bench_flask(tmp, *load),
        "hotline (validates, persists, pages)": bench_hotline(tmp, *load),
    }
    print(f"{args.connections} connections, {args.seconds} s each")
    print("| server | req/s | p50 | p90 | p99 | non-2xx |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['req/s']} | {r['p50']} | {r['p90']} | {r['p99']} | {r['errors']} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
