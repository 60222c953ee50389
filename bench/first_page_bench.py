"""Time from a report to its first page at the Twilio stand-in, reports at a steady rate.

Issue 13's target 2: distinct reporters texting new reports at a steady 50/s for 30 s; for
each report, the time from sending its webhook to the first page quoting it arriving at the
stand-in (bench/twilio_standin.py). A report with no page by 10 s after the last one was sent
is lost. Runs on each database as deployed (bench/rig.py): SQLite with the embedded worker,
PostgreSQL (a scratch database) with one `hotline worker`. Not a test:

    .venv/bin/python bench/first_page_bench.py [--rate 50] [--seconds 30] [--db sqlite postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

import httpx
import rig

REF = re.compile(r"\bref (f\d+):")
GRACE = 10.0  # seconds after the last report for its page to come


async def send_steadily(url: str, rate: float, seconds: float) -> dict[str, tuple[float, int]]:
    """Open loop: report i leaves at start + i/rate whatever earlier answers took.
    Returns ref -> (time sent, HTTP status)."""
    sent: dict[str, tuple[float, int]] = {}
    senders = rig.reporters()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(ref: str) -> None:
            headers, body = rig.webhook(url, rig.report_form(next(senders), ref))
            at = time.time()
            try:
                status = (await client.post(url, content=body, headers=headers)).status_code
            except httpx.HTTPError:
                status = 0
            sent[ref] = (at, status)

        tasks = []
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(f"f{i}")))
        await asyncio.gather(*tasks)
    return sent


def first_pages(standin: rig.StandIn, refs: set[str], until: float) -> dict[str, float]:
    """ref -> arrival of its first page, polling the stand-in until all came or `until`."""
    first: dict[str, float] = {}
    seen = 0
    while True:
        new = standin.received(since=seen)
        seen += len(new)
        for rec in new:
            found = REF.search(str(rec["body"]))
            if found and found[1] in refs:
                first.setdefault(found[1], float(rec["at"]))
        if len(first) == len(refs) or time.time() > until:
            return first
        time.sleep(0.5)


def measure(db: str, rate: float, seconds: float) -> dict[str, str]:
    standin = rig.StandIn()
    try:
        with rig.hotline(db, standin) as hl:
            sent = asyncio.run(send_steadily(f"{hl.url}/twilio/sms", rate, seconds))
            answered = {ref for ref, (_, status) in sent.items() if status == 200}
            last = max(at for at, _ in sent.values())
            first = first_pages(standin, set(sent), last + GRACE)
    finally:
        standin.close()
    delays = [first[ref] - at for ref, (at, _) in sent.items() if ref in first]
    return {
        "reports": str(len(sent)),
        "answered 200": str(len(answered)),
        "p50": rig.ms(rig.percentile(delays, 50)),
        "p90": rig.ms(rig.percentile(delays, 90)),
        "p99": rig.ms(rig.percentile(delays, 99)),
        "max": rig.ms(max(delays, default=float("nan"))),
        "lost": str(len(sent) - len(first)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50, help="reports a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--db", nargs="+", choices=rig.DATABASES, default=list(rig.DATABASES))
    args = parser.parse_args()
    rows = {db: measure(db, args.rate, args.seconds) for db in args.db}
    rig.print_table(
        f"Report to first page at the stand-in, {args.rate:g}/s for {args.seconds:g} s", rows
    )


if __name__ == "__main__":
    main()
