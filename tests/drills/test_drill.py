"""A drill before the event: every responder gets a test page; the table shows who answered,
whose text failed (with Twilio's error) and who said nothing. No case, no escalation."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

import httpx
from sqlalchemy import select
from typer.testing import CliRunner

from app.cases.models import Case
from app.cli import cli
from app.db import utcnow
from app.drills.models import DrillCheck
from app.paging.models import Outbound
from app.roster.models import Responder
from tests.harness import (
    AVERY,
    BLAKE,
    CASEY,
    DANA,
    EMERY,
    HOTLINE,
    MESSAGES_URL,
    ROSTER,
    Hotline,
    count,
)
from tests.web.conftest import Api


def fail_texts_to(hl: Hotline, phone: str, code: int) -> None:
    """Twilio refuses every text to `phone` with `code` (e.g. 21211, invalid To)."""
    accept = hl.twilio.answer

    def answer(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        if form["To"][0] == phone:
            body = {"code": code, "message": "refused for the test", "status": 400}
            return httpx.Response(400, content=json.dumps(body))
        return accept(request)

    hl.respx.post(MESSAGES_URL).mock(side_effect=answer)


def drill_code(text: str) -> str:
    found = re.search(r"OK (\d{4})", text)
    assert found, text
    return found.group(1)


def by_name(table: dict) -> dict[str, dict]:
    return {row["responder"]: row for row in table["responders"]}


def status_callback(hl: Hotline, phone: str, status: str, code: str) -> None:
    with hl.services.sessions() as session:
        query = (  # by the responder: an outbound row's number is encrypted
            select(Outbound.provider_sid)
            .join(DrillCheck, DrillCheck.sms_id == Outbound.id)
            .join(Responder, Responder.id == DrillCheck.responder_id)
            .where(Responder.phone == phone)
        )
        sid = session.scalar(query)
    params = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": code, "To": phone}
    assert hl.post("/twilio/status", params).status_code == 200


def test_a_drill_shows_who_answered_whose_text_failed_and_who_said_nothing(api: Api) -> None:
    hl = api.hl
    admin = api.token("admin")
    fail_texts_to(hl, BLAKE, 21211)

    response = api.post("/api/drills", admin, {"hotline": HOTLINE, "minutes": 15})
    assert response.status_code == 201, response.text
    drill = response.json()
    sent = hl.run()  # the dispatcher sends them, never the request

    texts = {m.to: m.body for m in sent}
    assert set(texts) == {AVERY, CASEY, DANA, EMERY}  # Blake's was refused
    assert all("TEST" in t and "not an incident" in t for t in texts.values())
    code = drill_code(texts[AVERY])
    assert code == drill["code"]

    # Avery answers; Emery answers with the bare code; Dana's text comes back undelivered;
    # Casey says nothing.
    assert "confirmed" in hl.answer(AVERY, f"OK {code}")
    assert "confirmed" in hl.answer(EMERY, f" ok, {code}.")
    status_callback(hl, DANA, "undelivered", "30003")

    waiting = by_name(api.ok(f"/api/drills/{drill['id']}", admin))
    assert waiting["Casey Moreau"]["result"] == "waiting"

    hl.clock.advance(minutes=16)
    assert hl.run() == []  # nothing escalates, nothing is re-sent
    table = by_name(api.ok(f"/api/drills/{drill['id']}", admin))
    assert table["Avery Quinn"]["result"] == "answered"
    assert table["Avery Quinn"]["answered_via"] == "sms"
    assert table["Emery Lindqvist"]["result"] == "answered"
    assert (table["Blake Rivera"]["result"], table["Blake Rivera"]["error_code"]) == (
        "text failed",
        "21211",
    )
    assert (table["Dana Okafor"]["result"], table["Dana Okafor"]["error_code"]) == (
        "text failed",
        "30003",
    )
    assert table["Casey Moreau"]["result"] == "no answer"
    assert table["Avery Quinn"]["number_verified"] and not table["Casey Moreau"]["number_verified"]

    # A drill never opens a case.
    assert count(hl, Case) == 0
    assert api.ok("/api/cases", admin)["items"] == []
    assert "+1555" not in json.dumps(table)  # nobody's number in the API


def test_drill_answers_are_neither_reports_nor_commands(api: Api) -> None:
    hl = api.hl
    admin = api.token("admin")
    api.post("/api/drills", admin, {})  # the only hotline
    code = drill_code(hl.run()[0].body)

    assert "confirmed" in hl.answer(BLAKE, f"OK {code}")
    assert "confirmed" in hl.answer(BLAKE, f"OK {code}")  # again: still just a drill answer
    wrong = hl.answer(CASEY, "OK 0000" if code != "0000" else "OK 1111")
    assert "No test page" in wrong
    assert count(hl, Case) == 0
    assert hl.run() == []
    # after the drill, a report still works as always
    assert "case" in hl.answer("+15555550150", "someone is harassing people").lower()
    assert count(hl, Case) == 1


def test_only_an_admin_starts_a_drill_and_bad_requests_change_nothing(api: Api) -> None:
    hl = api.hl
    chair = api.token("chair")
    admin = api.token("admin")
    assert api.post("/api/drills", chair, {}).status_code == 403
    assert api.post("/api/drills", admin, {"hotline": "+15555550109"}).status_code == 400
    assert api.post("/api/drills", admin, {"minutes": 0}).status_code == 422
    assert count(hl, Outbound) == 0
    assert api.get("/api/drills/1", admin).status_code == 404
    responder = api.token("responder", responder=AVERY)
    started = api.post("/api/drills", admin, {}).json()
    assert api.get(f"/api/drills/{started['id']}", responder).status_code == 403
    assert api.get(f"/api/drills/{started['id']}", chair).status_code == 200


def test_a_voice_drill_calls_and_press_1_confirms(api: Api) -> None:
    hl = api.hl
    admin = api.token("admin")
    drill = api.post("/api/drills", admin, {"voice": True, "minutes": 10}).json()
    hl.run()
    calls = {c.to: c for c in hl.twilio.take_calls()}
    assert set(calls) == {AVERY, BLAKE, CASEY, DANA, EMERY}
    avery = calls[AVERY]
    path = avery.url.removeprefix(hl.settings.public_url)
    assert path.startswith("/twilio/voice/drill/")
    answer = hl.post(path, {"CallSid": avery.sid, "To": AVERY, "CallStatus": "in-progress"})
    assert "test call" in answer.text and "<Gather" in answer.text
    done = hl.post(f"{path}/choice", {"CallSid": avery.sid, "To": AVERY, "Digits": "1"})
    assert "confirmed" in done.text
    blake = calls[BLAKE]
    params = {"CallSid": blake.sid, "CallStatus": "no-answer", "To": BLAKE}
    assert hl.post("/twilio/status", params).status_code == 200

    table = by_name(api.ok(f"/api/drills/{drill['id']}", admin))
    assert (table["Avery Quinn"]["result"], table["Avery Quinn"]["answered_via"]) == (
        "answered",
        "voice",
    )
    assert table["Blake Rivera"]["call_status"] == "no-answer"
    assert count(hl, Case) == 0
    hl.clock.advance(minutes=30)
    assert hl.run() == [] and hl.twilio.take_calls() == []


def test_the_drill_command_queues_and_drill_status_prints_the_table(
    api: Api, hotline_cli: CliRunner
) -> None:
    hl = api.hl
    hl.clock.now = utcnow()  # the command queues on the real clock
    fail_texts_to(hl, BLAKE, 21211)
    started = hotline_cli.invoke(cli, ["drill", "--hotline", HOTLINE, "--minutes", "10"])
    assert started.exit_code == 0, started.output
    assert "queued for 5 responders" in started.output
    hl.clock.now = utcnow()
    code = drill_code(hl.run()[0].body)
    hl.answer(AVERY, f"OK {code}")

    status = hotline_cli.invoke(cli, ["drill", "status"])
    assert status.exit_code == 0, status.output
    lines = {line.split("  ")[0]: line for line in status.output.splitlines()}
    assert "answered" in lines["Avery Quinn"] and "verified" in lines["Avery Quinn"]
    assert "text failed: Twilio error 21211" in lines["Blake Rivera"]
    assert "unverified" in lines["Casey Moreau"]
    assert "+1555" not in status.output.replace(HOTLINE, "")


def test_a_roster_load_texts_new_and_renumbered_responders_a_verification_code(
    api: Api,
) -> None:
    hl = api.hl
    admin = api.token("admin")
    fran, new_casey = "+15555550114", "+15555550115"
    changed = ROSTER.replace(
        '      - {name: "Dana Okafor"',
        f'      - {{name: "Fran Example", phone: "{fran}", role: lead}}\n'
        '      - {name: "Dana Okafor"',
    ).replace(CASEY, new_casey)
    hl.load(changed)
    sent = hl.run()
    assert {m.to for m in sent} == {fran, new_casey}
    assert all(len(m.body) <= 160 and "\n" not in m.body for m in sent)
    code = drill_code(sent[0].body)

    table = by_name(api.ok("/api/drills/1", admin))  # the verification texts' table
    assert table["Fran Example"]["result"] == "waiting"
    assert {name: row["number_verified"] for name, row in table.items()} == {
        "Fran Example": False,
        "Casey Moreau": False,
    }
    assert "confirmed" in hl.answer(fran, f"OK {code}")
    table = by_name(api.ok("/api/drills/1", admin))
    assert table["Fran Example"]["number_verified"] and not table["Casey Moreau"]["number_verified"]
    assert count(hl, Case) == 0

    # reloading the same file sends nothing again
    hl.load(changed)
    assert hl.run() == []


def test_a_drill_for_one_of_several_hotlines_must_name_it(api: Api) -> None:
    hl = api.hl
    admin = api.token("admin")
    second = ROSTER.replace("hotlines:\n", "hotlines:\n", 1) + ROSTER.split("hotlines:\n", 1)[
        1
    ].replace(HOTLINE, "+15555550101").replace("Example Conf 2026", "Example Workshops")
    hl.load(second)
    response = api.post("/api/drills", admin, {})
    assert response.status_code == 400 and "+15555550101" in response.json()["detail"]
