"""Applying a checked roster to the database: create or update, never delete.

Cases refer to hotlines and responders, so those are only ever deactivated. Shifts are a plan,
not history: each hotline in the file gets exactly the file's shifts.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.roster.models import Hotline, Responder, Shift
from app.roster.schema import (
    HotlineSpec,
    ResponderSpec,
    RosterError,
    RosterFile,
    RosterProblem,
    parse_roster,
)

# Advisory lock key: one roster load at a time on PostgreSQL (see load_roster).
ROSTER_LOCK = 0x686C7273


@dataclass
class LoadSummary:
    hotlines_created: int = 0
    hotlines_updated: int = 0
    hotlines_deactivated: int = 0
    responders_created: int = 0
    responders_updated: int = 0
    responders_deactivated: int = 0
    shifts: int = 0
    shifts_ended: int = 0  # of `shifts`, already over when loaded: a wrong date is likely

    def __str__(self) -> str:
        text = (
            f"hotlines: {self.hotlines_created} created, {self.hotlines_updated} updated,"
            f" {self.hotlines_deactivated} deactivated; responders: {self.responders_created}"
            f" created, {self.responders_updated} updated, {self.responders_deactivated}"
            f" deactivated; shifts: {self.shifts}"
        )
        if self.shifts_ended:
            text += f" ({self.shifts_ended} already ended)"
        return text


def read_roster_file(path: str | Path) -> RosterFile:
    """The checked roster in `path`, or RosterError (also when the file cannot be read)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError([RosterProblem(str(path), None, "no such file")]) from None
    except IsADirectoryError:
        raise RosterError([RosterProblem(str(path), None, "is a directory, not a file")]) from None
    except UnicodeDecodeError as exc:
        problem = RosterProblem(str(path), None, f"not UTF-8 text ({exc.reason})")
        raise RosterError([problem]) from None
    except OSError as exc:
        problem = RosterProblem(str(path), None, f"cannot be read: {exc.strerror or exc}")
        raise RosterError([problem]) from None
    return parse_roster(text)


def load_roster_file(
    factory: sessionmaker[Session], path: str | Path, now: datetime
) -> LoadSummary:
    """Read, check and apply the roster in `path` in one transaction: all of it or nothing."""
    roster = read_roster_file(path)
    with transaction(factory) as session:
        return load_roster(session, roster, now)


def load_roster(session: Session, roster: RosterFile, now: datetime) -> LoadSummary:
    """Make the database say what the roster says. The caller owns the transaction.

    Hotlines are matched by number; responders within their hotline by phone, else by name
    (so a changed phone number keeps the person, and their cases). Whatever the file no longer
    names is deactivated, never deleted.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Every `hotline serve` loads HOTLINE_ROSTER as it starts. Taking turns, a later load
        # updates what an earlier one created instead of failing on its hotline numbers (or
        # adding its shifts a second time).
        session.execute(select(func.pg_advisory_xact_lock(ROSTER_LOCK)))
    summary = LoadSummary()
    changed: list[Hotline] = []  # whose people changed: their running cases check
    in_file = {spec.number for spec in roster.hotlines}

    hotlines = {h.number: h for h in session.scalars(select(Hotline).order_by(Hotline.id))}
    for number, hotline in hotlines.items():
        if number not in in_file and hotline.active:
            hotline.active = False
            summary.hotlines_deactivated += 1

    kept_ids = [hotlines[n].id for n in in_file if n in hotlines]
    people: dict[int, list[Responder]] = defaultdict(list)
    if kept_ids:
        query = select(Responder).where(Responder.hotline_id.in_(kept_ids)).order_by(Responder.id)
        for responder in session.scalars(query):
            people[responder.hotline_id].append(responder)
        of_kept = select(Responder.id).where(Responder.hotline_id.in_(kept_ids))
        session.execute(
            delete(Shift).where(Shift.responder_id.in_(of_kept)),
            execution_options={"synchronize_session": "fetch"},
        )

    for spec in roster.hotlines:
        hotline = hotlines.get(spec.number)
        if hotline is None:
            hotline = Hotline(number=spec.number)
            session.add(hotline)
            _apply(hotline, _hotline_fields(spec))
            summary.hotlines_created += 1
            current: list[Responder] = []
        else:
            if _apply(hotline, _hotline_fields(spec)):
                summary.hotlines_updated += 1
            current = people[hotline.id]
        hotline.roster_version = uuid.uuid4().hex  # cached copies of the roster are stale now
        before = (summary.responders_deactivated, summary.responders_updated)
        by_name = _sync_responders(session, hotline, spec, current, summary)
        if (summary.responders_deactivated, summary.responders_updated) != before:
            changed.append(hotline)
        for shift in spec.shifts:
            start, end = spec.shift_utc(shift)
            session.add(Shift(responder=by_name[shift.responder], start=start, end=end))
            summary.shifts += 1
            summary.shifts_ended += end <= now

    session.flush()
    if changed:
        # Late import: the cases domain sits above the roster it reads.
        from app.cases.service import after_roster_load

        for hotline in changed:
            after_roster_load(session, hotline.id, now)
    return summary


def _hotline_fields(spec: HotlineSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "timezone": spec.timezone,
        "safety_info": spec.safety_info,
        "emergency_info": spec.emergency_info,
        "policy": spec.policy(),
        "active": True,
    }


def _responder_fields(spec: ResponderSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "phone": spec.phone,
        "role": spec.role,
        "aliases": list(spec.aliases),
        "active": True,
    }


def _apply(row: Any, fields: dict[str, Any]) -> bool:
    """Set the fields that differ; True when any did. (Unchanged rows are not written.)"""
    changed = False
    for key, value in fields.items():
        if getattr(row, key, None) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _sync_responders(
    session: Session,
    hotline: Hotline,
    spec: HotlineSpec,
    current: list[Responder],
    summary: LoadSummary,
) -> dict[str, Responder]:
    """Create, update and deactivate one hotline's responders; the file's names to rows."""
    matched = _match(current, spec.responders)
    by_name: dict[str, Responder] = {}
    for wanted, row in zip(spec.responders, matched, strict=True):
        if row is None:
            row = Responder(hotline=hotline)
            session.add(row)
            _apply(row, _responder_fields(wanted))
            summary.responders_created += 1
        elif _apply(row, _responder_fields(wanted)):
            summary.responders_updated += 1
        by_name[wanted.name] = row
    kept = {id(row) for row in matched if row is not None}
    for row in current:
        if id(row) not in kept and row.active:
            row.active = False
            summary.responders_deactivated += 1
    return by_name


def _match(current: list[Responder], wanted: list[ResponderSpec]) -> list[Responder | None]:
    """The existing row for each wanted responder: same phone first, else same name (an active
    row before an inactive one, the newest first). Each row is used at most once."""
    matched: list[Responder | None] = [None] * len(wanted)
    taken: set[int] = set()
    by_phone = {row.phone: row for row in current}
    for i, spec in enumerate(wanted):
        row = by_phone.get(spec.phone)
        if row is not None:
            matched[i] = row
            taken.add(id(row))
    preference = sorted(current, key=lambda row: (not row.active, -row.id))
    for i, spec in enumerate(wanted):
        if matched[i] is not None:
            continue
        name = spec.name.casefold()
        for row in preference:
            if id(row) not in taken and row.name.casefold() == name:
                matched[i] = row
                taken.add(id(row))
                break
    return matched
