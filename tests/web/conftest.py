"""The API on a real hotline: tokens minted as `hotline token create` does, calls over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.auth.tokens import create_token
from tests.harness import Hotline


class Api:
    def __init__(self, hl: Hotline) -> None:
        self.hl = hl

    def token(self, role: str, responder: str | None = None, name: str | None = None) -> str:
        return create_token(
            self.hl.services.sessions,
            role=role,
            responder=responder,
            name=name,
            now=self.hl.clock(),
        )

    def call(self, method: str, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers |= kw.pop("headers", {})
        return self.hl.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, token: str | None, **params: Any) -> httpx.Response:
        return self.call("GET", path, token, params=params)

    def ok(self, path: str, token: str, **params: Any) -> Any:
        response = self.get(path, token, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def patch(self, path: str, token: str, body: Any) -> httpx.Response:
        return self.call("PATCH", path, token, json=body)

    def post(self, path: str, token: str, body: Any) -> httpx.Response:
        return self.call("POST", path, token, json=body)


@pytest.fixture
def api(hl: Hotline) -> Iterator[Api]:
    yield Api(hl)
