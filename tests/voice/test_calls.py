"""Calls to the hotline, walked answer by answer as Twilio would run them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.models import Event
from app.cases.models import Case, Exclusion, Message
from app.paging.models import Outbound
from app.telephony.models import WebhookReceipt
from app.telephony.signature import sign
from app.voice.calls import CHOICE_GRACE
from tests.harness import (
    ALTERNATES,
    AUTH_TOKEN,
    AVERY,
    BLAKE,
    CASEY,
    DANA,
    EMERY,
    HOTLINE,
    LEADS,
    OTHER_HOTLINE,
    PUBLIC_URL,
    REPORTER,
    REPORTER_2,
    Hotline,
    case_events,
    count,
    recipients,
)
from tests.voice.phone import Answer, Call, sid

VOICE = f"{PUBLIC_URL}/twilio/voice"


def events(hl: Hotline, case_id: int = 1) -> list[Event]:
    return case_events(hl, case_id)


def types(hl: Hotline, case_id: int = 1) -> list[str]:
    return [e.type for e in events(hl, case_id)]


def detail(hl: Hotline, type_: str, case_id: int = 1) -> dict[str, Any]:
    found = [e.detail for e in events(hl, case_id) if e.type == type_]
    assert len(found) == 1, (type_, types(hl, case_id))
    return found[0]


def case(hl: Hotline, n: int = 1) -> Case:
    with hl.services.sessions() as session:
        return session.get_one(Case, n)


def messages(hl: Hotline, n: int = 1) -> list[str]:
    with hl.services.sessions() as session:
        return list(
            session.scalars(select(Message.body).where(Message.case_id == n).order_by(Message.id))
        )


def ring_leads(hl: Hotline, caller: str = REPORTER) -> tuple[Call, Answer]:
    """Call in and say nothing at the greeting: the call rings."""
    call = Call.to_hotline(hl, caller)
    greeting = call.dial_in()
    ringing = call.press(greeting, None)
    assert ringing is not None
    return call, ringing


def test_a_call_rings_the_on_call_lead_who_takes_it_by_pressing_1(hl: Hotline) -> None:
    call = Call.to_hotline(hl, REPORTER)
    greeting = call.dial_in()
    assert greeting.verbs == ["Gather", "Redirect"]
    gather = greeting.one("Gather")
    assert gather.get("numDigits") == "1" and gather.get("timeout") == "4"
    assert gather.get("action") == f"{VOICE}/choice?case=1"
    assert greeting.one("Redirect").text == f"{VOICE}/choice?case=1"
    assert "Example Conf 2026" in greeting.said and "press 2" in greeting.said
    assert case(hl).channel == "voice" and case(hl).reporter_phone == REPORTER
    # Nobody hears of the call before the caller could press 2.
    assert hl.run() == []

    ringing = call.press(greeting, None)  # no key: the Redirect rings the leads
    assert ringing is not None and ringing.verbs == ["Dial"]
    # Paging by SMS starts with the ringing: a responder who misses the ring has a text.
    page = hl.run()
    assert recipients(page) == {AVERY} and "ACK 1" in page[0].body
    dial = call.dial(ringing)
    assert dial.numbers == [AVERY]  # the on-call lead at noon
    assert dial.caller_id == HOTLINE  # never the reporter's number
    assert dial.answer_on_bridge == "true" and dial.timeout == "25"
    assert dial.action == f"{VOICE}/dial-result?case=1"
    assert dial.screen_urls == [f"{VOICE}/screen?case=1"]

    avery, screening = call.answered_by(dial, AVERY)
    assert screening.verbs == ["Gather", "Hangup"]
    assert screening.one("Gather").get("action") == f"{VOICE}/screen-result?case=1"
    assert "Example Conf 2026" in screening.said and "case 1" in screening.said
    assert REPORTER not in screening.xml

    accepted = avery.press(screening, "1")
    assert accepted is not None
    assert accepted.verbs == ["Say"]  # the screening ends without hanging up: bridged
    assert "You have case 1" in accepted.said
    assert case(hl).status == "acknowledged"
    assert detail(hl, "acknowledged")["via"] == "voice"
    notices = hl.run()
    assert recipients(notices) == {REPORTER}
    assert "lead responder has your report" in notices[0].body

    call.leg_ended(dial, AVERY, "completed", leg_sid=avery.sid)
    goodbye = call.dial_ends(dial, "completed")
    assert goodbye.hangs_up and "Goodbye" in goodbye.said
    assert hl.after(minutes=30) == []
    assert types(hl) == [
        "case_opened",
        "call_received",
        "paging",
        "call_ringing",
        "page_sent",
        "acknowledged",
        "message_sent",
        "call_leg_ended",
        "call_dial_ended",
    ]
    assert detail(hl, "call_leg_ended")["responder"] == "Avery Quinn"
    assert detail(hl, "call_ringing")["responders"] == ["Avery Quinn"]


def test_nobody_answers_and_the_voicemail_is_attached_and_paged(hl: Hotline) -> None:
    call, ringing = ring_leads(hl)
    assert recipients(hl.run()) == {AVERY}
    dial = call.dial(ringing)
    # Avery's own voicemail picks up: it hears the screening and presses nothing.
    avery, screening = call.answered_by(dial, AVERY)
    declined = avery.press(screening, None)
    assert declined is not None and declined.hangs_up
    assert "call_not_accepted" in types(hl)
    assert case(hl).status == "open"  # answered but not accepted does not count

    offer = call.dial_ends(dial, "no-answer")
    assert offer.verbs == ["Say", "Record", "Say", "Hangup"]
    assert "recorded" in offer.said and "case 1" in offer.said
    assert "If anyone is in danger call 911" in offer.said
    record = offer.one("Record")
    # Twilio transcribes only recordings shorter than 120 s.
    assert int(record.get("maxLength")) < 120 and record.get("transcribe") == "true"
    assert record.get("action") == f"{VOICE}/recorded?case=1"
    assert record.get("transcribeCallback") == f"{VOICE}/transcription?case=1"
    assert record.get("recordingStatusCallback") == f"{VOICE}/recording?case=1"

    thanks, recording = call.leave_voicemail(offer)
    assert thanks.hangs_up and "attached to case 1" in thanks.said
    call.recording_status(offer, recording, "completed")  # the same recording, reported again
    assert messages(hl) == ["Voicemail: <voicemail:1>"]  # a link of each reader's own

    call.transcribed(offer, recording, "A man at booth 12 keeps touching people's shoulders.")
    assert messages(hl)[1] == (
        "Voicemail transcript: A man at booth 12 keeps touching people's shoulders."
    )
    update = hl.run()
    assert recipients(update) == {AVERY}  # whoever was paged hears the words
    assert "booth 12 keeps touching" in update[0].body
    # The escalation policy carries on by SMS, and later pages link to the recording,
    # through the service: never Twilio's URL.
    tier2 = hl.after(minutes=5)
    assert recipients(tier2) == set(LEADS)
    assert all(f"Voicemail: {PUBLIC_URL}/recordings/" in m.body for m in tier2)
    assert not any("twilio.com" in m.body for m in tier2)


def test_busy_failed_or_canceled_ringing_offers_voicemail_too(hl: Hotline) -> None:
    for n, status in enumerate(("busy", "failed", "canceled"), start=1):
        call, ringing = ring_leads(hl, caller=f"+155555501{60 + n}")
        offer = call.dial_ends(call.dial(ringing), status)
        assert offer.one("Record") is not None, status
        assert detail(hl, "call_dial_ended", n)["status"] == status


def test_a_caller_who_hangs_up_still_leaves_a_case_that_pages(hl: Hotline) -> None:
    Call.to_hotline(hl, REPORTER).dial_in()  # and hangs up during the greeting
    assert hl.run() == []  # they might still have pressed 2
    assert recipients(hl.after(seconds=CHOICE_GRACE.total_seconds())) == {AVERY}
    assert recipients(hl.after(minutes=5)) == set(LEADS)
    assert recipients(hl.after(minutes=5)) == set(ALTERNATES)


def test_a_hang_up_during_the_message_still_attaches_it(hl: Hotline) -> None:
    call, ringing = ring_leads(hl)
    offer = call.dial_ends(call.dial(ringing), "no-answer")
    recording = call.recording(seconds=9)
    # Twilio may skip the <Record action> on a hang-up; the status callback still comes.
    call.recording_status(offer, recording, "completed")
    call.recording_status(offer, recording, "completed")
    assert messages(hl) == ["Voicemail: <voicemail:1>"]
    assert detail(hl, "voicemail_recorded")["seconds"] == "9"


def test_silence_after_the_tone_leaves_no_message_but_an_open_case(hl: Hotline) -> None:
    call, ringing = ring_leads(hl)
    offer = call.dial_ends(call.dial(ringing), "no-answer")
    assert "No message was recorded" in offer.said  # said when <Record> gets nothing
    call.recording_status(offer, call.recording(seconds=0), "absent")
    assert messages(hl) == []
    assert detail(hl, "voicemail_missing")["status"] == "absent"
    assert case(hl).status == "open"
    assert recipients(hl.run()) == {AVERY}


def test_press_2_rings_only_the_alternates_and_pages_them(hl: Hotline) -> None:
    call = Call.to_hotline(hl, REPORTER)
    ringing = call.press(call.dial_in(), "2")
    assert ringing is not None and ringing.verbs == ["Say", "Dial"]
    assert "not lead responders" in ringing.said
    dial = call.dial(ringing)
    assert dial.numbers == [DANA, EMERY]
    assert dial.caller_id == HOTLINE
    assert "lead_involved" in types(hl)
    # We do not know which lead: every lead is excluded, flagged by the reporter.
    with hl.services.sessions() as session:
        excluded = {e.responder.phone: e.reason for e in session.scalars(select(Exclusion))}
    assert excluded == dict.fromkeys(LEADS, "reporter_flagged")
    assert all("pressed 2" in e.detail["why"] for e in events(hl) if e.type == "excluded")
    sent = hl.run()
    assert recipients(sent) == {DANA, EMERY}  # the alternates, at once; no lead

    dana, screening = call.answered_by(dial, DANA)
    accepted = dana.press(screening, "1")
    assert accepted is not None and "You have case 1" in accepted.said
    assert case(hl).acknowledged_by_id is not None
    told = hl.run()
    assert recipients(told) == {EMERY, REPORTER}
    assert all("taken by Dana Okafor" in m.body for m in told if m.to != REPORTER)
    # The reporter is not told a lead has it: a responder has.
    (to_reporter,) = [m.body for m in told if m.to == REPORTER]
    assert "a responder has your report" in to_reporter and "lead" not in to_reporter
    assert hl.after(minutes=30) == [] and hl.twilio.take_calls() == []


def test_a_lead_named_in_the_voicemail_is_excluded_and_never_rung_again(hl: Hotline) -> None:
    call, ringing = ring_leads(hl)
    assert call.dial(ringing).numbers == [AVERY]
    assert recipients(hl.run()) == {AVERY}
    offer = call.dial_ends(call.dial(ringing), "no-answer")
    _, recording = call.leave_voicemail(offer)
    call.transcribed(offer, recording, "It is about Avery Quinn, he keeps following me.")

    with hl.services.sessions() as session:
        exclusion = session.scalars(select(Exclusion)).one()
        assert exclusion.reason == "named_in_report"
        assert exclusion.responder.phone == AVERY
    # Avery was the whole first tier: the next goes out at once, and Avery hears nothing.
    sent = hl.run()
    assert recipients(sent) == {BLAKE, CASEY}
    assert all("keeps following me" not in m.body or m.to != AVERY for m in sent)

    # The reporter calls back: the call joins their open case and never rings Avery.
    again = Call.to_hotline(hl, REPORTER)
    greeting = again.dial_in()
    assert "added to your case 1" in greeting.said
    ringing = again.press(greeting, None)
    assert ringing is not None
    assert again.dial(ringing).numbers == [BLAKE, CASEY]
    assert count(hl, Case) == 1

    later = hl.after(minutes=30)
    assert AVERY not in recipients(later)
    assert AVERY not in {c.to for c in hl.twilio.take_calls()}


def test_an_exclusion_while_the_phone_rings_keeps_that_responder_off_the_call(
    hl: Hotline,
) -> None:
    call, ringing = ring_leads(hl)
    dial = call.dial(ringing)
    hl.answer(REPORTER, "CONFLICT Avery Quinn")  # texted while Avery's phone rings
    avery, screening = call.answered_by(dial, AVERY)
    assert screening.verbs == ["Hangup"]  # not connected, and told nothing about the case
    assert "case" not in screening.xml.lower()
    avery.fetch(f"{VOICE}/screen-result?case=1", Digits="1")
    assert case(hl).status == "open"


def test_the_answering_responder_hears_when_someone_else_took_the_case(hl: Hotline) -> None:
    call, ringing = ring_leads(hl)
    dial = call.dial(ringing)
    hl.after(minutes=5)  # Blake is paged (one may act only on a case one was paged for)
    assert "You have case 1" in hl.answer(BLAKE, "ACK 1")
    _, screening = call.answered_by(dial, AVERY)
    assert screening.hangs_up and "already taken by Blake Rivera" in screening.said
    # The caller still may leave a message; it reaches Blake, who has the case.
    offer = call.dial_ends(dial, "no-answer")
    _, recording = call.leave_voicemail(offer)
    call.transcribed(offer, recording, "He is near the elevators now.")
    update = [m for m in hl.run() if "elevators" in m.body]
    assert recipients(update) == {BLAKE}


def test_a_second_call_on_a_taken_case_rings_whoever_has_it(hl: Hotline) -> None:
    hl.answer(REPORTER, "report by text first")
    hl.run()
    hl.after(minutes=5)  # Casey is paged with all leads
    hl.answer(CASEY, "ACK 1")
    call, ringing = ring_leads(hl)
    assert call.dial(ringing).numbers == [CASEY]
    assert count(hl, Case) == 1


def test_a_repeated_call_sid_changes_nothing_twice(hl: Hotline) -> None:
    call_sid = sid("CA")
    first = Call.to_hotline(hl, REPORTER, call_sid=call_sid)
    greeting = first.dial_in()
    retry = Call.to_hotline(hl, REPORTER, call_sid=call_sid)
    assert retry.dial_in().xml == greeting.xml
    assert count(hl, Case) == 1 and types(hl).count("call_received") == 1

    ringing = first.press(greeting, None)
    again = first.press(greeting, "2")  # a retried step answers as the first time
    assert ringing is not None and again is not None and again.xml == ringing.xml
    assert types(hl).count("call_ringing") == 1 and "lead_involved" not in types(hl)

    dial = first.dial(ringing)
    avery, screening = first.answered_by(dial, AVERY)
    accepted = avery.press(screening, "1")
    repeated = avery.press(screening, "1")
    assert accepted is not None and repeated is not None and repeated.xml == accepted.xml
    assert types(hl).count("acknowledged") == 1
    assert [m.to for m in hl.run() if m.to == REPORTER] == [REPORTER]

    offer = first.dial_ends(dial, "completed")
    assert first.dial_ends(dial, "no-answer").xml == offer.xml
    assert types(hl).count("call_dial_ended") == 1


def big_roster(leads: list[str], first_tier: str) -> str:
    people = "\n".join(
        f'      - {{name: "Lead {i:02d}", phone: "{phone}", role: lead}}'
        for i, phone in enumerate(leads, start=1)
    )
    return f"""
hotlines:
  - number: "{HOTLINE}"
    name: "Big Conf"
    timezone: "UTC"
    responders:
{people}
      - {{name: "Dana Okafor", phone: "{DANA}", role: alternate}}
    escalation:
      - {{notify: {first_tier}, after_minutes: 0}}
      - {{notify: all_leads, after_minutes: 5}}
"""


def test_more_than_ten_eligible_leads_ring_the_first_ten_and_page_the_rest(
    database_url: str,
) -> None:
    leads = [f"+155555501{n}" for n in range(30, 42)]  # twelve leads, no shifts: all on call
    # A first tier of alternates, so the only texts to leads are those the call sends.
    hl = Hotline(database_url, roster=big_roster(leads, first_tier="alternates"))
    try:
        call, ringing = ring_leads(hl)
        dial = call.dial(ringing)
        assert dial.numbers == leads[:10]  # in the order the tier names them
        assert detail(hl, "call_ringing")["paged_instead"] == ["Lead 11", "Lead 12"]
        sent = hl.run()
        assert recipients(sent) == {leads[10], leads[11], DANA}  # the two not rung, and tier 1
    finally:
        hl.close()


def test_a_call_to_a_number_that_is_no_hotline_is_hung_up(hl: Hotline) -> None:
    call = Call.to_hotline(hl, REPORTER)
    call.params["To"] = OTHER_HOTLINE
    answer = call.dial_in()
    assert answer.verbs == ["Say", "Hangup"]
    assert count(hl, Case) == 0 and hl.run() == []


def test_withheld_caller_ids_never_share_a_case(hl: Hotline) -> None:
    for caller in ("+266696687", "+266696687", "anonymous"):
        Call.to_hotline(hl, caller).dial_in()
    assert count(hl, Case) == 3


def test_a_responder_who_calls_in_is_a_reporter_and_is_not_rung(hl: Hotline) -> None:
    call, ringing = ring_leads(hl, caller=AVERY)
    assert call.dial(ringing).numbers == [BLAKE, CASEY]  # the next tier, not Avery
    assert events(hl)[0].actor == "Avery Quinn"


def test_forged_signatures_on_voice_paths_get_403_and_change_nothing(hl: Hotline) -> None:
    params = {"CallSid": sid("CA"), "From": REPORTER, "To": HOTLINE, "Digits": "1"}
    paths = [
        "/twilio/voice",
        "/twilio/voice/choice?case=1",
        "/twilio/voice/screen?case=1",
        "/twilio/voice/screen-result?case=1",
        "/twilio/voice/dial-result?case=1",
        "/twilio/voice/recorded?case=1",
        "/twilio/voice/recording?case=1",
        "/twilio/voice/transcription?case=1",
        "/twilio/voice/leg?case=1",
        "/twilio/voice/page/1",
        "/twilio/voice/page/1/choice",
    ]
    for path in paths:
        assert hl.post(path, params, signature=None).status_code == 403, path
        forged = sign("someone-elses-token", PUBLIC_URL + path, params)
        assert hl.post(path, params, signature=forged).status_code == 403, path
    # A real signature for another case's URL does not carry over: the query is signed.
    signed = sign(AUTH_TOKEN, f"{PUBLIC_URL}/twilio/voice/choice?case=2", params)
    assert hl.post("/twilio/voice/choice?case=1", params, signature=signed).status_code == 403
    assert count(hl, Case) == 0 and count(hl, Event) == 0 and count(hl, WebhookReceipt) == 0
    assert count(hl, Outbound) == 0


def test_two_callers_get_two_cases_and_each_call_its_own_case(hl: Hotline) -> None:
    first, _ = ring_leads(hl, caller=REPORTER)
    second, ringing = ring_leads(hl, caller=REPORTER_2)
    dial = second.dial(ringing)
    assert dial.screen_urls == [f"{VOICE}/screen?case=2"]
    avery, screening = second.answered_by(dial, AVERY)
    avery.press(screening, "1")
    assert case(hl, 2).status == "acknowledged" and case(hl, 1).status == "open"
    assert first.sid != second.sid
    assert CASEY not in recipients(hl.run())
