"""mms migrate-to: a shop moves from SQLite to PostgreSQL and back with every row of every table as it was, the
books still proved by mms check; a target that is not empty, or cannot be reached, is one line and is left alone."""

from __future__ import annotations

import datetime as dt
import decimal
import multiprocessing
import sqlite3

import psycopg2
import pytest

from mms_tui.db import close_database, database
from mms_tui.models import ALL_MODELS, Member, Staff, Transaction
from mms_tui.services.ops.setup import connect, initialise

SPAWN = multiprocessing.get_context("spawn")

#: the primary key of every table (its columns, written out), to read both sides in the same order
KEYS = {m._meta.table_name: ", ".join(f'"{f.column_name}"' for f in m._meta.get_primary_keys()) for m in ALL_MODELS}


def _demo_shop(target: str) -> None:
    """The demo's months of history, and what it lacks: a refund, a replaced card, a family, a store moved under a
    region made after it, tags, a member field, consent, a check-in and a top-up today, Chinese text."""
    from mms_tui.models import Card, Sale
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.attributes import define_field, set_consent, set_field, tag_member
    from mms_tui.services.members.cards import issue_card, replace_card
    from mms_tui.services.members.checkin import check_in
    from mms_tui.services.members.family import set_family
    from mms_tui.services.money.refund import refund
    from mms_tui.services.money.topup import top_up
    from mms_tui.services.ops.demo import seed_demo
    from mms_tui.services.staff.stores import add_store, move_store

    connect(target)
    initialise(admin_code="admin", admin_pin="1234")
    seed_demo(12, seed=3, days=40)
    admin = Staff.get(Staff.code == "admin")
    manager = Staff.get(Staff.code == "m01")
    first, second = Member.select().order_by(Member.id).limit(2)
    add_store("EAST", "华东区", admin, kind="region")
    move_store("BR1", "EAST", admin)  # its parent now has a higher id than it
    set_family(second, first, manager, new_txid())
    tag_member(first, manager, ["常客", "VIP"])
    define_field(admin, "shoe", "鞋码", "number")
    set_field(first, manager, "shoe", "42")
    set_consent(first, manager, "sms", True)
    sale = Sale.select().where(Sale.status == "paid").order_by(Sale.id).first()
    refund(sale.transaction.txid, manager, "顾客不满意", new_txid())
    card = Card.select().where(Card.status == "active", Card.member == first).order_by(Card.id).first()
    new_card = replace_card(card.id, None, manager, new_txid()).card_id  # the old card points at the newer one
    package = issue_card(second.id, "V10", manager, new_txid())
    check_in(package.card_id, manager, new_txid())
    top_up(new_card, 88_800, 11_100, "cash", manager, new_txid())
    close_database()


def _plain(value: object) -> object:
    """What differs between the engines only in spelling: SQLite's 0/1, text times and dates, PostgreSQL's bytea
    as a memoryview."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value)
    return value


def _dump(target: str) -> dict[str, list[dict]]:
    """Every row of every table, read with the engine's own driver (not mms), ordered by primary key."""
    if "://" in target:
        conn = psycopg2.connect(target)
        tables = [r[0] for r in _fetch(conn, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    else:
        conn = sqlite3.connect(target)
        tables = [r[0] for r in _fetch(conn, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%'")]
    try:
        out = {}
        for table in tables:
            cursor = conn.cursor()
            cursor.execute(f'SELECT * FROM "{table}" ORDER BY {KEYS[table]}')
            names = [d[0] for d in cursor.description]
            out[table] = [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
        return out
    finally:
        conn.close()


def _fetch(conn, sql: str) -> list[tuple]:
    cursor = conn.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


@pytest.mark.postgres
def test_a_shop_moves_to_postgresql_and_back_with_every_row_as_it_was(run, sqlite_target, postgres_target, tmp_path,
                                                                      monkeypatch):
    # every big table copied in many batches, each paged on from the last row's key: one column (an id), or two
    # (the chains' links: chain and seq — paged by the first alone, most of a chain was left behind)
    monkeypatch.setattr("mms_tui.services.ops.migrate_to.BATCH", 37)
    _demo_shop(sqlite_target)
    before = _dump(sqlite_target)
    assert set(before) == set(KEYS)  # nothing in the database beyond the models' tables
    assert all(before[t] for t in ("ledger_transaction", "visit", "member_tag", "member_field_value", "consent"))
    assert any(r["reverses_id"] for r in before["ledger_transaction"])
    assert any(r["replaced_by_id"] for r in before["card"]) and any(r["family_id"] for r in before["member"])

    moved = run("--db", sqlite_target, "migrate-to", postgres_target)
    assert moved.exit_code == 0, moved.output
    rows = sum(len(r) for r in before.values())
    assert f"Copied {rows} rows in {len(KEYS)} tables" in moved.output
    assert f'set db = "{postgres_target}"' in moved.output
    assert _dump(postgres_target) == before
    checked = run("--db", postgres_target, "check")
    assert checked.exit_code == 0 and "every hash chain holds" in checked.output

    back = tmp_path / "back.sqlite3"
    returned = run("--db", postgres_target, "migrate-to", str(back))
    assert returned.exit_code == 0, returned.output
    assert f'set db = "{back}"' in returned.output
    assert _dump(str(back)) == before
    assert run("--db", str(back), "check").exit_code == 0


@pytest.mark.postgres
def test_after_the_move_postgresql_hands_out_new_ids_past_the_copied_ones(run, sqlite_desk, postgres_target):
    from mms_tui.services.ledger.check import check_ledger
    from mms_tui.services.members.profile import register_member

    register_member("张三", "13800138000", sqlite_desk.cashier, "r1")
    close_database()
    assert run("--db", sqlite_desk.target, "migrate-to", postgres_target).exit_code == 0
    connect(postgres_target)
    newest = max(Member.select(Member.id).scalar(), Transaction.select(Transaction.id).order_by(
        Transaction.id.desc()).scalar())
    added = register_member("李四", "13900139000", Staff.get(Staff.code == "c01"), "r2")
    assert added.member_id > 1 and Member.get_by_id(added.member_id).name == "李四"
    assert Transaction.get(Transaction.txid == "r2").id > newest
    assert check_ledger() == []


@pytest.mark.postgres
def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(run, sqlite_desk, postgres_target, tmp_path):
    close_database()
    other = tmp_path / "other.sqlite3"
    connect(str(other))
    initialise(admin_code="boss", admin_pin="9999")
    close_database()
    for target in (str(other), postgres_target):
        if target == postgres_target:
            connect(postgres_target)
            initialise(store_code="SH", store_name="上海店")
            close_database()
        kept = _dump(target)
        refused = run("--db", sqlite_desk.target, "migrate-to", target)
        assert refused.exit_code == 1
        assert refused.output.count("\n") == 1 and "is not empty" in refused.output
        assert "nothing was written" in refused.output and "Traceback" not in refused.output
        assert _dump(target) == kept


@pytest.mark.postgres
def test_a_failure_half_way_leaves_the_postgresql_target_empty(run, sqlite_desk, postgres_target):
    """PostgreSQL holds a column to its length where SQLite does not: the copy fails at the last staff row,
    after the tables before it were written — and none of it stays."""
    database.execute_sql("UPDATE staff SET level = ? WHERE code = 'c01'", ("x" * 30,))
    close_database()
    failed = run("--db", sqlite_desk.target, "migrate-to", postgres_target)
    assert failed.exit_code == 1 and failed.output.count("\n") == 1
    assert "at the table staff" in failed.output and "nothing was written" in failed.output
    assert _dump(postgres_target) == {}


def test_an_unknown_table_in_the_source_stops_the_move(run, sqlite_desk, tmp_path):
    database.execute_sql("CREATE TABLE old_cards (no TEXT)")
    close_database()
    target = tmp_path / "new.sqlite3"
    stopped = run("--db", sqlite_desk.target, "migrate-to", str(target))
    assert stopped.exit_code == 1 and "old_cards" in stopped.output
    assert not target.exists()


@pytest.mark.parametrize("url, says", [
    ("postgresql://mms:secret@127.0.0.1:1/shop", "Cannot open the database postgresql://mms:***@127.0.0.1:1/shop"),
    ("postgresql://mms:secret@127.0.0.1:port/shop", "Cannot use the database URL"),
    ("mysql://mms@127.0.0.1/shop", "not supported"),
    ("{tmp}/no/such/folder/shop.sqlite3", "does not exist"),
])
def test_a_target_that_cannot_be_used_is_one_line(run, sqlite_desk, tmp_path, url, says):
    close_database()
    result = run("--db", sqlite_desk.target, "migrate-to", url.format(tmp=tmp_path))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and says in result.output
    assert "secret" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "no").exists()


def _top_ups(target: str, n: int) -> None:
    from mms_tui.services.money.topup import top_up

    connect(target)
    cashier = Staff.get(Staff.code == "c01")
    for i in range(n):
        top_up("00012345", 100, 0, "cash", cashier, f"bg-{i}")


def _wait_for_top_ups(target: str, n: int) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        conn = sqlite3.connect(target)
        try:
            if conn.execute("SELECT COUNT(*) FROM ledger_transaction WHERE txid LIKE 'bg-%'").fetchone()[0] >= n:
                return
        finally:
            conn.close()
        time.sleep(0.05)
    raise AssertionError("the desk never saved")


@pytest.mark.postgres
def test_a_desk_still_saving_does_not_tear_the_copy(run, regular, postgres_target):
    """The source is read in one snapshot: card balances and their entries from the same moment."""
    close_database()
    writer = SPAWN.Process(target=_top_ups, args=(regular.target, 400))
    writer.start()
    try:
        _wait_for_top_ups(regular.target, 5)  # the desk is saving while the move reads
        moved = run("--db", regular.target, "migrate-to", postgres_target)
    finally:
        writer.join(60)
    assert moved.exit_code == 0, moved.output
    assert run("--db", postgres_target, "check").exit_code == 0
