"""The console's plain words for the log's events, outcomes and exclusion reasons.

Pure: an event in, a sentence out. A type this module does not know yet still reads as
words, so a new kind of event never breaks the timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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
    "case_opened": lambda a, d: (
        f"Case opened by {'a call' if d.get('channel') == 'voice' else 'a text'} from {a}"
    ),
    "message_received": lambda a, d: f"Text from {a} ({d.get('chars', '?')} characters)",
    "emergency": lambda a, d: "Marked as an emergency: an emergency word was in the report",
    "emergency_paging": lambda a, d: (
        f"Emergency: paging everyone at once ({_names(d.get('responders'))})"
    ),
    "paging": lambda a, d: f"Paging {_tier(d)}",
    "escalated": lambda a, d: f"Nobody acknowledged: escalated to {_tier(d)}",
    "page_sent": lambda a, d: f"{_kind(d)} sent to {_to(d)}",
    "message_sent": lambda a, d: f"{_kind(d)} sent to {_to(d)}",
    "page_retry": lambda a, d: f"{_kind(d)} to {_to(d)} not sent ({d.get('error')}); trying again",
    "message_retry": lambda a, d: (
        f"{_kind(d)} to {_to(d)} not sent ({d.get('error')}); trying again"
    ),
    "page_failed": lambda a, d: (
        f"{_kind(d)} to {_to(d) if d.get('to') else 'a responder'} failed "
        f"({d.get('error') or d.get('status') or 'no reason given'})"
    ),
    "message_failed": lambda a, d: (
        f"{_kind(d)} {'to ' + _to(d) + ' ' if d.get('to') else ''}failed "
        f"({d.get('error') or d.get('status') or 'no reason given'})"
    ),
    "page_delivered": lambda a, d: "A page was delivered (confirmed by the carrier)",
    "message_delivered": lambda a, d: "A message was delivered (confirmed by the carrier)",
    "escalation_ended": lambda a, d: "Escalation ended: the policy has run its course",
    "unroutable": lambda a, d: "Nobody eligible is left to page",
    "excluded": lambda a, d: (
        f"{d.get('responder', 'A responder')} excluded from the case: "
        f"{exclusion_reason(str(d.get('reason', '')))}"
    ),
    "routable_again": lambda a, d: "Someone eligible can be paged again: escalation resumes",
    "responder_reachable_by_sms": lambda a, d: f"{d.get('responder')} can be reached by SMS again",
    "reopened": lambda a, d: "Case reopened",
    "acknowledged": lambda a, d: f"{a} acknowledged the case{_via(d)}",
    "relayed": lambda a, d: f"{a} replied to the reporter ({d.get('chars', '?')} characters)",
    "resolved": _resolved,
    "record_updated": _record,
    "note_added": lambda a, d: f"{a} added a note",
    "new_case_limited": lambda a, d: (
        f"A new report joined this case: its sender opened {d.get('opened_last_minute')} "
        "cases within a minute"
    ),
    "received_during_outage": lambda a, d: (
        f"Received at {d.get('received_at')} while the database was unreachable, replayed later"
    ),
    "responder_unreachable_by_sms": lambda a, d: (
        f"{d.get('responder')} cannot be reached by SMS ({d.get('reason')}): paged by call instead"
    ),
    "lead_involved": lambda a, d: "The caller said a lead is involved: only alternates are paged",
    "call_received": lambda a, d: (
        f"Call from {a}" + (" (joined the open case)" if d.get("joined") else "")
    ),
    "call_ringing": lambda a, d: (
        f"Ringing {_names(d.get('responders'))}"
        + (
            f"; paged by text instead: {_names(d['paged_instead'])}"
            if d.get("paged_instead")
            else ""
        )
    ),
    "call_fallback": lambda a, d: f"The text page could not be delivered: calling {d.get('to')}",
    "call_status": lambda a, d: (
        f"Call to {d.get('to') or 'a responder'}: {words(str(d.get('status', ''))).lower()}"
    ),
    "call_not_accepted": lambda a, d: f"{a} answered the call without pressing 1",
    "call_leg_ended": lambda a, d: f"Call leg to {d.get('responder')} ended ({d.get('status')})",
    "call_dial_ended": lambda a, d: f"Ringing ended ({d.get('status')})",
    "page_unanswered": lambda a, d: (
        f"Nobody took the call page to {d.get('to')} ({d.get('status')})"
    ),
    "voicemail_recorded": lambda a, d: f"Voicemail left ({d.get('seconds')} seconds)",
    "voicemail_missing": lambda a, d: "The voicemail recording could not be fetched",
    "voicemail_transcription_failed": lambda a, d: "The voicemail could not be transcribed",
    "token_created": lambda a, d: f"API token {d.get('name')} ({d.get('role')}) created",
    "token_revoked": lambda a, d: f"API token {d.get('name')} ({d.get('role')}) revoked",
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
