"""Rule evaluation: worked examples per rule kind, hypothesis properties, and today's prices and points from a real
database reproduced exactly by the default rules."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mms_tui.i18n import set_language
from mms_tui.models import Card, CardType, ItemPrice, Member, Product, ServiceItem, Tier
from mms_tui.services.base.errors import InsufficientBalance, InvalidInput
from mms_tui.services.catalogue.prices import set_price
from mms_tui.services.loyalty.birthday_benefit import birthday_benefit, birthday_window
from mms_tui.services.loyalty.earning import EARNING_TENDERS, points_earned, points_expire_on
from mms_tui.services.loyalty.fees_due import due_fees
from mms_tui.services.loyalty.pricing import CartLine, CouponFacts, MemberFacts, price_cart
from mms_tui.services.loyalty.rules import Rules, default_rules
from mms_tui.services.loyalty.rules_reader import parse_rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.spending import max_points_payment, points_for_payment
from mms_tui.services.loyalty.topup_bonus import topup_bonus, topup_tier
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member, update_member
from mms_tui.services.money.checkout import checkout, quote
from mms_tui.services.money.items import LineRequest, find_item
from mms_tui.services.money.payment import TenderRequest
from mms_tui.services.money.topup import top_up, topup_offer

WED = dt.datetime(2024, 6, 5, 10, 0)  # a Wednesday morning
HAIR = CartLine("service", "HAIR", "精剪", "美发", 8_800)
SPA = CartLine("service", "SPA", "全身SPA", "理疗", 49_800)
WATER = CartLine("product", "WATER", "矿泉水", "零售", 300)
SHAMPOO = CartLine("product", "SHAMPOO", "洗发水", "零售", 6_800)
NORMAL = MemberFacts(1, "NORMAL", "普通会员")
GOLD = MemberFacts(2, "GOLD", "金卡会员", 9_000, 150)
DEFAULT = default_rules()


def item(price_fen: int, qty: int = 1, code: str = "X", category: str = "美发") -> CartLine:
    return CartLine("service", code, "项目", category, price_fen, qty)


def with_(*promotions: dict, **sections) -> Rules:
    return parse_rules({**sections, "promotions": [{"auto": True, **p} for p in promotions]})


def mj(threshold: str = "300", amount: str = "50", **more) -> dict:
    return {"code": "MJ", "kind": "threshold", "threshold": threshold, "amount": amount, **more}


@pytest.fixture
def chinese():
    set_language("zh")
    yield
    set_language("en")


# --- member price ----------------------------------------------------------------------------------------------


def test_gold_9_zhe_on_hair_88_is_79_20_explained(chinese):
    priced = price_cart(GOLD, [HAIR], WED, DEFAULT)
    assert (priced.lines[0].unit_price_fen, priced.total_fen, priced.discount_fen) == (7_920, 7_920, 880)
    assert priced.lines[0].explanations == ("金卡会员 9折",)


def test_gold_retail_override_0_percent_off_pays_list_68_for_shampoo_but_9_zhe_on_hair():
    rules = parse_rules({"tiers": {"levels": [{"tier": "GOLD", "category_discounts": {"零售": 0}}]}})
    priced = price_cart(GOLD, [SHAMPOO, HAIR], WED, rules)
    assert [line.line_total_fen for line in priced.lines] == [6_800, 7_920]
    assert priced.lines[0].explanations == ()


def test_gold_hair_override_20_percent_off_is_8_zhe_70_40(chinese):
    rules = parse_rules({"tiers": {"levels": [{"tier": "GOLD", "category_discounts": {"美发": 20}}]}})
    priced = price_cart(GOLD, [HAIR], WED, rules)
    assert priced.total_fen == 7_040 and priced.lines[0].explanations == ("金卡会员 8折",)


def test_discount_card_88_zhe_beats_gold_9_zhe_on_hair_88_is_77_44(chinese):
    member = MemberFacts(2, "GOLD", "金卡会员", 9_000, 150, discount_card_bp=8_800)
    priced = price_cart(member, [HAIR], WED, DEFAULT)
    assert priced.total_fen == 7_744 and priced.lines[0].explanations == ("折扣卡 88折",)


def test_gold_tier_price_68_for_hair_beats_9_zhe(chinese):
    member = MemberFacts(2, "GOLD", "金卡会员", 9_000, 150, tier_prices={("service", "HAIR"): 6_800})
    priced = price_cart(member, [HAIR, HAIR], WED, DEFAULT)
    assert priced.total_fen == 13_600 and priced.lines[0].explanations == ("金卡会员价",)


def test_walk_in_pays_list_price():
    priced = price_cart(None, [HAIR, WATER], WED, DEFAULT)
    assert (priced.subtotal_fen, priced.total_fen, priced.discount_fen) == (9_100, 9_100, 0)


@pytest.mark.parametrize("line, message", [
    (CartLine("service", "HAIR", "精剪", "美发", 8_800, 0), "Quantity must be a whole number from 1 to 9999."),
    (CartLine("service", "HAIR", "精剪", "美发", 8_800, 10_000), "Quantity must be a whole number from 1 to 9999."),
    (CartLine("service", "HAIR", "精剪", "美发", -1), "A price must be a whole number of fen, not negative."),
    (CartLine("gift", "HAIR", "精剪", "美发", 1), "A line is a product or a service, not 'gift'."),
])
def test_a_bad_line_is_refused(line, message):
    with pytest.raises(InvalidInput) as caught:
        price_cart(None, [line], WED, DEFAULT)
    assert str(caught.value) == message
    with pytest.raises(InvalidInput, match=r"^The bill has no lines\.$"):
        price_cart(None, [], WED, DEFAULT)


# --- 满减 threshold and fixed amounts -----------------------------------------------------------------------------


def test_threshold_300_off_50_at_exactly_300(chinese):
    priced = price_cart(None, [item(30_000)], WED, with_(mj()))
    assert priced.total_fen == 25_000 and priced.lines_total_fen == 30_000
    assert [(d.promotion, d.amount_fen, d.explanation) for d in priced.cart_discounts] == [("MJ", 5_000, "满300减50")]


def test_threshold_300_off_50_one_fen_under():
    priced = price_cart(None, [item(29_999)], WED, with_(mj()))
    assert priced.total_fen == 29_999 and priced.cart_discounts == () and priced.applied == ()


def test_threshold_coupon_one_fen_under_says_what_is_missing():
    rules = with_(mj(auto=False))
    priced = price_cart(NORMAL, [item(29_999)], WED, rules, coupons=[CouponFacts("C1", "MJ")])
    assert [(s.coupon, s.reason) for s in priced.skipped] == [("C1", "¥0.01 more to get ¥50 off over ¥300")]


def test_threshold_300_counts_member_price_gold_333_33_is_exactly_300_but_333_32_one_fen_under():
    assert price_cart(GOLD, [item(33_333)], WED, with_(mj())).total_fen == 30_000 - 5_000
    assert price_cart(GOLD, [item(33_332)], WED, with_(mj())).total_fen == 29_999


def test_every_300_off_50_at_650_takes_100(chinese):
    priced = price_cart(None, [item(65_000)], WED, with_(mj(repeat=True)))
    assert priced.total_fen == 55_000 and priced.cart_discounts[0].explanation == "每满300减50"


def test_threshold_100_off_20_on_hair_only_ignores_the_shampoo():
    rules = with_(mj("100", "20", categories=["美发"]))
    assert price_cart(None, [HAIR, SHAMPOO], WED, rules).total_fen == 15_600  # ¥88 of hair: not enough
    priced = price_cart(None, [HAIR, HAIR, SHAMPOO], WED, rules)
    assert priced.total_fen == 24_400 - 2_000
    assert [line.net_fen for line in priced.lines] == [7_800, 7_800, 6_800]  # the ¥20 is shared by the hair lines


def test_50_off_is_shared_over_lines_in_proportion_and_adds_up():
    priced = price_cart(None, [item(20_000, code="A"), item(10_000, code="B")], WED, with_(mj()))
    assert [line.net_fen for line in priced.lines] == [16_667, 8_333]
    assert sum(line.net_fen for line in priced.lines) == priced.total_fen == 25_000


def test_amount_off_50_on_a_30_bill_takes_30_and_the_total_is_zero(chinese):
    priced = price_cart(None, [item(3_000)], WED, with_({"code": "LJ", "kind": "amount", "amount": "50"}))
    assert priced.total_fen == 0 and priced.cart_discounts[0].amount_fen == 3_000
    assert priced.cart_discounts[0].explanation == "立减50元"


# --- percent, times, stores ------------------------------------------------------------------------------------


def test_percent_20_off_887_fen_is_710_rounded_half_up(chinese):
    priced = price_cart(None, [item(887)], WED, with_({"code": "Z", "kind": "percent", "percent": 20}))
    assert priced.total_fen == 710 and priced.lines[0].explanations == ("8折",)


def test_happy_hour_14_to_17_applies_at_16_59_not_at_17_00_or_13_59():
    rules = with_({"code": "HH", "name": "欢乐时光", "kind": "percent", "percent": 20, "hours": "14:00-17:00"})
    at = lambda h, m: price_cart(None, [HAIR], WED.replace(hour=h, minute=m), rules).total_fen  # noqa: E731
    assert (at(13, 59), at(14, 0), at(16, 59), at(17, 0)) == (8_800, 7_040, 7_040, 8_800)


def test_happy_hour_22_to_02_runs_past_midnight():
    rules = with_({"code": "NIGHT", "kind": "percent", "percent": 50, "hours": "22:00-02:00"})
    at = lambda h: price_cart(None, [HAIR], WED.replace(hour=h), rules).total_fen  # noqa: E731
    assert (at(21), at(23), at(1), at(2)) == (8_800, 4_400, 4_400, 8_800)


def test_member_day_promotion_on_wednesday_only():
    rules = with_({"code": "WED", "kind": "percent", "percent": 10, "weekdays": [3]})
    assert price_cart(None, [HAIR], WED, rules).total_fen == 7_920
    assert price_cart(None, [HAIR], WED + dt.timedelta(days=1), rules).total_fen == 8_800


def test_valid_until_30_june_includes_that_day_not_1_july():
    rules = with_({"code": "JUNE", "kind": "percent", "percent": 10, "valid_from": "2024-06-01",
                   "valid_until": "2024-06-30"})
    day = lambda m, d: price_cart(None, [HAIR], dt.datetime(2024, m, d, 12), rules).total_fen  # noqa: E731
    assert (day(5, 31), day(6, 1), day(6, 30), day(7, 1)) == (8_800, 7_920, 7_920, 8_800)


def test_a_promotion_for_store_hq_does_not_apply_in_sh01():
    rules = with_({"code": "HQ10", "kind": "percent", "percent": 10, "stores": ["HQ"], "auto": False})
    coupon = [CouponFacts("C1", "HQ10")]
    assert price_cart(NORMAL, [HAIR], WED, rules, "HQ", coupon).total_fen == 7_920
    elsewhere = price_cart(NORMAL, [HAIR], WED, rules, "SH01", coupon)
    assert elsewhere.total_fen == 8_800 and elsewhere.skipped[0].reason == "not at this store"


# --- free item, buy N get 1 ------------------------------------------------------------------------------------


def test_free_water_coupon_takes_3_off_one_of_two_waters(chinese):
    rules = with_({"code": "FW", "kind": "free_item", "item": "WATER", "auto": False})
    priced = price_cart(NORMAL, [HAIR, replace(WATER, qty=2)], WED, rules,
                        coupons=[CouponFacts("C1", "FW")])
    assert priced.total_fen == 8_800 + 300 and priced.lines[1].explanations == ("赠矿泉水",)
    assert [(a.promotion, a.coupon, a.amount_fen) for a in priced.applied] == [("FW", "C1", 300)]


def test_free_water_coupon_without_water_on_the_bill_is_not_used_and_says_why():
    rules = with_({"code": "FW", "kind": "free_item", "item": "WATER", "auto": False})
    priced = price_cart(NORMAL, [HAIR], WED, rules, coupons=[CouponFacts("C1", "FW")])
    assert priced.total_fen == 8_800 and priced.skipped[0].reason == "WATER is not on the bill"


def test_free_water_over_100_at_exactly_100_not_at_99_97():
    rules = with_({"code": "FW", "kind": "free_item", "item": "WATER", "threshold": "100"})
    assert price_cart(None, [item(9_700), WATER], WED, rules).total_fen == 9_700
    assert price_cart(None, [item(9_697), WATER], WED, rules).total_fen == 9_997


def test_buy_2_get_1_on_7_waters_gives_2_free(chinese):
    rules = with_({"code": "B2", "kind": "buy_n_get_1", "buy": 2, "items": ["WATER"]})
    priced = price_cart(None, [CartLine("product", "WATER", "矿泉水", "零售", 300, 7), HAIR], WED, rules)
    assert priced.lines[0].line_total_fen == 1_500 and priced.lines[0].explanations == ("买2送1",)
    assert priced.lines[1].line_total_fen == 8_800  # not a covered item


# --- stacking and coupons --------------------------------------------------------------------------------------


def test_stackable_threshold_and_percent_combine_on_500_to_350():
    rules = with_(mj(stacking="stackable"), {"code": "Z", "kind": "percent", "percent": 20, "stacking": "stackable"})
    priced = price_cart(None, [item(50_000)], WED, rules)
    assert priced.total_fen == 40_000 - 5_000 and [a.promotion for a in priced.applied] == ["Z", "MJ"]


def test_exclusive_8_zhe_beats_the_stack_when_cheaper_for_the_member():
    rules = with_(mj(stacking="stackable", auto=False), {"code": "Z", "kind": "percent", "percent": 20})
    priced = price_cart(NORMAL, [item(50_000)], WED, rules, coupons=[CouponFacts("C1", "MJ")])
    assert priced.total_fen == 40_000 and [a.promotion for a in priced.applied] == ["Z"]
    assert [(s.coupon, s.reason) for s in priced.skipped] == [("C1", "cannot be combined with 20% off")]


def test_the_stack_beats_an_exclusive_8_zhe_when_cheaper_for_the_member():
    rules = with_(mj("300", "100", stacking="stackable"), {"code": "Z", "kind": "percent", "percent": 20})
    priced = price_cart(None, [item(30_000)], WED, rules)
    assert priced.total_fen == 20_000 and [a.promotion for a in priced.applied] == ["MJ"]


def test_of_two_exclusive_promotions_only_the_better_one_applies():
    rules = with_({"code": "A", "kind": "percent", "percent": 10}, {"code": "B", "kind": "amount", "amount": "20"})
    priced = price_cart(None, [item(30_000)], WED, rules)
    assert [a.promotion for a in priced.applied] == ["A"] and priced.total_fen == 27_000


def test_the_same_coupon_shown_twice_applies_once():
    rules = with_({"code": "LJ", "kind": "amount", "amount": "10", "auto": False})
    priced = price_cart(NORMAL, [HAIR], WED, rules, coupons=[CouponFacts("C1", "LJ"), CouponFacts("C1", "LJ")])
    assert priced.total_fen == 7_800 and len(priced.applied) == 1 and priced.skipped == ()


def test_two_coupons_of_one_promotion_use_one_and_say_why_not_the_other():
    rules = with_({"code": "LJ", "kind": "amount", "amount": "10", "auto": False, "stacking": "stackable"})
    priced = price_cart(NORMAL, [HAIR], WED, rules, coupons=[CouponFacts("C2", "LJ"), CouponFacts("C1", "LJ")])
    assert priced.total_fen == 7_800 and [a.coupon for a in priced.applied] == ["C1"]
    assert [(s.coupon, s.reason) for s in priced.skipped] == [("C2", "one coupon of this kind per bill")]


@pytest.mark.parametrize("coupon, reason", [
    (CouponFacts("C1", "LJ", valid_until=dt.date(2024, 6, 4)), "expired on 2024-06-04"),
    (CouponFacts("C1", "LJ", valid_from=dt.date(2024, 6, 6)), "valid from 2024-06-06"),
    (CouponFacts("C1", "NOPE"), "no promotion NOPE"),
    (CouponFacts("C1", "AUTO"), "applies without a coupon"),
])
def test_a_coupon_that_cannot_be_used_today_is_skipped_with_its_reason(coupon, reason):
    rules = with_({"code": "LJ", "kind": "amount", "amount": "10", "auto": False},
                  {"code": "AUTO", "kind": "amount", "amount": "1", "weekdays": [1]})
    priced = price_cart(NORMAL, [HAIR], WED, rules, coupons=[coupon])
    assert priced.total_fen == 8_800 and [s.reason for s in priced.skipped] == [reason]


def test_a_coupon_valid_until_today_is_still_good():
    rules = with_({"code": "LJ", "kind": "amount", "amount": "10", "auto": False})
    coupon = CouponFacts("C1", "LJ", dt.date(2024, 6, 5), dt.date(2024, 6, 5))
    assert price_cart(NORMAL, [HAIR], WED, rules, coupons=[coupon]).total_fen == 7_800


def test_per_member_limit_1_once_used_is_refused_and_walk_ins_do_not_get_it():
    rules = with_({"code": "NEW", "kind": "amount", "amount": "10", "per_member_limit": 1})
    assert price_cart(NORMAL, [HAIR], WED, rules).total_fen == 7_800
    used = MemberFacts(1, "NORMAL", "普通会员", promotion_uses={"NEW": 1})
    assert price_cart(used, [HAIR], WED, rules).total_fen == 8_800
    assert price_cart(None, [HAIR], WED, rules).total_fen == 8_800
    coupon_rules = with_({"code": "NEW", "kind": "amount", "amount": "10", "per_member_limit": 1, "auto": False})
    priced = price_cart(used, [HAIR], WED, coupon_rules, coupons=[CouponFacts("C1", "NEW")])
    assert priced.skipped[0].reason == "already used 1 of 1 times"


def test_every_explanation_is_listed_once_for_the_receipt(chinese):
    rules = with_(mj(stacking="stackable"), {"code": "Z", "kind": "percent", "percent": 10, "stacking": "stackable"})
    priced = price_cart(GOLD, [SPA, HAIR], WED, rules)
    assert priced.explanations == ("金卡会员 9折", "9折", "满300减50")


# --- points earned ---------------------------------------------------------------------------------------------


def test_points_1_per_yuan_on_a_94_bill_paid_100_cash_is_94_not_counting_change():
    priced = price_cart(NORMAL, [HAIR, WATER, WATER], WED, DEFAULT)
    earned = points_earned(priced, [("cash", 10_000)], NORMAL, WED, DEFAULT)
    assert (earned.points, earned.base_fen) == (94, 9_400)


@pytest.mark.parametrize("rounding, points", [("floor", 148), ("round", 149), ("ceil", 149)])
def test_points_gold_x1_5_on_99_yuan_is_148_5_rounded_by_the_rule(rounding, points):
    rules = parse_rules({"points": {"rounding": rounding}})
    priced = price_cart(GOLD, [item(11_000)], WED, rules)  # 9折 → ¥99
    assert points_earned(priced, [("wechat", 9_900)], GOLD, WED, rules).points == points


def test_points_member_day_wednesday_x2_explained(chinese):
    rules = parse_rules({"points": {"days": [{"name": "会员日", "weekdays": [3], "multiplier": 2}]}})
    priced = price_cart(NORMAL, [HAIR], WED, rules)
    earned = points_earned(priced, [("cash", 8_800)], NORMAL, WED, rules)
    assert earned.points == 176 and earned.explanations == ("积分 ×2 会员日",)
    thursday = WED + dt.timedelta(days=1)
    assert points_earned(priced, [("cash", 8_800)], NORMAL, thursday, rules).points == 88


def test_points_on_the_best_of_two_promotion_days_not_both():
    rules = parse_rules({"points": {"days": [{"name": "会员日", "weekdays": [3], "multiplier": 2},
                                             {"name": "店庆", "dates": ["2024-06-05"], "multiplier": 3}]}})
    priced = price_cart(NORMAL, [HAIR], WED, rules)
    assert points_earned(priced, [("cash", 8_800)], NORMAL, WED, rules).points == 264


def test_points_retail_x0_5_on_hair_88_and_shampoo_68_is_122():
    rules = parse_rules({"points": {"category_multipliers": {"零售": "0.5"}}})
    priced = price_cart(NORMAL, [HAIR, SHAMPOO], WED, rules)
    assert points_earned(priced, [("cash", 15_600)], NORMAL, WED, rules).points == 88 + 34


def test_points_are_not_earned_on_bonus_value_or_points_unless_configured():
    member = MemberFacts(1, "NORMAL", "普通会员", principal_fen=5_000, bonus_fen=10_000)
    priced = price_cart(member, [HAIR], WED, DEFAULT)
    tenders = [("stored_value", 6_000), ("points", 2_800)]  # ¥50 principal, ¥10 bonus, ¥28 in points
    assert points_earned(priced, tenders, member, WED, DEFAULT).points == 50
    generous = parse_rules({"points": {"bonus_earns": True, "points_earn": True}})
    assert points_earned(priced, tenders, member, WED, generous).points == 88
    strict = parse_rules({"points": {"principal_earns": False}})
    assert points_earned(priced, tenders, member, WED, strict).points == 0


def test_bonus_first_spending_leaves_less_principal_to_earn_on():
    member = MemberFacts(1, "NORMAL", "普通会员", principal_fen=5_000, bonus_fen=3_000)
    priced = price_cart(member, [item(6_000)], WED, DEFAULT)
    bonus_first = parse_rules({"topup": {"spend_order": "bonus_first"}})
    assert points_earned(priced, [("stored_value", 6_000)], member, WED, DEFAULT).points == 50
    assert points_earned(priced, [("stored_value", 6_000)], member, WED, bonus_first).points == 30
    assert points_earned(priced, [("stored_value_principal", 1_000), ("stored_value_bonus", 5_000)], member, WED,
                         DEFAULT).points == 10
    with pytest.raises(InsufficientBalance):
        points_earned(priced, [("stored_value", 9_000)], member, WED, DEFAULT)


def test_walk_ins_earn_no_points_and_bad_tenders_are_refused():
    priced = price_cart(None, [HAIR], WED, DEFAULT)
    assert points_earned(priced, [("cash", 8_800)], None, WED, DEFAULT).points == 0
    with pytest.raises(InvalidInput, match="Unknown tender 'cheque'"):
        points_earned(priced, [("cheque", 8_800)], NORMAL, WED, DEFAULT)
    with pytest.raises(InvalidInput, match="more than zero"):
        points_earned(priced, [("cash", 0)], NORMAL, WED, DEFAULT)


# --- points as a tender, expiry --------------------------------------------------------------------------------


def test_points_pay_3_yuan_with_300_points_by_default():
    assert points_for_payment(300, 9_400, DEFAULT) == 300


def test_points_may_pay_at_most_half_of_a_94_bill_that_is_47():
    rules = parse_rules({"points": {"redeem_max_share": 50}})
    assert points_for_payment(4_700, 9_400, rules) == 4_700
    with pytest.raises(InvalidInput, match=r"at most 50% of this bill \(¥47.00\)"):
        points_for_payment(4_701, 9_400, rules)
    assert max_points_payment(9_400, 100_000, rules) == 4_700
    assert max_points_payment(9_400, 1_234, rules) == 1_234


def test_points_pay_from_1000_points_refusing_999():
    rules = parse_rules({"points": {"redeem_min_points": 1000}})
    assert points_for_payment(1_000, 9_400, rules) == 1_000
    with pytest.raises(InvalidInput, match="from 1000 points"):
        points_for_payment(999, 9_400, rules)
    assert max_points_payment(9_400, 999, rules) == 0


def test_at_10_points_per_yuan_points_pay_in_10_fen_steps():
    rules = parse_rules({"points": {"redeem_per_yuan": 10}})
    assert points_for_payment(1_230, 9_400, rules) == 123
    with pytest.raises(InvalidInput, match=r"steps of ¥0.10"):
        points_for_payment(1_235, 9_400, rules)
    assert max_points_payment(9_400, 55, rules) == 550


def test_points_earned_31_january_expire_after_1_month_on_29_february_2024():
    rules = parse_rules({"points": {"expire_months": 1}})
    assert points_expire_on(dt.date(2024, 1, 31), rules) == dt.date(2024, 2, 29)
    assert points_expire_on(dt.date(2023, 1, 31), rules) == dt.date(2023, 2, 28)
    assert points_expire_on(dt.date(2024, 1, 31), DEFAULT) is None


# --- top-up bonuses --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount, bonus, text", [
    (49_999, 0, ""), (50_000, 5_000, "充500送50"), (99_999, 5_000, "充500送50"), (100_000, 20_000, "充1000送200"),
    (299_999, 50_000, "充2000送500"), (1_000_000, 90_000, "充3000送900"),
])
def test_topup_default_tiers_the_highest_threshold_reached_applies(chinese, amount, bonus, text):
    assert topup_bonus(amount, WED, DEFAULT) == (bonus, text)


def test_topup_1000_get_300_in_june_only_else_200():
    rules = parse_rules({"topup": {"bonuses": [
        {"threshold": "1000", "bonus": "200"},
        {"threshold": "1000", "bonus": "300", "valid_from": "2024-06-01", "valid_until": "2024-06-30"}]}})
    on = lambda m, d: topup_bonus(100_000, dt.date(2024, m, d), rules)[0]  # noqa: E731
    assert (on(5, 31), on(6, 1), on(6, 30), on(7, 1)) == (20_000, 30_000, 30_000, 20_000)


def test_topup_of_5000_gives_gold_and_4999_99_does_not():
    rules = parse_rules({"topup": {"bonuses": [{"threshold": "500", "bonus": "50"},
                                               {"threshold": "5000", "bonus": "1500", "tier": "GOLD"},
                                               {"threshold": "8000", "bonus": "2500"}]}})
    assert topup_tier(500_000, WED, rules) == "GOLD"
    assert topup_tier(900_000, WED, rules) == "GOLD"  # the highest rule reached gives no tier; 5000's still does
    assert topup_tier(499_999, WED, rules) is None


# --- birthdays -------------------------------------------------------------------------------------------------

BIRTHDAY_RULES = {
    "points": {"gifts": [{"code": "CAKE", "name": "生日蛋糕", "points": 2000},
                         {"code": "SPA", "name": "SPA体验", "points": 5000}]},
    "promotions": [{"code": "BDAY", "kind": "percent", "percent": 20, "auto": False}],
    "birthday": {"window": "week", "promotion": "BDAY", "gift": "CAKE"},
    "tiers": {"levels": [{"tier": "GOLD", "birthday_gift": "SPA"}]},
}


def test_birthday_week_is_monday_to_sunday_around_the_birthday():
    rules = parse_rules(BIRTHDAY_RULES)
    birthday = dt.date(1990, 6, 5)  # a Wednesday in 2024
    assert birthday_window(birthday, dt.date(2024, 6, 3), rules) == (dt.date(2024, 6, 3), dt.date(2024, 6, 9))
    assert birthday_window(birthday, dt.date(2024, 6, 9), rules) is not None
    assert birthday_window(birthday, dt.date(2024, 6, 2), rules) is None
    assert birthday_window(birthday, dt.date(2024, 6, 10), rules) is None


def test_a_31_december_birthday_week_reaches_into_january():
    rules = parse_rules(BIRTHDAY_RULES)
    assert birthday_window(dt.date(1980, 12, 31), dt.date(2025, 1, 3), rules) == (dt.date(2024, 12, 30),
                                                                                  dt.date(2025, 1, 5))


def test_a_29_february_birthday_is_28_february_in_2023():
    rules = parse_rules({**BIRTHDAY_RULES, "birthday": {**BIRTHDAY_RULES["birthday"], "window": "day"}})
    assert birthday_window(dt.date(2000, 2, 29), dt.date(2023, 2, 28), rules) is not None
    assert birthday_window(dt.date(2000, 2, 29), dt.date(2024, 2, 28), rules) is None


def test_birthday_month_window():
    rules = parse_rules({**BIRTHDAY_RULES, "birthday": {**BIRTHDAY_RULES["birthday"], "window": "month"}})
    assert birthday_window(dt.date(1990, 2, 14), dt.date(2024, 2, 29), rules) == (dt.date(2024, 2, 1),
                                                                                 dt.date(2024, 2, 29))


def test_the_birthday_benefit_is_one_coupon_per_birthday_applied_once(chinese):
    rules = parse_rules(BIRTHDAY_RULES)
    member = MemberFacts(7, "NORMAL", "普通会员", birthday=dt.date(1990, 6, 5))
    benefit = birthday_benefit(member, WED, rules)
    assert benefit.gift.name == "生日蛋糕" and benefit.explanation == "生日: 8折, 礼品: 生日蛋糕"
    assert benefit.coupon == CouponFacts("BDAY-7-2024-06-03", "BDAY", dt.date(2024, 6, 3), dt.date(2024, 6, 9))
    priced = price_cart(member, [HAIR], WED, rules, coupons=[benefit.coupon, benefit.coupon])
    assert priced.total_fen == 7_040 and len(priced.applied) == 1
    assert birthday_benefit(member, WED + dt.timedelta(days=7), rules) is None
    assert birthday_benefit(None, WED, rules) is None


def test_a_gold_member_gets_the_gold_birthday_gift():
    rules = parse_rules(BIRTHDAY_RULES)
    member = MemberFacts(7, "GOLD", "金卡会员", 9_000, 150, birthday=dt.date(1990, 6, 5))
    assert birthday_benefit(member, WED, rules).gift.code == "SPA"


def test_no_birthday_benefit_by_default():
    assert birthday_benefit(MemberFacts(7, birthday=dt.date(1990, 6, 5)), WED, DEFAULT) is None


# --- fees ------------------------------------------------------------------------------------------------------

FEES = parse_rules({"fees": {"joining": "100", "annual": "200", "grace_days": 30, "late_fee": "20"}})


def test_joining_fee_100_with_the_first_card_only():
    new = MemberFacts(1, joined_on=dt.date(2024, 6, 5), annual_paid_until=dt.date(2025, 6, 5))
    assert [(f.kind, f.amount_fen) for f in due_fees(new, WED, FEES)] == [("joining", 10_000)]
    assert due_fees(MemberFacts(1, cards_issued=1, annual_paid_until=dt.date(2025, 6, 5)), WED, FEES) == ()
    assert due_fees(MemberFacts(1, joining_fee_paid=True, annual_paid_until=dt.date(2025, 6, 5)), WED, FEES) == ()


def test_annual_fee_falls_due_on_the_anniversary_not_the_day_before():
    member = MemberFacts(1, cards_issued=1, joined_on=dt.date(2023, 6, 5), annual_paid_until=dt.date(2024, 6, 5))
    assert due_fees(member, dt.date(2024, 6, 4), FEES) == ()
    (fee,) = due_fees(member, dt.date(2024, 6, 5), FEES)
    assert (fee.kind, fee.amount_fen, fee.due_on, fee.covers_until) == ("annual", 20_000, dt.date(2024, 6, 5),
                                                                       dt.date(2025, 6, 5))


def test_late_fee_after_30_grace_days_on_day_31_not_day_30():
    member = MemberFacts(1, cards_issued=1, joined_on=dt.date(2023, 6, 5), annual_paid_until=dt.date(2024, 6, 5))
    assert [f.kind for f in due_fees(member, dt.date(2024, 7, 5), FEES)] == ["annual"]
    assert [(f.kind, f.amount_fen) for f in due_fees(member, dt.date(2024, 7, 6), FEES)] == [("annual", 20_000),
                                                                                            ("late", 2_000)]


def test_a_member_away_two_years_pays_one_year_up_to_the_next_anniversary():
    member = MemberFacts(1, cards_issued=1, joined_on=dt.date(2020, 6, 5), annual_paid_until=dt.date(2022, 6, 5))
    fees = due_fees(member, dt.date(2024, 8, 1), FEES)
    assert [f.kind for f in fees] == ["annual", "late"] and fees[0].covers_until == dt.date(2025, 6, 5)


def test_annual_fee_on_1_january_covers_until_the_next_1_january():
    rules = parse_rules({"fees": {"annual": "200", "annual_due": "fixed", "annual_due_date": "01-01"}})
    joined = MemberFacts(1, cards_issued=1, joined_on=dt.date(2024, 6, 10))
    (fee,) = due_fees(joined, dt.date(2024, 6, 10), rules)
    assert (fee.due_on, fee.covers_until) == (dt.date(2024, 6, 10), dt.date(2025, 1, 1))
    renewing = MemberFacts(1, cards_issued=1, joined_on=dt.date(2020, 6, 10), annual_paid_until=dt.date(2025, 1, 1))
    assert due_fees(renewing, dt.date(2024, 12, 31), rules) == ()
    assert due_fees(renewing, dt.date(2025, 1, 1), rules)[0].covers_until == dt.date(2026, 1, 1)


# --- properties ------------------------------------------------------------------------------------------------

CATALOGUE = [HAIR, SPA, WATER, SHAMPOO, CartLine("service", "NAIL", "美甲", "美甲", 12_345)]


@st.composite
def promotion_docs(draw, code: str) -> dict:
    kind = draw(st.sampled_from(["amount", "percent", "threshold", "free_item", "buy_n_get_1"]))
    doc: dict = {"code": code, "kind": kind, "auto": draw(st.booleans()),
                 "stacking": draw(st.sampled_from(["exclusive", "stackable"]))}
    if kind == "amount":
        doc["amount"] = str(draw(st.integers(1, 1_000)))
    elif kind == "percent":
        doc["percent"] = draw(st.integers(1, 99))
    elif kind == "threshold":
        threshold = draw(st.integers(1, 2_000))
        doc.update(threshold=str(threshold), amount=str(draw(st.integers(1, threshold))), repeat=draw(st.booleans()))
    elif kind == "free_item":
        doc["item"] = draw(st.sampled_from([c.code for c in CATALOGUE]))
        if draw(st.booleans()):
            doc["threshold"] = str(draw(st.integers(1, 1_000)))
    else:
        doc["buy"] = draw(st.integers(1, 4))
    if draw(st.booleans()):
        doc["categories"] = [draw(st.sampled_from(["美发", "理疗", "零售", "美甲"]))]
    if draw(st.booleans()):
        doc["weekdays"] = [draw(st.integers(1, 7))]
    if draw(st.booleans()):
        doc["per_member_limit"] = draw(st.integers(1, 2))
    return doc


@st.composite
def situations(draw):
    promotions = [draw(promotion_docs(f"P{i}")) for i in range(draw(st.integers(0, 5)))]
    rules = parse_rules({
        "promotions": promotions,
        "points": {"per_yuan": draw(st.sampled_from([1, 2, "0.5"])), "rounding": draw(st.sampled_from(
            ["floor", "round", "ceil"])), "category_multipliers": {"零售": draw(st.sampled_from([0, "0.5", 3]))},
            "days": [{"name": "会员日", "weekdays": [3], "multiplier": 2}], "bonus_earns": draw(st.booleans())},
        "topup": {"spend_order": draw(st.sampled_from(["principal_first", "bonus_first"]))},
        "tiers": {"levels": [{"tier": "GOLD", "category_discounts": {"零售": draw(st.integers(0, 100))}}]},
    })
    cart = [CartLine(c.kind, c.code, c.name, c.category, draw(st.integers(0, 60_000)), draw(st.integers(1, 6)))
            for c in draw(st.lists(st.sampled_from(CATALOGUE), min_size=1, max_size=5))]
    member = draw(st.none() | st.builds(
        MemberFacts, member_id=st.just(1), tier_code=st.sampled_from(["NORMAL", "GOLD"]), tier_name=st.just("会员"),
        tier_discount_bp=st.sampled_from([10_000, 9_500, 9_000, 8_500]),
        tier_points_pct=st.sampled_from([100, 120, 150, 200]),
        tier_prices=st.dictionaries(st.sampled_from([(c.kind, c.code) for c in CATALOGUE]), st.integers(0, 60_000)),
        discount_card_bp=st.sampled_from([10_000, 8_800]),
        promotion_uses=st.dictionaries(st.sampled_from(["P0", "P1", "P2"]), st.integers(0, 2)),
        principal_fen=st.integers(0, 500_000), bonus_fen=st.integers(0, 500_000)))
    coupons = draw(st.lists(st.builds(CouponFacts, code=st.sampled_from(["C1", "C2", "C3"]),
                                      promotion=st.sampled_from(["P0", "P1", "P2", "P3", "P4", "NOPE"]),
                                      valid_until=st.none() | st.dates(dt.date(2024, 5, 1), dt.date(2024, 7, 1))),
                            max_size=4))
    when = draw(st.datetimes(dt.datetime(2024, 6, 1), dt.datetime(2024, 6, 30)))
    store = draw(st.sampled_from([None, "HQ"]))
    return rules, cart, member, coupons, when, store


@settings(max_examples=300, deadline=None)
@given(situations())
def test_no_discount_takes_a_line_or_the_bill_below_zero_and_the_bill_adds_up(situation):
    rules, cart, member, coupons, when, store = situation
    priced = price_cart(member, cart, when, rules, store, coupons)
    assert all(line.line_total_fen >= 0 and line.net_fen >= 0 for line in priced.lines)
    assert priced.total_fen >= 0
    assert priced.total_fen == priced.lines_total_fen - sum(d.amount_fen for d in priced.cart_discounts)
    assert priced.lines_total_fen == sum(line.line_total_fen for line in priced.lines)
    assert sum(line.net_fen for line in priced.lines) == priced.total_fen
    assert priced.discount_fen == priced.subtotal_fen - priced.total_fen
    # promotions only lower a member's price, and say what they took
    assert all(line.line_total_fen <= line.unit_price_fen * line.qty for line in priced.lines)
    member_total = sum(line.unit_price_fen * line.qty for line in priced.lines)
    assert member_total - priced.total_fen == sum(a.amount_fen for a in priced.applied)
    assert all(a.amount_fen > 0 for a in priced.applied)


@settings(max_examples=300, deadline=None)
@given(situations())
def test_exclusive_promotions_do_not_stack_and_each_promotion_and_coupon_applies_at_most_once(situation):
    rules, cart, member, coupons, when, store = situation
    priced = price_cart(member, cart, when, rules, store, coupons)
    codes = [a.promotion for a in priced.applied]
    assert len(codes) == len(set(codes))
    used = [a.coupon for a in priced.applied if a.coupon is not None]
    assert len(used) == len(set(used))
    assert not set(used) & {s.coupon for s in priced.skipped}
    assert {c.code for c in coupons} == set(used) | {s.coupon for s in priced.skipped}
    if any(rules.promotion(code).stacking == "exclusive" for code in codes):
        assert len(codes) == 1


@settings(max_examples=200, deadline=None)
@given(situations(), st.randoms(use_true_random=False))
def test_pricing_is_deterministic_whatever_the_order_coupons_are_shown_in(situation, rnd: random.Random):
    rules, cart, member, coupons, when, store = situation
    first = price_cart(member, cart, when, rules, store, coupons)
    assert price_cart(member, cart, when, rules, store, coupons) == first
    shuffled = list(coupons)
    rnd.shuffle(shuffled)
    assert price_cart(member, cart, when, rules, store, shuffled) == first


tenders = st.lists(st.tuples(st.sampled_from([t for t in EARNING_TENDERS if t != "stored_value"]),
                             st.integers(1, 100_000)), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(situations(), tenders, st.integers(0, 100_000), st.randoms(use_true_random=False))
def test_points_earned_are_never_negative_and_do_not_depend_on_tender_order(situation, paid, stored, rnd):
    rules, cart, member, coupons, when, store = situation
    priced = price_cart(member, cart, when, rules, store, coupons)
    if stored:
        paid = [*paid, ("stored_value", stored)]
        assume(member is None or stored <= member.principal_fen + member.bonus_fen)
    earned = points_earned(priced, paid, member, when, rules)
    assert earned.points >= 0 and 0 <= earned.base_fen <= priced.total_fen
    for _ in range(3):
        shuffled = list(paid)
        rnd.shuffle(shuffled)
        assert points_earned(priced, shuffled, member, when, rules) == earned


# --- the default rules are today's rules (facts built from a real database) -----------------------------------


def member_facts(member_id: int) -> MemberFacts:
    """What a later step will build for the desk: the member's tier, tier prices, best 折扣卡, stored value."""
    member = Member.get_by_id(member_id)
    tier = Tier.get_by_id(member.tier_id)
    prices = {}
    for row in ItemPrice.select().where((ItemPrice.tier == tier.id) & ItemPrice.store.is_null()):
        if row.product_id is not None:
            prices[("product", Product.get_by_id(row.product_id).code)] = row.price_fen
        else:
            prices[("service", ServiceItem.get_by_id(row.service_id).code)] = row.price_fen
    active = Card.select(Card, CardType).join(CardType).where((Card.member == member.id) & (Card.status == "active"))
    card_bp = min([c.card_type.discount_bp for c in active if c.card_type.kind == "discount"], default=10_000)
    stored = [c for c in active if c.card_type.kind == "stored_value"]
    level = load_rules().tiers.benefit(tier.code)
    return MemberFacts(member.id, tier.code, tier.name, level.price_bp if level else 10_000,
                       level.points_pct if level else 100, prices, card_bp,
                       birthday=member.birthday, principal_fen=stored[0].principal_fen if stored else 0,
                       bonus_fen=stored[0].bonus_fen if stored else 0)


def cart_lines(lines: list[tuple[str, int]]) -> list[CartLine]:
    out = []
    for code, qty in lines:
        kind, found = find_item(code)
        out.append(CartLine(kind, found.code, found.name, found.category, found.price_fen, qty, found.id))
    return out


CARTS = [
    [("HAIR", 1)],
    [("SPA", 2), ("WATER", 3)],
    [("SHAMPOO", 1), ("HAIR", 2), ("6920000000012", 1)],  # water by its barcode
    [("SPA", 1), ("SHAMPOO", 3)],
]


@pytest.fixture
def shop(desk):
    """Members of every tier, a tier price below and one above list, 折扣卡 holders."""
    ids = {}
    for i, (tier, card) in enumerate([("NORMAL", None), ("SILVER", None), ("GOLD", None), ("DIAMOND", "DC88"),
                                      ("NORMAL", "DC88"), ("SILVER", "DC88")]):
        m = register_member(f"会员{i}", f"1380013800{i}", desk.cashier, f"r{i}").member_id
        if tier != "NORMAL":
            update_member(m, desk.manager, f"u{i}", tier=tier)
        if card:
            issue_card(m, card, desk.cashier, f"dc{i}", card_no=f"DC{i}")
        ids[f"{tier}+{card}"] = m
    gold = Tier.get(Tier.code == "GOLD")
    set_price(desk.manager, "SHAMPOO", 5_000, list_code=gold.code)
    set_price(desk.manager, "HAIR", 9_999, list_code=gold.code)  # above list
    set_price(desk.manager, "SPA", 39_900, list_code="SILVER")
    return ids


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_default_rules_price_every_member_and_cart_exactly_as_quote(desk, shop, lang):
    set_language(lang)
    try:
        for member_id in [None, *shop.values()]:
            facts = member_facts(member_id) if member_id is not None else None
            for cart in CARTS:
                q = quote(member_id, [LineRequest(code, qty) for code, qty in cart])
                priced = price_cart(facts, cart_lines(cart), WED, default_rules(), "HQ", [])
                assert [(p.code, p.qty, p.list_price_fen, p.unit_price_fen, p.line_total_fen, p.discount_reason)
                        for p in priced.lines] == [
                    (p.code, p.qty, p.list_price_fen, p.unit_price_fen, p.line_total_fen, p.discount_reason)
                    for p in q.lines], (member_id, cart)
                assert (priced.subtotal_fen, priced.discount_fen, priced.total_fen) == (
                    q.subtotal_fen, q.discount_fen, q.total_fen)
    finally:
        set_language("en")


@pytest.mark.parametrize("key, cart, tenders, change", [
    ("NORMAL+None", [("HAIR", 1), ("WATER", 2)], [("stored_value", 6_000), ("cash", None)], 600),
    ("SILVER+None", [("SPA", 1), ("WATER", 1)], [("stored_value", 20_000), ("points", 300), ("wechat", None)], 0),
    ("GOLD+None", [("SHAMPOO", 1), ("HAIR", 1)], [("cash", None)], 2_080),
    ("DIAMOND+DC88", [("SPA", 2)], [("stored_value", 12_345), ("alipay", None)], 0),
    ("SILVER+DC88", [("SPA", 1), ("HAIR", 1)], [("bank_card", 1), ("stored_value", 35_000), ("cash", None)], 50),
])
def test_default_rules_earn_the_points_checkout_earns(desk, shop, key, cart, tenders, change):
    """None: the rest of the bill (cash: plus the change given)."""
    member_id = shop[key]
    card = issue_card(member_id, "SV", desk.cashier, "sv", card_no="SV1").card_id
    top_up(card, 15_000, 20_000, "cash", desk.manager, "t1")  # ¥150 principal, ¥200 bonus
    if any(t == "points" for t, _a in tenders):  # points to pay with, from an earlier sale
        checkout(member_id, [("SPA", 1)], [("cash", 49_800)], desk.cashier, "earlier")
    facts = member_facts(member_id)
    priced = price_cart(facts, cart_lines(cart), WED, default_rules())
    rest = priced.total_fen - sum(a for _t, a in tenders if a is not None)
    paid = [(t, a if a is not None else rest + (change if t == "cash" else 0)) for t, a in tenders]
    expected = points_earned(priced, paid, facts, WED, default_rules())
    result = checkout(member_id, cart, [TenderRequest(t, a) for t, a in paid], desk.cashier, "sale")
    assert (result.total_fen, result.change_fen) == (priced.total_fen, change)
    assert result.points_earned == expected.points


def test_default_top_up_bonus_is_the_desks(desk):
    for amount in [1, 49_999, 50_000, 50_001, 99_999, 100_000, 199_999, 200_000, 300_000, 10_000_000]:
        assert topup_bonus(amount, WED, default_rules())[0] == topup_offer(amount).bonus_fen
