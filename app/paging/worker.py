"""The loop that runs escalations and sends the outbox.

It sleeps until the earliest due time in the database, or until new work is announced
(an in-process event, or PostgreSQL NOTIFY from other processes), so a due tier goes out
within moments without polling the database in a tight loop.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from app import heartbeat, metrics
from app.db import is_sqlite, reading
from app.paging import dispatcher, engine, retention
from app.paging.outbox import CHANNEL
from app.services import Services

log = logging.getLogger(__name__)

IDLE_WITH_NOTIFY = 30.0  # seconds; only a safety net when wake-ups are announced
IDLE_WITHOUT_NOTIFY = 1.0  # a separate worker on SQLite hears no announcements
RETENTION_EVERY = timedelta(hours=1)
TURN = 0.05  # seconds between the starts of two rounds, at least


class Worker:
    def __init__(
        self, services: Services, *, embedded: bool, heartbeat: Path | None = None
    ) -> None:
        self.services = services
        self.heartbeat = heartbeat
        self.stopping = threading.Event()
        self.postgres = not is_sqlite(services.settings.database_url)
        self.idle = IDLE_WITH_NOTIFY if (embedded or self.postgres) else IDLE_WITHOUT_NOTIFY
        self.lease = timedelta(seconds=services.settings.claim_lease_seconds)
        self.options = dispatcher.SendOptions(
            page_validity=services.settings.page_validity_seconds,
            messaging_service_sid=services.settings.twilio_messaging_service_sid,
        )
        # A send that ends with room freed in a full sender, or with a fallback queued,
        # wakes the loop so that more is claimed at once.
        self.sender = dispatcher.Sender(
            services.sessions,
            services.transport,
            services.settings.public_url,
            services.clock,
            max_in_flight=services.settings.max_in_flight,
            lease=self.lease,
            link_secret=services.settings.twilio_auth_token or "",
            options=self.options,
            on_done=services.wakeup.set,
        )
        self.threads: list[threading.Thread] = []
        self.retained_at: datetime | None = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        return self.sender.pool

    def run_once(self) -> None:
        """One round, to its end: every due escalation step, then every due message sent
        and recorded, again until none is left (what a test or a one-off run wants)."""
        s = self.services
        while engine.run_due(s.sessions, s.clock()):
            pass
        while self.sender.pump():
            self.sender.wait_idle()
        self._retention()

    def round(self) -> None:
        """Every due escalation step, then as many due messages as the sender has room
        for, started and not waited for: the loop is free again at once for new work.

        The engine runs again only after a full batch: cases keep coming due, and running
        until none is left (a dozen round trips a run on PostgreSQL) starved the sender;
        what came due meanwhile is taken by the next round, at most TURN later."""
        s = self.services
        while engine.run_due(s.sessions, s.clock()) >= engine.BATCH:
            pass
        self.sender.pump()
        self._retention()

    def _retention(self) -> None:
        """With HOTLINE_RETENTION_DAYS set, erase what old cases said, once an hour."""
        s = self.services
        days, now = s.settings.retention_days, s.clock()
        if days is None or (self.retained_at and now - self.retained_at < RETENTION_EVERY):
            return
        self.retained_at = now
        retention.run(s.sessions, s.transport, now, days)

    def seconds_to_next(self) -> float:
        if self.sender.waiting_for_room():
            return self.idle  # a send that frees room wakes the loop (Sender.on_done)
        # Read without the write lock (app.db.reading): on SQLite the loop's wait neither
        # waits for the web process's transactions nor holds them up. A commit that makes
        # work wakes the loop after it, so a read that just missed it misses nothing.
        with reading(self.services.sessions) as session:
            times = [t for t in (engine.next_due(session), dispatcher.next_attempt(session)) if t]
        if not times:
            return self.idle
        wait = (min(times) - self.services.clock()).total_seconds()
        return max(0.0, min(wait, self.idle))

    def run(self) -> None:
        wakeup = self.services.wakeup
        failing = False
        last = 0.0
        while not self.stopping.is_set():
            # Rounds at most every TURN seconds: what comes due or is woken for meanwhile
            # is taken in one round (a few statements) rather than one round each.
            spare = TURN - (time.monotonic() - last)
            if spare > 0:
                self.stopping.wait(spare)
            last = time.monotonic()
            wakeup.clear()
            metrics.WORKER_ROUNDS.inc()
            try:
                self.round()
                delay = self.seconds_to_next()
                if failing:
                    log.warning("worker rounds succeed again")
                failing = False
            except Exception:
                metrics.WORKER_FAILURES.inc()
                # Once per run of failures (a database outage fails every round): the log
                # says when it started and when it ended, not every second in between.
                if not failing:
                    log.exception("worker round failed; retrying every second")
                failing = True
                delay = 1.0
            self.beat(failing)
            wakeup.wait(delay)

    def beat(self, failing: bool) -> None:
        if self.heartbeat is not None:
            heartbeat.write(self.heartbeat, ok=not failing)

    def listen(self) -> None:
        """Turn PostgreSQL notifications into wake-ups, reconnecting when the link drops."""
        import psycopg

        url = self.services.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while not self.stopping.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.services.wakeup.set()  # catch up on anything missed while away
                    while not self.stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.services.wakeup.set()
            except Exception:
                log.warning("lost the notification connection; reconnecting", exc_info=True)
                self.stopping.wait(1.0)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self.run, name="worker", daemon=True)]
        if self.postgres:
            self.threads.append(threading.Thread(target=self.listen, name="listen", daemon=True))
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.services.wakeup.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.sender.shutdown()
