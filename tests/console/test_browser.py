"""The console in a real browser: Debian's Chromium, driven by Playwright, against a real
`hotline serve` on its embedded SQLite database, with every request to anywhere but this
service refused (the venue has no internet). Each main page is checked with axe-core, at a
desktop width and on a 360 px phone, and must have no serious or critical violation.

Without Chromium these tests are skipped on a developer's machine and fail under CI=true
(`.ci/run` installs it). `HOTLINE_CONSOLE_SCREENSHOTS=docs` refreshes docs/console-*.png.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.telephony.signature import SIGNATURE_HEADER, sign
from tests.faults.cluster import HOTLINE_BIN, free_port, wait_until
from tests.harness import twiml_text

try:
    from playwright import sync_api as playwright_api
except ImportError:  # pragma: no cover - the test extra installs it
    playwright_api = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "roster.yaml"
AUTH_TOKEN = "browser-test-auth-token"
HOTLINE = "+15555550100"
BLAKE = "+15555550112"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
CASE_NUMBER = re.compile(r"\bcase (\d+)\b", re.IGNORECASE)
pytestmark = pytest.mark.usefixtures("chromium")  # skip or fail before starting anything


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium, never a browser Playwright downloads; missing: skip, or fail in CI."""
    found = shutil.which("chromium")
    problem = None
    if playwright_api is None:
        problem = "Playwright is not installed (pip install -e '.[test]')"
    elif found is None:
        problem = "Debian's chromium is not installed (apt-get install -y chromium)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    assert found is not None
    return found


@dataclass
class Service:
    """A real `hotline serve`, and what it takes to talk to it as Twilio and as an admin."""

    url: str
    workdir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]

    def hotline(self, *args: str) -> str:
        result = subprocess.run(
            [str(HOTLINE_BIN), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def token(self, role: str, name: str, responder: str | None = None) -> str:
        args = ["token", "create", "--role", role, "--name", name]
        return self.hotline(*args, *(["--responder", responder] if responder else []))

    def text(self, sender: str, body: str) -> int:
        """A signed inbound-SMS webhook, as Twilio sends it; the case number answered."""
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": sender,
            "To": HOTLINE,
            "Body": body,
            "NumMedia": "0",
        }
        signature = sign(AUTH_TOKEN, f"{self.url}/twilio/sms", params)
        answer = httpx.post(
            f"{self.url}/twilio/sms", data=params, headers={SIGNATURE_HEADER: signature}
        )
        assert answer.status_code == 200, answer.text
        found = CASE_NUMBER.search(twiml_text(answer.text))
        assert found, answer.text
        return int(found.group(1))

    def output(self) -> str:
        return (self.workdir / "serve.out").read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


def start_service(workdir: Path, **settings: str) -> Service:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
    env.update(
        HOTLINE_ROSTER=str(EXAMPLE),
        HOTLINE_PUBLIC_URL=url,
        HOTLINE_DATABASE_URL=f"sqlite:///{workdir / 'hotline.db'}",
        HOTLINE_TRANSPORT="console",
        HOTLINE_SPOOL_DIR=str(workdir / "spool"),
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        PYTHONUNBUFFERED="1",
        **settings,
    )
    with (workdir / "serve.out").open("w") as out:
        proc = subprocess.Popen(
            [str(HOTLINE_BIN), "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    svc = Service(url, workdir, env, proc)

    def ready() -> bool:
        assert proc.poll() is None, svc.output()
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until("hotline serve to be ready", ready, seconds=60)
    except BaseException:
        svc.stop()
        raise
    return svc


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service(tmp_path_factory.mktemp("console"))
    yield svc
    svc.stop()


@dataclass
class Offline:
    """Every request the pages make to anywhere but the service, refused and kept."""

    service: str
    refused: list[str] = field(default_factory=list)

    def route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.service) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def offline(service: Service) -> Offline:
    return Offline(service.url)


@pytest.fixture
def new_page(browser: Any, service: Service, offline: Offline) -> Iterator[Any]:
    """Pages in their own browser context each (own cookies), offline but for the service."""
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport, base_url=service.url)
        context.route("**/*", offline.route)
        # axe-core, served as if from the service, so the pages' script policy
        # (default-src 'self') stays in force while it runs.
        axe = (files("axe_playwright_python") / "axe.min.js").read_text()
        context.route(
            f"{service.url}/__test__/axe.min.js",
            lambda route: route.fulfill(body=axe, content_type="text/javascript"),
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield make
    for context in contexts:
        context.close()
    assert offline.refused == [], f"pages reached outside the service: {offline.refused}"


def accessible(page: Any, what: str) -> None:
    """axe-core on the page as it stands: no serious or critical violation."""
    page.add_script_tag(url="/__test__/axe.min.js")
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    others = sorted(
        {f"{v['id']} ({v['impact']})" for v in result} - {f"{v['id']} ({v['impact']})" for v in bad}
    )
    print(f"axe {what}: {len(bad)} serious or critical; other findings: {others or 'none'}")
    assert bad == [], f"{what}: {bad}"


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    """Kept with the test's files; copied into docs/ when asked to refresh them."""
    path = tmp_path / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("HOTLINE_CONSOLE_SCREENSHOTS") == "docs":
        shutil.copy(path, ROOT / "docs" / path.name)


def sign_in(page: Any, token: str) -> None:
    page.goto("/console")
    assert page.url.endswith("/console/sign-in?next=/console/cases")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def test_a_chair_follows_a_case_from_the_first_text_to_its_resolution(
    service: Service, new_page: Any, tmp_path: Path
) -> None:
    expect = playwright_api.expect
    chair = service.token("chair", "Chair laptop")
    page = new_page()

    page.goto("/console/sign-in")
    accessible(page, "sign-in")
    screenshot(page, "sign-in", tmp_path)
    sign_in(page, chair)
    expect(page.get_by_role("heading", name="Open cases")).to_be_visible()
    expect(page.get_by_text("Chair laptop")).to_be_visible()

    # A report arrives while the page is open: it appears without a reload.
    number = service.text("+15555550150", "Someone is harassing people at booth 12")
    link = page.get_by_role("link", name=f"Case {number}", exact=True)
    expect(link).to_be_visible(timeout=20_000)
    row = page.get_by_role("row").filter(has=link)
    expect(row).to_contain_text("Tier 1 of 3")
    expect(row).to_contain_text("Nobody yet")
    print(f"case {number} appeared on the open-cases page by itself")
    accessible(page, "open cases")
    screenshot(page, "open-cases", tmp_path)

    link.click()
    expect(page.get_by_role("heading", name=f"Case {number}")).to_be_visible()
    expect(page.get_by_text("Case opened by a text from reporter")).to_be_visible()
    expect(page.get_by_text("Someone is harassing people at booth 12")).to_be_visible()

    # The procedure's record, then the outcome: both through the same writes as the API.
    page.get_by_label("Where", exact=True).fill("Booth 12, expo hall")
    page.get_by_label("Reported person (name, appearance, clothing, badge)").fill(
        "Red hoodie, exhibitor badge"
    )
    page.get_by_role("button", name="Save the record").click()
    expect(page.get_by_text("Record saved.")).to_be_visible()
    expect(page.get_by_text("Chair laptop (chair) changed the record")).to_be_visible()
    page.get_by_label("Add a note").fill("Spoke with the booth staff; they confirm.")
    page.get_by_role("button", name="Add the note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    accessible(page, "case")
    screenshot(page, "case", tmp_path)

    page.get_by_label("Outcome").select_option("warning")
    page.get_by_label("Who follows up with the reporter and those impacted").fill("Dana Okafor")
    page.get_by_role("button", name=f"Resolve case {number}").click()
    expect(page.get_by_text("Case resolved")).to_be_visible()
    expect(page.get_by_text("Chair laptop (chair) resolved the case")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("A warning; follow-up: Dana Okafor")
    print(f"case {number} recorded and resolved in the console")

    page.get_by_role("link", name="Open cases").click()
    expect(page.get_by_role("link", name=f"Case {number}", exact=True)).to_have_count(0)

    page.get_by_role("link", name="Search").click()
    page.get_by_label("Text in the messages, description or reported person").fill("hoodie")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=f"Case {number}", exact=True)).to_be_visible()
    accessible(page, "search")
    screenshot(page, "search", tmp_path)

    # What the chair typed (a note, a search for the reported person) stays out of the log.
    logged = service.output()
    assert "hoodie" not in logged.lower() and "booth staff" not in logged

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("chains are intact")).to_be_visible()
    accessible(page, "audit log")
    screenshot(page, "audit", tmp_path)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto("/console/cases")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_on_a_phone_the_open_cases_read_as_cards(
    service: Service, new_page: Any, tmp_path: Path
) -> None:
    expect = playwright_api.expect
    number = service.text("+15555550151", "Someone is shouting at volunteers at the door")
    page = new_page(PHONE)
    sign_in(page, service.token("chair", "Chair phone"))
    link = page.get_by_role("link", name=f"Case {number}", exact=True)
    expect(link).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 360 px ({width} px wide)"
    accessible(page, "open cases at 360 px")
    screenshot(page, "phone", tmp_path)

    # Keyboard only: from the top of the page to the case.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == f"Case {number}":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Case {number}")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the case page scrolls sideways at 360 px ({width} px)"
    accessible(page, "case at 360 px")


def test_on_a_phone_the_on_call_and_drill_pages_read_and_pass_axe(
    service: Service, new_page: Any, tmp_path: Path
) -> None:
    expect = playwright_api.expect
    assert "drill" in service.hotline("drill", "--minutes", "15").lower()
    page = new_page(PHONE)
    sign_in(page, service.token("admin", "Admin phone"))
    for link, heading, what in (("On call", "On call", "on call"), ("Drills", "Drills", "drills")):
        page.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.get_by_role("table").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{what} scrolls sideways at 360 px ({width} px wide)"
        accessible(page, f"{what} at 360 px")
        screenshot(page, what.replace(" ", ""), tmp_path)


def test_an_excluded_responder_finds_no_such_case(service: Service, new_page: Any) -> None:
    expect = playwright_api.expect
    number = service.text("+15555550152", "CONFLICT Blake Rivera, he is a friend of theirs")
    page = new_page()
    sign_in(page, service.token("responder", "Blake's phone", responder=BLAKE))
    expect(page.get_by_role("heading", name="Open cases")).to_be_visible()
    expect(page.get_by_role("link", name=f"Case {number}", exact=True)).to_have_count(0)

    hidden = page.goto(f"/console/cases/{number}")
    assert hidden is not None and hidden.status == 404
    expect(page.get_by_role("heading", name="No such case")).to_be_visible()
    missing_text = page.content()
    missing = page.goto("/console/cases/99999999")
    assert missing is not None and missing.status == 404
    assert page.content() == missing_text  # nothing tells the two apart
    print(f"Blake's session: case {number} is 'No such case', as a number never used")


def test_a_form_posted_without_its_csrf_token_is_refused(service: Service, new_page: Any) -> None:
    expect = playwright_api.expect
    number = service.text("+15555550153", "Someone took photos of attendees without asking")
    page = new_page()
    sign_in(page, service.token("chair", "Chair laptop 2"))
    page.goto(f"/console/cases/{number}")

    # The note form, stripped of its CSRF field, as a page on another site would send it.
    page.get_by_label("Add a note").fill("forged note")
    page.locator('form[action$="/notes"] input[name="csrf"]').evaluate("e => e.remove()")
    with page.expect_response(lambda r: r.url.endswith("/notes")) as posted:
        page.get_by_role("button", name="Add the note").click()
    assert posted.value.status == 403
    expect(page.get_by_role("heading", name="Form refused")).to_be_visible()

    page.goto(f"/console/cases/{number}")
    expect(page.get_by_text("forged note")).to_have_count(0)
    expect(page.get_by_text("No notes yet.")).to_be_visible()
    print("a note form without its CSRF token: 403, nothing written")


def test_the_api_docs_work_offline(service: Service, new_page: Any, offline: Offline) -> None:
    expect = playwright_api.expect
    page = new_page()
    page.goto("/docs")
    expect(page.locator(".swagger-ui .information-container")).to_contain_text("hotline")
    expect(page.get_by_text("/api/cases/{n}/resolve").first).to_be_visible()
    page.goto("/redoc")
    expect(page.get_by_role("heading", name=re.compile("hotline")).first).to_be_visible()
    expect(page.get_by_text("API docs by Redocly")).to_be_visible()  # its logo: never fetched
    page.wait_for_load_state("networkidle")
    assert offline.refused == []
    print("/docs and /redoc rendered with no request leaving the service")


def test_an_idle_session_ends_while_the_page_refreshes_itself(browser: Any, tmp_path: Path) -> None:
    """Nobody at the screen: the open-cases page keeps refreshing, which is not activity,
    and once the idle time has passed it lands on the sign-in page saying so."""
    expect = playwright_api.expect
    svc = start_service(tmp_path, HOTLINE_CONSOLE_IDLE_MINUTES="0.2")  # 12 seconds
    try:
        context = browser.new_context(viewport=DESKTOP, base_url=svc.url)
        page = context.new_page()
        sign_in(page, svc.token("chair", "Chair laptop"))
        expect(page.get_by_role("heading", name="Open cases")).to_be_visible()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=40_000)
        expect(page.get_by_text("Your session ended.")).to_be_visible()
        assert "/console/sign-in?expired=1" in page.url
        print("idle session: the self-refreshing page went to the sign-in page by itself")
        context.close()
    finally:
        svc.stop()
