"""Conflict of interest: whoever the report involves learns nothing about it, and the case
still reaches someone who can act at once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import Event
from app.cases.models import Case, Exclusion
from app.paging.models import Outbound
from tests.harness import (
    ALTERNATES,
    AVERY,
    BLAKE,
    CASEY,
    DANA,
    EMERY,
    LEADS,
    REPORTER,
    ROSTER,
    Hotline,
    Sms,
    recipients,
)

NAMES = {
    AVERY: "Avery Quinn",
    BLAKE: "Blake Rivera",
    CASEY: "Casey Moreau",
    DANA: "Dana Okafor",
    EMERY: "Emery Lindqvist",
}


def exclusions(hl: Hotline, case_id: int = 1) -> dict[str, str]:
    with hl.services.sessions() as session:
        rows = session.scalars(select(Exclusion).where(Exclusion.case_id == case_id)).all()
        return {r.responder.phone: r.reason for r in rows}


def whole_case(hl: Hotline, report: str, involved: set[str]) -> list[Sms]:
    """Everything sent while a case runs its course: opened, escalated through every tier,
    followed up, taken by someone eligible, relayed and resolved."""
    hl.answer(REPORTER, report)
    sent = hl.run()
    first_wave = recipients(sent)
    assert first_wave and not first_wave & involved, "someone eligible is paged at once"
    for _ in range(3):
        sent += hl.after(minutes=5)
    hl.answer(REPORTER, "He is still at the registration desk")
    sent += hl.run()
    taker = sorted(first_wave - {REPORTER})[0]
    assert "You have case 1" in hl.answer(taker, "ACK 1")
    hl.answer(taker, "REPLY 1 On my way")
    sent += hl.run()
    if taker in LEADS:
        assert hl.answer(taker, "RESOLVE 1") == "Case 1 is resolved."
    sent += hl.run() + hl.after(minutes=30)
    return sent


MATRIX = [
    pytest.param(
        "Avery Quinn made sexual comments to an attendee at booth 12",
        {AVERY},
        {BLAKE, CASEY},
        id="the-on-call-lead",
    ),
    pytest.param(
        "The person was Blake (Blake Rivera), the tall lead responder",
        {BLAKE},
        {AVERY},
        id="an-off-shift-lead",
    ),
    pytest.param(
        "CONFLICT Avery Quinn. CONFLICT Blake Rivera. CONFLICT Casey Moreau. They all were there",
        {AVERY, BLAKE, CASEY},
        {DANA, EMERY},
        id="every-lead",
    ),
    pytest.param(
        "Dana Okafor shouted at a volunteer in the hallway",
        {DANA},
        {AVERY},
        id="an-alternate",
    ),
    pytest.param(
        "emery lindqvist (the chair) touched someone without consent",
        {EMERY},
        {AVERY},
        id="the-chair",
    ),
]


# Names as people write them (issue 9): a first or last name no one else has, a possessive,
# a handle, last name first, CONFLICT followed by punctuation.
MATRIX += [
    pytest.param(
        "Blake's friend grabbed someone at the party",
        {BLAKE},
        {AVERY},
        id="a-possessive-first-name",
    ),
    pytest.param(
        "Quinn made sexual comments at booth 12",
        {AVERY},
        {BLAKE, CASEY},
        id="the-on-call-lead-by-last-name",
    ),
    pytest.param(
        "@blake_rivera keeps messaging an attendee",
        {BLAKE},
        {AVERY},
        id="a-handle",
    ),
    pytest.param(
        "okafor, dana shouted at a volunteer",
        {DANA},
        {AVERY},
        id="an-alternate-last-name-first",
    ),
    pytest.param(
        "CONFLICT, Casey. Someone grabbed me by the arm",
        {CASEY},
        {AVERY},
        id="conflict-and-a-comma",
    ),
]


@pytest.mark.parametrize(("report", "involved", "paged_first"), MATRIX)
def test_the_person_involved_learns_nothing(
    hl: Hotline, report: str, involved: set[str], paged_first: set[str]
) -> None:
    sent = whole_case(hl, report, involved)
    assert recipients(sent) & involved == set()
    assert set(exclusions(hl)) == involved
    # someone eligible was paged at once
    with hl.services.sessions() as session:
        first = session.scalars(
            select(Outbound.to_phone).where(Outbound.kind == "page", Outbound.step.is_not(None))
        ).all()
    assert paged_first <= set(first)
    for phone in involved:
        assert hl.answer(phone, "ACK 1") == "No such case: 1."
        assert hl.answer(phone, "STATUS") == "You have no open cases."
        # with the API, even with the chair's role, the case does not exist for them
        assert_api_hides_case(hl, chair_token(hl, phone))
    outsider = next(p for p in NAMES if p not in involved)
    assert_api_shows_case(hl, chair_token(hl, outsider))


def chair_token(hl: Hotline, phone: str) -> str:
    from app.auth.tokens import create_token

    return create_token(
        hl.services.sessions, role="chair", responder=phone, name=NAMES[phone], now=hl.clock()
    )


def api(hl: Hotline, token: str, path: str, **params: str):  # type: ignore[no-untyped-def]
    return hl.client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def assert_api_hides_case(hl: Hotline, token: str) -> None:
    missing = api(hl, token, "/api/cases/99")
    assert missing.status_code == 404
    for path in ("/api/cases/1", "/api/cases/1/events", "/api/cases/1/events/verify"):
        response = api(hl, token, path)
        assert (response.status_code, response.json()) == (404, missing.json()), path
    assert api(hl, token, "/api/cases").json()["items"] == []
    assert api(hl, token, "/api/cases", q="booth").json()["items"] == []
    events = api(hl, token, "/api/events", limit="200").json()["items"]
    assert all(e["case"] != 1 for e in events)
    csv = api(hl, token, "/api/events", format="csv").text.splitlines()
    assert len(csv) == 1 + len(events)  # the header, and only events about no case


def assert_api_shows_case(hl: Hotline, token: str) -> None:
    assert api(hl, token, "/api/cases/1").status_code == 200
    assert [c["number"] for c in api(hl, token, "/api/cases").json()["items"]] == [1]
    assert any(e["case"] == 1 for e in api(hl, token, "/api/events").json()["items"])


def test_flagged_and_named_carry_their_reasons(hl: Hotline) -> None:
    hl.answer(REPORTER, "CONFLICT Casey. It was Avery Quinn who did it")
    assert exclusions(hl) == {CASEY: "reporter_flagged", AVERY: "named_in_report"}
    with hl.services.sessions() as session:
        events = session.scalars(select(Event).where(Event.type == "excluded")).all()
    assert {(e.detail["responder"], e.detail["reason"]) for e in events} == {
        ("Casey Moreau", "reporter_flagged"),
        ("Avery Quinn", "named_in_report"),
    }


def test_a_name_in_a_later_message_excludes_at_once_and_reroutes(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone made sexual comments at booth 12")
    assert recipients(hl.run()) == {AVERY}
    hl.answer(REPORTER, "I just learned it was Avery, the lead responder")
    sent = hl.run()
    assert recipients(sent) == {BLAKE, CASEY}  # tier 2 at once: tier 1 is empty now
    assert all("update" not in m.body for m in sent if m.to == AVERY)
    sent = hl.after(minutes=10) + hl.after(minutes=30)
    assert AVERY not in recipients(sent)
    assert hl.answer(AVERY, "REPLY 1 hello") == "No such case: 1."


def test_an_exclusion_cancels_a_page_not_yet_sent(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone made sexual comments at booth 12")
    hl.answer(REPORTER, "CONFLICT Avery")  # before the worker sent the first page
    sent = hl.run()
    assert AVERY not in recipients(sent)
    assert recipients(sent) == {BLAKE, CASEY}


def test_the_responder_who_took_the_case_then_named_is_replaced(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone made sexual comments at booth 12")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.run()
    hl.answer(REPORTER, "Wait, the responder who answered is Avery Quinn. It was him.")
    sent = hl.run()
    assert recipients(sent) == {BLAKE, CASEY}
    with hl.services.sessions() as session:
        assert session.get_one(Case, 1).status == "open"


def test_recusing_from_the_last_tier_falls_back(hl: Hotline) -> None:
    hl.answer(REPORTER, "CONFLICT Avery Quinn, CONFLICT Blake Rivera, CONFLICT Casey Moreau")
    assert recipients(hl.run()) == set(ALTERNATES)
    hl.answer(DANA, "RECUSE 1")
    assert hl.run() == []  # Emery still has it
    hl.answer(EMERY, "RECUSE 1")
    with hl.services.sessions() as session:
        case = session.get_one(Case, 1)
        assert case.unroutable is False
    hl.run()
    with hl.services.sessions() as session:
        assert session.get_one(Case, 1).unroutable is True
        unroutable = session.scalar(
            select(func.count()).where(Event.type == "unroutable", Event.case_id == 1)
        )
    assert unroutable == 1


def test_everyone_involved_makes_the_case_unroutable(hl: Hotline) -> None:
    report = " ".join(f"CONFLICT {name}." for name in NAMES.values())
    hl.answer(REPORTER, report)
    assert hl.run() == []
    with hl.services.sessions() as session:
        assert session.get_one(Case, 1).unroutable is True


def test_names_match_without_accents_and_case(database_url: str) -> None:
    roster = ROSTER.replace("Casey Moreau", "José Núñez")
    hl = Hotline(database_url, roster=roster)
    try:
        hl.answer(REPORTER, "it was JOSE NUNEZ near the stairs")
        assert exclusions(hl) == {CASEY: "named_in_report"}
    finally:
        hl.close()


def test_an_excluded_case_answers_exactly_like_a_missing_one(hl: Hotline) -> None:
    hl.answer(REPORTER, "Avery Quinn was rude")
    hl.run()
    with hl.services.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Event))
    for command in ("ACK {}", "A {}", "RECUSE {}", "RESOLVE {}", "REPLY {} hi"):
        excluded = hl.answer(AVERY, command.format(1))
        missing = hl.answer(AVERY, command.format(2))
        assert excluded.replace("1", "<n>") == missing.replace("2", "<n>")
    assert hl.answer(AVERY, "ACK") == hl.answer(DANA, "ACK")  # nothing pending for either
    with hl.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == before
    assert hl.run() == []


# --- the chair excludes (issue 9): through the API, or by writing a name on the case -----------

CHAIR_WAYS = {
    "api": lambda name: ("POST", "/api/cases/1/exclusions", {"responder": name}),
    "note": lambda name: ("POST", "/api/cases/1/notes", {"body": f"Witnesses name {name}"}),
    "record": lambda name: ("PATCH", "/api/cases/1", {"reported_person": name}),
}


@pytest.mark.parametrize("way", sorted(CHAIR_WAYS))
@pytest.mark.parametrize(
    ("involved", "paged_first"),
    [
        pytest.param({AVERY}, {BLAKE, CASEY}, id="the-on-call-lead"),
        pytest.param({BLAKE}, {AVERY}, id="an-off-shift-lead"),
        pytest.param({DANA}, {AVERY}, id="an-alternate"),
        pytest.param({AVERY, BLAKE, CASEY}, {DANA, EMERY}, id="every-lead"),
    ],
)
def test_the_person_the_chair_excludes_learns_nothing(
    hl: Hotline, way: str, involved: set[str], paged_first: set[str]
) -> None:
    from app.auth.tokens import create_token

    hl.answer(REPORTER, "Someone made sexual comments at booth 12")
    chair = create_token(
        hl.services.sessions, role="chair", responder=None, name="Chair laptop", now=hl.clock()
    )
    for phone in sorted(involved):  # before the first page leaves
        method, path, body = CHAIR_WAYS[way](NAMES[phone])
        response = hl.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {chair}"}
        )
        assert response.status_code in (200, 201), response.text
    sent = hl.run()
    assert paged_first <= recipients(sent) and not recipients(sent) & involved
    for _ in range(3):
        sent += hl.after(minutes=5)
    hl.answer(REPORTER, "He is still at the registration desk")
    sent += hl.run()
    taker = sorted(paged_first)[0]
    assert "You have case 1" in hl.answer(taker, "ACK 1")
    hl.answer(taker, "REPLY 1 On my way")
    hl.answer(taker, "RESOLVE 1")
    sent += hl.run() + hl.after(minutes=30)
    assert recipients(sent) & involved == set()
    assert set(exclusions(hl)) == involved
    for phone in involved:
        assert hl.answer(phone, "ACK 1") == "No such case: 1."
        assert_api_hides_case(hl, chair_token(hl, phone))
