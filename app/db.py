"""Engine, sessions and the column types every model shares.

One engine per process, pooled, created once: the webhook is the hot path and must not pay
for connection setup. SQLite runs in WAL mode so readers never block the single writer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
            hide_parameters=True,  # a logged database error never quotes a number or a text
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _serialize_sqlite_transactions(engine)
        return engine
    return create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args=_fail_fast(url),
        hide_parameters=True,
    )


# A webhook must be answered within Twilio's 15 s even when the database is unreachable
# (app.telephony.outage answers from the spool then): reaching PostgreSQL gives up after
# CONNECT_TIMEOUT_SECONDS (per address tried), a connection whose packets go unacknowledged
# is dropped after TCP_USER_TIMEOUT_MS (a pooled connection to a host that vanished would
# otherwise hang in the pre-ping for minutes), and waiting for a pooled connection gives up
# after POOL_TIMEOUT_SECONDS. Values in the URL's query win.
CONNECT_TIMEOUT_SECONDS = 3
TCP_USER_TIMEOUT_MS = 5000
POOL_TIMEOUT_SECONDS = 5.0


def _fail_fast(url: str) -> dict[str, Any]:
    given = make_url(url).query
    args: dict[str, Any] = {}
    if "connect_timeout" not in given:
        args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    if "tcp_user_timeout" not in given:
        args["tcp_user_timeout"] = TCP_USER_TIMEOUT_MS
    return args


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed report survives a power cut
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _serialize_sqlite_transactions(engine: Engine) -> None:
    """SQLite has one writer at a time. Queue this process's transactions on a fair lock
    rather than on SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and
    turned a few concurrent webhooks into second-long waits. Each transaction starts with
    BEGIN IMMEDIATE, so two writers never deadlock on a lock upgrade; the busy timeout
    still covers another process (a separate worker) holding the database."""
    lock = threading.Lock()

    def begin(conn: Connection) -> None:
        lock.acquire()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            lock.release()
            raise
        conn.info["holds_write_lock"] = True

    def end(conn: Connection) -> None:
        if conn.info.pop("holds_write_lock", False):
            lock.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
