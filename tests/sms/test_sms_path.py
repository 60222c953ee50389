"""The SMS escalation path end to end: report, pages, ACK, escalation, relay, resolution."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import Event
from app.cases.models import Case, Message
from app.paging.models import Outbound
from tests.harness import (
    ALTERNATES,
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
    Hotline,
    case_events,
    count,
    recipients,
)


def events(hl: Hotline, case_id: int = 1) -> list[str]:
    return [e.type for e in case_events(hl, case_id)]


def test_report_pages_the_on_call_lead_who_acknowledges(hl: Hotline) -> None:
    answer = hl.answer(REPORTER, "Someone in a red hoodie is harassing people at booth 12")
    assert "case 1" in answer and "Safety room: Room 23." in answer

    sent = hl.run()
    assert recipients(sent) == {AVERY}  # the only lead on shift at noon
    page = sent[0]
    assert page.sender == HOTLINE
    assert "Example Conf 2026" in page.body and "Case 1" in page.body
    assert "red hoodie" in page.body and "ACK 1" in page.body
    assert REPORTER not in page.body

    assert "You have case 1" in hl.answer(AVERY, "ACK 1")
    sent = hl.run()
    assert recipients(sent) == {REPORTER}
    assert "lead responder has your report" in sent[0].body
    assert AVERY not in sent[0].body

    assert hl.after(minutes=30) == []  # acknowledged: no escalation
    assert events(hl) == [
        "case_opened",
        "message_received",
        "paging",
        "page_sent",
        "acknowledged",
        "message_sent",
    ]
    with hl.services.sessions() as session:
        case = session.get_one(Case, 1)
        assert case.status == "acknowledged" and case.acknowledged_by_id is not None


def test_escalates_through_every_tier_and_repeats_until_acknowledged(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    assert recipients(hl.run()) == {AVERY}
    assert hl.after(minutes=4, seconds=59) == []
    assert recipients(hl.after(seconds=1)) == set(LEADS)
    assert recipients(hl.after(minutes=5)) == set(ALTERNATES)
    # repeat: 1 -> the policy runs once more, a period (15 min) after it started
    assert hl.after(minutes=4, seconds=59) == []
    repeat = hl.after(seconds=1)
    assert recipients(repeat) == {AVERY}
    assert repeat[0].body.startswith("Reminder:")
    assert recipients(hl.after(minutes=5)) == set(LEADS)
    assert recipients(hl.after(minutes=5)) == set(ALTERNATES)
    assert hl.after(minutes=60) == []  # the policy has run out
    assert events(hl).count("escalated") == 5
    assert events(hl).count("escalation_ended") == 1


def test_ack_stops_escalation_and_tells_the_others(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    hl.after(minutes=5)  # all leads paged
    assert "You have case 1" in hl.answer(BLAKE, "ack 1")
    sent = hl.run()
    assert {m.to: m.body for m in sent if m.to != REPORTER} == {
        AVERY: "Case 1 is taken by Blake Rivera. No action needed.",
        CASEY: "Case 1 is taken by Blake Rivera. No action needed.",
    }
    assert hl.after(minutes=30) == []
    assert "already taken by Blake Rivera" in hl.answer(CASEY, "ACK 1")


def test_acknowledging_cancels_pages_not_yet_sent(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")  # the page is queued, the worker has not run
    hl.answer(AVERY, "ACK 1")
    sent = hl.run()
    assert recipients(sent) == {REPORTER}
    with hl.services.sessions() as session:
        assert session.scalar(select(Outbound.status).where(Outbound.kind == "page")) == (
            "cancelled"
        )


def test_a_repeated_message_sid_changes_nothing_twice(hl: Hotline) -> None:
    first = hl.sms(REPORTER, "report", sid="SM" + "1" * 32)
    again = hl.sms(REPORTER, "report", sid="SM" + "1" * 32)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text
    assert count(hl, Case) == 1 and count(hl, Message) == 1
    assert len(hl.run()) == 1


def test_forged_or_missing_signatures_are_refused_and_change_nothing(hl: Hotline) -> None:
    params = {"MessageSid": "SM" + "2" * 32, "From": REPORTER, "To": HOTLINE, "Body": "x"}
    assert hl.post("/twilio/sms", params, signature=None).status_code == 403
    assert hl.post("/twilio/sms", params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    from app.telephony.signature import sign

    forged = sign("someone-elses-token", "https://hotline.example.test/twilio/sms", params)
    assert hl.post("/twilio/sms", params, signature=forged).status_code == 403
    # signed for other parameters than those sent
    signed = sign("test-auth-token", "https://hotline.example.test/twilio/sms", params)
    assert hl.post("/twilio/sms", {**params, "Body": "y"}, signature=signed).status_code == 403
    assert hl.post("/twilio/status", {"MessageSid": "SMx"}, signature=None).status_code == 403
    assert count(hl, Case) == 0 and count(hl, Event) == 0


def test_without_an_auth_token_webhooks_answer_503(hl: Hotline) -> None:
    hl.services.settings.twilio_auth_token = None
    response = hl.post("/twilio/sms", {"MessageSid": "SM1", "From": REPORTER, "To": HOTLINE})
    assert response.status_code == 503
    assert "TWILIO_AUTH_TOKEN" in response.json()["detail"]
    assert count(hl, Case) == 0


def test_malformed_forms_get_400_and_change_nothing(hl: Hotline) -> None:
    response = hl.post("/twilio/sms", {"From": REPORTER, "To": HOTLINE, "Body": "x"})
    assert response.status_code == 400
    assert "MessageSid" in response.json()["detail"]
    assert count(hl, Case) == 0


def test_a_text_to_an_unknown_number_gets_an_empty_answer(hl: Hotline) -> None:
    response = hl.sms(REPORTER, "report", to=OTHER_HOTLINE)
    assert response.status_code == 200
    assert "<Message>" not in response.text and "<Response" in response.text
    assert count(hl, Case) == 0 and hl.run() == []


def test_a_second_text_joins_the_open_case_without_paging_everyone_again(hl: Hotline) -> None:
    hl.answer(REPORTER, "first part of the report")
    assert recipients(hl.run()) == {AVERY}
    answer = hl.answer(REPORTER, "he is still near booth 12")
    assert "Added to case 1" in answer
    update = hl.run()
    assert recipients(update) == {AVERY}  # an update to whoever was paged, not a new page
    assert "update from the reporter" in update[0].body
    assert "still near booth 12" in update[0].body
    hl.answer(REPORTER, "and a third text")
    assert hl.run() == []  # at most one update notice a minute
    assert count(hl, Case) == 1 and count(hl, Message) == 3
    # the escalation clock is not reset by follow-ups
    assert recipients(hl.after(minutes=5)) == set(LEADS)


def test_two_reporters_get_two_cases(hl: Hotline) -> None:
    assert "case 1" in hl.answer(REPORTER, "one")
    assert "case 2" in hl.answer(REPORTER_2, "two")
    assert recipients(hl.run()) == {AVERY}
    assert len(hl.twilio.sent) == 0


def test_a_resolved_case_makes_the_next_text_a_new_case(hl: Hotline) -> None:
    hl.answer(REPORTER, "one")
    hl.answer(AVERY, "ACK 1")
    assert "resolved" in hl.answer(AVERY, "RESOLVE 1")
    assert "case 2" in hl.answer(REPORTER, "another incident")


def test_emergency_words_page_every_lead_and_alternate_at_once(hl: Hotline) -> None:
    answer = hl.answer(REPORTER, "He has a weapon, we feel unsafe")
    assert answer.startswith("If anyone is in danger call 911")
    assert "case 1" in answer
    sent = hl.run()
    assert recipients(sent) == set(LEADS + ALTERNATES)
    assert all(m.body.startswith("EMERGENCY") for m in sent)
    assert "emergency" in events(hl)
    # tier 2 still follows as a reminder until someone acknowledges
    assert recipients(hl.after(minutes=5)) == set(LEADS)


def test_an_emergency_in_a_follow_up_pages_everyone_once(hl: Hotline) -> None:
    hl.answer(REPORTER, "someone is following me")
    hl.run()
    answer = hl.answer(REPORTER, "now he is threatening me, call the police")
    assert "If anyone is in danger" in answer
    assert recipients(hl.run()) == set(LEADS + ALTERNATES)
    hl.answer(REPORTER, "danger danger")
    assert all("update" in m.body for m in hl.run())


def test_reply_relays_to_the_reporter_from_the_hotline_number(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.run()
    assert "Sent to the reporter" in hl.answer(AVERY, "REPLY 1 I am on my way, where are you?")
    sent = hl.run()
    assert len(sent) == 1
    assert sent[0].to == REPORTER and sent[0].sender == HOTLINE
    assert sent[0].body == "Example Conf 2026 (case 1): I am on my way, where are you?"
    assert "relayed" in events(hl)
    # the reporter's answer reaches the responder through the hotline too
    hl.answer(REPORTER, "at the registration desk")
    update = hl.run()
    assert [(m.to, m.sender) for m in update] == [(AVERY, HOTLINE)]
    assert "registration desk" in update[0].body and REPORTER not in update[0].body


def test_bare_ack_takes_the_only_pending_page(hl: Hotline) -> None:
    assert "No pending pages" in hl.answer(AVERY, "ACK")
    hl.answer(REPORTER, "one")
    hl.run()
    assert "You have case 1" in hl.answer(AVERY, "ack")


def test_bare_ack_with_several_pending_pages_lists_them(hl: Hotline) -> None:
    hl.answer(REPORTER, "one")
    hl.answer(REPORTER_2, "two")
    hl.run()
    assert "Pending cases: 1, 2" in hl.answer(AVERY, "ACK")
    assert "You have case 2" in hl.answer(AVERY, "A 2")
    assert "You have case 1" in hl.answer(AVERY, "ACK")


def test_status_lists_the_senders_open_cases(hl: Hotline) -> None:
    assert hl.answer(AVERY, "STATUS") == "You have no open cases."
    hl.answer(REPORTER, "one")
    hl.answer(REPORTER_2, "two")
    hl.run()
    hl.answer(AVERY, "ACK 2")
    assert hl.answer(AVERY, "status") == "Open cases: 1 (waiting for ACK); 2 (yours)"
    assert hl.answer(BLAKE, "STATUS") == "You have no open cases."


def test_resolve_only_by_the_acknowledger_or_an_alternate(hl: Hotline) -> None:
    hl.answer(REPORTER, "one")
    hl.run()
    hl.after(minutes=5)
    assert "Only the responder who took case 1" in hl.answer(BLAKE, "RESOLVE 1")
    hl.answer(AVERY, "ACK 1")
    assert "Only the responder who took case 1" in hl.answer(BLAKE, "RESOLVE 1")
    assert hl.answer(AVERY, "RESOLVE 1") == "Case 1 is resolved."
    notices = hl.run()
    assert any(m.to == BLAKE and "resolved by Avery Quinn" in m.body for m in notices)
    assert "already resolved" in hl.answer(CASEY, "ACK 1")
    # Dana, an alternate, was never paged for it: it answers as a case that does not exist
    assert hl.answer(DANA, "RESOLVE 1") == "No such case: 1."


def test_an_alternate_may_resolve_a_case_nobody_took(hl: Hotline) -> None:
    hl.answer(REPORTER, "one")
    hl.run()
    hl.after(minutes=5)
    assert recipients(hl.after(minutes=5)) == {DANA, EMERY}
    assert hl.answer(EMERY, "RESOLVE 1") == "Case 1 is resolved."
    assert EMERY not in recipients(hl.after(minutes=30))


def test_recuse_excludes_the_sender_and_pages_the_next_tier_at_once(hl: Hotline) -> None:
    hl.answer(REPORTER, "one")
    assert recipients(hl.run()) == {AVERY}
    assert "recused from case 1" in hl.answer(AVERY, "RECUSE 1")
    # Avery was the whole of tier 1: tier 2 (all leads but Avery) goes out now
    assert recipients(hl.run()) == {BLAKE, CASEY}
    assert hl.answer(AVERY, "ACK 1") == "No such case: 1."
    assert "excluded" in events(hl)


def test_new_opens_a_case_for_a_responder_who_witnessed_something(hl: Hotline) -> None:
    answer = hl.answer(BLAKE, "NEW saw someone cornered near the elevators")
    assert "case 1" in answer
    sent = hl.run()
    assert recipients(sent) == {AVERY}
    assert "cornered near the elevators" in sent[0].body


def test_commands_about_unknown_cases_say_no_such_case(hl: Hotline) -> None:
    for text in ("ACK 99", "RECUSE 99", "RESOLVE 99", "REPLY 99 hello"):
        assert hl.answer(AVERY, text) == "No such case: 99."
    assert count(hl, Event) == 0


def test_help_and_bad_commands_answer_the_command_list(hl: Hotline) -> None:
    for text in ("HELP", "hello?", ""):
        assert "ACK" in hl.answer(AVERY, text) and "RESOLVE" in hl.answer(AVERY, text)
    bad = hl.answer(AVERY, "ACK abc")
    assert "case number" in bad.lower()
    assert count(hl, Case) == 0


def test_carrier_keywords_are_never_commands_and_get_no_answer(hl: Hotline) -> None:
    for word in ("STOP", "start", "UNSUBSCRIBE"):
        assert hl.answer(AVERY, word) == ""
    assert hl.answer(REPORTER, "STOP") == ""
    assert count(hl, Case) == 0


def test_a_carrier_word_on_an_open_case_is_kept_as_the_reporters_words(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    assert hl.answer(REPORTER, "Yes") == ""
    assert count(hl, Message) == 2
    assert [m.to for m in hl.run()] == [AVERY]


def test_a_lead_off_shift_is_still_paged_by_all_leads(hl: Hotline) -> None:
    hl.clock.advance(hours=12)  # midnight in New York: no shift covers now, all leads on call
    hl.answer(REPORTER, "report")
    assert recipients(hl.run()) == set(LEADS)


def test_pages_never_carry_the_reporters_number(hl: Hotline) -> None:
    hl.answer(REPORTER, f"my number is {REPORTER}? no, just the report")
    sent = hl.run() + hl.after(minutes=5) + hl.after(minutes=5)
    assert sent and all(m.to not in (REPORTER,) for m in sent)
    assert all(m.sender == HOTLINE for m in sent)


def test_a_new_app_on_the_same_database_continues_the_escalation(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    assert recipients(hl.run()) == {AVERY}
    hl.close()  # the first process goes away

    second = Hotline(hl.settings.database_url, roster="", clock=hl.clock)
    try:
        assert recipients(second.after(minutes=5)) == set(LEADS)
        second.answer(CASEY, "ACK 1")
        assert recipients(second.run()) == {AVERY, BLAKE, REPORTER}
    finally:
        second.close()


def test_twilio_failing_then_accepting_sends_the_page_once(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.twilio.fail_next(500)
    assert hl.run() == []
    with hl.services.sessions() as session:
        page = session.scalars(select(Outbound).where(Outbound.kind == "page")).one()
        assert page.status == "pending" and page.attempts == 1
    assert hl.after(seconds=0.4) == []  # backoff: not retried at once
    sent = hl.after(seconds=1)
    assert recipients(sent) == {AVERY}
    assert hl.twilio.attempts == 2
    assert events(hl).count("page_retry") == 1 and events(hl).count("page_sent") == 1
    assert hl.after(minutes=1) == []


def test_a_permanent_failure_is_logged_and_not_retried(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.twilio.fail_next(400, code=21610)
    hl.run()
    assert hl.after(minutes=1) == []
    assert hl.twilio.attempts == 1
    with hl.services.sessions() as session:
        failed = session.scalars(select(Event).where(Event.type == "page_failed")).one()
        assert failed.detail["code"] == 21610
        assert failed.detail["to"] == "Avery Quinn"


def test_a_roster_reload_elsewhere_reaches_this_process_at_once(hl: Hotline) -> None:
    from app.casework.roster_load import load_roster
    from app.db import make_engine, make_sessionmaker, transaction
    from app.roster.schema import parse_roster
    from tests.harness import ROSTER

    hl.answer(REPORTER, "first case")
    assert recipients(hl.run()) == {AVERY}
    # another process (here: another engine) reloads the roster without Avery's shift and
    # without Casey at all
    other = make_engine(hl.settings.database_url)
    roster = ROSTER.replace(
        '      - {name: "Casey Moreau", phone: "+15555550113", role: lead}\n', ""
    ).replace(
        '      - {responder: "Avery Quinn", start: "2026-05-11T08:00", end: "2026-05-11T20:00"}\n',
        "",
    )
    with transaction(make_sessionmaker(other)) as session:
        load_roster(session, parse_roster(roster), hl.clock())
    other.dispose()
    hl.answer(REPORTER_2, "second case")
    assert recipients(hl.run()) == {AVERY, BLAKE}  # all leads on call now; Casey is gone
    # the first case keeps its policy; a deactivated responder is no longer paged by it
    assert recipients(hl.after(minutes=5)) == {AVERY, BLAKE}


def test_a_body_over_a_megabyte_gets_413_and_changes_nothing(hl: Hotline) -> None:
    from sqlalchemy import func, select

    from app.telephony.models import WebhookReceipt

    body = b"From=%2B15555550177&To=%2B15555550100&MessageSid=SMx&Body=" + b"a" * (1024 * 1024)
    response = hl.client.post(
        "/twilio/sms",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    with hl.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 0


def test_a_body_that_is_not_a_form_gets_415(hl: Hotline) -> None:
    response = hl.client.post(
        "/twilio/sms", content=b'{"From": "x"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 415
    assert count(hl, Case) == 0


def test_odd_but_signed_input_never_fails_the_webhook(hl: Hotline) -> None:
    assert "case 1" in hl.answer(REPORTER, "a\x00b at booth 12")  # NUL: dropped
    long_sid = hl.sms(REPORTER, "x", sid="SM" + "9" * 70)
    assert long_sid.status_code == 400 and "MessageSid" in long_sid.json()["detail"]
    long_from = hl.sms("+1" + "5" * 200, "hello")
    assert long_from.status_code == 400 and "From" in long_from.json()["detail"]
    assert count(hl, Case) == 1
    sip = hl.post(
        "/twilio/voice",
        {
            "CallSid": "CA" + "1" * 32,
            "From": "sip:" + "x" * 80 + "@example.test",
            "To": HOTLINE,
            "CallStatus": "ringing",
        },
    )
    assert sip.status_code == 200


def test_a_follow_up_before_the_page_went_out_still_reaches_the_responder(hl: Hotline) -> None:
    hl.answer(REPORTER, "someone is following people")
    hl.answer(REPORTER, "red hoodie, near booth 12")  # the page has not been sent yet
    sent = hl.run()
    assert [m.to for m in sent] == [AVERY, AVERY]
    assert "following people" in sent[0].body and "red hoodie" in sent[1].body


def test_a_burst_from_one_number_opens_at_most_three_cases_a_minute(hl: Hotline) -> None:
    for n in (1, 2, 3):
        assert f"case {n}" in hl.answer(REPORTER, f"report {n}")
        hl.answer(AVERY, f"ACK {n}")  # paged as the on-call lead
        assert hl.answer(AVERY, f"RESOLVE {n}") == f"Case {n} is resolved."
    assert "Added to case 3" in hl.answer(REPORTER, "report 4")  # kept, not a fourth case
    for n in (4, 5, 6):
        assert f"case {n}" in hl.answer(BLAKE, f"NEW witnessed thing {n}")
    assert "Added to case 6" in hl.answer(BLAKE, "NEW witnessed thing 7")
    assert count(hl, Case) == 6 and count(hl, Message) == 8
    assert events(hl, 3).count("new_case_limited") == 1
    hl.clock.advance(minutes=1)
    assert "case 7" in hl.answer(REPORTER, "a minute later, a new report")


def test_a_responder_sms_cannot_reach_is_called_and_flagged_until_they_text_start(
    hl: Hotline,
) -> None:
    from app.auth.tokens import create_token

    hl.answer(REPORTER, "report")
    hl.twilio.fail_next(400, code=21610)  # Avery texted STOP to the hotline number once
    hl.run()
    calls = hl.twilio.take_calls()
    assert [c.to for c in calls] == [AVERY]  # the page is read out by a call instead
    token = create_token(
        hl.services.sessions, role="chair", responder=None, name="c", now=hl.clock()
    )
    detail = hl.client.get("/api/cases/1", headers={"Authorization": f"Bearer {token}"}).json()
    assert detail["warnings"][0].startswith("Avery Quinn cannot be reached by SMS")
    # the next case pages Avery by voice straight away
    hl.answer(REPORTER_2, "another report")
    assert hl.run() == [] and [c.to for c in hl.twilio.take_calls()] == [AVERY]
    # texting START lifts it: pages go by SMS again
    assert hl.answer(AVERY, "START") == ""
    hl.answer("+15555550152", "a third report")
    assert recipients(hl.run()) == {AVERY}
    assert "responder_reachable_by_sms" in events_of_type(hl, "responder_reachable_by_sms")


def events_of_type(hl: Hotline, type: str) -> list[str]:
    with hl.services.sessions() as session:
        return list(session.scalars(select(Event.type).where(Event.type == type)))
