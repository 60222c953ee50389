"""`hotline token list` and `hotline token revoke`: tokens are shown once, then only named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from tests.harness import EMERY, Hotline

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roster.yaml"


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, list(args))
    get_settings.cache_clear()


def test_tokens_are_listed_without_the_token_and_revoked_by_id(run, database_url: str) -> None:
    assert run("roster", "load", str(EXAMPLE)).exit_code == 0
    chair = run("token", "create", "--role", "chair", "--name", "Chair laptop").output.strip()
    emery = run("token", "create", "--role", "chair", "--responder", EMERY).output.strip()

    listing = run("token", "list")
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].split() == ["id", "name", "role", "responder", "created", "revoked"]
    assert lines[1].split()[:4] == ["1", "Chair", "laptop", "chair"]
    assert EMERY in lines[2] and lines[2].rstrip().endswith("-")
    assert chair not in listing.output and emery not in listing.output

    revoked = run("token", "revoke", "2")
    assert revoked.exit_code == 0 and "token 2 (chair, chair) revoked" in revoked.output
    assert run("token", "revoke", "2").exit_code == 0  # twice changes nothing
    assert "UTC" in run("token", "list").output.splitlines()[2].split("UTC", 1)[1]
    missing = run("token", "revoke", "9")
    assert missing.exit_code == 1 and "no token has the id 9" in missing.output

    hl = Hotline(database_url, roster="")
    try:
        auth = {"Authorization": f"Bearer {emery}"}
        assert hl.client.get("/api/cases", headers=auth).status_code == 401
        auth = {"Authorization": f"Bearer {chair}"}
        events = hl.client.get("/api/events", headers=auth).json()["items"]
    finally:
        hl.close()
    assert [(e["type"], e["actor"], e["case"]) for e in events] == [
        ("token_created", "hotline command", None),
        ("token_created", "hotline command", None),
        ("token_revoked", "hotline command", None),
    ]
