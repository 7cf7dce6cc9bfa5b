"""Each desk service: the normal path and each refusal, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from mms_tui import clock
from mms_tui.models import AuditEvent, Card, Entry, Member, Sale, Transaction, Visit
from mms_tui.services.base.errors import (
    AlreadyReversed,
    CardExpired,
    CardFrozen,
    CardLost,
    DuplicateCardNo,
    DuplicatePhone,
    InsufficientBalance,
    InvalidInput,
    NotRefundable,
    PermissionDenied,
    TxidConflict,
    UnknownCard,
    UnknownItem,
    WrongCardKind,
    WrongPin,
)
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.members.cards import issue_card, replace_card, report_lost
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.passes import freeze_card, unfreeze_card
from mms_tui.services.members.profile import register_member, update_member
from mms_tui.services.money.checkout import checkout, quote
from mms_tui.services.money.payment import TenderRequest
from mms_tui.services.money.refund import refund
from mms_tui.services.money.topup import top_up
from mms_tui.services.staff.accounts import authenticate


def member(desk, phone="13800138000", name="张三"):
    return register_member(name, phone, desk.cashier, f"reg-{phone}").member_id


def sv_card(desk, member_id, card_no="1001", principal=100_000, bonus=0):
    card = issue_card(member_id, "SV", desk.cashier, f"issue-{card_no}", card_no=card_no)
    if principal:
        top_up(card.card_id, principal, bonus, "cash", desk.manager, f"topup-{card_no}")
    return card.card_id


# --- members ---------------------------------------------------------------------------------------------------


def test_register_stores_search_keys_and_audits(desk):
    result = register_member("张三", "+86 138-0013-8000", desk.cashier, "t1", gender="男", birthday="1990-05-17")
    m = Member.get_by_id(result.member_id)
    assert (m.phone, m.phone_last4, m.name_pinyin, m.name_initials, m.gender) == (
        "13800138000", "8000", "zhangsan", "zs", "M")
    assert m.tier.code == "NORMAL"
    assert AuditEvent.get(AuditEvent.txid == "t1").action == "member.register"


def test_register_refuses_duplicate_phone(desk):
    member(desk)
    with pytest.raises(DuplicatePhone):
        register_member("李四", "13800138000", desk.cashier, "t2")
    assert Member.select().count() == 1


@pytest.mark.parametrize("phone", ["12345", "1.38E+10", "23800138000", ""])
def test_register_refuses_invalid_phone(desk, phone):
    with pytest.raises(InvalidInput):
        register_member("张三", phone, desk.cashier, "t1")
    assert Member.select().count() == 0


def test_update_member_changes_keys_and_refuses_taken_phone(desk):
    a = member(desk)
    member(desk, "13900139000", "李四")
    update_member(a, desk.cashier, "u1", name="王五", phone="13700137000")
    m = Member.get_by_id(a)
    assert (m.name_initials, m.phone_last4) == ("ww", "7000")
    with pytest.raises(DuplicatePhone):
        update_member(a, desk.cashier, "u2", phone="13900139000")


def test_issue_package_takes_price_and_gives_visits(desk):
    m = member(desk)
    card = issue_card(m, "V10", desk.cashier, "i1", card_no="0007", tender="wechat")
    assert (card.card_no, card.visits_left, card.price_fen) == ("0007", 10, 50_000)
    entries = {e.account: e.amount for e in Entry.select().join(Transaction).where(Transaction.txid == "i1")}
    assert entries == {"tender.wechat": -50_000, "revenue.cards": 50_000, "card.visits": 10, "visits.issued": -10}


def test_issue_refuses_card_number_in_use(desk):
    m = member(desk)
    sv_card(desk, m, "1001", principal=0)
    with pytest.raises(DuplicateCardNo):
        issue_card(m, "V10", desk.cashier, "i2", card_no="1001")


def test_replace_lost_card_moves_every_balance(desk):
    m = member(desk)
    old = sv_card(desk, m, "1001", principal=50_000, bonus=10_000)
    report_lost(old, desk.cashier, "lost1")
    with pytest.raises(CardLost):
        top_up(old, 100, 0, "cash", desk.cashier, "x")
    new = replace_card(old, "2002", desk.cashier, "rep1")
    assert (new.principal_fen, new.bonus_fen, new.status) == (50_000, 10_000, "active")
    old_card = Card.get_by_id(old)
    assert (old_card.principal_fen, old_card.status, old_card.replaced_by_id) == (0, "lost", new.card_id)
    assert check_ledger() == []


def test_freeze_refuses_use_and_unfreeze_extends_pass(desk):
    m = member(desk)
    start = clock.today() - dt.timedelta(days=10)
    card = issue_card(m, "M1", desk.cashier, "p1", on=start)
    until = dt.date.fromisoformat(card.valid_until)
    freeze_card(card.card_id, desk.cashier, "f1", on=start + dt.timedelta(days=2))
    with pytest.raises(CardFrozen):
        check_in(card.card_id, desk.cashier, "c1")
    after = unfreeze_card(card.card_id, desk.cashier, "uf1", on=start + dt.timedelta(days=9))
    assert dt.date.fromisoformat(after.valid_until) == until + dt.timedelta(days=7)
    assert after.status == "active"


def test_only_passes_and_packages_freeze(desk):
    card = sv_card(desk, member(desk))
    with pytest.raises(WrongCardKind):
        freeze_card(card, desk.cashier, "f1")


# --- top-up ----------------------------------------------------------------------------------------------------


def test_top_up_keeps_bonus_apart(desk):
    card = sv_card(desk, member(desk), principal=0)
    result = top_up(card, 100_000, 20_000, "alipay", desk.cashier, "tu1")
    assert (result.principal_after, result.bonus_after) == (100_000, 20_000)
    assert check_ledger() == []


@pytest.mark.parametrize("amount", [0, -100])
def test_top_up_refuses_zero_and_negative(desk, amount):
    card = sv_card(desk, member(desk), principal=0)
    with pytest.raises(InvalidInput):
        top_up(card, amount, 0, "cash", desk.cashier, "tu1")
    assert Card.get_by_id(card).principal_fen == 0


def test_top_up_refuses_unknown_card_and_non_stored_value(desk):
    with pytest.raises(UnknownCard):
        top_up("nope", 100, 0, "cash", desk.cashier, "tu1")
    package = issue_card(member(desk), "V10", desk.cashier, "i1")
    with pytest.raises(WrongCardKind):
        top_up(package.card_id, 100, 0, "cash", desk.cashier, "tu2")


# --- check-in --------------------------------------------------------------------------------------------------


def test_check_in_uses_one_visit_and_records_visit(desk):
    card = issue_card(member(desk), "V10", desk.cashier, "i1")
    result = check_in(card.card_id, desk.cashier, "c1")
    assert result.visits_left == 9
    assert Visit.select().count() == 1


def test_check_in_refuses_used_up_package(desk):
    card = issue_card(member(desk), "V10", desk.cashier, "i1")
    for i in range(10):
        check_in(card.card_id, desk.cashier, f"c{i}", again=True)  # ten visits in a row, on purpose
    with pytest.raises(InsufficientBalance):
        check_in(card.card_id, desk.cashier, "c10", again=True)
    assert Visit.select().count() == 10


def test_check_in_refuses_expired_pass(desk):
    card = issue_card(member(desk), "M1", desk.cashier, "i1", on=clock.today() - dt.timedelta(days=40))
    with pytest.raises(CardExpired):
        check_in(card.card_id, desk.cashier, "c1")


def test_check_in_validates_pass_without_ledger_entries(desk):
    card = issue_card(member(desk), "M1", desk.cashier, "i1")
    check_in(card.card_id, desk.cashier, "c1")
    assert Entry.select().join(Transaction).where(Transaction.txid == "c1").count() == 0
    assert Visit.select().count() == 1


# --- checkout --------------------------------------------------------------------------------------------------


def test_checkout_split_tender_principal_before_bonus_and_points_on_money_only(desk):
    m = member(desk)
    card = sv_card(desk, m, principal=5_000, bonus=10_000)
    # 精剪 ¥88 + 2 × water ¥3 = ¥94: ¥60 stored value (¥50 principal, ¥10 bonus) + ¥40 cash → ¥6 change
    result = checkout(m, [("HAIR", 1), ("WATER", 2)],
                      [TenderRequest("stored_value", 6_000), TenderRequest("cash", 4_000)], desk.cashier, "s1")
    assert (result.total_fen, result.change_fen) == (9_400, 600)
    c = Card.get_by_id(card)
    assert (c.principal_fen, c.bonus_fen) == (0, 9_000)
    # points: ¥50 principal + ¥34 cash net of change = ¥84 → 84 points (bonus value earns none)
    assert result.points_earned == 84
    assert c.points == 84
    assert check_ledger() == []


def test_checkout_applies_tier_discount_with_reason(desk):
    m = member(desk)
    update_member(m, desk.manager, "u1", tier="GOLD")
    q = quote(m, [("HAIR", 1)])
    assert q.lines[0].unit_price_fen == 7_920
    assert "金卡会员" in q.lines[0].discount_reason


def test_checkout_pays_with_points_at_configured_rate(desk):
    m = member(desk)
    card = sv_card(desk, m, principal=100_000)
    checkout(m, ["SPA"], [("stored_value", 49_800)], desk.cashier, "s1")  # earns 498 points
    result = checkout(m, ["WATER"], [("points", 300)], desk.cashier, "s2")
    assert result.points_redeemed == 300 and result.points_earned == 0
    assert Card.get_by_id(card).points == 198


def test_checkout_refusals_leave_nothing_behind(desk):
    m = member(desk)
    sv_card(desk, m, principal=1_000)
    before = (Sale.select().count(), Entry.select().count())
    with pytest.raises(InsufficientBalance):
        checkout(m, ["HAIR"], [("stored_value", 8_800)], desk.cashier, "s1")
    with pytest.raises(InsufficientBalance):
        checkout(m, ["HAIR"], [("cash", 100)], desk.cashier, "s2")
    with pytest.raises(InvalidInput):
        checkout(m, ["HAIR"], [("wechat", 9_000)], desk.cashier, "s3")  # only cash gives change
    with pytest.raises(InvalidInput):
        checkout(m, ["HAIR"], [("cash", -1)], desk.cashier, "s4")
    with pytest.raises(UnknownItem):
        checkout(m, ["NOPE"], [("cash", 100)], desk.cashier, "s5")
    assert (Sale.select().count(), Entry.select().count()) == before


def test_checkout_refuses_frozen_stored_value_card(desk):
    m = member(desk)
    card = sv_card(desk, m, principal=100_000)
    report_lost(card, desk.cashier, "l1")
    with pytest.raises((CardLost, WrongCardKind)):
        checkout(m, ["HAIR"], [("stored_value", 8_800, card)], desk.cashier, "s1")


def test_checkout_by_product_barcode(desk):
    result = checkout(None, ["6920000000012"], [("cash", 300)], desk.cashier, "s1")
    assert result.lines[0]["code"] == "WATER"


def test_spend_upgrades_tier(desk):
    m = member(desk)
    sv_card(desk, m, principal=200_000)
    result = checkout(m, [("SPA", 3)], [("stored_value", 149_400)], desk.cashier, "s1")
    assert result.tier_code == "SILVER"
    assert Member.get_by_id(m).tier.code == "SILVER"


# --- idempotency -----------------------------------------------------------------------------------------------


def test_same_checkout_twice_is_one_sale(desk):
    m = member(desk)
    sv_card(desk, m)
    first = checkout(m, ["HAIR"], [("stored_value", 8_800)], desk.cashier, "same")
    again = checkout(m, ["HAIR"], [("stored_value", 8_800)], desk.cashier, "same")
    assert first == again
    assert Sale.select().count() == 1
    assert Entry.select().join(Transaction).where(Transaction.txid == "same").count() == first_entries(first)


def first_entries(result) -> int:
    return Entry.select().join(Transaction).where(Transaction.txid == result.txid).count()


def test_same_txid_different_content_conflicts(desk):
    m = member(desk)
    card = sv_card(desk, m)
    top_up(card, 1_000, 0, "cash", desk.cashier, "tx")
    with pytest.raises(TxidConflict):
        top_up(card, 2_000, 0, "cash", desk.cashier, "tx")
    assert Card.get_by_id(card).principal_fen == 101_000


# --- refunds ---------------------------------------------------------------------------------------------------


def test_refund_of_checkout_returns_what_was_paid_and_takes_back_points(desk):
    m = member(desk)
    card = sv_card(desk, m, principal=100_000, bonus=0)
    checkout(m, ["SPA"], [("stored_value", 49_800)], desk.cashier, "s1")
    result = refund("s1", desk.manager, "customer unhappy", "r1")
    c = Card.get_by_id(card)
    assert (c.principal_fen, c.points) == (100_000, 0)
    assert Sale.get().status == "refunded"
    assert result.reversed_txid == "s1"
    assert Member.get_by_id(m).total_spend_fen == 0
    assert check_ledger() == []


def test_refund_only_once(desk):
    card = sv_card(desk, member(desk))
    refund("topup-1001", desk.manager, "mistake", "r1")
    with pytest.raises(AlreadyReversed):
        refund("topup-1001", desk.manager, "again", "r2")
    assert refund("topup-1001", desk.manager, "mistake", "r1").txid == "r1"  # a retry is not a second refund
    assert Card.get_by_id(card).principal_fen == 0


def test_refund_needs_manager_and_refundable_kind(desk):
    m = member(desk)
    sv_card(desk, m)
    with pytest.raises(PermissionDenied):
        refund("topup-1001", desk.cashier, "x", "r1")
    with pytest.raises(NotRefundable):
        refund(f"reg-{Member.get_by_id(m).phone}", desk.manager, "x", "r2")


def test_refund_of_spent_top_up_is_refused(desk):
    m = member(desk)
    sv_card(desk, m, principal=10_000)
    checkout(m, ["HAIR"], [("stored_value", 8_800)], desk.cashier, "s1")
    with pytest.raises(InsufficientBalance):
        refund("topup-1001", desk.manager, "x", "r1")
    assert check_ledger() == []


def test_refund_of_check_in_gives_visit_back(desk):
    card = issue_card(member(desk), "V10", desk.cashier, "i1")
    check_in(card.card_id, desk.cashier, "c1")
    refund("c1", desk.manager, "wrong card", "r1")
    assert Card.get_by_id(card.card_id).visits_left == 10
    assert Visit.get().status == "reversed"


# --- staff -----------------------------------------------------------------------------------------------------


def test_wrong_pin_is_refused_and_counted(desk):
    with pytest.raises(WrongPin):
        authenticate("c01", "9999")
    assert desk.cashier.__class__.get_by_id(desk.cashier.id).failed_logins == 1
    assert authenticate("c01", "0000").id == desk.cashier.id


def test_check_finds_tampered_cache(desk):
    card = sv_card(desk, member(desk))
    Card.update(principal_fen=999).where(Card.id == card).execute()
    problems = check_ledger()
    assert [p.rule for p in problems] == ["cache"]


# --- schema ----------------------------------------------------------------------------------------------------


def _rebuild_sqlite_table_without(database, table: str, column: str) -> None:
    import re

    sql, = database.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    indexes = [i for (i,) in database.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
    sql = re.sub(rf'"{column}" [A-Z]+( NOT NULL)?, ', "", sql)
    sql = re.sub(rf', FOREIGN KEY \("{column}"\) REFERENCES [^,)]+\([^)]*\)( ON DELETE [A-Z]+)?', "", sql)
    keep = ", ".join(f'"{c.name}"' for c in database.get_columns(table) if c.name != column)
    database.execute_sql("PRAGMA foreign_keys = OFF")
    database.execute_sql(sql.replace(f'CREATE TABLE "{table}"', f'CREATE TABLE "{table}_old"', 1))
    database.execute_sql(f'INSERT INTO "{table}_old" ({keep}) SELECT {keep} FROM "{table}"')
    database.execute_sql(f'DROP TABLE "{table}"')
    database.execute_sql(f'ALTER TABLE "{table}_old" RENAME TO "{table}"')
    for index in indexes:
        database.execute_sql(index)
    database.execute_sql("PRAGMA foreign_keys = ON")
    assert column not in {c.name for c in database.get_columns(table)}


def column_definitions() -> dict[str, list[tuple[str, str, bool]]]:
    """Every table's columns: (name, type, nullable), in the database's own words."""
    from mms_tui.db import database

    tables = sorted(database.get_tables())
    return {t: sorted((c.name, c.data_type.lower(), c.null) for c in database.get_columns(t)) for t in tables}


def index_definitions() -> dict[str, tuple[str, str]]:
    """Every index of the database: name → (table, definition), as the database itself states them."""
    from mms_tui.db import database, is_sqlite

    if is_sqlite():
        query = "SELECT name, tbl_name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    return {name: (table, definition) for name, table, definition in database.execute_sql(query).fetchall()}


def test_init_upgrades_a_version_1_database_to_the_indexes_a_new_one_has(desk):
    """Migrations 2–8 (the reports' indexes, prefix indexes dropped, the loyalty tables and columns, the PIN
    lockout's columns and shifts, chains, transactions' local days, staff administration, the store tree's columns) on a database
    made before them: `mms init` leaves it with exactly the tables, columns and indexes of a database created
    today, and a second run changes nothing."""
    from mms_tui.db import database, is_sqlite
    from mms_tui.models import SchemaVersion
    from mms_tui.models.migrations import LATEST, LOCAL_DAY_INDEX, REPORT_INDEXES, current_version
    from mms_tui.services.ops.setup import initialise

    new = index_definitions()
    assert "ledger_entry_card_id_account_amount" in new and "ledger_entry_card_id_account" not in new
    assert "ledger_entry_card_id" not in new and "card_card_type_id" not in new
    columns = column_definitions()
    database.execute_sql('DROP TABLE "coupon"')  # back to how version 1 left it: migration 4's table and columns
    database.execute_sql('DROP TABLE "shift"')  # and migration 5's
    for table in ("member_tag", "member_field_value", "member_field", "consent"):  # and migration 8's
        database.execute_sql(f'DROP TABLE "{table}"')
    for column in ("address", "email", "preferences"):
        database.execute_sql(f'ALTER TABLE "member" DROP COLUMN "{column}"')
    database.execute_sql('DROP TABLE "staff_service"')  # and migration 9's
    database.execute_sql('DROP TABLE "card_type_store"')  # and migration 11's
    for column in ("last_failed_at", "locked_until", "last_login_at", "must_change_pin", "performer", "level"):
        database.execute_sql(f'ALTER TABLE "staff" DROP COLUMN "{column}"')
    for table, column in (("member", "family_id"), ("member", "fees_paid_until"), ("card_type", "transferable"),
                          ("card_type", "start_on_first_use"), ("card_type", "max_freeze_days"),
                          ("card", "freeze_year"), ("card", "freeze_days_year")):
        if column == "family_id":
            database.execute_sql('DROP INDEX "member_family_id"')
            if is_sqlite():  # SQLite drops no column a foreign key names: the table is rebuilt without it
                _rebuild_sqlite_table_without(database, "member", "family_id")
                continue
        database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    for name, _table, _columns in REPORT_INDEXES:
        database.execute_sql(f'DROP INDEX IF EXISTS "{name}"')  # (the day index: migration 7's replaced it)
    database.execute_sql(f'DROP INDEX "{LOCAL_DAY_INDEX}"')  # and migration 7's own
    database.execute_sql('ALTER TABLE "ledger_transaction" DROP COLUMN "local_day"')
    database.execute_sql('CREATE INDEX "ledger_entry_card_id_account" ON "ledger_entry" ("card_id", "account")')
    database.execute_sql('CREATE INDEX "ledger_entry_card_id" ON "ledger_entry" ("card_id")')  # dropped by 3
    database.execute_sql('CREATE INDEX "card_card_type_id" ON "card" ("card_type_id")')
    for column in ("kind", "address", "phone", "receipt_header", "closed_at"):  # migration 10's
        database.execute_sql(f'ALTER TABLE "store" DROP COLUMN "{column}"')
    for column, definition in (("discount_bp", "INTEGER NOT NULL DEFAULT 10000"),  # migration 12 moved these out
                               ("points_pct", "INTEGER NOT NULL DEFAULT 100"),
                               ("upgrade_spend_fen", "BIGINT NOT NULL DEFAULT 0")):
        database.execute_sql(f'ALTER TABLE "tier" ADD COLUMN "{column}" {definition}')
    SchemaVersion.delete().where(SchemaVersion.version > 1).execute()
    assert current_version() == 1

    upgraded = initialise()
    assert upgraded.applied == list(range(2, LATEST + 1)) and upgraded.version == LATEST
    assert index_definitions() == new
    assert column_definitions() == columns
    assert initialise().applied == []
