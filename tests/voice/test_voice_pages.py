"""Voice fallback: an SMS page that cannot be delivered becomes a call; a call nobody takes
pages the next tier at once."""

from __future__ import annotations

from sqlalchemy import select

from app.cases.models import Case
from app.paging.models import Outbound
from tests.harness import AVERY, BLAKE, CASEY, HOTLINE, PUBLIC_URL, REPORTER, Hotline, recipients
from tests.voice.phone import call_status, picked_up
from tests.voice.test_calls import detail, types


def call_page(hl: Hotline) -> Outbound:
    with hl.services.sessions() as session:
        return session.scalars(select(Outbound).where(Outbound.kind == "call_page")).one()


def status_of(hl: Hotline, n: int = 1) -> str:
    with hl.services.sessions() as session:
        return session.get_one(Case, n).status


def test_an_opted_out_responder_is_called_and_takes_the_case_by_pressing_1(hl: Hotline) -> None:
    hl.answer(REPORTER, "Someone is harassing people at booth 12")
    hl.twilio.fail_next(400, code=21610)  # Avery once texted STOP to the hotline
    assert hl.run() == []  # the page failed; the call goes out in the same round
    assert "page_failed" in types(hl) and "call_fallback" in types(hl)
    [placed] = hl.twilio.take_calls()
    row = call_page(hl)
    assert (placed.to, placed.sender) == (AVERY, HOTLINE)
    assert placed.url == f"{PUBLIC_URL}/twilio/voice/page/{row.id}"
    assert placed.status_callback == f"{PUBLIC_URL}/twilio/status"
    assert "booth 12" in row.body

    avery, prompt = picked_up(hl, placed)
    # Whoever answers hears nothing about the case until they press 1: a voicemail keeps none.
    assert prompt.verbs == ["Gather", "Hangup"]
    assert prompt.one("Gather").get("action") == f"{PUBLIC_URL}/twilio/voice/page/{row.id}/listen"
    assert "Press 1 to hear it" in prompt.said
    assert "booth 12" not in prompt.said and "case 1" not in prompt.said.lower()
    page = avery.press(prompt, "1")
    assert page is not None
    assert page.verbs == ["Gather", "Hangup"]
    gather = page.one("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC_URL}/twilio/voice/page/{row.id}/choice"
    assert "booth 12" in page.said and "Press 1 to take case 1" in page.said
    assert "Reply ACK" not in page.said

    taken = avery.press(page, "1")
    assert taken is not None and taken.hangs_up and "You have case 1" in taken.said
    assert status_of(hl) == "acknowledged"
    assert detail(hl, "acknowledged")["via"] == "voice"
    assert recipients(hl.run()) == {REPORTER}
    call_status(hl, placed, "completed", CallDuration="31")
    assert "page_unanswered" not in types(hl)  # taken: nothing more to do
    assert hl.after(minutes=30) == []


def test_an_undelivered_page_is_called_and_an_unanswered_call_pages_the_next_tier_now(
    hl: Hotline,
) -> None:
    hl.answer(REPORTER, "report")
    assert recipients(hl.run()) == {AVERY}
    with hl.services.sessions() as session:
        sms_sid = session.scalars(select(Outbound.provider_sid)).one()
    status = {"MessageSid": sms_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert hl.post("/twilio/status", status).status_code == 200
    assert hl.post("/twilio/status", status).status_code == 200  # repeated: one call
    assert hl.run() == []
    [placed] = hl.twilio.take_calls()
    assert placed.to == AVERY

    call_status(hl, placed, "ringing")
    call_status(hl, placed, "no-answer")
    call_status(hl, placed, "ringing")  # late: never moves the call back
    assert call_page(hl).status == "no-answer"
    assert [e for e in types(hl) if e.startswith("call_status")] == ["call_status"] * 2
    assert detail(hl, "page_unanswered")["status"] == "no-answer"
    # Tier 2 is due in five minutes; it goes now instead, to Avery by a call again: SMS
    # could not reach him, so he is marked and paged by voice until it can.
    assert recipients(hl.run()) == {BLAKE, CASEY}
    assert [c.to for c in hl.twilio.take_calls()] == [AVERY]


def test_a_call_answered_by_voicemail_does_not_count_and_escalates(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.twilio.fail_next(400, code=21614)  # a landline: no SMS
    hl.run()
    [placed] = hl.twilio.take_calls()
    avery, prompt = picked_up(hl, placed)
    assert "report" not in prompt.said  # the voicemail records no word of the case
    hung_up = avery.press(prompt, None)  # the voicemail greeting, no key
    assert hung_up is not None and hung_up.hangs_up
    assert "call_not_accepted" in types(hl)
    call_status(hl, placed, "completed", CallDuration="20")
    assert status_of(hl) == "open"
    assert recipients(hl.run()) >= {BLAKE, CASEY}


def test_a_call_that_cannot_be_placed_pages_the_next_tier_now(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.twilio.fail_next(400, code=21211)
    hl.twilio.fail_next_call(400, code=21211)
    hl.run()
    assert call_page(hl).status == "failed"
    assert detail(hl, "page_unanswered")["status"] == "failed"
    assert recipients(hl.run()) >= {BLAKE, CASEY}


def test_no_call_when_the_case_was_taken_meanwhile(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    hl.after(minutes=5)  # all leads paged
    with hl.services.sessions() as session:
        rows = session.execute(select(Outbound.provider_sid, Outbound.to_phone)).all()
        avery_sid = next((r.provider_sid for r in rows if r.to_phone == AVERY), None)
    hl.answer(BLAKE, "ACK 1")
    hl.run()
    status = {"MessageSid": avery_sid or "", "MessageStatus": "failed", "ErrorCode": "30006"}
    assert hl.post("/twilio/status", status).status_code == 200
    assert "call_fallback" not in types(hl)
    assert hl.run() == [] and hl.twilio.take_calls() == []


def test_a_call_page_answered_after_someone_took_the_case_says_so(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.twilio.fail_next(400, code=21610)
    hl.run()
    [placed] = hl.twilio.take_calls()
    hl.after(minutes=5)  # Casey is paged with all leads
    hl.answer(CASEY, "ACK 1")
    _, page = picked_up(hl, placed)
    assert page.hangs_up and "already taken by Casey Moreau" in page.said


def test_an_excluded_responder_is_never_called(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    assert recipients(hl.run()) == {AVERY}
    with hl.services.sessions() as session:
        sms_sid = session.scalars(select(Outbound.provider_sid)).one()
    status = {"MessageSid": sms_sid or "", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert hl.post("/twilio/status", status).status_code == 200
    assert call_page(hl).status == "pending"  # the call is owed, not yet placed...
    hl.answer(REPORTER, "CONFLICT Avery")  # ...when the reporter flags Avery
    sent = hl.run()
    assert hl.twilio.take_calls() == []
    assert call_page(hl).status == "cancelled"
    assert AVERY not in recipients(sent)
