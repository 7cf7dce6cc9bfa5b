"""Each report's figures against hand-computed values on a small fixture; formats; bad arguments."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterator

import peewee
import pytest
from click.testing import CliRunner

from mms_tui import clock
from mms_tui.cli import cli
from mms_tui.i18n import _
from mms_tui.models import (
    AuditEvent,
    Card,
    CardType,
    Entry,
    Member,
    Payment,
    Sale,
    SaleLine,
    Staff,
    Store,
    Tier,
    Transaction,
    Visit,
)
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import as_date
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.segments import segment_of, segment_rules
from mms_tui.services.members.cards import issue_card, replace_card, report_lost
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.passes import freeze_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.money.topup import top_up
from mms_tui.services.reports.catalogue import REPORTS, run_report
from mms_tui.services.reports.period import TENDER_COLUMNS, Period, Row, bucket, period
from tests.test_birthdays import ref_birthdays

D1, D2 = dt.datetime(2026, 11, 2, 10, 15), dt.datetime(2026, 11, 3, 18, 40)  # a Monday and a Tuesday


def at(txid: str, when: dt.datetime) -> None:
    """Move an operation, with the sale or visit it made, to ``when``."""
    Transaction.update(created_at=when).where(Transaction.txid == txid).execute()
    tx = Transaction.select(Transaction.id).where(Transaction.txid == txid)
    for model in (Sale, Visit):
        model.update(created_at=when).where(model.transaction.in_(tx)).execute()


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
    check_in(pkg, c, "v2", again=True)  # moved to day 2 below
    refund("s3", desk.manager, "unhappy", "rf1")
    top_up(sv, 10_000, 0, "cash", c, "t2")
    refund("t2", desk.manager, "wrong card", "rf2")
    for txid in ("r1", "i1", "i2", "t1", "s1", "s2", "v1", "t2"):
        at(txid, D1)
    for txid in ("s3", "v2", "rf1", "rf2"):
        at(txid, D2)
    # the member joined on day 1 too: the whole history lies in November 2026, whatever day the suite runs
    Member.update(created_at=D1).where(Member.id == m).execute()
    Card.update(issued_at=D1).where(Card.member == m).execute()
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


@pytest.fixture
def cards_of_every_state(desk):
    """Cards of three types issued at known moments around November 2026, each left in a known state. Each line
    is one card: its number, type, when it was issued, its end date (a 10次卡 runs 180 days, a 月卡 30) and what
    became of it; the last column is how the cards report for November counts it."""
    c, m = desk.cashier, desk.manager
    Store.create(code="BR1", name="分店", parent=desk.store)
    holder = register_member("张三", "13800138000", c, "r1").member_id

    def issue(card_no: str, card_type: str, when: dt.datetime, **kw) -> None:
        with clock.pinned(when):
            issue_card(holder, card_type, c, f"i-{card_no}", card_no=card_no, **kw)

    def on(when: dt.datetime, operation, *args, **kw) -> None:
        with clock.pinned(when):
            operation(*args, **kw)

    #     card        type   issued                               ends        then                 counted as
    issue("V-1", "V10", dt.datetime(2026, 6, 3, 10))             # 11-29                           expired
    issue("V-2", "V10", dt.datetime(2026, 6, 4, 10))             # 11-30, the last day             active, ending
    issue("V-3", "V10", dt.datetime(2026, 7, 4, 10))             # 12-30, 30 days on               active, ending
    issue("V-4", "V10", dt.datetime(2026, 7, 5, 10))             # 12-31                           active
    issue("M-1", "M1", dt.datetime(2026, 10, 1, 10))             # 10-30                           expired
    issue("M-2", "M1", dt.datetime(2026, 10, 20, 10))            # 11-18     frozen on 10-25       frozen
    on(dt.datetime(2026, 10, 25, 10), freeze_card, "M-2", c, "fz-M-2")
    issue("S-1", "SV", dt.datetime(2026, 10, 31, 23, 59, 59))    # -                               active
    issue("V-5", "V10", dt.datetime(2026, 11, 1, 0, 0))          # 2027-04-29                      issued, active
    issue("S-2", "SV", dt.datetime(2026, 11, 2, 10))             # -                               issued, active
    issue("S-3", "SV", dt.datetime(2026, 11, 3, 10))             # -         lost on 11-03         issued, lost
    on(dt.datetime(2026, 11, 3, 11), report_lost, "S-3", c, "l-S-3")
    on(dt.datetime(2026, 11, 4, 10), replace_card, "S-3", "S-4", c, "rp-S-3")  # S-4: issued, active
    issue("S-5", "SV", dt.datetime(2026, 11, 5, 10), price_fen=10_000)  # -  the issue refunded  issued, cancelled
    on(dt.datetime(2026, 11, 5, 11), refund, "i-S-5", m, "wrong card", "rf-S-5")
    issue("M-3", "M1", dt.datetime(2026, 11, 10, 10))            # 12-09     imported as expired   issued, expired
    Card.update(status="expired").where(Card.card_no == "M-3").execute()  # a status an import may bring
    issue("V-6", "V10", dt.datetime(2026, 11, 10, 12), store="BR1")  # 2027-05-08 at the branch   issued, active
    issue("M-4", "M1", dt.datetime(2026, 11, 15, 10))            # 12-14                           issued, active, ending
    issue("S-6", "SV", dt.datetime(2026, 11, 30, 0, 0))          # -                               issued, active
    issue("V-7", "V10", dt.datetime(2026, 11, 30, 23, 59, 59))   # 2027-05-28  lost on 11-30       issued, lost
    on(dt.datetime(2026, 11, 30, 23, 59, 59), report_lost, "V-7", c, "l-V-7")
    ends = {card.card_no: card.valid_until for card in Card.select()}
    assert ends == {"V-1": dt.date(2026, 11, 29), "V-2": dt.date(2026, 11, 30), "V-3": dt.date(2026, 12, 30),
                    "V-4": dt.date(2026, 12, 31), "V-5": dt.date(2027, 4, 29), "V-6": dt.date(2027, 5, 8),
                    "V-7": dt.date(2027, 5, 28), "M-1": dt.date(2026, 10, 30), "M-2": dt.date(2026, 11, 18),
                    "M-3": dt.date(2026, 12, 9), "M-4": dt.date(2026, 12, 14),
                    **{f"S-{n}": None for n in range(1, 7)}}
    return desk


def test_cards_per_type(cards_of_every_state):
    november = list(run_report("cards", dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    assert november == [
        # issued in November: V-5, V-6, V-7; active: V-2, V-3, V-4, V-5, V-6; ending by 12-30: V-2, V-3
        {"card_type": "10次卡", "issued": 3, "active": 5, "frozen": 0, "lost": 1, "expired": 1, "cancelled": 0,
         "ending_30d": 2},
        # issued: S-2, S-3, S-4, S-5, S-6; active: S-1, S-2, S-4, S-6
        {"card_type": "储值卡", "issued": 5, "active": 4, "frozen": 0, "lost": 1, "expired": 0, "cancelled": 1,
         "ending_30d": 0},
        # issued: M-3, M-4; expired: M-1, M-3 (M-2 ended too, but a frozen card waits)
        {"card_type": "月卡", "issued": 2, "active": 1, "frozen": 1, "lost": 0, "expired": 2, "cancelled": 0,
         "ending_30d": 1},
    ]
    assert list(run_report("cards", dt.date(2026, 11, 1), dt.date(2026, 11, 30), "BR1")) == [
        {"card_type": "10次卡", "issued": 1, "active": 1, "frozen": 0, "lost": 0, "expired": 0, "cancelled": 0,
         "ending_30d": 0}]
    # to 11-29: V-1 ends on the period's last day (active, ending), V-2 the day after (ending), V-3's 12-30 is
    # 31 days on; V-7 and S-6 were issued on the 30th (S-6 at its first moment)
    earlier = {r["card_type"]: r for r in run_report("cards", dt.date(2026, 11, 1), dt.date(2026, 11, 29))}
    assert [earlier["10次卡"][k] for k in ("issued", "active", "expired", "ending_30d")] == [2, 6, 0, 2]
    assert earlier["储值卡"]["issued"] == 4


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
    rows = {r["code"]: r for r in run_report("tiers", clock.today(), clock.today())}
    assert (rows["NORMAL"]["members"], rows["SILVER"]["members"], rows["SILVER"]["upgrades"]) == (1, 1, 1)
    earlier = {r["code"]: r for r in run_report("tiers", dt.date(2020, 1, 1), dt.date(2020, 1, 31))}
    assert earlier["SILVER"]["upgrades"] == 0


def test_tiers_count_the_members_of_the_stores_asked_for_and_of_a_managers_own(desk):
    """Members per tier are those whose home store is in the report's stores — not the chain's, for a branch's
    manager or `--store BR1`."""
    from mms_tui.models import Staff, Store
    from mms_tui.services.staff.accounts import create_staff
    from mms_tui.services.staff.stores import add_store

    add_store("BR1", "分店", desk.admin, parent="HQ")
    c = desk.cashier
    register_member("李四", "13912345678", c, "r1")
    register_member("王五", "13700137000", c, "r2", store="BR1")
    register_member("赵六", "13600136000", c, "r3", store="BR1")
    create_staff("m02", "分店经理", "manager", "5678", store=Store.get(Store.code == "BR1"))
    branch = Staff.get(Staff.code == "m02")
    today = clock.today()
    assert {r["code"]: r["members"] for r in run_report("tiers", today, today)}["NORMAL"] == 3
    assert {r["code"]: r["members"] for r in run_report("tiers", today, today, "BR1")}["NORMAL"] == 2
    assert {r["code"]: r["members"] for r in run_report("tiers", today, today, viewer=branch)}["NORMAL"] == 2
    assert {r["code"]: r["members"] for r in run_report("tiers", today, today, "HQ")}["NORMAL"] == 3


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
    from mms_tui.services.loyalty.segments import segment_of

    assert segment_of(joined, last_seen, sales, spend, ON) == segment


def test_segments_report_counts_every_member_once(month):
    rows = report("segments")
    assert sum(r["members"] for r in rows) == 1
    assert all(r["rule"] for r in rows)


# --- every report against a reference written apart from it (issues #5, #16) -------------------------------------
#
# The reports add up in SQL along their indexes; the references below say the same thing the plain way — loops over
# the models' rows in Python (liability and segments: plain grouped queries), easy to read and checked by hand
# against the fixtures above, sharing with the reports only the period (its bounds, its weeks and months) and the
# segment rule. The staff and products references find refunded sales from the ledger (a refund reversing the
# checkout), not from the sale's status. On a varied history (two stores, packages and passes, stored value and
# points, tier upgrades, lost and frozen cards, refunds of sales, top-ups and check-ins days later, a free gift, an
# uncategorised item, a category renamed since, two items of equal revenue) both must give the same rows, for recent
# periods, old ones, whole ranges by day, week and month, and one store.


def ref_turnover(p: Period, by: str = "day") -> Iterator[Row]:
    """Sales per day (week, month) by tender and by category (one ``<category>_fen`` column each, after the
    tenders); a refund counts, negatively, on the day it was made."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sales = (
        Sale.select(Sale.id, Sale.total_fen, Transaction.created_at)
        .join(Transaction)
        .where(p.tx_filter())
        .tuples()
    )
    for _sale_id, total, created in sales:
        r = rows[bucket(as_date(created), by)]
        r["sales"] += 1
        r["sales_fen"] += total
    pays = (
        Payment.select(Payment.tender, Payment.amount_fen, Transaction.created_at)
        .join(Sale).join(Transaction)
        .where(p.tx_filter())
        .tuples()
    )
    for tender, amount, created in pays:
        rows[bucket(as_date(created), by)][f"{tender}_fen"] += amount
    categories: set[str] = set()
    lines = (
        SaleLine.select(SaleLine.category, SaleLine.line_total_fen, Transaction.created_at)
        .join(Sale).join(Transaction)
        .where(p.tx_filter())
        .tuples()
    )
    for category, amount, created in lines:
        category = category or _("uncategorised")
        categories.add(category)
        rows[bucket(as_date(created), by)][f"category:{category}"] += amount
    Original = Transaction.alias()
    refunds = (
        Transaction.select(Transaction.created_at, Sale.id, Sale.total_fen)
        .join(Original, on=(Transaction.reverses == Original.id))
        .join(Sale, on=(Sale.transaction == Original.id))
        .where(p.tx_filter() & (Transaction.kind == "refund"))
        .tuples()
    )
    for created, sale_id, total in refunds:
        r = rows[bucket(as_date(created), by)]
        r["refunds"] += 1
        r["refunds_fen"] += total
        for tender, amount in Payment.select(Payment.tender, Payment.amount_fen).where(Payment.sale == sale_id).tuples():
            r[f"{tender}_fen"] -= amount
        for category, amount in SaleLine.select(SaleLine.category, SaleLine.line_total_fen).where(
                SaleLine.sale == sale_id).tuples():
            category = category or _("uncategorised")
            categories.add(category)
            r[f"category:{category}"] -= amount
    for key in sorted(rows):
        r = rows[key]
        yield {
            "period": key,
            "sale_count": r["sales"],
            "sales_fen": r["sales_fen"],
            "refund_count": r["refunds"],
            "refunds_fen": r["refunds_fen"],
            "net_fen": r["sales_fen"] - r["refunds_fen"],
            **{f"{t}_fen": r[f"{t}_fen"] for t in TENDER_COLUMNS},
            **{f"{c}_fen": r[f"category:{c}"] for c in sorted(categories)},
        }


def ref_topups(p: Period, by: str = "day") -> Iterator[Row]:
    """Top-ups and bonus value given, per day and tender (refunded top-ups count negatively on their refund day)."""
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    Original = Transaction.alias()
    query = (
        Entry.select(Transaction.id, Transaction.created_at, Transaction.kind, Entry.account, Entry.amount)
        .join(Transaction)
        .join(Original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == Original.id))
        .where(p.tx_filter() & ((Transaction.kind == "topup") | (Original.kind == "topup")))
        .tuples()
    )
    by_tx: dict = defaultdict(list)
    for tx_id, created, kind, account, amount in query:
        by_tx[(tx_id, created, kind)].append((account, amount))
    for (_tx_id, created, kind), entries in by_tx.items():
        accounts = dict(entries)
        tender = next(a for a in accounts if a.startswith("tender.")).removeprefix("tender.")
        r = rows[(bucket(as_date(created), by), tender)]
        r["topups"] += 1 if kind == "topup" else -1
        r["principal_fen"] += accounts.get("card.principal", 0)
        r["bonus_fen"] += accounts.get("card.bonus", 0)
    for (key, tender) in sorted(rows):
        r = rows[(key, tender)]
        yield {"period": key, "tender": tender, "topup_count": r["topups"], "principal_fen": r["principal_fen"],
               "bonus_fen": r["bonus_fen"]}


def ref_liability(p: Period, by: str = "day") -> Iterator[Row]:
    """What the business still owes its members at the end of the period: stored value (principal and bonus
    apart), points and visits, per card type — from the ledger, so it is exact at any past date."""
    query = (
        Entry.select(CardType.name, Entry.account, peewee.fn.SUM(Entry.amount))
        .join(Transaction, on=(Entry.transaction == Transaction.id))
        .switch(Entry).join(Card, on=(Entry.card == Card.id)).join(CardType)
        .where(Transaction.created_at < p.end_dt)
        .group_by(CardType.name, Entry.account)
        .tuples()
    )
    query = p.of_stores(query, Card.store)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, account, amount in query:
        totals[name][account] += int(amount)
    grand: dict[str, int] = defaultdict(int)
    for name in sorted(totals):
        t = totals[name]
        row = {"card_type": name, "principal_fen": t["card.principal"], "bonus_fen": t["card.bonus"],
               "points": t["card.points"], "visits": t["card.visits"]}
        for k in ("principal_fen", "bonus_fen", "points", "visits"):
            grand[k] += row[k]  # type: ignore[operator]
        yield row
    yield {"card_type": _("Total"), **grand}


def ref_visits(p: Period, by: str = "day") -> Iterator[Row]:
    """Check-ins per hour of day and weekday (the busy hours), per store; reversed check-ins left out."""
    counts: dict[tuple[str, int, int], int] = defaultdict(int)
    query = (
        Visit.select(Store.name, Transaction.created_at)
        .join(Transaction).switch(Visit).join(Store)
        .where(p.tx_filter() & (Visit.status == "ok"))
        .tuples()
    )
    for store, created in query:
        moment = created if isinstance(created, dt.datetime) else dt.datetime.fromisoformat(str(created))
        counts[(store, moment.isoweekday(), moment.hour)] += 1
    for (store, weekday, hour) in sorted(counts):
        yield {"store": store, "weekday": weekday, "hour": f"{hour:02d}:00", "check_ins": counts[(store, weekday, hour)]}


def in_period(tx: Transaction, p: Period) -> bool:
    """Made on a day of the period (at its store, when it names one)."""
    return p.start <= tx.created_at.date() <= p.end and p.holds(tx.store_id)


def lines_kept(p: Period) -> Iterator[tuple[Sale, SaleLine]]:
    """Every line of every sale made in the period and not refunded since. A sale counts as refunded when a refund
    transaction reverses its checkout — read from the ledger, not from the sale's status column."""
    transactions = {tx.id: tx for tx in Transaction.select()}
    reversed_ids = {tx.reverses_id for tx in transactions.values() if tx.kind == "refund"}
    sales = {sale.id: sale for sale in Sale.select()
             if in_period(transactions[sale.transaction_id], p) and sale.transaction_id not in reversed_ids}
    for line in SaleLine.select().order_by(SaleLine.id):
        if line.sale_id in sales:
            yield sales[line.sale_id], line


def ref_staff(p: Period, by: str = "day") -> Iterator[Row]:
    """Sales and services per staff member (refunded sales left out): each kept line adds its quantity to the
    services or products of the staff member who made the sale, and its total to their revenue; the best
    revenue first (then by code)."""
    staff = {s.id: s for s in Staff.select()}
    per_staff: dict[int, dict[str, int]] = {}
    for sale, line in lines_kept(p):
        r = per_staff.setdefault(sale.staff_id, {"services": 0, "products": 0, "revenue_fen": 0})
        if line.service_id is not None:
            r["services"] += line.qty
        else:
            r["products"] += line.qty
        r["revenue_fen"] += line.line_total_fen
    rows = [{"staff": staff[i].code, "name": staff[i].name, **r} for i, r in per_staff.items()]
    return iter(sorted(rows, key=lambda row: (-row["revenue_fen"], row["staff"], row["name"])))


def ref_products(p: Period, by: str = "day") -> Iterator[Row]:
    """Best sellers and services by revenue (refunded sales left out): kept lines added up per item as the line
    names it (code, name, category, product or service); the best revenue first, then by code, name, category and
    products before services."""
    per_item: dict[tuple[str, str, str, str], dict[str, int]] = {}
    for _sale, line in lines_kept(p):
        item = (line.code, line.name, line.category, "service" if line.service_id is not None else "product")
        r = per_item.setdefault(item, {"qty": 0, "revenue_fen": 0})
        r["qty"] += line.qty
        r["revenue_fen"] += line.line_total_fen
    rows = [{"code": code, "name": name, "category": category, "kind": kind, **r}
            for (code, name, category, kind), r in per_item.items()]
    return iter(sorted(rows, key=lambda row: (-row["revenue_fen"], row["code"], row["name"], row["category"],
                                              row["kind"] == "service")))


def ref_cards(p: Period, by: str = "day") -> Iterator[Row]:
    """Cards per type: issued in the period, and how many are active, frozen, lost, expired; ending in 30 days."""
    soon = p.end + dt.timedelta(days=30)
    query = Card.select(CardType.name, Card.status, Card.valid_until, Card.issued_at).join(CardType)
    query = p.of_stores(query, Card.store)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, status, valid_until, issued in query.tuples().iterator():
        r = rows[name]
        issued_day = as_date(issued)
        if p.start <= issued_day <= p.end:
            r["issued"] += 1
        until = as_date(valid_until) if valid_until else None
        state = "expired" if status == "active" and until is not None and until < p.end else status
        r[state] += 1
        if state == "active" and until is not None and p.end <= until <= soon:
            r["ending_30d"] += 1
    for name in sorted(rows):
        r = rows[name]
        yield {"card_type": name, "issued": r["issued"], "active": r["active"], "frozen": r["frozen"],
               "lost": r["lost"], "expired": r["expired"], "cancelled": r["cancelled"], "ending_30d": r["ending_30d"]}


def ref_tiers(p: Period, by: str = "day") -> Iterator[Row]:
    """Members per tier now (those whose home store is one of the period's stores), and upgrades into each tier
    during the period: one ``member.tier_up`` audit event each, naming the tier it went ``to`` (at the period's
    store, when it names one); every tier listed, lowest first, with its upgrade threshold."""
    members = Counter(member.tier_id for member in Member.select() if p.holds(member.home_store_id))
    upgrades: Counter[str] = Counter()
    for event in AuditEvent.select():
        if (event.action == "member.tier_up" and p.start <= event.created_at.date() <= p.end
                and p.holds(event.store_id)):
            upgrades[json.loads(event.payload)["to"]] += 1
    levels = {level.tier: level for level in load_rules().tiers.levels}  # thresholds are the rules' (spend)
    for tier in sorted(Tier.select(), key=lambda t: t.rank):
        yield {"tier": tier.name, "code": tier.code, "members": members[tier.id], "upgrades": upgrades[tier.code],
               "threshold_fen": (levels[tier.code].upgrade_at or 0) if tier.code in levels else 0}


def ref_segments(p: Period, by: str = "day") -> Iterator[Row]:
    """Members by recency, frequency and monetary value as of the end of the period, with the rule used."""
    year_ago = dt.datetime.combine(p.end - dt.timedelta(days=365), dt.time())
    activity: dict[int, list] = defaultdict(lambda: [None, 0, 0])  # last seen, sales, spend
    sales = (
        Sale.select(Sale.member, peewee.fn.MAX(Sale.created_at), peewee.fn.COUNT(Sale.id), peewee.fn.SUM(Sale.total_fen))
        .where(Sale.member.is_null(False) & (Sale.status == "paid") & (Sale.created_at >= year_ago)
               & (Sale.created_at < p.end_dt))
        .group_by(Sale.member).tuples()
    )
    for member_id, last, count, spend in sales:
        activity[member_id] = [as_date(last), int(count), int(spend or 0)]
    for member_id, last in (
        Visit.select(Visit.member, peewee.fn.MAX(Visit.created_at))
        .where((Visit.status == "ok") & (Visit.created_at < p.end_dt)).group_by(Visit.member).tuples()
    ):
        seen = activity[member_id]
        seen[0] = max(x for x in (seen[0], as_date(last)) if x is not None)
    counts: dict[str, int] = defaultdict(int)
    members = Member.select(Member.id, Member.created_at).where(Member.created_at < p.end_dt)
    members = p.of_stores(members, Member.home_store)
    for member_id, created in members.tuples().iterator():
        last, count, spend = activity.get(member_id, (None, 0, 0))
        counts[segment_of(as_date(created), last, count, spend, p.end, load_rules().segments)] += 1
    for name, rule in segment_rules(load_rules().segments):
        yield {"segment": name, "members": counts.get(name, 0), "rule": rule}


REFERENCE = {"turnover": ref_turnover, "topups": ref_topups, "liability": ref_liability, "visits": ref_visits,
             "staff": ref_staff, "products": ref_products, "cards": ref_cards, "tiers": ref_tiers,
             "segments": ref_segments, "birthdays": ref_birthdays}
#: the shifts report reads shifts, not the reports' indexes: tests/test_shifts.py checks it against hand sums; the
#: stores report adds up turnover, topups and visits per store: tests/test_stores_admin.py checks it; the staff
#: reports against figures worked out by hand: tests/test_attendance.py, test_commissions.py, test_service_report.py;
#: the bookings report likewise: tests/test_bookings.py; the stock reports against the stock model: tests/test_stock.py;
#: the messages and campaigns reports against messages counted by hand: tests/test_messages.py; the settlement
#: against figures worked out by hand: tests/test_chain.py; campaign results (promotions) against a day of coupons
#: and sales worked out by hand: tests/test_campaign_results.py; the activity reports (frequency, cohorts, tier-trend)
#: against figures by hand and references of their own on this history: tests/test_activity.py; payment codes
#: against charges and refunds made by hand: tests/test_payments.py
assert set(REPORTS) - set(REFERENCE) == {"shifts", "stores", "attendance", "commissions", "service", "bookings",
                                         "stock", "stock-moves", "low-stock", "stock-take", "messages", "campaigns",
                                         "tickets", "settlement", "promotions", "frequency", "cohorts", "tier-trend",
                                         "paycodes"}


@pytest.fixture
def history(db_target):
    return build_history(db_target)


def build_history(db_target: str) -> str:
    """The demo's history (two stores, 150 days) with the rare paths added (see above)."""
    from mms_tui.models import AuditEvent, Product, Staff
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.ops.demo import seed_demo
    from mms_tui.services.ops.setup import connect

    connect(db_target)
    seed_demo(members=16, days=150, seed=4)
    manager, cashier = Staff.get(Staff.code == "m01"), Staff.get(Staff.code == "c01")
    now = clock.now().replace(microsecond=0)

    def later(txid: str, when: dt.datetime) -> None:
        when = min(when, now)
        Transaction.update(created_at=when).where(Transaction.txid == txid).execute()
        AuditEvent.update(created_at=when).where(AuditEvent.txid == txid).execute()

    for kind, step in (("checkout", 5), ("topup", 4), ("checkin", 3)):
        for tx in list(Transaction.select().where(Transaction.kind == kind).order_by(Transaction.id))[1::step]:
            try:
                done = refund(tx.txid, manager, "test", new_txid())
            except DomainError:
                continue  # its value was spent since: not refundable, as at the desk
            later(done.txid, tx.created_at + dt.timedelta(days=2, hours=3))
    Product.create(code="GIFT", name="赠品", category="", price_fen=0)
    Product.create(code="MASK", name="面膜", category="护肤", price_fen=5_000)
    checkout(None, [("MASK", 2), "GIFT"], [("cash", 10_000)], cashier, "mask-1")
    Product.update(category="美容").where(Product.code == "MASK").execute()  # the line keeps 护肤
    checkout(None, ["MASK"], [("wechat", 5_000)], cashier, "mask-2")
    Product.create(code="BAG", name="购物袋", category="零售", price_fen=5_000)
    checkout(None, ["BAG"], [("cash", 5_000)], cashier, "bag-1")  # as much as the mask: ties are ordered by code
    refund("mask-1", manager, "test", "mask-1-back")
    card = Card.select().join(CardType).where((CardType.kind == "stored_value") & (Card.status == "active")).first()
    top_up(card.id, 30_000, 5_000, "alipay", manager, "late-topup")
    refund("late-topup", manager, "wrong card", "late-topup-back")
    at("late-topup", now - dt.timedelta(days=5))
    later("late-topup-back", now - dt.timedelta(days=4))
    at("mask-1", now - dt.timedelta(days=3))
    at("mask-2", now - dt.timedelta(days=2))
    at("bag-1", now - dt.timedelta(days=2))
    return db_target


def test_every_report_gives_what_the_row_by_row_reference_gives(history):
    today = clock.today()
    cases = [(today - dt.timedelta(days=30), today, None, "day"),
             (today - dt.timedelta(days=75), today - dt.timedelta(days=45), None, "day"),
             (today - dt.timedelta(days=230), today - dt.timedelta(days=200), None, "day"),  # before it all
             (today - dt.timedelta(days=160), today, None, "week"),
             (today - dt.timedelta(days=160), today, None, "month"),
             (today - dt.timedelta(days=60), today - dt.timedelta(days=10), "BR1", "day")]
    compared = 0
    for start, end, store, by in cases:
        p = period(start, end, store)
        for name in REFERENCE:
            expected = list(REFERENCE[name](p, by))
            assert list(run_report(name, start, end, store, by)) == expected, (name, start, end, store, by)
            compared += len(expected)
    assert compared > 200
    # the history has what the rare paths need: refunds, a zero line, a category the catalogue no longer has
    whole = list(run_report("turnover", today - dt.timedelta(days=160), today, by="month"))
    assert sum(r["refund_count"] for r in whole) >= 3
    assert {"护肤_fen", _("uncategorised") + "_fen"} <= set(whole[0])
    assert any(r["topup_count"] < 0 for r in run_report("topups", today - dt.timedelta(days=160), today))
    # and what the tiers, staff and products references tell apart: upgrades, two staff, products and services
    since = today - dt.timedelta(days=160)
    assert sum(r["upgrades"] for r in run_report("tiers", since, today)) >= 2
    assert len(list(run_report("staff", since, today))) >= 2
    assert {r["kind"] for r in run_report("products", since, today)} == {"product", "service"}


def test_the_edges_of_days_and_windows_agree_with_the_reference(desk):
    """Members and cards exactly on the edges the SQL draws: joined 30 or 31 days before the end, last seen 30, 60
    or 180 days before (by a sale or a check-in) and a day more, a sixth sale exactly a year back and one a day
    older, cards ending on the last day or 30 days on (and a day either side), issued on the first and last day."""
    from mms_tui.services.money.checkout import quote

    c = desk.cashier
    end = dt.date(2026, 11, 30)
    start = end - dt.timedelta(days=30)
    phones = iter(range(13_900_000_000, 13_999_999_999))

    def moment(days_before: int, hour: int = 10) -> dt.datetime:
        return dt.datetime.combine(end - dt.timedelta(days=days_before), dt.time(hour))

    def person(joined_days_before: int) -> int:
        phone = str(next(phones))
        member_id = register_member("会员", phone, c, f"r{phone}").member_id
        Member.update(created_at=moment(joined_days_before, 9)).where(Member.id == member_id).execute()
        return member_id

    def sale(member_id: int, days_before: int, item: str = "HAIR") -> None:
        txid = f"s{member_id}-{days_before}-{item}"
        checkout(member_id, [item], [("cash", quote(member_id, [item]).total_fen)], c, txid)
        at(txid, moment(days_before))
        Sale.update(created_at=moment(days_before)).where(
            Sale.transaction == Transaction.get(Transaction.txid == txid).id).execute()

    def visit(member_id: int, days_before: int) -> None:
        card = issue_card(member_id, "V10", c, f"v{member_id}-{days_before}").card_id
        check_in(card, c, f"ci{member_id}-{days_before}")
        at(f"ci{member_id}-{days_before}", moment(days_before))
        Visit.update(created_at=moment(days_before)).where(Visit.card == card).execute()

    for joined in (29, 30, 31):
        person(joined)
    for seen in (29, 30, 31, 59, 60, 61, 179, 180, 181):
        sale(person(400), seen)
        twice = person(400)
        sale(twice, seen)
        sale(twice, 300)
    for seen in (180, 181):
        visit(person(400), seen)
    for oldest in (365, 366):  # the sixth sale decides between loyal and returning
        regular = person(800)
        for days_before in (5, 50, 100, 150, 200, oldest):
            sale(regular, days_before, "SPA")
    holder = person(800)
    for n, (until, issued) in enumerate([(-1, start - dt.timedelta(days=1)), (0, start), (30, end),
                                         (31, end + dt.timedelta(days=1)), (29, start)]):
        card = issue_card(holder, "V10", c, f"card{n}").card_id
        Card.update(valid_until=end + dt.timedelta(days=until),
                    issued_at=dt.datetime.combine(issued, dt.time(0 if issued == start else 23, 59 * (issued != start)))
                    ).where(Card.id == card).execute()
    for by in ("day", "week"):
        p = period(start, end, None)
        for name in REFERENCE:
            assert list(run_report(name, start, end, None, by)) == list(REFERENCE[name](p, by)), (name, by)
    segments = {r["segment"]: r["members"] for r in run_report("segments", start, end)}
    assert segments["new"] == 2 and segments["loyal"] == 1 and segments["lost"] >= 4
