"""The escalation log through the API: a case's events, every event, and the CSV export."""

from __future__ import annotations

import csv
import io
import json

import pytest

from app.casework import events as queries
from tests.harness import AVERY, REPORTER, REPORTER_2
from tests.web.conftest import Api


def two_cases(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "first report")
    hl.run()
    hl.clock.advance(minutes=1)
    hl.answer(AVERY, "ACK 1")
    hl.run()
    hl.clock.advance(minutes=1)
    hl.answer(REPORTER_2, "second report")
    hl.run()


def test_a_case_log_is_oldest_first_in_utc(api: Api) -> None:
    two_cases(api)
    events = api.ok("/api/cases/1/events", api.token("chair"))
    assert [e["type"] for e in events] == [
        "case_opened",
        "message_received",
        "paging",
        "page_sent",
        "acknowledged",
        "message_sent",
    ]
    assert events[0] == {
        "id": 1,
        "case": 1,
        "at": "2026-05-11T16:00:00Z",
        "type": "case_opened",
        "actor": "reporter",
        "detail": {"channel": "sms"},
    }
    assert events[4]["actor"] == "Avery Quinn" and events[4]["at"] == "2026-05-11T16:01:00Z"


def test_every_event_pages_and_filters(api: Api) -> None:
    two_cases(api)
    chair = api.token("chair")
    everything = api.ok("/api/events", chair, limit=200)["items"]
    assert [e["at"] for e in everything] == sorted(e["at"] for e in everything)

    seen, cursor = [], None
    while True:
        page = api.ok("/api/events", chair, limit=4, **({"cursor": cursor} if cursor else {}))
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything

    acks = api.ok("/api/events", chair, type="acknowledged")["items"]
    assert [(e["case"], e["actor"]) for e in acks] == [(1, "Avery Quinn")]
    later = api.ok("/api/events", chair, since="2026-05-11T16:02:00Z", limit=200)["items"]
    assert {e["case"] for e in later} == {2, None}  # None: the token minted at 16:02
    earlier = api.ok("/api/events", chair, until="2026-05-11T16:01:00Z", limit=200)["items"]
    assert {e["at"] for e in earlier} == {"2026-05-11T16:00:00Z"}
    assert api.get("/api/events", chair, type="DROP TABLE").status_code == 422
    assert api.get("/api/events", chair, format="xml").status_code == 422
    assert api.get("/api/events", chair, cursor="%%%").status_code == 400


def test_the_csv_export_streams_every_visible_event_in_batches(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_cases(api)
    chair = api.token("chair")
    everything = api.ok("/api/events", chair, limit=200)["items"]
    monkeypatch.setattr(queries, "CSV_BATCH", 3)  # many batches, ties on `at` across them

    response = api.get("/api/events", chair, format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in everything]
    first = rows[0]
    assert (first["case"], first["at"], first["type"]) == (
        "1",
        "2026-05-11T16:00:00Z",
        "case_opened",
    )
    assert json.loads(first["detail"]) == {"channel": "sms"}

    only_acks = api.get("/api/events", chair, format="csv", type="acknowledged").text
    assert len(only_acks.splitlines()) == 2
    assert api.get("/api/events", None, format="csv").status_code == 401
