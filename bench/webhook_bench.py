"""Inbound-SMS webhook throughput and latency, side by side in one run (issue 13, target 1).

Four servers on loopback, each driven by wrk (Debian package `wrk`) replaying pre-signed
webhooks: every request a distinct report (its own MessageSid) from a distinct reporter, so on
the hotline each one opens a case and pages three leads.

- PyCon's Flask hotline (github.com/PyCon/coc-hotline, `coc-hotline.py`), run from a copy
  outside this repository as it is deployed (`python coc-hotline.py`: waitress, 8 threads),
  Slack off (COC_SLACK_URL unset), harmless 555-01xx numbers in COC_NUMBERS. It checks no
  signature and persists nothing. The copy comes from `--coc-hotline PATH` (get it with
  `git clone https://github.com/PyCon/coc-hotline`) or else from the local mirror
  (`git --git-dir=/work/.mirror/PyCon+coc-hotline/repo show HEAD:coc-hotline.py`).
- A bare FastAPI endpoint on uvicorn answering constant TwiML (bench/bare_fastapi.py).
- The hotline on SQLite with the embedded worker (`hotline serve`, as `make run` does).
- The hotline on PostgreSQL (a scratch database, dropped afterwards) with one `hotline worker`.

Both hotlines page through the real Twilio transport to bench/twilio_standin.py, so their
workers do the HTTP work they do in production. Not a test:

    .venv/bin/pip install -e '.[bench]'    # flask, waitress (and requests) for coc-hotline.py
    .venv/bin/python bench/webhook_bench.py [--seconds 10] [--connections 16] \\
        [--coc-hotline PATH] [--only flask fastapi sqlite postgres]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import rig

MIRROR = Path("/work/.mirror/PyCon+coc-hotline/repo")
SYSTEMS = {
    "flask": "PyCon's Flask hotline (waitress, persists nothing)",
    "fastapi": "bare FastAPI + uvicorn answering constant TwiML",
    "sqlite": "hotline, SQLite, embedded worker (`make run` setup)",
    "postgres": "hotline, PostgreSQL, one `hotline worker`",
}


def coc_hotline_copy(given: Path | None, tmp: Path) -> Path:
    """coc-hotline.py copied into `tmp` (outside the repository), from `given` or the mirror."""
    target = tmp / "coc-hotline" / "coc-hotline.py"
    target.parent.mkdir()
    if given is not None:
        source = given / "coc-hotline.py" if given.is_dir() else given
        shutil.copy(source, target)
        return target
    shown = subprocess.run(
        ["git", f"--git-dir={MIRROR}", "show", "HEAD:coc-hotline.py"],
        capture_output=True,
        text=True,
    )
    if shown.returncode != 0:
        raise SystemExit(
            "no coc-hotline.py: `git clone https://github.com/PyCon/coc-hotline` and pass"
            " --coc-hotline PATH"
        )
    target.write_text(shown.stdout)
    return target


def run_wrk(base: str, path: str, requests: Path, seconds: int, connections: int) -> dict[str, str]:
    threads = min(2, connections)
    load = ["-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    script = ["-s", str(rig.HERE / "sms.lua"), base, "--", path, str(threads), str(requests)]
    out = subprocess.run(
        ["wrk", *load, *script],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    result = {"req/s": f"{rate:,.0f}", "answered": re.search(r"(\d+) requests in", out)[1]}
    for pct in ("50", "90", "99"):
        result[f"p{pct}"] = re.search(rf"\s{pct}%\s+(\S+)", out)[1]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result["non-2xx"] = non2xx[1] if non2xx else "0"
    result["socket errors"] = errors[1].replace(",", "") if errors else "none"
    return result


def drive(
    url: str,
    path: str,
    tmp: Path,
    seconds: int,
    connections: int,
    web: int,
    worker: int | None = None,
) -> dict[str, str]:
    """wrk on `url`+`path` with enough distinct pre-signed reports for the run, and the CPU
    time the web process (pid `web`) and the worker (`worker`) spent per request: a figure
    that other load on the machine barely moves, unlike the rate."""
    requests = tmp / f"requests-{rig.free_port()}.txt"
    rig.write_wrk_requests(requests, url + path, min(79_000, seconds * 5_000))
    pids = {"web": web, "worker": worker}
    try:
        before = {name: rig.cpu_seconds(pid) for name, pid in pids.items() if pid}
        result = run_wrk(url, path, requests, seconds, connections)
        answered = int(result["answered"])
        for name, start in before.items():
            spent = rig.cpu_seconds(pids[name]) - start  # type: ignore[arg-type]
            result[f"{name} CPU/req"] = f"{1000 * spent / max(answered, 1):.2f} ms"
        return result
    finally:
        requests.unlink()


def bench_flask(script: Path, tmp: Path, seconds: int, connections: int) -> dict[str, str]:
    port = rig.free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COC_")}
    leads = ",".join(rig.LEADS)
    env.update(PORT=str(port), COC_NUMBERS=leads, COC_AFTER_HOURS_NUMBERS=leads)
    env.update(COC_HTTP_SCHEME="http", PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [sys.executable, script.name],
        cwd=script.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # waitress's "task queue depth" warnings under load
    )
    try:
        rig.wait_ready(f"{url}/_health", server)
        return drive(url, "/incoming_sms", tmp, seconds, connections, server.pid)
    finally:
        rig.stop(server)


def bench_fastapi(tmp: Path, seconds: int, connections: int) -> dict[str, str]:
    port = rig.free_port()
    url = f"http://127.0.0.1:{port}"
    app = ["--app-dir", str(rig.HERE), "bare_fastapi:app", "--port", str(port)]
    quiet = ["--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", *app, *quiet])
    try:
        rig.wait_ready(f"{url}/healthz", server)
        return drive(url, "/twilio/sms", tmp, seconds, connections, server.pid)
    finally:
        rig.stop(server)


def bench_hotline(db: str, tmp: Path, seconds: int, connections: int) -> dict[str, str]:
    standin = rig.StandIn()
    try:
        with rig.hotline(db, standin) as hl:
            before = len(standin.received())
            web = hl.procs[0].pid
            worker = hl.procs[1].pid if len(hl.procs) > 1 else next(iter(rig.children(web)), None)
            result = drive(hl.url, "/twilio/sms", tmp, seconds, connections, web, worker)
            result["pages during run"] = f"{len(standin.received(since=before)):,}"
            return result
    finally:
        standin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--coc-hotline", type=Path, help="coc-hotline.py or a clone of its repo")
    parser.add_argument("--only", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="hotline-webhook-bench-"))
    load = (tmp, args.seconds, args.connections)
    try:
        runs: dict[str, Callable[[], dict[str, str]]] = {
            "flask": lambda: bench_flask(coc_hotline_copy(args.coc_hotline, tmp), *load),
            "fastapi": lambda: bench_fastapi(*load),
            "sqlite": lambda: bench_hotline("sqlite", *load),
            "postgres": lambda: bench_hotline("postgres", *load),
        }
        rows = {}
        for name in args.only:
            rows[SYSTEMS[name]] = runs[name]()
            time.sleep(1)  # let the previous server's sockets and files go
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nInbound SMS webhook, distinct reports, wrk {args.connections} connections,")
    print(f"{args.seconds} s each, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
    print(f"`{rig.command_line()}`\n")
    columns = ["req/s", "p50", "p90", "p99", "non-2xx", "socket errors", "pages during run"]
    columns += ["web CPU/req", "worker CPU/req"]
    print("| system | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(row.get(c, "-") for c in columns) + " |")


if __name__ == "__main__":
    main()
