"""Loading a roster: create, update in place, deactivate (never delete), all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.casework import roster_load as load_module
from app.casework.roster_load import LoadSummary, load_roster, load_roster_file
from app.db import transaction
from app.roster.models import Hotline, Responder, Shift
from app.roster.schema import RosterError, parse_roster

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roster.yaml"

ROSTER = """\
hotlines:
  - number: "+15555550100"
    name: "Test Conf"
    timezone: "America/New_York"
    safety_info: "Safety room: Hall B."
    emergency_info: "Call 911, then venue security."
    responders:
      - {name: "Robin Example", phone: "+15555550111", role: lead, aliases: ["Robin"]}
      - {name: "Sam Placeholder", phone: "+15555550112", role: lead}
      - {name: "Toni Sample", phone: "+15555550121", role: alternate}
    shifts:
      - {responder: "Robin Example", start: "2026-05-11T08:00", end: "2026-05-11T20:00"}
      - {responder: "Sam Placeholder", start: "2026-01-15T08:00", end: "2026-01-15T20:00"}
    escalation:
      - {notify: on_call_leads, after_minutes: 0}
      - {notify: all_leads, after_minutes: 5}
      - {notify: alternates, after_minutes: 10}
    repeat: 1
  - number: "+15555550101"
    name: "Test Conf Workshops"
    timezone: "Europe/Berlin"
    responders:
      - {name: "Uli Fictional", phone: "+15555550131", role: lead}
    escalation:
      - {notify: all_leads, after_minutes: 0}
"""


def edit(old: str, new: str, text: str = ROSTER) -> str:
    assert old in text, old
    return text.replace(old, new)


def load(factory: sessionmaker[Session], text: str, *, prune: bool = False) -> LoadSummary:
    with transaction(factory) as session:
        return load_roster(session, parse_roster(text), NOW, prune=prune)


def responders(factory: sessionmaker[Session], number: str) -> dict[str, Responder]:
    with factory() as session:
        query = select(Responder).join(Hotline).where(Hotline.number == number)
        return {r.name: r for r in session.scalars(query)}


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Hotline, Responder, Shift)
        }


def test_a_first_load_creates_everything(session_factory):
    summary = load(session_factory, ROSTER)

    assert (summary.hotlines_created, summary.responders_created, summary.shifts) == (2, 4, 2)
    assert summary.hotlines_updated == summary.responders_updated == 0
    assert "2 created" in str(summary)
    with session_factory() as session:
        hotline = session.scalars(select(Hotline).where(Hotline.number == "+15555550100")).one()
        assert (hotline.name, hotline.timezone, hotline.active) == (
            "Test Conf",
            "America/New_York",
            True,
        )
        assert hotline.safety_info == "Safety room: Hall B."
        assert hotline.emergency_info == "Call 911, then venue security."
        assert hotline.policy == {
            "tiers": [
                {"notify": "on_call_leads", "after_minutes": 0},
                {"notify": "all_leads", "after_minutes": 5},
                {"notify": "alternates", "after_minutes": 10},
            ],
            "repeat": 1,
        }
    people = responders(session_factory, "+15555550100")
    robin = people["Robin Example"]
    assert (robin.phone, robin.role, robin.aliases, robin.active) == (
        "+15555550111",
        "lead",
        ["Robin"],
        True,
    )
    assert people["Toni Sample"].role == "alternate"
    assert counts(session_factory) == {"Hotline": 2, "Responder": 4, "Shift": 2}


def test_shifts_are_stored_in_utc_from_the_hotline_timezone(session_factory):
    load(session_factory, ROSTER)
    people = responders(session_factory, "+15555550100")
    with session_factory() as session:
        spans = {s.responder_id: (s.start, s.end) for s in session.scalars(select(Shift))}
    # May in New York is EDT (UTC-4); January is EST (UTC-5).
    assert spans[people["Robin Example"].id] == (
        datetime(2026, 5, 11, 12, 0, tzinfo=UTC),
        datetime(2026, 5, 12, 0, 0, tzinfo=UTC),
    )
    assert spans[people["Sam Placeholder"].id] == (
        datetime(2026, 1, 15, 13, 0, tzinfo=UTC),
        datetime(2026, 1, 16, 1, 0, tzinfo=UTC),
    )


def test_loading_the_same_file_again_changes_nothing_but_replans_shifts(session_factory):
    load(session_factory, ROSTER)
    before = responders(session_factory, "+15555550100")

    summary = load(session_factory, ROSTER)

    assert summary == LoadSummary(shifts=2, shifts_ended=1)
    after = responders(session_factory, "+15555550100")
    assert {n: r.id for n, r in after.items()} == {n: r.id for n, r in before.items()}
    assert counts(session_factory) == {"Hotline": 2, "Responder": 4, "Shift": 2}


def test_a_reload_updates_people_in_place(session_factory):
    load(session_factory, ROSTER)
    before = responders(session_factory, "+15555550100")

    changed = edit('aliases: ["Robin"]', 'aliases: ["Robin", "Rob"]')
    changed = edit('"+15555550112"', '"+15555550113"', changed)  # Sam has a new phone
    changed = edit(
        '"Toni Sample", phone: "+15555550121", role: alternate',
        ('"Toni Sample-Lee", phone: "+15555550121", role: lead'),
        changed,
    )  # renamed, promoted
    summary = load(session_factory, changed)

    assert (summary.responders_created, summary.responders_updated) == (0, 3)
    after = responders(session_factory, "+15555550100")
    assert after["Robin Example"].id == before["Robin Example"].id
    assert after["Robin Example"].aliases == ["Robin", "Rob"]
    assert after["Sam Placeholder"].id == before["Sam Placeholder"].id
    assert after["Sam Placeholder"].phone == "+15555550113"
    assert after["Toni Sample-Lee"].id == before["Toni Sample"].id
    assert after["Toni Sample-Lee"].role == "lead"
    assert counts(session_factory)["Responder"] == 4


def test_a_removed_responder_is_deactivated_not_deleted_and_comes_back(session_factory):
    load(session_factory, ROSTER)
    toni_id = responders(session_factory, "+15555550100")["Toni Sample"].id

    without = edit('      - {name: "Toni Sample", phone: "+15555550121", role: alternate}\n', "")
    summary = load(session_factory, without)

    assert summary.responders_deactivated == 1
    toni = responders(session_factory, "+15555550100")["Toni Sample"]
    assert (toni.id, toni.active) == (toni_id, False)
    assert counts(session_factory)["Responder"] == 4

    summary = load(session_factory, ROSTER)
    assert (summary.responders_created, summary.responders_updated) == (0, 1)
    toni = responders(session_factory, "+15555550100")["Toni Sample"]
    assert (toni.id, toni.active) == (toni_id, True)


def test_a_hotline_left_out_is_deactivated_with_prune_and_a_changed_one_updated(
    session_factory,
):
    load(session_factory, ROSTER)
    only_first = ROSTER[: ROSTER.index('  - number: "+15555550101"')]
    only_first = edit('name: "Test Conf"', 'name: "Test Conf 2026"', only_first)
    only_first = edit("repeat: 1", "repeat: 2", only_first)

    summary = load(session_factory, only_first, prune=True)

    assert (summary.hotlines_updated, summary.hotlines_deactivated) == (1, 1)
    with session_factory() as session:
        state = {
            h.number: (h.name, h.active, h.policy["repeat"])
            for h in session.scalars(select(Hotline))
        }
    assert state == {
        "+15555550100": ("Test Conf 2026", True, 2),
        "+15555550101": ("Test Conf Workshops", False, 0),
    }
    # its responders stay: cases may refer to them
    assert counts(session_factory)["Responder"] == 4


def test_shifts_are_replaced_not_accumulated(session_factory):
    load(session_factory, ROSTER)
    moved = edit(
        'start: "2026-05-11T08:00", end: "2026-05-11T20:00"',
        'start: "2026-05-12T08:00", end: "2026-05-12T20:00"',
    )
    sam_shift = '{responder: "Sam Placeholder", start: "2026-01-15T08:00", end: "2026-01-15T20:00"}'
    moved = edit(f"      - {sam_shift}\n", "", moved)

    load(session_factory, moved)

    with session_factory() as session:
        spans = [(s.start, s.end) for s in session.scalars(select(Shift))]
    assert spans == [
        (datetime(2026, 5, 12, 12, 0, tzinfo=UTC), datetime(2026, 5, 13, 0, 0, tzinfo=UTC))
    ]


def test_a_bad_file_changes_nothing(session_factory, tmp_path):
    load(session_factory, ROSTER)
    before = counts(session_factory)
    path = tmp_path / "roster.yaml"
    path.write_text(
        edit(
            '{responder: "Robin Example"',
            '{responder: "Nobody Known"',
            edit('"Test Conf"', '"Renamed"'),
        )
    )

    with pytest.raises(RosterError, match=r"hotlines\[0\]\.shifts\[0\]\.responder \(line 12\)"):
        load_roster_file(session_factory, path, NOW)

    assert counts(session_factory) == before
    with session_factory() as session:
        names = set(session.scalars(select(Hotline.name)))
    assert names == {"Test Conf", "Test Conf Workshops"}


def test_a_failure_while_applying_rolls_everything_back(session_factory, tmp_path, monkeypatch):
    load(session_factory, ROSTER)
    before = counts(session_factory)
    path = tmp_path / "roster.yaml"
    path.write_text(
        edit('"Test Conf"', '"Renamed"')
        + (
            '  - number: "+15555550102"\n    name: "New"\n    timezone: "UTC"\n    responders:\n'
            '      - {name: "Vic Invented", phone: "+15555550141", role: lead}\n'
            "    escalation: [{notify: all_leads, after_minutes: 0}]\n"
        )
    )

    def broken_shift(**_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(load_module, "Shift", broken_shift)
    with pytest.raises(RuntimeError):
        load_roster_file(session_factory, path, NOW)
    monkeypatch.undo()

    assert counts(session_factory) == before
    with session_factory() as session:
        assert set(session.scalars(select(Hotline.name))) == {"Test Conf", "Test Conf Workshops"}


def test_a_missing_file_is_a_clear_error(session_factory, tmp_path):
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(RosterError, match=r"nowhere\.yaml: no such file"):
        load_roster_file(session_factory, missing, NOW)
    with pytest.raises(RosterError, match="is a directory"):
        load_roster_file(session_factory, tmp_path, NOW)


def test_the_example_roster_loads(session_factory):
    summary = load_roster_file(session_factory, EXAMPLE, NOW)
    assert (summary.hotlines_created, summary.responders_created, summary.shifts) == (1, 5, 1)


def test_responders_are_read_once_not_per_hotline(session_factory, engine):
    load(session_factory, ROSTER)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    grown = edit(
        '      - {name: "Uli Fictional", phone: "+15555550131", role: lead}\n',
        '      - {name: "Uli Fictional", phone: "+15555550131", role: lead}\n'
        '      - {name: "Wren Madeup", phone: "+15555550132", role: lead}\n',
    )
    event.listen(engine, "before_cursor_execute", record)
    try:
        summary = load(session_factory, grown)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    reads_of_responders = [
        s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM responder" in s
    ]
    assert summary.responders_created == 1
    assert len(reads_of_responders) == 1, reads_of_responders
