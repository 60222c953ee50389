"""Every `hotline serve` loads HOTLINE_ROSTER as it starts (docker-compose sets it on each
web container), so on PostgreSQL two processes may load the same roster at the same moment.
Neither may fail, and the roster must come out as the file says, not doubled."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.casework.roster_load import load_roster_file
from app.db import make_engine, make_sessionmaker, utcnow
from tests.conftest import _truncate_all
from tests.faults.cluster import Db
from tests.harness import ROSTER

pytestmark = pytest.mark.postgres_only


def load_side_by_side(url: str, path: Path) -> list[BaseException]:
    """Two loads, each on an engine of its own (as two processes), started together."""
    engines = [make_engine(url) for _ in range(2)]
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def load(index: int) -> None:
        start.wait()
        try:
            load_roster_file(make_sessionmaker(engines[index]), path, utcnow())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for engine in engines:
        engine.dispose()
    return errors


def test_two_processes_loading_one_roster_at_once(pg_url: str, db: Db, tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER)
    for attempt in range(8):
        if attempt < 4:
            _truncate_all(pg_url)  # a new database: both would create the hotline
        assert load_side_by_side(pg_url, path) == [], f"attempt {attempt}"
        assert db.value("SELECT count(*) FROM hotline") == 1
        assert db.value("SELECT count(*) FROM responder") == 5
        assert db.value("SELECT count(*) FROM shift") == 1, f"attempt {attempt}"
