"""Who may see and do what through the API: pure rules over plain data.

A token may be bound to a responder's phone. One phone can be a responder on several
hotlines (one responder row each), so a token stands for every responder id with that
phone, and it carries every exclusion of each of them, whatever its role: a conflicted chair
sees no more of a case than the conflicted responder would (the contract's "no trace").
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

ADMIN = "admin"
CHAIR = "chair"
RESPONDER = "responder"
ROLES = (ADMIN, CHAIR, RESPONDER)
# Not a role of the API: a calendar token reads one hotline's shifts.ics and nothing else.
CALENDAR = "calendar"
READ_ALL = frozenset({ADMIN, CHAIR})  # every case they are not excluded from
EDIT = frozenset({ADMIN, CHAIR})  # case records, resolution


@dataclass(frozen=True, slots=True)
class Caller:
    """The holder of a valid API token, as the rules need it."""

    token_id: int
    name: str
    role: str
    responder_ids: frozenset[int] = frozenset()

    @property
    def actor(self) -> str:
        """How the log names this caller: the token's name and role."""
        return f"{self.name} ({self.role})"[:200]


def may_see_case(caller: Caller, excluded: Collection[int], involved: Collection[int]) -> bool:
    """`excluded`: responder ids excluded from the case. `involved`: responder ids paged for
    it (a page not cancelled before it was sent), or who acknowledged or resolved it.

    Exclusion wins over every role; chair and admin read every other case; a responder
    reads the cases they were involved in.
    """
    if caller.responder_ids & set(excluded):
        return False
    if caller.role in READ_ALL:
        return True
    return bool(caller.responder_ids & set(involved))


def may_see_caseless_events(caller: Caller) -> bool:
    """Events about no case (e.g. a token minted) are the organizers' business."""
    return caller.role in READ_ALL


def may_edit(caller: Caller) -> bool:
    return caller.role in EDIT


def may_add_note(caller: Caller) -> bool:
    """Anyone who may see a case may add a note to it."""
    return caller.role in ROLES


def sees_reporter_identity(caller: Caller, reporter_anonymous: bool) -> bool:
    """An anonymous reporter's name and contact stay with the chair and admins."""
    return caller.role in READ_ALL or not reporter_anonymous


def mask_phone(phone: str) -> str:
    """The most of a reporter's number the API shows: its last four digits."""
    digits = [c for c in phone if c.isdigit()]
    return "•••• " + "".join(digits[-4:]) if len(digits) >= 4 else "••••"
