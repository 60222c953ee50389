"""Roster changes are safe and visible: a diff, --dry-run, --prune, never switching off a
hotline with open cases, and a deactivated number that still answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.casework.roster_load import load_roster
from app.cli import cli
from app.db import transaction
from app.roster.models import Hotline as HotlineRow
from app.roster.models import Responder
from app.roster.schema import RosterError, parse_roster
from app.settings import get_settings
from tests.harness import (
    HOTLINE,
    OTHER_HOTLINE,
    REPORTER,
    ROSTER,
    Hotline,
    recipients,
)

OTHER = """
  - number: "+15555550101"
    name: "Example Workshops"
    timezone: "Europe/Berlin"
    emergency_info: "In danger? Call 112, then the front desk."
    responders:
      - {name: "Gale Sample", phone: "+15555550131", role: lead}
      - {name: "Harper Sample", phone: "+15555550132", role: alternate}
    escalation:
      - {notify: all_leads, after_minutes: 0}
      - {notify: alternates, after_minutes: 5}
"""
GALE, HARPER = "+15555550131", "+15555550132"
TWO = ROSTER + OTHER
RENAMED_WITHOUT_OTHER = ROSTER.replace('name: "Avery Quinn"', 'name: "Avery Q. Quinn"').replace(
    'responder: "Avery Quinn"', 'responder: "Avery Q. Quinn"'
)


@pytest.fixture
def two(database_url: str) -> Iterator[Hotline]:
    hotline = Hotline(database_url, roster=TWO)
    yield hotline
    hotline.close()


@pytest.fixture
def roster_cli(
    two: Hotline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[CliRunner]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", two.settings.database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def state(hl: Hotline) -> tuple[dict[str, bool], list[str]]:
    with hl.services.sessions() as session:
        hotlines = {h.number: h.active for h in session.scalars(select(HotlineRow))}
        names = sorted(r.name for r in session.scalars(select(Responder)) if r.active)
    return hotlines, names


def test_dry_run_prints_the_diff_and_changes_nothing_and_prune_never_drops_open_cases(
    two: Hotline, roster_cli: CliRunner, tmp_path: Path
) -> None:
    two.answer(REPORTER, "someone is harassing people", to=OTHER_HOTLINE)  # an open case
    path = tmp_path / "roster.yaml"
    path.write_text(RENAMED_WITHOUT_OTHER)
    before = state(two)

    dry = roster_cli.invoke(cli, ["roster", "load", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "'Avery Quinn': renamed to 'Avery Q. Quinn'" in dry.output
    assert f"hotline {OTHER_HOTLINE} 'Example Workshops': not in the file, kept" in dry.output
    assert "dry run, nothing changed" in dry.output
    assert state(two) == before

    pruned = roster_cli.invoke(cli, ["roster", "load", str(path), "--dry-run", "--prune"])
    assert pruned.exit_code == 1
    assert "NOT deactivated: 1 open" in pruned.output
    assert "has 1 open case(s)" in pruned.output and "nothing changed" in pruned.output
    assert state(two) == before

    real = roster_cli.invoke(cli, ["roster", "load", str(path), "--prune"])
    assert real.exit_code == 1
    assert state(two) == before  # refused as a whole: the rename did not happen either

    kept = roster_cli.invoke(cli, ["roster", "load", str(path)])
    assert kept.exit_code == 0, kept.output
    assert "renamed to 'Avery Q. Quinn'" in kept.output and "roster loaded" in kept.output
    hotlines, names = state(two)
    assert hotlines == {HOTLINE: True, OTHER_HOTLINE: True}
    assert "Avery Q. Quinn" in names and "Avery Quinn" not in names

    again = roster_cli.invoke(cli, ["roster", "load", str(path)])
    assert "renamed" not in again.output  # a second load has nothing to change there


def test_a_deactivated_hotline_still_opens_cases_that_page_its_alternates(
    two: Hotline, roster_cli: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER)
    result = roster_cli.invoke(cli, ["roster", "load", str(path), "--prune"])
    assert result.exit_code == 0, result.output
    assert f"hotline {OTHER_HOTLINE} 'Example Workshops': deactivated" in result.output
    assert state(two)[0] == {HOTLINE: True, OTHER_HOTLINE: False}

    answer = two.answer(REPORTER, "someone is following me", to=OTHER_HOTLINE)
    assert "In danger? Call 112, then the front desk." in answer
    assert "case" in answer and len(answer) <= 320
    assert recipients(two.run()) == {HARPER}  # its alternate, not its lead
    follow_up = two.answer(REPORTER, "still here", to=OTHER_HOTLINE)
    assert "Call 112" in follow_up
    # the alternate can take it as always
    assert "You have case" in two.answer(HARPER, "ACK", to=OTHER_HOTLINE)
    assert "has your report" in " ".join(m.body for m in two.run())

    call = two.post(
        "/twilio/voice",
        {"CallSid": "CA" + "1" * 32, "From": "+15555550152", "To": OTHER_HOTLINE},
    )
    assert call.status_code == 200 and "Call 112" in call.text and "<Hangup" in call.text
    assert recipients(two.run()) == {HARPER}
    assert GALE not in recipients(two.after(minutes=30))


def test_a_hotline_without_alternates_falls_back_to_its_leads_when_deactivated(
    two: Hotline,
) -> None:
    harper = '      - {name: "Harper Sample", phone: "+15555550132", role: alternate}\n'
    two.load(TWO.replace(harper, ""))
    with transaction(two.services.sessions) as session:
        load_roster(session, parse_roster(ROSTER), two.clock(), prune=True)
    two.answer(REPORTER, "report", to=OTHER_HOTLINE)
    assert recipients(two.run()) == {GALE}


def test_without_prune_a_hotline_missing_from_the_file_is_kept(two: Hotline) -> None:
    two.load(ROSTER)
    assert state(two)[0] == {HOTLINE: True, OTHER_HOTLINE: True}
    assert "case" in two.answer(REPORTER, "report", to=OTHER_HOTLINE)
    assert recipients(two.run()) == {GALE}


def test_if_empty_loads_the_example_only_into_an_empty_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hl = Hotline(database_url, roster="")
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
        get_settings.cache_clear()
        path = tmp_path / "mine.yaml"
        path.write_text(TWO)
        example = Path(__file__).resolve().parents[2] / "examples" / "roster.yaml"
        first = CliRunner().invoke(cli, ["roster", "load", "--if-empty", str(path)])
        assert first.exit_code == 0 and "roster loaded" in first.output
        second = CliRunner().invoke(cli, ["roster", "load", "--if-empty", str(example)])
        assert second.exit_code == 0 and "not loaded" in second.output
        assert state(hl)[0] == {HOTLINE: True, OTHER_HOTLINE: True}
    finally:
        get_settings.cache_clear()
        hl.close()


# --- validation ---------------------------------------------------------------------------


def refused(text: str) -> str:
    with pytest.raises(RosterError) as caught:
        parse_roster(text)
    return str(caught.value)


def test_an_alias_shared_by_two_responders_is_refused() -> None:
    text = ROSTER.replace(
        '{name: "Blake Rivera", phone: "+15555550112", role: lead}',
        '{name: "Blake Rivera", phone: "+15555550112", role: lead, aliases: ["avery"]}',
    )
    message = refused(text)
    assert "hotlines[0].responders[1].aliases[0]" in message
    assert "'avery' is also the name or an alias of responders[0]" in message


def test_an_alias_that_is_another_responders_name_is_refused() -> None:
    text = ROSTER.replace(
        '{name: "Blake Rivera", phone: "+15555550112", role: lead}',
        '{name: "Blake Rivera", phone: "+15555550112", role: lead, aliases: ["Casey Moreau"]}',
    )
    assert "hotlines[0].responders[1].aliases[0]" in refused(text)


def test_a_safety_info_that_makes_the_answer_pass_320_characters_is_refused() -> None:
    text = ROSTER.replace('"Safety room: Room 23."', '"' + "Safety room details. " * 14 + '"')
    message = refused(text)
    assert "hotlines[0].safety_info" in message and "more than 320" in message
    assert "emergency_info" not in message


def test_an_emergency_info_that_makes_the_answer_pass_320_characters_is_refused() -> None:
    long = "Call 911, then venue security at the main desk near the entrance. " * 3
    message = refused(ROSTER.replace('"If anyone is in danger call 911', f'"{long}'))
    assert "hotlines[0].emergency_info" in message and "more than 320" in message


def test_the_example_and_test_rosters_fit() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "roster.yaml"
    parse_roster(example.read_text())
    parse_roster(TWO)
