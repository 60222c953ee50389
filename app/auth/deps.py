"""The request dependency that turns `Authorization: Bearer <token>` into a Caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.access import CALENDAR, Caller, may_edit
from app.auth.models import ApiToken
from app.auth.tokens import find_token
from app.roster.models import Responder
from app.services import ServicesDep

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token made with `hotline token create`.",
)
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def current_caller(
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """401 for a missing, unknown or revoked token; otherwise who is calling."""
    if credentials is None:
        raise HTTPException(401, "missing bearer token", headers=CHALLENGE)
    with svc.sessions() as session:
        token = find_token(session, credentials.credentials)
        if token is None:
            raise HTTPException(401, "unknown or revoked token", headers=CHALLENGE)
        if token.role == CALENDAR:
            raise HTTPException(403, "a calendar token reads its hotline's shifts.ics only")
        return caller_of(session, token)


def caller_of(session: Session, token: ApiToken) -> Caller:
    """A live token as the access rules see it: with every responder id of its phone (the
    console builds its callers here too, so both see exactly the same)."""
    ids: frozenset[int] = frozenset()
    if token.responder_phone:
        ids = frozenset(
            session.scalars(select(Responder.id).where(Responder.phone == token.responder_phone))
        )
    return Caller(token_id=token.id, name=token.name, role=token.role, responder_ids=ids)


CallerDep = Annotated[Caller, Depends(current_caller)]


def editor(caller: CallerDep) -> Caller:
    """403 for a token whose role may read but not edit case records."""
    if not may_edit(caller):
        raise HTTPException(403, f"a {caller.role} token may not do this")
    return caller


EditorDep = Annotated[Caller, Depends(editor)]
