"""The outage spool on its own: durable appends, replay that only ever shortens the file
after entries landed, and entries that cannot land set aside instead of blocking the rest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.telephony.spool import ENTRIES, FAILED, REPLAYING, Entry, Spool

AT = datetime(2026, 5, 11, 16, 0, tzinfo=UTC)


class Down(Exception):
    """Stands for the database being unreachable."""


def entry(n: int) -> Entry:
    return Entry("/twilio/sms", {"MessageSid": f"SM{n}", "Body": f"text {n} \u00e9"}, AT, "sig")


def sids(entries: list[Entry]) -> list[str]:
    return [e.params["MessageSid"] for e in entries]


def test_append_is_durable_json_lines_and_survives_a_torn_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "a" / "spool")  # made on first use, parents too
    assert spool.depth() == 0 and spool.entries() == []
    spool.append(entry(1))
    path = tmp_path / "a" / "spool" / ENTRIES
    (line,) = path.read_bytes().splitlines()
    assert json.loads(line) == {
        "path": "/twilio/sms",
        "params": {"MessageSid": "SM1", "Body": "text 1 \u00e9"},
        "received_at": "2026-05-11T16:00:00+00:00",
        "signature": "sig",
    }
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # A crash in the middle of a write leaves half a line: the next entry starts afresh.
    with path.open("ab") as f:
        f.write(b'{"path": "/twil')
    spool.append(entry(2))
    assert spool.depth() == 3
    assert sids(spool.entries()) == ["SM1", "SM2"]

    ran: list[str] = []
    result = spool.replay(lambda e: ran.append(e.params["MessageSid"]), retry_later=(Down,))
    assert ran == ["SM1", "SM2"]
    assert (result.landed, result.failed, result.done) == (2, 1, True)
    assert spool.depth() == 0 and not path.exists()
    assert spool.failed() == 1  # the torn line, kept for a person to look at


def test_replay_stops_when_the_database_fails_again_and_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(1, 5):
        spool.append(entry(n))
    landed: list[str] = []

    def down_at_3(e: Entry) -> None:
        if e.params["MessageSid"] == "SM3":
            raise Down("connection refused")
        landed.append(e.params["MessageSid"])

    result = spool.replay(down_at_3, retry_later=(Down,))
    assert not result.done and result.landed == 2 and "connection refused" in (result.error or "")
    # What landed is cut off; what did not waits, in order, ahead of anything newer.
    assert sids(spool.entries()) == ["SM3", "SM4"]
    spool.append(entry(5))
    assert sids(spool.entries()) == ["SM3", "SM4", "SM5"]

    result = spool.replay(lambda e: landed.append(e.params["MessageSid"]), retry_later=(Down,))
    assert result.done and result.landed == 3
    assert landed == ["SM1", "SM2", "SM3", "SM4", "SM5"]
    assert spool.depth() == 0 and list(tmp_path.glob("*.jsonl")) == []


def test_a_crash_during_replay_replays_the_batch_again(tmp_path: Path) -> None:
    """A process killed mid-replay leaves replaying.jsonl: the next replay starts with it,
    entries that had landed included (the handlers are idempotent by SID)."""
    spool = Spool(tmp_path)
    spool.append(entry(1))
    spool.append(entry(2))

    class Killed(BaseException):
        pass

    def killed_at_2(e: Entry) -> None:
        if e.params["MessageSid"] == "SM2":
            raise Killed

    with pytest.raises(Killed):
        spool.replay(killed_at_2, retry_later=(Down,))
    assert (tmp_path / REPLAYING).exists()
    spool.append(entry(3))
    ran: list[str] = []
    assert Spool(tmp_path).replay(lambda e: ran.append(e.params["MessageSid"]), retry_later=()).done
    assert ran == ["SM1", "SM2", "SM3"]


def test_an_entry_that_cannot_land_is_set_aside_and_can_be_retried(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in (1, 2, 3):
        spool.append(entry(n))

    def bug_at_2(e: Entry) -> None:
        if e.params["MessageSid"] == "SM2":
            raise ValueError("a bug")

    result = spool.replay(bug_at_2, retry_later=(Down,))
    assert (result.landed, result.failed, result.done) == (2, 1, True)
    (failed,) = (tmp_path / FAILED).read_text().splitlines()
    assert json.loads(failed)["error"] == "ValueError: a bug"
    assert spool.depth() == 0 and spool.failed() == 1

    assert spool.retry_failed() == 1
    assert sids(spool.entries()) == ["SM2"] and spool.failed() == 0
    assert spool.replay(lambda e: None, retry_later=(Down,)).landed == 1


def test_one_replay_at_a_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(entry(1))
    inner: list[bool] = []

    def reenter(e: Entry) -> None:
        inner.append(Spool(tmp_path).replay(lambda _: None, retry_later=()).done)

    assert spool.replay(reenter, retry_later=()).done
    assert inner == [False]  # the second replayer (as if another process) left it alone
