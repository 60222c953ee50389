"""The drill table as `hotline drill status` prints it, times in the hotline's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.drills.models import Drill
from app.drills.rules import ANSWERED, CheckState
from app.roster.models import Hotline


def format_table(drill: Drill, hotline: Hotline, states: list[CheckState]) -> str:
    zone = ZoneInfo(hotline.timezone)

    def local(t: datetime, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
        return t.astimezone(zone).strftime(fmt)

    voice = ", with test calls" if drill.voice else ""
    lines = [
        f"{drill.kind} {drill.id} on {hotline.name} ({hotline.number}){voice}: code {drill.code},"
        f" sent {local(drill.started_at)}, answers until {local(drill.deadline_at)}",
        f"{'responder':<22} {'role':<10} {'result':<40} number",
    ]
    for s in states:
        if s.result == ANSWERED:
            assert s.answered_at is not None
            result = f"answered {local(s.answered_at, '%H:%M')} by {s.answered_via}"
            result += " (late)" if s.late else ""
        elif s.error_code:
            result = f"{s.result}: Twilio error {s.error_code}"
        elif s.error:
            result = f"{s.result}: {s.error}"
        else:
            result = s.result
        verified = "verified" if s.verified else "unverified"
        lines.append(f"{s.name[:22]:<22} {s.role:<10} {result[:40]:<40} {verified}")
    counts: dict[str, int] = {}
    for s in states:
        counts[s.result] = counts.get(s.result, 0) + 1
    lines.append(", ".join(f"{n} {result}" for result, n in counts.items()) or "nobody")
    return "\n".join(lines)
