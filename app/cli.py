"""The `hotline` command. Its help lists every command: keep HELP in step with them
(tests/test_cli.py checks)."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from typer.core import TyperCommand

import app.models  # noqa: F401  every table, so any command's foreign keys resolve (event -> case)
from app.db import is_sqlite, utcnow
from app.privacy.files import append_secret
from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from app.services import Services

HELP = """SMS and phone escalation for code-of-conduct incident response.

\b
Commands (`hotline COMMAND --help` tells more):
  serve [--host HOST] [--port PORT]     the web service (and the worker, unless
                                        HOTLINE_WORKER=off)
  worker [--health]                     the escalation engine and sender, on its own;
                                        --health checks a running one
  migrate                               bring the database to the newest schema
  roster load FILE [--dry-run] [--prune] [--if-empty]
                                        load hotlines, responders, shifts, escalation;
                                        prints what changes
  drill [--hotline NUMBER] [--voice] [--minutes MINUTES]
                                        text every responder a test page
  drill status [ID] [--hotline NUMBER]  who answered, whose text failed, who said nothing
  oncall [--hotline NUMBER] [--at TIME] whom a report would page at each tier
  token create --role ROLE [--responder PHONE] [--name TEXT] [--hotline NUMBER]
                                        print a new API token once
  token list                            every API token (never the token itself)
  token revoke ID                       a token stops working at once
  audit verify [--case N] [--checkpoint DIGEST]
                                        check the case log's keyed hash chains
  audit checkpoint                      print a short digest of the whole log to keep
  keys generate                         print a new data key and audit key
  keys rotate [--new]                   encrypt every stored value under the newest key
  retention run [--days N]              erase what cases resolved long ago said
  backup FILE                           a consistent copy of the SQLite database
  spool status                          webhooks kept during a database outage
  spool replay [--failed]               replay them now
  simulate sms --from PHONE --to PHONE BODY
                                        send a signed inbound-SMS webhook
  simulate call --from PHONE --to PHONE [--press DIGITS]
                                        send a signed inbound-call webhook

Configuration comes from HOTLINE_* and TWILIO_* variables and ./.env (see the README).
"""


class PlainCommand(TyperCommand):
    """A command's help with its arguments named as in the top-level help (`FILE`), not as
    typer shows them (`{FILE}`, `FILE <path>`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar or "[OPTIONS]"]
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or (param.name or "").upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                args.append((param.metavar or (param.name or "").upper(), param.help or ""))
            else:
                record = param.get_help_record(ctx)
                if record is not None:
                    opts.append(record)
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class Group(typer.Typer):
    """Plain help (no rich boxes, no <str>/<bool> placeholders): every value is named."""

    def __init__(self, help: str, **kwargs: object) -> None:
        super().__init__(no_args_is_help=True, rich_markup_mode=None, help=help, **kwargs)  # type: ignore[arg-type]

    def command(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
        kwargs.setdefault("cls", PlainCommand)
        return super().command(*args, **kwargs)  # type: ignore[arg-type]


cli = Group(HELP, add_completion=False)
roster_cli = Group("The roster of hotlines and responders.")
token_cli = Group("API tokens for the HTTP API.")
simulate_cli = Group("Send signed webhooks, as Twilio would.")
audit_cli = Group("The case log's hash chains.")
spool_cli = Group("Webhooks kept while the database was unreachable.")
keys_cli = Group("The keys kept outside the database.")
retention_cli = Group("Erasing what old cases said.")
cli.add_typer(roster_cli, name="roster")
cli.add_typer(token_cli, name="token")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(simulate_cli, name="simulate")
cli.add_typer(spool_cli, name="spool")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(retention_cli, name="retention")


class DrillGroup(Group):
    """`hotline drill` runs a drill itself; `hotline drill status` reads one."""

    def __init__(self, help: str) -> None:
        typer.Typer.__init__(self, no_args_is_help=False, rich_markup_mode=None, help=help)  # type: ignore[arg-type]


drill_cli = DrillGroup(
    "Test pages before an event: who answers, whose phone fails, who says nothing."
)
cli.add_typer(drill_cli, name="drill")

DOTENV = Path(".env")
CLI_ACTOR = "hotline command"


def _logging(settings: Settings) -> None:
    from app import logs

    logs.configure(settings.log_level, settings.log_format)


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"hotline {version('hotline')}")
        raise typer.Exit()


@cli.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


def _checked_settings() -> Settings:
    """The settings, or exit 2 naming the variable when they cannot work."""
    settings = get_settings()
    _refuse_unworkable(settings)
    return settings


def _refuse_unworkable(settings: Settings) -> None:
    problem = settings.startup_problem()
    if problem:
        typer.echo(f"hotline: cannot start: {problem}", err=True)
        raise typer.Exit(2)


def _settings_with_demo_token() -> Settings:
    """The offline demo still checks signatures: it makes an auth token once and keeps it in
    ./.env, where `hotline simulate` finds it to sign its requests."""
    settings = _checked_settings()
    if settings.twilio_auth_token or settings.transport != "console":
        return settings
    token = secrets.token_hex(16)
    append_secret(  # 0600: it holds secrets
        DOTENV,
        f"\n# made by `hotline serve` for the offline console demo\nTWILIO_AUTH_TOKEN={token}\n",
    )
    typer.echo(f"No TWILIO_AUTH_TOKEN set: made one for the console demo in {DOTENV.resolve()}")
    get_settings.cache_clear()
    return get_settings()


def _ensure_keys(settings: Settings) -> None:
    """The data and audit keys, made on first start (app.privacy.keys); a database whose
    data they cannot open stops the command with a message naming the variable."""
    from app.privacy import keys

    try:
        keys.ensure(settings)
    except keys.KeysError as error:
        typer.echo(f"hotline: {error}", err=True)
        raise typer.Exit(2) from None


def _keyring() -> None:
    """The configured keys, for commands that read or write encrypted data."""
    from app.privacy import keys

    try:
        keys.active()
    except keys.KeysError as error:
        typer.echo(f"hotline: {error}", err=True)
        raise typer.Exit(2) from None


@cli.command()
def serve(
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8000,
) -> None:
    """Run the web service (and the embedded worker unless HOTLINE_WORKER=off)."""
    import uvicorn

    from app.embedded import shared_metrics

    settings = _settings_with_demo_token()
    _logging(settings)
    _ensure_keys(settings)
    with shared_metrics() if settings.worker == "embedded" else nullcontext():
        from app.main import create_app
        from app.migrate import upgrade

        if is_sqlite(settings.database_url):
            upgrade(settings.database_url)  # the embedded default sets itself up (0600)
        # log_config=None: uvicorn's loggers go through ours (app.logs), so the access log
        # drops query strings and follows HOTLINE_LOG_FORMAT. httptools and uvloop (uvicorn's
        # "standard" extra) are named rather than picked if installed: parsing HTTP and running
        # the event loop in Python cost a bare endpoint about 45 % more CPU (ADR 0014), and a
        # missing one should fail here, not go unseen.
        uvicorn.run(
            create_app(settings, worker_process=True),
            host=host,
            port=port,
            http="httptools",
            loop="uvloop",
            log_level=settings.log_level.lower(),
            log_config=None,
        )


@cli.command()
def worker(
    health: Annotated[
        bool,
        typer.Option(
            "--health",
            help="Check the running worker instead (its heartbeat, HOTLINE_WORKER_HEARTBEAT): "
            "exit 0 when its loop turns and its last round succeeded, else 1.",
        ),
    ] = False,
    stdin: Annotated[
        bool,
        typer.Option(
            "--stdin",
            hidden=True,
            help="Started by `hotline serve` (app.embedded): a line on stdin wakes the worker, "
            "the end of stdin stops it.",
        ),
    ] = False,
) -> None:
    """Run the escalation engine and outbound dispatcher as a process of its own."""
    from app import heartbeat as beat

    settings = get_settings()
    heartbeat = Path(settings.worker_heartbeat)
    if health:
        ok, why = beat.health(heartbeat)
        typer.echo(why, err=not ok)
        raise typer.Exit(0 if ok else 1)

    from app.paging.worker import Worker
    from app.services import build

    # First, so every thread started from here on is as nice (app.settings.worker_nice).
    os.nice(settings.worker_nice)
    _refuse_unworkable(settings)
    _logging(settings)
    _ensure_keys(settings)
    services = build(settings)
    runner = Worker(services, embedded=False, heartbeat=heartbeat)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    if stdin:
        # Ctrl-C in the terminal reaches the whole process group: the web process stops
        # its worker itself (it closes our stdin), after its own last webhook.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner.start()
    if stdin:
        threading.Thread(target=_woken_by_stdin, args=(services, done), daemon=True).start()
    logging.getLogger(__name__).info("worker running")
    done.wait()
    runner.stop()
    services.close()


def _woken_by_stdin(services: Services, done: threading.Event) -> None:
    """The embedded worker's link to its web process: a line is a wake-up (new work was
    committed), the end of the input means the web process is gone."""
    for _ in sys.stdin.buffer:
        services.wakeup.set()
    done.set()


@cli.command()
def migrate() -> None:
    """Bring the configured database to the newest schema (alembic upgrade head)."""
    from app.migrate import upgrade
    from app.privacy.keys import KeysError

    settings = get_settings()
    try:
        upgrade(settings.database_url)
    except KeysError as error:
        typer.echo(f"hotline: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo("database is at the newest schema")


@roster_cli.command("load")
def roster_load(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Roster YAML file.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Deactivate hotlines the file does not name (never one with open cases).",
        ),
    ] = False,
    if_empty: Annotated[
        bool,
        typer.Option(
            "--if-empty",
            help="Load only into a database without any hotline (make run, docker-compose).",
        ),
    ] = False,
) -> None:
    """Create or update hotlines, responders, shifts and escalation policy from YAML, and
    print what changes (hotlines, people, shifts, tiers)."""
    from app.casework.roster_load import RosterRefused, has_hotlines, load_roster_file
    from app.db import make_engine, make_sessionmaker
    from app.migrate import upgrade
    from app.roster.schema import RosterError

    settings = get_settings()
    if if_empty and is_sqlite(settings.database_url):
        upgrade(settings.database_url)  # the embedded default sets itself up, as serve does
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        if if_empty and has_hotlines(sessions):
            typer.echo(f"roster {file} not loaded: the database has a roster already")
            return
        summary = load_roster_file(sessions, file, utcnow(), prune=prune, dry_run=dry_run)
    except RosterRefused as error:
        typer.echo(error.summary.diff())
        typer.echo(f"roster refused, nothing changed:\n{error}", err=True)
        raise typer.Exit(1) from None
    except RosterError as error:
        typer.echo(f"roster refused, nothing changed:\n{error}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(summary.diff())
    if dry_run:
        typer.echo(f"dry run, nothing changed; would load: {summary}")
    else:
        typer.echo(f"roster loaded: {summary}")


@drill_cli.callback(invoke_without_command=True)
def drill(
    ctx: typer.Context,
    hotline: Annotated[
        str | None,
        typer.Option(
            metavar="NUMBER", help="The hotline's number (needed when there are several)."
        ),
    ] = None,
    voice: Annotated[
        bool, typer.Option("--voice", help="Also call each responder: press 1 to confirm.")
    ] = False,
    minutes: Annotated[
        float, typer.Option(metavar="MINUTES", help="How long to wait for answers.")
    ] = 15.0,
) -> None:
    """Text every active responder of a hotline a test page asking them to reply OK <code>;
    `hotline drill status` shows who answered. The running service sends the texts."""
    if ctx.invoked_subcommand is not None:
        return
    from app.db import make_engine, make_sessionmaker, transaction
    from app.drills import service

    engine = make_engine(get_settings().database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            target = service.hotline_for(session, hotline)
            started = service.start_drill(
                session, target, voice=voice, minutes=minutes, now=utcnow(), by=CLI_ACTOR
            )
            drill_id, code, number = started.id, started.code, target.number
            count = len(service.table(session, started, utcnow()))
    except service.DrillError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    calls = " and a test call" if voice else ""
    typer.echo(
        f"drill {drill_id} on {number}: a test text{calls} queued for {count} responders,"
        f" code {code}, answers awaited for {minutes:g} minutes."
        f" The running service sends them; see `hotline drill status {drill_id}`."
    )


@drill_cli.command("status")
def drill_status(
    drill_id: Annotated[
        int | None, typer.Argument(metavar="ID", help="The drill (default: the latest).")
    ] = None,
    hotline: Annotated[
        str | None, typer.Option(metavar="NUMBER", help="The latest drill of this hotline.")
    ] = None,
) -> None:
    """Who answered the drill, whose text failed (with Twilio's error), who said nothing."""
    from app.db import make_engine, make_sessionmaker
    from app.drills import service
    from app.drills.models import Drill
    from app.drills.report import format_table
    from app.roster.models import Hotline

    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            found = (
                session.get(Drill, drill_id)
                if drill_id is not None
                else service.latest_drill(session, hotline)
            )
            if found is None:
                typer.echo("no such drill" if drill_id else "no drill yet", err=True)
                raise typer.Exit(1)
            target = session.get_one(Hotline, found.hotline_id)
            typer.echo(format_table(found, target, service.table(session, found, utcnow())))
    finally:
        engine.dispose()


@cli.command()
def oncall(
    hotline: Annotated[
        str | None, typer.Option(metavar="NUMBER", help="Only this hotline (its number).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="ISO 8601 time (default now); without an offset, the hotline's time.",
        ),
    ] = None,
) -> None:
    """Who a report would page at each tier, now or at --at, in the hotline's time zone."""
    from app.db import make_engine, make_sessionmaker
    from app.paging import oncall as rules

    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            hotlines = rules.hotlines_for(session, hotline)
            if not hotlines:
                typer.echo(f"no hotline {hotline}" if hotline else "no active hotline", err=True)
                raise typer.Exit(1)
            for h in hotlines:
                try:
                    when = rules.parse_at(at, h.timezone, utcnow())
                except ValueError:
                    typer.echo(f"--at: not an ISO 8601 time: {at!r}", err=True)
                    raise typer.Exit(1) from None
                typer.echo(rules.format_on_call(rules.on_call(session, h, when)))
    finally:
        engine.dispose()


@token_cli.command("create")
def token_create(
    role: Annotated[str, typer.Option(metavar="ROLE", help="admin, chair or responder.")],
    responder: Annotated[
        str | None,
        typer.Option(
            metavar="PHONE", help="Bind to this responder's phone (their conflicts apply)."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Who or what the token is for.")
    ] = None,
    hotline: Annotated[
        str | None,
        typer.Option(
            metavar="NUMBER", help="With --role calendar: the hotline whose shifts.ics it reads."
        ),
    ] = None,
) -> None:
    """Print a new API token once; only its hash is stored. A calendar token
    (--role calendar --hotline NUMBER) reads that hotline's shifts.ics and nothing else."""
    from app.auth.tokens import TokenError, create_token
    from app.db import make_engine, make_sessionmaker

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        token = create_token(
            make_sessionmaker(engine),
            role=role,
            responder=responder,
            name=name,
            now=utcnow(),
            hotline=hotline,
        )
    except TokenError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(token)
    if hotline is not None:
        url = f"{get_settings().public_url}/api/hotlines/{hotline}/shifts.ics?token={token}"
        typer.echo(f"subscribe to: {url}", err=True)


@token_cli.command("list")
def token_list() -> None:
    """List API tokens (never the tokens themselves: only their hashes are stored)."""
    from app.auth.tokens import list_tokens
    from app.db import make_engine, make_sessionmaker

    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            tokens = list_tokens(session)
    finally:
        engine.dispose()
    typer.echo(f"{'id':>4}  {'name':<24} {'role':<10} {'responder':<16} {'created':<20} revoked")
    for t in tokens:
        revoked = t.revoked_at.strftime("%Y-%m-%d %H:%M UTC") if t.revoked_at else "-"
        typer.echo(
            f"{t.id:>4}  {t.name[:24]:<24} {t.role:<10} {t.responder_phone or '-':<16} "
            f"{t.created_at.strftime('%Y-%m-%d %H:%M UTC'):<20} {revoked}"
        )


@token_cli.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (token list).")],
) -> None:
    """Revoke a token: it stops working at once."""
    from app.auth.tokens import TokenError, revoke_token
    from app.db import make_engine, make_sessionmaker

    engine = make_engine(get_settings().database_url)
    try:
        row = revoke_token(make_sessionmaker(engine), token_id, utcnow())
    except TokenError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"token {row.id} ({row.name}, {row.role}) revoked")


@audit_cli.command("verify")
def audit_verify(
    case: Annotated[int | None, typer.Option(metavar="N", help="Only this case's log.")] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            metavar="DIGEST",
            help="A digest printed by `hotline audit checkpoint`: check it still holds.",
        ),
    ] = None,
) -> None:
    """Check the log's hash chains with the audit key; print the first broken link of each
    broken chain, and whatever no longer matches a checkpoint.

    Exits 1 when any chain is broken or the checkpoint does not hold.
    """
    from app.audit.checkpoint import check
    from app.casework.events import verify_all, verify_case
    from app.db import make_engine, make_sessionmaker

    _keyring()
    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            if case is not None:
                verdicts = [(case, verify_case(session, case))]
            else:
                verdicts = verify_all(session)
            problems = check(session, checkpoint) if checkpoint else []
    finally:
        engine.dispose()
    if case is not None and not verdicts[0][1].events:
        typer.echo(f"case {case} has no events", err=True)
        raise typer.Exit(1)
    broken = [v.broken for _, v in verdicts if v.broken]
    for problem in broken:
        typer.echo(f"BROKEN {problem}")
    for problem in problems:
        typer.echo(f"CHECKPOINT {problem}")
    events = sum(v.events for _, v in verdicts)
    if broken or problems:
        typer.echo(f"{len(broken)} of {len(verdicts)} chains broken ({events} events checked)")
        if problems:
            typer.echo(f"checkpoint {checkpoint} does not hold")
        raise typer.Exit(1)
    typer.echo(f"ok: {events} events in {len(verdicts)} chains, every link holds")
    if checkpoint:
        typer.echo(f"checkpoint {checkpoint} holds")
    if case is not None:
        typer.echo(f"head of case {case}: {verdicts[0][1].head}")


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Record every chain's head and print one short digest of the whole log: keep it
    outside the database (minutes, an email) and check it later with
    `hotline audit verify --checkpoint DIGEST`."""
    from app.audit import checkpoint
    from app.db import make_engine, make_sessionmaker, transaction

    _keyring()
    engine = make_engine(get_settings().database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            printed = checkpoint.take(session, utcnow())
    finally:
        engine.dispose()
    typer.echo(printed)


@keys_cli.command("generate")
def keys_generate() -> None:
    """Print a new data key (for HOTLINE_DATA_KEY) and a new audit key."""
    from app.privacy.keys import generate_audit_key, generate_data_key

    typer.echo(f"HOTLINE_DATA_KEY={generate_data_key()}")
    typer.echo(f"HOTLINE_AUDIT_KEY={generate_audit_key()}")


@keys_cli.command("rotate")
def keys_rotate(
    new: Annotated[
        bool,
        typer.Option(
            "--new",
            help="Make a new data key first, in the file the keys come from (.env or "
            "HOTLINE_KEY_FILE); without it, HOTLINE_DATA_KEY's first key is the new one.",
        ),
    ] = False,
) -> None:
    """Encrypt every stored value again under the newest data key. Stop the service first
    and restart it afterwards with the new key."""
    from app.db import make_engine
    from app.privacy import keys
    from app.privacy.files import replace_assignment
    from app.privacy.rotate import reencrypt_all

    settings = get_settings()
    try:
        keyring = keys.from_settings(settings)
    except keys.KeysError as error:
        typer.echo(f"hotline: {error}", err=True)
        raise typer.Exit(2) from None
    if keyring is None:
        typer.echo(f"hotline: no {keys.DATA_KEY} configured: nothing to rotate", err=True)
        raise typer.Exit(2)
    source = keyring.source or (DOTENV if DOTENV.exists() and not settings.data_key else None)
    if new:
        if source is None:
            typer.echo(
                f"hotline: {keys.DATA_KEY} comes from the environment: put a new key first "
                f"(`hotline keys generate`), {keys.DATA_KEY}=NEW,OLD, and run `hotline keys "
                "rotate`",
                err=True,
            )
            raise typer.Exit(2)
        keyring = keys.Keyring((keys.generate_data_key(), *keyring.data_keys), keyring.audit_key)
        # Both keys in the file before any row changes: a crash midway loses nothing.
        replace_assignment(source, keys.DATA_KEY, ",".join(keyring.data_keys))
    keys.configure(keyring)
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            changed = reencrypt_all(conn, keyring)
    finally:
        engine.dispose()
    if new and source is not None:
        replace_assignment(source, keys.DATA_KEY, keyring.data_keys[0])
        typer.echo(f"new data key written to {source}; the old one is no longer needed")
    elif len(keyring.data_keys) > 1:
        typer.echo(f"every value is under the first key: drop the others from {keys.DATA_KEY}")
    typer.echo(f"{changed} rows encrypted again")


@retention_cli.command("run")
def retention_run(
    days: Annotated[
        float | None,
        typer.Option(metavar="N", help="Override HOTLINE_RETENTION_DAYS for this run."),
    ] = None,
) -> None:
    """Erase now what cases resolved more than HOTLINE_RETENTION_DAYS ago said (messages,
    notes, record text, reporter numbers, recordings at Twilio); keep their outcome and log."""
    from app.paging import retention
    from app.services import build

    settings = get_settings()
    _logging(settings)
    days = days if days is not None else settings.retention_days
    if days is None or days <= 0:
        typer.echo("hotline: set HOTLINE_RETENTION_DAYS (or --days) to a number of days", err=True)
        raise typer.Exit(2)
    services = build(settings)
    try:
        result = retention.run(services.sessions, services.transport, utcnow(), days)
    finally:
        services.close()
    typer.echo(f"{len(result.erased)} cases erased: {', '.join(map(str, result.erased)) or '-'}")
    if result.postponed:
        typer.echo(
            f"{len(result.postponed)} postponed (recordings not deleted at Twilio yet): "
            + ", ".join(map(str, result.postponed))
        )
        raise typer.Exit(1)


@cli.command()
def backup(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The copy to make (a new file).")],
) -> None:
    """A consistent copy of the SQLite database while the service runs (PostgreSQL: pg_dump,
    see the README). The copy is encrypted like the database and readable with its keys."""
    from app.privacy.backup import BackupError
    from app.privacy.backup import backup as copy

    try:
        size = copy(get_settings().database_url, file)
    except BackupError as error:
        typer.echo(f"hotline: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backup written to {file} ({size} bytes, mode 0600)")


@spool_cli.command("status")
def spool_status() -> None:
    """How many webhooks wait in HOTLINE_SPOOL_DIR, and which (time, path, SID only)."""
    from app.telephony.spool import Spool

    spool = Spool(get_settings().spool_dir)
    entries = spool.entries()
    typer.echo(f"{spool.dir}: {len(entries)} waiting, {spool.failed()} failed")
    for entry in entries:
        sid = entry.params.get("MessageSid") or entry.params.get("CallSid") or "-"
        typer.echo(f"{entry.received_at.isoformat()}  {entry.path}  {sid}")


@spool_cli.command("replay")
def spool_replay(
    failed: Annotated[
        bool, typer.Option("--failed", help="Put the failed entries back in line first.")
    ] = False,
) -> None:
    """Replay HOTLINE_SPOOL_DIR now (the web process also does so by itself). Exits 1 when
    the database is still unreachable or an entry failed."""
    import app.main  # noqa: F401  (registers every webhook's replay)
    from app.services import build
    from app.telephony import outage
    from app.telephony.console import ConsoleTransport

    settings = get_settings()
    _logging(settings)
    services = build(settings, transport=ConsoleTransport())  # replaying sends nothing
    try:
        if failed:
            typer.echo(f"{services.spool.retry_failed()} failed entries back in line")
        result = outage.replay(services)
    finally:
        services.close()
    typer.echo(f"{result.landed} landed, {result.failed} failed, {services.spool.depth()} waiting")
    if not result.done:
        typer.echo(f"stopped: {result.error}", err=True)
    if not result.done or result.failed:
        raise typer.Exit(1)


@simulate_cli.command("sms")
def simulate_sms(
    body: Annotated[str, typer.Argument(metavar="BODY", help="The text message.")],
    sender: Annotated[str, typer.Option("--from", metavar="PHONE", help="Sender's phone, E.164.")],
    to: Annotated[str, typer.Option("--to", metavar="PHONE", help="The hotline number, E.164.")],
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Service base URL (default HOTLINE_PUBLIC_URL)."),
    ] = None,
) -> None:
    """Send a correctly signed inbound-SMS webhook to a running service; print the answer."""
    params = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    _post_signed("/twilio/sms", params, url)


@simulate_cli.command("call")
def simulate_call(
    sender: Annotated[str, typer.Option("--from", metavar="PHONE", help="Caller's phone, E.164.")],
    to: Annotated[str, typer.Option("--to", metavar="PHONE", help="The hotline number, E.164.")],
    press: Annotated[
        str | None,
        typer.Option(
            metavar="DIGITS", help="Keys the caller presses at the greeting (2: lead involved)."
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Service base URL (default HOTLINE_PUBLIC_URL)."),
    ] = None,
) -> None:
    """Send a correctly signed inbound-call webhook; print the TwiML answer, and with
    --press, the answer to the greeting's <Gather> as well."""
    from xml.etree import ElementTree

    call = {"CallSid": "CA" + uuid.uuid4().hex, "From": sender, "To": to}
    params = {**call, "CallStatus": "ringing", "Direction": "inbound"}
    answer = _post_signed("/twilio/voice", params, url)
    if press is None:
        return
    gather = ElementTree.fromstring(answer).find("Gather")
    if gather is None or not gather.get("action"):
        typer.echo("the answer has no <Gather> to press keys at", err=True)
        raise typer.Exit(1)
    action = httpx.URL(gather.attrib["action"])
    path = action.path + (f"?{action.query.decode()}" if action.query else "")
    _post_signed(path, {**call, "CallStatus": "in-progress", "Digits": press}, url)


def _post_signed(path: str, params: dict[str, str], url: str | None) -> str:
    """POST a webhook signed as Twilio signs it (over HOTLINE_PUBLIC_URL + path); print and
    return the answer."""
    from app.telephony.signature import SIGNATURE_HEADER, sign

    settings = get_settings()
    if not settings.twilio_auth_token:
        typer.echo("TWILIO_AUTH_TOKEN is not set; `hotline serve` makes one for the demo", err=True)
        raise typer.Exit(1)
    params = {"AccountSid": settings.twilio_account_sid or "AC" + "0" * 32, **params}
    signature = sign(settings.twilio_auth_token, settings.public_url + path, params)
    target = (url or settings.public_url).rstrip("/") + path
    try:
        response = httpx.post(
            target, data=params, headers={SIGNATURE_HEADER: signature}, timeout=15
        )
    except httpx.HTTPError as error:
        typer.echo(f"could not reach {target}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"HTTP {response.status_code}")
    typer.echo(response.text)
    if response.status_code >= 400:
        raise typer.Exit(1)
    return response.text


def main() -> None:
    cli()
