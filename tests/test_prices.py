"""Price lists (#17): prices per tier, per price level (经销商价) and per store. A member's level replaces the tier's
price, a store's price beats its region's and the chain's, promotions apply after, and the bill names the list.
Every change audited and refused whole; import and export round-trip. Services on SQLite and PostgreSQL, then
the `mms prices` commands and the migration of the tiers' fixed prices."""

from __future__ import annotations

import json

import pytest

from mms_tui.db import database
from mms_tui.models import AuditEvent, ItemPrice, PriceLevel, SchemaVersion
from mms_tui.models.migrations import LATEST
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.catalogue.prices import add_level, edit_level, list_levels, list_prices, set_price
from mms_tui.services.ledger.chain import audited_state, verify
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.profile import register_member, update_member
from mms_tui.services.members.view import member_view
from mms_tui.services.money.checkout import checkout, quote
from mms_tui.services.money.payment import TenderRequest
from mms_tui.services.ops.setup import initialise
from mms_tui.services.staff.admin import add_staff
from mms_tui.services.staff.stores import add_store
from tests.conftest import MANAGER_PIN


def books_clean() -> None:
    assert verify() == [] and audited_state() == []


def written() -> tuple[int, int, int]:
    return ItemPrice.select().count(), PriceLevel.select().count(), AuditEvent.select().count()


@pytest.fixture
def chain(desk):
    """HQ with a region EAST and its store BR1; the price level DEALER; 王总, a dealer who is also a gold member;
    张三, a gold member with no level."""
    add_store("EAST", "华东区", desk.admin, parent="HQ", kind="region")
    add_store("BR1", "西湖店", desk.admin, parent="EAST")
    add_level(desk.manager, "DEALER", "经销商价")
    desk.dealer = register_member("王总", "13900139000", desk.cashier, "r1", tier="GOLD").member_id
    update_member(desk.dealer, desk.manager, new_txid(), price_level="DEALER")
    desk.gold = register_member("张三", "13800138000", desk.cashier, "r2", tier="GOLD").member_id
    return desk


def line(q, code: str):
    return next(x for x in q.lines if x.code == code)


def test_a_dealer_pays_the_dealer_price_at_checkout_and_the_bill_names_the_list(chain):
    set_price(chain.manager, "SHAMPOO", 4_500, list_code="DEALER")
    set_price(chain.manager, "SHAMPOO", 6_000, list_code="GOLD")  # the gold price: the dealer's level replaces it
    q = quote(chain.dealer, ["SHAMPOO"])
    assert (line(q, "SHAMPOO").unit_price_fen, line(q, "SHAMPOO").discount_reason) == (4_500, "经销商价")
    assert line(quote(chain.gold, ["SHAMPOO"]), "SHAMPOO").unit_price_fen == 6_000
    assert line(quote(chain.dealer, ["HAIR"]), "HAIR").unit_price_fen == 7_920  # not on the list: gold's 9折
    assert member_view(chain.dealer).price_level == "经销商价"  # the member screen says so: "Buys at 经销商价"
    assert member_view(chain.gold).price_level == ""
    sale = checkout(chain.dealer, [("SHAMPOO", 2)], [TenderRequest("cash", 9_000)], chain.cashier, "s1")
    assert sale.total_fen == 9_000
    books_clean()


def test_a_stores_price_beats_its_regions_which_beats_the_chains(chain):
    set_price(chain.manager, "SHAMPOO", 4_500, list_code="DEALER")
    set_price(chain.admin, "SHAMPOO", 4_200, list_code="DEALER", store="EAST")
    assert line(quote(chain.dealer, ["SHAMPOO"], store="HQ"), "SHAMPOO").unit_price_fen == 4_500
    assert line(quote(chain.dealer, ["SHAMPOO"], store="BR1"), "SHAMPOO").unit_price_fen == 4_200  # the region's
    set_price(chain.admin, "SHAMPOO", 4_000, list_code="DEALER", store="BR1")
    assert line(quote(chain.dealer, ["SHAMPOO"], store="BR1"), "SHAMPOO").unit_price_fen == 4_000
    assert line(quote(chain.dealer, ["SHAMPOO"], store="EAST"), "SHAMPOO").unit_price_fen == 4_200


def test_a_stores_own_retail_price_is_everyones_there_and_named_on_the_bill(chain):
    set_price(chain.admin, "HAIR", 9_800, store="BR1")
    walk_in = line(quote(None, ["HAIR"], store="BR1"), "HAIR")
    assert (walk_in.list_price_fen, walk_in.unit_price_fen, walk_in.discount_reason) == (9_800, 9_800, "西湖店 price")
    gold = line(quote(chain.gold, ["HAIR"], store="BR1"), "HAIR")
    assert (gold.unit_price_fen, gold.discount_reason) == (8_820, "西湖店 price · 金卡会员 10% off")
    assert line(quote(None, ["HAIR"], store="HQ"), "HAIR").unit_price_fen == 8_800


def test_promotions_apply_after_the_level_price(chain):
    save_rules({"promotions": [{"code": "SALE", "kind": "percent", "percent": 10, "auto": True}]}, chain.manager)
    set_price(chain.manager, "SHAMPOO", 4_500, list_code="DEALER")
    q = quote(chain.dealer, ["SHAMPOO"])
    assert (line(q, "SHAMPOO").unit_price_fen, line(q, "SHAMPOO").line_total_fen, q.total_fen) == (4_500, 4_050, 4_050)


def test_a_disabled_level_gives_no_prices_until_enabled_again(chain):
    set_price(chain.manager, "SHAMPOO", 4_500, list_code="DEALER")
    edit_level(chain.manager, "DEALER", active=False)
    assert line(quote(chain.dealer, ["SHAMPOO"]), "SHAMPOO").unit_price_fen == 6_120  # gold 9折
    edit_level(chain.manager, "DEALER", active=True)
    assert line(quote(chain.dealer, ["SHAMPOO"]), "SHAMPOO").unit_price_fen == 4_500
    assert [(lv.code, lv.members, lv.prices) for lv in list_levels()] == [("DEALER", 1, 1)]


def test_a_price_change_is_audited_before_and_after_and_removal_keeps_the_books_clean(chain):
    set_price(chain.manager, "SHAMPOO", 4_500, list_code="DEALER")
    set_price(chain.manager, "SHAMPOO", 4_300, list_code="dealer")
    event = AuditEvent.select().where(AuditEvent.action == "price.set").order_by(AuditEvent.id.desc()).get()
    payload = json.loads(event.payload)
    assert (payload["before"]["price_fen"], payload["after"]["price_fen"], event.staff_id) == (
        4_500, 4_300, chain.manager.id)
    assert [(p.item, p.list, p.store, p.price_fen) for p in list_prices(list_code="DEALER")] == [
        ("SHAMPOO", "DEALER", "", 4_300)]
    books_clean()
    assert set_price(chain.manager, "SHAMPOO", None, list_code="DEALER") is None
    assert list_prices() == []
    assert AuditEvent.select().where(AuditEvent.action == "price.remove").count() == 1
    books_clean()


@pytest.mark.parametrize("call, error, message", [
    (lambda d: set_price(d.cashier, "SHAMPOO", 100, list_code="DEALER"), PermissionDenied, ""),
    (lambda d: set_price(d.manager, "SHAMPOO", -1, list_code="DEALER"), InvalidInput, "Price: cannot be negative."),
    (lambda d: set_price(d.manager, "SHAMPOO", 100, list_code="VIP9"), NotFound, "no tier or price level VIP9"),
    (lambda d: set_price(d.manager, "NOPE", 100, list_code="DEALER"), InvalidInput, "NOPE"),
    (lambda d: set_price(d.manager, "SHAMPOO", 100), InvalidInput, "a retail price is set per store"),
    (lambda d: set_price(d.br1_manager, "SHAMPOO", 100, list_code="DEALER", store="HQ"), PermissionDenied,
     "Store: HQ is not one of yours."),
    (lambda d: add_level(d.manager, "GOLD", "金卡价"), InvalidInput, "is a tier's"),
    (lambda d: add_level(d.manager, "DEALER", "又一个"), InvalidInput, "already a price level"),
    (lambda d: add_level(d.cashier, "SUB", "二级经销商价"), PermissionDenied, ""),
    (lambda d: update_member(d.gold, d.cashier, new_txid(), price_level="DEALER"), PermissionDenied, ""),
    (lambda d: update_member(d.gold, d.manager, new_txid(), price_level="SUB"), NotFound, "No price level SUB"),
])
def test_refusals_name_what_is_wrong_and_write_nothing(chain, call, error, message):
    chain.br1_manager = add_staff("m02", "店长 小李", by=chain.admin, role="manager", store="BR1", pin="2468")
    from mms_tui.models import Staff

    chain.br1_manager = Staff.get(Staff.code == "m02")
    before = written()
    with pytest.raises(error) as refused:
        call(chain)
    assert message in str(refused.value)
    assert written() == before


def test_a_store_manager_sets_their_own_stores_price(chain):
    from mms_tui.models import Staff

    add_staff("m02", "店长 小李", by=chain.admin, role="manager", store="BR1", pin="2468")
    row = set_price(Staff.get(Staff.code == "m02"), "SHAMPOO", 4_100, list_code="DEALER", store="BR1")
    assert (row.store, row.price_fen) == ("BR1", 4_100)


def test_migration_13_moves_the_tiers_fixed_prices_to_the_price_lists(sqlite_desk):
    set_price(sqlite_desk.manager, "HAIR", 6_600, list_code="GOLD")
    ItemPrice.delete().execute()  # as version 12 kept it: in tier_price
    database.execute_sql('CREATE TABLE "tier_price" ("id" INTEGER NOT NULL PRIMARY KEY, "tier_id" INTEGER NOT NULL, '
                         '"product_id" INTEGER, "service_id" INTEGER, "price_fen" INTEGER NOT NULL)')
    database.execute_sql('INSERT INTO "tier_price" ("tier_id", "service_id", "price_fen") SELECT "t"."id", "s"."id", '
                         '6600 FROM "tier" AS "t", "service_item" AS "s" WHERE "t"."code" = ? AND "s"."code" = ?',
                         ("GOLD", "HAIR"))
    database.execute_sql('DROP TABLE "item_price"')
    database.execute_sql('DROP TABLE "price_level"')
    SchemaVersion.delete().where(SchemaVersion.version > 12).execute()
    assert initialise().applied == list(range(13, LATEST + 1))
    assert [(p.item, p.list, p.store, p.price_fen) for p in list_prices()] == [("HAIR", "GOLD", "", 6_600)]
    assert "tier_price" not in database.get_tables()
    gold = register_member("张三", "13800138000", sqlite_desk.cashier, "r1", tier="GOLD").member_id
    assert line(quote(gold, ["HAIR"]), "HAIR").unit_price_fen == 6_600
    books_clean()


# --- the command line ---------------------------------------------------------------------------------------------


def test_mms_prices_levels_set_list_and_a_dealer_member(run, sqlite_desk):
    db = ("--db", sqlite_desk.target)
    pin = MANAGER_PIN + "\n"
    staff = ("--staff", "m01", "--pin-stdin")
    assert run(*db, "prices", "add-level", "DEALER", "经销商价", *staff, input=pin).exit_code == 0
    made = run(*db, "prices", "set", "SHAMPOO", "45", "--list", "DEALER", *staff, "--format", "json", input=pin)
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)[0]["price_fen"] == 4_500
    listed = run(*db, "prices", "list", "--list", "DEALER")
    assert "SHAMPOO" in listed.output and "¥45.00" in listed.output
    register_member("王总", "13900139001", sqlite_desk.cashier, "r1")
    edited = run(*db, "members", "edit", "13900139001", "--price-level", "DEALER", *staff, input=pin)
    assert edited.exit_code == 0, edited.output
    assert line(quote("13900139001", ["SHAMPOO"]), "SHAMPOO").unit_price_fen == 4_500
    levels = json.loads(run(*db, "prices", "levels", "--format", "json").output)
    assert levels == [{"code": "DEALER", "name": "经销商价", "active": True, "members": 1, "prices": 1}]
    off = run(*db, "prices", "set", "SHAMPOO", "none", "--list", "DEALER", *staff, input=pin)
    assert off.exit_code == 0 and list_prices() == []


def test_mms_prices_export_then_import_round_trips_and_a_bad_file_changes_nothing(run, sqlite_desk, tmp_path):
    db = ("--db", sqlite_desk.target)
    pin = MANAGER_PIN + "\n"
    staff = ("--staff", "m01", "--pin-stdin")
    add_level(sqlite_desk.manager, "DEALER", "经销商价")
    set_price(sqlite_desk.manager, "SHAMPOO", 4_500, list_code="DEALER")
    set_price(sqlite_desk.manager, "HAIR", 7_000, list_code="GOLD")
    exported = tmp_path / "prices.csv"
    assert run(*db, "prices", "export", str(exported)).exit_code == 0
    text = exported.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "code,kind,name,list,list_name,store,price,list_price"
    exported.write_text(text.replace("45.00", "44.00") + "WATER,,,DEALER,,HQ,2.50,\n", encoding="utf-8-sig")
    imported = run(*db, "prices", "import", str(exported), *staff, input=pin)
    assert imported.exit_code == 0, imported.output
    assert "1 prices set, 1 changed, 1 unchanged" in imported.output
    assert {(p.item, p.list, p.store): p.price_fen for p in list_prices()} == {
        ("SHAMPOO", "DEALER", ""): 4_400, ("HAIR", "GOLD", ""): 7_000, ("WATER", "DEALER", "HQ"): 250}
    bad = tmp_path / "bad.csv"
    bad.write_text("编码,价格表,门店,价格\nSHAMPOO,DEALER,,1\nNOPE,DEALER,,1\nHAIR,VIP9,,1\nWATER,DEALER,BR9,1\n"
                   "HAIR,GOLD,,-3\n", encoding="utf-8")
    before = written()
    refused = run(*db, "prices", "import", str(bad), *staff, input=pin)
    assert refused.exit_code == 1
    for expected in ("3", "NOPE", "VIP9", "BR9", "-3"):
        assert expected in refused.output
    assert written() == before
    assert {p.item: p.price_fen for p in list_prices(list_code="DEALER", store=None)}["SHAMPOO"] == 4_400


def test_a_price_list_goes_out_and_comes_back_as_an_xlsx_workbook(run, sqlite_desk, tmp_path):
    """The spreadsheet a manager edits in Excel or WPS: exported as .xlsx, changed, imported back."""
    from openpyxl import load_workbook

    add_level(sqlite_desk.manager, "DEALER", "经销商价")
    set_price(sqlite_desk.manager, "SHAMPOO", 4_500, list_code="DEALER")
    book = tmp_path / "prices.xlsx"
    assert run("--db", sqlite_desk.target, "prices", "export", str(book)).exit_code == 0
    workbook = load_workbook(book)
    sheet = workbook.active
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Code", "Kind", "Name", "List"]  # a person's headers (#25); the import reads them
    sheet.cell(row=2, column=header.index("Price") + 1, value="39.90")
    workbook.save(book)
    imported = run("--db", sqlite_desk.target, "prices", "import", str(book), "--staff", "m01", "--pin-stdin",
                   input=MANAGER_PIN + "\n")
    assert imported.exit_code == 0, imported.output
    assert [(p.item, p.price_fen) for p in list_prices()] == [("SHAMPOO", 3_990)]
