"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.audit.models import Event
from app.auth.models import ApiToken
from app.cases.models import Case, CaseNote, CaseRecord, Exclusion, Message, Recording
from app.console.models import ConsoleSession
from app.db import Base
from app.drills.models import Drill, DrillCheck
from app.paging.models import Outbound
from app.roster.models import Hotline, Responder, Shift
from app.telephony.models import EarlyStatus, WebhookReceipt

__all__ = [
    "ApiToken",
    "Base",
    "Case",
    "CaseNote",
    "CaseRecord",
    "ConsoleSession",
    "Drill",
    "DrillCheck",
    "EarlyStatus",
    "Event",
    "Exclusion",
    "Hotline",
    "Message",
    "Outbound",
    "Recording",
    "Responder",
    "Shift",
    "WebhookReceipt",
]
