"""A chain (issue #24): cards bound to their stores, and cross-store settlement (跨店结算) from the ledger against
figures worked out by hand — on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import peewee
import pytest

from mms_tui import clock
from mms_tui.models import Card, CardType, Store
from mms_tui.services.base.errors import CardElsewhere, InvalidInput
from mms_tui.services.catalogue.card_types import (
    CardTypeTerms,
    add_card_type,
    edit_card_type,
    list_card_types,
)
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.money.topup import top_up
from mms_tui.services.reports.catalogue import run_report
from mms_tui.services.staff.stores import add_store


def chain(desk) -> dict[str, Store]:
    """HQ ─┬─ R (region) ─┬─ A
           │              └─ B
           └─ C"""
    add_store("R", "华东大区", desk.admin, parent="HQ", kind="region")
    for code, name, parent in (("A", "静安店", "R"), ("B", "徐汇店", "R"), ("C", "杭州店", "HQ")):
        add_store(code, name, desk.admin, parent=parent)
    return {s.code: s for s in Store.select()}


def at(day: dt.date, hour: int = 11):
    return clock.pinned(dt.datetime.combine(day, dt.time(hour)))


# --- store-bound cards ---------------------------------------------------------------------------------------------


@pytest.fixture
def bound(desk):
    """A stored-value type 静安储值卡 sold and used only in region R; a member holding one with ¥500 on it."""
    chain(desk)
    add_card_type(desk.manager, CardTypeTerms("SVR", "华东储值卡", "stored_value", stores=("R",), bound=True))
    member = register_member("周芷若", "13900001111", desk.cashier, "r-zhou").member_id
    card = issue_card(member, "SVR", desk.admin, "i-svr", card_no="7700000001", store="A").card_id
    top_up(card, 50_000, 0, "cash", desk.admin, "t-svr", store="A")
    return desk, member, card


def test_a_bound_card_is_used_in_its_region_and_refused_elsewhere_saying_where(bound):
    desk, member, card = bound
    # at B (another store of region R): top-up, payment and check-in all work
    top_up(card, 10_000, 0, "cash", desk.admin, "t-b", store="B")
    checkout(member, ["HAIR"], [("stored_value", 8_800, card)], desk.admin, "s-b", store="B")
    # at C (outside R): every use refused, naming where it is used, and nothing written
    before = Card.get_by_id(card)
    for attempt in (lambda: top_up(card, 10_000, 0, "cash", desk.admin, "t-c", store="C"),
                    lambda: checkout(member, ["HAIR"], [("stored_value", 8_800, card)], desk.admin, "s-c",
                                     store="C")):
        with pytest.raises(CardElsewhere, match=r"华东大区.*not at 杭州店"):
            attempt()
    after = Card.get_by_id(card)
    assert (after.principal_fen, after.bonus_fen) == (before.principal_fen, before.bonus_fen) == (51_200, 0)
    # paying cash at C is still fine: the member is the chain's, only the card is bound
    checkout(member, ["HAIR"], [("cash", 8_800)], desk.admin, "s-c-cash", store="C")
    assert check_ledger() == []


def test_a_bound_visit_package_is_not_checked_in_elsewhere(desk):
    chain(desk)
    add_card_type(desk.manager, CardTypeTerms("V5A", "静安5次卡", "visits", visits=5, stores=("A",), bound=True))
    member = register_member("张无忌", "13900002222", desk.cashier, "r-zhang").member_id
    card = issue_card(member, "V5A", desk.admin, "i-v5", card_no="7700000002", store="A").card_id
    check_in(card, desk.admin, "c-a", store="A")
    with pytest.raises(CardElsewhere, match=r"静安店.*not at 徐汇店"):
        check_in(card, desk.admin, "c-b", store="B")
    assert Card.get_by_id(card).visits_left == 4


def test_a_bound_discount_card_gives_nothing_elsewhere(desk):
    chain(desk)
    add_card_type(desk.manager, CardTypeTerms("DA", "静安8折卡", "discount", discount_bp=8_000, stores=("A",),
                                              bound=True))
    member = register_member("赵敏", "13900003333", desk.cashier, "r-zhao").member_id
    issue_card(member, "DA", desk.admin, "i-da", card_no="7700000003", store="A")
    at_a = checkout(member, ["HAIR"], [("cash", 7_040)], desk.admin, "s-a", store="A")
    at_c = checkout(member, ["HAIR"], [("cash", 8_800)], desk.admin, "s-c", store="C")
    assert (at_a.total_fen, at_c.total_fen) == (7_040, 8_800)


def test_binding_needs_stores_and_an_unbound_type_is_used_everywhere(desk):
    chain(desk)
    with pytest.raises(InvalidInput, match="name the stores"):
        add_card_type(desk.manager, CardTypeTerms("SVX", "储值卡", "stored_value", bound=True))
    assert CardType.get_or_none(CardType.code == "SVX") is None
    # sold only at A but not bound: used anywhere (as before migration 22)
    add_card_type(desk.manager, CardTypeTerms("SVA", "静安储值卡", "stored_value", stores=("A",)))
    member = register_member("殷离", "13900004444", desk.cashier, "r-yin").member_id
    card = issue_card(member, "SVA", desk.admin, "i-sva", card_no="7700000004", store="A").card_id
    top_up(card, 10_000, 0, "cash", desk.admin, "t-c", store="C")
    # binding it later applies to its cards at once, audited, and mms check holds the type to it
    edit_card_type(desk.manager, "SVA", bound=True)
    assert next(t for t in list_card_types() if t.code == "SVA").bound
    with pytest.raises(CardElsewhere):
        top_up(card, 10_000, 0, "cash", desk.admin, "t-c2", store="C")
    assert check_ledger() == []
    CardType.update(bound=False).where(CardType.code == "SVA").execute()
    assert any("bound changed without an audited event" in str(p) for p in check_ledger())


# --- cross-store settlement ----------------------------------------------------------------------------------------


@pytest.fixture
def settled(desk, today):
    """Two members' stored value moving between A, B and C over four days (principal first, the default):

    day 1  X: top-up at A ¥1000 (+¥200 bonus) → lots [A 1000]; top-up at B ¥300 → [A 1000, B 300]
    day 2  X: SPA ¥498 at C → A owes C 498 (lot A 502 left); 2×SPA ¥996 at B: principal 802 → A owes B 502, B's
           own 300 owes nothing, ¥194 of bonus is nobody's debt
    day 3  the ¥996 sale refunded at B → A owes B −502 (the lots come back: [A 502, B 300]); X is 银卡 now (¥1,494
           spent; tiers never go down), so HAIR is ¥83.60 at A: nothing owed (lot A 418.40 left)
    day 4  SHAMPOO ¥64.60 at C → A owes C 64.60.   Y: top-up at C ¥200 on day 1, HAIR ¥88 at A on day 4 → C owes A 88
    """
    chain(desk)
    d1 = today - dt.timedelta(days=10)
    d2, d3, d4 = (d1 + dt.timedelta(days=n) for n in (1, 2, 3))
    a = desk.admin
    with at(d1):
        x_member = register_member("郭靖", "13900005555", desk.cashier, "r-guo").member_id
        y_member = register_member("黄蓉", "13900006666", desk.cashier, "r-huang").member_id
        x = issue_card(x_member, "SV", a, "i-x", card_no="7700000010", store="A").card_id
        y = issue_card(y_member, "SV", a, "i-y", card_no="7700000011", store="C").card_id
        top_up(x, 100_000, 20_000, "cash", a, "t-x-a", store="A")
        top_up(x, 30_000, 0, "wechat", a, "t-x-b", store="B")
        top_up(y, 20_000, 0, "cash", a, "t-y-c", store="C")
    with at(d2):
        assert checkout(x_member, ["SPA"], [("stored_value", 49_800, x)], a, "s-x-c", store="C").total_fen == 49_800
        assert checkout(x_member, [("SPA", 2)], [("stored_value", 99_600, x)], a, "s-x-b",
                        store="B").total_fen == 99_600
    assert (Card.get_by_id(x).principal_fen, Card.get_by_id(x).bonus_fen) == (0, 600)
    with at(d3):
        refund("s-x-b", a, "做错了", "rf-x-b", store="B", approver=desk.manager)
        checkout(x_member, ["HAIR"], [("stored_value", 8_360, x)], a, "s-x-a", store="A")
    with at(d4):
        checkout(x_member, ["SHAMPOO"], [("stored_value", 6_460, x)], a, "s-x-c2", store="C")
        checkout(y_member, ["HAIR"], [("stored_value", 8_800, y)], a, "s-y-a", store="A")
    return d1, d2, d3, d4


def rows(start, end, store=None):
    return [(r["store"], r["other"], r["owes_fen"], r["owed_fen"], r["net_fen"])
            for r in run_report("settlement", start, end, store)]


def test_settlement_matches_the_figures_worked_out_by_hand(settled):
    d1, d2, d3, d4 = settled
    assert rows(d1, d4) == [("A", "C", 56_260, 8_800, 47_460),
                            ("A", "(all)", 56_260, 8_800, 47_460), ("C", "(all)", 8_800, 56_260, -47_460)]
    assert rows(d2, d2) == [("A", "B", 50_200, 0, 50_200), ("A", "C", 49_800, 0, 49_800),
                            ("A", "(all)", 100_000, 0, 100_000), ("B", "(all)", 0, 50_200, -50_200),
                            ("C", "(all)", 0, 49_800, -49_800)]
    # the refund a day later owes the 502 back: B pays A
    assert rows(d3, d3) == [("B", "A", 0, -50_200, 50_200),
                            ("A", "(all)", -50_200, 0, -50_200), ("B", "(all)", 0, -50_200, 50_200)]
    assert rows(d1, d1) == []  # loads alone owe nothing
    # a region's view: the pairs with one of its stores, and its stores' own rows
    assert rows(d1, d4, "R") == [("A", "C", 56_260, 8_800, 47_460), ("A", "(all)", 56_260, 8_800, 47_460)]
    assert rows(d2, d2, "B") == [("A", "B", 50_200, 0, 50_200), ("B", "(all)", 0, 50_200, -50_200)]


def test_settlement_counts_a_spend_by_its_stores_own_day_however_far_its_zone(desk, today):
    """The period's transactions are found by the index of their moments, in a range wider than any store's day
    can be from the process's: a spend at 23:30 of day D at a store twelve hours behind UTC (Etc/GMT+12) is 01:30
    of D+2 for a process serving Kiritimati (UTC+14) — 26 hours apart — and counts on the store's D."""
    from mms_tui.models import Transaction

    chain(desk)
    add_store("KIR", "基里巴斯店", desk.admin, parent="HQ", time_zone="Pacific/Kiritimati")
    add_store("W", "西十二区店", desk.admin, parent="HQ", time_zone="Etc/GMT+12")
    day = today - dt.timedelta(days=5)
    member = register_member("郭靖", "13900005555", desk.cashier, "r-guo").member_id
    with at(day - dt.timedelta(days=3)):
        card = issue_card(member, "SV", desk.admin, "i-x", card_no="7700000030", store="A").card_id
        top_up(card, 20_000, 0, "cash", desk.admin, "t-x-a", store="A")
    clock.serve_store("KIR")  # the process runs in Kiritimati's wall time
    try:
        with clock.pinned(dt.datetime.combine(day + dt.timedelta(days=2), dt.time(1, 30))):  # 23:30 of D at W
            checkout(member, ["HAIR"], [("stored_value", 8_800, card)], desk.admin, "s-x-w", store="W")
        assert Transaction.get(Transaction.txid == "s-x-w").local_day == day
        assert rows(day, day) == [("A", "W", 8_800, 0, 8_800), ("A", "(all)", 8_800, 0, 8_800),
                                  ("W", "(all)", 0, 8_800, -8_800)]
        assert rows(day + dt.timedelta(days=1), day + dt.timedelta(days=2)) == []
    finally:
        clock.serve_store(None)


def test_settlement_nets_to_zero_over_the_chain(settled):
    d1, _d2, _d3, d4 = settled
    assert sum(r[4] for r in rows(d1, d4) if r[1] == "(all)") == 0


def test_settlement_from_the_command_line_for_a_region_and_to_a_spreadsheet(settled, desk, run, tmp_path):
    d1, _d2, _d3, d4 = settled
    common = ("--db", desk.target, "report", "settlement", "--from", d1, "--to", d4)
    shown = run(*common, "--region", "R", "--format", "csv")
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0] == "store,other,owes_fen,owed_fen,net_fen"
    assert "A,C,56260,8800,47460" in shown.output and "\nC," not in shown.output
    both = run(*common, "--region", "R", "--store", "A")
    assert both.exit_code == 2 and "not both" in both.output
    book = tmp_path / "settlement.xlsx"
    wrote = run(*common, "--output", book)
    assert wrote.exit_code == 0 and book.stat().st_size > 0


# --- HQ and region views: a manager sees their own subtree -----------------------------------------------------------


@pytest.fixture
def managers(settled, desk):
    """区域经理 mr at region R, 店长 ma at store A, and a cashier ca at A."""
    from mms_tui.services.staff.accounts import create_staff

    create_staff("mr", "区域经理 钱", "manager", "4321", store=Store.get(Store.code == "R"))
    create_staff("ma", "店长 孙", "manager", "4322", store=Store.get(Store.code == "A"))
    create_staff("ca", "收银 李", "cashier", "4323", store=Store.get(Store.code == "A"))
    return settled


def staff(code: str):
    from mms_tui.models import Staff

    return Staff.get(Staff.code == code)


def stores_of(name: str, start, end, store=None, viewer=None) -> list[str]:
    return [r["store"] for r in run_report(name, start, end, store, viewer=viewer)]


def test_a_manager_reports_on_their_subtree_only(managers, desk):
    from mms_tui.services.base.errors import PermissionDenied

    d1, _d2, _d3, d4 = managers
    # without a node: their own — a region's manager its stores, a store's manager their store; an admin the chain
    assert stores_of("stores", d1, d4, viewer=staff("mr")) == ["A", "B", "R", "Total"]
    assert stores_of("stores", d1, d4, viewer=staff("ma")) == ["A", "Total"]
    assert stores_of("stores", d1, d4, viewer=desk.admin) == ["A", "B", "C", "HQ", "R", "Total"]
    assert stores_of("stores", d1, d4, "A", viewer=staff("mr")) == ["A", "Total"]
    # outside their subtree, or above it: refused, naming both
    for viewer, node in (("mr", "C"), ("mr", "HQ"), ("ma", "B"), ("ma", "R")):
        with pytest.raises(PermissionDenied, match="not of"):
            list(run_report("stores", d1, d4, node, viewer=staff(viewer)))
    with pytest.raises(PermissionDenied, match="a manager must"):
        list(run_report("stores", d1, d4, "A", viewer=staff("ca")))
    # the settlement likewise: the region's manager sees A's pair with C and A's own row, C's row not
    assert [r["store"] for r in run_report("settlement", d1, d4, viewer=staff("mr"))] == ["A", "A"]


def test_today_per_store_for_the_hq_screen(managers, desk):
    from mms_tui.services.reports.stores import stores_today

    _d1, _d2, _d3, d4 = managers
    with at(d4, 20):
        rows = {r["store"]: r for r in stores_today(staff("mr"))}
        assert list(rows) == ["A", "B", "R", "Total"]
        assert rows["A"]["sale_count"] == 1 and rows["A"]["net_fen"] == 8_800  # Y's HAIR at A on day 4
        assert rows["Total"]["net_fen"] == 8_800
        assert [r["store"] for r in stores_today(desk.admin)][-1] == "Total"


def test_the_report_command_runs_as_a_manager_and_keeps_them_to_their_stores(managers, desk, run):
    d1, _d2, _d3, d4 = managers
    common = ("--db", desk.target, "report", "stores", "--from", d1, "--to", d4, "--format", "csv")
    mine = run(*common, "--as", "mr", "--pin-stdin", input="4321\n")
    assert mine.exit_code == 0, mine.output
    assert [line.split(",")[0] for line in mine.output.splitlines()[1:]] == ["A", "B", "R", "Total"]
    other = run(*common, "--as", "mr", "--pin-stdin", "--store", "C", input="4321\n")
    assert other.exit_code == 1 and "not of 杭州店" in other.output and "Traceback" not in other.output
    wrong = run(*common, "--as", "mr", "--pin-stdin", input="9999\n")
    assert wrong.exit_code == 1 and "A," not in wrong.output


def _exported(tmp_path, what: str, **options) -> list[dict[str, str]]:
    import csv

    from mms_tui.services.exchange.export import export_table

    target = tmp_path / f"{what}.csv"
    export_table(what, str(target), **options)
    with open(target, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_an_export_takes_a_region_and_keeps_a_manager_to_their_stores(managers, tmp_path):
    """#24: `mms export` as a manager (--as) holds them to their subtree like the reports; a region or HQ exports
    the stores below it."""
    from mms_tui.services.base.errors import PermissionDenied
    from mms_tui.services.exchange.export import export_table
    from mms_tui.services.exchange.member_document import export_member

    d1, _d2, _d3, d4 = managers
    everything = {r["txid"]: r["store"] for r in _exported(tmp_path, "sales")}
    assert sorted(everything.values()) == ["A", "A", "B", "C", "C"]
    region = {r["txid"]: r["store"] for r in _exported(tmp_path, "sales", store="R")}
    assert region == {t: s for t, s in everything.items() if s in ("A", "B")}
    assert {r["txid"] for r in _exported(tmp_path, "sales", viewer=staff("mr"))} == set(region)
    assert {r["store"] for r in _exported(tmp_path, "sales", viewer=staff("ma"), start=d1, end=d4)} == {"A"}
    assert [r["card_no"] for r in _exported(tmp_path, "cards", viewer=staff("mr"))] == ["7700000010"]
    assert {r["store"] for r in _exported(tmp_path, "ledger", store="HQ")} == {"A", "B", "C"}
    for viewer, node, words in (("mr", "C", "not of 杭州店"), ("ma", "R", "not of 华东大区"),
                                ("ca", None, "a manager must")):
        target = tmp_path / "refused.csv"
        with pytest.raises(PermissionDenied, match=words):
            export_table("members", str(target), store=node, viewer=staff(viewer))
        assert not target.exists()
    with pytest.raises(PermissionDenied, match="a manager must"):
        export_member("13900005555", str(tmp_path / "guo.json"), viewer=staff("ca"))
    assert export_member("13900005555", str(tmp_path / "guo.json"), viewer=staff("ma")).rows == 1


def test_the_export_command_runs_as_a_manager_and_keeps_them_to_their_stores(managers, desk, run, tmp_path):
    mine = run("--db", desk.target, "export", "sales", "-", "--format", "csv", "--as", "mr", "--pin-stdin",
               input="4321\n")
    assert mine.exit_code == 0, mine.output
    assert sorted(line.split(",")[2] for line in mine.stdout.splitlines()[1:]) == ["A", "A", "B"]
    target = tmp_path / "c.csv"
    other = run("--db", desk.target, "export", "sales", target, "--store", "C", "--as", "mr", "--pin-stdin",
                input="4321\n")
    assert other.exit_code == 1 and "not of 杭州店" in other.output and "Traceback" not in other.output
    assert not target.exists()
    wrong = run("--db", desk.target, "export", "sales", target, "--as", "mr", "--pin-stdin", input="9999\n")
    assert wrong.exit_code == 1 and not target.exists()


async def test_the_hq_screen_shows_a_managers_stores_and_tells_a_cashier_no(sqlite_desk):
    from textual.widgets import DataTable, Static

    from mms_tui.app import create_app
    from mms_tui.screens.stores_today import StoresTodayScreen
    from mms_tui.services.staff.accounts import create_staff
    from mms_tui.settings import Settings
    from tests.test_tui import login, settle

    chain(sqlite_desk)
    create_staff("mr", "区域经理 钱", "manager", "4321", store=Store.get(Store.code == "R"))
    for code, pin, shown in (("mr", "4321", ["A", "B", "R", "Total"]), ("c01", "0000", [])):
        app = create_app(Settings(db=sqlite_desk.target, wedge_gap_ms=0, lang="en", store="A" if code == "mr" else None))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await login(pilot, code, pin)
            await pilot.press("f8")
            await settle(pilot)
            await pilot.press("f2")
            await settle(pilot)
            await settle(pilot)
            assert isinstance(app.screen, StoresTodayScreen)
            table = app.screen.query_one(DataTable)
            assert [str(table.get_row_at(i)[0]).split()[0] for i in range(table.row_count)] == shown
            note = str(app.screen.query_one("#stores-today-note", Static).render())
            assert ("a manager must" in note) == (code == "c01")


# --- time zones: each store's day in its own zone -------------------------------------------------------------------


@pytest.fixture
def two_zones(desk):
    """SH keeps the chain's zone (Asia/Shanghai); URU, two hours behind, its own (Asia/Urumqi)."""
    add_store("SH", "上海店", desk.admin, parent="HQ")
    add_store("URU", "乌鲁木齐店", desk.admin, parent="HQ", time_zone="Asia/Urumqi")
    return desk


def test_a_sale_after_shanghais_midnight_is_the_day_before_in_urumqi(two_zones, today):
    """00:30 in Shanghai is 22:30 the evening before in Urumqi: each store's sale lands on its own day, in its
    reports, whatever zone the process writing it runs in."""
    desk = two_zones
    day = today - dt.timedelta(days=5)
    with clock.pinned(dt.datetime.combine(day, dt.time(0, 30))):  # Shanghai wall time: the process's zone
        checkout(None, ["HAIR"], [("cash", 8_800)], desk.admin, "s-sh", store="SH")
        checkout(None, ["SPA"], [("cash", 49_800)], desk.admin, "s-uru", store="URU")
    from mms_tui.models import Transaction

    days = {t.txid: t.local_day for t in Transaction.select().where(Transaction.txid.in_(["s-sh", "s-uru"]))}
    assert days == {"s-sh": day, "s-uru": day - dt.timedelta(days=1)}

    def net(store, on):
        return sum(int(r["net_fen"]) for r in run_report("turnover", on, on, store))

    assert (net("SH", day), net("SH", day - dt.timedelta(days=1))) == (8_800, 0)
    assert (net("URU", day - dt.timedelta(days=1)), net("URU", day)) == (49_800, 0)
    assert check_ledger() == []


def test_reports_of_moments_count_each_stores_own_days(two_zones, today):
    """The reports that count moments (cards issued, shifts, commissions, bookings, messages…) cut each store's
    days at its own midnight, as the turnover does, whichever zone the process reporting runs in: cards issued at
    00:30 Shanghai time are Shanghai's that day and Urumqi's the evening before."""
    desk = two_zones
    day = today - dt.timedelta(days=5)
    before = day - dt.timedelta(days=1)
    member = register_member("郭靖", "13900005555", desk.cashier, "r-guo").member_id
    with clock.pinned(dt.datetime.combine(day, dt.time(0, 30))):
        issue_card(member, "SV", desk.admin, "i-sh", card_no="7700000020", store="SH")
        issue_card(member, "V10", desk.admin, "i-uru", card_no="7700000021", store="URU")

    def issued(on, store=None) -> dict[str, int]:
        return {r["card_type"]: r["issued"] for r in run_report("cards", on, on, store) if r["issued"]}

    for served in (None, "URU"):  # a process of the chain's zone, and one serving Urumqi
        clock.serve_store(served)
        try:
            sv, v10 = (CardType.get(CardType.code == code).name for code in ("SV", "V10"))
            assert issued(day) == {sv: 1} and issued(before) == {v10: 1}, served
            assert issued(day, "SH") == {sv: 1} and issued(before, "URU") == {v10: 1}, served
            assert issued(day, "URU") == {} and issued(before, "SH") == {}, served
        finally:
            clock.serve_store(None)


def test_an_export_by_days_takes_each_stores_own_days(two_zones, today, tmp_path):
    """--from/--to of the ledger and sales exports are the store's calendar days, as in the reports: a sale at
    00:30 in Shanghai (16:30 UTC the day before) is that day's; Urumqi's at the same moment the day before's."""
    desk = two_zones
    day = today - dt.timedelta(days=5)
    with clock.pinned(dt.datetime.combine(day, dt.time(0, 30))):
        checkout(None, ["HAIR"], [("cash", 8_800)], desk.admin, "s-sh", store="SH")
        checkout(None, ["SPA"], [("cash", 49_800)], desk.admin, "s-uru", store="URU")
    before = day - dt.timedelta(days=1)
    for what in ("sales", "ledger"):
        assert {r["txid"] for r in _exported(tmp_path, what, start=day, end=day)} == {"s-sh"}, what
        assert {r["txid"] for r in _exported(tmp_path, what, start=before, end=before)} == {"s-uru"}, what


def _home(member: int, code: str) -> None:
    from mms_tui.models import Member

    Member.update(home_store=Store.get(Store.code == code).id).where(Member.id == member).execute()


def test_the_daily_jobs_act_on_each_stores_own_day(two_zones, today):
    """At 00:30 in Shanghai (the chain's zone, the jobs' process) it is still 22:30 the evening before in Urumqi:
    the birthday greetings, birthday coupons and points expiring of Urumqi's members are those of Urumqi's day,
    Shanghai's those of Shanghai's; a booking reminder gives the hour on the booked store's clock."""
    import json

    from mms_tui.models import Coupon, Member, Message
    from mms_tui.services.bookings.appointments import book
    from mms_tui.services.loyalty.coupons import issue_birthday_coupons
    from mms_tui.services.loyalty.points import due_expiries, expire_points
    from mms_tui.services.loyalty.rules_store import load_rules, save_rules
    from mms_tui.services.messages.reminders import write_due
    from mms_tui.services.staff.admin import add_staff

    desk = two_zones
    day = today + dt.timedelta(days=30)
    before = day - dt.timedelta(days=1)
    save_rules({"promotions": [{"code": "CAKE", "kind": "free_item", "item": "WATER", "auto": False}],
                "birthday": {"window": "day", "promotion": "CAKE"}, "points": {"expire_months": 12},
                "messages": {"booking_hours": 24}}, desk.manager)
    people = {}
    for name, phone, home, born in (("上海今天", "13900007001", "SH", day), ("乌鲁木齐今天", "13900007002", "URU", day),
                                    ("乌鲁木齐昨天", "13900007003", "URU", before),
                                    ("上海昨天", "13900007004", "SH", before)):
        people[name] = member = register_member(name, phone, desk.cashier, f"r-{phone}").member_id
        _home(member, home)
        Member.update(birthday=dt.date(1990, born.month, born.day)).where(Member.id == member).execute()
    # points earned a year before each store's day: due on it, not the day before
    for name, code, earned in (("上海今天", "SH", day), ("乌鲁木齐今天", "URU", day)):
        issue_card(people[name], "PT", desk.admin, f"i-{name}", card_no=f"P-{code}", store=code)
        with at(earned.replace(year=earned.year - 1)):
            checkout(people[name], ["HAIR"], [("cash", 8_800)], desk.admin, f"s-{name}", store=code)
    add_staff("p01", "王师傅", by=desk.admin, performer=True, services=["HAIR"], store="URU")
    with at(before, 12):
        book(people["乌鲁木齐今天"], ["HAIR"], desk.cashier, "b-uru", start=dt.datetime.combine(day, dt.time(12)),
             staff="p01", store="URU")
    rules = load_rules()
    with clock.pinned(dt.datetime.combine(day, dt.time(0, 30))):  # Shanghai: the day; Urumqi: the evening before
        write_due(rules, force=True)
        coupons = issue_birthday_coupons(desk.manager)
        assert {c.card_no for c in due_expiries(day, rules)} == {"P-SH", "P-URU"}  # an explicit day: every store
        expired = expire_points(staff=desk.admin)
    greeted = {json.loads(m.fields)["name"] for m in Message.select().where(Message.trigger == "birthday")}
    assert greeted == {"上海今天", "乌鲁木齐昨天"}
    assert {Member.get_by_id(c.member_id).name for c in coupons.coupons} == {"上海今天", "乌鲁木齐昨天"}
    assert Coupon.select().count() == 2
    assert [c.card_no for c in expired.cards] == ["P-SH"] and expired.as_of == day
    reminder = json.loads(Message.get(Message.trigger == "booking").fields)
    assert reminder["time"].endswith("10:00"), reminder  # 12:00 Shanghai is 10:00 on Urumqi's clock
    assert check_ledger() == []


def test_attendance_is_counted_on_the_staff_members_store_clock(two_zones, run):
    """A Urumqi cashier rostered 09:00–18:00 clocks in at 09:00 and out at 18:00 on Urumqi's clock (11:00 and 20:00
    in Shanghai): on time, no overtime, in a report run from Shanghai; a punch at 23:30 Urumqi time (01:30 the next
    day in Shanghai) is Urumqi's day."""
    from mms_tui.services.staff.admin import add_staff
    from mms_tui.services.staff.attendance import parse_week, punch_by_pin, set_week

    desk = two_zones
    add_staff("u01", "乌鲁木齐 小马", by=desk.admin, role="cashier", pin="2468", store="URU")
    monday = dt.date(2026, 11, 16)
    set_week("u01", parse_week(["mon-sun=09:00-18:00"]), desk.manager)
    shanghai = [dt.datetime(2026, 11, 16, 11), dt.datetime(2026, 11, 16, 20),  # 09:00 and 18:00 in Urumqi
                dt.datetime(2026, 11, 17, 10, 50), dt.datetime(2026, 11, 18, 1, 30)]  # Tue 08:50 → 23:30
    for n, moment in enumerate(shanghai):
        with clock.pinned(moment):
            punch_by_pin("u01", "2468", "URU", f"u-{n}")
    with clock.pinned(dt.datetime(2026, 11, 20, 12)):
        row = next(iter(run_report("attendance", monday, monday + dt.timedelta(days=1), None, staff="u01")))
    assert (row["days_worked"], row["late"], row["early_leave"], row["absent"], row["forgotten_clock_outs"]) == (
        2, 0, 0, 0, 0), row
    assert (row["hours"], row["overtime_hours"]) == ("23.67", "5.50"), row  # 9 h + 14 h 40 min; Tue after 18:00


def test_the_service_report_counts_each_stores_own_days(two_zones, today):
    """A Urumqi stylist serves 张三 at 23:00 on Urumqi's clock (01:00 the next day in Shanghai) and again at 09:00
    the next morning: from a Shanghai process the first service is Urumqi's day, and the second a repeat on a later
    day — not the same Shanghai day."""
    from tests.test_commissions import shop

    desk = two_zones
    zhang = shop(desk)
    day = today - dt.timedelta(days=10)
    after = day + dt.timedelta(days=1)
    for txid, moment in (("late", dt.datetime.combine(after, dt.time(1))),  # 23:00 in Urumqi, on the day
                         ("morning", dt.datetime.combine(after, dt.time(11)))):  # 09:00 in Urumqi, the day after
        with clock.pinned(moment):
            checkout(zhang, ["HAIR"], [("cash", 8_800)], desk.cashier, txid, store="URU",
                     performers={"HAIR": ["p01"]})
    first = [(r["staff"], r["services"], r["members"], r["repeat_members"])
             for r in run_report("service", day, day, "URU")]
    assert first == [("p01", 1, 1, 1)]
    assert [(r["staff"], r["services"]) for r in run_report("service", after, after, "URU")] == [("p01", 1)]


def test_a_desk_serving_a_store_speaks_its_zone(two_zones):
    from zoneinfo import ZoneInfo

    try:
        clock.serve_store("URU")
        assert clock.zone_name() == "Asia/Urumqi"
        there = clock.utc_now().astimezone(ZoneInfo("Asia/Urumqi")).replace(tzinfo=None)
        assert abs((clock.now() - there).total_seconds()) < 60
        assert clock.today() == clock.now().date()
        clock.serve_store("SH")  # no zone of its own: the chain's
        assert clock.zone_name() == "Asia/Shanghai"
    finally:
        clock.serve_store(None)
    assert clock.zone_name() == "Asia/Shanghai"


def test_a_stores_zone_is_an_admins_and_a_bad_one_changes_nothing(two_zones, run):
    from mms_tui.services.base.errors import PermissionDenied
    from mms_tui.services.staff.stores import edit_store, list_stores

    desk = two_zones
    with pytest.raises(InvalidInput, match="not a time zone"):
        edit_store("SH", desk.admin, time_zone="Mars/Olympus")
    with pytest.raises(PermissionDenied):
        edit_store("SH", desk.manager, time_zone="Asia/Urumqi")
    assert {s.code: s.time_zone for s in list_stores()}["SH"] == ""
    edit_store("SH", desk.admin, time_zone="Asia/Tokyo")
    assert {s.code: s.time_zone for s in list_stores()}["SH"] == "Asia/Tokyo"
    bad = run("--db", desk.target, "stores", "edit", "URU", "--time-zone", "../etc/passwd")
    assert bad.exit_code == 1 and "not a time zone" in bad.output and "Traceback" not in bad.output
    shown = run("--db", desk.target, "stores", "list", "--format", "csv")
    assert "Asia/Urumqi" in shown.output


def test_the_member_screen_says_a_bound_card_is_not_used_here_as_it_opens(bound):
    from mms_tui.services.members.view import member_view

    _desk, member, _card = bound
    try:
        clock.serve_store("C")
        assert any("used only at 华东大区, not at 杭州店" in a for a in member_view(member).alerts)
        clock.serve_store("B")
        assert not any("used only at" in a for a in member_view(member).alerts)
    finally:
        clock.serve_store(None)


def test_a_promotion_naming_a_region_applies_at_its_stores_only(desk):
    from mms_tui.services.loyalty.rules_store import save_rules

    chain(desk)
    save_rules({"promotions": [{"code": "R10", "name": "华东九折", "kind": "percent", "percent": 10, "auto": True,
                                "stores": ["R"]}]}, desk.manager)
    at_a = checkout(None, ["HAIR"], [("cash", 7_920)], desk.admin, "s-a", store="A")
    at_c = checkout(None, ["HAIR"], [("cash", 8_800)], desk.admin, "s-c", store="C")
    assert (at_a.total_fen, at_c.total_fen) == (7_920, 8_800)


# --- bulk loads (the chain-scale databases, first imports) ---------------------------------------------------------


def test_a_bulk_load_keeps_awkward_text_and_times_and_rebuilds_unique_indexes(desk):
    """On PostgreSQL a bulk load is a COPY in its text format: tabs, newlines, backslashes, a literal \\N and NULL
    must come back as they went in, timestamps in UTC as an INSERT would store them; the indexes dropped for the
    load come back, unique ones refusing a duplicate that slipped in."""
    from mms_tui.db import bulk_insert, database, indexes_rebuilt_after, write_transaction
    from mms_tui.models import AuditEvent, Member

    when = dt.datetime(2026, 3, 1, 23, 30, 5)
    awkward = ["tab\there", "two\nlines\r\n", "back\\slash", "\\N", "", "全角　空格"]
    rows = [(when, desk.cashier.id, None, "test.bulk", text, None if i % 2 else f"tx-{i}", '{"k": "\\t"}')
            for i, text in enumerate(awkward)]
    with write_transaction():
        bulk_insert(AuditEvent, ("created_at", "staff", "store", "action", "subject", "txid", "payload"), rows)
    got = list(AuditEvent.select().where(AuditEvent.action == "test.bulk").order_by(AuditEvent.id))
    assert [e.subject for e in got] == awkward
    assert [e.txid for e in got] == [None if i % 2 else f"tx-{i}" for i in range(len(awkward))]
    assert {e.payload for e in got} == {'{"k": "\\t"}'} and {e.created_at for e in got} == {when}
    assert {e.store_id for e in got} == {None}

    def indexes() -> set[str]:
        if database.param == "?":
            return {n for (n,) in database.execute_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'member' AND sql IS NOT NULL")}
        return {n for (n,) in database.execute_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'member'")}

    before = indexes()
    assert any("phone" in name for name in before)
    member = register_member("令狐冲", "13911112222", desk.cashier, "r-bulk").member_id
    with write_transaction(), indexes_rebuilt_after([Member]):
        assert not any("phone" in name for name in indexes())
    assert indexes() == before
    copy = Member.get_by_id(member)
    fields = [f.name for f in Member._meta.sorted_fields if f.name != "id"]
    with pytest.raises(peewee.IntegrityError), write_transaction(), indexes_rebuilt_after([Member]):
        bulk_insert(Member, fields, [[copy.__data__.get(f) for f in fields]])
    assert indexes() == before and Member.select().count() == 1

    # PostgreSQL's foreign keys go for the load too and come back checking every row: one pointing nowhere fails
    def foreign_keys() -> set[tuple[str, str]]:
        if database.param == "?":
            return {(row[2], row[3]) for row in database.execute_sql("PRAGMA foreign_key_list(member)")}
        return {(name, definition) for name, definition in database.execute_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' AND "
            "conrelid = 'member'::regclass")}

    keys = foreign_keys()
    assert any("store" in str(key) for key in keys)
    with write_transaction(), indexes_rebuilt_after([Member]):
        assert foreign_keys() == (keys if database.param == "?" else set())
    assert foreign_keys() == keys
    nowhere = dict(copy.__data__, phone="13900000001", phone_last4="0001", home_store=999_999)
    with pytest.raises(peewee.IntegrityError), write_transaction(), indexes_rebuilt_after([Member]):
        bulk_insert(Member, fields, [[nowhere.get(f) for f in fields]])
    assert foreign_keys() == keys and indexes() == before and Member.select().count() == 1


def test_copy_text_takes_the_short_way_only_where_it_gives_what_the_long_way_gives():
    """COPY's text is made per column by a converter chosen once (db._copy_converter); for every column of every
    model and values of every kind, it must equal db_value then the general escaping."""
    import decimal

    from mms_tui import models
    from mms_tui.db import _copy_converter, _copy_text

    samples = [None, 0, -7, 2**40, True, False, "", "plain", "tab\there", "back\\slash\n", "\\N", "12",
               decimal.Decimal("3.50"), 3.25, dt.date(2026, 2, 28), dt.datetime(2026, 3, 1, 23, 30, 5),
               dt.datetime(2026, 3, 1, 23, 30, 5, 123456), dt.time(9, 30)]
    checked = 0
    for model in models.ALL_MODELS:
        for field in model._meta.sorted_fields:
            convert = _copy_converter(field)
            for value in samples:
                try:
                    expected = _copy_text(field.db_value(value))
                except (TypeError, ValueError, AttributeError, OverflowError):
                    continue
                assert convert(value) == expected, (model.__name__, field.name, value)
                checked += 1
    assert checked > 1_000


@pytest.mark.slow
@pytest.mark.postgres
def test_the_chain_benchmark_database_is_a_consistent_chain(postgres_target):
    """scripts/bigdb.py --chain on PostgreSQL, small: fifty stores in five regions, every store with its desk
    staff, stored value crossing stores (so settlement has pairs), and mms check clean on what COPY loaded."""
    import sys
    from pathlib import Path

    from mms_tui.db import close_database
    from mms_tui.services.ops.setup import connect

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import bigdb

    stats = bigdb.build(postgres_target, members=10_000, days=60, check=True, chain=True, log=lambda _text: None)
    assert stats.members == 10_000 and stats.transactions > 1_000
    connect(postgres_target)
    try:
        kinds = [s.kind for s in Store.select()]
        assert kinds.count("store") == 50 and kinds.count("region") == 5 and kinds.count("hq") == 1
        rows = list(run_report("settlement", dt.date.fromisoformat(stats.first_day),
                               dt.date.fromisoformat(stats.last_day)))
        stores = {r["store"] for r in rows} | {r["other"] for r in rows}
        pairs = [r for r in rows if r["other"] in stores and r["other"] != r["store"] and r["other"][:1] == "S"]
        totals = [r for r in rows if r not in pairs]
        assert pairs and sum(r["net_fen"] for r in totals) == 0
    finally:
        close_database()
