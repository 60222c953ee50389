"""One slow Twilio answer must not hold back other pages (issue 13, target 4).

The Twilio stand-in (bench/twilio_standin.py) holds the first request it gets for `--hold`
seconds (10) before answering, as a slow Twilio would. One report opens a case (its first page
is the held one); `--then` reports (distinct reporters, each a new case paging three leads)
follow at `--rate`/s. For every other page: the time from sending its report to the page
arriving at the stand-in. With sends that wait on each other, these pile up behind the held
one. Runs on each database as deployed (bench/rig.py). Not a test:

    .venv/bin/python bench/slow_answer_bench.py [--hold 10] [--then 8] [--db sqlite postgres]
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

import httpx
import rig

REF = re.compile(r"\bref (s\d+):")


def first_arrivals(received: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The first request for each (report, lead): a retry of a page is not another page."""
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in received:
        found = REF.search(str(rec["body"]))
        if found:
            first.setdefault((found[1], str(rec["to"])), rec)
    return first


def measure(db: str, hold: float, then: int, rate: float) -> dict[str, str]:
    standin = rig.StandIn(hold_seconds=hold, hold_first=1)
    sent: dict[str, float] = {}
    received: list[dict[str, Any]] = []
    try:
        with rig.hotline(db, standin) as hl, httpx.Client(timeout=30) as client:
            url = f"{hl.url}/twilio/sms"
            senders = rig.reporters()
            for i in range(then + 1):
                ref = f"s{i}"
                sent[ref] = time.time()
                headers, body = rig.webhook(url, rig.report_form(next(senders), ref))
                client.post(url, content=body, headers=headers)
                time.sleep(1.0 if i == 0 else 1 / rate)  # the first page is held by then
            expected = (then + 1) * len(rig.LEADS)
            until = time.time() + hold + 10
            while time.time() < until:
                received = standin.received()
                holding = any(float(r["held"]) + float(r["at"]) > time.time() for r in received)
                if len(first_arrivals(received)) >= expected and not holding:
                    break
                time.sleep(0.5)
    finally:
        standin.close()
    held = {pair for pair, rec in first_arrivals(received).items() if float(rec["held"])}
    delays = [
        float(rec["at"]) - sent[ref]
        for (ref, to), rec in first_arrivals(received).items()
        if (ref, to) not in held
    ]
    return {
        "held": f"{len(held)} page for {hold:g} s",
        "other pages": f"{len(delays)} of {expected - len(held)}",
        "p50": rig.ms(rig.percentile(delays, 50)),
        "max": rig.ms(max(delays, default=float("nan"))),
        "over 1 s": str(sum(d > 1 for d in delays)),
        "each (ms, in arrival order)": " ".join(f"{d * 1000:.0f}" for d in delays),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hold", type=float, default=10, help="seconds the held page waits")
    parser.add_argument("--then", type=int, default=8, help="reports after the held one")
    parser.add_argument("--rate", type=float, default=4, help="those reports a second")
    parser.add_argument("--db", nargs="+", choices=rig.DATABASES, default=list(rig.DATABASES))
    args = parser.parse_args()
    rows = {db: measure(db, args.hold, args.then, args.rate) for db in args.db}
    rig.print_table(
        f"Report to page for pages other than one held {args.hold:g} s by the stand-in", rows
    )


if __name__ == "__main__":
    main()
