"""A database outage (issue 6.5): webhooks are still answered, kept in the spool, and land
exactly once when the database is back.

The outage is real on both databases: SQLite's directory disappears (the engine's pooled
connections are closed first, as a restarted or remounted disk would leave them), and
PostgreSQL refuses connections to the test database (ALLOW_CONNECTIONS false, its backends
terminated). A black-holed PostgreSQL address shows that answers do not wait on TCP.
"""

from __future__ import annotations

import re
import shutil
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, make_url, select, text

from app import wording
from app.audit.models import Event
from app.cases.models import Case
from app.telephony import outage
from app.telephony.models import WebhookReceipt
from app.telephony.signature import is_valid
from app.telephony.spool import Entry, Spool
from tests.conftest import POSTGRES_ADMIN_URL
from tests.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    AVERY,
    HOTLINE,
    PUBLIC_URL,
    REPORTER,
    REPORTER_2,
    Hotline,
    recipients,
    send_sms,
    signed_post,
    twiml_text,
)

EMERGENCY_INFO = "If anyone is in danger call 911, then venue security +1 555 555 0199."
NOT_A_HOTLINE = "+15555550109"
CALLER = "+15555550152"


@dataclass
class Outage:
    """A hotline whose database can be taken away (`begin`) and given back (`end`)."""

    hl: Hotline
    begin: Callable[[], None]
    end: Callable[[], None]


@pytest.fixture(params=["sqlite", "postgresql"])
def outage_hl(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    spool_dir = str(tmp_path / "spool")
    if request.param == "sqlite":
        data = tmp_path / "data"
        data.mkdir()
        shutil.copy(request.getfixturevalue("sqlite_template"), data / "hotline.db")
        hl = Hotline(f"sqlite:///{data}/hotline.db", spool_dir=spool_dir)

        def down() -> None:
            hl.services.engine.dispose()  # the file is gone for new connections only
            data.rename(tmp_path / "away")

        def up() -> None:
            if (tmp_path / "away").exists():
                (tmp_path / "away").rename(data)

    else:
        url = request.getfixturevalue("pg_url")
        name = make_url(url).database
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        hl = Hotline(url, spool_dir=spool_dir)

        def down() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )

        def up() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))

    # The tests replay by hand, step by step; the replayer thread is tested on its own.
    hl.app.state.replayer.stop()
    try:
        yield Outage(hl, down, up)
    finally:
        up()  # whatever the test did, the database is back for the next one
        hl.close()
        if request.param == "postgresql":
            admin.dispose()


def sms_params(sender: str, body: str, *, to: str = HOTLINE, sid: str | None = None) -> dict:
    return {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }


def call_params(caller: str, sid: str) -> dict:
    return {
        "CallSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": caller,
        "To": HOTLINE,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }


def cases_of(hl: Hotline, phone: str) -> list[Case]:
    with hl.services.sessions() as session:
        cases = session.scalars(select(Case).order_by(Case.id))  # the number is encrypted
        return [c for c in cases if c.reporter_phone == phone]


def event_types(hl: Hotline, case_id: int) -> list[str]:
    with hl.services.sessions() as session:
        return list(
            session.scalars(select(Event.type).where(Event.case_id == case_id).order_by(Event.seq))
        )


def test_sms_during_outage_is_answered_spooled_and_lands_once(outage_hl: Outage) -> None:
    hl = outage_hl.hl
    # The process has served this hotline before: it knows its emergency information.
    assert "case 1" in hl.answer(REPORTER, "Someone is harassing people at booth 12")
    assert recipients(hl.run()) == {AVERY}

    outage_hl.begin()
    params = sms_params(REPORTER_2, "A man keeps following me around the expo hall")
    started = time.monotonic()
    response = signed_post(hl.client, "/twilio/sms", params)
    assert time.monotonic() - started < 5
    assert response.status_code == 200, response.text
    answer = twiml_text(response.text)
    assert "received" in answer and EMERGENCY_INFO in answer
    assert answer == wording.outage_sms("Example Conf 2026", EMERGENCY_INFO)

    # What Twilio signed is on disk, signature and all.
    (entry,) = hl.services.spool.entries()
    assert entry.path == "/twilio/sms" and entry.params == params
    assert is_valid(AUTH_TOKEN, PUBLIC_URL + entry.path, entry.params, entry.signature)

    # A forged webhook is refused as ever, and never kept.
    forged = signed_post(hl.client, "/twilio/sms", sms_params(REPORTER_2, "x"), signature="bad")
    assert forged.status_code == 403
    # Twilio retrying the same message: answered again, kept again, lands once all the same.
    again = signed_post(hl.client, "/twilio/sms", params)
    assert again.status_code == 200 and EMERGENCY_INFO in twiml_text(again.text)
    assert hl.services.spool.depth() == 2

    ready = hl.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "database unreachable", "spool": 2, "spool_failed": 0}
    assert hl.client.get("/healthz").status_code == 200
    # The API says so too, rather than a bare 500.
    api = hl.client.get("/api/cases", headers={"Authorization": "Bearer whatever"})
    assert api.status_code == 503
    # While it lasts, replaying changes nothing and loses nothing.
    result = outage.replay(hl.services)
    assert not result.done and result.landed == 0
    assert hl.services.spool.depth() == 2

    outage_hl.end()
    hl.clock.advance(minutes=1)
    result = outage.replay(hl.services)
    assert result.done and result.landed == 2 and result.failed == 0
    assert hl.services.spool.depth() == 0
    (case,) = cases_of(hl, REPORTER_2)
    assert case.id == 2
    sent = hl.run()
    assert [m.to for m in sent] == [AVERY]
    assert "Case 2: A man keeps following me" in sent[0].body
    types = event_types(hl, case.id)
    assert types.count("received_during_outage") == 1 and types.count("message_received") == 1
    with hl.services.sessions() as session:
        note = session.scalar(
            select(Event).where(Event.case_id == case.id, Event.type == "received_during_outage")
        )
        assert note is not None
        assert note.detail == {
            "sid": params["MessageSid"],
            "received_at": "2026-05-11T16:00:00+00:00",
        }

    # Replaying again (a crash after the commit, before the spool was cut) changes nothing.
    outage.run_entry(hl.services, entry)
    assert outage.replay(hl.services).landed == 0
    assert len(cases_of(hl, REPORTER_2)) == 1
    assert event_types(hl, case.id) == types
    assert hl.run() == []
    ready = hl.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["spool"] == 0
    # And the reporter's next text is a normal one again, on the same case.
    assert "Added to case 2" in hl.answer(REPORTER_2, "He is wearing a red cap")


def test_call_during_outage_is_answered_and_opens_its_case_later(outage_hl: Outage) -> None:
    hl = outage_hl.hl
    hl.answer(REPORTER, "warming up")  # the process has read the hotline
    hl.run()

    outage_hl.begin()
    call_sid = "CA" + uuid.uuid4().hex
    started = time.monotonic()
    response = signed_post(hl.client, "/twilio/voice", call_params(CALLER, call_sid))
    assert time.monotonic() - started < 5
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.text)
    assert [el.tag for el in root] == ["Say", "Hangup"]
    said = root.find("Say").text or ""  # type: ignore[union-attr]
    assert "received" in said and EMERGENCY_INFO in said
    # The voicemail's callbacks of a call in progress are kept too.
    recording = {
        **call_params(REPORTER, "CA-earlier"),
        "RecordingSid": "RE" + uuid.uuid4().hex,
        "RecordingUrl": "https://api.twilio.com/recordings/RE1",
        "RecordingStatus": "completed",
        "RecordingDuration": "12",
    }
    assert signed_post(hl.client, "/twilio/voice/recording?case=1", recording).status_code == 200
    # A live step of a call cannot ring anyone: an apology, hang up, nothing kept.
    choice = signed_post(hl.client, "/twilio/voice/choice?case=1", call_params(REPORTER, "CA-x"))
    assert choice.status_code == 200 and "<Hangup" in choice.text
    assert [e.path for e in hl.services.spool.entries()] == [
        "/twilio/voice",
        "/twilio/voice/recording?case=1",
    ]

    outage_hl.end()
    result = outage.replay(hl.services)
    assert result.done and result.landed == 2
    (case,) = cases_of(hl, CALLER)
    assert case.channel == "voice"
    assert "received_during_outage" in event_types(hl, case.id)
    assert "voicemail_recorded" in event_types(hl, 1)
    sent = hl.run()
    assert any(m.to == AVERY and f"Case {case.id}" in m.body for m in sent)
    outage.run_entry(hl.services, Entry("/twilio/voice", call_params(CALLER, call_sid), hl.clock()))
    assert len(cases_of(hl, CALLER)) == 1


def test_fallback_urls_answer_without_the_database(hl: Hotline) -> None:
    """Twilio's "primary handler fails" URLs: kept and answered, replayed, deduplicated."""
    hl.app.state.replayer.stop()
    # The primary answered (slowly, say) and committed; Twilio also tried the fallback.
    params = sms_params(REPORTER, "Someone is harassing people at booth 12")
    assert signed_post(hl.client, "/twilio/sms", params).status_code == 200
    fallback = signed_post(hl.client, "/twilio/sms/fallback", params)
    assert fallback.status_code == 200
    assert EMERGENCY_INFO in twiml_text(fallback.text)
    # A message that only reached the fallback.
    only = sms_params(REPORTER_2, "Please send someone to room 4")
    assert signed_post(hl.client, "/twilio/sms/fallback", only).status_code == 200
    call = signed_post(hl.client, "/twilio/voice/fallback", call_params(CALLER, "CA-fallback"))
    assert call.status_code == 200 and "<Hangup" in call.text
    # Signed for another URL: refused.
    wrong = hl.client.post(
        "/twilio/sms/fallback",
        data=only,
        headers={"X-Twilio-Signature": "forged"},
    )
    assert wrong.status_code == 403
    assert hl.services.spool.depth() == 3

    result = outage.replay(hl.services)
    assert result.done and result.landed == 3
    assert len(cases_of(hl, REPORTER)) == 1
    assert len(cases_of(hl, REPORTER_2)) == 1
    assert len(cases_of(hl, CALLER)) == 1
    with hl.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 3
    # Pages for each case, once.
    assert sorted(m.to for m in hl.run()) == [AVERY] * 3


def test_unknown_hotline_and_unwritable_spool(hl: Hotline, tmp_path: Path) -> None:
    hl.app.state.replayer.stop()
    # A number this process never read: the generic emergency line.
    params = sms_params(REPORTER, "hello", to=NOT_A_HOTLINE)
    answer = twiml_text(signed_post(hl.client, "/twilio/sms/fallback", params).text)
    assert answer == wording.outage_sms(None, None)
    assert wording.UNKNOWN_EMERGENCY_INFO in answer
    # STOP belongs to the carrier, outage or not.
    stop = signed_post(hl.client, "/twilio/sms/fallback", sms_params(REPORTER, "STOP"))
    assert twiml_text(stop.text) == ""
    outage.replay(hl.services)
    assert cases_of(hl, REPORTER) == []  # to no hotline: ignored, as always

    # When not even the spool can be written, the answer says so, emergency line included.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    hl.services.spool = Spool(blocker / "spool")
    lost = signed_post(hl.client, "/twilio/sms/fallback", sms_params(REPORTER, "help"))
    assert lost.status_code == 200
    assert twiml_text(lost.text) == wording.outage_not_kept("Example Conf 2026", EMERGENCY_INFO)


def test_the_replayer_thread_lands_the_spool_when_the_database_returns(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outage, "REPLAY_RETRY_SECONDS", 0.1)
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(sqlite_template, data / "hotline.db")
    hl = Hotline(f"sqlite:///{data}/hotline.db", spool_dir=str(tmp_path / "spool"))
    try:
        hl.services.engine.dispose()
        data.rename(tmp_path / "away")
        assert hl.client.get("/readyz").status_code == 503
        assert send_sms(hl.client, REPORTER, "Someone is shouting at volunteers").status_code == 200
        assert hl.services.spool.depth() == 1
        (tmp_path / "away").rename(data)
        deadline = time.monotonic() + 5
        while hl.services.spool.depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hl.services.spool.depth() == 0
        assert len(cases_of(hl, REPORTER)) == 1
        assert recipients(hl.run()) == {AVERY}
    finally:
        if (tmp_path / "away").exists():
            (tmp_path / "away").rename(data)
        hl.close()


def test_unreachable_postgres_host_is_answered_within_seconds(tmp_path: Path) -> None:
    """A host that accepts nothing and says nothing (a black hole, not a refusal): the
    connect timeout, not TCP's minutes, decides how long the webhook waits."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)  # never accepted: the server never says a word
    port = hole.getsockname()[1]
    url = f"postgresql+psycopg://hotline@127.0.0.1:{port}/hotline"
    hl = Hotline(url, roster="", spool_dir=str(tmp_path / "spool"))
    try:
        started = time.monotonic()
        response = send_sms(hl.client, REPORTER, "Someone is shouting at volunteers")
        assert time.monotonic() - started < 8
        assert response.status_code == 200
        assert "received" in twiml_text(response.text)
        assert hl.services.spool.depth() == 1
        started = time.monotonic()
        assert hl.client.get("/readyz").status_code == 503
        assert time.monotonic() - started < 8
    finally:
        hl.close()
        hole.close()


def test_spool_commands(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.settings import get_settings

    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    hl = Hotline(url, spool_dir=str(tmp_path / "spool"))
    try:
        hl.app.state.replayer.stop()
        params = sms_params(REPORTER, "Someone is harassing people at booth 12")
        assert signed_post(hl.client, "/twilio/sms/fallback", params).status_code == 200
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
        monkeypatch.setenv("HOTLINE_SPOOL_DIR", str(tmp_path / "spool"))
        get_settings.cache_clear()
        status = CliRunner().invoke(cli, ["spool", "status"])
        assert status.exit_code == 0, status.output
        assert "1 waiting, 0 failed" in status.output
        assert f"/twilio/sms/fallback  {params['MessageSid']}" in status.output
        assert REPORTER not in status.output  # no phone numbers, no text
        replayed = CliRunner().invoke(cli, ["spool", "replay"])
        assert replayed.exit_code == 0, replayed.output
        assert "1 landed, 0 failed, 0 waiting" in replayed.output
        assert len(cases_of(hl, REPORTER)) == 1
    finally:
        get_settings.cache_clear()
        hl.close()


def test_starts_during_an_outage_and_loads_its_roster_when_the_database_returns(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.harness import ROSTER

    monkeypatch.setattr(outage, "REPLAY_RETRY_SECONDS", 0.1)
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    data = tmp_path / "data"  # not there yet: the database is unreachable at start-up
    settings = Settings(
        HOTLINE_DATABASE_URL=f"sqlite:///{data}/hotline.db",
        HOTLINE_ROSTER=str(roster),
        HOTLINE_WORKER="off",
        HOTLINE_PUBLIC_URL=PUBLIC_URL,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        HOTLINE_SPOOL_DIR=str(tmp_path / "spool"),
    )
    app = create_app(settings)
    spool = app.state.services.spool
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        assert send_sms(client, REPORTER, "Someone is shouting").status_code == 200
        data.mkdir()
        shutil.copy(sqlite_template, data / "hotline.db")
        deadline = time.monotonic() + 5
        while spool.depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/readyz").json() == {"status": "ready", "spool": 0, "spool_failed": 0}
        # The roster was loaded first, then the text landed on it as a case (numbered at random).
        answer = twiml_text(send_sms(client, REPORTER, "still here").text)
        assert re.match(r"Added to case \d{4,}\. ", answer), answer
