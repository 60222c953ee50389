"""Drills on a real hotline: the API as an admin calls it, the CLI on the same database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.settings import get_settings
from tests.harness import Hotline
from tests.web.conftest import Api


@pytest.fixture
def api(hl: Hotline) -> Iterator[Api]:
    yield Api(hl)


@pytest.fixture
def hotline_cli(
    hl: Hotline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[CliRunner]:
    """`hotline ...` on the hotline's own database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", hl.settings.database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
