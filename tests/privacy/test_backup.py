"""Backups: `hotline backup FILE` on SQLite, the README's pg_dump recipe on PostgreSQL; a
restored copy has the same cases, reads with the same keys, and its log verifies."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select, text
from typer.testing import CliRunner

from app.cases.models import Case, Message
from app.casework.events import verify_all
from app.cli import cli
from app.db import make_engine, make_sessionmaker
from app.settings import get_settings
from tests.conftest import POSTGRES_ADMIN_URL
from tests.harness import REPORTER_2
from tests.web.conftest import Api
from tests.web.test_audit_log import a_handled_case


def snapshot(url: str) -> tuple[list[tuple[int, str, str]], list[str], bool]:
    """(case number, status, reporter) of every case, every message, and whether the whole
    log verifies: what a restore must give back."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            cases = [
                (c.id, c.status, c.reporter_phone)
                for c in session.scalars(select(Case).order_by(Case.id))
            ]
            bodies = list(session.scalars(select(Message.body).order_by(Message.id)))
            verdicts = verify_all(session)
    finally:
        engine.dispose()
    return cases, bodies, bool(verdicts) and all(v.broken is None for _, v in verdicts)


def backup_cli(database_url: str, target: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, ["backup", str(target)])
    finally:
        get_settings.cache_clear()


def test_a_sqlite_backup_taken_while_serving_restores_to_the_same_cases(
    api: Api, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL is backed up with pg_dump (next test)")
    a_handled_case(api.hl)
    api.hl.answer(REPORTER_2, "a second report, likely still in the WAL file")
    target = tmp_path / "copies" / "hotline-backup.db"
    target.parent.mkdir()
    result = backup_cli(database_url, target, monkeypatch)  # the service is still open
    assert result.exit_code == 0, result.output
    assert target.stat().st_mode & 0o777 == 0o600
    assert not Path(f"{target}-wal").exists()  # one self-contained file

    restored = tmp_path / "restored.db"
    target.rename(restored)
    original, copy = snapshot(database_url), snapshot(f"sqlite:///{restored}")
    assert copy == original
    assert [c[0] for c in copy[0]] == [1, 2] and copy[2] is True
    assert "a second report, likely still in the WAL file" in copy[1]

    again = backup_cli(database_url, restored, monkeypatch)
    assert again.exit_code == 1 and "exists" in again.output


def test_a_postgresql_dump_restores_to_the_same_cases(
    api: Api, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite is backed up with `hotline backup` (previous test)")
    a_handled_case(api.hl)
    api.hl.answer(REPORTER_2, "a second report")
    refused = backup_cli(database_url, tmp_path / "x.db", monkeypatch)
    assert refused.exit_code == 1 and "pg_dump" in refused.output

    url = make_url(database_url)
    conn_args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", "postgres"]
    dump = tmp_path / "hotline.dump"
    # the README's recipe
    subprocess.run(
        ["pg_dump", *conn_args, "--format=custom", f"--file={dump}", url.database or ""],
        check=True,
        timeout=60,
    )
    name = f"hotline_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        subprocess.run(
            ["pg_restore", *conn_args, "--no-owner", f"--dbname={name}", str(dump)],
            check=True,
            timeout=60,
        )
        restored = url.set(database=name).render_as_string(hide_password=False)
        original, copy = snapshot(database_url), snapshot(restored)
        assert copy == original
        assert [c[0] for c in copy[0]] == [1, 2] and copy[2] is True
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
