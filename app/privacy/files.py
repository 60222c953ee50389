"""Files that hold secrets (.env, key files, backups): readable by their owner only."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SECRET_FILE_MODE = 0o600
SECRET_DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Create a directory only its owner may enter (an existing one is left as it is)."""
    path.mkdir(mode=SECRET_DIR_MODE, parents=True, exist_ok=True)


@contextmanager
def locked_secret_file(path: Path) -> Iterator[int]:
    """Open (creating it 0600) and exclusively lock a file of secrets, so two processes that
    start at once agree on one generated key instead of each writing its own."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, SECRET_FILE_MODE)
    try:
        restrict(path)
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def restrict(path: Path) -> None:
    """Make a file we write secrets to readable by its owner only, even if it existed."""
    if path.stat().st_mode & 0o077:
        os.chmod(path, SECRET_FILE_MODE)


def append_secret(path: Path, text: str) -> None:
    with locked_secret_file(path) as fd:
        os.write(fd, text.encode())
        os.fsync(fd)


def read_assignments(path: Path) -> dict[str, str]:
    """KEY=value lines of a dotenv-style file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def replace_assignment(path: Path, key: str, value: str) -> None:
    """Set KEY=value in a dotenv-style file, atomically, keeping its other lines; 0600."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    out, found = [], False
    for line in lines:
        name = line.strip().partition("=")[0].strip().removeprefix("export ").strip()
        if name == key and "=" in line:
            if not found:
                out.append(f"{key}={value}")
            found = True
        else:
            out.append(line)
    if not found:
        out.append(f"{key}={value}")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_FILE_MODE)
    try:
        os.write(fd, ("\n".join(out) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def private_sqlite_file(database_url: str) -> None:
    """Create a new SQLite database file 0600 before SQLite does (it would use the umask):
    encrypted or not, a case database is nobody else's to read."""
    from sqlalchemy import make_url

    url = make_url(database_url)
    path = url.database
    if (
        url.get_backend_name() == "sqlite"
        and path
        and path != ":memory:"
        and not Path(path).exists()
    ):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE))
