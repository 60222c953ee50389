"""Migration 0006 on a database written before encryption: its contents end up encrypted,
its log re-keyed and still verifying; a log already broken stops the upgrade."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from alembic import command
from app.audit import chain
from app.cases.models import Case, CaseNote, Message
from app.casework.events import case_events, verify_all
from app.casework.intake import find_open_case
from app.db import make_engine, make_sessionmaker
from app.migrate import alembic_config
from app.privacy import keys
from tests.conftest import POSTGRES_ADMIN_URL

OPENED = datetime(2026, 5, 11, 16, 0, tzinfo=UTC)
WORDS = "harassment at the quokka booth"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database at revision 0005, before encryption."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        command.upgrade(alembic_config(url), "0005")
        yield url
        return
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"hotline_migrate_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), "0005")
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def write_old_case(url: str, *, break_chain: bool = False) -> None:
    """A case as the service wrote it before 0006: in clear, its chain unkeyed SHA-256."""
    events = [
        ("case_opened", "reporter", {"channel": "sms"}),
        ("message_received", "reporter", {"message_id": 1, "chars": len(WORDS)}),
        ("note_added", "Chair (chair)", {"note_id": 1, "text": "Talked to the marmoset"}),
    ]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO hotline (id, number, name, timezone, safety_info, emergency_info,"
                " policy, active, roster_version) VALUES (1, '+15555550100', 'x', 'UTC', '',"
                " '', '{}', true, '')"
            )
        )
        conn.execute(
            text(
                'INSERT INTO "case" (id, hotline_id, reporter_phone, channel, status, emergency,'
                " unroutable, opened_at, policy, escalation_started_at, next_step) VALUES (1,"
                " 1, '+15555550150', 'sms', 'open', false, false, :at, '{}', :at, 0)"
            ),
            {"at": OPENED.replace(tzinfo=None)},
        )
        conn.execute(
            text(
                "INSERT INTO message (id, case_id, direction, author, body, at)"
                " VALUES (1, 1, 'in', 'reporter', :body, :at)"
            ),
            {"body": WORDS, "at": OPENED.replace(tzinfo=None)},
        )
        conn.execute(
            text(
                "INSERT INTO case_note (id, case_id, author, author_role, body, at)"
                " VALUES (1, 1, 'Chair', 'chair', 'Talked to the marmoset', :at)"
            ),
            {"at": OPENED.replace(tzinfo=None)},
        )
        prev = chain.GENESIS
        for seq, (type_, actor, detail) in enumerate(events, start=1):
            prev = chain.link(prev, chain.canonical(1, OPENED, type_, actor, detail))
            if break_chain and seq == 2:
                detail = {**detail, "chars": 1}
            conn.execute(
                text(
                    "INSERT INTO event (case_id, seq, hash, at, type, actor, detail)"
                    " VALUES (1, :seq, :hash, :at, :type, :actor, :detail)"
                ),
                {
                    "seq": seq,
                    "hash": prev,
                    "at": OPENED.replace(tzinfo=None),
                    "type": type_,
                    "actor": actor,
                    "detail": json.dumps(detail),
                },
            )
    engine.dispose()


def test_contents_written_before_encryption_are_encrypted_and_the_log_re_keyed(
    old_url: str,
) -> None:
    write_old_case(old_url)
    command.upgrade(alembic_config(old_url), "head")
    engine = make_engine(old_url)
    try:
        with engine.connect() as conn:
            raw = conn.execute(text('SELECT reporter_phone, reporter_hash FROM "case"')).one()
            body = conn.execute(text("SELECT body FROM message")).scalar()
            note = conn.execute(text("SELECT body FROM case_note")).scalar()
            detail = conn.execute(text("SELECT detail FROM event WHERE seq = 3")).scalar()
        for value in (raw.reporter_phone, body, note):
            assert value.startswith(keys.TOKEN_PREFIX)
        assert "marmoset" not in str(detail)
        with make_sessionmaker(engine)() as session:
            assert session.scalar(select(Message.body)) == WORDS
            assert session.scalar(select(CaseNote.body)) == "Talked to the marmoset"
            assert all(v.broken is None for _, v in verify_all(session))
            assert case_events(session, 1)[2].detail["text"] == "Talked to the marmoset"
            found = find_open_case(session, 1, "+15555550150")
            assert isinstance(found, Case) and found.id == 1
    finally:
        engine.dispose()


def test_a_log_broken_before_the_upgrade_stops_it(old_url: str) -> None:
    write_old_case(old_url, break_chain=True)
    with pytest.raises(RuntimeError, match="re-keying it would hide that"):
        command.upgrade(alembic_config(old_url), "head")
