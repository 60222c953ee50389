"""/console: the chair's pages, server-rendered.

Thin, like the API's views: who is signed in comes from the session cookie and becomes the
same `Caller` an API token does (app.auth.deps.caller_of); what a page shows comes from the
API's queries (app.casework.queries, app.casework.events), and every write calls the API's own
functions (app.casework.record) in a transaction of the same shape, so the log and the rules
are one. Forms are checked against the API's schemas.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.api import MAX_ID, StorableText, decode_cursor
from app.auth.access import ADMIN, READ_ALL, Caller, may_add_note, may_edit
from app.auth.deps import caller_of
from app.cases.models import Case
from app.cases.schemas import NoteIn, Outcome, RecordPatch, ResolveIn
from app.casework import events as audit_queries
from app.casework import queries
from app.casework import record as writes
from app.console import overview, sessions, words
from app.db import transaction
from app.drills import service as drill_service
from app.drills.models import Drill
from app.paging import oncall
from app.roster.models import Hotline
from app.services import Services, ServicesDep
from app.web.drills import DrillIn

PREFIX = "/console"
COOKIE = "hotline_console"
SIGN_IN_COOKIE = "hotline_console_sign_in"  # ties the sign-in form to this browser
REFRESH_HEADER = "X-Console-Refresh"  # sent by the page refreshing itself: not activity
REFRESH_SECONDS = 5
HERE = files("app.console")
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["local"] = overview.local
templates.env.filters["iso"] = overview.iso
templates.env.filters["outcome"] = words.outcome
templates.env.filters["reason"] = words.exclusion_reason
templates.env.filters["words"] = words.words
templates.env.filters["kind"] = lambda kind: words.MESSAGE_KINDS.get(kind, words.words(kind))

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SECURITY_HEADERS = {
    # Nothing but this service's own files: no inline script, no frame, no CDN.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # case pages are nobody's browser cache's business
}
RECORD_LABELS = {
    "incident_at": "When it happened (the hotline's local time)",
    "location": "Where",
    "description": "What happened",
    "reported_person": "Reported person (name, appearance, clothing, badge)",
    "circumstances": "Circumstances",
    "reporter_name": "Reporter's name",
    "reporter_contact": "Reporter's contact",
    "reporter_anonymous": "The reporter asked to stay anonymous",
    "witnesses": "Witnesses and others involved",
    "suggested_responses": "Responses the reporter suggested",
}
SEARCH_QUERY: TypeAdapter[str] = TypeAdapter(StorableText)


class ConsoleError(Exception):
    """A page that says what went wrong, with its HTTP status."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class SignInNeeded(Exception):
    def __init__(self, next_path: str, expired: bool) -> None:
        super().__init__(next_path)
        self.next_path, self.expired = next_path, expired


@dataclass(frozen=True, slots=True)
class SignedIn:
    caller: Caller
    cookie: str

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.cookie)


def _idle(svc: Services) -> timedelta:
    return timedelta(minutes=svc.settings.console_idle_minutes)


def _secure(svc: Services) -> bool:
    """Secure cookies whenever the service is reached over HTTPS (its public URL)."""
    return svc.settings.public_url.startswith("https://")


def signed_in(request: Request, svc: ServicesDep) -> SignedIn:
    """The caller behind the session cookie; otherwise off to the sign-in page."""
    cookie = request.cookies.get(COOKIE)
    if cookie:
        activity = request.headers.get(REFRESH_HEADER) != "1"
        with svc.sessions() as session:
            token = sessions.token_of(session, cookie, svc.clock(), _idle(svc), activity=activity)
            caller = caller_of(session, token) if token is not None else None
            session.commit()
        if caller is not None:
            return SignedIn(caller, cookie)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise SignInNeeded(path, expired=bool(cookie))


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    svc: Services = request.app.state.services
    response = templates.TemplateResponse(
        request,
        name,
        {"nav": _nav(context.get("signed")), "now": svc.clock(), **context},
        status_code=status,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(path: str) -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


def _nav(signed: SignedIn | None) -> list[tuple[str, str]]:
    """The console's pages this person may open (the drill table is the organizers')."""
    links = [("Open cases", f"{PREFIX}/cases"), ("Search", f"{PREFIX}/search")]
    links.append(("On call", f"{PREFIX}/oncall"))
    if signed is not None and may_read_drills(signed.caller):
        links.append(("Drills", f"{PREFIX}/drills"))
    links.append(("Audit log", f"{PREFIX}/audit"))
    return links


async def posted_form(request: Request) -> FormData:
    """The posted form, read here so the handlers themselves can be plain functions (run
    in the thread pool, like the API's, never blocking the event loop on the database)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def checked(form: FormData, signed: SignedIn) -> FormData:
    """The form, refused unless it carries this session's CSRF token."""
    if not sessions.csrf_ok(signed.cookie, form.get("csrf")):
        raise ConsoleError(
            403,
            "Form refused",
            "This form did not come from your console session (its security token is missing "
            "or old). Go back, reload the page and send it again.",
        )
    return form


def _case_number(n: str) -> int:
    """Anything but a case number in the path is simply no such case."""
    if not (n.isascii() and n.isdigit()) or not 1 <= int(n) <= MAX_ID:
        raise _not_found()
    return int(n)


def _not_found() -> ConsoleError:
    # The same page for a case that does not exist and one the caller may not see.
    return ConsoleError(404, "No such case", "There is no such case.")


def _visible(session: Session, caller: Caller, n: str, *, lock: bool = False) -> Case:
    case = queries.visible_case(session, caller, _case_number(n), lock=lock)
    if case is None:
        raise _not_found()
    return case


# --- signing in and out -----------------------------------------------------------------


@router.get("")
def home(request: Request) -> RedirectResponse:
    return redirect(f"{PREFIX}/cases")


@router.get("/sign-in")
def sign_in_page(
    request: Request, svc: ServicesDep, next: str = "", expired: bool = False
) -> HTMLResponse:
    return _sign_in_form(request, svc, next, message="Your session ended." if expired else None)


def _sign_in_form(
    request: Request, svc: Services, next_path: str, message: str | None, status: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        {
            "title": "Sign in",
            "csrf": nonce,
            "next": _safe_next(next_path),
            "message": message,
            "idle": overview.idle_minutes(_idle(svc)),
        },
        status,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        nonce,
        path=PREFIX,
        httponly=True,
        secure=_secure(svc),
        samesite="strict",
        max_age=3600,
    )
    return response


def _safe_next(path: str) -> str:
    """Only a console page of this site: never an open redirect."""
    if path.startswith(f"{PREFIX}/") and not path.startswith("//") and "\\" not in path:
        return path
    return f"{PREFIX}/cases"


@router.post("/sign-in")
def sign_in(request: Request, svc: ServicesDep, form: FormDep) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    sent = form.get("csrf")
    next_path = str(form.get("next") or "")
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(expected, sent):
        raise ConsoleError(
            403,
            "Form refused",
            "This sign-in form did not come from this browser's console page (its security "
            "token is missing or old). Open the sign-in page again and sign in.",
        )
    token = str(form.get("token") or "").strip()
    cookie = sessions.sign_in(svc.sessions, token, svc.clock()) if token else None
    if cookie is None:
        return _sign_in_form(
            request, svc, next_path, "That token is unknown or has been revoked.", 401
        )
    response = redirect(_safe_next(next_path))
    response.set_cookie(
        COOKIE, cookie, path=PREFIX, httponly=True, secure=_secure(svc), samesite="strict"
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
    return response


@router.post("/sign-out")
def sign_out(svc: ServicesDep, signed: SignedInDep, form: FormDep) -> Response:
    checked(form, signed)
    sessions.sign_out(svc.sessions, signed.cookie, svc.clock())
    response = redirect(f"{PREFIX}/sign-in?signed_out=1")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# --- open cases -------------------------------------------------------------------------


@router.get("/cases")
def open_cases(request: Request, svc: ServicesDep, signed: SignedInDep) -> HTMLResponse:
    with svc.sessions() as session:
        rows = overview.open_cases(session, signed.caller, svc.clock())
    return render(
        request,
        "cases.html",
        {"title": "Open cases", "signed": signed, "rows": rows, "every": REFRESH_SECONDS},
    )


@router.get("/cases/rows")
def open_case_rows(request: Request, svc: ServicesDep, signed: SignedInDep) -> HTMLResponse:
    """The open-cases table alone, which the page fetches every few seconds."""
    with svc.sessions() as session:
        rows = overview.open_cases(session, signed.caller, svc.clock())
    return render(request, "case_rows.html", {"rows": rows, "signed": signed})


# --- one case ---------------------------------------------------------------------------


@router.get("/cases/{n}")
def case_page(
    request: Request, n: str, svc: ServicesDep, signed: SignedInDep, done: str = ""
) -> HTMLResponse:
    return _case_page(request, svc, signed, n, done=done)


def _case_page(
    request: Request,
    svc: Services,
    signed: SignedIn,
    n: str,
    *,
    done: str = "",
    errors: dict[str, list[str]] | None = None,
    sent: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    with svc.sessions() as session:
        case = _visible(session, signed.caller, n)
        detail = queries.case_detail(session, signed.caller, case)
        events = audit_queries.case_events(session, case.id)
        verdict = audit_queries.verify_case(session, case.id)
        zone = case.hotline.timezone
    record = detail.record
    values = {
        name: getattr(record, name) or ""
        for name in RECORD_LABELS
        if name not in ("incident_at", "reporter_anonymous")
    }
    values["incident_at"] = overview.form_time(record.incident_at, zone)
    timeline = [(e, words.describe(e.type, e.actor, e.detail)) for e in events]
    return render(
        request,
        "case.html",
        {
            "title": f"Case {detail.number}",
            "signed": signed,
            "case": detail,
            "zone": zone,
            "timeline": timeline,
            "verdict": verdict,
            "values": values,
            "labels": RECORD_LABELS,
            "may_edit": may_edit(signed.caller),
            "may_note": may_add_note(signed.caller),
            "outcomes": [(o.value, words.outcome(o.value)) for o in Outcome],
            "done": done,
            "errors": errors or {},
            "sent": sent or {},
        },
        status,
    )


def _field_errors(error: ValidationError) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "form"
        found.setdefault(name, []).append(item["msg"])
    return found


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    return text or None


@router.post("/cases/{n}/record")
def edit_record(
    request: Request, n: str, svc: ServicesDep, signed: SignedInDep, form: FormDep
) -> Response:
    checked(form, signed)
    _require_editor(signed)
    # Only what this person changed on the form: a field someone else changed meanwhile is
    # not overwritten with the old value this page was showing.
    changed: dict[str, Any] = {}
    for name in RECORD_LABELS:
        if name == "reporter_anonymous":
            now_value: Any = form.get(name) == "on"
            before: Any = form.get(f"was_{name}") == "on"
        else:
            now_value, before = _text(form, name), _text(form, f"was_{name}")
        if now_value != before:
            changed[name] = now_value
    try:
        patch = RecordPatch.model_validate(changed)
    except ValidationError as error:
        sent = {k: str(form.get(k) or "") for k in RECORD_LABELS}
        return _case_page(
            request, svc, signed, n, errors=_field_errors(error), sent=sent, status=422
        )
    with transaction(svc.sessions) as session:
        case = _visible(session, signed.caller, n, lock=True)
        writes.update_record(
            session, case, patch.model_dump(exclude_unset=True), signed.caller, svc.clock()
        )
    return redirect(f"{PREFIX}/cases/{n}?done=record#record")


@router.post("/cases/{n}/notes")
def add_note(
    request: Request, n: str, svc: ServicesDep, signed: SignedInDep, form: FormDep
) -> Response:
    checked(form, signed)
    try:
        note = NoteIn.model_validate({"body": form.get("body") or ""})
    except ValidationError as error:
        return _case_page(
            request,
            svc,
            signed,
            n,
            errors={"note": [m for ms in _field_errors(error).values() for m in ms]},
            sent={"note": str(form.get("body") or "")},
            status=422,
        )
    with transaction(svc.sessions) as session:
        case = _visible(session, signed.caller, n, lock=True)
        writes.add_note(session, case, note.body, signed.caller, svc.clock())
    return redirect(f"{PREFIX}/cases/{n}?done=note#notes")


@router.post("/cases/{n}/resolve")
def resolve(
    request: Request, n: str, svc: ServicesDep, signed: SignedInDep, form: FormDep
) -> Response:
    checked(form, signed)
    _require_editor(signed)
    fields = {
        "outcome": form.get("outcome") or None,
        "follow_up_assignee": _text(form, "follow_up_assignee"),
        "note": _text(form, "resolve_note"),
    }
    try:
        body = ResolveIn.model_validate(fields)
    except ValidationError as error:
        sent = {k: str(v or "") for k, v in fields.items()}
        return _case_page(
            request,
            svc,
            signed,
            n,
            errors={"resolve": [m for ms in _field_errors(error).values() for m in ms]},
            sent=sent,
            status=422,
        )
    with transaction(svc.sessions) as session:
        case = _visible(session, signed.caller, n, lock=True)
        try:
            writes.resolve(
                session,
                case,
                outcome=body.outcome,
                follow_up_assignee=body.follow_up_assignee,
                note=body.note,
                caller=signed.caller,
                now=svc.clock(),
            )
        except writes.AlreadyResolved:
            raise ConsoleError(
                409, "Already resolved", f"Case {n} was already resolved; nothing changed."
            ) from None
    return redirect(f"{PREFIX}/cases/{n}?done=resolved")


def _require_editor(signed: SignedIn) -> None:
    if not may_edit(signed.caller):
        raise ConsoleError(
            403, "Not allowed", f"A {signed.caller.role} token may not change case records."
        )


# --- search and the audit log -----------------------------------------------------------


@router.get("/search")
def search(
    request: Request,
    svc: ServicesDep,
    signed: SignedInDep,
    q: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
    cursor: str = "",
) -> HTMLResponse:
    """Past incidents by text (messages, description, reported person), state and date."""
    problems: list[str] = []
    text = q.strip() or None
    if text is not None:
        try:
            text = SEARCH_QUERY.validate_python(text)
        except ValidationError:
            problems.append("The search text has characters that cannot be searched for.")
        if len(text or "") > 200:
            problems.append("Search for at most 200 characters.")
    if status not in ("", "open", "acknowledged", "resolved"):
        problems.append("Pick a state from the list.")
    start, end = _day(since, problems, "From"), _day(until, problems, "Until")
    if end is not None:
        end += timedelta(days=1)  # "until" a day includes that day
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor)
        except HTTPException:
            problems.append("That page link is not valid; search again.")
    page = None
    zones: dict[str, str] = {}
    if not problems:
        with svc.sessions() as session:
            page = queries.list_cases(
                session,
                signed.caller,
                status=status or None,
                hotline=None,
                since=start,
                until=end,
                q=text,
                after=after,
                limit=50,
            )
            zones = overview.hotline_zones(session)
    more = None
    if page is not None and page.next_cursor:
        more = (
            f"{PREFIX}/search?q={quote(q)}&status={quote(status)}&since={quote(since)}"
            f"&until={quote(until)}&cursor={quote(page.next_cursor)}"
        )
    return render(
        request,
        "search.html",
        {
            "title": "Search cases",
            "signed": signed,
            "q": q,
            "status": status,
            "since": since,
            "until": until,
            "problems": problems,
            "page": page,
            "zones": zones,
            "more": more,
            "searched": bool(q or status or since or until),
        },
        400 if problems else 200,
    )


def _day(value: str, problems: list[str], label: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        problems.append(f"{label}: give a date as YYYY-MM-DD.")
        return None


@router.get("/audit")
def audit(request: Request, svc: ServicesDep, signed: SignedInDep) -> HTMLResponse:
    """Every chain of the log this caller may see, checked now."""
    with svc.sessions() as session:
        verdicts = audit_queries.verify_all(
            session, where=audit_queries.visible_events(signed.caller)
        )
        chains = []
        for case_id, verdict in verdicts:
            number = None
            if case_id is not None:
                case = session.get(Case, case_id)
                number = getattr(case, "number", case_id)
            chains.append((number, verdict))
    broken = [(number, v) for number, v in chains if v.broken is not None]
    return render(
        request,
        "audit.html",
        {
            "title": "Audit log",
            "signed": signed,
            "chains": len(chains),
            "events": sum(v.events for _, v in chains),
            "broken": broken,
        },
    )


# --- on call and drills (the functions /api/oncall and /api/drills/{id} use) -------------

LATEST_DRILLS = 10


def may_read_drills(caller: Caller) -> bool:
    """GET /api/drills/{id}'s rule: the drill table is for the chair and admins."""
    return caller.role in READ_ALL


@router.get("/oncall")
def on_call(request: Request, svc: ServicesDep, signed: SignedInDep) -> HTMLResponse:
    """Whom a report made now would page, tier by tier, and who is on call next, per
    hotline: app.paging.oncall, as /api/oncall asks it (any API role may read it)."""
    now = svc.clock()
    with svc.sessions() as session:
        entries = [oncall.on_call(session, h, now) for h in oncall.hotlines_for(session, None)]
    return render(
        request, "oncall.html", {"title": "On call", "signed": signed, "entries": entries}
    )


def may_start_drills(caller: Caller) -> bool:
    """POST /api/drills's rule: only an admin starts a drill."""
    return caller.role == ADMIN


@router.get("/drills")
def drills(request: Request, svc: ServicesDep, signed: SignedInDep, done: str = "") -> HTMLResponse:
    return _drills_page(request, svc, signed, done=done)


def _drills_page(
    request: Request,
    svc: Services,
    signed: SignedIn,
    *,
    done: str = "",
    errors: list[str] | None = None,
    sent: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The latest drills and verification texts, each with its table as GET /api/drills/{id}
    gives it, to the same roles; for an admin, the form that starts one."""
    if not may_read_drills(signed.caller):
        raise ConsoleError(403, "Not allowed", f"A {signed.caller.role} token may not read drills.")
    now = svc.clock()
    with svc.sessions() as session:
        rows = session.execute(
            select(Drill, Hotline)
            .join(Hotline, Hotline.id == Drill.hotline_id)
            .order_by(Drill.started_at.desc(), Drill.id.desc())
            .limit(LATEST_DRILLS)
        ).all()
        tables = [(d, h, drill_service.table(session, d, now)) for d, h in rows]
        hotlines = [(h.number, h.name) for h in oncall.hotlines_for(session, None)]
    return render(
        request,
        "drills.html",
        {
            "title": "Drills",
            "signed": signed,
            "tables": tables,
            "may_start": may_start_drills(signed.caller),
            "hotlines": hotlines,
            "default_minutes": f"{drill_service.DEFAULT_MINUTES:g}",
            "done": done,
            "errors": errors or [],
            "sent": sent or {},
        },
        status,
    )


@router.post("/drills")
def start_drill(request: Request, svc: ServicesDep, signed: SignedInDep, form: FormDep) -> Response:
    """POST /api/drills from a form: the same schema, rule and service function."""
    checked(form, signed)
    if not may_start_drills(signed.caller):
        raise ConsoleError(
            403, "Not allowed", f"A {signed.caller.role} token may not start a drill."
        )
    sent = {k: str(form.get(k) or "") for k in ("hotline", "minutes")}
    try:
        body = DrillIn.model_validate(
            {
                "hotline": sent["hotline"] or None,
                "voice": form.get("voice") == "on",
                "minutes": sent["minutes"] or drill_service.DEFAULT_MINUTES,
            }
        )
    except ValidationError as error:
        problems = [f"{k}: {m}" for k, ms in _field_errors(error).items() for m in ms]
        return _drills_page(request, svc, signed, errors=problems, sent=sent, status=422)
    now = svc.clock()
    try:
        with transaction(svc.sessions) as session:
            hotline = drill_service.hotline_for(session, body.hotline)
            drill = drill_service.start_drill(
                session,
                hotline,
                voice=body.voice,
                minutes=body.minutes,
                now=now,
                by=signed.caller.actor,
            )
            number = drill.id
    except drill_service.DrillError as error:
        return _drills_page(request, svc, signed, errors=[str(error)], sent=sent, status=400)
    return redirect(f"{PREFIX}/drills?done=started#drill-{number}")


# --- installing it ----------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """The routes, the static files and the two error pages, on the app."""
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(HERE / "static")), name="console")

    async def console_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleError)
        signed = None
        with contextlib.suppress(SignInNeeded):
            signed = await run_in_threadpool(signed_in, request, request.app.state.services)
        return render(
            request,
            "error.html",
            {"title": exc.title, "message": exc.message, "signed": signed},
            exc.status,
        )

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        target = f"{PREFIX}/sign-in?next={quote(exc.next_path)}"
        if exc.expired:
            target += "&expired=1"
        response = redirect(target)
        if exc.expired:
            response.delete_cookie(COOKIE, path=PREFIX)
        return response

    app.add_exception_handler(ConsoleError, console_error)
    app.add_exception_handler(SignInNeeded, sign_in_needed)
