"""How long a report waited for its first page: observed once that page is sent.

It lives beside the outbox it counts; app.observe runs the observation at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app import metrics
from app.cases.models import Case
from app.observe import after_commit
from app.paging.models import Outbound
from app.paging.outbox import PAGE_KINDS


class SentRow(Protocol):
    """What of an outbound row this needs: an Outbound, or a row read without the ORM."""

    @property
    def id(self) -> int: ...
    @property
    def case_id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...


_SENT_BEFORE = (
    select(Outbound.id)
    .where(
        Outbound.case_id == Case.id,
        Outbound.kind.in_(PAGE_KINDS),
        Outbound.sent_at.is_not(None),
        Outbound.id.not_in(bindparam("ids", expanding=True)),
    )
    .exists()
)
# Built once: compiled once per engine, then served from the statement cache.
_FIRST = select(Case.id, Case.opened_at).where(
    Case.id.in_(bindparam("cases", expanding=True)), ~_SENT_BEFORE
)


def first_pages_sent(session: Session, sent: Sequence[tuple[SentRow, datetime]]) -> None:
    """Observe the time from report to first page for each case whose first page is among
    `sent` (rows just accepted by Twilio, with when), in one statement for the whole batch
    of outcomes recorded together: a round trip per page made the PostgreSQL worker slow.

    Called before the batch's rows are marked sent, and after their cases' chains were
    locked: on PostgreSQL that locked the case rows (app.audit.log), so two workers sending
    a case's pages at once cannot both be first.
    """
    pages = [(row, now) for row, now in sent if row.case_id is not None and row.kind in PAGE_KINDS]
    if not pages:
        return
    with session.no_autoflush:
        opened = {
            case_id: at
            for case_id, at in session.execute(
                _FIRST,
                {"cases": list({row.case_id for row, _ in pages}), "ids": [r.id for r, _ in pages]},
            )
        }
    for row, now in pages:
        at = opened.pop(row.case_id, None)  # the first of a case's pages here, no other
        if at is not None:
            after_commit(session, metrics.FIRST_PAGE.observe, (now - at).total_seconds())
