"""Every type of event the escalation log holds (app.audit.log.record), by name.

A StrEnum, so each member is the very string stored in `event.type` and shown by the API,
the console, logs and metrics: naming a type that does not exist fails where it is written,
and the API documents the list from here (app.audit.schemas.EventOut).
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    # A case opens, and what its reporter sends
    CASE_OPENED = "case_opened"
    NEW_CASE_LIMITED = "new_case_limited"
    MESSAGE_RECEIVED = "message_received"
    EMERGENCY = "emergency"
    CALL_RECEIVED = "call_received"
    VOICEMAIL_RECORDED = "voicemail_recorded"
    VOICEMAIL_MISSING = "voicemail_missing"
    VOICEMAIL_TRANSCRIPTION_FAILED = "voicemail_transcription_failed"
    LEAD_INVOLVED = "lead_involved"
    # Paging and escalation
    PAGING = "paging"  # the first tier paged (later tiers: escalated)
    ESCALATED = "escalated"
    ESCALATION_ENDED = "escalation_ended"
    EMERGENCY_PAGING = "emergency_paging"
    UNROUTABLE = "unroutable"
    ROUTABLE_AGAIN = "routable_again"
    REOPENED = "reopened"
    PAGE_SENT = "page_sent"
    PAGE_RETRY = "page_retry"
    PAGE_FAILED = "page_failed"
    PAGE_DELIVERED = "page_delivered"
    PAGE_UNANSWERED = "page_unanswered"
    CALL_FALLBACK = "call_fallback"
    CALL_RINGING = "call_ringing"
    CALL_STATUS = "call_status"
    CALL_DIAL_ENDED = "call_dial_ended"
    CALL_LEG_ENDED = "call_leg_ended"
    CALL_NOT_ACCEPTED = "call_not_accepted"
    # Other messages (notices, relays, reporter texts)
    MESSAGE_SENT = "message_sent"
    MESSAGE_RETRY = "message_retry"
    MESSAGE_FAILED = "message_failed"
    MESSAGE_DELIVERED = "message_delivered"
    RELAYED = "relayed"
    RELAY_NOT_SENT = "relay_not_sent"
    # Who may hear and be reached
    EXCLUDED = "excluded"
    REPORTER_REACHABLE_BY_SMS = "reporter_reachable_by_sms"
    REPORTER_UNREACHABLE_BY_SMS = "reporter_unreachable_by_sms"
    RESPONDER_REACHABLE_BY_SMS = "responder_reachable_by_sms"
    RESPONDER_UNREACHABLE_BY_SMS = "responder_unreachable_by_sms"
    # Taking and closing a case, and what staff write on it
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    RECORD_UPDATED = "record_updated"
    NOTE_ADDED = "note_added"
    # Drills, tokens, the log itself
    DRILL_STARTED = "drill_started"
    DRILL_ANSWERED = "drill_answered"
    VERIFICATION_QUEUED = "verification_queued"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    RECEIVED_DURING_OUTAGE = "received_during_outage"
    CONTENTS_ERASED = "contents_erased"
    AUDIT_CHECKPOINT = "audit_checkpoint"
