"""The conflict invariant, over random rosters, reports, commands and clock advances:

- no message about a case ever goes to a responder excluded from it at the time of sending;
- every case still open has an eligible responder paged, every taken case is held by an
  eligible responder, and a case is unroutable only when nobody at all is eligible.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.cases.models import Case, Exclusion
from app.paging.eligibility import Person, may_hear
from app.paging.models import Outbound
from app.roster.models import Responder
from tests.conftest import empty
from tests.harness import HOTLINE, Hotline

POOL = [
    ("Avery Quinn", "Avery"),
    ("Blake Rivera", "Blake"),
    ("Casey Moreau", "Casey"),
    ("Dana Okafor", "Dana"),
    ("Emery Lindqvist", "Emery"),
    ("Finley Park", "Finn"),
    ("Gray Santos", "Gray"),
]
REPORTERS = ["+15555550150", "+15555550151", "+15555550152"]
CASE_IN_BODY = re.compile(r"\b[Cc]ase (\d+)\b")
EXAMPLES = int(os.environ.get("HOTLINE_PROPERTY_EXAMPLES", "40"))


@dataclass(frozen=True)
class Roster:
    people: list[tuple[str, str, str, str]]  # name, alias, phone, role
    on_shift: list[bool]
    tiers: list[tuple[str, float]]
    repeat: int

    def yaml(self) -> str:
        lines = [
            "hotlines:",
            f'  - number: "{HOTLINE}"',
            '    name: "Prop Conf"',
            '    timezone: "UTC"',
            "    responders:",
        ]
        for name, alias, phone, role in self.people:
            lines.append(
                f'      - {{name: "{name}", phone: "{phone}", role: {role}, aliases: ["{alias}"]}}'
            )
        shifts = [
            f'      - {{responder: "{p[0]}", start: "2026-05-11T00:00", end: "2026-05-12T00:00"}}'
            for p, on in zip(self.people, self.on_shift, strict=True)
            if on and p[3] == "lead"
        ]
        if shifts:
            lines += ["    shifts:", *shifts]
        lines.append("    escalation:")
        lines += [f"      - {{notify: {t}, after_minutes: {m}}}" for t, m in self.tiers]
        lines.append(f"    repeat: {self.repeat}")
        return "\n".join(lines) + "\n"


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    size = draw(st.integers(1, len(POOL)))
    chosen = draw(st.permutations(range(len(POOL))))[:size]
    roles = draw(st.lists(st.sampled_from(["lead", "alternate"]), min_size=size, max_size=size))
    roles[0] = "lead"  # a roster needs a lead
    people = [
        (POOL[i][0], POOL[i][1], f"+155555501{10 + i}", role)
        for i, role in zip(chosen, roles, strict=True)
    ]
    on_shift = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    targets = draw(
        st.lists(
            st.sampled_from(["on_call_leads", "all_leads", "alternates"]), min_size=1, max_size=4
        )
    )
    gaps = draw(st.lists(st.sampled_from([1.0, 2.0, 5.0]), min_size=len(targets)))
    times = [0.0]
    for gap in gaps[: len(targets) - 1]:
        times.append(times[-1] + gap)
    return Roster(people, on_shift, list(zip(targets, times, strict=True)), draw(st.integers(0, 2)))


def report_text(roster: Roster) -> st.SearchStrategy[str]:
    names = [p[0] for p in roster.people] + [p[1] for p in roster.people] + ["Someone Else"]
    fragment = st.one_of(
        st.just("someone was harassed at the party"),
        st.just("he is still here"),
        st.just("there is a weapon"),
        st.sampled_from(names).map(lambda n: f"it was {n}"),
        st.sampled_from(names).map(lambda n: f"CONFLICT {n}."),
    )
    return st.lists(fragment, min_size=1, max_size=3).map(" ".join)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Roster, list[tuple[str, ...]]]:
    roster = draw(rosters())
    phones = [p[2] for p in roster.people]
    command = st.tuples(
        st.just("text"),
        st.sampled_from(phones),
        st.one_of(
            st.sampled_from(["ACK", "STATUS", "HELP"]),
            st.builds(
                "{} {}".format,
                st.sampled_from(["ACK", "RECUSE", "RESOLVE", "REPLY"]),
                st.integers(1, 3),
            ).map(lambda c: c + " ok" if c.startswith("REPLY") else c),
            report_text(roster).map(lambda t: "NEW " + t),
        ),
    )
    report = st.tuples(st.just("text"), st.sampled_from(REPORTERS), report_text(roster))
    advance = st.tuples(st.just("advance"), st.sampled_from(["0.5", "1", "3", "6"]))
    actions = draw(st.lists(st.one_of(report, report, command, advance), min_size=1, max_size=12))
    return roster, actions


class Watch:
    """Checks, as each message leaves, that its recipient may hear about the case it names."""

    def __init__(self, hl: Hotline) -> None:
        self.hl = hl
        self.violations: list[str] = []
        self.sent = 0
        original = hl.twilio.answer

        def answer(request: httpx.Request) -> httpx.Response:
            self.check(request)
            return original(request)

        hl.respx.routes[0].side_effect = answer

    def check(self, request: httpx.Request) -> None:
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.sent += 1
        with self.hl.services.sessions() as session:
            responder_ids = session.scalars(
                select(Responder.id).where(Responder.phone == form["To"])
            ).all()
            for case_id in {int(n) for n in CASE_IN_BODY.findall(form["Body"])}:
                case = session.get(Case, case_id)
                if case is None or case.reporter_phone == form["To"]:
                    continue  # what the reporter hears about their own report
                excluded = session.scalar(
                    select(Exclusion.id).where(
                        Exclusion.case_id == case_id, Exclusion.responder_id.in_(responder_ids)
                    )
                )
                if excluded is not None:
                    self.violations.append(f"case {case_id} sent to excluded {form['To']}")


def check_routing(hl: Hotline) -> None:
    with hl.services.sessions() as session:
        people = [
            Person(r.id, r.role, r.phone, r.active) for r in session.scalars(select(Responder))
        ]
        for case in session.scalars(select(Case)):
            excluded = {e.responder_id for e in case.exclusions}
            eligible = [p for p in people if may_hear(p, excluded, case.reporter_phone)]
            if case.unroutable:
                assert not eligible, f"case {case.id} unroutable with {eligible}"
            elif case.status == "open":
                heard = set(
                    session.scalars(
                        select(Outbound.responder_id).where(
                            Outbound.case_id == case.id,
                            Outbound.kind == "page",
                            Outbound.status.not_in(("pending", "cancelled", "failed")),
                        )
                    )
                )
                assert heard & {p.id for p in eligible}, f"open case {case.id}: nobody paged"
            elif case.status == "acknowledged":
                assert case.acknowledged_by_id not in excluded


@pytest.fixture
def prop_hotline(database_url: str) -> Iterator[Hotline]:
    hl = Hotline(database_url, roster="")
    yield hl
    hl.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_no_excluded_responder_ever_hears_and_routable_cases_are_paged(
    prop_hotline: Hotline, scenario: tuple[Roster, list[tuple[str, ...]]]
) -> None:
    hl = prop_hotline
    roster, actions = scenario
    empty(hl.services.engine)
    hl.clock.now = hl.clock.now.replace(year=2026, month=5, day=11, hour=12)
    hl.twilio.sent.clear()
    hl.load(roster.yaml())
    watch = Watch(hl)
    for action in actions:
        if action[0] == "text":
            hl.sms(action[1], action[2])
        else:
            hl.clock.advance(minutes=float(action[1]))
        hl.run()
    hl.run()
    assert watch.violations == []
    check_routing(hl)
