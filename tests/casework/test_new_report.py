"""A new report through the hot path (app.casework.new_report) stores what the general
path (app.casework.intake.open_case through the ORM) stores, and its chain verifies."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import Event
from app.cases.models import Case, Message
from app.casework import events as case_log
from app.casework import new_report
from app.paging.models import Outbound
from tests.harness import REPORTER, REPORTER_2, Hotline

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
