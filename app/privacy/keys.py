"""The secrets kept outside the database, and the one keyring a process uses.

- HOTLINE_DATA_KEY: Fernet key(s), newest first, comma-separated. The newest encrypts; any of
  them decrypts (so a rotation can run while old rows still exist). A key derived from the
  newest one makes the keyed hash of a reporter's number that look-ups use.
- HOTLINE_AUDIT_KEY: the secret of the event log's keyed hash chain (HMAC-SHA256). Someone
  who can write the database but not read this key cannot re-hash a chain after an edit.
- HOTLINE_KEY_FILE: a file holding both as KEY=value lines (a Docker secret, a mounted file);
  the environment wins over it.

`hotline serve` and `hotline worker` call `ensure()`: with no key configured and no encrypted
data in the database, keys are made once and appended to ./.env (or HOTLINE_KEY_FILE), mode
0600, like the demo's auth token; with encrypted data and no key, the process refuses to start.
The encrypted column types read the keyring through `active()`, because a SQLAlchemy type
sees no session or settings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from app.privacy.files import locked_secret_file, read_assignments
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)

DATA_KEY = "HOTLINE_DATA_KEY"
AUDIT_KEY = "HOTLINE_AUDIT_KEY"
DOTENV = Path(".env")
# Every Fernet token starts with its version byte 0x80, which base64 spells "gAAAAA".
TOKEN_PREFIX = "gAAAAA"


class KeysError(Exception):
    """A key is missing, malformed, or does not open this database's data."""


@dataclass(frozen=True)
class Keyring:
    data_keys: tuple[str, ...]  # newest first
    audit_key: str
    source: Path | None = field(default=None, compare=False)  # the file they came from, if any

    @cached_property
    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k.encode()) for k in self.data_keys])

    @cached_property
    def _lookup_key(self) -> bytes:
        raw = base64.urlsafe_b64decode(self.data_keys[0].encode())
        return hmac.new(raw, b"hotline reporter lookup", hashlib.sha256).digest()

    @cached_property
    def chain_key(self) -> bytes:
        return self.audit_key.encode()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The plaintext of a stored value. A value that is no token (written before
        encryption, or by a migration of another branch) is returned as it is, and
        `hotline keys rotate` encrypts it."""
        if not stored.startswith(TOKEN_PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode()
        except InvalidToken:
            raise KeysError(
                f"{DATA_KEY} does not decrypt this database's data: set the key it was "
                "encrypted with (keys are tried newest first, comma-separated)"
            ) from None

    def reencrypt(self, stored: str) -> str:
        """The same plaintext under the newest key (plaintext is encrypted)."""
        return self.encrypt(self.decrypt(stored))

    def lookup(self, phone: str) -> str:
        """The keyed hash of a reporter's number: equal numbers, equal hashes, and nothing
        to guess a number from without the key (a plain hash of a phone number is not)."""
        return hmac.new(self._lookup_key, phone.encode(), hashlib.sha256).hexdigest()


def generate_data_key() -> str:
    return Fernet.generate_key().decode("ascii")


def generate_audit_key() -> str:
    return secrets.token_urlsafe(32)


def from_settings(settings: Settings) -> Keyring | None:
    """The configured keys, or None when none is configured at all."""
    source = Path(settings.key_file) if settings.key_file else None
    stored = read_assignments(source) if source else {}
    data = settings.data_key or stored.get(DATA_KEY)
    audit = settings.audit_key or stored.get(AUDIT_KEY)
    if not data and not audit:
        return None
    if not data or not audit:
        missing = DATA_KEY if not data else AUDIT_KEY
        raise KeysError(f"{missing} is not set (set both {DATA_KEY} and {AUDIT_KEY})")
    return _keyring(data, audit, source if source and not settings.data_key else None)


def _keyring(data: str, audit: str, source: Path | None) -> Keyring:
    keys = tuple(k.strip() for k in data.split(",") if k.strip())
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError:
            raise KeysError(
                f"{DATA_KEY} must be Fernet keys (32 url-safe base64-encoded bytes), "
                "comma-separated; make one with `hotline keys generate`"
            ) from None
    if len(audit) < 16:
        raise KeysError(f"{AUDIT_KEY} is too short: use at least 16 random characters")
    return Keyring(keys, audit, source)


_active: Keyring | None = None


def configure(keyring: Keyring | None) -> None:
    global _active
    _active = keyring


def active() -> Keyring:
    """The process's keyring: configured at start, else read from the settings."""
    global _active
    if _active is None:
        keyring = from_settings(get_settings())
        if keyring is None:
            raise KeysError(
                f"no {DATA_KEY}/{AUDIT_KEY} configured: set them (or HOTLINE_KEY_FILE); "
                "`hotline serve` makes them on first start"
            )
        _active = keyring
    return _active


def ensure(settings: Settings) -> Keyring:
    """The keys this process runs with, made on first start when the database holds nothing
    encrypted yet; refused when it does and no key (or the wrong one) is given."""
    keyring = from_settings(settings)
    if keyring is not None and (settings.database_url, keyring) in _checked:
        configure(keyring)  # `hotline serve` checked before building the app: once is enough
        return keyring
    if keyring is None:
        if encrypted_sample(settings.database_url):
            raise KeysError(
                f"this database holds encrypted reports but {DATA_KEY} and {AUDIT_KEY} are not "
                "set: give the keys it was written with (or HOTLINE_KEY_FILE)"
            )
        keyring = _make_keys(Path(settings.key_file) if settings.key_file else DOTENV)
    else:
        sample = encrypted_sample(settings.database_url)
        if sample:
            keyring.decrypt(sample)  # raises KeysError for the wrong key
    configure(keyring)
    _checked.add((settings.database_url, keyring))
    return keyring


_checked: set[tuple[str, Keyring]] = set()


def _make_keys(path: Path) -> Keyring:
    with locked_secret_file(path) as fd:
        stored = read_assignments(path)  # another process may have made them meanwhile
        if stored.get(DATA_KEY) and stored.get(AUDIT_KEY):
            return _keyring(stored[DATA_KEY], stored[AUDIT_KEY], path)
        data, audit = generate_data_key(), generate_audit_key()
        os.write(
            fd,
            (
                "\n# made on first start: they encrypt reports and key the event log. Keep a\n"
                "# copy elsewhere: without them the data in the database cannot be read.\n"
                f"{DATA_KEY}={data}\n{AUDIT_KEY}={audit}\n"
            ).encode(),
        )
        os.fsync(fd)
    log.warning("no %s/%s set: made them in %s (mode 0600)", DATA_KEY, AUDIT_KEY, path.resolve())
    return _keyring(data, audit, path)


# Columns that hold an encrypted value in every database that has any: one found is enough.
_PROBES = (
    'SELECT reporter_phone FROM "case" ORDER BY id DESC LIMIT 1',
    "SELECT body FROM outbound ORDER BY id DESC LIMIT 1",
    "SELECT body FROM message ORDER BY id DESC LIMIT 1",
)


def encrypted_sample(database_url: str) -> str | None:
    """One encrypted value of the database, or None when it holds none (new, not migrated
    yet, or unreachable: then the webhooks are spooled and the check waits for a restart)."""
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        if not path or path == ":memory:" or not Path(path).exists():
            return None  # connecting would create the file
    connect_args = {} if database_url.startswith("sqlite") else {"connect_timeout": 3}
    engine = create_engine(database_url, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            for probe in _PROBES:
                try:
                    value = conn.execute(text(probe)).scalar()
                except SQLAlchemyError:
                    conn.rollback()
                    continue
                if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
                    return value
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return None
