"""Everything the service says to people, in one place so organizers can review the tone.

Texts to reporters promise no particular outcome (the staff procedure forbids it) and never
carry a responder's number; texts to responders never carry the reporter's number. Plain
GSM-7 characters only, and short: a page should fit in two SMS segments.
"""

from __future__ import annotations

import re

EXCERPT_CHARS = 140
# Where a voicemail's link goes in a stored text; each reader gets a link of their own.
VOICEMAIL_MARKER = re.compile(r"<voicemail:(\d+)>")
SMS_MAX_CHARS = 1600  # Twilio refuses a longer Body (error 21617)
RELAY_MAX_PARTS = 3  # a longer REPLY is refused rather than sent as a stream of texts


def sms_length(text: str) -> int:
    """Length as Twilio counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def fit_sms(text: str) -> str:
    """Any text the service composes, cut to what Twilio accepts in one Body."""
    if sms_length(text) <= SMS_MAX_CHARS:
        return text
    cut = text[: SMS_MAX_CHARS - 3]
    while sms_length(cut) > SMS_MAX_CHARS - 3:
        cut = cut[:-1]
    return cut.rstrip() + "..."


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


def reporter_ack_notice(hotline: str, case: int, *, lead: bool = True) -> str:
    """`lead` False when an alternate took it: a reporter who said a lead is involved is
    never told that a lead has the report."""
    who = "a lead responder" if lead else "a responder"
    return f"{hotline}: {who} has your report (case {case}) and will follow up."


def relay_to_reporter(hotline: str, case: int, text: str) -> str:
    return f"{hotline} (case {case}): {text}"


def _relay_head(hotline: str, case: int, part: int, parts: int) -> str:
    return f"{hotline} (case {case}, {part}/{parts}): "


def relay_max_chars(hotline: str, case: int) -> int:
    """The longest REPLY text that still fits in RELAY_MAX_PARTS numbered texts."""
    head = sms_length(_relay_head(hotline, case, RELAY_MAX_PARTS, RELAY_MAX_PARTS))
    return RELAY_MAX_PARTS * (SMS_MAX_CHARS - head)


def relay_parts(hotline: str, case: int, text: str) -> list[str] | None:
    """A relay as the texts that carry it: one when it fits, else a few numbered parts cut
    at spaces where possible; None when even RELAY_MAX_PARTS cannot hold it."""
    whole = relay_to_reporter(hotline, case, text)
    if sms_length(whole) <= SMS_MAX_CHARS:
        return [whole]
    for parts in range(2, RELAY_MAX_PARTS + 1):
        room = SMS_MAX_CHARS - sms_length(_relay_head(hotline, case, parts, parts))
        chunks = _chunks(text, room)
        if len(chunks) <= parts:
            return [
                _relay_head(hotline, case, i, len(chunks)) + chunk
                for i, chunk in enumerate(chunks, 1)
            ]
    return None


def _chunks(text: str, room: int) -> list[str]:
    """`text` in pieces of at most `room` (as Twilio counts), cut after a space if one is
    in the second half of the piece."""
    chunks: list[str] = []
    rest = text.strip()
    while rest:
        piece = rest[:room]
        while sms_length(piece) > room:
            piece = piece[:-1]
        if len(piece) < len(rest):
            space = piece.rfind(" ")
            if space > len(piece) // 2:
                piece = piece[: space + 1]
        chunks.append(piece.strip())
        rest = rest[len(piece) :].strip()
    return chunks


# --- while the database is unreachable (app.telephony.outage) ------------------------
# The message is kept in the local spool and lands on its case once the database is back;
# the case number is not known yet. The hotline's details come from memory, or when this
# process never read them, a generic emergency line.

UNKNOWN_EMERGENCY_INFO = "If anyone is in danger, call your local emergency number."


def outage_sms(hotline: str | None, emergency_info: str | None) -> str:
    who = f"{hotline}: your" if hotline else "Your"
    text = f"{who} message is received and will be passed to our responders."
    return f"{text} {emergency_info or UNKNOWN_EMERGENCY_INFO}"


def outage_not_kept(hotline: str | None, emergency_info: str | None) -> str:
    """When even the spool could not be written: honest, and still the emergency line."""
    who = f"{hotline}: sorry, your" if hotline else "Sorry, your"
    text = f"{who} message could not be recorded just now. Please send it again in a few minutes."
    return f"{text} {emergency_info or UNKNOWN_EMERGENCY_INFO}"


# --- to responders --------------------------------------------------------------------


def page(hotline: str, case: int, report: str, *, emergency: bool, reminder: bool) -> str:
    head = "EMERGENCY " if emergency else ""
    head += "Reminder: " if reminder else ""
    return f"{head}[{hotline}] Case {case}: {excerpt(report)} {_ack_hint(case)}"


def _ack_hint(case: int) -> str:
    return f"Reply ACK {case} to take it."


def update_notice(hotline: str, case: int, text: str) -> str:
    return (
        f"[{hotline}] Case {case} update from the reporter: {excerpt(text)} "
        f"Reply REPLY {case} <text> to answer."
    )


def emergency_notice(hotline: str, case: int, text: str, holder: str | None) -> str:
    """An emergency word on a case someone holds: everyone eligible hears it at once."""
    held = f" (held by {holder})" if holder else ""
    return (
        f"EMERGENCY [{hotline}] Case {case}{held}, from the reporter: {excerpt(text)} "
        f"Reply REPLY {case} <text> to answer."
    )


def add_to_update(notice: str, case: int, text: str, limit: int = 600) -> str | None:
    """A later follow-up joined to an update notice not sent yet; None when it would make
    the notice too long (it then goes in a notice of its own)."""
    hint = f" Reply REPLY {case} <text> to answer."
    head = notice.removesuffix(hint)
    joined = f"{head} / {excerpt(text)}{hint}"
    return joined if len(joined) <= limit else None


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


def relayed(case: int, parts: int = 1) -> str:
    if parts > 1:
        return f"Sent to the reporter of case {case} in {parts} texts."
    return f"Sent to the reporter of case {case}."


def reply_too_long(case: int, max_chars: int) -> str:
    return (
        f"Not sent: too long for the reporter of case {case}. "
        f"A REPLY may be at most {max_chars} characters; shorten it or send it in parts."
    )


#: Why a reporter cannot get texts, as a responder should read it (app.cases.reporter).
REPORTER_UNREACHABLE = {
    "caller_id_withheld": "they called with their caller ID withheld",
    "not_a_phone_number": "they called from an address that is no phone number",
    "not_a_mobile": "their number cannot receive texts (a landline?)",
    "opted_out": "they texted STOP to this number",
    "invalid_number": "Twilio says their number is invalid",
}


def reporter_cannot_get_texts(case: int, reason: str) -> str:
    why = REPORTER_UNREACHABLE.get(reason, reason)
    return (
        f"Not sent: the reporter of case {case} cannot get texts: {why}. Nothing was sent to them."
    )


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


# --- attached to a case from a call ---------------------------------------------------


def voicemail_recording(link: str) -> str:
    """Short, so the link survives the page excerpt when it is the case's first message.
    Stored with a marker that becomes a link of each reader's own (app.cases.recordings)."""
    return f"Voicemail: {link}"


def voicemail_transcription(text: str) -> str:
    return f"Voicemail transcript: {text}"


# --- spoken on calls (text-to-speech: whole sentences, no symbols) ---------------------


def call_greeting(hotline: str, case: int, *, joined: bool) -> str:
    case_words = f"This call is added to your case {case}." if joined else f"This is case {case}."
    return (
        f"{hotline} incident hotline. {case_words} "
        "If your report involves a lead responder, press 2 now. "
        "Otherwise, please hold while we connect you."
    )


def call_ringing_alternates() -> str:
    return "Thank you. We are calling people who are not lead responders. Please hold."


def call_own_case(case: int) -> str:
    """A caller who pressed 2 on a call that would have joined their open case."""
    return f"This call is now case {case}."


def call_screen(hotline: str, case: int) -> str:
    return (
        f"{hotline} hotline. A caller is waiting on case {case}. "
        "Press 1 to take the case and be connected."
    )


def call_accepted(case: int) -> str:
    return f"You have case {case}. Connecting you to the caller now."


def call_not_accepted() -> str:
    return "Not connected. Goodbye."


def call_voicemail(case: int, emergency_info: str) -> str:
    """Said before recording: the caller must hear that the message is recorded."""
    return (
        f"Nobody could answer right now. {emergency_info} "
        f"Otherwise, please leave a message after the tone. It is recorded and attached to "
        f"case {case}, and our responders are being paged. Hang up when you are done."
    ).replace("  ", " ")


def call_voicemail_saved(case: int) -> str:
    return f"Thank you. Your message is attached to case {case}. Goodbye."


def call_no_message(case: int) -> str:
    return f"No message was recorded. Case {case} stays open and our responders are paged. Goodbye."


def call_ended(case: int) -> str:
    return f"Thank you for calling about case {case}. Goodbye."


def call_not_in_service() -> str:
    return "This number is not taking calls. Goodbye."


def outage_call(hotline: str | None, emergency_info: str | None) -> str:
    """Said to a caller while the database is unreachable, before hanging up."""
    who = f"{hotline} incident hotline." if hotline else "Incident hotline."
    return (
        f"{who} Your call is received, and our responders will be paged. "
        f"{emergency_info or UNKNOWN_EMERGENCY_INFO} "
        "To add details, send a text message to this number. Goodbye."
    )


def outage_call_not_kept(hotline: str | None, emergency_info: str | None) -> str:
    who = f"{hotline} incident hotline." if hotline else "Incident hotline."
    return (
        f"{who} Sorry, your call could not be recorded just now. "
        f"{emergency_info or UNKNOWN_EMERGENCY_INFO} "
        "Please call again or send a text message in a few minutes. Goodbye."
    )


def outage_call_step(emergency_info: str | None) -> str:
    """A later step of a call (ringing, screening) while the database is unreachable."""
    return (
        f"Sorry, this call cannot be connected right now. "
        f"{emergency_info or UNKNOWN_EMERGENCY_INFO} Goodbye."
    )


def call_page_prompt(hotline: str) -> str:
    """The first words of a paging call: no report text, so a voicemail that picks up
    keeps nothing about the case."""
    return f"This is the {hotline} incident hotline with a page for you. Press 1 to hear it."


def call_page(page_text: str, case: int) -> str:
    """A page read out on a call: the SMS reply hint becomes a key to press."""
    spoken = page_text.removesuffix(_ack_hint(case)).strip()
    spoken = VOICEMAIL_MARKER.sub("a voicemail", spoken)
    spoken = spoken.replace("[", "").replace("]", ":")
    if not spoken.endswith((".", "!", "?")):
        spoken += "."
    return f"This is a page from the incident hotline. {spoken} Press 1 to take case {case}."


def call_page_taken(case: int) -> str:
    return (
        f"You have case {case}. Text REPLY {case} and your message to this number "
        f"to reach the reporter. Goodbye."
    )


def spoken(text: str) -> str:
    """An SMS answer said on a call, then goodbye."""
    return f"{text} Goodbye."


# What stands where retention erased a message, a note or a page (app.paging.retention).
ERASED = "(erased: kept no longer than the retention period)"


# --- drills and verification (app.drills): never about a case -------------------------


def drill_page(hotline: str, code: str) -> str:
    return (
        f"[{hotline}] TEST page, not an incident: please reply OK {code} "
        "so we know pages reach you."
    )


def verification(hotline: str, code: str) -> str:
    return f"[{hotline}] You are now a responder on this hotline: reply OK {code} to confirm."


def drill_answered(code: str) -> str:
    return f"Thanks: test {code} confirmed. No action needed."


def drill_unknown_code(code: str) -> str:
    return f"No test page with code {code} is waiting for your answer. Reply HELP for the commands."


def drill_call(hotline: str) -> str:
    return (
        f"This is a test call from the {hotline} incident hotline. Nobody needs help. "
        "Press 1 to confirm that calls reach you."
    )


def drill_call_confirmed() -> str:
    return "Thank you. Your phone is confirmed. Goodbye."


# --- a hotline the roster no longer has (deactivated): never silent --------------------


def retired_report_received(hotline: str, case: int, emergency_info: str) -> str:
    text = (
        f"{hotline}: this number is no longer in regular service, but your report is received"
        f" as case {case} and responders will be paged."
    )
    return f"{text} {emergency_info}".strip()


def retired_report_appended(case: int, emergency_info: str) -> str:
    return f"Added to case {case}. {emergency_info}".strip()


def retired_call(hotline: str, case: int, emergency_info: str) -> str:
    return (
        f"{hotline} incident hotline. This number is no longer in regular service. "
        f"Your call is recorded as case {case} and our responders are being paged. "
        f"{emergency_info} To add details, send a text message to this number. Goodbye."
    ).replace("  ", " ")
