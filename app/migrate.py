"""Run Alembic from code, so `hotline migrate` works from any working directory."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic.config import Config

from alembic import command


def migrations_root(*candidates: Path) -> Path:
    """Where alembic.ini and alembic/ are: beside the package in a source checkout (or an
    editable install), else under <prefix>/share/hotline, where a regular install puts
    them (pyproject.toml's data-files; the Docker image)."""
    candidates = candidates or (
        Path(__file__).resolve().parent.parent,
        Path(sys.prefix) / "share" / "hotline",
    )
    for root in candidates:
        # (site-packages/alembic is the Alembic library, not our migrations: no env.py.)
        if (root / "alembic" / "env.py").is_file():
            return root
    raise SystemExit(f"no migrations found (looked in {', '.join(map(str, candidates))})")


def alembic_config(database_url: str) -> Config:
    root = migrations_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Migrate to head; a SQLite file that does not exist yet is created 0600 first, whichever
    command creates it (serve, worker, migrate, roster load)."""
    from app.privacy.files import private_sqlite_file

    private_sqlite_file(database_url)
    command.upgrade(alembic_config(database_url), "head")
