"""The service against Twilio's real rules: what a real account would refuse or lose.

Twilio here is the harness's stand-in, which refuses what Twilio refuses (21610 after STOP,
21617 over 1600 characters, any request its API description does not allow) and sends
status callbacks for each change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app import wording
from app.cases.models import Case
from app.paging.models import Outbound
from app.roster.models import Responder
from tests.harness import AVERY, BLAKE, CASEY, HOTLINE, REPORTER, Hotline, recipients
from tests.voice.phone import Call, call_status
from tests.voice.test_calls import detail
from tests.web.conftest import Api

SERVICE_SID = "MG" + "a" * 32


def form(hl: Hotline, n: int = -1) -> dict[str, list[str]]:
    return hl.twilio.forms[n]


def case(hl: Hotline, n: int = 1) -> Case:
    with hl.services.sessions() as session:
        return session.get_one(Case, n)


def acked(hl: Hotline, body: str = "Someone is harassing people at booth 12") -> None:
    hl.answer(REPORTER, body)
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.run()


# --- 2. pages expire instead of arriving hours late -----------------------------------


def test_every_page_carries_a_validity_period_and_other_texts_do_not(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    assert form(hl)["ValidityPeriod"] == ["300"]
    hl.answer(AVERY, "ACK 1")
    hl.run()
    reporter_notice = next(f for f in hl.twilio.forms if f["To"] == [REPORTER])
    assert "ValidityPeriod" not in reporter_notice


def test_the_validity_period_is_a_setting(database_url: str) -> None:
    hl = Hotline(database_url, HOTLINE_PAGE_VALIDITY_SECONDS=90)
    try:
        hl.answer(REPORTER, "report")
        hl.run()
        assert form(hl)["ValidityPeriod"] == ["90"]
    finally:
        hl.close()


def test_an_expired_page_falls_back_to_a_call_then_the_next_tier(hl: Hotline) -> None:
    hl.twilio.fates[AVERY] = ("failed", "30036")  # stuck in Twilio's queue, given up
    hl.answer(REPORTER, "report")
    assert recipients(hl.run()) == {AVERY}
    assert hl.deliver_callbacks() == 2  # sent, then failed 30036
    assert detail(hl, "page_failed")["code"] == "30036"
    assert hl.run() == []
    [placed] = hl.twilio.take_calls()
    assert placed.to == AVERY
    call_status(hl, placed, "no-answer")
    # The next tier (all leads) goes now; expiry said nothing about Avery's phone, so his
    # page is an SMS again, not a call.
    assert recipients(hl.run()) == {AVERY, BLAKE, CASEY}
    assert hl.twilio.take_calls() == []


# --- 3. paging calls ------------------------------------------------------------------


def test_a_paging_call_rings_for_a_limited_time(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.twilio.fail_next(400, code=21614)
    hl.run()
    call = form(hl)
    assert call["Timeout"] == ["25"]
    assert call["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]


# --- 4. relays fit Twilio's limits ----------------------------------------------------


def test_a_long_reply_goes_in_numbered_parts_each_within_1600(hl: Hotline) -> None:
    acked(hl)
    text = " ".join(["We are on our way to the booth now."] * 60)  # about 2,150 characters
    answer = hl.answer(AVERY, f"REPLY 1 {text}")
    assert answer == "Sent to the reporter of case 1 in 2 texts."
    sent = [m.body for m in hl.run() if m.to == REPORTER]
    assert len(sent) == 2
    assert sent[0].startswith("Example Conf 2026 (case 1, 1/2): ")
    assert sent[1].startswith("Example Conf 2026 (case 1, 2/2): ")
    assert all(len(body) <= 1600 for body in sent)
    assert " ".join(b.split(": ", 1)[1] for b in sent) == text


def test_a_reply_too_long_for_three_texts_is_refused_with_the_limit(hl: Hotline) -> None:
    acked(hl)
    limit = wording.relay_max_chars("Example Conf 2026", 1)
    answer = hl.answer(AVERY, "REPLY 1 " + "x" * (limit + 1))
    assert f"at most {limit} characters" in answer and "Sent" not in answer
    assert [m for m in hl.run() if m.to == REPORTER] == []
    assert detail(hl, "relay_not_sent")["reason"] == "too_long"


def test_any_text_the_service_composes_fits_in_one_body(hl: Hotline) -> None:
    assert len(wording.fit_sms("é" * 5000)) <= 1600
    assert wording.sms_length(wording.fit_sms("😀" * 1000)) <= 1600


# --- 5. reporters who cannot get texts ------------------------------------------------


def detail_json(hl: Hotline, n: int = 1) -> dict:
    api = Api(hl)
    return api.ok(f"/api/cases/{n}", api.token("chair"))


@pytest.mark.parametrize("withheld", ["+266696687", "+7378742833", "+2562533", "+8656696"])
def test_a_withheld_caller_is_marked_and_reply_sends_nothing(hl: Hotline, withheld: str) -> None:
    Call.to_hotline(hl, withheld).dial_in()
    hl.after(minutes=1)  # the greeting ran out: the on-call lead is paged (and may ACK)
    assert case(hl).reporter_unreachable_reason == "caller_id_withheld"
    assert hl.answer(AVERY, "ACK 1").startswith("You have case 1")
    answer = hl.answer(AVERY, "REPLY 1 we are coming")
    assert "cannot get texts" in answer and "caller ID withheld" in answer
    assert not answer.startswith("Sent")
    sent = hl.run()
    assert all(m.to != withheld for m in sent)  # not even the "a lead has it" notice
    shown = detail_json(hl)
    assert shown["reporter_reachable_by_sms"] is False
    assert shown["reporter_unreachable_reason"] == "caller_id_withheld"
    assert any("cannot get texts" in w for w in shown["warnings"])


def test_a_landline_reporter_is_marked_once_a_text_comes_back_undelivered(hl: Hotline) -> None:
    hl.twilio.landlines.add(REPORTER)
    acked(hl)  # the "a lead has your report" notice goes out...
    hl.deliver_callbacks()  # ...and ends undelivered (30006)
    assert case(hl).reporter_unreachable_reason == "not_a_mobile"
    answer = hl.answer(AVERY, "REPLY 1 we are coming")
    assert "cannot get texts" in answer
    assert [m for m in hl.run() if m.to == REPORTER] == []
    assert detail_json(hl)["reporter_reachable_by_sms"] is False


def test_a_refused_not_a_mobile_number_marks_the_reporter(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.twilio.fail_next(400, code=21614)
    hl.run()
    assert case(hl).reporter_unreachable_reason == "not_a_mobile"


def test_a_reporter_who_texted_stop_gets_nothing_until_start(hl: Hotline) -> None:
    acked(hl)
    hl.answer(REPORTER, "STOP")
    answer = hl.answer(AVERY, "REPLY 1 are you still there?")
    assert "texted STOP" in answer
    assert [m for m in hl.run() if m.to == REPORTER] == []
    assert detail_json(hl)["reporter_unreachable_reason"] == "opted_out"
    hl.answer(REPORTER, "START")
    assert detail_json(hl)["reporter_reachable_by_sms"] is True
    assert hl.answer(AVERY, "REPLY 1 are you still there?").startswith("Sent")
    assert [m.to for m in hl.run()] == [REPORTER]


def test_a_relay_queued_before_stop_is_dropped_not_refused(hl: Hotline) -> None:
    acked(hl)
    assert hl.answer(AVERY, "REPLY 1 on our way").startswith("Sent")
    hl.answer(REPORTER, "STOP")  # before the worker sent it
    assert [m for m in hl.run() if m.to == REPORTER] == []
    with hl.services.sessions() as session:
        relay = session.scalars(select(Outbound).where(Outbound.kind == "relay")).one()
    assert relay.status == "cancelled" and "reporter cannot receive texts" in (relay.error or "")


# --- 6. notices skip responders SMS cannot reach --------------------------------------


def test_notices_are_not_sent_to_a_responder_who_opted_out(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    hl.after(minutes=5)  # every lead paged
    hl.answer(BLAKE, "STOP")
    hl.answer(AVERY, "ACK 1")
    sent = hl.run()
    # Casey is told who took it; Blake, who opted out, is not tried (it would fail, 21610).
    assert CASEY in recipients(sent) and BLAKE not in recipients(sent)
    assert not [f for f in hl.twilio.forms if f["To"] == [BLAKE] and "taken" in f["Body"][0]]
    hl.answer(REPORTER, "more detail")
    assert BLAKE not in recipients(hl.after(minutes=2))


def test_a_notice_refused_as_opted_out_marks_the_responder(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    hl.after(minutes=5)
    hl.twilio.opted_out.add(CASEY)  # opted out at Twilio, not seen by the hotline
    hl.answer(AVERY, "ACK 1")
    hl.run()
    with hl.services.sessions() as session:
        casey = session.scalars(select(Responder).where(Responder.phone == CASEY)).one()
        assert casey.sms_unreachable_at is not None


# --- 8. a Messaging Service for responders ---------------------------------------------


@pytest.fixture
def pooled(database_url: str) -> Iterator[Hotline]:
    hotline = Hotline(database_url, TWILIO_MESSAGING_SERVICE_SID=SERVICE_SID)
    yield hotline
    hotline.close()


def test_pages_and_notices_go_through_the_messaging_service(pooled: Hotline) -> None:
    acked(pooled)
    pooled.after(minutes=1)
    for f in pooled.twilio.forms:
        if f["To"] == [REPORTER]:
            assert f["From"] == [HOTLINE] and "MessagingServiceSid" not in f
        else:
            assert f["MessagingServiceSid"] == [SERVICE_SID] and "From" not in f
    pooled.answer(AVERY, "REPLY 1 on our way")
    pooled.run()
    relay = pooled.twilio.forms[-1]
    assert relay["To"] == [REPORTER] and relay["From"] == [HOTLINE]


def test_a_bad_messaging_service_sid_stops_the_configuration(database_url: str) -> None:
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError):
        Settings(HOTLINE_DATABASE_URL=database_url, TWILIO_MESSAGING_SERVICE_SID="not-a-sid")
    assert Settings(TWILIO_MESSAGING_SERVICE_SID="").twilio_messaging_service_sid is None


def test_stand_in_refuses_what_twilio_refuses(hl: Hotline) -> None:
    """The stand-in is only worth trusting if it does refuse: a body over 1600 is 21617."""
    import httpx

    from tests.harness import ACCOUNT_SID, AUTH_TOKEN, MESSAGES_URL

    data = {"To": AVERY, "From": HOTLINE, "Body": "x" * 1601}
    response = httpx.post(MESSAGES_URL, data=data, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert response.status_code == 400 and response.json()["code"] == 21617
    hl.twilio.violations.clear()  # expected here


def test_a_responder_answering_from_a_pool_number_reaches_the_hotline(pooled: Hotline) -> None:
    """With a Messaging Service, the page may come from another number of its pool, and the
    responder's ACK goes to that number: the webhook names the service, the hotline is the
    one that paged them."""
    pooled.answer(REPORTER, "report")
    pooled.run()
    params = {
        "MessageSid": "SM" + "7" * 32,
        "AccountSid": "AC" + "0" * 32,
        "MessagingServiceSid": SERVICE_SID,
        "From": AVERY,
        "To": "+15555550199",  # a pool number, no hotline
        "Body": "ACK 1",
        "NumMedia": "0",
    }
    response = pooled.post("/twilio/sms", params)
    assert "You have case 1" in response.text
    assert case(pooled).status == "acknowledged"
    # Another service's webhook to an unknown number is still ignored.
    other = {**params, "MessageSid": "SM" + "8" * 32, "MessagingServiceSid": "MG" + "9" * 32}
    assert pooled.post("/twilio/sms", other).text.endswith("<Response />")


def test_stop_after_the_case_closed_carries_over_to_the_next_report(hl: Hotline) -> None:
    acked(hl)
    hl.answer(AVERY, "RESOLVE 1")
    hl.run()
    hl.answer(REPORTER, "STOP")  # no open case: Twilio blocks them all the same
    hl.answer(REPORTER, "another report")
    assert case(hl, 2).reporter_unreachable_reason == "opted_out"
    hl.run()
    hl.answer(AVERY, "ACK 2")
    assert "texted STOP" in hl.answer(AVERY, "REPLY 2 hello")
    assert [m for m in hl.run() if m.to == REPORTER] == []
    hl.answer(REPORTER, "UNSTOP")
    assert case(hl, 2).reporter_unreachable_at is None


def test_callbacks_of_a_fallback_call_move_it_and_its_end_pages_the_next_tier(
    hl: Hotline,
) -> None:
    hl.twilio.landlines.add(AVERY)  # texts to Avery end undelivered
    hl.twilio.call_fates[AVERY] = "busy"
    hl.answer(REPORTER, "report")
    hl.run()
    assert hl.deliver_callbacks() == 2  # sent, undelivered
    hl.run()  # the fallback call
    assert hl.deliver_callbacks() == 3  # initiated, ringing, busy
    assert [d["status"] for d in _call_statuses(hl)] == ["initiated", "ringing", "busy"]
    assert recipients(hl.run()) == {BLAKE, CASEY}


def _call_statuses(hl: Hotline) -> list[dict]:
    from tests.voice.test_calls import events

    return [e.detail for e in events(hl, 1) if e.type == "call_status"]


def test_a_notice_that_comes_back_undelivered_stops_later_notices(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    hl.after(minutes=5)  # every lead paged
    hl.deliver_callbacks()
    hl.twilio.landlines.add(CASEY)  # say Casey's number was ported to a landline since
    hl.answer(AVERY, "ACK 1")
    hl.run()
    hl.deliver_callbacks()  # Casey's "taken" notice: undelivered, 30006
    with hl.services.sessions() as session:
        casey = session.scalars(select(Responder).where(Responder.phone == CASEY)).one()
        assert casey.sms_unreachable_at is not None
    hl.answer(AVERY, "RESOLVE 1")
    assert CASEY not in recipients(hl.run())
