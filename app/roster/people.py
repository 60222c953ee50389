"""The roster as the rules read it: people, their shifts and the names a report may use.

Plain data, kept here at the roster's level so that paging's rules (app.paging.eligibility),
the report-text analysis (app.cases.report) and the roster cache share them without any of
them importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    role: str
    phone: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class Span:
    """A shift: the responder is on call from `start` (inclusive) to `end` (exclusive)."""

    responder_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Named:
    """A responder as a report may name them: `id` plus full name and aliases.

    `active`: only active responders make a first or last name "shared" (a former responder
    called Blake must not stop "Blake" from naming the Blake who is on the roster now).
    """

    id: int
    names: tuple[str, ...]
    active: bool = True
