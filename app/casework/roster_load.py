"""Applying a checked roster to the database: create or update, never delete.

Cases refer to hotlines and responders, so those are only ever deactivated (a hotline only
with --prune, and never while it has open cases). Shifts are a plan,
not history: each hotline in the file gets exactly the file's shifts.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.cases.models import OPEN_STATES, Case
from app.casework.conflicts import after_roster_load
from app.drills.service import queue_verification
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
    hotlines_kept: int = 0  # not in the file, left active (no --prune)
    verifications: int = 0  # verification texts queued (new responders, changed numbers)
    # What changes, one line each, in the words `hotline roster load` prints.
    changes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"hotlines: {self.hotlines_created} created, {self.hotlines_updated} updated,"
            f" {self.hotlines_deactivated} deactivated; responders: {self.responders_created}"
            f" created, {self.responders_updated} updated, {self.responders_deactivated}"
            f" deactivated; shifts: {self.shifts}"
        )
        if self.shifts_ended:
            text += f" ({self.shifts_ended} already ended)"
        if self.hotlines_kept:
            text += f"; {self.hotlines_kept} hotline(s) not in the file kept"
        if self.verifications:
            text += f"; {self.verifications} verification text(s) queued"
        return text

    def diff(self) -> str:
        return "\n".join(self.changes) if self.changes else "no changes"


class RosterRefused(RosterError):
    """The roster is valid but applying it would be unsafe (a hotline with open cases would
    be deactivated). Carries the diff it would have made, for --dry-run and the error."""

    def __init__(self, problems: list[RosterProblem], summary: LoadSummary):
        super().__init__(problems)
        self.summary = summary


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
    factory: sessionmaker[Session],
    path: str | Path,
    now: datetime,
    *,
    prune: bool = False,
    dry_run: bool = False,
) -> LoadSummary:
    """Read, check and apply the roster in `path` in one transaction: all of it or nothing.
    With `dry_run` the same work is done and rolled back: the summary says what would change."""
    roster = read_roster_file(path)
    with factory() as session:
        tx = session.begin()
        try:
            summary = load_roster(session, roster, now, prune=prune)
        except BaseException:
            tx.rollback()
            raise
        if dry_run:
            tx.rollback()
            return summary
        tx.commit()
        return summary


def has_hotlines(factory: sessionmaker[Session]) -> bool:
    """Whether any hotline was ever loaded (`roster load --if-empty` loads only when not)."""
    with factory() as session:
        return session.scalar(select(Hotline.id).limit(1)) is not None


def load_roster(
    session: Session, roster: RosterFile, now: datetime, *, prune: bool = False
) -> LoadSummary:
    """Make the database say what the roster says. The caller owns the transaction.

    Hotlines are matched by number; responders within their hotline by phone, else by name
    (so a changed phone number keeps the person, and their cases). A responder the file no
    longer names is deactivated, never deleted; a hotline the file does not name is kept
    unless `prune`, and never deactivated while it has open cases (RosterRefused, nothing
    applied). A responder added to an existing hotline, or whose number changed, is sent a
    verification text (app.drills).
    """
    if session.get_bind().dialect.name == "postgresql":
        # Every `hotline serve` loads HOTLINE_ROSTER as it starts. Taking turns, a later load
        # updates what an earlier one created instead of failing on its hotline numbers (or
        # adding its shifts a second time).
        session.execute(select(func.pg_advisory_xact_lock(ROSTER_LOCK)))
    summary = LoadSummary()
    changed: list[Hotline] = []  # whose people changed: their running cases check
    in_file = {spec.number for spec in roster.hotlines}
    refused: list[RosterProblem] = []

    hotlines = {h.number: h for h in session.scalars(select(Hotline).order_by(Hotline.id))}
    for number, hotline in hotlines.items():
        if number in in_file or not hotline.active:
            continue
        label = f"hotline {number} {hotline.name!r}"
        if not prune:
            summary.hotlines_kept += 1
            summary.changes.append(f"{label}: not in the file, kept (--prune deactivates it)")
            continue
        open_cases = session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.hotline_id == hotline.id, Case.status.in_(OPEN_STATES))
        )
        if open_cases:
            summary.changes.append(
                f"{label}: not in the file, NOT deactivated: {open_cases} open case(s)"
            )
            refused.append(
                RosterProblem(
                    label,
                    None,
                    f"has {open_cases} open case(s): a hotline with open cases is never"
                    " deactivated (resolve them, or keep it in the file)",
                )
            )
            continue
        hotline.active = False
        summary.hotlines_deactivated += 1
        summary.changes.append(f"{label}: deactivated (texts and calls to it page its alternates)")

    kept_ids = [hotlines[n].id for n in in_file if n in hotlines]
    people: dict[int, list[Responder]] = defaultdict(list)
    old_shifts: dict[int, set[tuple[int, datetime, datetime]]] = defaultdict(set)
    if kept_ids:
        query = select(Responder).where(Responder.hotline_id.in_(kept_ids)).order_by(Responder.id)
        rows: dict[int, Responder] = {}
        for responder in session.scalars(query):
            people[responder.hotline_id].append(responder)
            rows[responder.id] = responder
        of_kept = select(Responder.id).where(Responder.hotline_id.in_(kept_ids))
        for shift in session.scalars(select(Shift).where(Shift.responder_id.in_(list(rows)))):
            row = rows[shift.responder_id]
            old_shifts[row.hotline_id].add((id(row), shift.start, shift.end))
        session.execute(
            delete(Shift).where(Shift.responder_id.in_(of_kept)),
            execution_options={"synchronize_session": "fetch"},
        )

    to_verify: list[tuple[Hotline, list[Responder]]] = []
    for spec in roster.hotlines:
        hotline = hotlines.get(spec.number)
        label = f"hotline {spec.number} {spec.name!r}"
        if hotline is None:
            hotline = Hotline(number=spec.number)
            session.add(hotline)
            _apply(hotline, _hotline_fields(spec))
            summary.hotlines_created += 1
            summary.changes.append(
                f"{label}: added ({len(spec.responders)} responders, {len(spec.shifts)} shifts,"
                f" {_tiers(spec.policy())})"
            )
            current: list[Responder] = []
            created = True
        else:
            old_fields = {k: getattr(hotline, k) for k in _hotline_fields(spec)}
            if _apply(hotline, _hotline_fields(spec)):
                summary.hotlines_updated += 1
                fields_changed = [k for k, v in old_fields.items() if v != getattr(hotline, k)]
                what = [k for k in fields_changed if k not in ("policy", "active")]
                if "active" in fields_changed:
                    what.insert(0, "reactivated")
                if what:
                    summary.changes.append(f"{label}: changed: {', '.join(what)}")
                if "policy" in fields_changed:
                    summary.changes.append(
                        f"{label}: tiers changed: {_tiers(spec.policy())}"
                        f" (were: {_tiers(old_fields['policy'])})"
                    )
            current = people[hotline.id]
            created = False
        hotline.roster_version = uuid.uuid4().hex  # cached copies of the roster are stale now
        before = (summary.responders_deactivated, summary.responders_updated)
        by_name, fresh = _sync_responders(session, hotline, spec, current, summary, created)
        if (summary.responders_deactivated, summary.responders_updated) != before:
            changed.append(hotline)
        if fresh:
            to_verify.append((hotline, fresh))
        new_shifts: set[tuple[int, datetime, datetime]] = set()
        for shift in spec.shifts:
            start, end = spec.shift_utc(shift)
            row = by_name[shift.responder]
            session.add(Shift(responder=row, start=start, end=end))
            new_shifts.add((id(row), start, end))
            summary.shifts += 1
            summary.shifts_ended += end <= now
        if not created:
            old = old_shifts[hotline.id]
            added, removed = len(new_shifts - old), len(old - new_shifts)
            if added or removed:
                summary.changes.append(f"{label}: shifts: {added} added, {removed} removed")

    if refused:
        raise RosterRefused(refused, summary)
    session.flush()
    if changed:
        for hotline in changed:
            after_roster_load(session, hotline.id, now)
    for hotline, fresh in to_verify:
        summary.verifications += queue_verification(session, hotline, fresh, now)
    return summary


def _tiers(policy: dict[str, Any]) -> str:
    tiers = ", ".join(f"{t['notify']} at {t['after_minutes']:g} min" for t in policy["tiers"])
    return f"tiers {tiers}; repeat {policy.get('repeat', 0)}"


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
    created: bool,
) -> tuple[dict[str, Responder], list[Responder]]:
    """Create, update and deactivate one hotline's responders. Returns the file's names to
    rows, and the responders whose number needs verifying (new to an existing hotline, or
    with a changed phone)."""
    matched = _match(current, spec.responders)
    by_name: dict[str, Responder] = {}
    fresh: list[Responder] = []
    label = f"hotline {spec.number}"
    for wanted, row in zip(spec.responders, matched, strict=True):
        if row is None:
            row = Responder(hotline=hotline)
            session.add(row)
            _apply(row, _responder_fields(wanted))
            summary.responders_created += 1
            if not created:
                fresh.append(row)
                summary.changes.append(
                    f"{label}: responder {wanted.name!r} ({wanted.role}) added;"
                    " a verification text goes to their number"
                )
        else:
            before = {k: getattr(row, k) for k in ("name", "phone", "role", "aliases", "active")}
            if _apply(row, _responder_fields(wanted)):
                summary.responders_updated += 1
                summary.changes.append(f"{label}: responder {_changes(before, row)}")
                if before["phone"] != row.phone:
                    row.phone_verified_at = None
                    fresh.append(row)
        by_name[wanted.name] = row
    kept = {id(row) for row in matched if row is not None}
    for row in current:
        if id(row) not in kept and row.active:
            row.active = False
            summary.responders_deactivated += 1
            summary.changes.append(f"{label}: responder {row.name!r} deactivated (not in the file)")
    return by_name, fresh


def _changes(before: dict[str, Any], row: Responder) -> str:
    """One responder's changes in words; a phone number is shown by its last digits only."""
    parts = []
    if before["name"] != row.name:
        parts.append(f"renamed to {row.name!r}")
    if before["phone"] != row.phone:
        parts.append(
            f"phone changed to ...{row.phone[-4:]}; a verification text goes to the new number"
        )
    if before["role"] != row.role:
        parts.append(f"role {before['role']} -> {row.role}")
    if before["aliases"] != row.aliases:
        parts.append(f"aliases {', '.join(row.aliases) or '(none)'}")
    if not before["active"]:
        parts.append("reactivated")
    return f"{before['name']!r}: {'; '.join(parts)}"


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
