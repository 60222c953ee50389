"""A database writer cannot rewrite the log unnoticed: the chain is keyed with a secret kept
outside the database, and a checkpoint kept elsewhere shows events cut off the end."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.audit import chain
from app.audit.models import Event
from app.casework.events import stored_chain
from tests.harness import AVERY, Hotline
from tests.web.conftest import Api
from tests.web.test_audit_log import a_handled_case, audit_verify


def tamper(hl: Hotline, *statements: str) -> None:
    """Change the log behind the service's back, trigger switched off as a superuser can."""
    with hl.services.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for sql in statements:
            conn.execute(text(sql))


def rehash_case_as_an_intruder(api: Api, case_id: int, actor_of: dict[int, str]) -> None:
    """What someone with write access and the project's code would do: change actors, then
    compute every hash of the chain again with the chain's own functions, without the key
    (they have the database, not HOTLINE_AUDIT_KEY): unkeyed, and with guessed keys."""
    hl = api.hl
    with hl.services.sessions() as session:
        events = list(stored_chain(session, case_id))
    for guess in (None, b"", b"hotline"):
        prev, statements = chain.GENESIS, []
        for e in events:
            actor = actor_of.get(e.id, e.actor)
            content = chain.canonical(e.case_id, e.at, e.type, actor, e.detail, e.private_digest)
            if guess is None:
                prev = chain.link(prev, content)
            else:
                prev = chain.keyed_link(guess, prev, content)
            statements.append(
                f"UPDATE event SET actor = '{actor}', hash = '{prev}' WHERE id = {e.id}"
            )
        tamper(hl, *statements)
        report = api.ok(f"/api/cases/{case_id}/events/verify", api.token("chair"))
        assert report["ok"] is False, guess
        assert report["broken"]["seq"] == 1  # the first re-hashed link already fails


def test_an_edited_actor_re_hashed_with_the_projects_own_code_is_caught(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_handled_case(api.hl)
    with api.hl.services.sessions() as session:
        ack = session.scalar(
            select(Event.id).where(Event.case_id == 1, Event.type == "acknowledged")
        )
    rehash_case_as_an_intruder(api, 1, {ack: "Blake Rivera"})

    result = audit_verify(database_url, monkeypatch)
    print(result.output)
    assert result.exit_code == 1
    assert "BROKEN case 1: broken at event" in result.output
    assert "re-hashed without the audit key" in result.output


def test_a_deleted_event_is_caught_and_a_cut_end_shows_against_a_checkpoint(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hl = api.hl
    a_handled_case(hl)
    printed = checkpoint(database_url, monkeypatch)
    # more events after the checkpoint do not matter: it still holds
    hl.answer(AVERY, "RESOLVE 1")
    held = audit_verify(database_url, monkeypatch, "--checkpoint", printed)
    assert held.exit_code == 0, held.output
    assert f"checkpoint {printed} holds" in held.output

    with hl.services.sessions() as session:
        seqs = list(session.scalars(select(Event.seq).where(Event.case_id == 1)))
    # cut the chain back to before the checkpoint: the chain itself cannot show it
    tamper(hl, f"DELETE FROM event WHERE case_id = 1 AND seq >= {max(seqs) - 3}")
    alone = audit_verify(database_url, monkeypatch, "--case", "1")
    assert alone.exit_code == 0, alone.output
    cut = audit_verify(database_url, monkeypatch, "--checkpoint", printed)
    print(cut.output)
    assert cut.exit_code == 1
    assert "CHECKPOINT case 1: event seq" in cut.output and "is gone" in cut.output

    # and an event deleted from the middle breaks the chain where it was
    tamper(hl, "DELETE FROM event WHERE case_id = 1 AND seq = 2")
    middle = audit_verify(database_url, monkeypatch)
    assert middle.exit_code == 1
    assert "the event with seq 2 before it is missing (deleted)" in middle.output


def test_a_forged_or_deleted_checkpoint_does_not_hold(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_handled_case(api.hl)
    printed = checkpoint(database_url, monkeypatch)
    number, digest = printed.split("-")
    wrong = f"{number}-{'0' * len(digest)}"
    result = audit_verify(database_url, monkeypatch, "--checkpoint", wrong)
    assert result.exit_code == 1 and "differs from the one printed" in result.output
    tamper(api.hl, f"DELETE FROM event WHERE id = {number}")
    gone = audit_verify(database_url, monkeypatch, "--checkpoint", printed)
    assert gone.exit_code == 1 and f"checkpoint {number} is not in the log" in gone.output
    junk = audit_verify(database_url, monkeypatch, "--checkpoint", "nonsense")
    assert junk.exit_code == 1 and "is not a checkpoint" in junk.output


def checkpoint(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.settings import get_settings

    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["audit", "checkpoint"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    printed = result.output.strip()
    assert len(printed) < 48  # short enough to write down
    return printed
