"""The console's plain words for the log's events, outcomes and exclusion reasons.

Pure: an event in, a sentence out. A type this module does not know yet still reads as
words, so a new kind of event never breaks the timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.event_types import EventType

OUTCOMES = {
    "no_action": "No action: not a violation",
    "warning": "A warning",
    "no_contact_order": "No contact with the reporter for the rest of the event",
    "no_evening_events": "No evening events",
    "no_alcohol": "No alcohol at events",
    "talk_ended": "The talk was ended early",
    "talk_unpublished": "The talk's video and slides are not published",
    "speaker_banned": "May not speak, now or at future events",
    "volunteer_ended": "Volunteer role ended",
    "volunteer_banned": "May not volunteer at future events",
    "refund_grants": "Travel grants to be refunded",
    "removed_from_event": "Removed from the event",
    "banned_from_events": "Banned from future events",
    "membership_removed": "Removed from membership",
    "public_account": "An account of the incident is published",
}

EXCLUSION_REASONS = {
    "named_in_report": "named in the report",
    "reporter_flagged": "the reporter said a lead is involved",
    "recused": "stepped back (recused)",
    "chair_excluded": "excluded by the chair",
}

NOTIFY = {
    "on_call_leads": "the on-call leads",
    "all_leads": "all leads",
    "alternates": "the alternates",
}

MESSAGE_KINDS = {
    "page": "Page",
    "call_page": "Page by voice call",
    "reminder": "Reminder",
    "ack_notice": "Notice that the case was taken",
    "taken_notice": "Notice that the case was taken",
    "update_notice": "Notice of the reporter's new texts",
    "reporter_notice": "Message to the reporter",
    "relay": "Reply to the reporter",
}

VIA = {"sms": "by text", "voice": "on a call", "call": "on a call", "api": "in the console or API"}


def words(name: str) -> str:
    """`page_sent` -> `Page sent`: the fallback for anything without a sentence of its own."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def outcome(value: str | None) -> str:
    return OUTCOMES.get(value or "", words(value or "")) if value else "Not decided"


def exclusion_reason(reason: str) -> str:
    return EXCLUSION_REASONS.get(reason, words(reason).lower())


def _kind(detail: Mapping[str, Any]) -> str:
    return MESSAGE_KINDS.get(str(detail.get("kind", "")), "Message")


def _to(detail: Mapping[str, Any]) -> str:
    to = detail.get("to")
    return "the reporter" if to == "reporter" else str(to or "someone")


def _tier(detail: Mapping[str, Any]) -> str:
    text = f"tier {detail.get('tier', '?')} ({NOTIFY.get(detail.get('notify', ''), 'responders')})"
    if (detail.get("run") or 1) > 1:
        text += f", round {detail['run']}"
    return text


def _via(detail: Mapping[str, Any]) -> str:
    via = VIA.get(str(detail.get("via", "")))
    return f" {via}" if via else ""


def _names(values: Any) -> str:
    return ", ".join(str(v) for v in values) if values else "nobody"


def _resolved(actor: str, d: Mapping[str, Any]) -> str:
    text = f"{actor} resolved the case{_via(d)}"
    if d.get("outcome"):
        text += f". Outcome: {outcome(d['outcome'])}"
    if d.get("follow_up_assignee"):
        text += f". Follow-up: {d['follow_up_assignee']}"
    return text


def _record(actor: str, d: Mapping[str, Any]) -> str:
    changes = d.get("changes", {})
    if not isinstance(changes, Mapping):
        raise TypeError("changes")
    fields = ", ".join(words(name).lower() for name in changes)
    return f"{actor} changed the record: {fields or 'nothing'}"


SENTENCES: dict[str, Callable[[str, Mapping[str, Any]], str]] = {
    EventType.CASE_OPENED: lambda a, d: (
        f"Case opened by {'a call' if d.get('channel') == 'voice' else 'a text'} from {a}"
    ),
    EventType.MESSAGE_RECEIVED: lambda a, d: f"Text from {a} ({d.get('chars', '?')} characters)",
    EventType.EMERGENCY: lambda a, d: "Marked as an emergency: an emergency word was in the report",
    EventType.EMERGENCY_PAGING: lambda a, d: (
        f"Emergency: paging everyone at once ({_names(d.get('responders'))})"
    ),
    EventType.PAGING: lambda a, d: f"Paging {_tier(d)}",
    EventType.ESCALATED: lambda a, d: f"Nobody acknowledged: escalated to {_tier(d)}",
    EventType.PAGE_SENT: lambda a, d: f"{_kind(d)} sent to {_to(d)}",
    EventType.MESSAGE_SENT: lambda a, d: f"{_kind(d)} sent to {_to(d)}",
    EventType.PAGE_RETRY: lambda a, d: (
        f"{_kind(d)} to {_to(d)} not sent ({d.get('error')}); trying again"
    ),
    EventType.MESSAGE_RETRY: lambda a, d: (
        f"{_kind(d)} to {_to(d)} not sent ({d.get('error')}); trying again"
    ),
    EventType.PAGE_FAILED: lambda a, d: (
        f"{_kind(d)} to {_to(d) if d.get('to') else 'a responder'} failed "
        f"({d.get('error') or d.get('status') or 'no reason given'})"
    ),
    EventType.MESSAGE_FAILED: lambda a, d: (
        f"{_kind(d)} {'to ' + _to(d) + ' ' if d.get('to') else ''}failed "
        f"({d.get('error') or d.get('status') or 'no reason given'})"
    ),
    EventType.PAGE_DELIVERED: lambda a, d: "A page was delivered (confirmed by the carrier)",
    EventType.MESSAGE_DELIVERED: lambda a, d: "A message was delivered (confirmed by the carrier)",
    EventType.ESCALATION_ENDED: lambda a, d: "Escalation ended: the policy has run its course",
    EventType.UNROUTABLE: lambda a, d: "Nobody eligible is left to page",
    EventType.EXCLUDED: lambda a, d: (
        f"{d.get('responder', 'A responder')} excluded from the case: "
        f"{exclusion_reason(str(d.get('reason', '')))}"
    ),
    EventType.ROUTABLE_AGAIN: lambda a, d: (
        "Someone eligible can be paged again: escalation resumes"
    ),
    EventType.RESPONDER_REACHABLE_BY_SMS: lambda a, d: (
        f"{d.get('responder')} can be reached by SMS again"
    ),
    EventType.REOPENED: lambda a, d: "Case reopened",
    EventType.ACKNOWLEDGED: lambda a, d: f"{a} acknowledged the case{_via(d)}",
    EventType.RELAYED: lambda a, d: (
        f"{a} replied to the reporter ({d.get('chars', '?')} characters)"
    ),
    EventType.RESOLVED: _resolved,
    EventType.RECORD_UPDATED: _record,
    EventType.NOTE_ADDED: lambda a, d: f"{a} added a note",
    EventType.NEW_CASE_LIMITED: lambda a, d: (
        f"A new report joined this case: its sender opened {d.get('opened_last_minute')} "
        "cases within a minute"
    ),
    EventType.RECEIVED_DURING_OUTAGE: lambda a, d: (
        f"Received at {d.get('received_at')} while the database was unreachable, replayed later"
    ),
    EventType.RESPONDER_UNREACHABLE_BY_SMS: lambda a, d: (
        f"{d.get('responder')} cannot be reached by SMS ({d.get('reason')}): paged by call instead"
    ),
    EventType.LEAD_INVOLVED: lambda a, d: (
        "The caller said a lead is involved: only alternates are paged"
    ),
    EventType.CALL_RECEIVED: lambda a, d: (
        f"Call from {a}" + (" (joined the open case)" if d.get("joined") else "")
    ),
    EventType.CALL_RINGING: lambda a, d: (
        f"Ringing {_names(d.get('responders'))}"
        + (
            f"; paged by text instead: {_names(d['paged_instead'])}"
            if d.get("paged_instead")
            else ""
        )
    ),
    EventType.CALL_FALLBACK: lambda a, d: (
        f"The text page could not be delivered: calling {d.get('to')}"
    ),
    EventType.CALL_STATUS: lambda a, d: (
        f"Call to {d.get('to') or 'a responder'}: {words(str(d.get('status', ''))).lower()}"
    ),
    EventType.CALL_NOT_ACCEPTED: lambda a, d: f"{a} answered the call without pressing 1",
    EventType.CALL_LEG_ENDED: lambda a, d: (
        f"Call leg to {d.get('responder')} ended ({d.get('status')})"
    ),
    EventType.CALL_DIAL_ENDED: lambda a, d: f"Ringing ended ({d.get('status')})",
    EventType.PAGE_UNANSWERED: lambda a, d: (
        f"Nobody took the call page to {d.get('to')} ({d.get('status')})"
    ),
    EventType.VOICEMAIL_RECORDED: lambda a, d: f"Voicemail left ({d.get('seconds')} seconds)",
    EventType.VOICEMAIL_MISSING: lambda a, d: "The voicemail recording could not be fetched",
    EventType.VOICEMAIL_TRANSCRIPTION_FAILED: lambda a, d: "The voicemail could not be transcribed",
    EventType.TOKEN_CREATED: lambda a, d: f"API token {d.get('name')} ({d.get('role')}) created",
    EventType.TOKEN_REVOKED: lambda a, d: f"API token {d.get('name')} ({d.get('role')}) revoked",
}


def describe(type: str, actor: str, detail: Mapping[str, Any]) -> str:
    """One event of the log as a sentence a chair reads aloud in the staff meeting."""
    sentence = SENTENCES.get(type)
    if sentence is not None:
        try:
            return sentence(actor, detail)
        except (TypeError, ValueError, AttributeError):
            pass  # an older or newer detail shape: fall back to plain words
    return f"{words(type)} ({actor})" if actor and actor != "system" else words(type)
