"""The embedded worker on the real clock: pages go out within moments of being due, woken
by new work and by due times rather than by polling."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.telephony.console import ConsoleTransport
from tests.harness import AUTH_TOKEN, AVERY, BLAKE, CASEY, PUBLIC_URL, REPORTER, send_sms

FAST = """
hotlines:
  - number: "+15555550100"
    name: "Fast Conf"
    timezone: "UTC"
    responders:
      - {name: "Avery Quinn", phone: "+15555550111", role: lead}
      - {name: "Blake Rivera", phone: "+15555550112", role: lead}
      - {name: "Casey Moreau", phone: "+15555550113", role: alternate}
    shifts:
      - {responder: "Avery Quinn", start: "2020-01-01T00:00", end: "2100-01-01T00:00"}
    escalation:
      - {notify: on_call_leads, after_minutes: 0}
      - {notify: all_leads, after_minutes: 0.01}
      - {notify: alternates, after_minutes: 0.02}
"""


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_embedded_worker_pages_and_escalates_on_time(database_url: str, tmp_path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(FAST)
    console = ConsoleTransport(out=open(tmp_path / "console.log", "w"))  # noqa: SIM115
    settings = Settings(
        HOTLINE_DATABASE_URL=database_url,
        HOTLINE_PUBLIC_URL=PUBLIC_URL,
        HOTLINE_TRANSPORT="console",
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        HOTLINE_ROSTER=str(roster),
        HOTLINE_WORKER="embedded",
    )
    app = create_app(settings, transport=console)
    with TestClient(app) as client:
        opened = time.monotonic()
        answer = send_sms(client, REPORTER, "someone is being harassed")
        assert answer.status_code == 200
        case = re.search(r"case (\d+)", answer.text)
        assert case, answer.text  # drawn at random, as in production

        def sent_to(phone: str) -> bool:
            return any(entry[1] == phone for entry in console.sent)

        wait_for(lambda: sent_to(AVERY))
        first_page = time.monotonic() - opened
        wait_for(lambda: sent_to(BLAKE))
        wait_for(lambda: sent_to(CASEY))
        third_tier = time.monotonic() - opened
        send_sms(client, BLAKE, f"ACK {case.group(1)}")
        wait_for(lambda: sent_to(REPORTER))
    # Generous bounds: this proves wake-ups, not speed (bench/ measures that).
    assert first_page < 5
    assert 1.2 <= third_tier < 8
