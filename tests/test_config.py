"""A configuration that cannot work stops the service at start, naming the variable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.settings import Settings, get_settings, is_loopback

PUBLIC = "https://hotline.example.org"
SID = "AC" + "0" * 32


def problem(**env: str) -> str | None:
    return Settings(_env_file=None, **env).startup_problem()  # type: ignore[call-arg]


def test_an_auth_token_without_an_account_sid_behind_a_public_url_does_not_fall_back_silently():
    message = problem(HOTLINE_PUBLIC_URL=PUBLIC, TWILIO_AUTH_TOKEN="secret")
    assert message is not None
    assert "HOTLINE_PUBLIC_URL" in message and "TWILIO_ACCOUNT_SID" in message
    assert "console" in message


def test_the_twilio_transport_needs_both_credentials():
    no_sid = problem(HOTLINE_TRANSPORT="twilio", TWILIO_AUTH_TOKEN="secret")
    assert no_sid is not None and no_sid.startswith("TWILIO_ACCOUNT_SID not set")
    no_token = problem(TWILIO_ACCOUNT_SID=SID, HOTLINE_PUBLIC_URL=PUBLIC)
    assert no_token is not None and no_token.startswith("TWILIO_AUTH_TOKEN not set")
    neither = problem(HOTLINE_TRANSPORT="twilio")
    assert neither is not None and "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN not set" in neither


def test_workable_configurations_start():
    assert problem() is None  # the offline demo
    assert problem(HOTLINE_PUBLIC_URL="http://localhost:8000", TWILIO_AUTH_TOKEN="x") is None
    assert problem(TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN="x", HOTLINE_PUBLIC_URL=PUBLIC) is None


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.0.0.2", True),
        ("http://[::1]:8000", True),
        ("http://localhost", True),
        ("https://hotline.example.org", False),
        ("http://10.0.0.5:8000", False),
        ("http://127.0.0.1.example.org", False),
    ],
)
def test_only_this_machine_counts_as_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith(("HOTLINE_", "TWILIO_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_to_start_naming_the_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("HOTLINE_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{clean_env / 'h.db'}")
    result = CliRunner().invoke(cli, [command])
    assert result.exit_code == 2
    assert "HOTLINE_PUBLIC_URL" in result.output and "TWILIO_ACCOUNT_SID" in result.output
    assert not (clean_env / ".env").exists()  # no demo token made on the way out
