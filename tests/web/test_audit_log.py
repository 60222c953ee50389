"""The log is append-only and tamper-evident, on both databases and under concurrency."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from alembic import command
from app.audit.log import record
from app.audit.models import Event
from app.casework.events import verify_all, verify_case
from app.cli import cli
from app.db import make_engine, make_sessionmaker, transaction
from app.migrate import alembic_config
from app.settings import get_settings
from tests.conftest import POSTGRES_ADMIN_URL
from tests.harness import AVERY, REPORTER, REPORTER_2, Hotline
from tests.web.conftest import Api


def a_handled_case(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone is harassing people at booth 12")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.answer(AVERY, "REPLY 1 On my way")
    hl.run()


def tamper(hl: Hotline, sql: str) -> None:
    """Change the log behind the service's back, as someone with database access could."""
    with hl.services.engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:  # a superuser can switch the append-only trigger off
            conn.execute(text("ALTER TABLE event DISABLE TRIGGER event_append_only"))
        conn.execute(text(sql))
        if postgres:
            conn.execute(text("ALTER TABLE event ENABLE TRIGGER event_append_only"))


def audit_verify(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, ["audit", "verify", *args])
    finally:
        get_settings.cache_clear()


def test_every_event_extends_its_case_chain(api: Api) -> None:
    hl = api.hl
    a_handled_case(hl)
    hl.answer(REPORTER_2, "another report")
    with hl.services.sessions() as session:
        seqs = session.scalars(select(Event.seq).where(Event.case_id == 1).order_by(Event.id))
        assert list(seqs) == list(range(1, 9))
        verdicts = dict(verify_all(session))
    assert set(verdicts) == {1, 2}
    assert all(v.broken is None for v in verdicts.values())
    report = api.ok("/api/cases/1/events/verify", api.token("chair"))
    assert report["ok"] is True and report["events"] == 8 and report["broken"] is None
    assert report["head"] == verdicts[1].head


def test_an_edit_behind_the_services_back_is_found(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hl = api.hl
    a_handled_case(hl)
    with hl.services.sessions() as session:
        target = session.scalar(
            select(Event.id).where(Event.case_id == 1, Event.type == "acknowledged")
        )
    tamper(hl, f"UPDATE event SET actor = 'Blake Rivera' WHERE id = {target}")

    report = api.ok("/api/cases/1/events/verify", api.token("chair"))
    assert report["ok"] is False
    assert report["broken"]["event_id"] == target
    assert report["broken"]["type"] == "acknowledged"
    assert "edited" in report["broken"]["problem"]

    result = audit_verify(database_url, monkeypatch)
    assert result.exit_code == 1
    assert f"BROKEN case 1: broken at event {target} (seq 5, acknowledged)" in result.output
    assert "1 of 2 chains broken" in result.output  # the case's, and the caseless one
    assert audit_verify(database_url, monkeypatch, "--case", "1").exit_code == 1


def test_a_deleted_event_is_found(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hl = api.hl
    a_handled_case(hl)
    with hl.services.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # replication mode skips ordinary triggers
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM event WHERE case_id = 1 AND seq = 3"))

    broken = api.ok("/api/cases/1/events/verify", api.token("chair"))["broken"]
    assert broken["seq"] == 4
    assert broken["problem"] == "the event with seq 3 before it is missing (deleted)"
    result = audit_verify(database_url, monkeypatch, "--case", "1")
    assert result.exit_code == 1 and "missing (deleted)" in result.output


def test_an_intact_log_verifies_from_the_command_line(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_handled_case(api.hl)
    result = audit_verify(database_url, monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 8 events in 1 chains")
    assert audit_verify(database_url, monkeypatch, "--case", "9").exit_code == 1


def test_postgresql_refuses_to_update_or_delete_events(pg_url: str) -> None:
    hl = Hotline(pg_url)
    try:
        a_handled_case(hl)
        for sql in ("UPDATE event SET actor = 'x'", "DELETE FROM event"):
            with pytest.raises(DBAPIError, match="append-only"), hl.services.engine.begin() as c:
                c.execute(text(sql))
        with hl.services.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Event)) == 8
    finally:
        hl.close()


def test_concurrent_writers_never_fork_a_chain(pg_url: str) -> None:
    """The webhook, the API and workers append to one case at once: each append waits for
    the chain's head, so every event gets the next seq and links to the one before."""
    hl = Hotline(pg_url)
    try:
        hl.answer(REPORTER, "report")
        api = Api(hl)
        token = api.token("chair")
        start = threading.Barrier(8)
        failures: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                start.wait()
                for i in range(10):
                    if n % 2:
                        with transaction(hl.services.sessions) as session:
                            for case_id in (1, None):
                                record(
                                    session,
                                    case_id=case_id,
                                    type="test",
                                    actor=f"w{n}",
                                    at=datetime.now(UTC),
                                    i=i,
                                )
                    else:
                        body = {"body": f"note {n}.{i}"}
                        assert api.post("/api/cases/1/notes", token, body).status_code == 201
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        with hl.services.sessions() as session:
            seqs = list(session.scalars(select(Event.seq).where(Event.case_id == 1)))
            assert sorted(seqs) == list(range(1, len(seqs) + 1))
            assert len(seqs) == 3 + 80  # opened, message, paging; 40 records, 40 notes
            assert verify_case(session, 1).broken is None
            assert verify_case(session, None).broken is None
    finally:
        hl.close()


INSERT_OLD_EVENTS = [
    "INSERT INTO hotline (id, number, name, timezone, safety_info, emergency_info, policy,"
    " active) VALUES (1, '+15555550100', 'x', 'UTC', '', '', '{}', true)",
    'INSERT INTO "case" (id, hotline_id, reporter_phone, channel, status, emergency,'
    " unroutable, opened_at, policy, escalation_started_at, next_step) VALUES (1, 1,"
    " '+15555550150', 'sms', 'open', false, false, '2026-05-11 16:00:00', '{}',"
    " '2026-05-11 16:00:00', 0)",
    "INSERT INTO event (case_id, at, type, actor, detail) VALUES"
    " (1, '2026-05-11 16:00:00', 'case_opened', 'reporter', '{\"channel\": \"sms\"}'),"
    " (NULL, '2026-05-11 16:00:01', 'token_created', 'cli', '{}'),"
    " (1, '2026-05-11 16:00:02', 'paging', 'system', '{\"b\": 1, \"a\": [1, 2]}')",
]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migration_chains_events_written_before_it(dialect: str, tmp_path: Path) -> None:
    if dialect == "sqlite":
        url, admin = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"hotline_migrate_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # pragma: no cover - depends on the machine
            pytest.skip(f"PostgreSQL unreachable: {exc}")
        url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(url), "0001")
        engine = make_engine(url)
        with engine.begin() as conn:
            for sql in INSERT_OLD_EVENTS:
                conn.execute(text(sql))
        command.upgrade(alembic_config(url), "head")
        with make_sessionmaker(engine)() as session:
            verdicts = dict(verify_all(session))
            assert verdicts[1].events == 2 and verdicts[None].events == 1
            assert all(v.broken is None for v in verdicts.values())
        with transaction(make_sessionmaker(engine)) as session:  # new events link on
            record(session, case_id=1, type="t", actor="a", at=datetime.now(UTC))
        with make_sessionmaker(engine)() as session:
            assert verify_case(session, 1).events == 3
            assert verify_case(session, 1).broken is None
        engine.dispose()
        command.downgrade(alembic_config(url), "0001")
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
