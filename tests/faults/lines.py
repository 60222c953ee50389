"""The hotlines of the crash tests: who is paged, when, and what the report says."""

from __future__ import annotations

FAULT_LINE = "+15555550100"  # one tier that matters: both leads at once
TIER_LINE = "+15555550101"  # a second tier 3 s after the first
AVERY, BLAKE, DANA = "+15555550111", "+15555550112", "+15555550121"
CASEY, EMERY = "+15555550113", "+15555550122"
REPORTER = "+15555550150"
BODY = "Someone keeps following attendees around the sponsor hall"
LEASE = "3"  # HOTLINE_CLAIM_LEASE_SECONDS: a killed worker's sends wait this long

ROSTER = f"""
hotlines:
  - number: "{FAULT_LINE}"
    name: "Fault Conf"
    timezone: "UTC"
    safety_info: "Safety room: Room 23."
    responders:
      - {{name: "Avery Quinn", phone: "{AVERY}", role: lead}}
      - {{name: "Blake Rivera", phone: "{BLAKE}", role: lead}}
      - {{name: "Dana Okafor", phone: "{DANA}", role: alternate}}
    escalation:
      - {{notify: on_call_leads, after_minutes: 0}}
      - {{notify: alternates, after_minutes: 30}}
  - number: "{TIER_LINE}"
    name: "Tier Conf"
    timezone: "UTC"
    responders:
      - {{name: "Casey Moreau", phone: "{CASEY}", role: lead}}
      - {{name: "Emery Lindqvist", phone: "{EMERY}", role: alternate}}
    escalation:
      - {{notify: on_call_leads, after_minutes: 0}}
      - {{notify: alternates, after_minutes: 0.05}}
"""
