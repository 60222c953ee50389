"""Group commit (app.db.GroupCommit): webhooks that arrive together share one COMMIT, each
in a savepoint of its own, and none is answered before its COMMIT. One that fails is rolled
back alone; a batch that fails as a whole runs its units one by one. Units of one kind run
through its batch function together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import GENERAL, Batched, BatchKind, GroupCommit, Unit, utcnow
from app.telephony.models import WebhookReceipt


def receipt(sid: str) -> Callable[[Session], int]:
    def unit(session: Session) -> int:
        session.add(WebhookReceipt(sid=sid, kind="sms", received_at=utcnow(), answer=sid))
        session.flush()
        return id(session.get_transaction())

    return unit


def stored(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(WebhookReceipt.sid)))


def batch_behind(
    commits: GroupCommit[Any], units: list[Unit[Any]]
) -> tuple[Future[Any], list[Future[Any]]]:
    """Submit `units` while a first unit holds the writer, so they form one batch."""
    started, release = threading.Event(), threading.Event()

    def holder(session: Session) -> int:
        started.set()
        release.wait(10)
        return 0

    first = commits.submit(holder)
    assert started.wait(10)
    futures = [commits.submit(unit) for unit in units]
    release.set()
    return first, futures


def test_units_that_arrive_together_share_one_transaction(
    session_factory: sessionmaker[Session],
) -> None:
    commits: GroupCommit[int] = GroupCommit(session_factory)
    first, futures = batch_behind(commits, [receipt(f"SM{i}") for i in range(5)])
    first.result(10)
    transactions = {future.result(10) for future in futures}
    assert len(transactions) == 1  # one batch, one COMMIT
    assert stored(session_factory) == {f"SM{i}" for i in range(5)}


def test_a_failing_unit_is_rolled_back_alone(session_factory: sessionmaker[Session]) -> None:
    def fails(session: Session) -> int:
        receipt("SM-bad")(session)
        raise ValueError("this report cannot be handled")

    commits: GroupCommit[int] = GroupCommit(session_factory)
    units = [receipt("SM1"), fails, receipt("SM1"), receipt("SM2")]  # and a repeated SID
    _, futures = batch_behind(commits, units)
    assert futures[0].result(10)
    with pytest.raises(ValueError):
        futures[1].result(10)
    with pytest.raises(IntegrityError):
        futures[2].result(10)
    assert futures[3].result(10)
    assert stored(session_factory) == {"SM1", "SM2"}


def test_coroutines_awaiting_one_batch_hear_their_own_results(
    session_factory: sessionmaker[Session],
) -> None:
    """`wait` hands a batch's results to the loop at once: each coroutine gets its unit's
    result or error, after the one COMMIT, and one that stopped waiting harms nobody."""

    def fails(session: Session) -> int:
        raise ValueError("this report cannot be handled")

    commits: GroupCommit[int] = GroupCommit(session_factory)
    started, release = threading.Event(), threading.Event()

    def holder(session: Session) -> int:
        started.set()
        release.wait(10)
        return 0

    async def together() -> list[Any]:
        first = commits.submit(holder)
        assert started.wait(10)
        waits = [
            asyncio.ensure_future(commits.wait(unit))
            for unit in [receipt("SM1"), fails, receipt("SM2"), receipt("SM3")]
        ]
        await asyncio.sleep(0)  # each is queued behind the holder
        assert commits.waiting() == 4
        waits[3].cancel()  # its unit is committed all the same
        release.set()
        first.result(10)
        return await asyncio.gather(*waits, return_exceptions=True)

    one, failed, two, cancelled = asyncio.run(asyncio.wait_for(together(), 10))
    assert one == two  # the same transaction
    assert isinstance(failed, ValueError)
    assert isinstance(cancelled, asyncio.CancelledError)
    assert stored(session_factory) == {"SM1", "SM2", "SM3"}
    assert commits.run(receipt("SM4"))  # the writer carries on


def test_a_batch_that_fails_as_a_whole_runs_each_unit_on_its_own(
    session_factory: sessionmaker[Session],
) -> None:
    tries: list[int] = []

    def breaks_the_batch(session: Session) -> int:
        tries.append(1)
        if len(tries) == 1:
            session.rollback()  # the whole transaction is gone, the others' work with it
            raise RuntimeError("lost the transaction")
        return receipt("SM-retried")(session)

    commits: GroupCommit[int] = GroupCommit(session_factory)
    _, futures = batch_behind(commits, [receipt("SM1"), breaks_the_batch, receipt("SM2")])
    for future in futures:
        future.result(10)
    assert len(tries) == 2
    assert stored(session_factory) == {"SM1", "SM-retried", "SM2"}


def test_the_writer_ends_when_idle_and_starts_again(
    session_factory: sessionmaker[Session],
) -> None:
    commits: GroupCommit[int] = GroupCommit(session_factory, idle_seconds=0.05)
    commits.run(receipt("SM1"))
    deadline = threading.Event()
    for _ in range(100):
        if not any(t.name == "commits" and t.is_alive() for t in threading.enumerate()):
            break
        deadline.wait(0.05)
    commits.run(receipt("SM2"))
    assert stored(session_factory) == {"SM1", "SM2"}


def receipts_kind(calls: list[list[str]]) -> BatchKind:
    """A batch kind that stores the receipts of its units' SIDs in one statement, and
    leaves SIDs starting "general" to their units."""

    def receipts(session: Session, sids: list[str]) -> list[object]:
        calls.append(sids)
        mine = [sid for sid in sids if not sid.startswith("general")]
        session.execute(
            insert(WebhookReceipt),
            [{"sid": s, "kind": "sms", "received_at": utcnow(), "answer": s} for s in mine],
        )
        if "SM-breaks" in sids:
            raise RuntimeError("the batch function failed")
        return [GENERAL if sid.startswith("general") else f"batched {sid}" for sid in sids]

    return receipts


def batched(kind: BatchKind, sid: str) -> Batched[object]:
    def alone(session: Session) -> object:
        receipt(sid)(session)
        return f"alone {sid}"

    return Batched(kind, sid, alone)


def test_units_of_one_kind_run_together_and_the_general_ones_after(
    session_factory: sessionmaker[Session],
) -> None:
    calls: list[list[str]] = []
    kind, other = receipts_kind(calls), receipts_kind(calls)
    commits: GroupCommit[object] = GroupCommit(session_factory)
    units = [
        batched(kind, "SM1"),
        batched(kind, "general-1"),
        batched(kind, "SM2"),
        receipt("SM3"),  # an ordinary unit ends the run of its kind
        batched(kind, "SM4"),
        batched(other, "SM5"),  # so does a unit of another kind
    ]
    _, futures = batch_behind(commits, units)
    answers = [future.result(10) for future in futures]
    assert calls == [["SM1", "general-1", "SM2"], ["SM4"], ["SM5"]]
    assert answers[:3] == ["batched SM1", "alone general-1", "batched SM2"]
    assert answers[4:] == ["batched SM4", "batched SM5"]
    assert stored(session_factory) == {"SM1", "general-1", "SM2", "SM3", "SM4", "SM5"}


def test_a_batch_function_that_raises_is_rolled_back_and_its_units_run_alone(
    session_factory: sessionmaker[Session],
) -> None:
    calls: list[list[str]] = []
    kind = receipts_kind(calls)
    commits: GroupCommit[object] = GroupCommit(session_factory)
    sids = ["SM1", "SM-breaks", "SM2"]
    _, futures = batch_behind(commits, [batched(kind, sid) for sid in sids])
    assert [future.result(10) for future in futures] == [f"alone {sid}" for sid in sids]
    assert calls == [sids]  # once, then never again
    assert stored(session_factory) == set(sids)  # each once: the batch's rows were undone
