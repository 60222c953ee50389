"""Engine, sessions and the column types every model shares.

One engine per process, pooled, created once: the webhook is the hot path and must not pay
for connection setup. SQLite runs in WAL mode so readers never block the single writer.
"""

from __future__ import annotations

import asyncio
import contextvars
import fcntl
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
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
    """SQLite has one writer at a time. Queue transactions on a fair lock rather than on
    SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and turned a few
    concurrent webhooks into second-long waits. Each transaction starts with BEGIN
    IMMEDIATE, so two writers never deadlock on a lock upgrade; one that only reads
    (`reading`) starts with a plain BEGIN and waits for nobody (WAL: readers never block).

    The lock is a thread lock within the process and, for a database file, an exclusive
    flock on `<database>.lock` between processes: the embedded worker runs as a process of
    its own (app.embedded). Between processes the lock is taken in turns: a process waits
    for it holding a second flock (`<database>.lock-next`, the turnstile), which the holder
    must take too before it takes the lock again. Without it, a process whose threads
    commit one after another (the worker recording outcomes while its loop claims) handed
    the lock from thread to thread at once and the other process, polling, lost it for up
    to a tenth of a second. The busy timeout still covers a process that does not take the
    lock (an older version, the sqlite3 shell)."""
    lock = threading.Lock()
    database = engine.url.database
    on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
    files: list[int] = []  # the lock and the turnstile, opened on first use

    def cross_process_lock() -> list[int]:
        if on_disk and not files:
            try:
                files.extend(
                    os.open(f"{database}{suffix}", os.O_RDWR | os.O_CREAT, 0o600)
                    for suffix in (".lock", ".lock-next")
                )
            except OSError:
                files.clear()  # a read-only folder: SQLite's busy timeout alone, as before
        return files

    def begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        lock.acquire()
        try:
            held = cross_process_lock()
            if held:
                _take_turn(*held)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                if held:
                    fcntl.flock(held[0], fcntl.LOCK_UN)
                raise
        except BaseException:
            lock.release()
            raise
        conn.info["holds_write_lock"] = True

    def end(conn: Connection, statement: str) -> None:
        """SQLAlchemy calls these listeners before it ends the transaction: end it here,
        and only then let the next writer in. Released before its COMMIT, the lock let the
        next BEGIN IMMEDIATE meet the transaction still committing (a disk flush) and fall
        back on SQLite's busy handler, sleeping for up to 100 ms. The driver's own
        commit or rollback that follows finds no transaction and does nothing."""
        if conn.info.pop("holds_write_lock", False):
            try:
                conn.exec_driver_sql(statement)
            finally:
                if files:
                    fcntl.flock(files[0], fcntl.LOCK_UN)
                lock.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", partial(end, statement="COMMIT"))
    event.listen(engine, "rollback", partial(end, statement="ROLLBACK"))


SQLITE_LOCK_WAIT_SECONDS = 30.0  # as SQLite's busy timeout: then "database is locked"
READ_ONLY = "hotline_read_only"  # an execution option: this transaction only reads


def _take_turn(lock_fd: int, turnstile_fd: int) -> None:
    """Take the lock in turn with the other processes: pass the turnstile first and hold
    it while waiting, so that the holder, back for the lock, waits behind this process."""
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
    _flock(turnstile_fd, deadline)
    try:
        _flock(lock_fd, deadline)
    finally:
        fcntl.flock(turnstile_fd, fcntl.LOCK_UN)


def _flock(fd: int, deadline: float) -> None:
    """Take an exclusive flock, polling in steps of at most 1 ms (a waiter starts within
    1 ms of the holder's COMMIT), and give up as SQLite would after its timeout rather than
    wait forever. Only one waiter a process polls, and one of all processes for the lock."""
    pause = 0.0001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise OperationalError(
                    "BEGIN IMMEDIATE", None, Exception("database is locked")
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.001)


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that only reads, in one transaction: on SQLite it takes no write lock, so
    it neither waits for a writer nor holds one up. Never write through it."""
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        yield session


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


T = TypeVar("T")
Work = Callable[[Session], T]


class General:
    """A batch function's word for a unit it leaves to its general path (`Batched.alone`)."""

    def __repr__(self) -> str:
        return "GENERAL"


GENERAL = General()

#: A kind of batchable unit: runs many queued units' items in the session at once and returns,
#: per item and in order, its unit's result or GENERAL. Whatever it writes, it writes for all
#: of them: it either returns or raises, and raising undoes all of it.
BatchKind = Callable[[Session, list[Any]], list[Any]]


@dataclass(frozen=True, slots=True)
class Batched(Generic[T]):
    """A unit of work that may run together with the queued units of its kind."""

    kind: BatchKind
    item: Any  # what `kind` reads of this unit
    alone: Work[T]  # the general path: the unit run by itself


Unit = Work[T] | Batched[T]
Queued = tuple[Unit[T], "Future[T]"]


class GroupCommit(Generic[T]):
    """A writer that runs concurrent units of work in one transaction and one COMMIT.

    A webhook's transaction is a few milliseconds of statements and then a COMMIT that waits
    for the disk (SQLite, synchronous=FULL) or a round trip and a WAL flush (PostgreSQL).
    Units submitted while a batch runs queue up and go into the next one: each runs inside
    a savepoint of its own, so one that fails is rolled back alone and the others carry on,
    and every caller hears its result only after the COMMIT that made it durable. When the
    batch as a whole fails (its connection broke, the COMMIT failed), nothing of it was
    committed and each unit runs again on its own, in a transaction of its own, so one bad
    unit never takes the others down with it.

    A `Batched` unit names its kind: consecutive queued units of one kind run through the
    kind's function together, in one savepoint (a handful of statements for all of them
    rather than a handful each). The units it returns GENERAL for then run alone, each in a
    savepoint of its own, after it; if it raises, its savepoint is rolled back and every
    unit of it runs alone.

    Units must be safe to run twice (the fallback reruns them): they may only write through
    their session. Writer threads start when units wait and none is free, up to `writers`,
    and end after `idle_seconds` without work, so a process (or a test) that stops using
    them leaves no thread behind. With no writers (`writers=0`) nothing is batched: `run`
    gives each unit a transaction of its own in the caller's thread.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        writers: int = 1,
        max_batch: int = 64,
        idle_seconds: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.writers = writers
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._queue: queue.SimpleQueue[Queued[T]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = 0  # writer threads alive
        self._idle = 0  # of them, waiting for a unit

    def submit(self, work: Unit[T]) -> Future[T]:
        """Queue a unit of work; the future resolves once it is committed (or failed)."""
        done: Future[T] = Future()
        self._put(work, done)
        return done

    async def wait(self, work: Unit[T]) -> T:
        """Submit and await, from an event loop: what `asyncio.wrap_future(submit(work))`
        gives, but the writer hands a batch's results to the loop in one call rather than
        one call (and one wake-up of the loop) per unit."""
        awaited = _Awaited[T](asyncio.get_running_loop())
        self._put(work, awaited)
        return await awaited.waiter

    def _put(self, work: Unit[T], done: Future[T]) -> None:
        # The unit runs in the writer's thread, but sees the submitter's context variables
        # (a replay from the outage spool says so in one). A batch function does not.
        context = contextvars.copy_context()
        if isinstance(work, Batched):
            unit: Unit[T] = Batched(work.kind, work.item, partial(context.run, work.alone))
        else:
            unit = partial(context.run, work)
        with self._lock:
            self._queue.put((unit, done))
            if self._idle == 0 and self._running < self.writers:
                self._running += 1
                threading.Thread(target=self._write, name="commits", daemon=True).start()

    def waiting(self) -> int:
        """How many units wait for a writer (roughly: they come and go meanwhile)."""
        return self._queue.qsize()

    def run(self, work: Unit[T]) -> T:
        """Submit and wait: for callers in threads of their own (sync endpoints, replays).
        Without writers, the unit runs right here in a transaction of its own."""
        if not self.writers:
            with self.sessions() as session, session.begin():
                return _alone(work)(session)
        return self.submit(work).result()

    def _write(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    if self._queue.empty():
                        self._running -= 1
                        return
                continue
            with self._lock:
                self._idle -= 1
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._commit(batch)
            except BaseException as error:  # never leave a caller waiting forever
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
                raise
            finally:
                _hand_over(batch)

    def _commit(self, batch: list[Queued[T]]) -> None:
        outcomes: dict[int, tuple[bool, Any]] = {}  # by position in the batch
        try:
            with self.sessions() as session, session.begin() as outer:
                for run in _runs(batch):
                    alone = run
                    if _kind(run[0][1]) is not None:
                        alone = self._together(session, outer, run, outcomes)
                    for at, unit in alone:
                        outcomes[at] = self._in_savepoint(session, outer, _alone(unit))
        except Exception:
            self._one_by_one(batch)
            return
        for at, (_, done) in enumerate(batch):
            ok, value = outcomes[at]
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)

    def _together(
        self,
        session: Session,
        outer: SessionTransaction,
        run: list[tuple[int, Unit[T]]],
        outcomes: dict[int, tuple[bool, Any]],
    ) -> list[tuple[int, Unit[T]]]:
        """Run units of one kind through its function; returns those left to run alone."""
        units = [unit for _, unit in run if isinstance(unit, Batched)]
        ok, results = self._in_savepoint(
            session, outer, lambda s: units[0].kind(s, [u.item for u in units])
        )
        if not ok:
            return run  # rolled back: each runs alone
        left = []
        for (at, unit), result in zip(run, results, strict=True):
            if result is GENERAL:
                left.append((at, unit))
            else:
                outcomes[at] = (True, result)
        return left

    def _in_savepoint(
        self, session: Session, outer: SessionTransaction, work: Work[Any]
    ) -> tuple[bool, Any]:
        """Run `work` in a savepoint: (True, its result), or (False, its error) when it
        failed and was rolled back alone. Raises when the batch's transaction is lost."""
        # What a unit appends to session.info (events to log after the commit,
        # callbacks) is cut back when its savepoint rolls back.
        marks = {k: len(v) for k, v in session.info.items() if isinstance(v, list)}
        try:
            with session.begin_nested():
                outcome = (True, work(session))
        except Exception as error:  # this unit alone is rolled back
            if not _intact(session, outer) or _connection_lost(error):
                raise
            for key, length in marks.items():
                if isinstance(kept := session.info.get(key), list):
                    del kept[length:]
            outcome = (False, error)
        if not _intact(session, outer):
            raise RuntimeError("a unit of work ended the batch's transaction")
        return outcome

    def _one_by_one(self, batch: list[Queued[T]]) -> None:
        for work, done in batch:
            try:
                with self.sessions() as session, session.begin():
                    result = _alone(work)(session)
            except BaseException as error:
                done.set_exception(error)
            else:
                done.set_result(result)


class _Awaited(Future[T]):
    """A unit's future that a coroutine on `loop` awaits through `waiter`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.waiter: asyncio.Future[T] = loop.create_future()


def _hand_over(batch: list[Queued[Any]]) -> None:
    """Pass the batch's resolved futures to the loops that await them, one call per loop."""
    awaited: dict[asyncio.AbstractEventLoop, list[_Awaited[Any]]] = defaultdict(list)
    for _, done in batch:
        if isinstance(done, _Awaited):
            awaited[done.loop].append(done)
    for loop, dones in awaited.items():
        with suppress(RuntimeError):  # the loop was closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(_settle, dones)


def _settle(dones: list[_Awaited[Any]]) -> None:
    for done in dones:
        if done.waiter.cancelled():
            continue
        error = done.exception()
        if error is None:
            done.waiter.set_result(done.result())
        else:
            done.waiter.set_exception(error)


def _alone(unit: Unit[T]) -> Work[T]:
    return unit.alone if isinstance(unit, Batched) else unit


def _runs(batch: list[Queued[T]]) -> Iterator[list[tuple[int, Unit[T]]]]:
    """The batch's units with their positions, consecutive units of one kind together."""
    run: list[tuple[int, Unit[T]]] = []
    for at, (unit, _) in enumerate(batch):
        kind = _kind(unit)
        if run and (kind is None or kind != _kind(run[-1][1])):
            yield run
            run = []
        run.append((at, unit))
    if run:
        yield run


def _kind(unit: Unit[Any]) -> BatchKind | None:
    return unit.kind if isinstance(unit, Batched) else None


def _intact(session: Session, outer: SessionTransaction) -> bool:
    """Is the batch's transaction still the one open, with every earlier unit's work?"""
    return outer.is_active and session.get_transaction() is outer


def _connection_lost(error: Exception) -> bool:
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)
