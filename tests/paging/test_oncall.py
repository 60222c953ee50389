"""Who is on call: each tier of a report at a given time, by the rules paging follows, and
the shifts as a calendar feed behind a token that reads nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from app.auth.tokens import create_token, revoke_token
from app.cli import cli
from app.paging.eligibility import Person, Span
from app.paging.oncall import next_change, plan_tiers
from app.settings import get_settings
from tests.harness import AVERY, BLAKE, CASEY, HOTLINE, REPORTER, START, Hotline, recipients
from tests.web.conftest import Api

POLICY = {
    "tiers": [
        {"notify": "on_call_leads", "after_minutes": 0},
        {"notify": "all_leads", "after_minutes": 5},
        {"notify": "alternates", "after_minutes": 10},
    ],
    "repeat": 1,
}
PEOPLE = [Person(1, "lead", "+15555550111"), Person(2, "lead", "+15555550112")]
NAMES = {1: "Avery", 2: "Blake"}
SHIFT = Span(1, datetime(2026, 5, 11, 12, tzinfo=UTC), datetime(2026, 5, 12, 0, tzinfo=UTC))


def test_each_tier_names_whom_the_engine_would_page() -> None:
    during = plan_tiers(POLICY, PEOPLE, [SHIFT], NAMES, START)
    assert [t.responders for t in during[:2]] == [("Avery",), ("Avery", "Blake")]
    assert during[1].at == datetime(2026, 5, 11, 16, 5, tzinfo=UTC)
    # nobody is an alternate: the engine skips to the fallback, and so does the answer
    assert during[2].responders == () and "instead" in (during[2].note or "")
    after = plan_tiers(POLICY, PEOPLE, [SHIFT], NAMES, datetime(2026, 5, 12, 1, tzinfo=UTC))
    assert after[0].responders == ("Avery", "Blake")  # no shift covers it: every lead


def test_the_next_change_is_the_shift_boundary_that_changes_who_is_on_call() -> None:
    change, then = next_change(PEOPLE, [SHIFT], START)
    assert change == SHIFT.end and [p.id for p in then] == [1, 2]
    assert next_change(PEOPLE, [SHIFT], SHIFT.end) == (None, [])


def test_the_api_answers_in_the_hotlines_time_zone_and_matches_real_paging(api: Api) -> None:
    hl = api.hl
    chair = api.token("chair")
    [entry] = api.ok("/api/oncall", chair, at="2026-05-11T12:00")  # New York noon
    assert entry["at"].startswith("2026-05-11T16:00")
    tiers = {t["tier"]: t["responders"] for t in entry["tiers"]}
    assert tiers == {
        1: ["Avery Quinn"],
        2: ["Avery Quinn", "Blake Rivera", "Casey Moreau"],
        3: ["Dana Okafor", "Emery Lindqvist"],
    }
    assert entry["next_change"].startswith("2026-05-12T00:00")  # 20:00 in New York

    hl.answer(REPORTER, "report")  # the harness clock is New York noon
    assert recipients(hl.run()) == {AVERY}
    assert recipients(hl.after(minutes=5)) == {AVERY, BLAKE, CASEY}

    same = api.ok("/api/oncall", chair, at="2026-05-11T16:00:00+00:00", hotline=HOTLINE)
    assert same[0]["tiers"] == entry["tiers"]
    night = api.ok("/api/oncall", chair, at="2026-05-11T22:00")
    assert night[0]["tiers"][0]["responders"] == ["Avery Quinn", "Blake Rivera", "Casey Moreau"]
    assert api.get("/api/oncall", chair, at="tomorrow").status_code == 422
    assert api.get("/api/oncall", chair, at="1800-01-01T00:00").status_code == 400
    assert api.get("/api/oncall", chair, hotline="+15555550109").status_code == 404


@pytest.fixture
def api(hl: Hotline) -> Api:
    return Api(hl)


@pytest.fixture
def oncall_cli(hl: Hotline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliRunner]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", hl.settings.database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_the_oncall_command_prints_each_tier_in_local_time(oncall_cli: CliRunner) -> None:
    result = oncall_cli.invoke(cli, ["oncall", "--hotline", HOTLINE, "--at", "2026-05-11T12:00"])
    assert result.exit_code == 0, result.output
    assert "a report at 2026-05-11 12:00 EDT" in result.output
    assert "tier 1 on_call_leads" in result.output and ": Avery Quinn\n" in result.output
    assert "tier 3 alternates" in result.output and "Dana Okafor, Emery Lindqvist" in result.output
    assert "next change 2026-05-11 20:00 EDT" in result.output
    bad = oncall_cli.invoke(cli, ["oncall", "--at", "soon"])
    assert bad.exit_code == 1


def test_the_calendar_feed_reads_with_its_token_and_the_token_reads_nothing_else(
    api: Api,
) -> None:
    hl = api.hl
    token = create_token(
        hl.services.sessions,
        role="calendar",
        responder=None,
        name="Avery's phone",
        now=hl.clock(),
        hotline=HOTLINE,
    )
    url = f"/api/hotlines/{HOTLINE}/shifts.ics"
    response = hl.client.get(url, params={"token": token})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    [shift] = [c for c in calendar.walk("VEVENT")]
    assert str(shift["summary"]) == "On call: Avery Quinn (lead)"
    assert shift.decoded("dtstart") == datetime(2026, 5, 11, 12, 0, tzinfo=UTC)
    assert shift.decoded("dtend") == datetime(2026, 5, 12, 0, 0, tzinfo=UTC)
    assert "+1555555011" not in response.text  # no responder's number

    # it reads nothing else
    assert api.get("/api/cases", token).status_code == 403
    assert api.get("/api/oncall", token).status_code == 403
    assert api.get("/api/events", token).status_code == 403
    # and nothing else reads the feed
    chair = api.token("chair")
    assert hl.client.get(url, params={"token": chair}).status_code == 401
    assert hl.client.get(url).status_code == 422
    other = "/api/hotlines/+15555550101/shifts.ics"
    assert hl.client.get(other, params={"token": token}).status_code == 401
    revoke_token(hl.services.sessions, 1, hl.clock())
    assert hl.client.get(url, params={"token": token}).status_code == 401


def test_a_calendar_token_needs_its_hotline(api: Api, oncall_cli: CliRunner) -> None:
    missing = oncall_cli.invoke(cli, ["token", "create", "--role", "calendar"])
    assert missing.exit_code == 1 and "--hotline" in missing.output
    wrong = oncall_cli.invoke(
        cli, ["token", "create", "--role", "calendar", "--hotline", "+15555550109"]
    )
    assert wrong.exit_code == 1 and "no hotline" in wrong.output
    made = oncall_cli.invoke(cli, ["token", "create", "--role", "calendar", "--hotline", HOTLINE])
    assert made.exit_code == 0, made.output
    assert f"/api/hotlines/{HOTLINE}/shifts.ics?token=hl_" in made.output
