"""What a report says is encrypted at rest: the database file and a pg_dump hold none of it,
and the service reads it back only with the key kept outside the database."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from app.cases.models import Case
from app.privacy import keys
from app.privacy.rotate import reencrypt_all
from app.settings import Settings
from tests.harness import AVERY, REPORTER, Hotline
from tests.web.conftest import Api

WORDS = "Zanzibar-lanyard harassment near the quokka booth"
NOTE = "Spoke with the marmoset witness"
PERSON = "Tall person wearing a periwinkle scarf"
# The reporter's number in each form a careless store could keep it.
NUMBER_FORMS = (REPORTER, REPORTER.lstrip("+"), REPORTER[2:])


@pytest.fixture
def keyring() -> Iterator[None]:
    """Tests that configure other keys give the process its own back afterwards."""
    before = keys.active()
    yield
    keys.configure(before)


def a_full_case(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, WORDS)
    hl.run()
    hl.answer(REPORTER, "the quokka booth again")
    hl.answer(AVERY, "ACK 1")
    hl.answer(AVERY, "REPLY 1 On my way to the quokka booth")
    hl.run()
    chair = api.token("chair")
    assert api.post("/api/cases/1/notes", chair, {"body": NOTE}).status_code == 201
    patch = {"reported_person": PERSON, "description": WORDS, "location": "quokka booth"}
    assert api.patch("/api/cases/1", chair, patch).status_code == 200


def database_bytes(hl: Hotline, tmp_path: Path) -> bytes:
    """The SQLite file with its WAL, or a plain pg_dump of the PostgreSQL database."""
    url = make_url(hl.settings.database_url)
    if url.drivername.startswith("sqlite"):
        path = Path(url.database or "")
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    dump = tmp_path / "dump.sql"
    subprocess.run(
        [
            "pg_dump",
            "-h",
            url.host or "127.0.0.1",
            "-U",
            url.username or "postgres",
            "-p",
            str(url.port or 5432),
            "-f",
            str(dump),
            url.database or "",
        ],
        check=True,
        timeout=60,
    )
    return dump.read_bytes()


def test_the_database_and_its_dump_hold_no_report_text_or_reporter_number(
    api: Api, tmp_path: Path
) -> None:
    a_full_case(api)
    stored = database_bytes(api.hl, tmp_path)
    assert AVERY.encode() in stored  # it is the real thing: the roster is not encrypted
    for secret in ("Zanzibar", "quokka", "marmoset", "periwinkle", *NUMBER_FORMS):
        assert secret.encode() not in stored, secret
    # ... while the service reads it all back
    chair = api.token("chair")
    detail = api.ok("/api/cases/1", chair)
    assert detail["messages"][0]["body"] == WORDS
    assert detail["notes"][0]["body"] == NOTE
    assert detail["record"]["reported_person"] == PERSON
    assert detail["reporter"] == "•••• 0150"
    events = api.ok("/api/cases/1/events", chair)
    assert {"text": NOTE}.items() <= next(e for e in events if e["type"] == "note_added")[
        "detail"
    ].items()


def test_search_finds_words_of_encrypted_reports(api: Api) -> None:
    a_full_case(api)
    api.hl.answer("+15555550151", "nothing to do with it")
    chair = api.token("chair")
    found = api.ok("/api/cases", chair, q="QUOKKA")["items"]
    assert [c["number"] for c in found] == [1]
    assert [c["number"] for c in api.ok("/api/cases", chair, q="periwinkle")["items"]] == [1]
    assert api.ok("/api/cases", chair, q="absent words")["items"] == []


def test_a_follow_up_joins_its_case_through_the_keyed_hash(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, WORDS)
    hl.answer(REPORTER, "one more thing")
    with hl.services.sessions() as session:
        case = session.get_one(Case, 1)
        raw = session.execute(text('SELECT reporter_phone, reporter_hash FROM "case"')).one()
    assert case.reporter_phone == REPORTER
    assert raw.reporter_phone.startswith(keys.TOKEN_PREFIX)
    assert raw.reporter_hash == keys.active().lookup(REPORTER) != REPORTER
    assert len(api.ok("/api/cases/1", api.token("chair"))["messages"]) == 2


def test_the_service_refuses_to_start_without_the_key_of_its_data(
    hl: Hotline, keyring: None, tmp_path: Path
) -> None:
    hl.answer(REPORTER, WORDS)
    url = hl.settings.database_url
    no_keys = Settings(HOTLINE_DATABASE_URL=url, HOTLINE_DATA_KEY="", HOTLINE_AUDIT_KEY="")
    with pytest.raises(keys.KeysError, match="holds encrypted reports"):
        keys.ensure(no_keys)
    other = Settings(
        HOTLINE_DATABASE_URL=url,
        HOTLINE_DATA_KEY=keys.generate_data_key(),
        HOTLINE_AUDIT_KEY=keys.generate_audit_key(),
    )
    with pytest.raises(keys.KeysError, match="does not decrypt"):
        keys.ensure(other)
    from app.services import build

    with pytest.raises(SystemExit, match="HOTLINE_DATA_KEY"):
        build(no_keys)


def test_a_new_database_gets_its_keys_made_once_in_a_private_file(
    keyring: None, tmp_path: Path
) -> None:
    key_file = tmp_path / "hotline.keys"
    fresh = Settings(
        HOTLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}",
        HOTLINE_DATA_KEY="",
        HOTLINE_AUDIT_KEY="",
        HOTLINE_KEY_FILE=str(key_file),
    )
    made = keys.ensure(fresh)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert f"HOTLINE_DATA_KEY={made.data_keys[0]}" in key_file.read_text()
    again = keys.ensure(fresh)  # a second process finds them
    assert again == made


def test_rotation_re_encrypts_under_a_new_key_and_the_log_still_verifies(
    api: Api, keyring: None
) -> None:
    a_full_case(api)
    old = keys.active()
    new = keys.Keyring((keys.generate_data_key(), *old.data_keys), old.audit_key)
    with api.hl.services.engine.begin() as conn:
        before = conn.execute(text("SELECT body FROM message ORDER BY id")).scalars().all()
        assert reencrypt_all(conn, new) > 0
        after = conn.execute(text("SELECT body FROM message ORDER BY id")).scalars().all()
    assert all(a != b for a, b in zip(after, before, strict=True))
    keys.configure(keys.Keyring(new.data_keys[:1], old.audit_key))  # the old key is gone
    chair = api.token("chair")
    assert api.ok("/api/cases/1", chair)["messages"][0]["body"] == WORDS
    assert api.ok("/api/cases/1/events/verify", chair)["ok"] is True
    api.hl.answer(REPORTER, "still the same reporter")  # the keyed hash moved with the key
    assert len(api.ok("/api/cases/1", chair)["messages"]) == 4
    with pytest.raises(keys.KeysError):
        old.decrypt(after[0])


def test_keys_rotate_new_replaces_the_key_in_its_file(
    api: Api, keyring: None, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.settings import get_settings

    a_full_case(api)
    old = keys.active()
    key_file = tmp_path / "hotline.keys"
    key_file.write_text(f"HOTLINE_DATA_KEY={old.data_keys[0]}\nHOTLINE_AUDIT_KEY={old.audit_key}\n")
    monkeypatch.delenv("HOTLINE_DATA_KEY")
    monkeypatch.delenv("HOTLINE_AUDIT_KEY")
    monkeypatch.setenv("HOTLINE_KEY_FILE", str(key_file))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["keys", "rotate", "--new"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "new data key written to" in result.output
    stored = dict(line.split("=", 1) for line in key_file.read_text().split())
    assert stored["HOTLINE_DATA_KEY"] not in old.data_keys  # one new key, the old one gone
    assert "," not in stored["HOTLINE_DATA_KEY"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    keys.configure(keys.Keyring((stored["HOTLINE_DATA_KEY"],), old.audit_key))
    chair = api.token("chair")
    assert api.ok("/api/cases/1", chair)["notes"][0]["body"] == NOTE
    assert api.ok("/api/cases/1/events/verify", chair)["ok"] is True
