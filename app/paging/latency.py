"""How long a report waited for its first page: observed once that page is sent.

It lives beside the outbox it counts; app.observe runs the observation at commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import metrics
from app.cases.models import Case
from app.observe import after_commit
from app.paging.models import Outbound
from app.paging.outbox import PAGE_KINDS


def first_page_sent(session: Session, row: Outbound, now: datetime) -> None:
    """Observe the time from report to first page when `row` (just accepted by Twilio) is
    its case's first page sent.

    Called after the page's event is recorded: on PostgreSQL that locked the case row
    (app.audit.log), so two workers sending a case's pages at once cannot both be first.
    """
    case_id = row.case_id
    if case_id is None or row.kind not in PAGE_KINDS:
        return
    sent = session.scalar(
        select(func.count()).where(
            Outbound.case_id == case_id,
            Outbound.kind.in_(PAGE_KINDS),
            Outbound.sent_at.is_not(None),
        )
    )
    if sent == 1:
        opened = session.get_one(Case, case_id).opened_at
        after_commit(session, metrics.FIRST_PAGE.observe, (now - opened).total_seconds())
