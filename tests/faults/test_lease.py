"""The claim lease: how long a worker that died mid-send holds up its messages. The fault
tests shorten it with HOTLINE_CLAIM_LEASE_SECONDS; production keeps a minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from app.paging import dispatcher
from app.settings import Settings
from tests.harness import REPORTER, Hotline


def test_the_lease_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_CLAIM_LEASE_SECONDS", raising=False)
    assert Settings(_env_file=None).claim_lease_seconds == 60  # type: ignore[call-arg]
    monkeypatch.setenv("HOTLINE_CLAIM_LEASE_SECONDS", "2.5")
    assert Settings(_env_file=None).claim_lease_seconds == 2.5  # type: ignore[call-arg]
    for bad in ("0", "-1", "nan", "soon"):
        monkeypatch.setenv("HOTLINE_CLAIM_LEASE_SECONDS", bad)
        with pytest.raises(ValidationError):
            Settings(_env_file=None)  # type: ignore[call-arg]


def test_a_claimed_row_is_due_again_when_its_lease_ends(hl: Hotline) -> None:
    """Not before (a live worker's send is not taken over), and then as a possible duplicate."""
    assert hl.sms(REPORTER, "Someone keeps following attendees").status_code == 200
    lease = timedelta(seconds=5)
    now = hl.clock()
    first = dispatcher.claim(hl.services.sessions, now, lease=lease)
    assert first and not any(c.maybe_sent_before for c in first)
    assert dispatcher.claim(hl.services.sessions, now + lease - timedelta(seconds=0.1)) == []
    again = dispatcher.claim(hl.services.sessions, now + lease, lease=lease)
    assert [c.id for c in again] == [c.id for c in first]
    assert all(c.maybe_sent_before and c.attempt == 2 for c in again)


def test_a_lease_is_renewed_only_by_the_claim_that_holds_it(hl: Hotline) -> None:
    """A worker whose queue outlasts its lease renews it; once another worker has taken a
    row over (its lease had run out), the first one's renewal fails and it leaves the row."""
    assert hl.sms(REPORTER, "Someone keeps following attendees").status_code == 200
    lease = timedelta(seconds=5)
    now = hl.clock()
    first = dispatcher.claim(hl.services.sessions, now, lease=lease)
    ids = {c.id for c in first}
    later = now + timedelta(seconds=3)
    assert dispatcher.renew(hl.services.sessions, first, later, lease) == ids
    assert dispatcher.claim(hl.services.sessions, now + lease, lease=lease) == []  # renewed
    taken = dispatcher.claim(hl.services.sessions, later + lease, lease=lease)
    assert {c.id for c in taken} == ids
    assert dispatcher.renew(hl.services.sessions, first, later + lease, lease) == set()
    assert dispatcher.renew(hl.services.sessions, taken, later + lease, lease) == ids
