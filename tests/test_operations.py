"""What the person who deploys it relies on, without a Docker engine: the compose file is
valid compose-spec and production-shaped, the image runs unprivileged from a regular install
that carries its migrations, the worker's health check tells a turning loop from a stuck or
failing one, logs keep bodies, numbers and searches out, and the CLI's help is complete."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from app import heartbeat, logs
from app.cli import cli
from app.migrate import migrations_root

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMPOSE = ROOT / "docker-compose.yml"
LONG_RUNNING = ("db", "web", "worker", "caddy")


def compose_schema_errors(path: Path) -> subprocess.CompletedProcess[str]:
    """Validate against the compose-spec JSON schema vendored in check-jsonschema."""
    return subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # resolves the x-hotline anchors


# --- docker-compose.yml -------------------------------------------------------------------


def test_the_compose_file_is_valid_compose_spec() -> None:
    result = compose_schema_errors(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("restart: unless-stopped", "restarts: unless-stopped"),  # a misspelt key
        ("condition: service_healthy", "condition: service_fine"),  # no such condition
        ("file: ./secrets/postgres_password", "path: ./secrets/postgres_password"),
    ],
)
def test_the_compose_check_fails_on_what_compose_would_refuse(
    tmp_path: Path, good: str, bad: str
) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace(good, bad, 1))
    assert compose_schema_errors(broken).returncode != 0


def test_every_long_running_service_restarts_and_web_and_worker_have_health_checks() -> None:
    services = compose()["services"]
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "hotline", "worker", "--health"]
    assert services["migrate"]["restart"] == "no"


def test_the_spool_is_a_volume_and_the_roster_comes_from_the_host() -> None:
    spec = compose()
    web = spec["services"]["web"]
    assert "spool:/var/lib/hotline/spool" in web["volumes"]
    assert "spool" in spec["volumes"]
    (roster,) = [v for v in web["volumes"] if isinstance(v, dict)]
    assert roster["source"].startswith("${HOTLINE_ROSTER_FILE:-./")
    assert roster["target"] == "/etc/hotline/roster.yaml" and roster["read_only"]
    assert roster["bind"]["create_host_path"] is False
    assert web["environment"]["HOTLINE_ROSTER"] == "/etc/hotline/roster.yaml"


def test_no_secret_is_written_in_the_compose_file_and_every_one_comes_from_a_file() -> None:
    spec = compose()
    text = COMPOSE.read_text()
    assert not re.search(r"postgresql\+psycopg://\w+:\w+@", text)
    assert not re.search(r"(PASSWORD|TOKEN|SID|DATABASE_URL):[ \t]*\S", text.replace("_FILE:", ""))
    for secret in spec["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    services = spec["services"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    for name in ("migrate", "web", "worker"):
        assert set(services[name]["secrets"]) >= {"HOTLINE_DATABASE_URL", "TWILIO_AUTH_TOKEN"}


def test_the_public_url_is_required_and_caddy_terminates_tls_for_it() -> None:
    services = compose()["services"]
    for name in ("web", "worker", "caddy"):
        assert services[name]["environment"]["HOTLINE_PUBLIC_URL"].startswith(
            "${HOTLINE_PUBLIC_URL:?"
        )
    caddy = services["caddy"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert "ports" not in services["web"]  # reached only through Caddy
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "{$HOTLINE_PUBLIC_URL} {" in caddyfile and "reverse_proxy web:8000" in caddyfile


# --- the image ----------------------------------------------------------------------------


def test_the_image_runs_unprivileged_from_a_regular_install_with_a_health_check() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert not any(re.search(r"pip install.* -e\b", line) for line in instructions)
    user = max(i for i, line in enumerate(instructions) if line.startswith("USER "))
    assert instructions[user] == "USER hotline"
    cmd = max(i for i, line in enumerate(instructions) if line.startswith("CMD "))
    assert user < cmd
    assert any(line.startswith("HEALTHCHECK ") for line in instructions)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [BIN / "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return next(out.glob("hotline-*.whl"))


def test_a_regular_install_carries_every_migration(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path)
    data = next(tmp_path.glob("hotline-*.data")) / "data" / "share" / "hotline"
    for migration in (ROOT / "alembic" / "versions").glob("*.py"):
        assert (data / "alembic" / "versions" / migration.name).is_file(), migration.name
    assert (data / "alembic" / "env.py").is_file() and (data / "alembic.ini").is_file()
    # Installed, the package's parent is site-packages, whose alembic/ is the library.
    site = tmp_path / "site-packages"
    (site / "alembic").mkdir(parents=True)
    assert migrations_root(site, data) == data
    assert any(name.startswith("app/") for name in names)


# --- the worker's health check ------------------------------------------------------------


def test_a_worker_whose_loop_turns_is_healthy(tmp_path: Path) -> None:
    beat = tmp_path / "worker.heartbeat"
    heartbeat.write(beat, ok=True)
    assert heartbeat.health(beat)[0]


def test_a_worker_whose_rounds_fail_is_unhealthy(tmp_path: Path) -> None:
    beat = tmp_path / "worker.heartbeat"
    heartbeat.write(beat, ok=False)
    ok, why = heartbeat.health(beat)
    assert not ok and why.startswith("failing")


def test_a_worker_stuck_for_longer_than_three_idle_waits_is_unhealthy(tmp_path: Path) -> None:
    beat = tmp_path / "worker.heartbeat"
    heartbeat.write(beat, ok=True)
    at = json.loads(beat.read_text())["at"]
    assert heartbeat.health(beat, now=at + heartbeat.MAX_AGE_SECONDS - 1)[0]
    ok, why = heartbeat.health(beat, now=at + heartbeat.MAX_AGE_SECONDS + 1)
    assert not ok and why.startswith("stuck")


def test_no_heartbeat_is_unhealthy_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.settings import get_settings

    monkeypatch.setenv("HOTLINE_WORKER_HEARTBEAT", str(tmp_path / "none"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["worker", "--health"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no readable heartbeat" in result.output


# --- logs ---------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.configure("INFO", "json")
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_case_event_logs_its_case_and_type_as_fields_and_no_number_or_text(
    json_log: io.StringIO,
) -> None:
    detail = {
        "channel": "sms",
        "attempt": 2,
        "to": "Avery Quinn",
        "reason": "The 'To' number +15555550111 is not a valid phone number",
        "code": "21211",
        "body": "Someone is harassing people at booth 12",
    }
    logs.case_event(4821, "page_failed", detail, logging.WARNING)
    (line,) = lines(json_log)
    assert line["case"] == 4821 and line["event"] == "page_failed"
    assert line["level"] == "WARNING" and line["logger"] == logs.EVENTS_LOGGER
    assert (line["channel"], line["attempt"], line["code"]) == ("sms", 2, "21211")
    shown = json.dumps(line)
    for leak in ("555", "Avery", "booth", "number"):
        assert leak not in shown


def test_the_access_log_has_no_query_string(json_log: io.StringIO) -> None:
    access = logging.getLogger(logs.ACCESS_LOGGER)
    args = ("127.0.0.1:5000", "GET", "/api/cases?q=booth+12&status=open", "1.1", 200)
    access.info('%s - "%s %s HTTP/%s" %d', *args)
    (line,) = lines(json_log)
    assert line["path"] == "/api/cases" and line["status"] == 200
    assert "booth" not in json.dumps(line) and "?" not in line["message"]


def test_text_logs_lose_the_query_string_too() -> None:
    record = logging.LogRecord(
        logs.ACCESS_LOGGER, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/cases?q=booth", "1.1", 200), None,
    )  # fmt: skip
    logs.AccessLogWithoutQuery().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/cases HTTP/1.1" 200'


# --- the command line ---------------------------------------------------------------------


def every_command(group: Any, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from every_command(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


def test_the_top_level_help_names_every_command() -> None:
    root = typer.main.get_command(cli)
    commands = list(every_command(root))
    assert {"audit verify", "spool status", "spool replay", "worker", "token revoke"} <= set(
        commands
    )
    shown = CliRunner().invoke(cli, ["--help"]).output
    for command in commands:
        assert re.search(rf"^\s+{command}\b", shown, re.MULTILINE), command


def test_no_help_shows_a_type_placeholder() -> None:
    root = typer.main.get_command(cli)
    for command in ["", *every_command(root)]:
        shown = CliRunner().invoke(cli, [*command.split(), "--help"]).output
        assert not re.search(r"<(str|bool|int|path|float)>|\{\w+\}", shown), (command, shown)


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert re.fullmatch(r"hotline \d+\.\d+\.\d+\S*\n", result.output)


def test_check_jsonschema_is_installed_with_the_test_tools() -> None:
    assert shutil.which("check-jsonschema", path=str(BIN))


def test_settings_read_docker_secrets_named_after_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.settings import get_settings

    (tmp_path / "TWILIO_AUTH_TOKEN").write_text("from-a-secret\n")
    (tmp_path / "HOTLINE_DATABASE_URL").write_text("postgresql+psycopg://hotline:pw@db/hotline")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOTLINE_SECRETS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no ./.env
    get_settings.cache_clear()
    try:
        settings = get_settings()
    finally:
        get_settings.cache_clear()
    assert settings.twilio_auth_token == "from-a-secret"
    assert settings.database_url == "postgresql+psycopg://hotline:pw@db/hotline"


def test_a_database_error_in_a_log_quotes_no_number_or_text(tmp_path: Path) -> None:
    from sqlalchemy import text

    from app.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (phone TEXT UNIQUE)"))
            conn.execute(text("INSERT INTO t VALUES (:p)"), {"p": "+15555550150"})
        with pytest.raises(Exception) as raised, engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:p)"), {"p": "+15555550150"})
    finally:
        engine.dispose()
    assert "UNIQUE" in str(raised.value) and "555" not in str(raised.value)
