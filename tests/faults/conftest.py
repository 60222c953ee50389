"""Fixtures for the fault suite: a stand-in Twilio, the shared database, and the processes
of one test, all cleaned up whatever the test did to them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.cluster import Cluster, Db
from tests.faults.lines import ROSTER
from tests.faults.standin import StandInTwilio


@pytest.fixture
def twilio() -> Iterator[StandInTwilio]:
    standin = StandInTwilio().start()
    yield standin
    standin.close()
    assert not standin.violations, f"requests Twilio would refuse: {standin.violations}"


@pytest.fixture
def db(pg_url: str) -> Iterator[Db]:
    database = Db(pg_url)
    yield database
    database.close()


@pytest.fixture
def cluster(pg_url: str, twilio: StandInTwilio, tmp_path: Path) -> Iterator[Cluster]:
    processes = Cluster(tmp_path, pg_url, twilio.url)
    yield processes
    processes.close()
    print(processes.logs())  # shown by pytest when the test failed


@pytest.fixture
def roster(db: Db, tmp_path: Path) -> Path:
    """The crash tests' hotlines, loaded before any process starts."""
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER)
    db.load_roster(path)
    return path
