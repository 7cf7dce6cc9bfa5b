"""积分兑换 (issue #6): gifts from the rules' points catalogue, taken for a card's points, oldest points first;
once per operation, refused when the points are not there, refunded with the points given back. 积分兑换现金券
(issue #25): a gift that is a coupon, issued to the member, withdrawn by the gift's refund unless already used."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mms_tui.models import AuditEvent, Card, Coupon, Entry, Transaction
from mms_tui.services.base.errors import InsufficientBalance, InvalidInput, NotRefundable
from mms_tui.services.base.resolve import today
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.points import card_lots, gift_catalogue, redeem_gift
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.members.view import member_history
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund

GIFTS = [{"code": "TOWEL", "name": "毛巾", "points": 9_000}, {"code": "CAKE", "name": "生日蛋糕", "points": 2_000}]


@pytest.fixture
def member(desk):
    return _with_points(desk)


@pytest.fixture
def sqlite_member(sqlite_desk):
    return _with_points(sqlite_desk)


def _with_points(desk):
    save_rules({"points": {"per_yuan": 10, "gifts": GIFTS}}, desk.manager)
    desk.member_id = register_member("张三", "13800138000", desk.cashier, "reg").member_id
    issue_card(desk.member_id, "PT", desk.cashier, "pt", card_no="P001")
    checkout(desk.member_id, ["SPA"], [("cash", 49_800)], desk.cashier, "spa")  # ¥498 × 10 = 4,980 points
    assert Card.get(Card.card_no == "P001").points == 4_980
    return desk


def test_the_catalogue_is_listed_cheapest_first(member):
    assert [(g.code, g.points) for g in gift_catalogue()] == [("CAKE", 2_000), ("TOWEL", 9_000)]


def test_a_cake_for_2000_of_4980_points_leaves_2980_and_says_so_in_the_history(member):
    result = redeem_gift("P001", "cake", member.cashier, "g1")
    assert (result.gift_name, result.points, result.points_after) == ("生日蛋糕", 2_000, 2_980)
    entries = sorted((e.account, e.amount) for e in Entry.select().join(Transaction).where(Transaction.txid == "g1"))
    assert entries == [("card.points", -2_000), ("points.redeemed", 2_000)]
    row = next(r for r in member_history(member.member_id) if r.kind == "gift")
    assert (row.label, row.detail, row.points, row.refundable) == ("Gift for points", "生日蛋糕", -2_000, True)
    assert check_ledger() == []


def test_the_same_operation_twice_gives_one_cake(member):
    first = redeem_gift("P001", "CAKE", member.cashier, "g1")
    assert redeem_gift("P001", "CAKE", member.cashier, "g1") == first
    assert Card.get(Card.card_no == "P001").points == 2_980


def test_a_towel_for_9000_with_4980_points_is_refused_and_nothing_moves(member):
    with pytest.raises(InsufficientBalance, match="has 4980, needs 9000"):
        redeem_gift("P001", "TOWEL", member.cashier, "g1")
    assert Card.get(Card.card_no == "P001").points == 4_980
    assert Transaction.get_or_none(Transaction.txid == "g1") is None


def test_a_gift_not_in_the_catalogue_names_the_ones_that_are(member):
    with pytest.raises(InvalidInput, match="No gift MUG in the points catalogue \\(gifts: CAKE, TOWEL\\)"):
        redeem_gift("P001", "MUG", member.cashier, "g1")


def test_a_refunded_gift_gives_the_points_back_with_their_day(member):
    redeem_gift("P001", "CAKE", member.cashier, "g1")
    refund("g1", member.manager, "wrong gift", "r1")
    assert Card.get(Card.card_no == "P001").points == 4_980
    assert sum(lot.points for lot in card_lots("P001")) == 4_980
    assert check_ledger() == []


async def test_ctrl_g_on_the_member_screen_gives_the_cake_for_points(sqlite_member):
    from textual.widgets import OptionList, Static

    from mms_tui.screens.cards import GiftScreen
    from mms_tui.screens.member import MemberScreen
    from tests.test_tui import at_desk, open_member, settle, text

    async with at_desk(sqlite_member) as (app, pilot):
        await open_member(pilot, "P001")
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, GiftScreen)
        options = app.screen.query_one("#gift-list", OptionList)
        assert options.get_option_at_index(1).disabled  # the towel costs more than the card holds
        await pilot.press("enter")  # the first: the cake
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen)
        assert "生日蛋糕" in text(app.screen.query_one("#outcome", Static))
    assert Card.get(Card.card_no == "P001").points == 2_980


# --- 积分兑换现金券 (issue #25): a gift that is a coupon -----------------------------------------------------------

COUPON_RULES = {
    "points": {"per_yuan": 10, "gifts": [*GIFTS, {"code": "CASH10", "name": "¥10 现金券", "points": 1_000,
                                                  "coupon": "CASH10", "valid_days": 30}]},
    "promotions": [{"code": "CASH10", "name": "积分兑换¥10现金券", "kind": "amount", "amount": "10", "auto": False}],
}


@pytest.fixture
def coupon_member(member):
    save_rules(COUPON_RULES, member.manager)
    return member


def _coupon(code: str) -> Coupon:
    return Coupon.get(Coupon.code == code)


def test_1000_points_buy_the_member_a_10_yuan_coupon_valid_30_days_that_pays_a_bill(coupon_member):
    desk = coupon_member
    result = redeem_gift("P001", "CASH10", desk.cashier, "g1")
    day = today()
    assert (result.points, result.points_after) == (1_000, 3_980)
    coupon = _coupon(result.coupon_code)
    assert (coupon.member_id, coupon.promotion, coupon.reason, coupon.used_at) == (desk.member_id, "CASH10",
                                                                                    "points", None)
    assert (coupon.valid_from, coupon.valid_until) == (day, day + dt.timedelta(days=29))
    assert result.coupon_valid_until == (day + dt.timedelta(days=29)).isoformat()
    issued = AuditEvent.get(AuditEvent.action == "coupon.issue")
    assert issued.txid == "g1" and result.coupon_code in issued.payload
    assert redeem_gift("P001", "CASH10", desk.cashier, "g1") == result  # the same operation: one coupon
    assert Coupon.select().count() == 1
    sale = checkout(desk.member_id, ["SPA"], [("cash", 48_800)], desk.cashier, "s2")  # ¥498 − ¥10
    assert sale.total_fen == 48_800
    assert _coupon(result.coupon_code).used_at is not None
    assert check_ledger() == []


def test_refunding_an_unused_coupon_gift_gives_the_points_back_and_the_coupon_no_longer_pays(coupon_member):
    desk = coupon_member
    code = redeem_gift("P001", "CASH10", desk.cashier, "g1").coupon_code
    done = refund("g1", desk.manager, "changed her mind", "r1")
    assert Card.get(Card.card_no == "P001").points == 4_980
    withdrawn = _coupon(code)
    assert withdrawn.used_at is not None and withdrawn.transaction_id == Transaction.get(Transaction.txid == "r1").id
    assert code in AuditEvent.get(AuditEvent.txid == done.txid, AuditEvent.action == "ledger.refund").payload
    with pytest.raises(InvalidInput, match=f"Coupon {code} was already used"):
        checkout(desk.member_id, ["SPA"], [("cash", 48_800)], desk.cashier, "s2", coupons=[code])
    assert check_ledger() == []


def test_a_coupon_gift_whose_coupon_paid_a_sale_is_not_refunded_and_nothing_moves(coupon_member):
    desk = coupon_member
    code = redeem_gift("P001", "CASH10", desk.cashier, "g1").coupon_code
    checkout(desk.member_id, ["SPA"], [("cash", 48_800)], desk.cashier, "s2")
    points = Card.get(Card.card_no == "P001").points
    with pytest.raises(NotRefundable, match=f"Coupon {code}, bought with these points, was used on .*refund that "
                                            "sale first"):
        refund("g1", desk.manager, "changed her mind", "r1")
    assert Card.get(Card.card_no == "P001").points == points
    assert Transaction.get_or_none(Transaction.txid == "r1") is None
    assert _coupon(code).transaction_id == Transaction.get(Transaction.txid == "s2").id
    refund("s2", desk.manager, "returned", "r2")  # the sale first: the coupon is open again, then the gift
    refund("g1", desk.manager, "changed her mind", "r1")
    assert _coupon(code).transaction_id == Transaction.get(Transaction.txid == "r1").id
    assert check_ledger() == []


def test_a_plain_gift_issues_no_coupon(coupon_member):
    result = redeem_gift("P001", "CAKE", coupon_member.cashier, "g1")
    assert (result.coupon_code, result.coupon_valid_until) == (None, None)
    assert Coupon.select().count() == 0


def test_coupon_gifts_in_the_rules_name_a_coupon_promotion_and_round_trip(coupon_member):
    from mms_tui.services.base.errors import RulesInvalid
    from mms_tui.services.loyalty.rules_files import rules_to_text
    from mms_tui.services.loyalty.rules_store import load_rules

    assert '"coupon": "CASH10"' in rules_to_text(load_rules(), "json")
    assert next(g for g in load_rules().points.gifts if g.code == "CASH10").valid_days == 30
    bad = {"points": {"gifts": [{"code": "A", "name": "a", "points": 10, "coupon": "NOPE"},
                                {"code": "B", "name": "b", "points": 10, "coupon": "AUTO"},
                                {"code": "C", "name": "c", "points": 10, "valid_days": 5},
                                {"code": "D", "name": "d", "points": 10, "coupon": "CASH10", "valid_days": 0}]},
           "promotions": [*COUPON_RULES["promotions"],
                          {"code": "AUTO", "name": "九折", "kind": "percent", "percent": 10, "auto": True}]}
    with pytest.raises(RulesInvalid) as caught:
        save_rules(bad, coupon_member.manager)
    problems = "\n".join(caught.value.errors)
    assert "points.gifts[1].coupon: no promotion NOPE" in problems
    assert "points.gifts[2].coupon: promotion AUTO applies to everyone" in problems
    assert "points.gifts[3].valid_days: only a gift that is a coupon has valid days" in problems
    assert "points.gifts[4].valid_days: must be between 1 and 3650" in problems
    assert len(caught.value.errors) == 4


def test_mms_points_gifts_and_gift_give_a_coupon_by_command_once_per_txid(run, sqlite_member):
    from tests.conftest import CASHIER_PIN

    save_rules(COUPON_RULES, sqlite_member.manager)
    db = sqlite_member.target
    listed = run("--db", db, "points", "gifts", "--format", "csv")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == ["code,name,points,coupon,valid_days", "CASH10,¥10 现金券,1000,CASH10,30",
                                          "CAKE,生日蛋糕,2000,,", "TOWEL,毛巾,9000,,"]
    args = ("--db", db, "points", "gift", "P001", "cash10", "--txid", "cli-g1", "--staff", "c01", "--pin-stdin",
            "--format", "json")
    first = run(*args, input=f"{CASHIER_PIN}\n")
    assert first.exit_code == 0, first.output
    row = json.loads(first.stdout)[0]
    assert (row["points"], row["points_after"], row["coupon"]) == (1_000, 3_980, row["coupon"])
    assert row["coupon"].startswith("CASH10-")
    again = run(*args, input=f"{CASHIER_PIN}\n")
    assert json.loads(again.stdout) == [row]
    poor = run("--db", db, "points", "gift", "P001", "TOWEL", "--staff", "c01", "--pin-stdin", input=f"{CASHIER_PIN}\n")
    assert poor.exit_code == 1 and "Traceback" not in poor.output
    assert "needs 9000" in poor.stderr


async def test_ctrl_g_gives_a_coupon_for_points_and_says_its_number_and_last_day(sqlite_member):
    from textual.widgets import OptionList, Static

    from mms_tui.screens.cards import GiftScreen
    from mms_tui.screens.member import MemberScreen
    from tests.test_tui import at_desk, open_member, settle, text

    save_rules(COUPON_RULES, sqlite_member.manager)
    async with at_desk(sqlite_member) as (app, pilot):
        await open_member(pilot, "P001")
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, GiftScreen)
        options = app.screen.query_one("#gift-list", OptionList)
        assert options.get_option_at_index(0).id == "CASH10"  # the cheapest first
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen)
        coupon = Coupon.get(Coupon.member == sqlite_member.member_id)
        shown = text(app.screen.query_one("#outcome", Static))
        assert coupon.code in shown and coupon.valid_until.isoformat() in shown
    assert Card.get(Card.card_no == "P001").points == 3_980
