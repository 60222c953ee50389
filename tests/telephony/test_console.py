"""ConsoleTransport: prints and records, sends nothing."""

from __future__ import annotations

import io
import re
import threading

import pytest

from app.telephony.console import ConsoleTransport
from app.telephony.transport import Sent, Transport

FROM = "+15555550100"
TO = "+15555550111"


def test_is_a_transport() -> None:
    assert isinstance(ConsoleTransport(io.StringIO()), Transport)


def test_send_sms_prints_one_line_and_records() -> None:
    out = io.StringIO()
    transport = ConsoleTransport(out)

    sent = transport.send_sms(to=TO, from_=FROM, body="Case 12: reply 1", status_callback=None)

    assert isinstance(sent, Sent)
    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.sid)
    assert sent.status == "sent"
    assert out.getvalue() == f"[console] SMS {FROM} -> {TO}: Case 12: reply 1\n"
    assert transport.sent == [("sms", TO, FROM, "Case 12: reply 1")]


def test_place_call_prints_url() -> None:
    out = io.StringIO()
    transport = ConsoleTransport(out)
    url = "http://127.0.0.1:8000/twilio/voice/page?case=12"

    sent = transport.place_call(to=TO, from_=FROM, url=url, status_callback="http://cb")

    assert re.fullmatch(r"CA[0-9a-f]{32}", sent.sid)
    assert sent.status == "sent"
    assert out.getvalue() == f"[console] CALL {FROM} -> {TO}: {url}\n"
    assert transport.sent == [("call", TO, FROM, url)]


def test_sids_are_unique() -> None:
    transport = ConsoleTransport(io.StringIO())
    sids = {
        transport.send_sms(to=TO, from_=FROM, body="x", status_callback=None).sid
        for _ in range(100)
    }
    assert len(sids) == 100


def test_multiline_body_stays_on_one_line_but_is_recorded_raw() -> None:
    out = io.StringIO()
    transport = ConsoleTransport(out)
    body = "line one\nline two\r\nback\\slash"

    transport.send_sms(to=TO, from_=FROM, body=body, status_callback=None)

    assert out.getvalue().count("\n") == 1
    assert out.getvalue().endswith(": line one\\nline two\\r\\nback\\\\slash\n")
    assert transport.sent[0][3] == body


def test_default_output_is_current_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    transport = ConsoleTransport()

    transport.send_sms(to=TO, from_=FROM, body="hello", status_callback=None)
    transport.close()

    assert capsys.readouterr().out == f"[console] SMS {FROM} -> {TO}: hello\n"


def test_concurrent_sends_keep_whole_lines_and_all_records() -> None:
    out = io.StringIO()
    transport = ConsoleTransport(out)

    def worker(n: int) -> None:
        for i in range(50):
            transport.send_sms(to=TO, from_=FROM, body=f"w{n}-{i}", status_callback=None)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = out.getvalue().splitlines()
    assert len(transport.sent) == len(lines) == 400
    assert all(re.fullmatch(rf"\[console\] SMS \{FROM} -> \{TO}: w\d-\d+", ln) for ln in lines)
    # The record order matches the printed order.
    assert [f"[console] SMS {FROM} -> {TO}: {s[3]}" for s in transport.sent] == lines
