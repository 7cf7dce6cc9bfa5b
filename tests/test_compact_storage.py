"""Compact storage (issue #27): a transaction's stored result packed (services/ledger/results.py), the indexes that
composite ones cover dropped — and a shop's database of schema 25 upgrading with every balance, stored result,
replay and ``mms check`` as they were.

``tests/golden/shop-schema25.sql.gz`` is a SQLite database made by the mms of commit e1b5a38 (schema 25, the last
before this): ``mms demo --no-tui``, then under fixed txids a top-up (``golden-topup``), a cash sale
(``golden-checkout``) refunded in part (``golden-part``), a sale on stored value (``golden-checkout-sv``)
refunded whole (``golden-refund``) and a check-in (``golden-checkin``); dumped with ``sqlite3``'s iterdump."""

from __future__ import annotations

import dataclasses
import gzip
import json
import sqlite3
from pathlib import Path

import peewee
import pytest
from click.testing import CliRunner

from mms_tui.cli import cli
from mms_tui.db import close_database, database, write_transaction
from mms_tui.models import Staff, Transaction
from mms_tui.models.ledger import FOLDED_ACTIONS
from mms_tui.models.migrations import (
    ACCOUNT_INDEX_28,
    LATEST,
    PREFIX_INDEXES_26,
    SET_INDEXES_28,
    STORE_INDEX_27,
    migrate,
)
from mms_tui.services.base.errors import AlreadyDone
from mms_tui.services.ledger import results
from mms_tui.services.ledger.chain import as_hex, heads
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.ops.setup import connect

GOLDEN = Path(__file__).parent / "golden" / "shop-schema25.sql.gz"


def test_a_result_packs_small_and_reads_back_exactly():
    checkout = {"txid": "0585a01c4c7d6df0621aef57e4cc4132", "sale_id": 12, "member_id": 3, "subtotal_fen": 53200,
                "discount_fen": 0, "total_fen": 53200, "change_fen": 0, "points_earned": 532, "points_redeemed": 0,
                "tier_code": "NORMAL", "lines": [
                    {"kind": "product", "item_id": 2, "code": "PROTEIN", "name": "乳清蛋白粉", "category": "零售",
                     "qty": 1, "list_price_fen": 29900, "unit_price_fen": 29900, "line_total_fen": 29900,
                     "discount_reason": "", "explanations": [], "net_fen": 29900},
                    {"kind": "service", "item_id": 4, "code": "MASSAGE", "name": "肩颈按摩", "category": "理疗",
                     "qty": 1, "list_price_fen": 19800, "unit_price_fen": 19800, "line_total_fen": 19800,
                     "discount_reason": "", "explanations": [], "net_fen": 19800}],
                "payments": [{"tender": "stored_value", "amount_fen": 53200, "card": 7, "principal_fen": 53200,
                              "bonus_fen": 0}], "cart_discounts": [], "promotions": [], "coupons": [], "fees": [],
                "points_explanations": [], "spend_fen": 53200, "stock_warnings": []}
    text = json.dumps(checkout, ensure_ascii=False)
    packed = results.pack(text)
    assert results.unpack(packed) == text and results.load(packed) == checkout
    assert len(packed) < len(text.encode()) / 4  # the key names come from the dictionary
    assert results.load(memoryview(packed)) == checkout  # (what PostgreSQL hands back)
    assert results.load(None) == {} and results.load(b"") == {} and results.load("{}") == {}
    assert results.dump({"a": "是"}) == results.pack('{"a": "是"}')
    with pytest.raises(ValueError, match="unknown format"):
        results.unpack(b"\x07abc")
    with pytest.raises(ValueError, match="damaged"):
        results.unpack(packed[:1] + b"\xff" * 8)


def test_stored_results_are_packed_and_a_replay_answers_from_them(desk):
    from mms_tui.services.money.topup import top_up

    first = top_up(_sv_card(desk), 10_000, None, "cash", desk.cashier, "t-packed")
    stored = Transaction.get(Transaction.txid == "t-packed").result
    assert bytes(stored)[0] == results.DEFLATE_1
    assert results.load(stored) == dataclasses.asdict(first)
    again = top_up(_sv_card(desk), 10_000, None, "cash", desk.cashier, "t-packed")
    assert again == first and Transaction.select().where(Transaction.txid == "t-packed").count() == 1


def test_a_replay_whose_result_is_no_longer_kept_says_already_done_and_posts_nothing(desk):
    from mms_tui.services.money.topup import top_up

    card = _sv_card(desk)
    top_up(card, 10_000, None, "cash", desk.cashier, "t-old")
    Transaction.update(result=b"").where(Transaction.txid == "t-old").execute()  # as a pruned result would be
    entries = _entry_count()
    day = Transaction.get(Transaction.txid == "t-old").local_day
    with pytest.raises(AlreadyDone, match=f"Operation t-old was already done on {day}; nothing was changed"):
        top_up(card, 10_000, None, "cash", desk.cashier, "t-old")
    assert _entry_count() == entries and check_ledger() == []


def _sv_card(desk) -> int:
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member

    member = register_member("王五", "13900000011", desk.admin, f"m-{desk.target[-6:]}")
    return issue_card(member.member_id, "SV", desk.admin, f"c-{desk.target[-6:]}", price_fen=0).card_id


def _entry_count() -> int:
    return database.execute_sql('SELECT COUNT(*) FROM "ledger_entry"').fetchone()[0]


def _state(db: sqlite3.Connection | None = None) -> dict:
    """Every card's balances and the sums of its entries, every transaction's stored result, the chains' heads."""
    rows = (db.execute if db is not None else database.execute_sql)
    cards = rows('SELECT "id", "principal_fen", "bonus_fen", "points", "visits_left" FROM "card" ORDER BY "id"')
    sums = rows('SELECT "card_id", "account", SUM("amount") FROM "ledger_entry" WHERE "card_id" IS NOT NULL '
                'GROUP BY 1, 2 ORDER BY 1, 2')
    chain_heads = rows('SELECT "chain", "seq", "digest" FROM "chain_head" ORDER BY 1')
    return {"cards": [tuple(r) for r in cards.fetchall()], "sums": [tuple(r) for r in sums.fetchall()],
            "heads": [(chain, seq, as_hex(digest)) for chain, seq, digest in chain_heads.fetchall()]}


def _stored_before(db: sqlite3.Connection) -> dict[str, dict]:
    return {txid: json.loads(text or "{}") for txid, text in db.execute(
        'SELECT "txid", "result_json" FROM "ledger_transaction"')}


def _indexes(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_shop_of_schema_25_upgrades_with_every_balance_result_and_replay_kept(tmp_path):
    target = tmp_path / "shop.sqlite3"
    with sqlite3.connect(target) as db:
        db.executescript(gzip.decompress(GOLDEN.read_bytes()).decode("utf-8"))
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 25
        before, stored = _state(db), _stored_before(db)
        assert set(PREFIX_INDEXES_26) <= _indexes(db) and STORE_INDEX_27 in _indexes(db)
    db.close()
    size_before = target.stat().st_size
    runner = CliRunner()
    upgraded = runner.invoke(cli, ["--db", str(target), "--lang", "en", "upgrade", "--backup",
                                   str(tmp_path / "before.sqlite3")])
    close_database()
    assert upgraded.exit_code == 0, upgraded.output
    assert f"Schema 25 → {LATEST}" in upgraded.output and "the checks pass" in upgraded.output
    with sqlite3.connect(target) as db:
        assert _state(db) == before
        columns = {c[1] for c in db.execute('PRAGMA table_info("ledger_transaction")')}
        assert "result_json" not in columns and "result" in columns
        assert {txid: results.load(blob) for txid, blob in db.execute(
            'SELECT "txid", "result" FROM "ledger_transaction"')} == stored
        assert not set(PREFIX_INDEXES_26) & _indexes(db) and STORE_INDEX_27 not in _indexes(db)
        assert ACCOUNT_INDEX_28 not in _indexes(db)
        for name, _table, columns, _unique in SET_INDEXES_28:  # only the rows that have a value (migration 28)
            sql, = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
            assert sql.endswith(f'WHERE ({columns.split(",")[0]} IS NOT NULL)'), sql
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # a sale's, a top-up's and a check-in's audit event kept on its transaction (migration 30), linked there
        kept = dict(db.execute('SELECT "txid", "action" FROM "ledger_transaction" WHERE "txid" LIKE \'golden-%\''))
        assert kept == {"golden-topup": "card.top_up", "golden-checkout": "sale.checkout",
                        "golden-checkout-sv": "sale.checkout", "golden-checkin": "card.check_in",
                        "golden-part": None, "golden-refund": None}
        assert db.execute('SELECT COUNT(*) FROM "audit_event" WHERE "action" IN (?, ?, ?)',
                          FOLDED_ACTIONS).fetchone()[0] == 0
        assert db.execute('SELECT COUNT(*) FROM "chain_link" WHERE "kind" = \'txa\'').fetchone()[0] == \
            db.execute('SELECT COUNT(*) FROM "ledger_transaction" WHERE "action" IS NOT NULL').fetchone()[0] > 100
        for table, column in (("ledger_transaction", "request_hash"), ("chain_link", "digest")):
            assert {(kind, len(v)) for kind, v in db.execute(
                f'SELECT typeof("{column}"), "{column}" FROM "{table}"')} == {("blob", 32)}, table
    db.close()
    assert target.stat().st_size < size_before * 0.85  # VACUUM handed the room back
    assert runner.invoke(cli, ["--db", str(target), "check"]).exit_code == 0
    close_database()

    # every golden operation replayed with its request: the first answer, nothing posted again
    connect(str(target))
    try:
        entries = _entry_count()
        for txid, answer in _replays(stored):
            assert dataclasses.asdict(answer) == stored[txid], txid
        assert _entry_count() == entries and _state() == before
        assert check_ledger() == []
        from mms_tui.services.money.receipt import sale_receipt

        assert "REFUNDED" in "\n".join(sale_receipt("golden-checkout").lines)  # the part's terms read back
    finally:
        close_database()


def _replays(stored: dict[str, dict]):
    from mms_tui.services.members.checkin import check_in
    from mms_tui.services.money.checkout import checkout
    from mms_tui.services.money.refund import refund, refund_part
    from mms_tui.services.money.topup import top_up

    admin = Staff.get(Staff.code == "admin")
    card, member = stored["golden-topup"]["card_id"], stored["golden-topup"]["member_id"]
    yield "golden-topup", top_up(card, 10_000, None, "cash", admin, "golden-topup")
    total = stored["golden-checkout"]["total_fen"]
    yield "golden-checkout", checkout(member, [("WATER", 2), ("HAIR", 1)], [("cash", total)], admin,
                                      "golden-checkout")
    total = stored["golden-checkout-sv"]["total_fen"]
    yield "golden-checkout-sv", checkout(member, [("SHAMPOO", 1)], [("stored_value", total, card)], admin,
                                         "golden-checkout-sv")
    yield "golden-part", refund_part("golden-checkout", 500, admin, "破损", "golden-part")
    yield "golden-refund", refund("golden-checkout-sv", admin, "顾客退货", "golden-refund")
    day = Transaction.get(Transaction.txid == "golden-checkin").local_day  # (its request names the day)
    yield "golden-checkin", check_in(stored["golden-checkin"]["card_id"], admin, "golden-checkin", on=day)


@pytest.mark.parametrize("chain_as_hex", [True, False], ids=["chain-hex", "chain-bytes"])
def test_migration_26_packs_every_result_on_either_database(desk, chain_as_hex):
    """The database set back to schema 25's form (results as JSON text, the prefix indexes there), then migrated:
    on PostgreSQL too, where the packing goes through ``bytea``. A database older than schema 6 had its chain
    tables made by migration 6 from today's models, digests already bytes: migration 26 leaves them so."""
    from mms_tui.services.money.topup import top_up

    card = _sv_card(desk)
    made = [top_up(card, 1_000 * n, None, "cash", desk.cashier, f"t-{n}") for n in range(1, 8)]
    texts = {txid: results.unpack(blob) for txid, blob in Transaction.select(Transaction.txid, Transaction.result)
             .tuples()}
    before, anchored = _state(), heads()
    db = database.obj
    with write_transaction():
        db.execute_sql('ALTER TABLE "ledger_transaction" ADD COLUMN "result_json" TEXT NOT NULL DEFAULT \'{}\'')
        for txid, text in texts.items():
            db.execute_sql('UPDATE "ledger_transaction" SET "result_json" = %s WHERE "txid" = %s'.replace(
                "%s", db.param), (text, txid))
        db.execute_sql('ALTER TABLE "ledger_transaction" DROP COLUMN "result"')
        db.execute_sql('CREATE INDEX "ledger_transaction_kind" ON "ledger_transaction" ("kind")')
        db.execute_sql('CREATE INDEX "sale_member_id" ON "sale" ("member_id")')
        db.execute_sql('CREATE INDEX "sale_line_sale_id" ON "sale_line" ("sale_id")')
        db.execute_sql('CREATE INDEX "visit_member_id" ON "visit" ("member_id")')
        for table, column in (("ledger_transaction", "request_hash"), ("chain_link", "digest"),
                              ("chain_head", "digest"))[:3 if chain_as_hex else 1]:
            if isinstance(db, peewee.SqliteDatabase):
                db.execute_sql(f'UPDATE "{table}" SET "{column}" = lower(hex("{column}"))')
            else:
                db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE VARCHAR(64) '
                               f'USING encode("{column}", \'hex\')')
        db.execute_sql('DELETE FROM "schema_version" WHERE "version" >= 26')
    assert {len(d) for (d,) in db.execute_sql('SELECT "digest" FROM "chain_link"')} == {64 if chain_as_hex else 32}
    assert migrate() == list(range(26, LATEST + 1))
    assert {txid: results.unpack(blob) for txid, blob in Transaction.select(Transaction.txid, Transaction.result)
            .tuples()} == texts
    assert _state() == before and check_ledger() == [] and heads() == anchored
    for table, column in (("ledger_transaction", "request_hash"), ("chain_link", "digest"), ("chain_head", "digest")):
        assert {len(bytes(v)) for (v,) in db.execute_sql(f'SELECT "{column}" FROM "{table}"')} == {32}, table
    assert not set(PREFIX_INDEXES_26) & {i.name for t in ("ledger_transaction", "sale", "sale_line", "visit")
                                          for i in db.get_indexes(t)}
    assert top_up(card, 3_000, None, "cash", desk.cashier, "t-3") == made[2]  # a replay after the migration


def _links() -> list[tuple]:
    return [(chain, seq, kind, ref, bytes(digest)) for chain, seq, kind, ref, digest in database.execute_sql(
        'SELECT "chain", "seq", "kind", "ref", "digest" FROM "chain_link" ORDER BY 1, 2').fetchall()]


def _link_shape(db: peewee.Database) -> tuple:
    """What keys the links: the columns, the indexes beside the table's own key, and the key's columns."""
    columns = [c.name for c in db.get_columns("chain_link")]
    indexes = sorted(i.name for i in db.get_indexes("chain_link") if not i.name.endswith("_pkey"))
    return columns, indexes, db.get_primary_keys("chain_link")


def events_as_schema_29_kept_them(db: peewee.Database) -> None:
    """The audit events that operations keep on their transactions (migration 30) back in rows of their own, the
    chains made again as schema 29 made them (a link for the transaction, one for its event), and the database at
    schema 29."""
    from mms_tui.services.ledger.chain import rechain

    with write_transaction():
        db.execute_sql('INSERT INTO "audit_event" ("created_at", "staff_id", "store_id", "action", "subject", "txid", '
                       '"payload") SELECT "created_at", "staff_id", "store_id", "action", "subject", "txid", "payload" '
                       'FROM "ledger_transaction" WHERE "action" IS NOT NULL ORDER BY "id"')
        db.execute_sql('UPDATE "ledger_transaction" SET "action" = NULL, "subject" = NULL, "payload" = NULL')
        rechain()
        db.execute_sql('DELETE FROM "schema_version" WHERE "version" >= 30')


def _links_as_schema_28_kept_them(db: peewee.Database) -> None:
    """The links back in the shape migration 6 made and schema 28 still had, and the database at schema 28."""
    from mms_tui.models.migrations import _ChainLink6

    events_as_schema_29_kept_them(db)
    with write_transaction():
        db.execute_sql('ALTER TABLE "chain_link" RENAME TO "chain_link_now"')
        if not isinstance(db, peewee.SqliteDatabase):  # (PostgreSQL keeps the key's name with the index)
            db.execute_sql('ALTER INDEX "chain_link_pkey" RENAME TO "chain_link_now_pkey"')
        db.create_tables([_ChainLink6])
        db.execute_sql('INSERT INTO "chain_link" ("chain", "seq", "kind", "ref", "digest") SELECT "chain", "seq", '
                       '"kind", "ref", "digest" FROM "chain_link_now" ORDER BY "chain", "seq"')
        db.execute_sql('DROP TABLE "chain_link_now"')
        db.execute_sql('DELETE FROM "schema_version" WHERE "version" >= 29')


def test_the_upgrade_to_29_hands_the_room_of_the_old_links_back(sqlite_desk, tmp_path):
    """Migration 29 copies the links to a table of their new shape; ``mms upgrade`` then runs ``VACUUM``, so the
    file keeps no free pages (without it, the old table's pages would stay in the file, free)."""
    from mms_tui.services.money.topup import top_up

    card = _sv_card(sqlite_desk)
    for n in range(1, 400):
        top_up(card, 100 * n, None, "cash", sqlite_desk.cashier, f"t-{n}")
    _links_as_schema_28_kept_them(database.obj)
    close_database()
    upgraded = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "--lang", "en", "upgrade", "--backup",
                                        str(tmp_path / "before.sqlite3")])
    close_database()
    assert upgraded.exit_code == 0 and "Schema 28 → 30" in upgraded.output, upgraded.output
    with sqlite3.connect(sqlite_desk.target) as db:
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'chain_link'").fetchone()[0]
    db.close()
    assert Path(sqlite_desk.target).stat().st_size < (tmp_path / "before.sqlite3").stat().st_size


def test_without_the_disk_vacuum_needs_the_upgrade_leaves_the_room_and_says_how_to_hand_it_back(
        sqlite_desk, tmp_path, monkeypatch):
    """``VACUUM`` needs free disk twice the file (its temporary copy and the write-ahead log): with less, the
    upgrade leaves the room in the file and says so, with the command for later."""
    import shutil

    from mms_tui.services.money.topup import top_up

    card = _sv_card(sqlite_desk)
    for n in range(1, 400):
        top_up(card, 100 * n, None, "cash", sqlite_desk.cashier, f"t-{n}")
    _links_as_schema_28_kept_them(database.obj)
    close_database()
    real = shutil.disk_usage
    size = Path(sqlite_desk.target).stat().st_size
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: real(folder)._replace(free=size))  # one file's room
    upgraded = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "--lang", "en", "upgrade", "--backup",
                                        str(tmp_path / "before.sqlite3")])
    close_database()
    assert upgraded.exit_code == 0, upgraded.output
    assert f"MB free inside {sqlite_desk.target}" in upgraded.output, upgraded.output
    assert f"run 'sqlite3 {sqlite_desk.target} VACUUM' with every desk closed" in upgraded.output
    with sqlite3.connect(sqlite_desk.target) as db:
        assert db.execute("PRAGMA freelist_count").fetchone()[0] > 0  # the room is still in the file
        assert "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'chain_link'").fetchone()[0]
    db.close()
    assert CliRunner().invoke(cli, ["--db", sqlite_desk.target, "check"]).exit_code == 0
    close_database()


def test_room_not_worth_a_vacuum_is_left_in_the_file_without_a_word(sqlite_desk, tmp_path, monkeypatch):
    """Room under :data:`ROOM_WORTH_VACUUM` of the file is not worth rewriting a whole database for (and making the
    shop wait): the upgrade leaves it, to be used again as the database grows, and says nothing about it."""
    from mms_tui.services.money.topup import top_up
    from mms_tui.services.ops import setup

    card = _sv_card(sqlite_desk)
    for n in range(1, 400):
        top_up(card, 100 * n, None, "cash", sqlite_desk.cashier, f"t-{n}")
    _links_as_schema_28_kept_them(database.obj)
    close_database()
    monkeypatch.setattr(setup, "ROOM_WORTH_VACUUM", 1.0)  # (no room is ever a whole file's worth)
    upgraded = CliRunner().invoke(cli, ["--db", sqlite_desk.target, "--lang", "en", "upgrade", "--backup",
                                        str(tmp_path / "before.sqlite3")])
    close_database()
    assert upgraded.exit_code == 0 and "Schema 28 → 30" in upgraded.output, upgraded.output
    assert "free inside" not in upgraded.output and "VACUUM" not in upgraded.output, upgraded.output
    with sqlite3.connect(sqlite_desk.target) as db:
        assert db.execute("PRAGMA freelist_count").fetchone()[0] > 0  # the old links' room, kept for growth
    db.close()
    assert CliRunner().invoke(cli, ["--db", sqlite_desk.target, "check"]).exit_code == 0
    close_database()


def test_migration_29_keeps_every_link_keyed_by_its_chain_and_place(desk):
    """The links set back to the shape migration 6 made (a row id, indexes by (chain, seq) and by (kind, ref)),
    then migrated: the same links, heads and anchors; the shape of a new database; chaining and checking go on."""
    from mms_tui.models.migrations import CHAIN_INDEXES_29
    from mms_tui.services.ledger.chain import verify
    from mms_tui.services.money.topup import top_up

    card = _sv_card(desk)
    made = [top_up(card, 1_000 * n, None, "cash", desk.cashier, f"t-{n}") for n in range(1, 6)]
    db = database.obj
    fresh_shape = _link_shape(db)
    fresh_sql = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'chain_link'").fetchone() \
        if isinstance(db, peewee.SqliteDatabase) else None
    events_as_schema_29_kept_them(db)  # (the links of schema 29: each top-up's and its event's)
    links, before, anchored = _links(), _state(), heads()
    _links_as_schema_28_kept_them(db)
    old_shape = _link_shape(db)
    assert "id" in old_shape[0] and set(CHAIN_INDEXES_29) <= set(old_shape[1])
    assert _links() == links and check_ledger() == []

    assert migrate() == list(range(29, LATEST + 1))
    assert _link_shape(db) == fresh_shape and "id" not in fresh_shape[0] and fresh_shape[1] == []
    assert fresh_shape[2] == ["chain", "seq"]
    if fresh_sql is not None:  # WITHOUT ROWID, as a new database makes it
        assert db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'chain_link'").fetchone() == fresh_sql
        assert "WITHOUT ROWID" in fresh_sql[0]
    # every link where it was with its digest (migration 30 then said where each top-up's event is now)
    assert [(c, s, d) for c, s, _k, _r, d in _links()] == [(c, s, d) for c, s, _k, _r, d in links]
    moved = [(b[2], a[2]) for b, a in zip(links, _links(), strict=True) if b[2:4] != a[2:4]]
    assert moved == [("audit", "txa")] * len(made)  # the five top-ups' events, and nothing else
    links = _links()
    assert _state() == before and heads() == anchored
    assert check_ledger() == [] and verify() == []
    assert migrate() == []  # (and run again on a database already of this shape, it changes nothing)

    assert top_up(card, 2_000, None, "cash", desk.cashier, "t-2") == made[1]  # a replay: no second link
    assert _links() == links
    top_up(card, 9_000, None, "cash", desk.cashier, "t-9")
    assert len(_links()) > len(links) and verify() == []


def test_a_row_no_link_covers_is_named_without_an_index_by_what_links_cover(desk):
    """The links have no index by the row they cover (migration 29): the rows no link covers are found by a set
    difference — each named, and only those."""
    from mms_tui.services.ledger.chain import verify
    from mms_tui.services.money.topup import top_up

    card = _sv_card(desk)
    for n in range(1, 4):
        top_up(card, 1_000 * n, None, "cash", desk.cashier, f"t-{n}")
    assert verify() == []
    lost = Transaction.get(Transaction.txid == "t-2").id
    with write_transaction():
        last = database.execute_sql('SELECT MAX("seq") FROM "chain_link" WHERE "kind" = \'op\' AND "ref" = '
                                    f'{lost}').fetchone()[0]
        database.execute_sql(f'UPDATE "chain_link" SET "ref" = -1 WHERE "kind" = \'op\' AND "ref" = {lost}')
    found = [str(b) for b in verify()]
    assert any(f"the tx row {lost} is in no chain" in p for p in found), found
    assert any(f"link {last}" in p or "row -1" in p for p in found), found  # and the link now covers nothing
    assert sum("is in no chain" in p for p in found) == 1, found


def test_a_database_from_before_the_chains_gets_links_of_the_old_shape_then_this_one(desk):
    """Migration 6 chains the history of a database made before chains in the shape links had then (a row id and
    its two indexes; not today's model), which migration 26 (the digests as bytes) reads by chain and place and
    migration 29 then keys by them: the chains verify, and a new operation links on."""
    from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

    from mms_tui.models.migrations import MIGRATIONS
    from mms_tui.services.ledger.chain import verify
    from mms_tui.services.money.topup import top_up

    card = _sv_card(desk)
    top_up(card, 1_000, None, "cash", desk.cashier, "t-1")
    db = database.obj
    migrator = SqliteMigrator(db) if isinstance(db, peewee.SqliteDatabase) else PostgresqlMigrator(db)
    fresh_shape = _link_shape(db)
    with write_transaction():
        db.execute_sql('DROP TABLE "chain_link"')
        db.execute_sql('DROP TABLE "chain_head"')
        steps = {number: fn for number, _name, fn in MIGRATIONS}
        steps[6](db, migrator)
        assert "id" in _link_shape(db)[0]
        steps[26](db, migrator)
        steps[29](db, migrator)
    assert _link_shape(db) == fresh_shape and verify() == [] and check_ledger() == []
    top_up(card, 2_000, None, "cash", desk.cashier, "t-2")
    assert verify() == []


def test_a_row_linked_twice_is_named(desk):
    """Nothing in the schema refuses a second link of a row since migration 29 (the (kind, ref) index is gone):
    ``mms check`` names the row instead."""
    from mms_tui.services.ledger import chain
    from mms_tui.services.money.topup import top_up

    card = _sv_card(desk)
    top_up(card, 1_000, None, "cash", desk.cashier, "t-1")
    assert chain.verify() == []
    tx = Transaction.get(Transaction.txid == "t-1")
    with write_transaction():
        chain._append([("tx", tx.id, tx.store_id, None)])  # a second link, well made: its chain still holds
    found = [str(b) for b in chain.verify()]
    assert any(f"the tx row {tx.id} is linked 2 times" in p for p in found), found
    assert any("linked 2 times" in str(p) for p in check_ledger())
