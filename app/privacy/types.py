"""Column types that keep what a report says encrypted in the database (and its backups).

The rest of the code reads and writes plain `str` (or a dict): the value is encrypted on its
way in and decrypted on its way out with the process's keyring (app.privacy.keys). Fernet
tokens differ for equal plaintexts, so SQL can never compare or search these columns: look-ups
by a reporter's number use `Case.reporter_hash`, and the API's text search decrypts and filters
in Python (docs/adr/0007-keys-encryption-and-retention.md).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from app.privacy import keys


class EncryptedText(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else keys.active().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else keys.active().decrypt(value)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return keys.active().encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def process_result_value(self, value: str | None, dialect: Any) -> dict[str, Any] | None:
        return None if value is None else json.loads(keys.active().decrypt(value))
