"""Delivery reports: late, repeated and out of order, they only ever move a page forward."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import Event
from app.paging.models import Outbound
from tests.harness import ACCOUNT_SID, REPORTER, Hotline


def page(hl: Hotline) -> Outbound:
    with hl.services.sessions() as session:
        return session.scalars(select(Outbound).where(Outbound.kind == "page")).one()


def status(hl: Hotline, sid: str, value: str, **extra: str) -> None:
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": value, **extra}
    assert hl.post("/twilio/status", params).status_code == 200


def event_types(hl: Hotline) -> list[str]:
    with hl.services.sessions() as session:
        return list(session.scalars(select(Event.type).order_by(Event.id)))


def test_delivery_reports_move_a_page_forward_only(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    sid = page(hl).provider_sid
    assert sid and page(hl).status == "queued"
    status(hl, sid, "sent")
    status(hl, sid, "delivered")
    status(hl, sid, "sent")  # late
    status(hl, sid, "delivered")  # repeated
    assert page(hl).status == "delivered"
    assert event_types(hl).count("page_delivered") == 1


def test_a_failed_delivery_is_logged_with_twilios_code(hl: Hotline) -> None:
    hl.answer(REPORTER, "report")
    hl.run()
    sid = page(hl).provider_sid
    assert sid
    status(hl, sid, "undelivered", ErrorCode="30003")
    status(hl, sid, "undelivered", ErrorCode="30003")
    assert page(hl).status == "undelivered"
    with hl.services.sessions() as session:
        failed = session.scalars(select(Event).where(Event.type == "page_failed")).one()
    assert failed.detail["code"] == "30003"


def test_reports_for_unknown_sids_or_statuses_change_nothing(hl: Hotline) -> None:
    status(hl, "SM" + "9" * 32, "delivered")
    status(hl, "SM" + "9" * 32, "exploded")
    assert event_types(hl) == []
