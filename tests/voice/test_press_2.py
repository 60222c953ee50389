"""A caller who presses 2 ("a lead responder is involved"): from the first second of the
call to the voicemail's transcript, no lead hears, sees or is rung about it, even a lead who
holds an earlier case of the same caller; the alternates get all of it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.cases.models import Case, Exclusion
from app.voice.calls import CHOICE_GRACE
from tests.harness import (
    ALTERNATES,
    AVERY,
    DANA,
    EMERY,
    HOTLINE,
    LEADS,
    REPORTER,
    Hotline,
    Sms,
    recipients,
)
from tests.voice.phone import Call
from tests.web.conftest import Api


@pytest.fixture
def api(hl: Hotline) -> Api:
    return Api(hl)


CALL_STEP = "2. The same reporter calls and presses 2: a lead is involved."


def newest_case(hl: Hotline) -> int:
    with hl.services.sessions() as session:
        newest = select(Case.id).order_by(Case.opened_at.desc(), Case.id.desc())
        return session.scalars(newest).first()  # type: ignore[return-value]


def lead_view(hl: Hotline, api: Api, token: str, phone: str) -> dict[str, Any]:
    """Everything a lead can learn: their STATUS answer and their API answers."""
    cases = api.ok("/api/cases", token)
    details = {c["number"]: api.ok(f"/api/cases/{c['number']}", token) for c in cases["items"]}
    return {
        "status": hl.answer(phone, "STATUS"),
        "cases": cases,
        "details": details,
        "events": api.ok("/api/events", token),
    }


def test_no_lead_is_paged_before_the_caller_could_press_2(hl: Hotline) -> None:
    call = Call.to_hotline(hl, REPORTER)
    greeting = call.dial_in()
    assert hl.run() == [] and hl.twilio.take_calls() == []
    hl.clock.advance(seconds=CHOICE_GRACE.total_seconds() - 1)
    assert hl.run() == []  # still listening to the greeting: they may press 2
    ringing = call.press(greeting, "2")
    assert ringing is not None
    assert recipients(hl.run()) == set(ALTERNATES)
    assert not {c.to for c in hl.twilio.take_calls()} & set(LEADS)


def test_press_2_on_a_case_a_lead_already_holds_reaches_no_lead(hl: Hotline, api: Api) -> None:
    transcript = press_2_on_a_case_a_lead_holds(hl, api)
    print("\n".join(transcript))


def press_2_on_a_case_a_lead_holds(hl: Hotline, api: Api) -> list[str]:
    """The story the coordinator's note shows: every message and call, and the lead's view."""
    log: list[str] = []

    def sent(messages: list[Sms]) -> list[Sms]:
        log.extend(f"  SMS {m.sender} -> {m.to}: {m.body}" for m in messages)
        for placed in hl.twilio.take_calls():
            log.append(f"  CALL {placed.sender} -> {placed.to}: {placed.url}")
        return messages

    log.append("1. The reporter texts; Avery (on-call lead) is paged and takes it.")
    hl.answer(REPORTER, "Someone is harassing people at booth 12")
    first = newest_case(hl)
    sent(hl.run())
    assert f"You have case {first}" in hl.answer(AVERY, f"ACK {first}")
    sent(hl.run())
    avery_token = api.token("responder", responder=AVERY, name="Avery's phone")
    before = lead_view(hl, api, avery_token, AVERY)
    assert [c["number"] for c in before["cases"]["items"]] == [first]

    log.append(CALL_STEP)
    call = Call.to_hotline(hl, REPORTER)
    greeting = call.dial_in()
    log.append(f"  caller hears: {greeting.said}")
    assert sent(hl.run()) == []
    ringing = call.press(greeting, "2")
    assert ringing is not None
    second = newest_case(hl)
    assert second != first  # a case of its own: the lead-held case stays as it was
    dial = call.dial(ringing)
    log.append(f"  caller hears: {ringing.said}")
    log.append(f"  <Dial callerId={dial.caller_id}> rings: {', '.join(dial.numbers)}")
    assert dial.numbers == [DANA, EMERY] and dial.caller_id == HOTLINE
    assert recipients(sent(hl.run())) == {DANA, EMERY}

    log.append("3. Dana answers the ring and presses 1.")
    dana, screening = call.answered_by(dial, DANA)
    accepted = dana.press(screening, "1")
    assert accepted is not None and f"You have case {second}" in accepted.said
    log.append(f"  Dana hears: {accepted.said}")
    told = sent(hl.run())
    assert recipients(told) == {EMERY, REPORTER}
    assert not any("lead responder" in m.body for m in told if m.to == REPORTER)
    call.leg_ended(dial, DANA, "completed", leg_sid=dana.sid)
    call.dial_ends(dial, "completed")
    sent(hl.after(minutes=30))

    log.append("4. What Avery (a lead-bound token) sees now, and before the call:")
    after = lead_view(hl, api, avery_token, AVERY)
    assert after == before
    assert api.get(f"/api/cases/{second}", avery_token).status_code == 404
    assert api.get(f"/api/cases/{second}/events", avery_token).status_code == 404
    for key in ("status", "cases", "events"):
        log.append(f"  {key}: {after[key]}")
    log.append(f"  GET /api/cases/{first}: {after['details'][first]}")
    log.append(
        f"  GET /api/cases/{second}: {api.get(f'/api/cases/{second}', avery_token).status_code}"
    )
    since_call = log[log.index(CALL_STEP) :]
    assert not any(f"-> {lead}" in line for line in since_call for lead in LEADS)
    return log


def test_alternate_takes_press_2_call_while_a_lead_holds_the_earlier_case(hl: Hotline) -> None:
    hl.answer(REPORTER, "first report by text")
    first = newest_case(hl)
    hl.run()
    hl.answer(AVERY, f"ACK {first}")
    hl.run()
    call = Call.to_hotline(hl, REPORTER)
    ringing = call.press(call.dial_in(), "2")
    assert ringing is not None
    second = newest_case(hl)
    dana, screening = call.answered_by(call.dial(ringing), DANA)
    assert dana.press(screening, "1") is not None
    with hl.services.sessions() as session:
        held = {c.id: c.acknowledged_by.phone for c in session.scalars(select(Case))}
    assert held == {first: AVERY, second: DANA}
    # A later text from the caller goes to the newest case: the alternate hears it.
    hl.answer(REPORTER, "he is near the elevators")
    update = hl.run()
    assert recipients([m for m in update if "elevators" in m.body]) == {DANA}


def test_voicemail_of_a_press_2_call_reaches_alternates_only(hl: Hotline) -> None:
    call = Call.to_hotline(hl, REPORTER)
    ringing = call.press(call.dial_in(), "2")
    assert ringing is not None
    case = newest_case(hl)
    sent = hl.run()
    dial = call.dial(ringing)
    offer = call.dial_ends(dial, "no-answer")
    _, recording = call.leave_voicemail(offer)
    call.transcribed(offer, recording, "It was one of the lead responders, at the party.")
    sent += hl.run()
    for _ in range(4):
        sent += hl.after(minutes=5)
    assert recipients(sent) == set(ALTERNATES)
    assert hl.twilio.take_calls() == []
    assert any("one of the lead responders" in m.body for m in sent)
    links = [m.body for m in sent if "/recordings/" in m.body]
    assert links and all(m.to in ALTERNATES for m in sent if "/recordings/" in m.body)
    assert not any(recording["RecordingUrl"] in m.body or "twilio.com" in m.body for m in sent)
    with hl.services.sessions() as session:
        reasons = {
            e.responder.phone: e.reason
            for e in session.scalars(select(Exclusion).where(Exclusion.case_id == case))
        }
    assert reasons == dict.fromkeys(LEADS, "reporter_flagged")
