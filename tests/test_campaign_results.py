"""Campaign results (营销效果, issue #25): ``mms report promotions`` per promotion and coupon campaign, checked
against figures worked out by hand from a known day of coupons and sales, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mms_tui.models import Coupon, Sale, Transaction
from mms_tui.services.base.resolve import today
from mms_tui.services.loyalty.coupons import issue_coupon
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.reports.catalogue import run_report

RULES = {"promotions": [
    {"code": "MJ300", "name": "满300减50", "kind": "threshold", "threshold": "300", "amount": "50", "auto": True},
    {"code": "SPRING", "name": "春季护理券", "kind": "amount", "amount": "30", "auto": False},
    {"code": "WINBACK", "name": "回归礼", "kind": "amount", "amount": "20", "auto": False},
    {"code": "IDLE", "name": "没人用", "kind": "amount", "amount": "5", "auto": False},
]}


@pytest.fixture
def day_of_campaigns(desk):
    """Coupons and sales of one day (see each step); the figures the report must give are worked out below."""
    save_rules(RULES, desk.manager)
    a, b, c, d = (register_member(name, f"1390000000{i}", desk.cashier, f"reg{i}").member_id
                  for i, name in enumerate(["甲", "乙", "丙", "丁"]))
    spring = {m: issue_coupon(m, "SPRING", desk.manager).code for m in (a, b, c)}  # 3 issued
    d_back = Coupon.create(code="WINBACK-D", promotion="WINBACK", member=d, reason="winback",
                           valid_from=today(), valid_until=today() + dt.timedelta(days=29))
    totals = [
        checkout(a, ["HAIR"], [("cash", 5_800)], desk.cashier, "s1", coupons=[spring[a]]).total_fen,  # 88 − 30
        checkout(b, ["SPA"], [("cash", 44_800)], desk.cashier, "s2", member_coupons=False).total_fen,  # 满300减50
        checkout(None, ["SPA"], [("cash", 44_800)], desk.cashier, "s3").total_fen,  # a walk-in, 满300减50
        checkout(c, ["HAIR"], [("cash", 8_800)], desk.cashier, "s4", member_coupons=False).total_fen,  # nothing
        checkout(d, ["HAIR"], [("cash", 6_800)], desk.cashier, "s5", coupons=[d_back.code]).total_fen,  # 88 − 20
        checkout(a, ["SPA"], [("cash", 44_800)], desk.cashier, "s6", member_coupons=False).total_fen,  # refunded
    ]
    assert totals == [5_800, 44_800, 44_800, 8_800, 6_800, 44_800]
    refund("s6", desk.manager, "wrong member", "r6")
    c_sale = Sale.get(Sale.transaction == Transaction.get(Transaction.txid == "s4").id).created_at
    Coupon.create(code="WINBACK-C", promotion="WINBACK", member=c, reason="winback",  # after 丙's last visit
                  issued_at=c_sale + dt.timedelta(seconds=5), valid_from=today(), valid_until=today())
    return desk


def test_each_promotion_s_coupons_sales_discount_and_win_backs_are_what_the_day_gave(day_of_campaigns):
    rows = {r["promotion"]: r for r in run_report("promotions", today() - dt.timedelta(days=1),
                                                  today() + dt.timedelta(days=1))}
    assert set(rows) == {"IDLE", "MJ300", "SPRING", "WINBACK"}
    # members' paid sales that day: s1 甲 ¥58, s2 乙 ¥448, s4 丙 ¥88, s5 丁 ¥68 (s3 a walk-in; s6 refunded)
    members_sales, members_revenue = 4, 5_800 + 44_800 + 8_800 + 6_800
    expected = {
        "SPRING": {"coupons_issued": 3, "coupons_redeemed": 1, "redeem_rate_pct": 33.3, "members": 3, "sales": 1,
                   "discount_fen": 3_000, "revenue_fen": 5_800, "avg_ticket_fen": 5_800,
                   "others_avg_ticket_fen": (members_revenue - 5_800) // (members_sales - 1),
                   "winback_issued": 0, "came_back_in_7d": 0},
        "MJ300": {"coupons_issued": 0, "coupons_redeemed": 0, "redeem_rate_pct": None, "members": 1, "sales": 2,
                  "discount_fen": 10_000, "revenue_fen": 89_600, "avg_ticket_fen": 44_800,
                  "others_avg_ticket_fen": (members_revenue - 44_800) // (members_sales - 1),
                  "winback_issued": 0, "came_back_in_7d": 0},
        "WINBACK": {"coupons_issued": 2, "coupons_redeemed": 1, "redeem_rate_pct": 50.0, "members": 2, "sales": 1,
                    "discount_fen": 2_000, "revenue_fen": 6_800, "avg_ticket_fen": 6_800,
                    "others_avg_ticket_fen": (members_revenue - 6_800) // (members_sales - 1),
                    "winback_issued": 2, "came_back_in_7d": 1},  # 丁 came back; 丙 has not since the coupon
        "IDLE": {"coupons_issued": 0, "coupons_redeemed": 0, "redeem_rate_pct": None, "members": 0, "sales": 0,
                 "discount_fen": 0, "revenue_fen": 0, "avg_ticket_fen": None,
                 "others_avg_ticket_fen": members_revenue // members_sales, "winback_issued": 0,
                 "came_back_in_7d": 0},
    }
    for code, figures in expected.items():
        assert {k: rows[code][k] for k in figures} == figures, code
    assert rows["SPRING"]["name"] == "春季护理券"


def test_a_sale_a_promotion_applied_to_counts_though_a_level_price_over_list_leaves_it_no_discount(desk):
    """A price level's price replaces the list price, and may be above it: 5 % off it still leaves the sale dearer
    than the list, so the sale's discount is negative — the promotion applied all the same (its record says so)
    and counts (a filter on the sale's discount left it out)."""
    from mms_tui.services.catalogue.prices import add_level, set_price
    from mms_tui.services.members.profile import update_member

    save_rules({"promotions": [{"code": "PCT5", "name": "九五折", "kind": "percent", "percent": 5, "auto": True}]},
               desk.manager)
    member = register_member("甲", "13900000001", desk.cashier, "reg1").member_id
    add_level(desk.manager, "VIPX", "贵宾价")
    set_price(desk.manager, "HAIR", 10_000, list_code="VIPX")  # ¥100 on the member's level; the list says ¥88
    update_member(member, desk.manager, "lvl1", price_level="VIPX")
    sale = checkout(member, ["HAIR"], [("cash", 9_500)], desk.cashier, "p1")
    assert sale.total_fen == 9_500 and sale.discount_fen < 0 and [p["promotion"] for p in sale.promotions] == ["PCT5"]
    row = next(r for r in run_report("promotions", today(), today()) if r["promotion"] == "PCT5")
    assert (row["sales"], row["discount_fen"], row["revenue_fen"]) == (1, 500, 9_500)


def test_a_period_before_the_day_shows_nothing_and_a_refunded_coupon_sale_gives_its_coupon_back(day_of_campaigns):
    before = {r["promotion"]: r for r in run_report("promotions", today() - dt.timedelta(days=10),
                                                    today() - dt.timedelta(days=1))}
    assert {(r["coupons_issued"], r["sales"]) for r in before.values()} == {(0, 0)}
    refund("s1", day_of_campaigns.manager, "complaint", "r1")  # 甲's SPRING coupon is open again: not redeemed
    spring = next(r for r in run_report("promotions", today(), today()) if r["promotion"] == "SPRING")
    assert (spring["coupons_redeemed"], spring["sales"], spring["discount_fen"]) == (0, 0, 0)


def test_a_sale_refunded_in_part_counts_what_it_kept(day_of_campaigns):
    """A partial refund (部分退款) of a promoted sale left its revenue whole in the campaign's results (a whole
    refund leaves the sale out): 乙's ¥448 满300减50 sale, ¥100 of it given back, counts ¥348 — in the promotion's
    revenue and in the members' average ticket the others are compared with."""
    from mms_tui.services.money.refund import refund_part

    refund_part("s2", 10_000, day_of_campaigns.manager, "少做一项", "p2")
    rows = {r["promotion"]: r for r in run_report("promotions", today() - dt.timedelta(days=1),
                                                  today() + dt.timedelta(days=1))}
    members_sales, members_revenue = 4, 5_800 + 34_800 + 8_800 + 6_800
    assert (rows["MJ300"]["sales"], rows["MJ300"]["discount_fen"], rows["MJ300"]["revenue_fen"]) == (
        2, 10_000, 34_800 + 44_800)
    assert rows["MJ300"]["others_avg_ticket_fen"] == (members_revenue - 34_800) // (members_sales - 1)
    assert rows["IDLE"]["others_avg_ticket_fen"] == members_revenue // members_sales


def test_mms_report_promotions_prints_the_rows(run, sqlite_desk):
    save_rules(RULES, sqlite_desk.manager)
    member = register_member("甲", "13900000000", sqlite_desk.cashier, "reg").member_id
    checkout(member, ["SPA"], [("cash", 44_800)], sqlite_desk.cashier, "s1")
    out = run("--db", sqlite_desk.target, "report", "promotions", "--format", "json")
    assert out.exit_code == 0, out.output
    mj = next(r for r in json.loads(out.stdout) if r["promotion"] == "MJ300")
    assert (mj["sales"], mj["discount_fen"], mj["members"]) == (1, 5_000, 1)


def test_report_help_says_format_without_forty_names_and_o_writes_a_file(run, sqlite_desk, tmp_path):
    """#25, output polish: --format's help is one line, not every tabulate name; -o is --output."""
    shown = run("report", "--help")
    assert shown.exit_code == 0
    assert "--format FORMAT" in shown.stdout and "youtrack" not in shown.stdout
    assert "-o, --output FILE" in shown.stdout
    target = tmp_path / "promotions.csv"
    save_rules(RULES, sqlite_desk.manager)
    out = run("--db", sqlite_desk.target, "report", "promotions", "-o", target)
    assert out.exit_code == 0, out.output
    assert target.read_text(encoding="utf-8-sig").splitlines()[0].startswith("promotion,name,coupons_issued,")
    wrong = run("--db", sqlite_desk.target, "report", "promotions", "--format", "nope")
    assert wrong.exit_code == 2 and "nope" in wrong.output


def test_report_csv_takes_the_encodings_export_takes(run, sqlite_desk, tmp_path):
    """#25, output polish: a report's CSV on standard output is plain UTF-8 (no BOM) unless asked, GB18030 when
    asked, in a file as well; --encoding with a table format is refused in one line."""
    save_rules(RULES, sqlite_desk.manager)
    db = sqlite_desk.target
    plain = run("--db", db, "report", "promotions", "--format", "csv")
    assert not plain.stdout_bytes.startswith(b"\xef\xbb\xbf") and "春季护理券" in plain.stdout_bytes.decode("utf-8")
    gb = run("--db", db, "report", "promotions", "--format", "csv", "--encoding", "gb18030")
    assert gb.exit_code == 0, gb.output
    assert gb.stdout_bytes.decode("gb18030").splitlines() == plain.stdout_bytes.decode("utf-8").splitlines()
    target = tmp_path / "p.csv"
    written = run("--db", db, "report", "promotions", "-o", target, "--encoding", "gb18030")
    assert written.exit_code == 0 and "春季护理券" in target.read_bytes().decode("gb18030")
    table = run("--db", db, "report", "promotions", "--encoding", "gb18030")
    assert table.exit_code == 2 and "--encoding applies to csv, json and jsonl" in table.output
