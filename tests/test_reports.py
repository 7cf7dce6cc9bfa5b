"""Each report's figures against hand-computed values on a small fixture; formats; bad arguments."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from mms_tui.cli import cli
from mms_tui.models import Transaction
from mms_tui.services.checkin import check_in
from mms_tui.services.checkout import checkout
from mms_tui.services.errors import InvalidInput
from mms_tui.services.members import issue_card, register_member
from mms_tui.services.refund import refund
from mms_tui.services.reports import REPORTS, run_report
from mms_tui.services.topup import top_up

D1, D2 = dt.datetime(2026, 11, 2, 10, 15), dt.datetime(2026, 11, 3, 18, 40)  # a Monday and a Tuesday


def at(txid: str, when: dt.datetime) -> None:
    Transaction.update(created_at=when).where(Transaction.txid == txid).execute()


@pytest.fixture
def month(desk):
    """Day 1: top-up ¥1000 + ¥200 bonus (WeChat); sale 精剪 ¥88 by stored value; sale 2 waters ¥6 cash;
    a check-in; a ¥100 cash top-up. Day 2: sale 全身SPA ¥498 (¥400 stored value + ¥98 Alipay), refunded the same
    day; a check-in; the ¥100 top-up refunded."""
    c = desk.cashier
    m = register_member("张三", "13800138000", c, "r1").member_id
    sv = issue_card(m, "SV", c, "i1", card_no="SV1", price_fen=0).card_id
    pkg = issue_card(m, "V10", c, "i2", card_no="PKG1", tender="cash").card_id
    top_up(sv, 100_000, 20_000, "wechat", c, "t1")
    checkout(m, ["HAIR"], [("stored_value", 8_800, sv)], c, "s1")
    checkout(None, [("WATER", 2)], [("cash", 600)], c, "s2")
    check_in(pkg, c, "v1")
    checkout(m, ["SPA"], [("stored_value", 40_000, sv), ("alipay", 9_800)], c, "s3")
    check_in(pkg, c, "v2")
    refund("s3", desk.manager, "unhappy", "rf1")
    top_up(sv, 10_000, 0, "cash", c, "t2")
    refund("t2", desk.manager, "wrong card", "rf2")
    for txid in ("r1", "i1", "i2", "t1", "s1", "s2", "v1", "t2"):
        at(txid, D1)
    for txid in ("s3", "v2", "rf1", "rf2"):
        at(txid, D2)
    return desk


def report(name, **kw):
    return list(run_report(name, dt.date(2026, 11, 1), dt.date(2026, 11, 30), **kw))


def test_turnover_by_day_nets_the_refund_on_its_day(month):
    day1, day2 = report("turnover")
    assert day1 == {"period": "2026-11-02", "sale_count": 2, "sales_fen": 9_400, "refund_count": 0, "refunds_fen": 0,
                    "net_fen": 9_400, "cash_fen": 600, "bank_card_fen": 0, "wechat_fen": 0, "alipay_fen": 0,
                    "stored_value_fen": 8_800, "points_fen": 0, "理疗_fen": 0, "美发_fen": 8_800, "零售_fen": 600}
    assert day2["sales_fen"] == 49_800 and day2["refunds_fen"] == 49_800 and day2["net_fen"] == 0
    assert (day2["stored_value_fen"], day2["alipay_fen"], day2["理疗_fen"]) == (0, 0, 0)
    (whole,) = report("turnover", by="month")
    assert (whole["period"], whole["net_fen"], whole["sale_count"]) == ("2026-11", 9_400, 3)


def test_topups_per_day_and_tender(month):
    assert report("topups") == [
        {"period": "2026-11-02", "tender": "cash", "topup_count": 1, "principal_fen": 10_000, "bonus_fen": 0},
        {"period": "2026-11-02", "tender": "wechat", "topup_count": 1, "principal_fen": 100_000, "bonus_fen": 20_000},
        {"period": "2026-11-03", "tender": "cash", "topup_count": -1, "principal_fen": -10_000, "bonus_fen": 0},
    ]


def test_liability_is_what_is_still_owed(month):
    rows = {r["card_type"]: r for r in report("liability")}
    # ¥1000 − ¥88 (principal first) = ¥912 principal, ¥200 bonus; the SPA sale was refunded back to the card
    assert (rows["储值卡"]["principal_fen"], rows["储值卡"]["bonus_fen"]) == (91_200, 20_000)
    assert rows["10次卡"]["visits"] == 8
    assert rows["储值卡"]["points"] == 88  # ¥88 of principal earned 88 points; the refunded sale's points went back
    total = rows["Total"]
    assert (total["principal_fen"], total["visits"]) == (91_200, 8)


def test_visits_by_weekday_and_hour(month):
    assert report("visits") == [
        {"store": "总店", "weekday": 1, "hour": "10:00", "check_ins": 1},
        {"store": "总店", "weekday": 2, "hour": "18:00", "check_ins": 1},
    ]


def test_staff_and_products_leave_refunded_sales_out(month):
    assert report("staff") == [{"staff": "c01", "name": "前台 小陈", "services": 1, "products": 2,
                                "revenue_fen": 9_400}]
    assert report("products") == [
        {"code": "HAIR", "name": "精剪", "category": "美发", "kind": "service", "qty": 1, "revenue_fen": 8_800},
        {"code": "WATER", "name": "矿泉水", "category": "零售", "kind": "product", "qty": 2, "revenue_fen": 600},
    ]


def test_cards_per_type(month):
    rows = {r["card_type"]: r for r in run_report("cards", dt.date(2026, 11, 1), dt.date.today())}
    assert rows["储值卡"]["active"] == 1 and rows["10次卡"]["active"] == 1


def test_bad_arguments_are_one_clear_error(month):
    with pytest.raises(InvalidInput):
        list(run_report("nope"))
    with pytest.raises(InvalidInput):
        list(run_report("turnover", dt.date(2026, 12, 1), dt.date(2026, 11, 1)))


def test_cli_list_formats_and_money(month):
    runner = CliRunner()
    env = {"MMS_CONFIG": "/nonexistent.toml"}
    listed = runner.invoke(cli, ["report", "--list"], env=env)
    assert listed.exit_code == 0
    assert all(name in listed.output for name in REPORTS)
    args = ["--db", month.target, "report", "turnover", "--from", "2026-11-01", "--to", "2026-11-30"]
    as_json = runner.invoke(cli, [*args, "--format", "json"], env=env)
    assert json.loads(as_json.output)[0]["sales_fen"] == 9_400
    table = runner.invoke(cli, args, env=env)
    assert "¥94.00" in table.output
    as_csv = runner.invoke(cli, [*args, "--format", "csv"], env=env)
    assert as_csv.output.splitlines()[0].startswith("period,sale_count,sales_fen")
    bad = runner.invoke(cli, ["--db", month.target, "report", "nope"], env=env)
    assert bad.exit_code == 1 and "--list" in bad.output


def test_tiers_count_members_and_upgrades_in_the_period(desk):
    c = desk.cashier
    m = register_member("李四", "13912345678", c, "r9").member_id
    register_member("王五", "13700137000", c, "r10")
    checkout(m, [("SPA", 3)], [("cash", 149_400)], c, "big")  # ¥1,494 ≥ ¥1,000: up to SILVER
    rows = {r["code"]: r for r in run_report("tiers", dt.date.today(), dt.date.today())}
    assert (rows["NORMAL"]["members"], rows["SILVER"]["members"], rows["SILVER"]["upgrades"]) == (1, 1, 1)
    earlier = {r["code"]: r for r in run_report("tiers", dt.date(2020, 1, 1), dt.date(2020, 1, 31))}
    assert earlier["SILVER"]["upgrades"] == 0


ON = dt.date(2026, 11, 30)


@pytest.mark.parametrize("joined, last_seen, sales, spend, segment", [
    (ON - dt.timedelta(days=10), None, 0, 0, "new"),
    (ON - dt.timedelta(days=400), ON - dt.timedelta(days=5), 2, 300_000, "big_spenders"),
    (ON - dt.timedelta(days=400), ON - dt.timedelta(days=5), 6, 50_000, "loyal"),
    (ON - dt.timedelta(days=400), ON - dt.timedelta(days=45), 1, 10_000, "returning"),
    (ON - dt.timedelta(days=400), ON - dt.timedelta(days=90), 3, 10_000, "at_risk"),
    (ON - dt.timedelta(days=400), ON - dt.timedelta(days=200), 9, 900_000, "lost"),
    (ON - dt.timedelta(days=400), None, 0, 0, "lost"),
    (ON - dt.timedelta(days=400), ON - dt.timedelta(days=90), 1, 10_000, "idle"),
])
def test_segment_rules(joined, last_seen, sales, spend, segment):
    from mms_tui.services.reports import segment_of

    assert segment_of(joined, last_seen, sales, spend, ON) == segment


def test_segments_report_counts_every_member_once(month):
    rows = report("segments")
    assert sum(r["members"] for r in rows) == 1
    assert all(r["rule"] for r in rows)
