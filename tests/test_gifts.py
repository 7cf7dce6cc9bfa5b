"""积分兑换 (issue #6): gifts from the rules' points catalogue, taken for a card's points, oldest points first;
once per operation, refused when the points are not there, refunded with the points given back."""

from __future__ import annotations

import pytest

from mms_tui.models import Card, Entry, Transaction
from mms_tui.services.base.errors import InsufficientBalance, InvalidInput
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
