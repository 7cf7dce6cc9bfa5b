"""Points expire first in, first out (``mms points expire``): the boundary day, FIFO against spending and refunds,
dates kept through a card replacement and an import, idempotent runs, the desk's notice, the command."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mms_tui.models import AuditEvent, Card, Entry, Transaction
from mms_tui.services.exchange.importing import import_file
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.earning import points_expire_on
from mms_tui.services.loyalty.points import card_lots, expire_points, next_points_expiry
from mms_tui.services.loyalty.rules_store import load_rules, save_rules
from mms_tui.services.members.cards import issue_card, replace_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.ops.setup import connect
from tests.conftest import rechain_history


def on(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


def backdate(txid: str, day: str) -> None:
    """Pretend the operation happened on ``day`` (its transaction dates its points)."""
    Transaction.update(created_at=dt.datetime.combine(on(day), dt.time(12))).where(Transaction.txid == txid).execute()
    rechain_history()


@pytest.fixture
def shop(desk):
    save_rules({"points": {"expire_months": 12}}, desk.manager)
    member = register_member("张三", "13800138000", desk.cashier, "reg").member_id
    card = issue_card(member, "PT", desk.cashier, "pt", card_no="P001").card_id
    desk.member_id, desk.card_id = member, card
    return desk


def earn(desk, txid: str, day: str, item: str = "HAIR", qty: int = 1, amount: int | None = None) -> int:
    """A cash sale on ``day``; returns the points it earned (1 per yuan)."""
    prices = {"HAIR": 8_800, "SPA": 49_800, "WATER": 300}
    result = checkout(desk.member_id, [(item, qty)], [("cash", amount or prices[item] * qty)], desk.cashier, txid)
    backdate(txid, day)
    return result.points_earned


def spend_points(desk, txid: str, day: str, qty: int) -> None:
    """Pay ``qty`` bottles of water (¥3 each) wholly with points (1 point = 1 fen): 300 points a bottle, and
    nothing new is earned."""
    checkout(desk.member_id, [("WATER", qty)], [("points", 300 * qty, "P001")], desk.cashier, txid)
    backdate(txid, day)


def points_on_card(desk) -> int:
    return Card.get_by_id(desk.card_id).points


def expire(desk, day: str, **kwargs):
    return expire_points(on(day), staff=desk.admin, **kwargs)


# --- the boundary day ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of, expired", [("2025-03-09", 0), ("2025-03-10", 88), ("2025-03-11", 88)])
def test_88_points_earned_2024_03_10_with_12_months_go_on_2025_03_10_not_the_day_before(shop, as_of, expired):
    assert earn(shop, "s1", "2024-03-10") == 88
    assert points_expire_on(on("2024-03-10"), load_rules()) == on("2025-03-10")
    run = expire(shop, as_of)
    assert run.points == expired
    assert points_on_card(shop) == 88 - expired
    entries = sorted((e.account, e.amount) for e in Entry.select().join(Transaction)
                     .where(Transaction.kind == "expire"))
    assert entries == ([("card.points", -88), ("points.expired", 88)] if expired else [])
    assert check_ledger() == []


def test_the_members_history_shows_the_expiry_in_words(shop):
    from mms_tui.services.members.view import member_history

    earn(shop, "s1", "2024-03-10")
    expire(shop, "2025-03-10")
    row = next(r for r in member_history(shop.member_id) if r.kind == "expire")
    assert (row.label, row.points, row.money_fen, row.refundable) == ("Points expired", -88, 0, False)


def test_expiry_on_31_january_plus_one_month_is_29_february_in_a_leap_year(shop):
    save_rules({"points": {"expire_months": 1}}, shop.manager)
    earn(shop, "s1", "2024-01-31")
    assert expire(shop, "2024-02-28").points == 0
    assert expire(shop, "2024-02-29").points == 88


def test_an_expiry_is_one_audited_transaction_per_card_with_the_days_it_took(shop):
    earn(shop, "s1", "2024-03-10")
    run = expire(shop, "2025-03-10")
    (card,) = run.cards
    assert card.txid == f"expire-{shop.card_id}-2025-03-10" and card.card_no == "P001"
    tx = Transaction.get(Transaction.txid == card.txid)
    assert tx.kind == "expire" and tx.member_id == shop.member_id
    event = AuditEvent.get(AuditEvent.txid == card.txid)
    assert event.action == "points.expire"
    assert json.loads(event.payload)["earned"] == [["2024-03-10", 88]]


# --- first in, first out --------------------------------------------------------------------------------------


def test_fifo_498_in_january_88_in_june_spend_300_in_july_then_198_expire_in_january_and_88_in_june(shop):
    assert earn(shop, "s1", "2024-01-15", "SPA") == 498
    assert earn(shop, "s2", "2024-06-01") == 88
    spend_points(shop, "s3", "2024-07-01", 1)  # taken from January's 498: 198 of them are left
    assert [(lot.earned_on, lot.points) for lot in card_lots(shop.card_id)] == [
        (on("2024-01-15"), 198), (on("2024-06-01"), 88)]
    assert expire(shop, "2025-01-14").points == 0
    assert expire(shop, "2025-01-15").points == 198
    assert points_on_card(shop) == 88
    assert expire(shop, "2025-05-31").points == 0
    assert expire(shop, "2025-06-01").points == 88
    assert points_on_card(shop) == 0
    assert check_ledger() == []


def test_spending_more_than_the_oldest_lot_takes_the_rest_from_the_next(shop):
    earn(shop, "s1", "2024-01-15", "WATER", 2)  # 6 points
    earn(shop, "s2", "2024-02-15", "HAIR")  # 88 points
    checkout(shop.member_id, [("WATER", 1)], [("points", 50, "P001"), ("cash", 250)], shop.cashier, "s3")
    backdate("s3", "2024-03-01")  # 50 points: all 6 of January, 44 of February; the ¥2.50 cash earns 2
    assert [(lot.earned_on, lot.points) for lot in card_lots(shop.card_id)] == [
        (on("2024-02-15"), 44), (on("2024-03-01"), 2)]
    assert expire(shop, "2025-02-15").points == 44


def test_a_refund_takes_back_the_points_of_its_own_sale_not_the_oldest(shop):
    earn(shop, "s1", "2024-01-15", "SPA")  # 498
    earn(shop, "s2", "2024-06-01")  # 88
    refund("s2", shop.manager, "wrong item", "r1")
    backdate("r1", "2024-07-01")
    assert [(lot.earned_on, lot.points) for lot in card_lots(shop.card_id)] == [(on("2024-01-15"), 498)]
    assert expire(shop, "2025-01-15").points == 498
    assert points_on_card(shop) == 0
    assert check_ledger() == []


def test_points_given_back_by_a_refund_keep_the_day_they_were_earned(shop):
    earn(shop, "s1", "2024-01-15", "SPA")  # 498
    spend_points(shop, "s2", "2024-07-01", 1)
    refund("s2", shop.manager, "changed mind", "r1")
    backdate("r1", "2024-08-01")
    assert [(lot.earned_on, lot.points) for lot in card_lots(shop.card_id)] == [(on("2024-01-15"), 498)]
    assert expire(shop, "2025-01-15").points == 498


def test_a_replacement_card_keeps_the_days_its_points_were_earned(shop):
    earn(shop, "s1", "2024-01-15")
    new = replace_card(shop.card_id, "P002", shop.cashier, "rep").card_id
    backdate("rep", "2024-12-01")
    run = expire(shop, "2025-01-15")
    assert [(c.card_no, c.points) for c in run.cards] == [("P002", 88)]
    assert Card.get_by_id(new).points == 0
    assert check_ledger() == []


def test_imported_opening_points_are_dated_by_their_import(shop, tmp_path):
    path = tmp_path / "members.csv"
    path.write_text("姓名,手机,卡号,积分,卡类型\n李四,13912345678,P900,1500,积分卡\n", encoding="utf-8")
    result = import_file("members", path, staff=shop.admin)
    backdate(result.txid, "2023-05-20")
    card = Card.get(Card.card_no == "P900")
    assert next_points_expiry(card).message == "1500 points expire on 2024-05-20"
    run = expire(shop, "2024-05-20")
    assert [(c.card_no, c.points) for c in run.cards] == [("P900", 1500)]
    assert check_ledger() == []


# --- idempotent runs --------------------------------------------------------------------------------------------


def test_a_second_run_for_the_same_day_or_an_earlier_one_changes_nothing(shop):
    earn(shop, "s1", "2024-01-15", "SPA")
    earn(shop, "s2", "2024-06-01")
    assert expire(shop, "2025-01-15").points == 498
    count = Transaction.select().count()
    assert expire(shop, "2025-01-15").cards == []
    assert expire(shop, "2025-01-10").cards == []
    assert Transaction.select().count() == count
    assert points_on_card(shop) == 88


def test_a_dry_run_lists_what_is_due_and_writes_nothing(shop):
    earn(shop, "s1", "2024-01-15")
    count = Transaction.select().count()
    run = expire(shop, "2025-01-15", dry_run=True)
    assert [(c.card_no, c.points, c.txid) for c in run.cards] == [("P001", 88, None)]
    assert Transaction.select().count() == count and points_on_card(shop) == 88


def test_points_never_expire_when_the_rules_say_0_months(shop):
    save_rules({"points": {"expire_months": 0}}, shop.manager)
    earn(shop, "s1", "2020-01-15")
    assert expire(shop, "2025-01-15").cards == []
    assert next_points_expiry(shop.card_id) is None


# --- the desk ---------------------------------------------------------------------------------------------------


def test_the_desk_says_198_points_expire_on_2025_01_15(shop):
    earn(shop, "s1", "2024-01-15", "SPA")
    earn(shop, "s2", "2024-06-01")
    spend_points(shop, "s3", "2024-07-01", 1)
    nxt = next_points_expiry("P001")
    assert (nxt.points, nxt.expires_on) == (198, on("2025-01-15"))
    assert nxt.message == "198 points expire on 2025-01-15"


# --- the command --------------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_shop(sqlite_desk):
    save_rules({"points": {"expire_months": 12}}, sqlite_desk.manager)
    member = register_member("张三", "13800138000", sqlite_desk.cashier, "reg").member_id
    sqlite_desk.card_id = issue_card(member, "PT", sqlite_desk.cashier, "pt", card_no="P001").card_id
    sqlite_desk.member_id = member
    earn(sqlite_desk, "s1", "2024-01-15")
    return sqlite_desk


def test_mms_points_expire_dry_run_then_run_then_again_changes_nothing(run, sqlite_shop):
    db = sqlite_shop.target
    dry = run("--db", db, "points", "expire", "--as-of", "2025-01-15", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == [{"card_no": "P001", "member_id": sqlite_shop.member_id, "points": 88,
                                       "txid": ""}]
    assert "Dry run" in dry.stderr
    first = run("--db", db, "points", "expire", "--as-of", "2025-01-15", "--format", "csv")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == ["card_no,member_id,points,txid",
                                         f"P001,{sqlite_shop.member_id},88,expire-{sqlite_shop.card_id}-2025-01-15"]
    assert first.stderr.strip() == "Expired 88 points on 1 cards as of 2025-01-15."
    again = run("--db", db, "points", "expire", "--as-of", "2025-01-15")
    assert again.exit_code == 0
    assert again.stderr.strip() == "Expired 0 points on 0 cards as of 2025-01-15."
    connect(db)
    assert Card.get_by_id(sqlite_shop.card_id).points == 0
    assert Transaction.select().where(Transaction.kind == "expire").count() == 1
    assert run("--db", db, "check").exit_code == 0


def test_mms_points_expire_with_a_bad_date_is_one_line_and_exit_2(run, sqlite_shop):
    result = run("--db", sqlite_shop.target, "points", "expire", "--as-of", "2025-02-30")
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "--as-of" in result.output
