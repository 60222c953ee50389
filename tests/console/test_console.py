"""The chair's console over HTTP: sessions, CSRF, the pages, and writes through the API's
own functions (same log, same rules). The browser tests (test_browser.py) do the same in
Chromium; these run on both databases and cover the edges."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from app.audit.models import Event
from app.audit.schemas import EventOut
from app.auth.tokens import revoke_token
from app.cases.models import CaseNote
from app.casework import events as audit_queries
from app.console.views import COOKIE
from tests.console.conftest import Browser
from tests.harness import AVERY, BLAKE, EMERY, REPORTER, REPORTER_2, Hotline, count

CASE_NUMBER = re.compile(r"\bcase (\d+)\b", re.IGNORECASE)


def report(hl: Hotline, sender: str, body: str) -> int:
    """Text the hotline as a reporter; the case number the answer gives."""
    found = CASE_NUMBER.search(hl.answer(sender, body))
    assert found
    return int(found.group(1))


def logged(hl: Hotline, number: int) -> list[EventOut]:
    """The case's log as the API gives it (what reports say is sealed apart in the table)."""
    with hl.services.sessions() as session:
        return audit_queries.case_events(session, number)


def test_signing_in_sets_a_strict_httponly_secure_cookie(browser: Browser) -> None:
    response = browser.sign_in(browser.token("chair", name="Chair laptop"))

    assert response.status_code == 303
    assert response.headers["location"] == "/console/cases"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite=strict", "path=/console"} <= flags
    page = browser.page("/console/cases")
    assert "Chair laptop" in page and "Open cases" in page


def test_the_cookie_is_not_secure_when_the_service_is_reached_over_plain_http(
    database_url: str,
) -> None:
    hl = Hotline(database_url)
    try:
        hl.services.settings.public_url = "http://127.0.0.1:8000"
        browser = Browser(hl)
        browser.client.base_url = "http://127.0.0.1:8000"  # type: ignore[assignment]
        response = browser.sign_in(browser.token("chair"))
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")
        )
        assert "secure" not in cookie.lower() and "samesite=strict" in cookie.lower()
    finally:
        hl.close()


def test_an_unknown_or_revoked_token_is_refused_and_nothing_else_is_shown(
    browser: Browser, hl: Hotline
) -> None:
    assert browser.get("/console/cases").headers["location"].startswith("/console/sign-in")
    refused = browser.sign_in("hl_not-a-token")
    assert refused.status_code == 401
    assert "unknown or has been revoked" in refused.text
    assert COOKIE not in browser.client.cookies

    token = browser.token("chair")
    with hl.services.sessions() as session:
        from app.auth.tokens import find_token

        token_id = find_token(session, token).id  # type: ignore[union-attr]
    revoke_token(hl.services.sessions, token_id, hl.clock())
    assert browser.sign_in(token).status_code == 401


def test_a_token_of_no_api_role_opens_nothing(browser: Browser, hl: Hotline) -> None:
    from app.auth.models import ApiToken
    from app.auth.tokens import digest
    from app.db import transaction

    with transaction(hl.services.sessions) as session:  # e.g. a calendar feed's token
        session.add(
            ApiToken(
                name="feed",
                role="calendar",
                token_hash=digest("hl_feed-token"),
                created_at=hl.clock(),
            )
        )
    assert browser.sign_in("hl_feed-token").status_code == 401
    assert COOKIE not in browser.client.cookies


def test_revoking_the_token_ends_its_console_sessions_at_once(
    browser: Browser, hl: Hotline
) -> None:
    browser.signed_in_as("chair")
    assert browser.get("/console/cases").status_code == 200
    revoke_token(hl.services.sessions, 1, hl.clock())

    assert browser.get("/console/cases").status_code == 303


def test_a_sign_in_form_from_elsewhere_is_refused(browser: Browser) -> None:
    token = browser.token("chair")
    # No nonce cookie: a page on another site posting to the sign-in form.
    forged = browser.client.post("/console/sign-in", data={"csrf": "x", "token": token})
    assert forged.status_code == 403
    assert COOKIE not in browser.client.cookies


def test_signing_out_ends_the_session_for_good(browser: Browser, other_browser: Browser) -> None:
    browser.signed_in_as("chair")
    stolen = browser.client.cookies[COOKIE]
    response = browser.post("/console/sign-out", {}, csrf_from="/console/cases")
    assert response.status_code == 303
    assert "signed_out=1" in response.headers["location"]
    assert browser.get("/console/cases").status_code == 303

    # The old cookie, replayed from elsewhere, opens nothing either.
    other_browser.client.cookies.set(COOKIE, stolen, domain="hotline.example.test")
    assert other_browser.get("/console/cases").status_code == 303


def test_an_idle_session_expires_and_self_refreshes_do_not_keep_it_alive(
    browser: Browser, hl: Hotline
) -> None:
    browser.signed_in_as("chair")
    answers = []
    for _ in range(3):  # 30 minutes of the page refreshing itself, nobody at the screen
        hl.clock.advance(minutes=10)
        answers.append(browser.get("/console/cases/rows", headers={"X-Console-Refresh": "1"}))

    assert [a.status_code for a in answers] == [200, 200, 303]
    assert "expired=1" in answers[-1].headers["location"]
    assert "session ended" in browser.page(answers[-1].headers["location"])
    assert browser.get("/console/cases").status_code == 303


def test_a_person_using_the_console_keeps_the_session(browser: Browser, hl: Hotline) -> None:
    browser.signed_in_as("chair")
    for _ in range(6):
        hl.clock.advance(minutes=20)
        assert browser.get("/console/cases").status_code == 200
    hl.clock.advance(hours=11)  # past the longest a session lasts, used or not
    assert browser.get("/console/cases").status_code == 303


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    browser: Browser, hl: Hotline
) -> None:
    number = report(hl, REPORTER, "Someone is harassing people at booth 12")
    browser.signed_in_as("chair")
    before = count(hl, Event)

    for path, data in [
        (f"/console/cases/{number}/notes", {"body": "forged"}),
        (f"/console/cases/{number}/resolve", {"outcome": "no_action"}),
        (f"/console/cases/{number}/record", {"location": "forged"}),
        ("/console/sign-out", {}),
    ]:
        assert browser.post(path, data, csrf_from=None).status_code == 403
        wrong = browser.client.post(path, data={**data, "csrf": "0" * 64})
        assert wrong.status_code == 403

    assert count(hl, Event) == before
    assert browser.get("/console/cases").status_code == 200  # still signed in


def test_the_open_cases_page_shows_tier_holder_and_problems(browser: Browser, hl: Hotline) -> None:
    first = report(hl, REPORTER, "Someone is harassing people at booth 12")
    hl.run()
    hl.answer(AVERY, f"ACK {first}")
    hl.run()  # the notices of the acknowledgement
    second = report(hl, REPORTER_2, "Blake Rivera keeps following me")
    hl.twilio.fail_next(400, 21610)  # Avery opted out of SMS: the page fails for good
    hl.run()
    hl.after(minutes=6)  # nobody took it: all leads
    browser.signed_in_as("chair")

    rows = browser.page("/console/cases/rows")
    assert f"Case {first}" in rows and f"Case {second}" in rows
    assert rows.index(f"Case {second}") < rows.index(f"Case {first}")  # newest first
    assert "Avery Quinn" in rows  # holds the first
    assert "Tier 2 of 3: all leads" in rows
    assert "unreachable by SMS" in rows and "delivery failed" in rows
    assert "6 min" in rows
    assert "+1555" not in rows and "0150" not in rows

    hl.answer(AVERY, f"RESOLVE {first}")
    assert f"Case {first}<" not in browser.page("/console/cases/rows")


def test_the_case_page_tells_the_story_in_plain_words(browser: Browser, hl: Hotline) -> None:
    number = report(hl, REPORTER, "Blake Rivera said something awful at booth 12")
    hl.run()
    hl.answer(AVERY, f"ACK {number}")
    browser.signed_in_as("chair")

    page = browser.page(f"/console/cases/{number}")
    for sentence in [
        "Case opened by a text from reporter",
        "Blake Rivera excluded from the case: named in the report",
        "Paging tier 1 (the on-call leads)",
        "Page sent to Avery Quinn",
        "Avery Quinn acknowledged the case by text",
        "The log checks out against its hash chain",
        "Blake Rivera said something awful at booth 12",  # the message itself
    ]:
        assert sentence in page, sentence
    assert "•••• 0150" in page and "+15555550150" not in page
    assert "_" not in re.sub(r"<[^>]+>", "", page.split('id="timeline-h"')[1].split("</ol>")[0])


def test_an_excluded_responder_gets_not_found_like_a_case_that_does_not_exist(
    browser: Browser, other_browser: Browser, hl: Hotline
) -> None:
    number = report(hl, REPORTER, "CONFLICT Emery Lindqvist, they were there")
    hl.run()
    browser.signed_in_as("chair", responder=EMERY, name="Emery")
    missing = browser.get("/console/cases/987654")
    hidden = browser.get(f"/console/cases/{number}")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.text == missing.text
    assert f"Case {number}" not in browser.page("/console/cases")
    assert f"Case {number}" not in browser.page("/console/search?q=there")
    note = browser.post(f"/console/cases/{number}/notes", {"body": "x"}, csrf_from="/console/cases")
    assert note.status_code == 404
    # An unbound chair's token sees it.
    other_browser.signed_in_as("chair")
    assert other_browser.get(f"/console/cases/{number}").status_code == 200
    assert browser.get("/console/cases/abc").status_code == 404
    assert browser.get("/console/cases/99999999999").status_code == 404


def test_a_note_from_the_console_lands_on_the_log_as_the_api_writes_it(
    browser: Browser, hl: Hotline
) -> None:
    number = report(hl, REPORTER, "Someone is harassing people at booth 12")
    browser.signed_in_as("chair", name="Chair laptop")

    empty = browser.post(
        f"/console/cases/{number}/notes", {"body": "   "}, csrf_from=f"/console/cases/{number}"
    )
    assert empty.status_code == 422 and "Nothing was saved" in empty.text
    response = browser.post(
        f"/console/cases/{number}/notes",
        {"body": "  Spoke with booth staff.  "},
        csrf_from=f"/console/cases/{number}",
    )
    assert response.status_code == 303
    with hl.services.sessions() as session:
        note = session.scalars(select(CaseNote)).one()
    event = next(e for e in logged(hl, number) if e.type == "note_added")
    assert (note.author, note.author_role, note.body) == (
        "Chair laptop",
        "chair",
        "Spoke with booth staff.",
    )
    assert event.actor == "Chair laptop (chair)" and event.detail["text"] == note.body
    page = browser.page(response.headers["location"])
    assert "Note added." in page and "Chair laptop (chair) added a note" in page


def test_the_record_form_changes_only_what_was_edited(browser: Browser, hl: Hotline) -> None:
    number = report(hl, REPORTER, "Someone is harassing people at booth 12")
    browser.signed_in_as("chair", name="Chair laptop")
    path = f"/console/cases/{number}"
    form = {
        "was_location": "",
        "location": "Booth 12, expo hall",
        "was_incident_at": "",
        "incident_at": "2026-05-11T11:40",
        "was_description": "",
        "description": "",
    }
    assert browser.post(f"{path}/record", form, csrf_from=path).status_code == 303
    # A second person's stale form: they change the description only, and their old (empty)
    # location must not overwrite the first person's.
    stale = {"was_location": "", "location": "", "was_description": "", "description": "Loud"}
    assert browser.post(f"{path}/record", stale, csrf_from=path).status_code == 303
    bad = {"was_incident_at": "", "incident_at": "1066-10-14T09:00"}
    refused = browser.post(f"{path}/record", bad, csrf_from=path)
    assert refused.status_code == 422 and "1900" in refused.text

    changes = [e.detail["changes"] for e in logged(hl, number) if e.type == "record_updated"]
    assert changes == [
        {
            "location": {"old": None, "new": "Booth 12, expo hall"},
            "incident_at": {"old": None, "new": "2026-05-11T15:40:00+00:00"},  # New York time
        },
        {"description": {"old": None, "new": "Loud"}},
    ]
    page = browser.page(path)
    assert 'value="2026-05-11T11:40"' in page and "Booth 12, expo hall" in page


def test_resolving_in_the_console_stops_escalation_and_tells_whoever_was_paged(
    browser: Browser, hl: Hotline
) -> None:
    number = report(hl, REPORTER, "Someone is harassing people at booth 12")
    hl.run()
    browser.signed_in_as("chair", name="Chair laptop")
    path = f"/console/cases/{number}"

    no_outcome = browser.post(f"{path}/resolve", {"outcome": ""}, csrf_from=path)
    assert no_outcome.status_code == 422
    done = browser.post(
        f"{path}/resolve",
        {"outcome": "warning", "follow_up_assignee": "Dana Okafor", "resolve_note": "Warned."},
        csrf_from=path,
    )
    assert done.status_code == 303
    page = browser.page(done.headers["location"])
    assert "A warning" in page and 'id="resolve"' not in page
    told = hl.run()
    assert [m.to for m in told] == [AVERY]
    resolved = [e for e in logged(hl, number) if e.type == "resolved"]
    assert resolved[0].actor == "Chair laptop (chair)"
    assert resolved[0].detail["outcome"] == "warning"
    again = browser.client.post(
        f"{path}/resolve", data={"outcome": "warning", "csrf": browser.csrf(path)}
    )
    assert again.status_code == 409
    assert hl.after(minutes=30) == []  # no more escalation


def test_a_responder_token_reads_its_cases_and_may_only_add_notes(
    browser: Browser, hl: Hotline
) -> None:
    number = report(hl, REPORTER, "Someone is harassing people at booth 12")
    hl.run()
    browser.signed_in_as("responder", responder=AVERY, name="Avery's phone")
    path = f"/console/cases/{number}"

    page = browser.page(path)
    assert 'id="resolve"' not in page and f"{path}/record" not in page
    assert f"{path}/notes" in page
    assert (
        browser.post(f"{path}/resolve", {"outcome": "warning"}, csrf_from=path).status_code == 403
    )
    assert browser.post(f"{path}/record", {"location": "x"}, csrf_from=path).status_code == 403
    assert browser.post(f"{path}/notes", {"body": "On my way"}, csrf_from=path).status_code == 303

    blake = Browser(hl).signed_in_as("responder", responder=BLAKE)
    assert blake.get(path).status_code == 404  # never paged: as the API says


def test_search_finds_past_cases_by_text_state_and_date(browser: Browser, hl: Hotline) -> None:
    first = report(hl, REPORTER, "Red hoodie person at the party")
    second = report(hl, REPORTER_2, "Someone at booth 12")
    browser.signed_in_as("chair")

    found = browser.page("/console/search?q=HOODIE")
    assert f"Case {first}" in found and f"Case {second}" not in found
    assert f"Case {second}" in browser.page(
        "/console/search?status=open&since=2026-05-11&until=2026-05-11"
    )
    assert "No case matches" in browser.page("/console/search?since=2026-05-12")
    bad = browser.get("/console/search?since=yesterday&cursor=nope")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text and "page link" in bad.text


def test_the_audit_page_shows_the_chains_verification(browser: Browser, hl: Hotline) -> None:
    number = report(hl, REPORTER, "Someone is harassing people at booth 12")
    hl.run()
    browser.signed_in_as("chair")
    assert "chains are intact" in browser.page("/console/audit")

    if hl.services.engine.dialect.name == "sqlite":  # PostgreSQL refuses the edit itself
        with hl.services.engine.begin() as conn:
            conn.execute(
                text("UPDATE event SET actor = 'someone else' WHERE case_id = :c AND seq = 2"),
                {"c": number},
            )
        page = browser.page("/console/audit")
        assert "chains are broken" in page and f"Case {number}" in page
        assert "tampered with" in browser.page(f"/console/cases/{number}")


def test_pages_forbid_framing_caching_and_foreign_scripts(browser: Browser) -> None:
    headers = browser.get("/console/sign-in").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"


def test_sign_in_sends_only_to_console_pages(browser: Browser) -> None:
    token = browser.token("chair")
    nonce = browser.csrf("/console/sign-in?next=https://evil.example/")
    response = browser.client.post(
        "/console/sign-in", data={"csrf": nonce, "token": token, "next": "//evil.example/"}
    )
    assert response.headers["location"] == "/console/cases"


def test_the_api_docs_use_only_files_served_here(browser: Browser) -> None:
    for path in ("/docs", "/redoc"):
        page = browser.page(path)
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert sources and all(s.startswith("/") for s in sources), sources
        assert "cdn" not in page.lower() and "fonts.googleapis" not in page
        for source in sources:
            assert browser.get(source).status_code == 200, source


def test_a_call_where_a_lead_is_involved_is_flagged(browser: Browser, hl: Hotline) -> None:
    from tests.voice.phone import Call

    call = Call.to_hotline(hl, REPORTER)
    call.press(call.dial_in(), "2")
    browser.signed_in_as("chair")

    rows = browser.page("/console/cases/rows")
    assert "Lead involved" in rows and "· call" in rows
    number = re.search(r'href="/console/cases/(\d+)"', rows).group(1)  # type: ignore[union-attr]
    assert "The caller said a lead is involved" in browser.page(f"/console/cases/{number}")


def test_what_reporters_write_is_shown_as_text_never_as_markup(
    browser: Browser, hl: Hotline
) -> None:
    number = report(hl, REPORTER, '<script>alert("x")</script><b>booth</b>')
    browser.signed_in_as("chair")

    page = browser.page(f"/console/cases/{number}")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;booth&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<b>booth" not in page
