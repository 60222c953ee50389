"""Case numbers: what reporters and responders type ("ACK 48213"), drawn at random.

A sequential number tells a lead who was paged for cases 1 and 3 that case 2 exists and
was kept from them. A random one tells nothing about any other case. The number is the case's
primary key (`case.id`), so no path can show a row id that differs from it
(docs/adr/0012-random-case-numbers.md).

Where numbers come from is a seam, like the clock: `Services.case_numbers` (production: random;
the test harness: 1, 2, 3 ... so a test can say "case 1"). Each open session carries it in
`session.info`, so opening a case needs no extra argument through the webhooks.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cases.models import Case

SESSION_KEY = "case_numbers"

NumberSource = Callable[[], Iterable[int]]
"""A fresh sequence of candidate numbers for one new case, tried in order until one is free."""

FIRST_DIGITS = 4
"""The fewest digits a number has: 1000 and up."""
MAX_DIGITS = 9
"""The most: the SMS grammar reads up to nine digits, and PostgreSQL's integer holds them."""
TRIES_PER_WIDTH = 20
"""Collisions in a row before numbers get one digit longer (the install is filling up)."""


def random_case_numbers() -> Iterator[int]:
    """Random numbers of at least four digits: 1000 to 999999 at first, one digit more after
    every TRIES_PER_WIDTH collisions in a row, up to MAX_DIGITS."""
    low, high = 10 ** (FIRST_DIGITS - 1), 10**6
    while True:
        for _ in range(TRIES_PER_WIDTH):
            yield low + secrets.randbelow(high - low)
        if high < 10**MAX_DIGITS:
            high *= 10


def sequential_case_numbers() -> Iterator[int]:
    """1, 2, 3 ...: the lowest free number, like an autoincrement. For tests only: sequential
    numbers tell a responder which cases exist."""
    return itertools.count(1)


def source_of(session: Session) -> NumberSource:
    """The number source this session was opened with (random when none was given)."""
    source: NumberSource = session.info.get(SESSION_KEY, random_case_numbers)
    return source


def insert_numbered(session: Session, case: Case, *, source: NumberSource | None = None) -> int:
    """Insert a new case under the first free number of `source`; returns the number.

    A number is checked before it is tried; two transactions that draw the same free number at
    once are told apart by the primary key, and the loser tries the next number inside a
    savepoint, so its transaction carries on.
    """
    for number in (source or source_of(session))():
        if session.get(Case, number) is not None:
            continue
        case.id = number
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            if case in session:
                session.expunge(case)
            continue
        return number
    raise RuntimeError("the case number source ran out of numbers")


def insert_numbered_row(
    session: Session, values: dict[str, Any], *, source: NumberSource | None = None
) -> int:
    """`insert_numbered` without the ORM (the hot path, a new report): the case's row
    `values` go in under the first free number of `source`. Returns the number."""
    return insert_numbered_rows(session, [values], source=source)[0]


def insert_numbered_rows(
    session: Session, rows: Sequence[dict[str, Any]], *, source: NumberSource | None = None
) -> list[int]:
    """Many new cases' rows at once, each under a number of its own sequence from `source`:
    one multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING (both databases) for all of
    them, then one more for those whose number was taken, and so on. A taken number costs
    no savepoint and no read first, and no two rows try the same number. Returns the
    numbers, in the order of `rows`."""
    statement = _INSERT_IF_FREE[session.get_bind().dialect.name]
    candidates = [iter((source or source_of(session))()) for _ in rows]
    numbers: list[int] = [0] * len(rows)
    tried: set[int] = set()
    waiting = list(range(len(rows)))
    while waiting:
        trying: dict[int, int] = {}  # number: row
        for at in waiting:
            number = next((n for n in candidates[at] if n not in tried), None)
            if number is None:
                raise RuntimeError("the case number source ran out of numbers")
            tried.add(number)
            trying[number] = at
        taken = session.execute(
            statement, [{**rows[at], "id": number} for number, at in trying.items()]
        )
        inserted = set(taken.scalars())
        for number in inserted:
            numbers[trying[number]] = number
        waiting = [at for number, at in trying.items() if number not in inserted]
    return numbers


# Built once per dialect: compiled once per engine, then served from the statement cache.
# RETURNING says whether the row went in (both databases have it; rowcount of an INSERT
# is not reported by every driver).
_INSERT_IF_FREE: dict[str, Any] = {
    name: dialect.insert(Case.__table__)
    .on_conflict_do_nothing(index_elements=["id"])
    .returning(Case.__table__.c.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
