"""Case numbers reveal nothing: drawn at random, and a command about a case one may not act
on answers exactly as for a number that is no case."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text

from app.audit.models import Event
from app.cases import numbers
from app.cases.models import Case
from app.cases.numbers import insert_numbered, random_case_numbers
from app.db import make_engine, make_sessionmaker, transaction
from app.roster.models import Hotline as HotlineRow
from tests.harness import AVERY, BLAKE, DANA, REPORTER, Hotline, recipients

CASE_NUMBER = re.compile(r"case (\d+)")


@pytest.fixture
def random_hl(database_url: str) -> Iterator[Hotline]:
    """A hotline numbering cases as production does."""
    hl = Hotline(database_url, case_numbers=random_case_numbers)
    yield hl
    hl.close()


def report(hl: Hotline, sender: str, body: str) -> int:
    match = CASE_NUMBER.search(hl.answer(sender, body))
    assert match, "the answer confirms the case number"
    return int(match.group(1))


def test_production_case_numbers_are_random_four_digits_or_more_and_unique(
    random_hl: Hotline,
) -> None:
    hl = random_hl
    reporters = [f"+155555501{n}" for n in range(50, 70)]
    cases = [report(hl, phone, "report") for phone in reporters]
    assert len(set(cases)) == len(cases)
    assert all(1000 <= n <= 999_999 for n in cases)
    assert sorted(cases) != list(range(min(cases), min(cases) + len(cases)))
    with hl.services.sessions() as session:
        assert sorted(session.scalars(select(Case.id))) == sorted(cases)
    paged = {int(n) for m in hl.run() for n in CASE_NUMBER.findall(m.body.lower())}
    assert paged == set(cases)


def test_lead_paged_for_cases_cannot_infer_other_case_numbers(random_hl: Hotline) -> None:
    hl = random_hl
    first = report(hl, "+15555550150", "Someone made comments at booth 12")
    hidden = report(hl, "+15555550151", "Avery Quinn grabbed someone at the party")
    third = report(hl, "+15555550152", "A speaker was heckled in hall B")
    to_avery = [m.body for m in hl.run() if m.to == AVERY]  # the on-call lead
    assert len(to_avery) == 2
    told = " ".join(to_avery) + hl.answer(AVERY, "STATUS")
    assert str(first) in told and str(third) in told and str(hidden) not in told
    # nothing about the hidden case's number follows from the two Avery knows
    assert abs(hidden - first) != 1 and abs(third - hidden) != 1
    nowhere = next(n for n in itertools.count(1000) if n not in (first, hidden, third))
    for command in ("ACK {}", "A {}", "RECUSE {}", "RESOLVE {}", "REPLY {} hi"):
        assert hl.answer(AVERY, command.format(hidden)).replace(str(hidden), "<n>") == hl.answer(
            AVERY, command.format(nowhere)
        ).replace(str(nowhere), "<n>")


def test_resolve_of_a_case_never_paged_answers_like_a_missing_case(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone made comments at booth 12")
    assert recipients(hl.run()) == {AVERY}  # Blake is not on call, nor paged yet
    with hl.services.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Event))
    for sender in (BLAKE, DANA):
        for command in ("ACK {}", "A {}", "RECUSE {}", "RESOLVE {}", "REPLY {} hi"):
            existing = hl.answer(sender, command.format(1))
            missing = hl.answer(sender, command.format(2))
            assert existing.replace("1", "<n>") == missing.replace("2", "<n>"), command
    with hl.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == before
    assert hl.run() == []
    assert BLAKE in recipients(hl.after(minutes=5))  # once paged, Blake may act on it
    assert hl.answer(BLAKE, "RESOLVE 1").startswith("Only the responder who took case 1")
    assert hl.answer(BLAKE, "ACK 1").startswith("You have case 1")


def test_the_random_source_starts_at_four_digits_and_widens_when_crowded() -> None:
    source = random_case_numbers()
    first = list(itertools.islice(source, numbers.TRIES_PER_WIDTH))
    assert all(1000 <= n < 1_000_000 for n in first)
    assert len(set(first)) > 1
    later = list(itertools.islice(source, 10 * numbers.TRIES_PER_WIDTH))
    assert all(1000 <= n < 10**numbers.MAX_DIGITS for n in later)
    assert max(later) >= 1_000_000  # after many collisions numbers get longer


def hotline_row(session_factory) -> int:  # type: ignore[no-untyped-def]
    with transaction(session_factory) as session:
        row = HotlineRow(
            number="+15555550100",
            name="Numbers",
            timezone="UTC",
            safety_info="",
            emergency_info="",
            policy={"steps": []},
            roster_version="1",
            active=True,
        )
        session.add(row)
        session.flush()
        return row.id


def new_case(hotline_id: int, number: int | None = None) -> Case:
    from app.db import utcnow

    now = utcnow()
    return Case(
        id=number,
        hotline_id=hotline_id,
        reporter_phone="+15555550150",
        channel="sms",
        status="open",
        emergency=False,
        unroutable=False,
        opened_at=now,
        policy={},
        escalation_started_at=now,
        next_step=0,
        next_due_at=None,
    )


def test_a_number_taken_already_is_drawn_again(session_factory) -> None:  # type: ignore[no-untyped-def]
    hotline_id = hotline_row(session_factory)
    with transaction(session_factory) as session:
        session.add(new_case(hotline_id, 4242))
    with transaction(session_factory) as session:
        number = insert_numbered(session, new_case(hotline_id), source=lambda: [4242, 4242, 5151])
    assert number == 5151


def test_two_transactions_drawing_the_same_number_at_once_both_open_a_case(
    pg_url: str,
) -> None:
    """PostgreSQL: the second insert waits for the first, meets its primary key, and tries
    its next number in a savepoint; its transaction goes on."""
    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    try:
        hotline_id = hotline_row(factory)
        first = factory()
        first.begin()
        assert insert_numbered(first, new_case(hotline_id), source=lambda: [7777]) == 7777
        result: list[int] = []
        failure: list[BaseException] = []

        def second() -> None:
            try:
                with transaction(factory) as session:
                    result.append(
                        insert_numbered(session, new_case(hotline_id), source=lambda: [7777, 8888])
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                failure.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 60
        with engine.connect() as probe:
            while time.monotonic() < deadline and thread.is_alive():  # until it waits
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar()
                probe.rollback()  # pg_stat_activity is a snapshot per transaction: a new one
                if waiting:
                    break
                threading.Event().wait(0.01)
        assert failure == [] and waiting, "the second transaction waits for the first's insert"
        first.commit()
        first.close()
        thread.join(timeout=30)
        assert failure == [] and result == [8888]
        with factory() as session:
            assert sorted(session.scalars(select(Case.id))) == [7777, 8888]
    finally:
        engine.dispose()
