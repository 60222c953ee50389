"""The console through the ASGI app, as a browser without JavaScript would use it: real
sign-in with a token minted as `hotline token create` does, cookies kept, forms posted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.auth.tokens import create_token
from tests.harness import PUBLIC_URL, Hotline

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """One browser: its own cookie jar, on the service's public (https) address."""

    def __init__(self, hl: Hotline) -> None:
        self.hl = hl
        self.client = TestClient(hl.app, base_url=PUBLIC_URL, follow_redirects=False)

    def token(self, role: str, responder: str | None = None, name: str | None = None) -> str:
        return create_token(
            self.hl.services.sessions,
            role=role,
            responder=responder,
            name=name,
            now=self.hl.clock(),
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def page(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (response.status_code, response.text[:500])
        return response.text

    def csrf(self, path: str) -> str:
        found = CSRF.search(self.page(path))
        assert found, f"no form on {path}"
        return found.group(1)

    def sign_in(self, token: str) -> httpx.Response:
        nonce = self.csrf("/console/sign-in")
        return self.client.post("/console/sign-in", data={"csrf": nonce, "token": token})

    def signed_in_as(self, role: str, responder: str | None = None, name: str = "") -> Browser:
        response = self.sign_in(self.token(role, responder, name or f"{role} laptop"))
        assert response.status_code == 303, response.text
        return self

    def post(self, path: str, data: dict[str, str], *, csrf_from: str | None) -> httpx.Response:
        """Post a form; with `csrf_from`, carrying the CSRF token of that page's forms."""
        if csrf_from:
            data = {"csrf": self.csrf(csrf_from), **data}
        return self.client.post(path, data=data)


@pytest.fixture
def browser(hl: Hotline) -> Iterator[Browser]:
    yield Browser(hl)


@pytest.fixture
def other_browser(hl: Hotline) -> Iterator[Browser]:
    yield Browser(hl)
