"""A new report through the hot path (app.casework.new_report) stores what the general
path (app.casework.intake.open_case through the ORM) stores, and its chain verifies; reports
that arrive together are written together, and store what they would one by one."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import Event
from app.cases.models import Case, Message
from app.casework import events as case_log
from app.casework import new_report
from app.paging.models import Outbound
from app.telephony.models import WebhookReceipt
from tests.harness import AVERY, REPORTER, REPORTER_2, Hotline, count

TEXT = "Someone in a red hoodie is harassing people at booth 12"


def stored(hl: Hotline, case_id: int) -> dict[str, Any]:
    """The case's rows, with what differs between two cases (number, reporter, row ids)
    left out."""
    with hl.services.sessions() as session:
        case = session.get_one(Case, case_id)
        columns = {
            c.key: getattr(case, c.key)
            for c in Case.__table__.columns
            if c.key not in ("id", "reporter_phone", "reporter_hash")
        }
        events = [
            (e.seq, e.type, e.actor, e.at, {k: v for k, v in e.detail.items() if k != "message_id"})
            for e in session.scalars(
                select(Event).where(Event.case_id == case_id).order_by(Event.seq)
            )
        ]
        messages = [
            (m.direction, m.author, m.body, m.at)
            for m in session.scalars(select(Message).where(Message.case_id == case_id))
        ]
        pages = [
            (
                o.kind,
                o.responder_id,
                o.step,
                o.dedupe_key.replace(f":{case_id}:", ":N:") if o.dedupe_key else None,
                o.to_phone,
                o.from_phone,
                o.body.replace(f"Case {case_id}", "Case N").replace(f"ACK {case_id}", "ACK N"),
                o.status,
                o.attempts,
                o.next_attempt_at,
                o.created_at,
            )
            for o in session.scalars(
                select(Outbound).where(Outbound.case_id == case_id).order_by(Outbound.id)
            )
        ]
        verdict = case_log.verify_case(session, case_id)
    assert verdict.broken is None
    return {"case": columns, "events": events, "messages": messages, "pages": pages}


def watch(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """What the hot path (app.casework.new_report.open_reports) answers from now on."""
    opened: list[int | None] = []
    quick = new_report.open_reports

    def watched(*args: Any, **kwargs: Any) -> list[int | None]:
        answers = quick(*args, **kwargs)
        opened.extend(answers)
        return answers

    monkeypatch.setattr(new_report, "open_reports", watched)
    return opened


def test_the_hot_path_stores_what_the_general_path_does(
    hl: Hotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = watch(monkeypatch)
    assert "case 1" in hl.answer(REPORTER, TEXT)
    assert opened == [1]  # the hot path opened it

    monkeypatch.setattr(new_report, "open_reports", lambda _session, reports: [None] * len(reports))
    assert "case 2" in hl.answer(REPORTER_2, TEXT)  # the general path

    assert stored(hl, 1) == stored(hl, 2)
    assert stored(hl, 1)["pages"]  # it paged someone


@pytest.mark.parametrize(
    "text",
    [
        "EMERGENCY someone collapsed at booth 12",  # pages everyone
        "CONFLICT Blake Rivera is harassing people",  # excludes a responder
        "STOP",  # the carrier's word
    ],
)
def test_what_the_hot_path_leaves_to_the_general_path(
    hl: Hotline, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    opened = watch(monkeypatch)
    hl.answer(REPORTER, text)
    assert opened in ([], [None], [None, None])  # the batch, then the general path


def test_a_follow_up_joins_the_open_case(hl: Hotline) -> None:
    assert "case 1" in hl.answer(REPORTER, TEXT)
    assert "Added to case 1" in hl.answer(REPORTER, "It was near the coffee stand")
    with hl.services.sessions() as session:
        assert session.scalar(select(Case.id).where(Case.id != 1)) is None


def in_one_batch(hl: Hotline, texts: list[tuple[str, str, str]]) -> list[str]:
    """Post (sender, body, SID) texts, queued in this order behind a unit that holds the
    group commit's writer, so they run as one batch; returns their answers."""
    commits = hl.services.commits
    started, release = threading.Event(), threading.Event()

    def holder(_session: Session) -> str:
        started.set()
        release.wait(10)
        return ""

    held = commits.submit(holder)
    assert started.wait(10)
    with ThreadPoolExecutor(len(texts)) as pool:
        posted = []
        for sender, body, sid in texts:
            posted.append(pool.submit(hl.answer, sender, body, sid=sid))
            deadline = time.monotonic() + 10
            while commits.waiting() < len(posted):  # queued in order
                assert time.monotonic() < deadline, "the webhook never reached the writer"
                time.sleep(0.001)
        release.set()
        held.result(10)
        return [answer.result(10) for answer in posted]


def reporter(n: int) -> str:
    return f"+1555555{n:04d}"


def test_a_batch_of_reports_stores_what_single_reports_do(
    hl: Hotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = watch(monkeypatch)
    answers = in_one_batch(hl, [(reporter(i), TEXT, f"SMbatch{i}") for i in range(4)])
    assert opened == [1, 2, 3, 4]  # one batch opened them all
    assert [f"case {i}" in answer for i, answer in enumerate(answers, 1)] == [True] * 4
    for i in range(4):
        assert f"case {i + 5}" in hl.answer(reporter(10 + i), TEXT)  # one by one
    single = stored(hl, 5)
    assert single["pages"]
    for case_id in (1, 2, 3, 4, 6, 7, 8):
        assert stored(hl, case_id) == single
    assert count(hl, Case) == 8
    assert count(hl, WebhookReceipt) == 8


def test_a_mixed_batch_answers_each_text_as_alone(
    hl: Hotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = watch(monkeypatch)
    answers = in_one_batch(
        hl,
        [
            (REPORTER, TEXT, "SM1"),
            (REPORTER_2, TEXT, "SM2"),
            (REPORTER_2, "It was near the coffee stand", "SM3"),  # a follow-up
            (REPORTER, TEXT, "SM1"),  # Twilio's retry, while the first is still queued
            (reporter(3), "EMERGENCY someone collapsed at booth 12", "SM4"),
            (AVERY, "HELP", "SM5"),  # a responder's command
        ],
    )
    # The batch opened the first two and left the emergency; the rest ran alone, as before.
    assert opened[:3] == [1, 2, None]
    assert not any(opened[3:])
    assert "case 1" in answers[0]
    assert answers[3] == answers[0]  # the retry is answered as the first time
    assert "case 2" in answers[1]
    assert "Added to case 2" in answers[2]
    assert answers[4].startswith("If anyone is in danger call 911") and "case 3" in answers[4]
    assert "ACK" in answers[5]  # the command grammar's help
    assert count(hl, Case) == 3
    assert count(hl, WebhookReceipt) == 5
    for case_id in (1, 2, 3):
        stored(hl, case_id)  # its chain verifies
    with hl.services.sessions() as session:
        follow_up = session.scalars(select(Message.body).where(Message.case_id == 2)).all()
    assert follow_up == [TEXT, "It was near the coffee stand"]


def test_a_batch_that_fails_runs_each_text_alone_and_loses_none(
    hl: Hotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = new_report.open_reports

    def fails_once(session: Session, reports: Sequence[new_report.NewReport]) -> list[int | None]:
        opened = quick(session, reports)  # written, then undone with the batch
        if len(reports) > 1:
            raise RuntimeError("the batch broke")
        return opened

    monkeypatch.setattr(new_report, "open_reports", fails_once)
    answers = in_one_batch(hl, [(reporter(i), TEXT, f"SM{i}") for i in range(3)])
    assert sorted(answer.split("case ")[1][0] for answer in answers) == ["1", "2", "3"]
    assert count(hl, Case) == 3
    first = stored(hl, 1)
    assert first["pages"] and stored(hl, 2) == first and stored(hl, 3) == first
    assert count(hl, Outbound) == 3 * len(first["pages"])  # nothing twice


def test_a_taken_case_number_in_a_batch_is_drawn_again(hl: Hotline) -> None:
    hl.services.case_numbers = lambda: iter([5, 1, 2, 3, 4, 6])
    assert "case 5" in hl.answer(REPORTER, TEXT)
    answers = in_one_batch(hl, [(reporter(i), TEXT, f"SM{i}") for i in range(3)])
    # The first drew 5, taken, and then the first number nobody in the batch had tried.
    assert ["case 3" in answers[0], "case 1" in answers[1], "case 2" in answers[2]] == [True] * 3
    with hl.services.sessions() as session:
        assert set(session.scalars(select(Case.id))) == {1, 2, 3, 5}


def test_a_sid_another_process_answers_meanwhile_is_answered_as_there(
    hl: Hotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    if hl.services.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one process write at a time")
    quick = new_report.open_reports

    def meanwhile(session: Session, reports: Sequence[new_report.NewReport]) -> list[int | None]:
        if len(reports) > 1:  # another web process answers SM1 while this batch runs
            with hl.services.sessions() as other, other.begin():
                answer = "<Response><Message>answered elsewhere</Message></Response>"
                other.add(
                    WebhookReceipt(sid="SM1", kind="sms", received_at=hl.clock(), answer=answer)
                )
        return quick(session, reports)

    monkeypatch.setattr(new_report, "open_reports", meanwhile)
    answers = in_one_batch(hl, [(reporter(i), TEXT, f"SM{i}") for i in range(3)])
    assert answers[1] == "answered elsewhere"
    assert "case 1" in answers[0] and "case 2" in answers[2]
    assert count(hl, Case) == 2
