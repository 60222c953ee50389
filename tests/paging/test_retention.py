"""Retention: what a case said is erased once it has been resolved longer than
HOTLINE_RETENTION_DAYS; its skeleton, outcome and log stay, and the log still verifies."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from app import wording
from app.audit.models import Event
from app.casework.events import verify_all
from app.cli import cli
from app.paging import retention
from app.settings import get_settings
from tests.harness import ACCOUNT_SID, AVERY, REPORTER, TWILIO_BASE
from tests.privacy.test_at_rest import NOTE, PERSON
from tests.voice.test_calls import ring_leads
from tests.web.conftest import Api

RECORDINGS = f"{TWILIO_BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings"
WORDS = "A man at the quokka booth keeps touching people's shoulders."


def a_resolved_voicemail_case(api: Api) -> str:
    """A call nobody took, a voicemail with its transcript, a note, a record, resolved;
    returns the recording's SID."""
    hl = api.hl
    call, ringing = ring_leads(hl)
    hl.run()
    offer = call.dial_ends(call.dial(ringing), "no-answer")
    _, recording = call.leave_voicemail(offer)
    call.transcribed(offer, recording, WORDS)
    hl.run()
    chair = api.token("chair")
    assert api.post("/api/cases/1/notes", chair, {"body": NOTE}).status_code == 201
    assert api.patch("/api/cases/1", chair, {"reported_person": PERSON}).status_code == 200
    body = {"outcome": "warning", "note": "Warned at the quokka booth"}
    assert api.post("/api/cases/1/resolve", chair, body).status_code == 200
    return recording["RecordingSid"]


def test_contents_of_a_case_resolved_long_ago_are_erased_and_the_log_still_verifies(
    api: Api, tmp_path: Path
) -> None:
    hl = api.hl
    sid = a_resolved_voicemail_case(api)
    api.hl.answer("+15555550151", "a newer report about the quokka booth")
    deleted = hl.respx.delete(f"{RECORDINGS}/{sid}.json").mock(return_value=httpx.Response(204))
    chair = api.token("chair")

    hl.clock.advance(days=29)  # not yet
    assert retention.run(hl.services.sessions, hl.services.transport, hl.clock(), 30).erased == []
    hl.clock.advance(days=2)
    result = retention.run(hl.services.sessions, hl.services.transport, hl.clock(), 30)
    assert result.erased == [1] and result.postponed == []
    assert deleted.call_count == 1  # the recording is gone at Twilio too

    case = api.ok("/api/cases/1", chair)
    assert case["status"] == "resolved" and case["outcome"] == "warning"  # the skeleton stays
    assert case["channel"] == "voice" and case["resolved_at"] is not None
    assert {m["body"] for m in case["messages"]} == {wording.ERASED}
    assert [n["body"] for n in case["notes"]] == [wording.ERASED] * 2  # with the resolve note
    assert case["record"]["reported_person"] is None
    assert case["reporter"] == "••••"
    events = api.ok("/api/cases/1/events", chair)
    erased = events[-1]
    assert erased["type"] == "contents_erased" and erased["actor"] == "system"
    assert erased["detail"]["recordings_deleted"] == [sid]
    assert erased["detail"]["reporter_number"] is True
    assert erased["detail"]["notes"] == 2 and erased["detail"]["record_fields"]
    note_event = next(e for e in events if e["type"] == "note_added")
    assert note_event["detail"].get("erased") is True and "text" not in note_event["detail"]
    with hl.services.sessions() as session:
        assert all(v.broken is None for _, v in verify_all(session))
    assert api.ok("/api/cases/1/events/verify", chair)["ok"] is True
    # the newer case keeps everything; the old one is not erased twice
    assert api.ok("/api/cases/2", chair)["messages"][0]["body"].endswith("quokka booth")
    hl.clock.advance(days=1)
    assert retention.run(hl.services.sessions, hl.services.transport, hl.clock(), 30).erased == []
    # not even the keys bring the words back: no ciphertext of them is left in the rows
    with hl.services.sessions() as session:
        assert (
            session.scalar(select(Event.id).where(Event.case_id == 1, Event.private.is_not(None)))
            is None
        )
        assert (
            session.execute(text('SELECT reporter_hash FROM "case" WHERE id = 1')).scalar() is None
        )


def test_a_recording_twilio_could_not_delete_keeps_the_case_for_the_next_run(
    api: Api,
) -> None:
    hl = api.hl
    sid = a_resolved_voicemail_case(api)
    route = hl.respx.delete(f"{RECORDINGS}/{sid}.json")
    route.mock(return_value=httpx.Response(500, json={"status": 500, "message": "down"}))
    hl.clock.advance(days=31)
    result = retention.run(hl.services.sessions, hl.services.transport, hl.clock(), 30)
    assert result.erased == [] and result.postponed == [1]
    chair = api.token("chair")
    assert WORDS in api.ok("/api/cases/1", chair)["messages"][1]["body"]
    route.mock(return_value=httpx.Response(404, json={"status": 404, "code": 20404}))
    result = retention.run(hl.services.sessions, hl.services.transport, hl.clock(), 30)
    assert result.erased == [1]  # already gone at Twilio counts as deleted


def test_retention_runs_from_the_command_line(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hl = api.hl
    hl.answer(REPORTER, WORDS)
    hl.answer(AVERY, "ACK 1")
    hl.answer(AVERY, "RESOLVE 1")
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_TRANSPORT", "console")
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(cli, ["retention", "run"])
        assert refused.exit_code == 2 and "HOTLINE_RETENTION_DAYS" in refused.output
        # resolved at the harness's clock (2026), so long enough ago for a 30-day policy
        monkeypatch.setenv("HOTLINE_RETENTION_DAYS", "30")
        get_settings.cache_clear()
        result = CliRunner().invoke(cli, ["retention", "run"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "1 cases erased: 1" in result.output
    assert api.ok("/api/cases/1", api.token("chair"))["messages"][0]["body"] == wording.ERASED


def test_the_worker_applies_hotline_retention_days_by_itself(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, WORDS)
    hl.answer(AVERY, "ACK 1")
    hl.answer(AVERY, "RESOLVE 1")
    hl.services.settings.retention_days = 30
    hl.run()  # resolved just now: kept
    chair = api.token("chair")
    assert api.ok("/api/cases/1", chair)["messages"][0]["body"] == WORDS
    hl.after(days=31)
    assert api.ok("/api/cases/1", chair)["messages"][0]["body"] == wording.ERASED
