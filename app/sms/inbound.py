"""What an inbound text means: a reporter's report, or a responder's command.

Both run inside the webhook's transaction and return the text to answer with.
"""

from __future__ import annotations

from datetime import datetime
from itertools import compress

from sqlalchemy.orm import Session

from app import wording
from app.cases import reporter
from app.cases.models import Case
from app.cases.report import is_emergency
from app.casework import commands, intake, new_report
from app.casework.new_report import NewReport
from app.paging import escalation
from app.paging.reachability import mark_reachable, mark_unreachable
from app.roster.cache import HotlineRow
from app.roster.models import Hotline, Responder
from app.sms import grammar


def reports_received(session: Session, reports: list[NewReport]) -> list[str | None]:
    """Reporters' first texts that open cases together (app.casework.new_report): per
    report, the answer, or None where `from_reporter` must see the text (nothing written)."""
    usual = [
        not isinstance(grammar.parse_command(report.body), grammar.CarrierKeyword)
        for report in reports
    ]
    opened = iter(new_report.open_reports(session, list(compress(reports, usual))))
    answers: list[str | None] = []
    for report, is_usual in zip(reports, usual, strict=True):
        case_id = next(opened) if is_usual else None
        answers.append(None if case_id is None else _received(report.hotline, case_id))
    return answers


def _received(hotline: Hotline | HotlineRow, case_id: int) -> str:
    return wording.report_received(hotline.name, case_id, hotline.safety_info)


def from_reporter(
    session: Session, hotline: Hotline, phone: str, body: str, now: datetime, *, new_limit: int
) -> str | None:
    """Open a case or add to the sender's open one; None means answer nothing."""
    keyword = grammar.parse_command(body)
    if not isinstance(keyword, grammar.CarrierKeyword):
        opened = new_report.open_report(session, hotline, phone, body, now)
        if opened is not None:  # the usual first text, in a few statements
            return _received(hotline, opened)
    case = intake.find_open_case(session, hotline.id, phone)
    if isinstance(keyword, grammar.CarrierKeyword):
        # STOP, START and friends belong to the carrier, which answers them: never a new
        # report, never answered by us; on an open case they are kept as the reporter's words.
        if case is not None:
            intake.append_report(session, case, body, now)
        # Twilio now blocks (or unblocks) every text from this number to them.
        if keyword.opts_out:
            reporter.opted_out(session, hotline.id, phone, now)
        else:
            reporter.opted_in(session, hotline.id, phone, now, word=keyword.word)
        return None
    if case is None:
        case = intake.case_to_join(session, hotline.id, phone, now, new_limit)
    if not hotline.active:
        return _to_retired_hotline(session, hotline, case, phone, body, now)
    if case is None:
        case = intake.open_case(
            session, hotline, reporter_phone=phone, channel="sms", body=body, now=now
        )
        answer = wording.report_received(hotline.name, case.id, hotline.safety_info)
    else:
        intake.append_report(session, case, body, now)
        answer = wording.report_appended(case.id, hotline.safety_info)
    if is_emergency(body):
        answer = wording.emergency_answer(answer, hotline.emergency_info)
    return answer


def _to_retired_hotline(
    session: Session, hotline: Hotline, case: Case | None, phone: str, body: str, now: datetime
) -> str:
    """A hotline the roster no longer has is never silent: a report opens a case that pages
    its alternates, and the answer carries its emergency information."""
    if case is None:
        case = intake.open_case(
            session,
            hotline,
            reporter_phone=phone,
            channel="sms",
            body=body,
            now=now,
            policy=escalation.retired_policy(hotline.policy),
        )
        return wording.retired_report_received(hotline.name, case.id, hotline.emergency_info)
    intake.append_report(session, case, body, now)
    return wording.retired_report_appended(case.id, hotline.emergency_info)


def from_responder(
    session: Session,
    hotline: Hotline,
    responder: Responder,
    body: str,
    now: datetime,
    *,
    new_limit: int,
) -> str | None:
    """Carry out one command; None means answer nothing."""
    command = grammar.parse_command(body)
    match command:
        case grammar.CarrierKeyword(opts_out=False):
            # START (or YES, UNSTOP) lifts the carrier's block: texts reach them again.
            mark_reachable(session, responder, now, why=f"they texted {command.word}")
            return None
        case grammar.CarrierKeyword():
            # STOP: Twilio refuses every text to them from now on (21610); notices stop and
            # pages go by call until they text START.
            mark_unreachable(
                session, responder.id, f"they texted {command.word}", now, case_id=None
            )
            return None
        case grammar.Invalid(reason=reason):
            return wording.invalid(reason)
        case grammar.Help():
            return grammar.HELP_TEXT
        case grammar.Status():
            return wording.status_list(commands.open_cases_of(session, hotline, responder))
        case grammar.New(text=text):
            joined = intake.case_to_join(session, hotline.id, responder.phone, now, new_limit)
            if joined is not None:
                intake.add_text(session, joined, text, now, actor=responder.name)
                return wording.report_appended(joined.id, hotline.safety_info)
            case = intake.open_case(
                session,
                hotline,
                reporter_phone=responder.phone,
                channel="sms",
                body=text,
                now=now,
                actor=responder.name,
            )
            return wording.report_received(hotline.name, case.id, hotline.safety_info)
        case grammar.Ack(case=None):
            pending = commands.pending_for(session, hotline, responder)
            if len(pending) != 1:
                return wording.which_pending(pending) if pending else wording.nothing_pending()
            return _about_case(session, hotline, responder, grammar.Ack(pending[0]), now)
        case grammar.Ack() | grammar.Recuse() | grammar.Resolve() | grammar.Reply():
            return _about_case(session, hotline, responder, command, now)
    return grammar.HELP_TEXT


def _about_case(
    session: Session,
    hotline: Hotline,
    responder: Responder,
    command: grammar.Ack | grammar.Recuse | grammar.Resolve | grammar.Reply,
    now: datetime,
) -> str:
    assert command.case is not None
    case = commands.visible_case(session, hotline, responder, command.case)
    if case is None:
        return wording.no_such_case(command.case)
    match command:
        case grammar.Ack():
            return commands.acknowledge(session, case, responder, now, via="sms")
        case grammar.Recuse():
            return commands.recuse(session, case, responder, now)
        case grammar.Resolve():
            return commands.resolve(session, case, responder, now)
        case grammar.Reply(text=text):
            return commands.relay(session, case, responder, text, now)
