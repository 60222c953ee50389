"""The chair can exclude: through the API, and by writing a responder's name on the case.

Either takes effect in the same transaction as the write, before anyone can read it: the
responder written about is never told, paged or shown anything about the case again.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.cases.models import Case, CaseNote, Exclusion
from tests.harness import (
    ALTERNATES,
    AVERY,
    BLAKE,
    CASEY,
    DANA,
    EMERY,
    REPORTER,
    Hotline,
    case_events,
    count,
    recipients,
)
from tests.web.conftest import Api


def exclusions(hl: Hotline, case_id: int = 1) -> dict[str, str]:
    with hl.services.sessions() as session:
        rows = session.scalars(select(Exclusion).where(Exclusion.case_id == case_id)).all()
        return {r.responder.phone: r.reason for r in rows}


def open_case_paging_every_lead(hl: Hotline) -> None:
    """A report naming nobody, escalated until every lead (not yet the alternates) was paged."""
    hl.answer(REPORTER, "Someone made sexual comments at booth 12")
    assert recipients(hl.run()) == {AVERY}
    assert {BLAKE, CASEY} <= recipients(hl.after(minutes=5))


def assert_hidden_from(api: Api, token: str, case: int = 1) -> None:
    missing = api.get("/api/cases/999999", token)
    assert missing.status_code == 404
    for path in (f"/api/cases/{case}", f"/api/cases/{case}/events"):
        response = api.get(path, token)
        assert (response.status_code, response.json()) == (404, missing.json()), path
    assert all(c["number"] != case for c in api.ok("/api/cases", token)["items"])
    assert all(e["case"] != case for e in api.ok("/api/events", token, limit=200)["items"])


# --- POST /api/cases/{n}/exclusions ----------------------------------------------------------


@pytest.mark.parametrize("who", ["Blake Rivera", "blake rivera", "BLAKE  RIVERA", BLAKE])
def test_the_chair_excludes_a_responder_by_name_or_phone(api: Api, who: str) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    blake = api.token("responder", responder=BLAKE, name="Blake's phone")
    assert api.get("/api/cases/1", blake).status_code == 200
    chair = api.token("chair", name="Chair laptop")
    response = api.post("/api/cases/1/exclusions", chair, {"responder": who})
    assert response.status_code == 201, response.text
    assert response.json()["responder"] == "Blake Rivera"
    assert response.json()["reason"] == "chair_excluded"
    assert exclusions(hl) == {BLAKE: "chair_excluded"}
    [event] = [e for e in case_events(hl) if e.type == "excluded"]
    assert event.actor == "Chair laptop (chair)"
    assert event.detail["reason"] == "chair_excluded"
    assert_hidden_from(api, blake)
    assert hl.answer(BLAKE, "ACK 1") == "No such case: 1."
    assert hl.answer(AVERY, "ACK 1").startswith("You have case 1")
    sent = hl.run() + hl.after(minutes=30)
    assert BLAKE not in recipients(sent)  # not even "Case 1 is taken by Avery Quinn"
    assert CASEY in recipients(sent)


def test_the_chair_excluding_the_whole_tier_pages_the_next_tier_at_once(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "Someone made sexual comments at booth 12")
    assert recipients(hl.run()) == {AVERY}
    chair = api.token("chair")
    assert api.post("/api/cases/1/exclusions", chair, {"responder": "Avery"}).status_code == 201
    assert recipients(hl.run()) == {BLAKE, CASEY}  # tier 2 now, not in five minutes


def test_the_chair_excluding_everyone_left_falls_back_to_the_alternates(api: Api) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    chair = api.token("chair")
    for name in ("Avery Quinn", "Blake Rivera", "Casey Moreau"):
        assert api.post("/api/cases/1/exclusions", chair, {"responder": name}).status_code == 201
    assert recipients(hl.run()) == set(ALTERNATES)


def test_the_chair_excluding_the_holder_pages_the_case_again(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "Someone made sexual comments at booth 12")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.run()
    chair = api.token("chair")
    assert api.post("/api/cases/1/exclusions", chair, {"responder": AVERY}).status_code == 201
    with hl.services.sessions() as session:
        assert session.get_one(Case, 1).status == "open"
    sent = hl.run()
    assert recipients(sent) == {BLAKE, CASEY}
    assert hl.answer(AVERY, "REPLY 1 still on it") == "No such case: 1."


def test_excluding_someone_excluded_already_keeps_the_first_reason(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "Blake Rivera was following me")
    chair = api.token("chair")
    response = api.post("/api/cases/1/exclusions", chair, {"responder": "Blake Rivera"})
    assert response.status_code == 200
    assert response.json()["reason"] == "named_in_report"
    assert [e.type for e in case_events(hl)].count("excluded") == 1


def test_a_responder_token_may_not_exclude(api: Api) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    blake = api.token("responder", responder=BLAKE)
    for case in (1, 999999):
        response = api.post(f"/api/cases/{case}/exclusions", blake, {"responder": "Avery Quinn"})
        assert response.status_code == 403
    assert exclusions(hl) == {}


def test_excluding_on_a_case_the_token_may_not_see_answers_like_a_missing_case(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "Emery Lindqvist touched someone without consent")
    emery_chair = api.token("chair", responder=EMERY)  # the conference chair, named in it
    missing = api.post("/api/cases/999999/exclusions", emery_chair, {"responder": "Dana Okafor"})
    excluded = api.post("/api/cases/1/exclusions", emery_chair, {"responder": "Dana Okafor"})
    assert (excluded.status_code, excluded.json()) == (404, missing.json())
    assert missing.status_code == 404
    assert exclusions(hl) == {EMERY: "named_in_report"}


@pytest.mark.parametrize(
    "body",
    [
        {"responder": "Someone Else"},
        {"responder": "+15555550199"},
        {"responder": ""},
        {"responder": "Blake", "reason": "x"},
        {},
    ],
)
def test_a_responder_not_on_the_roster_is_refused_and_changes_nothing(
    api: Api, body: dict[str, str]
) -> None:
    hl = api.hl
    hl.answer(REPORTER, "Someone made sexual comments at booth 12")
    before = len(case_events(hl))
    response = api.post("/api/cases/1/exclusions", api.token("admin"), body)
    assert response.status_code == 422
    assert "+1555" not in response.text or body.get("responder", "").startswith("+")
    assert exclusions(hl) == {} and len(case_events(hl)) == before


# --- what is written on the case ---------------------------------------------------------------


def test_chair_note_naming_a_lead_hides_the_case_from_that_lead(api: Api) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    blake = api.token("responder", responder=BLAKE, name="Blake's phone")
    assert api.get("/api/cases/1", blake).status_code == 200
    chair = api.token("chair", name="Chair laptop")
    note = "Two witnesses say it was Blake, the tall lead responder"
    assert api.post("/api/cases/1/notes", chair, {"body": note}).status_code == 201
    assert exclusions(hl) == {BLAKE: "named_in_report"}
    assert_hidden_from(api, blake)
    assert hl.answer(BLAKE, "STATUS") == "You have no open cases."
    assert hl.answer(AVERY, "ACK 1").startswith("You have case 1")
    resolve = {"outcome": "warning", "note": "done"}
    assert api.post("/api/cases/1/resolve", chair, resolve).status_code == 200
    assert BLAKE not in recipients(hl.run() + hl.after(minutes=30))
    types = [e.type for e in case_events(hl)]
    assert types.index("excluded") < types.index("note_added")  # excluded before it was written


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("reported_person", "Rivera (lead responder), blue jacket"),
        ("description", "@blake_rivera kept following the reporter"),
        ("witnesses", "Blake's partner saw it"),
        ("circumstances", "Blake-Rivera was at the booth"),
    ],
)
def test_a_record_field_naming_a_lead_excludes_them_before_it_is_written(
    api: Api, field: str, text: str
) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    blake = api.token("responder", responder=BLAKE)
    chair = api.token("chair")
    response = api.patch("/api/cases/1", chair, {field: text})
    assert response.status_code == 200
    assert response.json()["exclusions"][0]["responder"] == "Blake Rivera"
    assert exclusions(hl) == {BLAKE: "named_in_report"}
    [event] = [e for e in case_events(hl) if e.type == "excluded"]
    assert event.detail["named_in"] == field
    types = [e.type for e in case_events(hl)]
    assert types.index("excluded") < types.index("record_updated")
    assert_hidden_from(api, blake)


def test_an_alternate_note_naming_a_lead_excludes_them(api: Api) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    hl.after(minutes=5)  # the alternates are paged too
    dana = api.token("responder", responder=DANA, name="Dana")
    body = {"body": "Spoke to the reporter: it was Casey Moreau"}
    assert api.post("/api/cases/1/notes", dana, body).status_code == 201
    assert exclusions(hl) == {CASEY: "named_in_report"}


def test_writing_ones_own_name_on_a_case_excludes_nobody(api: Api) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    avery = api.token("chair", responder=AVERY, name="Avery")
    body = {"body": "Avery Quinn here: I am talking to the reporter now"}
    assert api.post("/api/cases/1/notes", avery, body).status_code == 201
    assert exclusions(hl) == {}


def test_an_alternate_reply_naming_a_lead_excludes_them(api: Api) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    hl.after(minutes=5)
    assert hl.answer(DANA, "REPLY 1 Thank you. Casey will not be involved.").startswith("Sent")
    assert exclusions(hl) == {CASEY: "named_in_report"}
    assert hl.answer(CASEY, "ACK 1") == "No such case: 1."


def test_a_resolution_note_naming_a_lead_keeps_the_resolved_notice_from_them(api: Api) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    chair = api.token("chair")
    body = {"outcome": "warning", "note": "Warned Avery Quinn", "follow_up_assignee": "Dana"}
    assert api.post("/api/cases/1/resolve", chair, body).status_code == 200
    assert exclusions(hl) == {AVERY: "named_in_report"}  # not Dana, the assignee
    assert recipients(hl.run()) == {BLAKE, CASEY}


def test_a_write_refused_excludes_nobody(api: Api) -> None:
    hl = api.hl
    open_case_paging_every_lead(hl)
    chair = api.token("chair")
    bad = {"reported_person": "Blake Rivera", "incident_at": "1850-01-01T00:00:00"}
    assert api.patch("/api/cases/1", chair, bad).status_code == 422
    assert api.post("/api/cases/1/notes", chair, {"body": "Blake\u0000"}).status_code == 422
    assert exclusions(hl) == {} and count(hl, CaseNote) == 0
