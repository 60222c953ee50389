"""`hotline backup FILE`: a consistent copy of the embedded SQLite database.

A plain `cp` of a live SQLite file can miss the latest cases (they may still be in the WAL
file beside it) or catch a page half written. SQLite's online backup API copies a consistent
snapshot while the service keeps writing. The copy holds encrypted reports and is created
0600; it is read with the same keys. PostgreSQL has `pg_dump` for this (README).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import make_url

from app.privacy.files import SECRET_FILE_MODE


class BackupError(Exception):
    pass


def backup(database_url: str, target: Path) -> int:
    """Copy the database to `target` (which must not exist); returns its size in bytes."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        raise BackupError(
            "this database is PostgreSQL: back it up with pg_dump, e.g. "
            'pg_dump --format=custom --file=hotline.dump "$DATABASE" (see README, Backups)'
        )
    source = url.database
    if not source or source == ":memory:" or not Path(source).exists():
        raise BackupError(f"no SQLite database file at {source!r}")
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file name")
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE))
    try:
        src, dst = sqlite3.connect(source), sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
            src.close()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target.stat().st_size
