"""Top-ups take their bonus and tier from the loyalty rules (充1000送200), time-limited rules included; the old
``topup_bonus_rules`` setting is no longer read."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mms_tui.i18n import set_language
from mms_tui.models import AuditEvent, Card, Member, Tier, Transaction
from mms_tui.services.base.config import set_config
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member, update_member
from mms_tui.services.money.topup import top_up, topup_offer


def topup_bonus(amount_fen: int) -> int:
    """The bonus the desk offers for a top-up of ``amount_fen`` today."""
    return topup_offer(amount_fen).bonus_fen


@pytest.fixture
def card(desk):
    member = register_member("张三", "13800138000", desk.cashier, "reg").member_id
    desk.member_id = member
    desk.card_id = issue_card(member, "SV", desk.cashier, "sv", card_no="S001").card_id
    return desk


def tier_of(member_id: int) -> str:
    return Member.select(Tier.code).join(Tier).where(Member.id == member_id).scalar()


@pytest.mark.parametrize("amount, bonus, text", [
    (99_999, 5_000, "Top up ¥500, get ¥50 free"),  # ¥999.99 reaches only 充500送50
    (100_000, 20_000, "Top up ¥1000, get ¥200 free"),
])
def test_top_up_999_99_gets_50_and_1000_00_gets_200(card, amount, bonus, text):
    offer = topup_offer(amount)
    assert (offer.bonus_fen, offer.explanation) == (bonus, text)
    result = top_up(card.card_id, amount, None, "cash", card.cashier, "t1")
    assert (result.bonus_fen, result.explanation) == (bonus, text)
    assert (Card.get_by_id(card.card_id).principal_fen, Card.get_by_id(card.card_id).bonus_fen) == (amount, bonus)
    assert check_ledger() == []


def test_the_explanation_reads_充1000送200_in_chinese(card):
    set_language("zh")
    try:
        assert topup_offer(100_000).explanation == "充1000送200"
    finally:
        set_language("en")


def test_a_june_only_充1000送300_has_expired_by_july_and_充1000送200_applies_again(card):
    save_rules({"topup": {"bonuses": [
        {"threshold": "1000", "bonus": "300", "valid_from": "2024-06-01", "valid_until": "2024-06-30"},
        {"threshold": "1000", "bonus": "200"}]}}, card.manager)
    assert topup_offer(100_000, dt.date(2024, 6, 30)).bonus_fen == 30_000
    assert topup_offer(100_000, dt.date(2024, 7, 1)).bonus_fen == 20_000


def test_a_top_up_today_does_not_get_a_rule_that_ended_yesterday(card, today):
    save_rules({"topup": {"bonuses": [
        {"threshold": "1000", "bonus": "300", "valid_until": (today - dt.timedelta(days=1)).isoformat()},
        {"threshold": "1000", "bonus": "200"}]}}, card.manager)
    result = top_up(card.card_id, 100_000, None, "cash", card.cashier, "t1")
    assert result.bonus_fen == 20_000
    assert topup_bonus(100_000) == 20_000


def test_the_old_topup_bonus_rules_setting_is_no_longer_a_second_source(card):
    set_config("topup_bonus_rules", [[100, 99_999]])
    assert topup_bonus(100_000) == 20_000  # the rules' defaults, not the old setting
    save_rules({"topup": {"bonuses": []}}, card.manager)
    assert topup_bonus(100_000) == 0 and topup_offer(100_000).explanation == ""


def test_a_bonus_a_manager_gives_is_recorded_as_given(card):
    result = top_up(card.card_id, 100_000, 0, "cash", card.manager, "t1")
    assert (result.bonus_fen, result.explanation) == (0, "")
    payload = json.loads(Transaction.get(Transaction.txid == "t1").payload)  # (kept on its transaction)
    assert (payload["bonus_fen"], payload["rule_bonus_fen"]) == (0, 20_000)


def test_a_retry_with_the_same_txid_tops_up_once_even_after_the_rules_change(card):
    first = top_up(card.card_id, 100_000, None, "cash", card.cashier, "t1")
    save_rules({"topup": {"bonuses": []}}, card.manager)
    again = top_up(card.card_id, 100_000, None, "cash", card.cashier, "t1")
    assert again == first
    assert Card.get_by_id(card.card_id).bonus_fen == 20_000


# --- a tier with a top-up ------------------------------------------------------------------------------------------

GOLD_AT_5000 = {"topup": {"bonuses": [{"threshold": "1000", "bonus": "200"},
                                      {"threshold": "5000", "bonus": "1000", "tier": "GOLD"}]}}


@pytest.mark.parametrize("amount, tier", [(500_000, "GOLD"), (499_999, "NORMAL")])
def test_a_top_up_of_5000_00_makes_gold_at_once_and_4999_99_does_not(card, amount, tier):
    save_rules(GOLD_AT_5000, card.manager)
    assert topup_offer(500_000).text == "Top up ¥5000, get ¥1000 free; upgrade to 金卡会员"
    result = top_up(card.card_id, amount, None, "cash", card.cashier, "t1")
    assert tier_of(card.member_id) == tier
    assert (result.tier_code, result.tier_up) == (tier, tier == "GOLD")
    ups = [json.loads(e.payload) for e in AuditEvent.select().where(AuditEvent.action == "member.tier_up")]
    assert [(u["from"], u["to"], u["reason"]) for u in ups] == ([("NORMAL", "GOLD", "topup")] if tier == "GOLD" else [])


def test_a_top_up_never_moves_a_diamond_member_down_to_gold(card):
    save_rules(GOLD_AT_5000, card.manager)
    update_member(card.member_id, card.manager, "u1", tier="DIAMOND")
    result = top_up(card.card_id, 500_000, None, "cash", card.cashier, "t1")
    assert (result.tier_code, result.tier_up) == ("DIAMOND", False)
    assert tier_of(card.member_id) == "DIAMOND"


# --- the screen ------------------------------------------------------------------------------------------------------


async def test_the_top_up_screen_explains_the_bonus_it_fills_in(sqlite_desk):
    from textual.widgets import Input, Label, Static

    from mms_tui.screens.member import MemberScreen
    from tests.test_tui import at_desk, open_member, settle, text

    member = register_member("张三", "13800138000", sqlite_desk.cashier, "reg").member_id
    issue_card(member, "SV", sqlite_desk.cashier, "sv", card_no="00012345")
    save_rules(GOLD_AT_5000, sqlite_desk.manager)
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press(*"5000")
        await settle(pilot)
        assert app.screen.query_one("#bonus", Input).value == "1000"
        assert text(app.screen.query_one("#bonus-rule", Label)) == "Top up ¥5000, get ¥1000 free; upgrade to 金卡会员"
        await pilot.press("f10")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, MemberScreen)
        assert "金卡会员" in text(app.screen.query_one("#outcome", Static))
    assert tier_of(member) == "GOLD"
