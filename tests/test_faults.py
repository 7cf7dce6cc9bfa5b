"""Fault injection (issue #7): a full disk, a read-only disk, the database file taken away under a running desk.

Each fault gives one clear message, writes nothing (the card's balance and the ledger are as they were), and the
same operation — the same txid — succeeds exactly once when the fault clears. The disk faults need a small
filesystem of their own: a tmpfs mounted for the test (root, as in CI); elsewhere they skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from mms_tui.db import close_database, database, database_fault, init_database
from mms_tui.models import Card, Transaction
from mms_tui.services.check import check_ledger
from mms_tui.services.members import issue_card, register_member
from mms_tui.services.topup import top_up
from tests.conftest import setup_desk


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs of its own; unmounted afterwards."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({mounted.stderr.strip() or 'mount failed'})")
    yield where
    close_database()
    subprocess.run(["umount", "-l", str(where)], check=False)


def _store_with_a_card(target: str):
    desk = setup_desk(target)
    member = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    card = issue_card(member, "SV", desk.cashier, "i1", card_no="00012345").card_id
    top_up(card, 10_000, 0, "cash", desk.cashier, "t1")
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write needs new room on the disk
    close_database()
    init_database(target)  # as a desk opens it: an existing file, never made again
    return desk, card


def _attempt(desk, card: int, txid: str):
    """A top-up of ¥50 on its own connection, as a desk's worker makes it; the error, or None when it worked."""
    try:
        with database.connection_context():
            top_up(card, 5_000, 0, "cash", desk.cashier, txid)
    except Exception as exc:
        return exc
    return None


def _state(card: int) -> tuple:
    with database.connection_context():
        return (Card.get_by_id(card).principal_fen, Transaction.select().count(), check_ledger())


def test_a_full_disk_saves_nothing_says_so_and_the_retry_posts_once(small_disk):
    desk, card = _store_with_a_card(str(small_disk / "mms.sqlite3"))
    before = _state(card)
    filler = small_disk / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    error = _attempt(desk, card, "t-full")
    assert error is not None and "disk is full" in database_fault(error)
    filler.unlink()
    assert _state(card) == before
    assert _attempt(desk, card, "t-full") is None
    assert _attempt(desk, card, "t-full") is None  # the same operation again: already done, not posted twice
    principal, transactions, problems = _state(card)
    assert (principal, transactions, problems) == (before[0] + 5_000, before[1] + 1, [])


def test_a_read_only_disk_saves_nothing_says_so_and_the_retry_posts_once(small_disk):
    desk, card = _store_with_a_card(str(small_disk / "mms.sqlite3"))
    before = _state(card)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        error = _attempt(desk, card, "t-ro")
        assert error is not None
        assert database_fault(error) is not None and "nothing was saved" in database_fault(error)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert _state(card) == before
    assert _attempt(desk, card, "t-ro") is None
    assert _state(card)[:2] == (before[0] + 5_000, before[1] + 1)


def test_the_database_taken_away_under_a_running_desk_then_put_back(tmp_path):
    target = tmp_path / "mms.sqlite3"
    desk, card = _store_with_a_card(str(target))
    before = _state(card)
    aside = tmp_path / f"aside-{uuid.uuid4().hex}"
    aside.mkdir()
    files = [Path(f"{target}{suffix}") for suffix in ("", "-wal", "-shm") if Path(f"{target}{suffix}").exists()]
    for f in files:
        shutil.move(f, aside / f.name)
    error = _attempt(desk, card, "t-gone")
    assert error is not None and "missing" in database_fault(error)
    assert not target.exists()  # no empty database was made in its place
    for f in files:
        shutil.move(aside / f.name, f)
    assert _state(card) == before
    assert _attempt(desk, card, "t-gone") is None
    assert _state(card)[:2] == (before[0] + 5_000, before[1] + 1)


async def test_the_desk_says_what_is_wrong_and_goes_on_when_the_file_is_back(tmp_path):
    from textual.widgets import Static

    from tests.test_tui import at_desk, open_member, settle, text

    target = tmp_path / "mms.sqlite3"
    desk, _card = _store_with_a_card(str(target))
    with database.connection_context():
        issue_card(Card.get_by_id(_card).member_id, "V10", desk.cashier, "i2", card_no="00077777")
    async with at_desk(desk) as (app, pilot):
        await open_member(pilot, "00077777")
        os.rename(target, tmp_path / "away.sqlite3")
        messages: list[str] = []
        app.notify = lambda message, **kw: messages.append(str(message))  # type: ignore[method-assign]
        await pilot.press("f2")
        await settle(pilot)
        assert any("missing" in m for m in messages), messages
        assert not target.exists()
        os.rename(tmp_path / "away.sqlite3", target)
        await pilot.press("f2")
        await settle(pilot)
        assert "9" in text(app.screen.query_one("#outcome", Static))
    with database.connection_context():
        assert Card.get(Card.card_no == "00077777").visits_left == 9
