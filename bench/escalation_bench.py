"""Escalation at scale: 10,000 open unacknowledged cases whose next tier comes due over two
minutes, one worker; how late each tier page reaches the Twilio stand-in (issue 13, target 3).

Setup (before any hotline process starts): the roster (bench/rig.py) has tier 1 = the three
on-call leads at 0 minutes and tier 2 = the two alternates at 5 minutes. The cases are written
straight into the database through the app's own models (app.cases.models.Case and Message, one
ORM transaction, the report text encrypted by the app's keyring), each as a case whose tier 1
already ran: `next_step` 1, `escalation_started_at` 5 minutes before its tier-2 due time, and
`next_due_at` that due time (ADR 0002: the due time is stored on the case). Due times are spread
evenly over `--spread` seconds starting `--lead` seconds after seeding, so the servers are up
first. Then the hotline starts as deployed (SQLite: `hotline serve` with its embedded worker;
PostgreSQL: a scratch database, `hotline serve` with HOTLINE_WORKER=off and one `hotline
worker`) and every page to an alternate is matched to its case by the "Case N" in its body.
Lateness = arrival at the stand-in minus the case's due time. Not a test:

    .venv/bin/python bench/escalation_bench.py [--cases 10000] [--spread 120] [--db sqlite postgres]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime, timedelta

import rig
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import sessionmaker

from app.cases.models import Case, Message
from app.privacy import keys
from app.roster.models import Hotline, Responder
from app.settings import Settings

CASE = re.compile(r"\bCase (\d+)\b")
FIRST_CASE = 100_000  # case numbers are explicit, clear of any the app draws
TIER2_MINUTES = 5


def seed(hl: rig.Hotline, count: int, lead: float, spread: float) -> dict[int, float]:
    """Write `count` open cases awaiting tier 2; returns case number -> due time (epoch s)."""
    settings = Settings(
        HOTLINE_DATABASE_URL=hl.database_url,
        HOTLINE_DATA_KEY=hl.env["HOTLINE_DATA_KEY"],
        HOTLINE_AUDIT_KEY=hl.env["HOTLINE_AUDIT_KEY"],
    )
    keys.ensure(settings)
    engine = create_engine(hl.database_url)
    sessions = sessionmaker(engine)
    far = datetime.now(UTC) + timedelta(days=1)
    with sessions() as session, session.begin():
        hotline = session.scalars(select(Hotline).where(Hotline.number == rig.HOTLINE)).one()
        # Who was on the roster when the case opened (as the app's open_case keeps it).
        members = list(
            session.scalars(
                select(Responder.id).where(Responder.hotline_id == hotline.id, Responder.active)
            )
        )
        for k, sender in zip(range(count), rig.reporters(), strict=False):
            case = Case(
                id=FIRST_CASE + k,
                hotline_id=hotline.id,
                reporter_phone=sender,
                channel="sms",
                status="open",
                emergency=False,
                unroutable=False,
                opened_at=far,
                policy=hotline.policy,
                escalation_started_at=far,
                next_step=1,
                next_due_at=far,
                members=members,
                paging_round=0,
            )
            session.add(case)
            body = f"ref e{k}: someone keeps following people at the booths"
            session.add(
                Message(case_id=case.id, direction="in", author="reporter", body=body, at=far)
            )
        session.flush()
        # The due times last, so seeding time does not eat into the lead.
        start = datetime.now(UTC) + timedelta(seconds=lead)
        due = {FIRST_CASE + k: start + timedelta(seconds=spread * k / count) for k in range(count)}
        opened = {n: at - timedelta(minutes=TIER2_MINUTES) for n, at in due.items()}
        session.execute(
            update(Case),
            [
                {
                    "id": n,
                    "next_due_at": at,
                    "escalation_started_at": opened[n],
                    "opened_at": opened[n],
                }
                for n, at in due.items()
            ],
        )
    engine.dispose()
    return {n: at.timestamp() for n, at in due.items()}


def measure(db: str, count: int, lead: float, spread: float, grace: float) -> dict[str, str]:
    standin = rig.StandIn()
    due: dict[int, float] = {}
    seeded = {}

    def setup(hl: rig.Hotline) -> None:
        began = time.monotonic()
        due.update(seed(hl, count, lead, spread))
        seeded["seconds"] = time.monotonic() - began

    try:
        with rig.hotline(db, standin, tier2_minutes=TIER2_MINUTES, before_start=setup):
            print(f"{db}: seeded {count:,} cases in {seeded['seconds']:.1f} s", file=sys.stderr)
            expected = count * len(rig.ALTERNATES)
            until = max(due.values()) + grace
            late: list[float] = []
            seen = 0
            while len(late) < expected and time.time() < until:
                time.sleep(1)
                new = standin.received(since=seen)
                seen += len(new)
                for rec in new:
                    found = CASE.search(str(rec["body"]))
                    if found and int(found[1]) in due and rec["to"] in rig.ALTERNATES:
                        late.append(float(rec["at"]) - due[int(found[1])])
    finally:
        standin.close()
    return {
        "cases": f"{count:,}",
        "tier pages": f"{len(late):,} of {expected:,}",
        "p50": rig.ms(rig.percentile(late, 50)),
        "p99": rig.ms(rig.percentile(late, 99)),
        "max": rig.ms(max(late, default=float("nan"))),
        "seeding": f"{seeded['seconds']:.1f} s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=120, help="seconds the due times span")
    parser.add_argument("--lead", type=float, default=20, help="seconds from seeding to first due")
    parser.add_argument(
        "--grace", type=float, default=900, help="seconds after the last due time to wait"
    )
    parser.add_argument("--db", nargs="+", choices=rig.DATABASES, default=list(rig.DATABASES))
    args = parser.parse_args()
    rows = {db: measure(db, args.cases, args.lead, args.spread, args.grace) for db in args.db}
    rig.print_table(
        f"Tier pages after their due time, {args.cases:,} cases due over {args.spread:g} s", rows
    )


if __name__ == "__main__":
    main()
