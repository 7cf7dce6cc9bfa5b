"""The loyalty rules at the counter: checkout prices by the rules, uses coupons once, takes points and stored value
by the rules, collects fees; refunds give back exactly what was paid. Real SQLite file and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import traceback

import pytest
from textual.widgets import Input, Label, Static

from mms_tui import clock
from mms_tui.i18n import set_language
from mms_tui.models import Card, Coupon, Entry, Member, Payment, Product, Sale, SaleLine, Store, Transaction
from mms_tui.services.base.errors import InsufficientBalance, InvalidInput, NotRefundable
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.birthday_benefit import birthday_benefit
from mms_tui.services.loyalty.fees_due import due_fees
from mms_tui.services.loyalty.rules_store import load_rules, save_rules
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member, update_member
from mms_tui.services.money.checkout import checkout, checkout_offers, quote
from mms_tui.services.money.holder import member_facts
from mms_tui.services.money.payment import TenderRequest
from mms_tui.services.money.receipt import sale_receipt
from mms_tui.services.money.refund import refund
from mms_tui.services.money.topup import top_up

SPAWN = multiprocessing.get_context("spawn")

MJ = {"code": "MJ", "kind": "threshold", "threshold": "300", "amount": "50", "auto": True}
C20 = {"code": "C20", "kind": "amount", "amount": "20", "auto": False}


@pytest.fixture
def chinese():
    set_language("zh")
    yield
    set_language("en")


def rules(desk, **document) -> None:
    save_rules(document, desk.manager)


def member(desk, phone="13800138000", name="张三") -> int:
    return register_member(name, phone, desk.cashier, f"reg-{phone}").member_id


def sv_card(desk, member_id, principal=0, bonus=0, card_no="1001") -> int:
    card = issue_card(member_id, "SV", desk.cashier, f"issue-{card_no}", card_no=card_no).card_id
    if principal:
        top_up(card, principal, bonus, "cash", desk.manager, f"topup-{card_no}")
    return card


def product(code: str, price_fen: int) -> None:
    Product.create(code=code, name=f"商品{code}", category="零售", price_fen=price_fen)


def coupon(code: str, promotion: str = "C20", member_id: int | None = None, **more) -> None:
    Coupon.create(code=code, promotion=promotion, member=member_id, **more)


def balances(card_id: int) -> tuple[int, int, int]:
    card = Card.get_by_id(card_id)
    return card.principal_fen, card.bonus_fen, card.points


def counts() -> tuple[int, int, int]:
    return Sale.select().count(), Entry.select().count(), Transaction.select().count()


# --- 满减 at the counter ---------------------------------------------------------------------------------------------


def test_300_off_50_at_exactly_300_the_walk_in_pays_250_and_the_sale_explains_it(desk, chinese):
    rules(desk, promotions=[MJ])
    product("T300", 30_000)
    result = checkout(None, ["T300"], [("cash", 25_000)], desk.cashier, "s1")
    assert (result.subtotal_fen, result.discount_fen, result.total_fen) == (30_000, 5_000, 25_000)
    assert result.cart_discounts == [{"promotion": "MJ", "coupon": None, "amount_fen": 5_000,
                                      "explanation": "满300减50"}]
    line = SaleLine.get()
    assert (line.unit_price_fen, line.line_total_fen, line.discount_reason) == (30_000, 25_000, "满300减50")
    text = "\n".join(sale_receipt("s1").lines)
    assert "满300减50" in text and "-￥50.00" in text  # the yuan sign a GBK printer has
    assert check_ledger() == []


def test_300_off_50_one_fen_under_at_299_99_pays_it_all(desk):
    rules(desk, promotions=[MJ])
    product("T29999", 29_999)
    with pytest.raises(InsufficientBalance):  # what 满300减50 would have cost is not enough
        checkout(None, ["T29999"], [("cash", 24_999)], desk.cashier, "s0")
    result = checkout(None, ["T29999"], [("cash", 29_999)], desk.cashier, "s1")
    assert (result.discount_fen, result.total_fen, result.cart_discounts) == (0, 29_999, [])
    assert SaleLine.get().discount_reason == ""
    assert check_ledger() == []


def test_gold_member_9_zhe_then_300_off_50_on_spa_and_hair_each_line_says_why(desk, chinese):
    rules(desk, promotions=[MJ])
    m = member(desk)
    update_member(m, desk.manager, "gold", tier="GOLD")
    # ¥498 + ¥88 at 9折 = ¥448.20 + ¥79.20 = ¥527.40, then ¥50 off shared in proportion
    result = checkout(m, ["SPA", "HAIR"], [("cash", 47_740)], desk.cashier, "s1")
    assert result.total_fen == 47_740
    lines = list(SaleLine.select().order_by(SaleLine.id))
    assert [x.unit_price_fen for x in lines] == [44_820, 7_920]
    assert sum(x.line_total_fen for x in lines) == 47_740
    assert [x.discount_reason for x in lines] == ["金卡会员 9折; 满300减50"] * 2
    assert check_ledger() == []


# --- coupons ------------------------------------------------------------------------------------------------------


def test_member_coupon_20_off_offered_by_itself_used_once_and_a_second_use_is_refused(desk):
    rules(desk, promotions=[C20])
    m = member(desk)
    coupon("CPN-1", member_id=m)
    offered = checkout_offers(m)
    assert [c.code for c in offered.coupons] == ["CPN-1"]
    q = quote(m, ["HAIR"])
    assert q.total_fen == 6_800 and [(c.code, c.applied, c.amount_fen) for c in q.coupons] == [("CPN-1", True, 2_000)]
    result = checkout(m, ["HAIR"], [("cash", 6_800)], desk.cashier, "s1")
    assert result.coupons == ["CPN-1"] and result.total_fen == 6_800
    used = Coupon.get(Coupon.code == "CPN-1")
    assert used.used_at is not None and used.transaction.txid == "s1"
    assert checkout(m, ["HAIR"], [("cash", 6_800)], desk.cashier, "s1") == result  # a retry: the first result
    before = counts()
    with pytest.raises(InvalidInput, match="Coupon CPN-1 was already used"):
        checkout(m, ["HAIR"], [("cash", 6_800)], desk.cashier, "s2", coupons=["CPN-1"])
    assert counts() == before
    assert quote(m, ["HAIR"]).total_fen == 8_800  # nothing offered any more
    assert check_ledger() == []


@pytest.mark.parametrize("setup, message", [
    ({"member": "other"}, "Coupon CPN-9 belongs to another member."),
    ({"valid_until": clock.today() - dt.timedelta(days=1)}, "Coupon CPN-9 expired on"),
    ({"valid_from": clock.today() + dt.timedelta(days=1)}, "Coupon CPN-9 is valid from"),
    ({"store": "BRANCH"}, "Coupon CPN-9 is valid only at 分店."),
    ({"promotion": "GONE"}, "Coupon CPN-9 is for promotion GONE, which the rules no longer have."),
    ({"code": "NOPE"}, "No coupon cpn-9."),
])
def test_a_coupon_that_cannot_be_used_here_is_one_message_and_nothing_is_stored(desk, setup, message):
    rules(desk, promotions=[C20])
    m = member(desk)
    other = member(desk, "13900139000", "李四")
    branch = Store.create(code="BRANCH", name="分店")
    fields = {"member_id": other if setup.get("member") else m, "promotion": setup.get("promotion", "C20")}
    for key in ("valid_from", "valid_until"):
        if key in setup:
            fields[key] = setup[key]
    if "store" in setup:
        fields["store"] = branch
    coupon(setup.get("code", "CPN-9"), **fields)
    before = counts()
    with pytest.raises(InvalidInput) as caught:
        checkout(m, ["HAIR"], [("cash", 8_800)], desk.cashier, "s1", coupons=["cpn-9"])
    assert str(caught.value).startswith(message)
    assert counts() == before
    assert Coupon.select().where(Coupon.used_at.is_null(False)).count() == 0


def test_bearer_coupon_under_its_threshold_stays_unused_with_the_reason(desk):
    rules(desk, promotions=[{**MJ, "code": "MJC", "auto": False}])
    coupon("BEARER-1", "MJC")
    q = quote(None, ["HAIR"], coupons=["BEARER-1"])
    assert [(c.code, c.applied, c.reason) for c in q.coupons] == [
        ("BEARER-1", False, "¥212.00 more to get ¥50 off over ¥300")]
    result = checkout(None, ["HAIR"], [("cash", 8_800)], desk.cashier, "s1", coupons=["BEARER-1"])
    assert result.coupons == [] and Coupon.get().used_at is None
    result = checkout(None, ["SPA"], [("cash", 44_800)], desk.cashier, "s2", coupons=["BEARER-1"])
    assert result.coupons == ["BEARER-1"] and Coupon.get().transaction.txid == "s2"
    assert check_ledger() == []


def _coupon_worker(target: str, txid: str, barrier, queue) -> None:
    from mms_tui.models import Staff
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.money.checkout import checkout as sell
    from mms_tui.services.ops.setup import connect

    connect(target)
    cashier = Staff.get(Staff.code == "c01")
    barrier.wait()
    try:
        result = sell(None, ["SPA"], [("cash", 47_800)], cashier, txid, coupons=["RACE-1"])
        queue.put(("ok", result.txid))
    except DomainError as exc:
        queue.put(("refused", str(exc)))
    except Exception:
        queue.put(("error", traceback.format_exc(limit=4)))


@pytest.mark.slow
def test_two_desks_racing_for_one_coupon_exactly_one_succeeds(desk):
    rules(desk, promotions=[C20])
    coupon("RACE-1")
    barrier = SPAWN.Barrier(2)
    queue = SPAWN.Queue()
    procs = [SPAWN.Process(target=_coupon_worker, args=(desk.target, f"desk-{d}", barrier, queue)) for d in range(2)]
    for p in procs:
        p.start()
    outcomes = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert [kind for kind, _detail in outcomes] == ["ok", "refused"], outcomes
    assert "RACE-1" in outcomes[1][1]
    assert Sale.select().count() == 1
    assert Coupon.get().transaction.txid == outcomes[0][1]
    assert check_ledger() == []


def test_per_member_limit_once_counts_earlier_sales_and_a_refund_frees_it(desk):
    rules(desk, promotions=[{"code": "NEW", "kind": "percent", "percent": 10, "auto": True, "per_member_limit": 1}])
    m = member(desk)
    assert checkout(m, ["HAIR"], [("cash", 7_920)], desk.cashier, "s1").total_fen == 7_920
    assert member_facts(m).promotion_uses == {"NEW": 1}
    assert checkout(m, ["HAIR"], [("cash", 8_800)], desk.cashier, "s2").total_fen == 8_800
    refund("s1", desk.manager, "wrong item", "r1")
    assert checkout(m, ["HAIR"], [("cash", 7_920)], desk.cashier, "s3").total_fen == 7_920
    assert check_ledger() == []


def _limit_worker(target: str, desk_name: str, members: list[int], barrier, queue) -> None:
    from mms_tui.models import Staff
    from mms_tui.services.money.checkout import checkout as sell
    from mms_tui.services.ops.setup import connect

    connect(target)
    cashier = Staff.get(Staff.code == "c01")
    for member_id in members:
        barrier.wait()
        try:
            result = sell(member_id, ["HAIR"], [("cash", 8_800)], cashier, f"{desk_name}-{member_id}")
            queue.put((member_id, result.total_fen))
        except Exception:
            queue.put((member_id, traceback.format_exc(limit=4)))


@pytest.mark.slow
def test_two_desks_serving_one_member_at_once_give_a_once_per_member_promotion_once(desk):
    """NEW (10 % off, once per member) for eight members, each served by two desks at the same instant: one of
    the two sales gets ¥79.20, the other the full ¥88 — on PostgreSQL too, where the member's row is locked."""
    rules(desk, promotions=[{"code": "NEW", "kind": "percent", "percent": 10, "auto": True, "per_member_limit": 1}])
    members = [member(desk, phone=f"1380000{i:04d}", name=f"会员{i}") for i in range(8)]
    barrier = SPAWN.Barrier(2)
    queue = SPAWN.Queue()
    procs = [SPAWN.Process(target=_limit_worker, args=(desk.target, f"desk{d}", members, barrier, queue))
             for d in range(2)]
    for p in procs:
        p.start()
    totals: dict[int, list] = {m: [] for m in members}
    for _ in range(2 * len(members)):
        member_id, total = queue.get(timeout=120)
        totals[member_id].append(total)
    for p in procs:
        p.join(timeout=60)
    assert all(sorted(t) == [7_920, 8_800] for t in totals.values()), totals
    assert check_ledger() == []


def test_birthday_coupon_is_written_when_first_used_and_used_once(desk):
    rules(desk, promotions=[{"code": "BDAY", "kind": "percent", "percent": 20, "auto": False}],
          birthday={"window": "day", "promotion": "BDAY"})
    today = clock.today()
    born = dt.date(1992, 2, 29) if (today.month, today.day) == (2, 29) else today.replace(year=1990)
    m = register_member("寿星", "13700137000", desk.cashier, "r-b", birthday=born).member_id
    code = birthday_benefit(member_facts(m), clock.now(), load_rules()).coupon.code
    result = checkout(m, ["HAIR"], [("cash", 7_040)], desk.cashier, "s1", coupons=[code])
    assert result.coupons == [code]
    row = Coupon.get(Coupon.code == code)
    assert (row.member_id, row.reason, row.transaction.txid) == (m, "birthday", "s1")
    with pytest.raises(InvalidInput, match="already used"):
        checkout(m, ["HAIR"], [("cash", 7_040)], desk.cashier, "s2", coupons=[code])
    assert check_ledger() == []


# --- points and stored value by the rules ---------------------------------------------------------------------


def test_points_pay_10_points_per_yuan_from_300_points_and_at_most_half_the_bill(desk):
    rules(desk, points={"redeem_per_yuan": 10, "redeem_min_points": 300, "redeem_max_share": 50})
    m = member(desk)
    pts = issue_card(m, "PT", desk.cashier, "pt", card_no="PT1").card_id
    checkout(m, ["SPA", "SPA"], [("cash", 99_600)], desk.cashier, "earn")  # 996 points
    assert balances(pts)[2] == 996
    q = quote(m, ["HAIR"])
    assert (q.points_held, q.points_max_fen, q.points_for(4_400)) == (996, 4_400, 440)
    before = counts()
    with pytest.raises(InvalidInput, match="from 300 points"):  # ¥20 is 200 points
        checkout(m, ["HAIR"], [("points", 2_000), ("cash", 6_800)], desk.cashier, "p1")
    with pytest.raises(InvalidInput, match="at most 50%"):
        checkout(m, ["HAIR"], [("points", 5_000), ("cash", 3_800)], desk.cashier, "p2")
    with pytest.raises(InvalidInput, match="steps of"):
        checkout(m, ["HAIR"], [("points", 4_405), ("cash", 4_395)], desk.cashier, "p3")
    assert counts() == before
    result = checkout(m, ["HAIR"], [("points", 4_400), ("cash", 4_400)], desk.cashier, "p4")
    assert (result.points_redeemed, result.points_earned) == (440, 44)  # earned on the ¥44 cash only
    assert balances(pts)[2] == 996 - 440 + 44 == 600
    assert Payment.get(Payment.tender == "points").points == 440
    assert check_ledger() == []


@pytest.mark.parametrize("bonus_earns, points", [(False, 38), (True, 88)])
def test_stored_value_bonus_first_pays_50_bonus_and_38_principal_and_the_bonus_earns_only_if_configured(
        desk, bonus_earns, points):
    rules(desk, topup={"spend_order": "bonus_first"}, points={"bonus_earns": bonus_earns})
    m = member(desk)
    card = sv_card(desk, m, principal=10_000, bonus=5_000)
    result = checkout(m, ["HAIR"], [("stored_value", 8_800)], desk.cashier, "s1")
    assert result.payments[0]["bonus_fen"] == 5_000 and result.payments[0]["principal_fen"] == 3_800
    assert balances(card) == (6_200, 0, points)
    assert Member.get_by_id(m).total_spend_fen == 3_800  # bonus value is never tier spend
    refund("s1", desk.manager, "x", "r1")
    assert balances(card) == (10_000, 5_000, 0) and Member.get_by_id(m).total_spend_fen == 0
    assert check_ledger() == []


# --- refunds --------------------------------------------------------------------------------------------------


def test_refund_of_a_sale_with_coupon_points_bonus_and_cash_returns_each_tender_and_takes_back_points(desk):
    rules(desk, promotions=[C20])
    m = member(desk)
    card = sv_card(desk, m, principal=10_000, bonus=3_000)
    checkout(m, ["SPA"], [("cash", 49_800)], desk.cashier, "earn")  # 498 points on the stored-value card
    coupon("CPN-R", member_id=m)
    before = balances(card)
    spend_before = Member.get_by_id(m).total_spend_fen
    # ¥498 − ¥20 coupon = ¥478: ¥4 in points, ¥130 stored value (¥100 principal + ¥30 bonus), ¥344 cash
    sale = checkout(m, ["SPA"], [("points", 400), ("stored_value", 13_000), ("cash", 34_400)], desk.cashier, "s1")
    assert sale.coupons == ["CPN-R"] and sale.points_redeemed == 400
    assert sale.points_earned == 10_000 // 100 + 34_400 // 100  # principal and cash; not bonus, not points
    assert [(p["tender"], p["amount_fen"]) for p in sale.payments] == [
        ("points", 400), ("stored_value", 13_000), ("cash", 34_400)]
    result = refund("s1", desk.manager, "unhappy", "r1")
    assert balances(card) == before
    assert result.money_returned_fen == 34_400 and result.coupons_reopened == ["CPN-R"]
    reversal = {(e.account, e.amount) for e in Entry.select().join(Transaction).where(Transaction.txid == "r1")}
    assert {("tender.cash", 34_400), ("card.principal", 10_000), ("card.bonus", 3_000)} <= reversal
    reopened = Coupon.get(Coupon.code == "CPN-R")
    assert reopened.used_at is None and reopened.transaction is None
    assert Member.get_by_id(m).total_spend_fen == spend_before
    assert Sale.get(Sale.id == sale.sale_id).status == "refunded"
    assert check_ledger() == []
    again = checkout(m, ["SPA"], [("cash", 47_800)], desk.cashier, "s2")  # the coupon can be used again
    assert again.coupons == ["CPN-R"]
    assert check_ledger() == []


def test_refund_is_refused_when_the_points_it_earned_were_spent(desk):
    m = member(desk)
    pts = issue_card(m, "PT", desk.cashier, "pt", card_no="PT1").card_id
    checkout(m, ["SPA"], [("cash", 49_800)], desk.cashier, "s1")  # 498 points
    checkout(m, ["WATER"], [("points", 300)], desk.cashier, "s2")  # 300 of them spent
    before = counts()
    with pytest.raises(InsufficientBalance, match="earned 498 points on card PT1, which has only 198 left"):
        refund("s1", desk.manager, "unhappy", "r1")
    assert counts() == before and balances(pts)[2] == 198
    assert Sale.get(Sale.transaction == Transaction.get(Transaction.txid == "s1")).status == "paid"
    refund("s2", desk.manager, "wrong", "r2")  # the points come back: now the first sale can be refunded
    refund("s1", desk.manager, "unhappy", "r1")
    assert balances(pts)[2] == 0
    assert check_ledger() == []


def test_top_up_refund_1000_with_200_bonus_unused_returns_1000_and_removes_the_200(desk):
    m = member(desk)
    card = sv_card(desk, m)
    top_up(card, 100_000, 20_000, "wechat", desk.cashier, "t1")
    result = refund("t1", desk.manager, "changed mind", "r1")
    assert balances(card) == (0, 0, 0)
    assert (result.money_returned_fen, result.bonus_kept_fen) == (100_000, 0)
    assert check_ledger() == []


def test_top_up_refund_with_50_of_the_200_bonus_spent_removes_the_other_150(desk):
    rules(desk, topup={"spend_order": "bonus_first"})
    m = member(desk)
    card = sv_card(desk, m)
    top_up(card, 100_000, 20_000, "cash", desk.cashier, "t1")
    checkout(m, ["HAIR", "WATER"], [("stored_value", 5_000), ("cash", 4_100)], desk.cashier, "s1")  # ¥50 of bonus
    assert balances(card)[:2] == (100_000, 15_000)
    result = refund("t1", desk.manager, "moving away", "r1")
    assert balances(card)[:2] == (0, 0)
    assert (result.money_returned_fen, result.bonus_kept_fen) == (100_000, 5_000)
    entries = {(e.account, e.amount) for e in Entry.select().join(Transaction).where(Transaction.txid == "r1")}
    assert entries == {("card.principal", -100_000), ("tender.cash", 100_000), ("card.bonus", -15_000),
                       ("expense.bonus", 15_000)}
    assert check_ledger() == []


def test_top_up_refund_is_refused_once_its_principal_was_spent(desk):
    m = member(desk)
    card = sv_card(desk, m)
    top_up(card, 10_000, 1_000, "cash", desk.manager, "t1")
    checkout(m, ["HAIR"], [("stored_value", 8_800)], desk.cashier, "s1")
    before = counts()
    with pytest.raises(InsufficientBalance, match=r"holds only ¥12\.00 of principal"):
        refund("t1", desk.manager, "x", "r1")
    assert counts() == before and balances(card)[:2] == (1_200, 1_000)
    assert check_ledger() == []


# --- tiers and fees -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("price, tier", [(100_000, "SILVER"), (99_999, "NORMAL")])
def test_silver_at_1000_spend_exactly_moves_up_at_checkout_one_fen_under_does_not(desk, price, tier):
    m = member(desk)
    product("BIG", price)
    result = checkout(m, ["BIG"], [("cash", price)], desk.cashier, "s1")
    assert result.tier_code == tier and Member.get_by_id(m).tier.code == tier
    assert check_ledger() == []


def test_annual_fee_200_late_by_more_than_30_days_adds_20_moves_paid_until_and_its_refund_moves_it_back(desk):
    rules(desk, fees={"annual": "200", "grace_days": 30, "late_fee": "20"})
    m = member(desk)
    issue_card(m, "PT", desk.cashier, "pt", card_no="PT1")
    joined = clock.today() - dt.timedelta(days=400)
    Member.update(created_at=dt.datetime.combine(joined, dt.time(9))).where(Member.id == m).execute()
    due = checkout_offers(m).fees_due
    assert [(f.kind, f.amount_fen) for f in due] == [("annual", 20_000), ("late", 2_000)]
    with pytest.raises(InvalidInput, match="late fee is paid together with the annual fee"):
        quote(m, [], fees=["late"])
    q = quote(m, ["HAIR"], fees=["annual"])
    assert (q.total_fen, q.goods_total_fen, [f.code for f in q.fees]) == (30_800, 8_800, ["FEE-ANNUAL", "FEE-LATE"])
    result = checkout(m, ["HAIR"], [("cash", 30_800)], desk.cashier, "s1", fees=["annual"])
    covers = due[0].covers_until
    assert covers > clock.today() and Member.get_by_id(m).fees_paid_until == covers
    assert result.points_earned == 88 and Member.get_by_id(m).total_spend_fen == 8_800  # fees earn nothing
    assert {(x.code, x.line_total_fen, x.category) for x in SaleLine.select()} >= {
        ("FEE-ANNUAL", 20_000, "会费"), ("FEE-LATE", 2_000, "会费")}
    assert checkout_offers(m).fees_due == []
    with pytest.raises(InvalidInput, match="annual fee is not due"):
        quote(m, ["HAIR"], fees=["annual"])
    refund("s1", desk.manager, "paid twice", "r1")
    assert Member.get_by_id(m).fees_paid_until is None
    assert Member.get_by_id(m).total_spend_fen == 0
    assert [f.kind for f in checkout_offers(m).fees_due] == ["annual", "late"]
    assert check_ledger() == []


def test_annual_fee_alone_points_cannot_pay_it_and_its_refund_waits_for_a_later_payment(desk):
    rules(desk, fees={"annual": "200"})
    m = member(desk)
    today = clock.today()
    Member.update(fees_paid_until=today).where(Member.id == m).execute()  # due today
    with pytest.raises(InvalidInput, match="Points cannot pay fees"):
        checkout(m, [], [("points", 20_000)], desk.cashier, "p0", fees=["annual"])
    first = checkout(m, [], [("cash", 20_000)], desk.cashier, "s1", fees=["annual"])
    assert first.total_fen == 20_000 and first.points_earned == 0
    assert (first.fees[0]["paid_until_before"], first.fees[0]["paid_until_after"]) == (
        today.isoformat(), Member.get_by_id(m).fees_paid_until.isoformat())
    Member.update(fees_paid_until=today).where(Member.id == m).execute()  # a year on: due again
    checkout(m, [], [("cash", 20_000)], desk.cashier, "s2", fees=["annual"])
    before = counts()
    with pytest.raises(NotRefundable, match="paid again or changed since"):
        refund("s1", desk.manager, "x", "r1")
    assert counts() == before
    refund("s2", desk.manager, "paid twice", "r2")
    assert Member.get_by_id(m).fees_paid_until == today
    assert check_ledger() == []


def test_joining_fee_is_owed_by_a_member_whose_first_card_came_under_it_not_by_earlier_ones(desk):
    old = member(desk, "13900139000", "老会员")
    issue_card(old, "SV", desk.cashier, "old-card", card_no="OLD1")
    Card.update(issued_at=clock.now() - dt.timedelta(days=30)).execute()
    rules(desk, fees={"joining": "100"})
    new = member(desk)
    assert [f.kind for f in checkout_offers(new).fees_due] == ["joining"]  # no card yet
    issue_card(new, "SV", desk.cashier, "new-card", card_no="NEW1")
    assert [f.kind for f in checkout_offers(new).fees_due] == ["joining"]  # its first card came under the fee
    assert checkout_offers(old).fees_due == []
    rules_now = load_rules()
    assert due_fees(member_facts(old, rules_now), clock.today(), rules_now) == ()
    result = checkout(new, ["WATER"], [("cash", 10_300)], desk.cashier, "s1", fees=["joining"])
    assert [(line["code"], line["line_total_fen"]) for line in result.lines] == [("WATER", 300), ("FEE-JOIN", 10_000)]
    assert checkout_offers(new).fees_due == []
    refund("s1", desk.manager, "not joining after all", "r1")
    assert [f.kind for f in checkout_offers(new).fees_due] == ["joining"]
    assert check_ledger() == []


def test_fees_need_a_member_and_unknown_fees_are_refused(desk):
    with pytest.raises(InvalidInput, match="Fees need a member"):
        quote(None, ["HAIR"], fees=["annual"])
    with pytest.raises(InvalidInput, match="Unknown fee"):
        quote(member(desk), ["HAIR"], fees=["monthly"])
    with pytest.raises(InvalidInput, match="The bill has no lines"):
        checkout(member(desk, "13900139000"), [], [TenderRequest("cash", 100)], desk.cashier, "s1")


# --- the checkout screen --------------------------------------------------------------------------------------


async def test_checkout_screen_coupon_by_f9_shows_the_discount_and_uses_the_coupon(sqlite_desk):
    from tests.test_tui import at_desk, open_member, settle, text

    rules(sqlite_desk, promotions=[C20, MJ])
    m = member(sqlite_desk)
    issue_card(m, "SV", sqlite_desk.cashier, "i1", card_no="00012345")
    coupon("SAVE-20")  # a bearer coupon the member hands over
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f3")
        await settle(pilot)
        screen = app.screen
        await pilot.press(*"SPA", "enter")
        await settle(pilot)
        assert screen.priced.total_fen == 44_800  # 满300减50 by itself
        assert "¥50 off over ¥300" in text(screen.query_one("#discounts", Static))
        await pilot.press("f9")
        await pilot.pause()
        assert screen.query_one("#coupon", Input).has_focus
        await pilot.press(*"save-20", "enter")
        await settle(pilot)
        # exclusive promotions: the better one wins, the coupon says why it did not apply
        assert screen.priced.total_fen == 44_800
        assert "SAVE-20" in text(screen.query_one("#discounts", Static))
        assert "cannot be combined" in text(screen.query_one("#discounts", Static))
        await pilot.press("escape")  # closes the coupon box
        await pilot.pause()
        assert not screen.query_one("#coupon", Input).display
        assert screen.coupons == ["SAVE-20"]
    save_rules({"promotions": [C20]}, sqlite_desk.manager)
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f3")
        await settle(pilot)
        screen = app.screen
        await pilot.press(*"HAIR", "enter")
        await settle(pilot)
        await pilot.press("f9", *"SAVE-20", "enter")
        await settle(pilot)
        assert screen.priced.total_fen == 6_800
        assert "SAVE-20" in text(screen.query_one("#discounts", Static))
        assert "−¥20.00" in text(screen.query_one("#checkout-message", Label))
        await pilot.press("enter")  # an empty coupon box closes
        await pilot.pause()
        assert screen.query_one("#code", Input).has_focus
        await pilot.press("f4")  # the rest in cash
        await pilot.press("f10")
        await settle(pilot)
        assert screen.result is not None and screen.result.coupons == ["SAVE-20"]
        assert "SAVE-20" in text(screen.query_one("#receipt", Static))
    sale = Sale.get()
    assert sale.total_fen == 6_800
    assert Coupon.get(Coupon.code == "SAVE-20").transaction_id == sale.transaction_id
    assert check_ledger() == []


async def test_checkout_screen_points_tender_shows_points_and_due_fees_are_added_with_f12(sqlite_desk):
    from tests.test_tui import at_desk, open_member, settle, text

    rules(sqlite_desk, fees={"annual": "200"})
    m = member(sqlite_desk)
    issue_card(m, "SV", sqlite_desk.cashier, "i1", card_no="00012345")
    checkout(m, ["SPA"], [("cash", 69_800)], sqlite_desk.cashier, "earn", fees=["annual"])  # 498 points
    Member.update(fees_paid_until=clock.today()).where(Member.id == m).execute()  # due again today
    async with at_desk(sqlite_desk) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f3")
        await settle(pilot)
        screen = app.screen
        assert "F12" in text(screen.query_one("#discounts", Static))
        await pilot.press(*"WATER", "enter")
        await settle(pilot)
        await pilot.press("f12")
        await settle(pilot)
        assert screen.priced.total_fen == 20_300 and [f.kind for f in screen.priced.fees] == ["annual"]
        await pilot.press("enter")  # on to the amount
        await pilot.press("f3")  # points: as much as they may pay (the water; never the fee)
        await pilot.pause()
        assert "(300 pts)" in text(screen.query_one("#tenders", Static))
        await pilot.press("f4", "f10")
        await settle(pilot)
        assert screen.result is not None and screen.result.points_redeemed == 300
    assert Member.get_by_id(m).fees_paid_until > clock.today()
    assert check_ledger() == []


def _split_worker(target: str, desk_name: str, cards: list[tuple[int, int]], barrier, queue) -> None:
    from mms_tui.models import Staff
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.money.checkout import checkout as sell
    from mms_tui.services.ops.setup import connect

    connect(target)
    cashier = Staff.get(Staff.code == "c01")
    for member_id, card_id in cards:
        barrier.wait()
        try:
            sell(member_id, ["HAIR"], [("stored_value", 8_800, card_id)], cashier, f"{desk_name}-{card_id}")
            queue.put((card_id, "ok"))
        except DomainError as exc:
            queue.put((card_id, str(exc)))
        except Exception:
            queue.put((card_id, traceback.format_exc(limit=4)))


@pytest.mark.slow
def test_two_sales_that_together_fit_the_balance_both_go_through_at_the_same_instant(desk):
    """¥88 principal + ¥88 bonus on each card; two desks each sell a ¥88 haircut from it at the same instant. The
    principal/bonus split is decided after the card is locked, so the second sale takes the bonus — on PostgreSQL
    the split used to come from a read taken before the lock, and the second sale was refused ("has ¥0.00")."""
    cards = []
    for i in range(6):
        m = member(desk, phone=f"1380000{i:04d}", name=f"会员{i}")
        cards.append((m, sv_card(desk, m, principal=8_800, bonus=8_800, card_no=f"SPLIT{i}")))
    barrier = SPAWN.Barrier(2)
    queue = SPAWN.Queue()
    procs = [SPAWN.Process(target=_split_worker, args=(desk.target, f"desk{d}", cards, barrier, queue))
             for d in range(2)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=120) for _ in range(2 * len(cards))]
    for p in procs:
        p.join(timeout=60)
    assert all(outcome == "ok" for _card, outcome in outcomes), outcomes
    assert all((c.principal_fen, c.bonus_fen) == (0, 0) for c in Card.select().where(Card.card_no.startswith("SPLIT")))
    assert check_ledger() == []
