"""The catalogue a manager keeps (#17): products and services added, edited, disabled and enabled, each change
audited (before → after) and on the chain; refusals leave everything as it was. Services on SQLite and PostgreSQL,
then every `mms products` command."""

from __future__ import annotations

import json

import pytest

from mms_tui.models import AuditEvent, Product, ServiceItem
from mms_tui.services.base.errors import InvalidInput, PermissionDenied, UnknownItem
from mms_tui.services.catalogue.items import add_item, edit_item, list_items, set_active
from mms_tui.services.ledger.chain import audited_state, verify
from mms_tui.services.money.checkout import quote
from mms_tui.services.money.items import find_item
from tests.conftest import ADMIN_PIN, CASHIER_PIN, MANAGER_PIN


def books_clean() -> None:
    assert verify() == [] and audited_state() == []


def counts() -> tuple[int, int, int]:
    return Product.select().count(), ServiceItem.select().count(), AuditEvent.select().count()


def test_a_manager_adds_a_product_and_a_service_and_the_desk_sells_them(desk):
    made = add_item(desk.manager, "product", " cond ", "护发素", 5_800, category="零售", barcode="６９０１２３４５６７８８５")
    assert (made.kind, made.code, made.barcode, made.price_fen) == ("product", "COND", "6901234567885", 5_800)
    hair = add_item(desk.manager, "service", "CUT", "洗剪吹", 6_800, category="美发", duration_minutes=45)
    assert hair.duration_minutes == 45
    assert find_item("6901234567885")[1].code == "COND"
    assert quote(None, ["CUT"]).total_fen == 6_800
    event = AuditEvent.select().where(AuditEvent.action == "catalogue.add").order_by(AuditEvent.id.desc()).get()
    payload = json.loads(event.payload)
    assert payload["before"] is None and payload["after"]["code"] == "CUT" and event.staff_id == desk.manager.id
    assert [i.code for i in list_items(search="护发")] == ["COND"]
    assert [i.code for i in list_items("service")] == ["CUT", "HAIR", "SPA"]
    books_clean()


def test_a_price_change_is_audited_before_and_after_and_checkout_charges_it(desk):
    edited = edit_item(desk.manager, "hair", price_fen=9_800, name="精剪 新款")
    assert (edited.price_fen, edited.name) == (9_800, "精剪 新款")
    payload = json.loads(AuditEvent.select().where(AuditEvent.action == "catalogue.edit").get().payload)
    assert (payload["before"]["price_fen"], payload["after"]["price_fen"]) == (8_800, 9_800)
    assert quote(None, ["HAIR"]).total_fen == 9_800
    assert edit_item(desk.manager, "SHAMPOO", barcode="").barcode is None  # taken off
    books_clean()


def test_a_disabled_item_is_not_sold_nor_listed_and_comes_back_when_enabled(desk):
    set_active(desk.manager, "WATER", False)
    with pytest.raises(UnknownItem):
        find_item("WATER")
    assert "WATER" not in [i.code for i in list_items()]
    assert "WATER" in [i.code for i in list_items(inactive=True)]
    set_active(desk.manager, "WATER", True)
    assert find_item("WATER")[1].price_fen == 300
    assert [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("catalogue."))] == [
        "catalogue.disable", "catalogue.enable"]
    books_clean()


@pytest.mark.parametrize("call, message", [
    (lambda d: add_item(d.cashier, "product", "GUM", "口香糖", 500), "may not"),
    (lambda d: edit_item(d.cashier, "HAIR", price_fen=1), "may not"),
    (lambda d: set_active(d.cashier, "HAIR", False), "may not"),
    (lambda d: add_item(d.manager, "product", "HAIR", "同码商品", 500), "Code: HAIR is already HAIR"),
    (lambda d: add_item(d.manager, "service", "water", "同码服务", 500), "Code: WATER is already WATER"),
    (lambda d: add_item(d.manager, "product", "GUM", "口香糖", 500, barcode="6920000000012"), "is already WATER"),
    (lambda d: add_item(d.manager, "product", "GUM", "口香糖", 500, barcode="6920000000017"),
     "Barcode: EAN 6920000000017 has check digit 7, but its digits give 2"),
    (lambda d: add_item(d.manager, "product", "GUM", "口香糖", 500, barcode="036000291453"), "Barcode: "),
    (lambda d: add_item(d.manager, "product", "GUM", "口香糖", -1), "Price: cannot be below zero"),
    (lambda d: add_item(d.manager, "product", "GUM", "", 500), "Name: required"),
    (lambda d: add_item(d.manager, "product", "", "口香糖", 500), "Code: required"),
    (lambda d: add_item(d.manager, "product", "G" * 33, "口香糖", 500), "Code: longer than 32"),
    (lambda d: add_item(d.manager, "product", "GUM", "口香糖", 500, duration_minutes=5), "only a service"),
    (lambda d: add_item(d.manager, "service", "NAP", "午睡", 500, duration_minutes=0), "Duration"),
    (lambda d: add_item(d.manager, "gift", "GUM", "口香糖", 500), "Kind must be product or service"),
    (lambda d: edit_item(d.manager, "NOPE", price_fen=1), "No product or service has the code NOPE"),
    (lambda d: edit_item(d.manager, "SHAMPOO", barcode="6920000000012"), "is already WATER"),
    (lambda d: edit_item(d.manager, "SHAMPOO", duration_minutes=30), "only a service"),
    (lambda d: edit_item(d.manager, "HAIR", price_fen=1, stock=3), "Cannot change stock"),
])
def test_every_refusal_is_one_clear_message_and_nothing_changes(desk, call, message):
    before = counts(), [(i.code, i.price_fen, i.barcode, i.active) for i in list_items(inactive=True)]
    with pytest.raises((InvalidInput, PermissionDenied), match=message):
        call(desk)
    assert (counts(), [(i.code, i.price_fen, i.barcode, i.active) for i in list_items(inactive=True)]) == before


def test_a_upc_a_barcode_with_its_right_check_digit_is_kept(desk):
    assert add_item(desk.admin, "product", "CAN", "罐头", 1_200, barcode="036000291452").barcode == "036000291452"


# --- mms products --------------------------------------------------------------------------------------------------


def test_mms_products_add_list_edit_disable_enable(run, sqlite_desk):
    db = ("--db", sqlite_desk.target)
    added = run(*db, "products", "add", "GUM", "口香糖", "--price", "5.5", "--category", "零售",
                "--barcode", "6901234567885", "--staff", "m01", "--pin-stdin", "--format", "json",
                input=MANAGER_PIN + "\n")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)[0]["price_fen"] == 550
    service = run(*db, "products", "add", "MASSAGE", "按摩", "--kind", "service", "--price", "128", "--duration",
                  "60", "--staff", "admin", "--pin-stdin", input=ADMIN_PIN + "\n")
    assert service.exit_code == 0 and "MASSAGE" in service.output
    listed = json.loads(run(*db, "products", "list", "--search", "口香", "--format", "json").output)
    assert [(r["code"], r["kind"], r["price_fen"]) for r in listed] == [("GUM", "product", 550)]
    edited = run(*db, "products", "edit", "GUM", "--price", "6", "--staff", "m01", "--pin-stdin", "--format", "csv",
                 input=MANAGER_PIN + "\n")
    assert edited.exit_code == 0 and ",600," in edited.output
    assert run(*db, "products", "disable", "GUM", "--staff", "m01", "--pin-stdin",
               input=MANAGER_PIN + "\n").exit_code == 0
    assert "GUM" not in run(*db, "products", "list").output
    assert "GUM" in run(*db, "products", "list", "--all").output
    assert run(*db, "products", "enable", "GUM", "--staff", "m01", "--pin-stdin",
               input=MANAGER_PIN + "\n").exit_code == 0
    assert "GUM" in run(*db, "products", "list", "--kind", "product").output


@pytest.mark.parametrize("args, pin, message", [
    (("add", "GUM", "口香糖", "--price", "5", "--staff", "c01", "--pin-stdin"), CASHIER_PIN, "may not"),
    (("add", "GUM", "口香糖", "--price", "-5", "--staff", "m01", "--pin-stdin"), MANAGER_PIN, "cannot be below zero"),
    (("add", "GUM", "口香糖", "--price", "five", "--staff", "m01", "--pin-stdin"), MANAGER_PIN, "Not an amount"),
    (("add", "GUM", "口香糖", "--price", "5", "--barcode", "6901234567880", "--staff", "m01", "--pin-stdin"),
     MANAGER_PIN, "check digit"),
    (("edit", "HAIR", "--staff", "m01", "--pin-stdin"), MANAGER_PIN, "Give at least one"),
    (("edit", "HAIR", "--price", "1", "--staff", "m01", "--pin-stdin"), "9999", "PIN"),
])
def test_mms_products_refusals_are_one_line_and_change_nothing(run, sqlite_desk, args, pin, message):
    """(A wrong PIN is itself audited, for the throttle: the catalogue is what must not change.)"""
    def catalogue():
        return [(i.kind, i.code, i.price_fen, i.barcode, i.active) for i in list_items(inactive=True)]

    before = catalogue()
    result = run("--db", sqlite_desk.target, "products", *args, input=pin + "\n")
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert catalogue() == before


# --- card types ----------------------------------------------------------------------------------------------------


def test_a_manager_adds_a_visit_package_the_desk_issues_it_and_a_price_change_applies_to_new_cards(desk):
    from mms_tui.services.catalogue.card_types import CardTypeTerms, add_card_type, edit_card_type
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member

    made = add_card_type(desk.manager, CardTypeTerms(" v20 ", "20次卡", "visits", price_fen=90_000, visits=20,
                                                     validity_days=365, transferable=True))
    assert (made.code, made.visits, made.transferable) == ("V20", 20, True)
    member = register_member("王五", "13900001111", desk.cashier, "r-w5").member_id
    first = issue_card(member, "V20", desk.cashier, "v20-1")
    edited = edit_card_type(desk.manager, "V20", price_fen=88_000, visits=22)
    assert (edited.price_fen, edited.visits) == (88_000, 22)
    second = issue_card(member, "V20", desk.cashier, "v20-2")
    from mms_tui.models import Card
    assert (Card.get_by_id(first.card_id).visits_left, Card.get_by_id(second.card_id).visits_left) == (20, 22)
    payload = json.loads(AuditEvent.select().where(AuditEvent.action == "card_type.edit").get().payload)
    assert (payload["before"]["price_fen"], payload["after"]["price_fen"]) == (90_000, 88_000)
    books_clean()


def test_a_disabled_card_type_is_not_issued_but_its_cards_keep_working(desk):
    from mms_tui.services.catalogue.card_types import list_card_types, set_card_type_active
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.checkin import check_in
    from mms_tui.services.members.profile import register_member

    member = register_member("赵六", "13900002222", desk.cashier, "r-z6").member_id
    card = issue_card(member, "V10", desk.cashier, "v10").card_id
    set_card_type_active(desk.manager, "V10", False)
    assert "V10" not in [t.code for t in list_card_types()]
    with pytest.raises(InvalidInput):
        issue_card(member, "V10", desk.cashier, "v10-again")
    assert check_in(card, desk.cashier, "in") is not None
    set_card_type_active(desk.admin, "V10", True)
    assert issue_card(member, "V10", desk.cashier, "v10-back").card_id
    books_clean()


@pytest.mark.parametrize("terms, message", [
    (dict(kind="visits", visits=0), "Visits: a visit package holds"),
    (dict(kind="period", visits=3, period_days=30), "Visits: only a visit package"),
    (dict(kind="discount", discount_bp=10_000), "Discount: a discount card pays"),
    (dict(kind="visits", visits=10, discount_bp=8_800), "Discount: only a discount card"),
    (dict(kind="period"), "Period: a period pass needs"),
    (dict(kind="stored_value", period_days=30), "Period: only a period pass"),
    (dict(kind="visits", visits=10, start_on_first_use=True), "Start on first use"),
    (dict(kind="period", period_days=30, transferable=True), "Transferable"),
    (dict(kind="period", period_days=0), "Period: a number of days"),
    (dict(kind="visits", visits=10, validity_days=99_999), "Validity: a number of days"),
    (dict(kind="visits", visits=10, price_fen=-1), "Price: cannot be below zero"),
    (dict(kind="voucher"), "Kind must be one of"),
    (dict(kind="stored_value", code="SV"), "Code: SV is already a card type"),
    (dict(kind="stored_value", name=""), "Name: required"),
])
def test_card_type_terms_that_do_not_fit_their_kind_are_refused_and_nothing_is_written(desk, terms, message):
    from mms_tui.models import CardType
    from mms_tui.services.catalogue.card_types import CardTypeTerms, add_card_type

    values = {"code": "NEW", "name": "新卡", **terms}
    before = CardType.select().count(), AuditEvent.select().count()
    with pytest.raises(InvalidInput, match=message):
        add_card_type(desk.manager, CardTypeTerms(**values))
    assert (CardType.select().count(), AuditEvent.select().count()) == before


def test_a_cashier_may_not_change_a_card_type_and_its_kind_never_changes(desk):
    from mms_tui.services.catalogue.card_types import edit_card_type, find_card_type

    with pytest.raises(PermissionDenied):
        edit_card_type(desk.cashier, "V10", price_fen=1)
    with pytest.raises(InvalidInput, match="Cannot change kind"):
        edit_card_type(desk.manager, "V10", kind="period")
    with pytest.raises(InvalidInput, match="Period: only a period pass"):
        edit_card_type(desk.manager, "V10", period_days=30)
    assert find_card_type("V10").price_fen == 50_000


def test_mms_cardtypes_add_list_edit_disable_enable(run, sqlite_desk):
    db = ("--db", sqlite_desk.target)
    pin = MANAGER_PIN + "\n"
    added = run(*db, "cardtypes", "add", "DC85", "85折卡", "--kind", "discount", "--price", "299", "--pays", "85",
                "--validity-days", "365", "--staff", "m01", "--pin-stdin", "--format", "json", input=pin)
    assert added.exit_code == 0, added.output
    assert {k: json.loads(added.output)[0][k] for k in ("code", "discount_bp", "price_fen")} == {
        "code": "DC85", "discount_bp": 8_500, "price_fen": 29_900}
    edited = run(*db, "cardtypes", "edit", "DC85", "--pays", "80", "--staff", "m01", "--pin-stdin", "--format",
                 "json", input=pin)
    assert edited.exit_code == 0 and json.loads(edited.output)[0]["discount_bp"] == 8_000
    assert run(*db, "cardtypes", "disable", "DC85", "--staff", "m01", "--pin-stdin", input=pin).exit_code == 0
    assert "DC85" not in run(*db, "cardtypes", "list").output
    assert "DC85" in run(*db, "cardtypes", "list", "--all").output
    assert run(*db, "cardtypes", "enable", "DC85", "--staff", "m01", "--pin-stdin", input=pin).exit_code == 0
    refused = run(*db, "cardtypes", "add", "X1", "怪卡", "--kind", "stored_value", "--visits", "3", "--staff", "m01",
                  "--pin-stdin", input=pin)
    assert refused.exit_code == 1 and "Visits: only a visit package" in refused.output
    assert "X1" not in run(*db, "cardtypes", "list", "--all").output
    cashier = run(*db, "cardtypes", "edit", "DC85", "--price", "1", "--staff", "c01", "--pin-stdin",
                  input=CASHIER_PIN + "\n")
    assert cashier.exit_code == 1 and "may not" in cashier.output


def test_a_card_type_sold_only_at_some_stores_is_issued_there_and_refused_elsewhere(desk):
    """A type limited to the region EAST is sold at its stores, not at HQ; limits named by code, an unknown one
    refused; '' (no stores) sells it everywhere again."""
    from mms_tui.services.catalogue.card_types import CardTypeTerms, add_card_type, edit_card_type
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.staff.stores import add_store

    add_store("EAST", "华东区", desk.admin, parent="HQ", kind="region")
    add_store("SH1", "上海一店", desk.admin, parent="EAST")
    made = add_card_type(desk.manager, CardTypeTerms("SHV", "上海次卡", "visits", price_fen=30_000, visits=10,
                                                     stores=("east",)))
    assert made.stores == ("EAST",)
    member = register_member("上海客", "13900003333", desk.cashier, "r-sh").member_id
    assert issue_card(member, "SHV", desk.admin, "shv-1", store="SH1").card_id
    with pytest.raises(InvalidInput, match="Card type SHV is not sold at HQ"):
        issue_card(member, "SHV", desk.cashier, "shv-2", store="HQ")
    with pytest.raises(InvalidInput, match="Stores: no store BR9"):
        edit_card_type(desk.manager, "SHV", stores=("SH1", "BR9"))
    assert edit_card_type(desk.manager, "SHV", stores=()).stores == ()
    assert issue_card(member, "SHV", desk.cashier, "shv-3", store="HQ").card_id
    books_clean()


def test_mms_cardtypes_stores_option(run, sqlite_desk):
    db = ("--db", sqlite_desk.target)
    pin = MANAGER_PIN + "\n"
    made = run(*db, "cardtypes", "add", "HQV", "总店次卡", "--kind", "visits", "--price", "100", "--visits", "5",
               "--stores", "HQ", "--staff", "m01", "--pin-stdin", "--format", "json", input=pin)
    assert made.exit_code == 0 and json.loads(made.output)[0]["stores"] == ["HQ"]
    cleared = run(*db, "cardtypes", "edit", "HQV", "--stores", "", "--staff", "m01", "--pin-stdin", "--format",
                  "json", input=pin)
    assert json.loads(cleared.output)[0]["stores"] == []
