"""Fault injection (issue #7): a full disk, a read-only disk, the database file taken away under a running desk.

Each fault gives one clear message, writes nothing (the card's balance and the ledger are as they were), and the
same operation — the same txid — succeeds exactly once when the fault clears. The disk faults need a small
filesystem of their own: a tmpfs mounted for the test (root, as in CI); elsewhere they skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import peewee
import pytest

from mms_tui.db import close_database, database, database_fault, init_database
from mms_tui.models import Card, Transaction
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.topup import top_up
from mms_tui.services.reports.catalogue import REPORTS
from tests.conftest import setup_desk


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs of its own (a set-up shop with its WAL needs more than 2 MB since the staff tables); unmounted
    afterwards."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True,
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


# --- issue #15: faults give the true message ----------------------------------------------------------------------


def _fill(folder: Path, leave: int = 0) -> Path:
    """Fill ``folder``'s filesystem until ``leave`` bytes are free (0: completely)."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free
    with filler.open("wb", buffering=0) as fh:
        try:
            fh.write(b"\0" * max(0, free - leave))
            while leave == 0:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_commit_that_finds_the_disk_full_says_so_loses_nothing_and_recovers(small_disk):
    """SQLite undoes a COMMIT that cannot be written; peewee's rollback after it used to fail ("cannot rollback -
    no transaction is active") and hide why. The desk must say the disk is full."""
    desk, card = _store_with_a_card(str(small_disk / "mms.sqlite3"))
    before = _state(card)
    filler = _fill(small_disk, leave=48 * 1024)  # room for the write lock and a page or two, not a whole commit
    acknowledged, error = [], None
    for n in range(50):
        error = _attempt(desk, card, f"t-almost-{n}")
        if error is not None:
            break
        acknowledged.append(f"t-almost-{n}")
    assert error is not None, "the disk never filled up"
    assert "cannot rollback" not in str(error)
    assert "disk is full" in (database_fault(error) or ""), error
    filler.unlink()
    principal, transactions, problems = _state(card)
    assert (principal, transactions, problems) == (before[0] + 5_000 * len(acknowledged),
                                                  before[1] + len(acknowledged), [])
    assert _attempt(desk, card, f"t-almost-{n}") is None  # the refused operation, again: now it is saved, once
    assert _attempt(desk, card, f"t-almost-{n}") is None
    assert _state(card) == (principal + 5_000, transactions + 1, [])


def test_a_backup_to_a_full_disk_is_one_line_and_leaves_no_file(run, tmp_path, small_disk):
    desk, _card = _store_with_a_card(str(tmp_path / "mms.sqlite3"))
    close_database()
    _fill(small_disk)
    result = run("--db", desk.target, "backup", str(small_disk / "backup.sqlite3"))
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "disk is full" in lines[0], lines
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def _reads_work_and_writes_say_read_only(run, desk, card: int, backup_to: Path) -> None:
    """What a shop still needs from a database it cannot write: the desk's search, reports, a backup; and a write
    refused as read-only (not as a missing file), with nothing saved."""
    from mms_tui.services.members.lookup import lookup

    with database.connection_context():
        assert [hit.name for hit in lookup("13800138000")] == ["张三"]
    error = _attempt(desk, card, "t-ro")
    assert error is not None and "read-only" in (database_fault(error) or ""), error
    close_database()
    found = run("--db", desk.target, "lookup", "13800138000")
    assert found.exit_code == 0 and "张三" in found.stdout, found.output
    report = run("--db", desk.target, "report", "liability", "--format", "csv")
    assert report.exit_code == 0 and "10000" in report.stdout, report.output
    backup = run("--db", desk.target, "backup", str(backup_to))
    assert backup.exit_code == 0 and "checks passed" in backup.stdout, backup.output
    write = run("--db", desk.target, "family", "leave", "13800138000")
    assert write.exit_code == 1 and "read-only" in write.stderr and "missing" not in write.stderr, write.output
    restore = run("--db", desk.target, "restore", str(backup_to), "--yes")
    assert restore.exit_code == 1 and "read-only" in restore.stderr, restore.output


def test_on_a_read_only_disk_reads_reports_and_backups_work_and_writes_say_read_only(run, small_disk, tmp_path):
    desk, card = _store_with_a_card(str(small_disk / "mms.sqlite3"))
    before = _state(card)
    close_database()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        _reads_work_and_writes_say_read_only(run, desk, card, tmp_path / "backup.sqlite3")
    finally:
        close_database()
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert _state(card) == before
    assert _attempt(desk, card, "t-ro") is None  # writable again: the same operation is saved, once
    assert _state(card)[:2] == (before[0] + 5_000, before[1] + 1)


def test_a_read_only_database_file_reads_and_says_read_only(run, tmp_path):
    """A database file nobody may write (``chattr +i``: read-only even for root) in a folder that is writable."""
    target = tmp_path / "mms.sqlite3"
    desk, card = _store_with_a_card(str(target))
    before = _state(card)
    close_database()
    made = subprocess.run(["chattr", "+i", str(target)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a file immutable here ({made.stderr.strip()})")
    try:
        _reads_work_and_writes_say_read_only(run, desk, card, tmp_path / "backup.sqlite3")
    finally:
        close_database()
        subprocess.run(["chattr", "-i", str(target)], check=True)
    assert _state(card) == before


@pytest.mark.parametrize("replace", [False, True], ids=["deleted", "replaced"])
def test_a_live_connection_refuses_to_save_into_a_deleted_or_replaced_file(tmp_path, replace):
    """An open connection writes into the file it opened: once that file is no longer the one at the path, every
    write it acknowledged would be lost. It refuses instead, and nothing is acknowledged."""
    target = tmp_path / "mms.sqlite3"
    desk, card = _store_with_a_card(str(target))
    database.connect(reuse_if_open=True)  # one long-lived connection, as a script or a long command holds it
    assert _attempt_here(desk, card, "t-before") is None
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(copy) as dest:
        database.connection().backup(dest)
    dest.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    if replace:
        os.rename(copy, target)
    refused = [_attempt_here(desk, card, f"t-after-{n}") for n in range(3)]
    assert all(error is not None for error in refused)
    message = database_fault(refused[0]) or ""
    assert ("was replaced" if replace else "is missing") in message and "nothing was saved" in message, message
    database.close()
    if replace:
        init_database(str(target))
        with database.connection_context():
            assert Transaction.select().where(Transaction.txid.startswith("t-after")).count() == 0
            assert Transaction.select().where(Transaction.txid == "t-before").count() == 1
    else:
        assert not target.exists()


def _attempt_here(desk, card: int, txid: str):
    """A top-up of ¥50 on the connection that is already open; the error, or None when it worked."""
    try:
        top_up(card, 5_000, 0, "cash", desk.cashier, txid)
    except Exception as exc:
        return exc
    return None


@pytest.mark.parametrize("url", ["mysql://shop@localhost/mms", "mysql+pool://shop@localhost/mms",
                                 "cockroachdb://root@localhost/mms", "oracle://x/y"])
def test_an_unsupported_database_url_is_one_line(run, url):
    result = run("--db", url, "info")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "PostgreSQL" in lines[0], lines


def test_a_postgresql_server_that_does_not_answer_is_one_line(run):
    result = run("--db", "postgresql://postgres@127.0.0.1:1/mms", "info")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Cannot open the database" in lines[0], lines


EDGE_DAYS = ("0001-01-01", "9999-12-31")


def _dated_commands(day: str) -> list[tuple[str, ...]]:
    return [
        *(("report", name, "--from", day, "--to", day) for name in REPORTS),
        ("report", "turnover", "--to", day),
        ("report", "turnover", "--from", day),
        ("export", "ledger", "-", "--from", day),
        ("export", "sales", "-", "--to", day),
        ("points", "expire", "--as-of", day, "--dry-run"),
        ("tiers", "review", "--as-of", day, "--dry-run"),
        ("coupons", "issue", "--winback", "90", "--promotion", "BACK", "--as-of", day, "--dry-run"),
        ("coupons", "issue", "--member", "13800138000", "--promotion", "BACK", "--as-of", day),
        ("cards", "print", "{tmp}/cards", "--issued-since", day),
        ("cards", "print", "{tmp}/cards", "--issued-until", day),
    ]


@pytest.mark.parametrize("day", EDGE_DAYS)
def test_the_first_and_last_days_of_the_calendar_are_one_line_or_an_answer(run, tmp_path, day):
    """0001-01-01 and 9999-12-31 in --from/--to/--as-of: never a traceback (OverflowError on date + timedelta)."""
    desk, _card = _store_with_a_card(str(tmp_path / "mms.sqlite3"))
    rules = tmp_path / "rules.toml"
    rules.write_text('[points]\nexpire_months = 24\n[[promotions]]\ncode = "BACK"\nkind = "amount"\n'
                     'amount = "10"\nauto = false\n', encoding="utf-8")
    close_database()
    assert run("--db", desk.target, "rules", "import", str(rules)).exit_code == 0
    for command in _dated_commands(day):
        command = tuple(part.format(tmp=tmp_path) for part in command)
        result = run("--db", desk.target, *command)  # the fixture fails the test on any traceback
        if result.exit_code:
            lines = result.stderr.strip().splitlines()
            assert result.exit_code == 1 and len(lines) == 1, (command, result.output)


# --- a worker thread's kept connection (issue #27) ----------------------------------------------------------------


def _on_worker(pool, fn, *args):
    """``fn`` run by ``in_connection`` on the pool's worker thread, as a desk's screens run their reads."""
    from mms_tui.screens.common import in_connection

    return pool.submit(in_connection, fn, *args).result()


def _balance(card: int) -> tuple[int, int]:
    """The card's principal, and the id of the sqlite3 connection that read it."""
    return Card.get_by_id(card).principal_fen, id(database.connection())


def test_a_worker_thread_keeps_its_connection_and_opens_the_file_now_at_the_path(tmp_path):
    """A swipe's reads run on a worker thread that keeps its connection (and its page cache) from one call to the
    next; when the file at the path is another one (a backup restored over it), the next call reads that one."""
    from concurrent.futures import ThreadPoolExecutor

    from mms_tui.db import KEPT_CACHE_KB

    target = tmp_path / "mms.sqlite3"
    desk, card = _store_with_a_card(str(target))
    with ThreadPoolExecutor(1) as pool:
        first, opened = _on_worker(pool, _balance, card)
        assert _on_worker(pool, _balance, card) == (first, opened)  # the same connection, not one per call
        with database.connection_context():
            top_up(card, 5_000, 0, "cash", desk.cashier, "t-other-desk")
        assert _on_worker(pool, _balance, card) == (first + 5_000, opened)  # it reads what others wrote
        copy = tmp_path / "copy.sqlite3"
        with database.connection_context():
            database.execute_sql("VACUUM INTO ?", (str(copy),))
            top_up(card, 5_000, 0, "cash", desk.cashier, "t-after-the-copy")
        assert _on_worker(pool, _balance, card)[0] == first + 10_000
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.rename(copy, target)  # the copy put in its place
        balance, reopened = _on_worker(pool, _balance, card)
        assert balance == first + 5_000 and reopened != opened
        # the connection opened again is kept with a kept connection's small page cache too
        assert _on_worker(pool, lambda: database.execute_sql("PRAGMA cache_size").fetchone()[0]) == -KEPT_CACHE_KB


def test_a_kept_connection_holds_a_small_page_cache(tmp_path):
    """A desk keeps a connection on each of its worker threads for hours, and each page cache keeps what the big
    reads filled it with: a kept connection's cache is KEPT_CACHE_KB (five of 32 MB held a desk at a million
    members at 250 MB), while a connection for one command (a report, mms check, an import) keeps its 32 MB."""
    from concurrent.futures import ThreadPoolExecutor

    from mms_tui.db import KEPT_CACHE_KB, SQLITE_PRAGMAS

    def cache_size() -> int:
        return database.execute_sql("PRAGMA cache_size").fetchone()[0]

    _store_with_a_card(str(tmp_path / "mms.sqlite3"))
    assert -SQLITE_PRAGMAS["cache_size"] > KEPT_CACHE_KB
    with ThreadPoolExecutor(1) as pool:
        assert _on_worker(pool, cache_size) == -KEPT_CACHE_KB
        assert _on_worker(pool, cache_size) == -KEPT_CACHE_KB  # (and on the next call, the same connection)
    with database.connection_context():
        assert cache_size() == SQLITE_PRAGMAS["cache_size"]


def test_a_connection_that_cannot_be_made_ready_is_not_kept(tmp_path, monkeypatch):
    """A thread's connection whose small cache could not be set is dropped with the failed call, not kept with
    the big one: the next call opens a new one and sets it."""
    from concurrent.futures import ThreadPoolExecutor

    import mms_tui.db as db

    def cache_size() -> int:
        return database.execute_sql("PRAGMA cache_size").fetchone()[0]

    _store_with_a_card(str(tmp_path / "mms.sqlite3"))
    with ThreadPoolExecutor(1) as pool:
        monkeypatch.setattr(db, "KEPT_CACHE_KB", "x")  # (a pragma SQLite refuses)
        with pytest.raises(sqlite3.OperationalError):
            _on_worker(pool, cache_size)
        assert not database.obj._kept
        monkeypatch.setattr(db, "KEPT_CACHE_KB", 8_000)
        assert _on_worker(pool, cache_size) == -8_000
        assert len(database.obj._kept) == 1


def test_the_connections_worker_threads_kept_are_closed_with_the_database(tmp_path):
    """Every connection a worker kept is closed by close_database (the app's end), and a thread that has ended
    leaves none open once another opens its own."""
    import threading

    target = tmp_path / "mms.sqlite3"
    _desk, card = _store_with_a_card(str(target))
    kept = []

    def keep() -> None:
        from mms_tui.screens.common import in_connection

        kept.append(in_connection(database.connection))

    for _ in range(3):  # three threads, each ending after its call
        thread = threading.Thread(target=keep)
        thread.start()
        thread.join()
    assert _open(kept[0]) is False and _open(kept[1]) is False  # swept by the threads after them
    assert _open(kept[2]) is True
    close_database()
    assert _open(kept[2]) is False
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # a thread whose connection was closed under it opens a new one
        assert _on_worker(pool, _balance, card)[0] == 10_000
        close_database()
        assert _on_worker(pool, _balance, card)[0] == 10_000
    close_database()


def _open(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
        return True
    except sqlite3.ProgrammingError:
        return False


def test_a_worker_whose_read_failed_part_way_reads_what_others_wrote_next(tmp_path):
    """A read cut off by an error with its cursor still alive (the error's traceback holds it) would keep its
    snapshot on a kept connection: the next call on that thread would show old balances. The connection of a
    failed call is not kept."""
    from concurrent.futures import ThreadPoolExecutor

    target = tmp_path / "mms.sqlite3"
    desk, card = _store_with_a_card(str(target))
    held = []

    def cut_off() -> None:
        rows = database.execute_sql('SELECT "id" FROM "ledger_entry"')  # several rows: one read, the rest left
        rows.fetchone()
        raise ValueError("a damaged record")

    with ThreadPoolExecutor(1) as pool:
        first = _on_worker(pool, _balance, card)[0]
        try:
            _on_worker(pool, cut_off)
        except ValueError as error:
            held.append(error)  # (its traceback keeps the cursor)
        with database.connection_context():
            top_up(card, 5_000, 0, "cash", desk.cashier, "t-meanwhile")
        assert _on_worker(pool, _balance, card)[0] == first + 5_000


def test_a_worker_writes_again_once_the_file_is_writable_again(tmp_path):
    """A connection opened while the file could not be written (SQLite opens it read-only without a word) serves
    its call only: once the file is writable again, the worker's next write is saved."""
    from concurrent.futures import ThreadPoolExecutor

    target = tmp_path / "mms.sqlite3"
    desk, card = _store_with_a_card(str(target))

    def topup(txid: str) -> int:
        return top_up(card, 5_000, 0, "cash", desk.cashier, txid).principal_after

    with ThreadPoolExecutor(1) as pool:
        made = subprocess.run(["chattr", "+i", str(target)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make a file immutable here ({made.stderr.strip()})")
        try:
            assert _on_worker(pool, _balance, card)[0] == 10_000
            with pytest.raises(peewee.OperationalError, match="readonly"):
                _on_worker(pool, topup, "t-refused")
            assert _on_worker(pool, _balance, card)[0] == 10_000  # a read last, while it is still read-only
        finally:
            subprocess.run(["chattr", "-i", str(target)], check=True)
        assert _on_worker(pool, topup, "t-again") == 15_000


def test_a_call_inside_another_leaves_the_connection_to_the_outer_one(tmp_path):
    """An in_connection call made inside another one on the same thread (an error's message looking up who is
    writing) that fails does not close the connection the outer call is still reading with."""
    from concurrent.futures import ThreadPoolExecutor

    from mms_tui.screens.common import in_connection

    target = tmp_path / "mms.sqlite3"
    _store_with_a_card(str(target))

    def failing() -> None:
        raise ValueError("inner")

    def outer() -> int:
        rows = database.execute_sql('SELECT "id" FROM "ledger_entry"')
        first = rows.fetchone()
        with pytest.raises(ValueError):
            in_connection(failing)
        return len([first, *rows.fetchall()])

    with ThreadPoolExecutor(1) as pool:
        assert _on_worker(pool, outer) >= 2


def test_a_connection_opened_read_only_is_not_kept(tmp_path, monkeypatch):
    """On a read-only disk the file is opened immutable — SQLite then never looks for changes. Such a connection
    serves its call only: once the disk is writable again, the next call reads what was written since."""
    from concurrent.futures import ThreadPoolExecutor

    import mms_tui.db

    target = tmp_path / "mms.sqlite3"
    desk, card = _store_with_a_card(str(target))
    with ThreadPoolExecutor(1) as pool:
        monkeypatch.setattr(mms_tui.db, "_on_read_only_disk", lambda path: True)
        first = _on_worker(pool, _balance, card)[0]
        monkeypatch.setattr(mms_tui.db, "_on_read_only_disk", lambda path: False)
        with database.connection_context():
            top_up(card, 5_000, 0, "cash", desk.cashier, "t-later")
        assert _on_worker(pool, _balance, card)[0] == first + 5_000
