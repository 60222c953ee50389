"""The roster as plain data, cached per process.

Every text needs the hotline's responders and shifts (who is a responder, who is eligible,
whose name appears in a report). They change only when a roster is loaded, which stamps each
hotline with a new `roster_version`; a copy cached under the version the hotline row carries
is therefore current, in this process or any other, and costs no query.

The webhook's batches read the hotlines their texts were sent to as plain rows, one statement
per batch (`hotlines_by_number`): a roster load (a new version) or a deactivation is seen by
the very next batch, in every process, and no text pays for an ORM load.

Each hotline's name, safety and emergency information is also remembered by number
(`remember`, `contact_of`): while the database is unreachable, a webhook is still answered
with the emergency information of the hotline it was sent to (app.telephony.outage).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.roster.models import Hotline, Responder, Shift
from app.roster.people import Named, Person, Span


@dataclass(frozen=True, slots=True)
class Roster:
    people: tuple[Person, ...]  # every responder, active or not, in roster order
    spans: tuple[Span, ...]
    names: dict[int, str]
    named: tuple[Named, ...]  # full name and aliases, for conflict matching
    active_by_phone: dict[str, int]

    def responder_id(self, phone: str) -> int | None:
        return self.active_by_phone.get(phone)


@dataclass(frozen=True, slots=True)
class Contact:
    """What a reporter must hear even when the database is down."""

    name: str
    safety_info: str
    emergency_info: str


@dataclass(frozen=True, slots=True)
class HotlineRow:
    """A hotline's row as plain data: what a new report reads of it (as the ORM's Hotline)."""

    id: int
    number: str
    name: str
    safety_info: str
    emergency_info: str
    policy: dict[str, Any]
    active: bool
    roster_version: str


_hotline = Hotline.__table__.c
_HOTLINES = select(*(_hotline[f.name] for f in fields(HotlineRow))).where(
    _hotline.number.in_(bindparam("numbers", expanding=True))
)


def hotlines_by_number(session: Session, numbers: Iterable[str]) -> dict[str, HotlineRow]:
    """The hotlines these numbers belong to, as they are now, in one statement."""
    return {
        row.number: HotlineRow(*row)
        for row in session.execute(_HOTLINES, {"numbers": sorted(set(numbers))})
    }


_cache: dict[tuple[str, int], tuple[str, Roster]] = {}
_contacts: dict[str, Contact] = {}  # by hotline number; one process serves one database
_lock = threading.Lock()


def roster_of(session: Session, hotline: Hotline | HotlineRow) -> Roster:
    key = (str(session.get_bind().url), hotline.id)
    cached = _cache.get(key)
    if cached is not None and cached[0] == hotline.roster_version and hotline.roster_version:
        return cached[1]
    roster = _load(session, hotline.id)
    with _lock:
        _cache[key] = (hotline.roster_version, roster)
    remember(hotline)  # a new roster version may carry new wording
    return roster


def remember(hotline: Hotline | HotlineRow) -> None:
    """Keep the hotline's name and information for answers given without the database."""
    _contacts[hotline.number] = Contact(hotline.name, hotline.safety_info, hotline.emergency_info)


def remember_all(session: Session) -> int:
    """Remember every hotline (at start-up and after an outage); returns how many. A
    deactivated one too: texts to it still get its emergency information."""
    hotlines = session.scalars(select(Hotline)).all()
    for hotline in hotlines:
        remember(hotline)
    return len(hotlines)


def contact_of(number: str) -> Contact | None:
    """The hotline's information as last read from the database, None if never seen."""
    return _contacts.get(number)


def forget_contacts() -> None:
    """For tests: a process that has never read any hotline."""
    _contacts.clear()


def _load(session: Session, hotline_id: int) -> Roster:
    responders = session.scalars(
        select(Responder).where(Responder.hotline_id == hotline_id).order_by(Responder.id)
    ).all()
    shifts = session.scalars(
        select(Shift).join(Responder).where(Responder.hotline_id == hotline_id)
    ).all()
    return Roster(
        people=tuple(Person(r.id, r.role, r.phone, r.active) for r in responders),
        spans=tuple(Span(s.responder_id, s.start, s.end) for s in shifts),
        names={r.id: r.name for r in responders},
        named=tuple(Named(r.id, (r.name, *r.aliases), r.active) for r in responders),
        active_by_phone={r.phone: r.id for r in responders if r.active},
    )
