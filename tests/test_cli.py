"""The `hotline` command against real databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.auth.models import ApiToken
from app.auth.tokens import digest
from app.cli import cli
from app.db import make_engine, make_sessionmaker
from app.roster.models import Responder
from app.settings import get_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "roster.yaml"


@pytest.fixture
def hotline_cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[CliRunner]:
    monkeypatch.chdir(tmp_path)  # commands must not depend on the working directory
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def rows(database_url: str, query) -> int:  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return session.scalar(query) or 0
    finally:
        engine.dispose()


def test_migrate_works_from_any_directory_on_an_empty_database(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["migrate"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh.db").exists()


def test_roster_load_and_reload(hotline_cli: CliRunner, database_url: str) -> None:
    result = hotline_cli.invoke(cli, ["roster", "load", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "5 created" in result.output
    again = hotline_cli.invoke(cli, ["roster", "load", str(EXAMPLE)])
    assert again.exit_code == 0
    assert rows(database_url, select(func.count()).select_from(Responder)) == 5


def test_a_bad_roster_is_refused_naming_the_field(
    hotline_cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace('"+15555550112"', '"+1555"'))
    result = hotline_cli.invoke(cli, ["roster", "load", str(bad)])
    assert result.exit_code == 1
    assert "responders[1].phone" in result.output and "line" in result.output
    assert rows(database_url, select(func.count()).select_from(Responder)) == 0


def test_token_create_prints_a_token_once_and_stores_its_hash(
    hotline_cli: CliRunner, database_url: str
) -> None:
    hotline_cli.invoke(cli, ["roster", "load", str(EXAMPLE)])
    result = hotline_cli.invoke(
        cli, ["token", "create", "--role", "chair", "--responder", "+15555550122", "--name", "x"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("hl_")
    stored = rows(database_url, select(func.count()).where(ApiToken.token_hash == digest(token)))
    assert stored == 1
    assert rows(database_url, select(func.count()).where(ApiToken.token_hash == token)) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "owner"], "role must be one of"),
        (["--role", "responder"], "needs --responder"),
        (["--role", "chair", "--responder", "+15555550199"], "no responder"),
    ],
)
def test_token_create_refuses_bad_input(
    hotline_cli: CliRunner, database_url: str, args: list[str], message: str
) -> None:
    result = hotline_cli.invoke(cli, ["token", "create", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert rows(database_url, select(func.count()).select_from(ApiToken)) == 0
