"""The console's on-call and drill pages: the same functions and the same access rules as
/api/oncall and /api/drills/{id}, times in the hotline's time zone."""

from __future__ import annotations

import re

import pytest

from tests.console.conftest import Browser
from tests.drills.test_drill import drill_code, fail_texts_to
from tests.harness import AVERY, BLAKE, HOTLINE, Hotline
from tests.web.conftest import Api


def row(page: str, name: str) -> str:
    """The table row of one responder, tags stripped."""
    found = re.search(rf"<tr[^>]*>\s*<th scope=\"row\">{name}\b(.*?)</tr>", page, re.S)
    assert found, f"no row for {name}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


@pytest.mark.parametrize(("role", "responder"), [("chair", None), ("responder", AVERY)])
def test_whoever_may_read_api_oncall_sees_who_is_on_call_now_and_next_in_local_time(
    browser: Browser, role: str, responder: str | None
) -> None:
    browser.signed_in_as(role, responder=responder)

    page = browser.page("/console/oncall")

    assert '<a href="/console/oncall" aria-current="page">On call</a>' in page
    assert "Example Conf 2026" in page
    # Noon in New York: tier 1 is Avery alone (her shift), tier 2 every lead 5 minutes on.
    assert "Mon 11 May 12:00 EDT" in page and "Mon 11 May 12:05 EDT" in page
    assert row(page, "Tier 1: On call leads").endswith("Avery Quinn")
    assert row(page, "Tier 2: All leads").endswith("Avery Quinn, Blake Rivera, Casey Moreau")
    assert row(page, "Tier 3: Alternates").endswith("Dana Okafor, Emery Lindqvist")
    # Her shift ends at 20:00 local; then no shift covers the time and every lead is on call.
    assert "Mon 11 May 20:00 EDT" in page
    assert "on-call leads are Avery Quinn, Blake Rivera, Casey Moreau" in page
    assert "+1555555011" not in page  # names only, as the API gives them


def test_the_on_call_page_follows_the_clock(browser: Browser, hl: Hotline) -> None:
    hl.clock.advance(hours=9)  # 21:00 in New York: Avery's shift is over
    browser.signed_in_as("chair")

    page = browser.page("/console/oncall")

    assert row(page, "Tier 1: On call leads").endswith("Avery Quinn, Blake Rivera, Casey Moreau")
    assert "No shift change ahead" in page


def test_signed_out_the_new_pages_send_to_sign_in(browser: Browser) -> None:
    for path in ("/console/oncall", "/console/drills"):
        response = browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/console/sign-in?next={path}"


def test_the_drill_table_shows_who_answered_whose_text_failed_and_who_said_nothing(
    browser: Browser, hl: Hotline
) -> None:
    api = Api(hl)
    fail_texts_to(hl, BLAKE, 21211)
    started = api.post("/api/drills", api.token("admin", name="Ops"), {"hotline": HOTLINE})
    assert started.status_code == 201, started.text
    code = drill_code(next(m.body for m in hl.run() if m.to == AVERY))
    hl.clock.advance(minutes=2)
    assert "confirmed" in hl.answer(AVERY, f"OK {code}")
    hl.clock.advance(minutes=15)  # past the deadline: silence is now "no answer"
    browser.signed_in_as("chair")

    page = browser.page("/console/drills")

    assert '<a href="/console/drills" aria-current="page">Drills</a>' in page
    assert "Drill 1, Example Conf 2026" in page and "by Ops (admin)" in page
    assert "Mon 11 May 12:00 EDT" in page and "Mon 11 May 12:15 EDT" in page
    assert row(page, "Avery Quinn") == "lead Answered Mon 11 May 12:02 EDT by text verified"
    assert row(page, "Blake Rivera") == "lead Text failed: Twilio error 21211 not verified"
    assert row(page, "Casey Moreau") == "lead No answer not verified"
    assert re.search(r'<tr class="alarm"><th scope="row">Blake Rivera', page)
    assert not re.search(r'<tr class="alarm"><th scope="row">Avery Quinn', page)
    assert "+1555" not in page


def test_before_any_drill_the_page_says_so(browser: Browser) -> None:
    browser.signed_in_as("admin")
    assert "No drill yet." in browser.page("/console/drills")


def test_the_drill_page_is_for_the_roles_that_may_read_a_drill_through_the_api(
    hl: Hotline,
) -> None:
    api = Api(hl)
    api.post("/api/drills", api.token("admin"), {})
    for role, responder in (("admin", None), ("chair", None), ("responder", AVERY)):
        browser = Browser(hl).signed_in_as(role, responder=responder)
        via_api = api.get("/api/drills/1", api.token(role, responder=responder)).status_code
        page = browser.get("/console/drills")
        nav = browser.page("/console/cases")

        assert page.status_code == via_api, role
        assert ('href="/console/drills"' in nav) == (via_api == 200), role
        if via_api != 200:
            assert page.status_code == 403 and "may not read drills" in page.text


def test_an_admin_starts_a_drill_from_the_console_as_the_api_would(
    browser: Browser, hl: Hotline
) -> None:
    browser.signed_in_as("admin", name="Ops laptop")
    form = {"hotline": HOTLINE, "minutes": "20"}

    response = browser.post("/console/drills", form, csrf_from="/console/drills")

    assert response.status_code == 303
    assert response.headers["location"] == "/console/drills?done=started#drill-1"
    texts = hl.run()  # the dispatcher sends them, never the request
    assert {m.to for m in texts} >= {AVERY, BLAKE} and all("TEST" in m.body for m in texts)
    page = browser.page("/console/drills?done=started")
    assert "Drill started" in page and "by Ops laptop (admin)" in page
    assert "Mon 11 May 12:20 EDT" in page  # the deadline asked for
    assert row(page, "Casey Moreau") == "lead Waiting not verified"


def test_a_drill_form_without_its_csrf_token_or_from_a_chair_starts_nothing(
    browser: Browser, other_browser: Browser, hl: Hotline
) -> None:
    browser.signed_in_as("admin")
    assert browser.post("/console/drills", {"hotline": HOTLINE}, csrf_from=None).status_code == 403
    other_browser.signed_in_as("chair")
    chair_page = other_browser.page("/console/drills")
    assert "Start a drill" not in chair_page
    refused = other_browser.post(
        "/console/drills", {"hotline": HOTLINE}, csrf_from="/console/drills"
    )
    assert refused.status_code == 403 and "may not start a drill" in refused.text

    assert hl.run() == []
    assert "No drill yet." in browser.page("/console/drills")


def test_a_bad_drill_form_says_why_and_starts_nothing(browser: Browser, hl: Hotline) -> None:
    browser.signed_in_as("admin")
    for form, why in (
        ({"hotline": HOTLINE, "minutes": "0"}, "greater than 0"),
        ({"hotline": HOTLINE, "minutes": "soon"}, "valid number"),
        ({"hotline": "+15555550199"}, "no active hotline has the number +15555550199"),
    ):
        answer = browser.post("/console/drills", form, csrf_from="/console/drills")
        assert answer.status_code in (400, 422), form
        assert why in answer.text, (form, answer.text[:2000])
    assert hl.run() == []
    assert "No drill yet." in browser.page("/console/drills")
