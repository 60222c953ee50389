"""The chair's view of cases through the HTTP API, on a hotline driven by real webhooks."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.tokens import revoke_token
from app.cases.models import Case
from app.paging.models import Outbound
from tests.harness import (
    AVERY,
    BLAKE,
    CASEY,
    DANA,
    EMERY,
    HOTLINE,
    LEADS,
    OTHER_HOTLINE,
    REPORTER,
    REPORTER_2,
    ROSTER,
    recipients,
)
from tests.web.conftest import Api

EVERY_PHONE = (AVERY, BLAKE, CASEY, DANA, EMERY, REPORTER, REPORTER_2)


def numbers(page: dict) -> list[int]:
    return [item["number"] for item in page["items"]]


def test_without_a_valid_token_nothing_is_shown(api: Api) -> None:
    api.hl.answer(REPORTER, "report")
    token = api.token("chair")
    assert api.get("/api/cases", None).status_code == 401
    assert api.get("/api/cases", "hl_not-a-token").status_code == 401
    response = api.call("GET", "/api/cases/1", None, headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"

    assert api.get("/api/cases", token).status_code == 200
    revoke_token(api.hl.services.sessions, 1, api.hl.clock())  # the only token
    assert api.get("/api/cases", token).status_code == 401
    assert api.get("/api/events", token).json() == {"detail": "unknown or revoked token"}


def test_the_chair_reads_a_case_with_its_pages_and_no_phone_number(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "Someone in a red hoodie is harassing people at booth 12. Blake Rivera")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.answer(AVERY, "REPLY 1 On my way")
    hl.run()
    chair = api.token("chair", name="Conference chair")

    response = api.get("/api/cases/1", chair)
    assert response.status_code == 200
    case = response.json()
    assert case["status"] == "acknowledged" and case["acknowledged_by"] == "Avery Quinn"
    assert case["hotline"] == HOTLINE and case["channel"] == "sms"
    assert case["reporter"] == "•••• 0150"
    assert [(m["direction"], m["author"]) for m in case["messages"]] == [
        ("in", "reporter"),
        ("out", "Avery Quinn"),
    ]
    (page,) = [p for p in case["pages"] if p["kind"] == "page"]
    assert page["responder"] == "Avery Quinn" and page["status"] == "queued"
    assert page["attempts"] == 1 and page["step"] == 0 and page["sent_at"]
    assert case["exclusions"] == [
        {"responder": "Blake Rivera", "reason": "named_in_report", "at": "2026-05-11T16:00:00Z"}
    ]
    for phone in EVERY_PHONE:
        assert phone not in response.text
        assert phone.removeprefix("+") not in response.text


def test_list_is_newest_first_filtered_and_paged_with_a_cursor(api: Api) -> None:
    hl = api.hl
    for n in range(5):
        hl.answer(f"+155555501{60 + n}", f"report number {n} at the registration desk")
        hl.clock.advance(minutes=1)
    hl.run()
    hl.answer(AVERY, "ACK 2")
    chair = api.token("chair")

    first = api.ok("/api/cases", chair, limit=2)
    assert numbers(first) == [5, 4] and first["next_cursor"]
    second = api.ok("/api/cases", chair, limit=2, cursor=first["next_cursor"])
    third = api.ok("/api/cases", chair, limit=2, cursor=second["next_cursor"])
    assert numbers(second) == [3, 2] and numbers(third) == [1]
    assert third["next_cursor"] is None

    assert numbers(api.ok("/api/cases", chair, status="acknowledged")) == [2]
    assert numbers(api.ok("/api/cases", chair, status="open", limit=200)) == [5, 4, 3, 1]
    assert numbers(api.ok("/api/cases", chair, hotline=HOTLINE)) == [5, 4, 3, 2, 1]
    assert numbers(api.ok("/api/cases", chair, hotline=OTHER_HOTLINE)) == []
    window = api.ok(
        "/api/cases", chair, since="2026-05-11T16:01:00Z", until="2026-05-11T12:03:00-04:00"
    )
    assert numbers(window) == [3, 2]
    assert numbers(api.ok("/api/cases", chair, q="NUMBER 3")) == [4]
    assert numbers(api.ok("/api/cases", chair, q="100%")) == []


def test_bad_parameters_are_refused_with_a_reason(api: Api) -> None:
    chair = api.token("chair")
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"status": "closed"},
        {"since": "yesterday"},
        {"hotline": "555"},
        {"q": "a\x00b"},
    ):
        response = api.get("/api/cases", chair, **params)
        assert response.status_code == 422, (params, response.text)
    response = api.get("/api/cases", chair, cursor="not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]
    assert api.get("/api/cases/0", chair).status_code == 422
    assert api.get("/api/cases/99999999999", chair).status_code == 422
    assert api.get("/api/cases/7", chair).status_code == 404


def test_a_conflicted_chair_sees_no_trace_of_the_case(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "CONFLICT Emery Lindqvist, they were there")
    hl.answer(REPORTER_2, "another report")
    hl.run()
    emery = api.token("chair", responder=EMERY, name="Emery")

    assert api.get("/api/cases/1", emery).status_code == 404
    assert api.get("/api/cases/1/events", emery).status_code == 404
    assert api.get("/api/cases/1/events/verify", emery).status_code == 404
    assert api.patch("/api/cases/1", emery, {"location": "x"}).status_code == 404
    assert api.post("/api/cases/1/notes", emery, {"body": "x"}).status_code == 404
    assert api.post("/api/cases/1/resolve", emery, {"outcome": "warning"}).status_code == 404
    assert numbers(api.ok("/api/cases", emery)) == [2]
    assert {e["case"] for e in api.ok("/api/events", emery, limit=200)["items"]} == {2, None}
    export = api.get("/api/events", emery, format="csv").text
    assert all(line.split(",")[1] in ("case", "2", "") for line in export.splitlines())
    # Unbound, the same role reads both.
    assert numbers(api.ok("/api/cases", api.token("chair"))) == [2, 1]


def test_a_responder_reads_the_cases_they_were_paged_for_and_may_add_notes(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "first report")  # pages Avery, on shift
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.answer(REPORTER_2, "second report")
    hl.run()
    hl.answer(AVERY, "ACK 2")
    hl.answer(BLAKE, "NEW something I saw myself")  # case 3: Blake is its reporter
    hl.run()
    avery = api.token("responder", responder=AVERY, name="Avery's phone")
    casey = api.token("responder", responder=CASEY)
    blake = api.token("responder", responder=BLAKE)

    assert numbers(api.ok("/api/cases", avery)) == [3, 2, 1]  # the lead on shift
    assert numbers(api.ok("/api/cases", casey)) == []  # off shift, never paged
    assert numbers(api.ok("/api/cases", blake)) == []  # reported case 3, was not paged
    assert api.get("/api/cases/1", casey).status_code == 404
    assert api.ok("/api/cases/1", avery)["number"] == 1

    note = api.post("/api/cases/1/notes", avery, {"body": "  Talked to the reporter.  "})
    assert note.status_code == 201
    assert note.json()["author"] == "Avery's phone" and note.json()["body"] == (
        "Talked to the reporter."
    )
    assert api.post("/api/cases/1/notes", avery, {"body": "   "}).status_code == 422
    assert api.patch("/api/cases/1", avery, {"location": "x"}).status_code == 403
    assert api.post("/api/cases/1/resolve", avery, {"outcome": "warning"}).status_code == 403
    assert api.patch("/api/cases/3", casey, {"location": "x"}).status_code == 403  # role first
    assert {e["case"] for e in api.ok("/api/events", avery, limit=200)["items"]} == {1, 2, 3}


def test_a_phone_on_two_hotlines_carries_both_exclusions(database_url: str) -> None:
    from tests.harness import Hotline

    second = f"""
  - number: "{OTHER_HOTLINE}"
    name: "Example Sprint"
    timezone: "America/New_York"
    responders:
      - {{name: "Avery Q.", phone: "{AVERY}", role: lead}}
      - {{name: "Dana Okafor", phone: "{DANA}", role: alternate}}
    escalation:
      - {{notify: all_leads, after_minutes: 0}}
"""
    hl = Hotline(database_url, roster=ROSTER + second)
    try:
        api = Api(hl)
        hl.answer(REPORTER, "report about Avery Q.", to=OTHER_HOTLINE)  # names Avery there
        hl.answer(REPORTER_2, "report at the main event")
        hl.run()
        hl.answer(AVERY, "ACK 2")
        for role in ("responder", "chair"):
            token = api.token(role, responder=AVERY)
            assert numbers(api.ok("/api/cases", token)) == [2]
            assert api.get("/api/cases/1", token).status_code == 404
    finally:
        hl.close()


def test_the_chair_fills_in_the_record_and_every_change_is_logged(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "report")
    chair = api.token("chair", name="Chair laptop")
    fields = {
        "incident_at": "2026-05-11T11:40:00",  # the hotline's local time (New York)
        "location": "Booth 12, expo hall",
        "description": "Repeated unwanted comments",
        "reported_person": "Red hoodie, exhibitor badge 4411",
        "circumstances": "Busy hour",
        "reporter_name": "A. Volunteer",
        "reporter_contact": "volunteer desk",
        "reporter_anonymous": True,
        "witnesses": "Two booth volunteers",
        "suggested_responses": "Would like them kept away from the booth",
    }
    response = api.patch("/api/cases/1", chair, fields)
    assert response.status_code == 200, response.text
    record = response.json()["record"]
    assert record["incident_at"] == "2026-05-11T15:40:00Z"
    assert record["reported_person"] == "Red hoodie, exhibitor badge 4411"

    again = api.patch("/api/cases/1", chair, {"location": "Booth 14", "witnesses": None})
    assert again.json()["record"]["location"] == "Booth 14"
    assert again.json()["record"]["witnesses"] is None
    assert api.patch("/api/cases/1", chair, {"location": "Booth 14"}).status_code == 200

    updates = [e for e in api.ok("/api/cases/1/events", chair) if e["type"] == "record_updated"]
    assert len(updates) == 2  # the repeated value changed nothing, so logged nothing
    assert updates[0]["actor"] == "Chair laptop (chair)"
    assert updates[1]["detail"]["changes"] == {
        "location": {"old": "Booth 12, expo hall", "new": "Booth 14"},
        "witnesses": {"old": "Two booth volunteers", "new": None},
    }
    assert numbers(api.ok("/api/cases", chair, q="badge 4411")) == [1]
    assert api.patch("/api/cases/1", chair, {"colour": "red"}).status_code == 422
    assert api.patch("/api/cases/1", chair, {"reporter_anonymous": None}).status_code == 422
    assert api.patch("/api/cases/1", chair, {"incident_at": "0001-01-01T00:00"}).status_code == 422


def test_an_anonymous_reporter_is_not_named_to_responders(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "report")
    hl.run()
    chair = api.token("chair")
    body = {"reporter_name": "A. Volunteer", "reporter_anonymous": True}
    api.patch("/api/cases/1", chair, body)
    avery = api.token("responder", responder=AVERY)
    assert api.ok("/api/cases/1", avery)["record"]["reporter_name"] is None
    assert api.ok("/api/cases/1", chair)["record"]["reporter_name"] == "A. Volunteer"


def test_resolving_through_the_api_stops_escalation_like_an_sms_resolve(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "report")
    assert recipients(hl.run()) == {AVERY}
    hl.clock.advance(minutes=5)
    hl.worker.run_once()  # queues the next tier (all leads) without sending it yet
    hl.twilio.take()
    chair = api.token("chair", name="Chair laptop")

    body = {"outcome": "no_contact_order", "follow_up_assignee": "Dana Okafor", "note": "Done"}
    response = api.post("/api/cases/1/resolve", chair, body)
    assert response.status_code == 200, response.text
    case = response.json()
    assert case["status"] == "resolved" and case["outcome"] == "no_contact_order"
    assert case["resolved_by"] == "Chair laptop (chair)"
    assert case["follow_up_assignee"] == "Dana Okafor"
    assert [n["body"] for n in case["notes"]] == ["Done"]
    with hl.services.sessions() as session:
        assert session.get_one(Case, 1).next_due_at is None
        statuses = session.scalars(select(Outbound.status).where(Outbound.kind == "page"))
        assert "pending" not in set(statuses)

    told = hl.run()
    assert all("resolved by Chair laptop" in sms.body for sms in told)
    assert recipients(told) <= set(LEADS)
    assert hl.after(minutes=60) == []  # no tier ever goes out again

    (resolved,) = [e for e in api.ok("/api/cases/1/events", chair) if e["type"] == "resolved"]
    assert resolved["detail"]["outcome"] == "no_contact_order"
    assert resolved["detail"]["token_id"] == 1
    again = api.post("/api/cases/1/resolve", chair, {"outcome": "warning"})
    assert again.status_code == 409
    assert api.post("/api/cases/1/resolve", chair, {"outcome": "scolding"}).status_code == 422


def test_a_chair_bound_to_a_responder_resolves_in_their_name(api: Api) -> None:
    hl = api.hl
    hl.answer(REPORTER, "report")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.run()
    dana = api.token("chair", responder=DANA, name="Dana's laptop")
    assert api.post("/api/cases/1/resolve", dana, {"outcome": "no_action"}).status_code == 200
    assert [sms.body for sms in hl.run() if sms.to == AVERY] == [
        "Case 1 was resolved by Dana Okafor."
    ]
    with hl.services.sessions() as session:
        assert session.get_one(Case, 1).resolved_by_id is not None


def test_every_token_lists_exactly_the_cases_it_may_open(api: Api) -> None:
    """The list's SQL filter and the detail's rule agree, for every kind of token."""
    hl = api.hl
    hl.answer(REPORTER, "report naming Casey Moreau")
    hl.answer(REPORTER_2, "CONFLICT Emery Lindqvist")
    hl.run()
    hl.after(minutes=5)
    hl.answer(BLAKE, "ACK 2")
    hl.answer(BLAKE, "RECUSE 1")
    hl.answer(DANA, "NEW seen at the bar")
    hl.after(minutes=10)
    tokens = [api.token("admin"), api.token("chair")]
    for phone in EVERY_PHONE[:5]:
        tokens += [api.token("responder", responder=phone), api.token("chair", responder=phone)]
    for token in tokens:
        listed = set(numbers(api.ok("/api/cases", token, limit=200)))
        openable = {n for n in (1, 2, 3) if api.get(f"/api/cases/{n}", token).status_code == 200}
        assert listed == openable
