"""Nothing about a report is dropped: emergencies on taken cases, a holder who recuses,
follow-ups in quick succession, delivery reports that outrun their SID; and a case pages
only the roster it opened with."""

from __future__ import annotations

import httpx
from sqlalchemy import select

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
    recipients,
)
from tests.voice.phone import Call


def test_emergency_text_on_acknowledged_case_pages_everyone_eligible(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone keeps following an attendee. CONFLICT Casey Moreau")
    hl.run()
    assert "You have case 1" in hl.answer(AVERY, "ACK 1")
    hl.run()
    answer = hl.answer(REPORTER, "He has a knife now, this is an emergency")
    assert "If anyone is in danger call 911" in answer
    sent = hl.run()
    assert recipients(sent) == {AVERY, BLAKE, DANA, EMERY}  # holder too; never Casey
    assert all("EMERGENCY" in m.body and "knife" in m.body for m in sent)
    # A second emergency text reaches everyone again: each one matters.
    hl.answer(REPORTER, "Police are needed at booth 12")
    assert recipients(hl.run()) == {AVERY, BLAKE, DANA, EMERY}


def test_an_emergency_text_on_an_open_case_pages_everyone_once(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone keeps following an attendee")
    hl.run()
    hl.answer(REPORTER, "there is a weapon")
    sent = hl.run()
    assert recipients(sent) == set(LEADS) | set(ALTERNATES)
    assert all("weapon" in m.body for m in sent)


def test_recusing_holder_case_is_paged_again_at_once(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone keeps following an attendee")
    hl.run()
    assert recipients(hl.after(minutes=5)) == set(LEADS)  # tier 2: every lead
    assert "You have case 1" in hl.answer(BLAKE, "ACK 1")
    hl.run()
    assert "recused" in hl.answer(BLAKE, "RECUSE 1")
    sent = hl.run()  # no time passes
    assert AVERY in recipients(sent) and BLAKE not in recipients(sent)
    assert all("Case 1" in m.body for m in sent)


def test_second_follow_up_within_a_minute_is_delivered_later(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone keeps following an attendee")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.run()
    hl.answer(REPORTER, "first detail: he wears a red badge")
    assert [m.to for m in hl.run() if "red badge" in m.body] == [AVERY]
    hl.clock.advance(seconds=10)
    hl.answer(REPORTER, "second detail: now at the elevators")
    hl.clock.advance(seconds=10)
    hl.answer(REPORTER, "third detail: he left with a friend")
    assert hl.run() == []  # held, not dropped
    later = hl.after(seconds=45)
    assert recipients(later) == {AVERY}
    joined = " ".join(m.body for m in later)
    assert "elevators" in joined and "left with a friend" in joined
    assert len(later) == 1  # the two waited together
    assert hl.after(minutes=5) == []


def test_failed_callback_before_sid_is_stored_still_falls_back(hl: Hotline) -> None:
    accept = hl.twilio.answer

    def accept_then_report_failure(request: httpx.Request) -> httpx.Response:
        """Twilio accepts, and its `failed` callback lands before the answer is read."""
        response = accept(request)
        params = {
            "MessageSid": response.json()["sid"],
            "MessageStatus": "failed",
            "ErrorCode": "30006",
            "To": response.json()["to"],
        }
        assert hl.post("/twilio/status", params).status_code == 200
        return response

    hl.respx.routes[0].side_effect = accept_then_report_failure
    hl.answer(REPORTER, "Someone keeps following an attendee")
    assert recipients(hl.run()) == {AVERY}
    hl.respx.routes[0].side_effect = accept
    with hl.services.sessions() as session:
        page = session.scalars(select(Outbound).where(Outbound.kind == "page")).one()
        assert page.status == "failed" and "30006" in (page.error or "")
    hl.run()
    assert [c.to for c in hl.twilio.take_calls()] == [AVERY]  # the fallback: a voice page


ADDED = """
      - {name: "Finley Park", phone: "+15555550114", role: lead}
      - {name: "Gray Santos", phone: "+15555550123", role: alternate}
"""


def test_roster_reload_mid_case_pages_nobody_new(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone keeps following an attendee. CONFLICT Casey Moreau")
    assert recipients(hl.run()) == {AVERY}
    # A reload adds two people and gives Casey, excluded, a new name and number: a new row.
    reloaded = ROSTER.replace(
        '      - {name: "Casey Moreau", phone: "+15555550113", role: lead}\n',
        '      - {name: "K. Moreau", phone: "+15555550115", role: lead}\n' + ADDED,
    )
    assert "K. Moreau" in reloaded
    hl.load(reloaded)
    new_people = {"+15555550114", "+15555550115", "+15555550123"}
    sent = []
    for _ in range(4):
        sent += hl.after(minutes=5)
    hl.answer(REPORTER, "he has a weapon")  # emergency: every eligible lead and alternate
    sent += hl.run()
    call = Call.to_hotline(hl, REPORTER)
    ringing = call.press(call.dial_in(), None)
    assert ringing is not None
    rung = set(call.dial(ringing).numbers)
    # New numbers get their roster verification text (about no case), nothing else.
    verifications = [m for m in sent if "You are now a responder" in m.body]
    assert {m.to for m in verifications} == new_people
    sent = [m for m in sent if m not in verifications]
    assert not (recipients(sent) | rung) & new_people
    assert {AVERY, BLAKE, DANA, EMERY} <= recipients(sent) and CASEY not in recipients(sent)
    assert not {c.to for c in hl.twilio.take_calls()} & new_people
    # A case opened after the reload pages the new roster.
    hl.answer("+15555550152", "a new report")
    hl.run()
    assert "+15555550114" in recipients(hl.after(minutes=5))


def test_a_held_follow_up_reaches_the_holder_even_after_they_resolve(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone keeps following an attendee")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.answer(REPORTER, "first detail")
    hl.run()
    hl.answer(REPORTER, "second detail: he wears a red badge")
    hl.answer(AVERY, "RESOLVE 1")
    hl.run()
    assert [m.to for m in hl.after(minutes=1) if "red badge" in m.body] == [AVERY]
