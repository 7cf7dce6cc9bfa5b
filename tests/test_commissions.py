"""提成 (issue #20): performers per line, the commissions rules, rows written with the sale, taken back by refunds,
proved by ``mms check``, reported per staff member, and each staff member's own 日结 at the desk."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mms_tui.db import write_transaction
from mms_tui.models import Commission, Member, Sale, Staff
from mms_tui.services.base.errors import InvalidInput, NotFound, RulesInvalid
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.loyalty.rules import CommissionRule, CommissionRules
from mms_tui.services.loyalty.rules_reader import parse_rules
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money import commissions as cm
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.money.topup import top_up
from mms_tui.services.reports.catalogue import run_report
from mms_tui.services.staff.admin import add_staff

RULES = {"commissions": {"rules": [
    {"code": "SVC", "kind": "service", "percent": 10},
    {"code": "HAIR-SR", "kind": "service", "items": ["HAIR"], "levels": ["高级"], "percent": 20},
    {"code": "HAIR", "kind": "service", "items": ["HAIR"], "percent": 15},
    {"code": "SPA-FIX", "kind": "service", "categories": ["理疗"], "amount": "30"},
    {"code": "RETAIL", "kind": "product", "percent": 5},
    {"code": "TOPUP", "kind": "topup", "percent": "1.5"},
]}}


def rule(**kw) -> CommissionRule:
    return CommissionRule(**{"kind": "service", "code": "R", **kw})


# --- rule evaluation: which rule wins, what it pays -------------------------------------------------------------

LINE = cm.LineFacts("service", "HAIR", "美发", True, 1, 10_000)
SECTION = CommissionRules((
    rule(code="ANY", percent_bp=500),
    rule(code="CAT", categories=("美发",), percent_bp=800),
    rule(code="ITEM", items=("HAIR",), percent_bp=1000),
    rule(code="ITEM-SR", items=("HAIR",), levels=("高级",), percent_bp=2000),
    rule(code="ITEM-WALK", items=("HAIR",), customer="walk_in", percent_bp=3000),
    rule(code="PROD", kind="product", amount_fen=200),
))


@pytest.mark.parametrize(("line", "level", "code"), [
    (LINE, None, "ITEM"),  # the item beats its category and the kind alone
    (LINE, "高级", "ITEM-SR"),  # a level named beats none
    (cm.LineFacts("service", "HAIR", "美发", False, 1, 10_000), None, "ITEM-WALK"),  # walk-ins only
    (cm.LineFacts("service", "HAIR", "美发", False, 1, 10_000), "高级", "ITEM-SR"),  # level before customer
    (cm.LineFacts("service", "CUT", "美发", True, 1, 10_000), None, "CAT"),
    (cm.LineFacts("service", "SPA", "理疗", True, 1, 10_000), None, "ANY"),
    (cm.LineFacts("product", "WATER", "零售", True, 2, 600), None, "PROD"),
    (cm.LineFacts("topup", "SV", "", True, 1, 100_000), None, None),
])
def test_the_most_specific_rule_wins(line, level, code):
    found = cm.match_rule(SECTION, line, level)
    assert (found[1].code if found else None) == code


@pytest.mark.parametrize(("facts", "credits", "rule_", "expected"), [
    # 10 % of ¥100 split 70/30
    (LINE, [("a", 7000), ("b", 3000)], rule(percent_bp=1000), [(7000, 700), (3000, 300)]),
    # points and bonus paid ¥30 of it: left out of the base
    (cm.LineFacts("service", "HAIR", "", True, 1, 10_000, 2_000, 1_000), [("a", 10_000)], rule(percent_bp=1000),
     [(7000, 700)]),
    # …unless the rule includes them
    (cm.LineFacts("service", "HAIR", "", True, 1, 10_000, 2_000, 1_000), [("a", 10_000)],
     rule(percent_bp=1000, include_points=True, include_bonus=True), [(10_000, 1000)]),
    # a fixed ¥30 per unit, three units, split in thirds exactly
    (cm.LineFacts("service", "SPA", "", True, 3, 1), [("a", 3334), ("b", 3333), ("c", 3333)],
     rule(amount_fen=3000), [(0, 3000), (0, 3000), (1, 3000)]),
])
def test_what_a_rule_pays(facts, credits, rule_, expected):
    awards = cm.evaluate_line(CommissionRules((rule_,)), facts, [cm.Credit(s, b) for s, b in credits])
    assert [(a.base_fen, a.amount_fen) for a in awards] == expected
    if rule_.amount_fen:
        assert sum(a.amount_fen for a in awards) == rule_.amount_fen * facts.units


@settings(max_examples=200, deadline=None)
@given(money=st.integers(0, 10**9), points=st.integers(0, 10**9), bonus=st.integers(0, 10**9),
       rates=st.lists(st.integers(1, 10_000), min_size=1, max_size=4),
       cut=st.lists(st.integers(1, 100), min_size=1, max_size=4), incl=st.booleans())
def test_commission_never_exceeds_the_base_times_the_highest_rate(money, points, bonus, rates, cut, incl):
    points = min(points, money)
    bonus = min(bonus, money - points)
    n = min(len(rates), len(cut))
    shares = cm.split(10_000, [0] * 0 + [10_000 * c // sum(cut[:n]) for c in cut[:n]])
    shares = [s for s in shares if s] or [10_000]
    shares[0] += 10_000 - sum(shares)
    levels = [f"L{i}" for i in range(len(shares))]
    section = CommissionRules(tuple(rule(code=f"R{i}", levels=(levels[i],), percent_bp=rates[i % len(rates)],
                                         include_points=incl) for i in range(len(shares))))
    facts = cm.LineFacts("service", "X", "", True, 1, money, points, bonus)
    awards = cm.evaluate_line(section, facts, [cm.Credit(f"s{i}", s, level=levels[i])
                                               for i, s in enumerate(shares)])
    assert sum(a.amount_fen for a in awards) * 10_000 <= money * max(rates)
    assert all(a.base_fen >= 0 for a in awards)


@settings(max_examples=300, deadline=None)
@given(original=st.integers(0, 10**8), of=st.integers(1, 10**6), cuts=st.lists(st.integers(1, 10**6), max_size=8))
def test_partial_refunds_never_take_back_more_and_a_full_one_takes_back_exactly(original, of, cuts):
    taken, before = 0, 0
    for cut in cuts:
        now = min(cut, of - before)
        taken += cm.refund_part(original, before, now, of)
        before += now
        assert 0 <= taken <= original
    taken += cm.refund_part(original, before, of - before, of)  # the rest of the line
    assert taken == original


@given(total=st.integers(0, 10**12), shares=st.lists(st.integers(1, 10_000), min_size=1, max_size=6))
def test_split_adds_up_exactly(total, shares):
    shares = [*shares[:-1], 0]
    shares[-1] = 10_000 - sum(shares[:-1])
    if shares[-1] <= 0:
        return
    parts = cm.split(total, shares)
    assert sum(parts) == total
    assert all(abs(p * 10_000 - total * s) < 10_000 for p, s in zip(parts, shares, strict=True))


# --- the rules section ------------------------------------------------------------------------------------------


def test_rules_problems_are_named_by_their_place():
    with pytest.raises(RulesInvalid) as caught:
        parse_rules({"commissions": {"rules": [
            {"code": "A", "kind": "service", "percent": 10},
            {"code": "A", "kind": "topup", "items": ["HAIR"], "percent": 0},
            {"kind": "massage", "percent": 5, "amount": "3"},
            {"code": "B", "kind": "service", "percent": 5, "customer": "vip", "tip": 1},
        ]}})
    assert caught.value.errors == [
        "commissions.rules[2].code: commission rule A is listed twice",
        "commissions.rules[2].items: does not apply to a commission rule of kind topup",
        "commissions.rules[2].percent: must be between 0.01 and 100",
        "commissions.rules[3].code: is required",
        "commissions.rules[3].kind: must be one of service, product, topup, card, not 'massage'",
        "commissions.rules[3]: say either percent (of the money paid) or amount (yuan per unit), not both",
        "commissions.rules[4].tip: unknown setting (known: code, name, kind, items, categories, card_types, levels, "
        "customer, percent, amount, include_points, include_bonus)",
        "commissions.rules[4].customer: must be one of any, member, walk_in, not 'vip'",
    ]


def test_a_rule_naming_what_the_shop_does_not_have_is_refused(desk):
    with pytest.raises(RulesInvalid) as caught:
        save_rules({"commissions": {"rules": [{"code": "X", "kind": "service", "items": ["NOPE"], "percent": 5},
                                              {"code": "Y", "kind": "card", "card_types": ["ZZ"], "amount": "5"}]}},
                   desk.manager)
    assert caught.value.errors == ["commissions.rules[1].items[1]: no product or service NOPE",
                                     "commissions.rules[2].card_types[1]: no card type ZZ"]


# --- on the database: SQLite and PostgreSQL -----------------------------------------------------------------------


def shop(desk):
    save_rules(RULES, desk.manager)
    add_staff("p01", "发型师 王芳", by=desk.manager, performer=True, level="高级", services=["HAIR", "SPA"])
    add_staff("p02", "助理 小刘", by=desk.manager, performer=True, level="助理", services=["HAIR"])
    add_staff("p03", "技师 老周", by=desk.manager, performer=True, level="技师", services=["SPA"])
    return register_member("张三", "13800138000", desk.cashier, "r1").member_id


def rows_of(txid_like=None) -> list[tuple]:
    return list(Commission.select(Staff.code, Commission.role, Commission.share_bp, Commission.base_fen,
                                  Commission.amount_fen, Commission.rule).join(Staff).order_by(Commission.id).tuples())


def test_a_sale_credits_its_performers_and_salesperson(desk):
    zhang = shop(desk)
    sale = checkout(zhang, ["HAIR", "SPA", ("WATER", 2)], [("cash", 8_800 + 49_800 + 600)], desk.cashier, "s1",
                    performers={"HAIR": [("p01", 7000), ("p02", 3000)], "SPA": [("p03", 10_000)],
                                "WATER": [("c01", 10_000)]})
    assert rows_of() == [
        ("p01", "lead", 7000, 6160, 1232, "commissions.rules[2] HAIR-SR"),  # 高级: 20 %
        ("p02", "assistant", 3000, 2640, 396, "commissions.rules[3] HAIR"),  # 15 %
        ("p03", "lead", 10_000, 49_800, 3000, "commissions.rules[4] SPA-FIX"),  # ¥30 per unit
        ("c01", "sales", 10_000, 600, 30, "commissions.rules[5] RETAIL"),
    ]
    assert {c.rules_version for c in Commission.select()} != {""}
    assert check_ledger() == []
    # a refund takes back exactly what was earned, row by row
    refund(sale.txid, desk.manager, "不满意", "rf1")
    back = rows_of()[4:]
    assert [(s, b, a) for s, _r, _sh, b, a, _ru in back] == [("p01", -6160, -1232), ("p02", -2640, -396),
                                                              ("p03", -49_800, -3000), ("c01", -600, -30)]
    assert sum(r[4] for r in rows_of()) == 0
    assert check_ledger() == []


def test_points_and_bonus_value_are_left_out_of_the_base(desk):
    zhang = shop(desk)
    sv = issue_card(zhang, "SV", desk.cashier, "i1", card_no="00012345")
    top_up(sv.card_id, 5_000, 800, "cash", desk.manager, "t1", salesperson="c01")
    # the bill is ¥88: ¥50 principal and ¥8 bonus from the card (principal first), ¥30 cash
    checkout(zhang, ["HAIR"], [("stored_value", 5_800, "00012345"), ("cash", 3_000)], desk.cashier, "s1",
             performers={"HAIR": ["p02"]})
    topup_row, hair = rows_of()
    assert topup_row == ("c01", "sales", 10_000, 5_000, 75, "commissions.rules[6] TOPUP")  # 1.5 % of the principal
    assert hair[3:5] == (8_000, 1_200)  # 88 − 8 bonus; 15 %


def test_bad_credits_are_refused_and_nothing_is_written(desk):
    zhang = shop(desk)
    cases = [
        ({"HAIR": [("p01", 6000), ("p02", 3000)]}, InvalidInput, "the shares add up to 90 %, not 100 %"),
        ({"HAIR": [("nobody", 10_000)]}, NotFound, "No staff member nobody"),
        ({"HAIR": [("p03", 10_000)]}, cm.PerformerNotAllowed, "does not perform HAIR; a manager may allow it"),
        ({"WATER": [("c01", 5000), ("m01", 5000)]}, InvalidInput, "a product is credited to one salesperson"),
        ({"SPA": [("p01", 10_000)]}, InvalidInput, "SPA is not on the bill"),
    ]
    for i, (performers, error, words) in enumerate(cases):
        with pytest.raises(error) as caught:
            checkout(zhang, ["HAIR", "WATER"], [("cash", 9_100)], desk.cashier, f"bad{i}", performers=performers)
        assert words in str(caught.value)
    assert Commission.select().count() == 0 and Member.get_by_id(zhang).sales.count() == 0
    # a manager allows the performer who is not set up for the service
    checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "ok", performers={"HAIR": [("p03", 10_000)]},
             approver=desk.manager)
    assert rows_of()[0][:2] == ("p03", "lead")
    with pytest.raises(cm.PerformerNotAllowed):  # a cashier's approval is no approval
        checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "no", performers={"HAIR": [("p03", 10_000)]},
                 approver=desk.cashier)


def test_the_usual_stylist_comes_first(desk):
    zhang = shop(desk)
    for i in range(2):
        checkout(zhang, ["SPA"], [("cash", 49_800)], desk.cashier, f"s{i}", performers={"SPA": ["p03"]})
    choices = cm.performer_choices(zhang, "HAIR")
    assert [(c.code, c.usual, c.allowed) for c in choices] == [("p03", True, False), ("p01", False, True),
                                                               ("p02", False, True)]
    assert [c.code for c in cm.performer_choices(None, "HAIR")] == ["p01", "p02"]


def test_rule_changes_never_change_stored_rows(desk):
    zhang = shop(desk)
    checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "s1", performers={"HAIR": ["p02"]})
    before = rows_of()
    save_rules({"commissions": {"rules": [{"code": "ALL", "kind": "service", "percent": 50}]}}, desk.manager)
    assert rows_of() == before and check_ledger() == []


def test_check_catches_a_tampered_commission(desk):
    zhang = shop(desk)
    sale = checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "s1", performers={"HAIR": ["p01"]})
    refund(sale.txid, desk.manager, "不满意", "rf1")
    first, back = list(Commission.select().order_by(Commission.id))
    with write_transaction():
        Commission.update(amount_fen=first.amount_fen + 100).where(Commission.id == first.id).execute()
    assert [p.rule for p in check_ledger()] == ["commission"]
    with write_transaction():
        Commission.update(amount_fen=first.amount_fen, base_fen=first.base_fen).where(
            Commission.id == first.id).execute()
        Commission.update(amount_fen=back.amount_fen - 1).where(Commission.id == back.id).execute()
    problems = check_ledger()
    assert [p.rule for p in problems] == ["commission"] and "refunds took back" in problems[0].detail


def test_the_report_adds_up_per_staff_member(desk, run, today):
    zhang = shop(desk)
    sales = [checkout(zhang if i % 2 else None, ["HAIR", "SPA"], [("cash", 58_600)], desk.cashier, f"s{i}",
                      performers={"HAIR": [("p01", 5000), ("p02", 5000)], "SPA": ["p01"]}) for i in range(3)]
    refund(sales[0].txid, desk.manager, "不满意", "rf1")
    # independently: HAIR ¥88 → p01 4400 at 20 % = 880, p02 4400 at 15 % = 660; SPA → p01 ¥30; two sales remain
    expected = [
        {"staff": "p01", "name": "发型师 王芳", "level": "高级", "lines": 4, "base_fen": 2 * (4400 + 49_800),
         "commission_fen": 2 * (880 + 3000)},
        {"staff": "p02", "name": "助理 小刘", "level": "助理", "lines": 2, "base_fen": 2 * 4400,
         "commission_fen": 2 * 660},
    ]
    assert list(run_report("commissions", today, today)) == expected
    assert list(run_report("commissions", today, today, staff="p02")) == expected[1:]
    result = run("--db", desk.target, "report", "commissions", "--from", today, "--to", today, "--staff", "p01",
                 "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["staff,name,level,lines,base_fen,commission_fen",
                                          f"p01,发型师 王芳,高级,4,{2 * 54_200},{2 * 3880}"]
    assert run("--db", desk.target, "report", "turnover", "--staff", "p01").exit_code == 1


def test_a_staff_member_sees_only_their_own_day(desk):
    zhang = shop(desk)
    checkout(zhang, ["HAIR", "WATER"], [("cash", 9_100)], desk.cashier, "s1",
             performers={"HAIR": ["p01"], "WATER": ["c01"]})
    mine = cm.day_settlement(desk.cashier)
    assert [(x.item, x.role, x.base_fen, x.amount_fen) for x in mine.lines] == [("矿泉水", "sales", 300, 15)]
    assert mine.amount_fen == 15
    assert cm.day_settlement(desk.manager).lines == []


async def test_choosing_performers_at_checkout(sqlite_desk):
    """Enter on a line opens the picker; Space marks two, their shares typed; the sale credits them."""
    from mms_tui.app import create_app
    from mms_tui.settings import Settings
    from tests.test_snapshots import settle

    shop(sqlite_desk)
    app = create_app(Settings(db=sqlite_desk.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"c01", "enter", *"0000", "enter")
        await settle(pilot)
        await pilot.press(*"13800138000", "enter")
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press(*"HAIR", "enter")
        await settle(pilot)
        app.screen.query_one("#lines").focus()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("space", "down", "space", "tab", *"70 30", "enter")
        await settle(pilot)
        assert app.screen.performers == {"HAIR": [("p01", 7000), ("p02", 3000)]}
        await pilot.press("f4", "f10")
        await settle(pilot)
    assert rows_of() == [("p01", "lead", 7000, 6160, 1232, "commissions.rules[2] HAIR-SR"),
                         ("p02", "assistant", 3000, 2640, 396, "commissions.rules[3] HAIR")]


async def test_the_top_up_dialog_credits_the_salesperson_typed(sqlite_desk):
    """F4 on a member: the amount, then the salesperson's code; the top-up's commission goes to them (1.5 %)."""
    from mms_tui.app import create_app
    from mms_tui.services.members.cards import issue_card
    from mms_tui.settings import Settings
    from tests.test_snapshots import settle

    zhang = shop(sqlite_desk)
    issue_card(zhang, "SV", sqlite_desk.cashier, "i1", card_no="00012345")
    app = create_app(Settings(db=sqlite_desk.target, lang="en", wedge_gap_ms=0, lock_minutes=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"c01", "enter", *"0000", "enter")
        await settle(pilot)
        await pilot.press(*"00012345", "enter")
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press(*"200")
        app.screen.query_one("#salesperson").value = "p02"
        await pilot.press("f10")
        await settle(pilot)
    assert rows_of() == [("p02", "sales", 10_000, 20_000, 300, "commissions.rules[6] TOPUP")]


async def test_my_commissions_today_print_on_the_receipt_printer(sqlite_desk):
    """F8 today, F7 my commissions, F6 prints the 日结 (a pty stands for the printer)."""
    import os

    from tests.test_tui import at_desk, collect, pty_reader

    zhang = shop(sqlite_desk)
    checkout(zhang, ["WATER"], [("cash", 300)], sqlite_desk.cashier, "s1", performers={"WATER": ["c01"]})
    master, slave = os.openpty()
    printed = pty_reader(master)

    try:
        async with at_desk(sqlite_desk, printer=os.ttyname(slave), lang="en") as (_app, pilot):
            await pilot.press("f8")
            await settle_twice(pilot)
            await pilot.press("f7")
            await settle_twice(pilot)
            await pilot.press("f6")
            await settle_twice(pilot)
            out = await collect(pilot, printed)
    finally:
        os.close(master)
        os.close(slave)
    assert "前台 小陈 (c01)".encode("gb18030") in out and "矿泉水".encode("gb18030") in out
    assert b"Total " in out


async def settle_twice(pilot) -> None:
    from tests.test_snapshots import settle

    await settle(pilot)
    await settle(pilot)


def test_a_performer_not_clocked_in_is_a_warning_a_manager_may_allow(desk):
    """Once staff clock in at the store today, a performer who has not is refused unless a manager allows it; a
    shop that keeps no attendance is never asked."""
    from mms_tui.services.staff.attendance import punch_by_card

    zhang = shop(desk)
    checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "s0", performers={"HAIR": ["p01"]})  # no punches
    punch_by_card("STAFF001", "HQ", "in-c01")  # the cashier clocks in: the store keeps attendance
    with pytest.raises(cm.PerformerNotAllowed, match="发型师 王芳 \\(p01\\) has not clocked in today"):
        checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "s1", performers={"HAIR": ["p01"]})
    assert Sale.select().count() == 1
    checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, "s1", performers={"HAIR": ["p01"]},
             approver=desk.manager)
    checkout(zhang, ["WATER"], [("cash", 300)], desk.cashier, "s2", performers={"WATER": ["p01"]})  # a sale: no
    assert Sale.select().count() == 3
