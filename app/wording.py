"""Everything the service says to people, in one place so organizers can review the tone.

Texts to reporters promise no particular outcome (the staff procedure forbids it) and never
carry a responder's number; texts to responders never carry the reporter's number. Plain
GSM-7 characters only, and short: a page should fit in two SMS segments.
"""

from __future__ import annotations

EXCERPT_CHARS = 140


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


# --- to the reporter ------------------------------------------------------------------


def report_received(hotline: str, case: int, safety_info: str) -> str:
    text = f"{hotline}: your report is received as case {case}. A lead responder will be paged."
    return f"{text} {safety_info}".strip()


def report_appended(case: int, safety_info: str) -> str:
    return f"Added to case {case}. {safety_info}".strip()


def emergency_answer(text: str, emergency_info: str) -> str:
    return f"{emergency_info} {text}".strip()


def reporter_ack_notice(hotline: str, case: int) -> str:
    return f"{hotline}: a lead responder has your report (case {case}) and will follow up."


def relay_to_reporter(hotline: str, case: int, text: str) -> str:
    return f"{hotline} (case {case}): {text}"


# --- to responders --------------------------------------------------------------------


def page(hotline: str, case: int, report: str, *, emergency: bool, reminder: bool) -> str:
    head = "EMERGENCY " if emergency else ""
    head += "Reminder: " if reminder else ""
    return f"{head}[{hotline}] Case {case}: {excerpt(report)} Reply ACK {case} to take it."


def update_notice(hotline: str, case: int, text: str) -> str:
    return (
        f"[{hotline}] Case {case} update from the reporter: {excerpt(text)} "
        f"Reply REPLY {case} <text> to answer."
    )


def taken_notice(case: int, by: str) -> str:
    return f"Case {case} is taken by {by}. No action needed."


def ack_confirmation(case: int) -> str:
    return (
        f"You have case {case}. REPLY {case} <text> reaches the reporter; RESOLVE {case} closes it."
    )


def already_taken(case: int, by: str) -> str:
    return f"Case {case} is already taken by {by}."


def already_resolved(case: int) -> str:
    return f"Case {case} is already resolved."


def no_such_case(case: int) -> str:
    return f"No such case: {case}."


def nothing_pending() -> str:
    return "No pending pages. Reply STATUS for your open cases."


def which_pending(cases: list[int]) -> str:
    listed = ", ".join(str(c) for c in cases)
    return f"Pending cases: {listed}. Reply ACK <n> for the one you take."


def recused(case: int) -> str:
    return f"You are recused from case {case}. You will get no more messages about it."


def relayed(case: int) -> str:
    return f"Sent to the reporter of case {case}."


def resolved(case: int) -> str:
    return f"Case {case} is resolved."


def resolved_notice(case: int, by: str) -> str:
    return f"Case {case} was resolved by {by}."


def may_not_resolve(case: int) -> str:
    return f"Only the responder who took case {case}, or an alternate, can resolve it."


def status_list(entries: list[tuple[int, str]]) -> str:
    if not entries:
        return "You have no open cases."
    return "Open cases: " + "; ".join(f"{c} ({state})" for c, state in entries)


def invalid(reason: str) -> str:
    return f"{reason} Reply HELP for the commands."
