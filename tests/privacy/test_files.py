"""Files that hold secrets are readable by their owner only: .env, key files, the spool."""

from __future__ import annotations

import os
from pathlib import Path

from app.privacy.files import append_secret, read_assignments, replace_assignment
from app.telephony.spool import ENTRIES, Spool
from tests.telephony.test_spool import entry


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_dotenv_made_or_written_to_is_0600_even_if_it_was_readable_before(
    tmp_path: Path,
) -> None:
    made = tmp_path / "new.env"
    append_secret(made, "TWILIO_AUTH_TOKEN=abc\n")
    assert mode(made) == 0o600
    loose = tmp_path / ".env"
    loose.write_text("HOTLINE_PUBLIC_URL=http://127.0.0.1:8000\n")
    os.chmod(loose, 0o644)
    append_secret(loose, "HOTLINE_AUDIT_KEY=secret-of-the-chain\n")
    assert mode(loose) == 0o600
    assert read_assignments(loose) == {
        "HOTLINE_PUBLIC_URL": "http://127.0.0.1:8000",
        "HOTLINE_AUDIT_KEY": "secret-of-the-chain",
    }


def test_replacing_a_key_keeps_the_other_lines_and_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    append_secret(path, "# keys\nHOTLINE_DATA_KEY=old\nHOTLINE_AUDIT_KEY=a\n")
    replace_assignment(path, "HOTLINE_DATA_KEY", "new,old")
    assert path.read_text() == "# keys\nHOTLINE_DATA_KEY=new,old\nHOTLINE_AUDIT_KEY=a\n"
    assert mode(path) == 0o600


def test_the_outage_spool_is_a_private_file_in_a_private_directory(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "var" / "spool")
    spool.append(entry(1))
    assert mode(tmp_path / "var" / "spool") == 0o700
    assert mode(tmp_path / "var" / "spool" / ENTRIES) == 0o600


def test_an_embedded_database_is_0600_whichever_command_creates_it(tmp_path: Path) -> None:
    """`make run` loads the roster before `serve`: the load, not serve, creates the file."""
    from app.migrate import upgrade

    path = tmp_path / "hotline.db"
    upgrade(f"sqlite:///{path}")
    assert mode(path) == 0o600


def test_a_postgresql_url_creates_no_file(tmp_path: Path, monkeypatch) -> None:
    from app.privacy.files import private_sqlite_file

    monkeypatch.chdir(tmp_path)
    private_sqlite_file("postgresql+psycopg://postgres@127.0.0.1:5432/hotline")
    assert list(tmp_path.iterdir()) == []
