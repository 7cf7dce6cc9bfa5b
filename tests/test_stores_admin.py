"""Stores as a tree (issue #17): add, edit, move, close, list, each refusal; a closed store takes no operation;
a receipt prints its store's header; a report on a region is the sum of its stores. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from mms_tui.models import AuditEvent, Staff, Store
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.staff.stores import (
    add_store,
    close_store,
    edit_store,
    list_stores,
    move_store,
    subtree,
)
from tests.conftest import ADMIN_PIN, CASHIER_PIN, MANAGER_PIN


def chain(desk) -> dict[str, Store]:
    """HQ → EAST (region) → SH1, SH2; HQ → WEST (region) → CD1."""
    add_store("EAST", "华东区", desk.admin, parent="HQ", kind="region")
    add_store("WEST", "西部区", desk.admin, parent="HQ", kind="region")
    add_store("SH1", "上海一店", desk.admin, parent="EAST")
    add_store("SH2", "上海二店", desk.admin, parent="EAST")
    add_store("CD1", "成都店", desk.admin, parent="WEST")
    return {s.code: s for s in Store.select()}


def audits(action: str) -> list[dict]:
    return [json.loads(e.payload) for e in AuditEvent.select().where(AuditEvent.action == action)
            .order_by(AuditEvent.id)]


def written() -> tuple[int, int]:
    return Store.select().count(), AuditEvent.select().count()


def test_an_admin_builds_the_tree_and_it_lists_each_node_under_its_parent(desk):
    stores = chain(desk)
    listed = [(s.code, s.parent, s.depth, s.kind) for s in list_stores()]
    assert listed == [("HQ", None, 0, "store"), ("EAST", "HQ", 1, "region"), ("SH1", "EAST", 2, "store"),
                      ("SH2", "EAST", 2, "store"), ("WEST", "HQ", 1, "region"), ("CD1", "WEST", 2, "store")]
    assert [s.code for s in list_stores("EAST")] == ["EAST", "SH1", "SH2"]
    assert sorted(subtree("EAST")) == sorted([stores["EAST"].id, stores["SH1"].id, stores["SH2"].id])
    assert subtree("SH1") == [stores["SH1"].id]
    added = audits("store.add")
    assert len(added) == 5 and added[0]["before"] is None
    assert added[2]["after"]["code"] == "SH1" and added[2]["after"]["parent"] == "EAST"


def test_edit_changes_what_is_given_and_audits_before_and_after(desk):
    chain(desk)
    info = edit_store("SH1", desk.admin, name="上海旗舰店", address="上海市徐汇区1号", phone="021-5555 0000",
                      receipt_header="欢迎光临\n会员日每周三")
    assert (info.name, info.address, info.phone, info.receipt_header) == (
        "上海旗舰店", "上海市徐汇区1号", "021-5555 0000", "欢迎光临\n会员日每周三")
    event = audits("store.edit")[-1]
    assert event["before"]["name"] == "上海一店" and event["after"]["name"] == "上海旗舰店"
    assert event["before"]["phone"] == "" and event["after"]["phone"] == "021-5555 0000"
    with pytest.raises(InvalidInput, match="phone"):
        edit_store("SH1", desk.admin, phone="call me")
    with pytest.raises(InvalidInput, match="Receipt header"):
        edit_store("SH1", desk.admin, receipt_header="\n".join("line" for _ in range(5)))
    assert Store.get(Store.code == "SH1").phone == "021-5555 0000"


def test_a_manager_edits_their_own_stores_details_but_adds_renames_moves_and_closes_nothing(desk):
    chain(desk)
    before = written()
    with pytest.raises(PermissionDenied):
        add_store("SH3", "上海三店", desk.manager, parent="EAST")
    with pytest.raises(PermissionDenied):
        edit_store("HQ", desk.manager, name="总部")
    with pytest.raises(PermissionDenied):
        move_store("SH1", "WEST", desk.manager)
    with pytest.raises(PermissionDenied):
        close_store("SH2", desk.manager)
    with pytest.raises(PermissionDenied):
        edit_store("HQ", desk.cashier, phone="0")
    assert written() == before and Store.get_or_none(Store.code == "SH3") is None
    # the manager's store is HQ, the root: every store is theirs to give an address
    assert edit_store("SH1", desk.manager, address="上海市").address == "上海市"
    desk.manager.store = Store.get(Store.code == "CD1")
    with pytest.raises(PermissionDenied, match="SH1"):
        edit_store("SH1", desk.manager, phone="021")
    assert edit_store("CD1", desk.manager, phone="028-1").phone == "028-1"


def test_refusals_name_the_field_and_write_nothing(desk):
    chain(desk)
    before = written()
    with pytest.raises(InvalidInput, match="SH1 is already taken"):
        add_store("SH1", "另一个", desk.admin, parent="EAST")
    with pytest.raises(NotFound, match=r"Parent store.*NOPE"):
        add_store("SH9", "九店", desk.admin, parent="NOPE")
    with pytest.raises(InvalidInput, match="Store code"):
        add_store("bad code", "店", desk.admin)
    with pytest.raises(InvalidInput, match="name is required"):
        add_store("SH9", "  ", desk.admin)
    with pytest.raises(InvalidInput, match="kind"):
        add_store("SH9", "九店", desk.admin, kind="planet")
    with pytest.raises(InvalidInput, match="EAST cannot move under SH1"):
        move_store("EAST", "SH1", desk.admin)  # under its own store: a cycle
    with pytest.raises(InvalidInput, match="HQ cannot move under HQ"):
        move_store("HQ", "HQ", desk.admin)
    with pytest.raises(NotFound, match="NOPE"):
        move_store("SH1", "NOPE", desk.admin)
    assert written() == before
    assert [s.parent for s in list_stores("EAST")] == ["HQ", "EAST", "EAST"]


def test_moving_a_region_takes_its_stores_along(desk):
    chain(desk)
    moved = move_store("EAST", "WEST", desk.admin)
    assert (moved.parent, moved.depth) == ("WEST", 2)
    assert [(s.code, s.depth) for s in list_stores("WEST")] == [("WEST", 1), ("CD1", 2), ("EAST", 2), ("SH1", 3),
                                                                 ("SH2", 3)]
    event = audits("store.move")[-1]
    assert (event["before"]["parent"], event["after"]["parent"]) == ("HQ", "WEST")
    assert move_store("EAST", None, desk.admin).depth == 0  # a root of its own


def test_closing_refuses_an_open_shift_and_open_stores_below_then_keeps_the_store(desk):
    from mms_tui.services.money.shifts import close_shift, open_shift

    chain(desk)
    open_shift(desk.cashier, "SH1")
    with pytest.raises(InvalidInput, match=r"open shifts.*c01"):
        close_store("SH1", desk.admin)
    with pytest.raises(InvalidInput, match=r"open stores below it.*SH1, SH2"):
        close_store("EAST", desk.admin)
    assert Store.get(Store.code == "SH1").closed_at is None
    close_shift(desk.cashier, {"cash": 0}, "close-sh1", store="SH1")
    closed = close_store("SH1", desk.admin)
    assert closed.closed_at is not None and Store.get(Store.code == "SH1").closed_at is not None
    assert audits("store.close")[-1]["before"]["closed_at"] is None
    with pytest.raises(InvalidInput, match="already closed"):
        close_store("SH1", desk.admin)
    with pytest.raises(InvalidInput, match="Parent store SH1 is closed"):
        add_store("SH1A", "分店", desk.admin, parent="SH1")
    assert [s.code for s in list_stores(include_closed=False) if s.code.startswith("SH")] == ["SH2"]
    assert "SH1" in [s.code for s in list_stores()]  # history kept


def test_a_closed_store_takes_no_operation_and_its_history_stays_in_reports(desk):
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.money.checkout import checkout
    from mms_tui.services.money.shifts import open_shift
    from mms_tui.services.reports.catalogue import run_report

    chain(desk)
    sale = checkout(None, ["WATER"], [("cash", 300)], desk.cashier, "w1", store="SH1")
    close_store("SH1", desk.admin)
    with pytest.raises(InvalidInput, match=r"SH1.*closed on"):
        checkout(None, ["WATER"], [("cash", 300)], desk.cashier, "w2", store="SH1")
    with pytest.raises(InvalidInput, match="closed"):
        register_member("王五", "13700137000", desk.cashier, "r1", store="SH1")
    with pytest.raises(InvalidInput, match="closed"):
        open_shift(desk.cashier, "SH1")
    # the same txid again answers as before: a retry of what was done before it closed
    assert checkout(None, ["WATER"], [("cash", 300)], desk.cashier, "w1", store="SH1") == sale
    rows = list(run_report("turnover", None, None, "SH1"))
    assert sum(int(r["net_fen"]) for r in rows) == 300


def test_a_receipt_prints_its_stores_header_address_and_phone(desk):
    from mms_tui.services.money.checkout import checkout
    from mms_tui.services.money.receipt import sale_receipt

    edit_store("HQ", desk.admin, receipt_header="欢迎光临\nWELCOME", address="北京市朝阳区", phone="010-1234")
    checkout(None, ["WATER"], [("cash", 300)], desk.cashier, "rc1")
    lines = sale_receipt("rc1", width=32).lines
    assert [line.strip() for line in lines[:4]] == ["欢迎光临", "WELCOME", "北京市朝阳区", "Tel 010-1234"]
    assert lines[1] == "WELCOME".center(32).rstrip()
    edit_store("HQ", desk.admin, receipt_header="", address="", phone="")
    assert sale_receipt("rc1", width=32).lines[0].startswith("20")  # no header: the date comes first


# ------------------------------------------------------------------------------------ reports over a subtree


def _key(row: dict) -> tuple:
    return tuple((k, v) for k, v in row.items() if not isinstance(v, int) or isinstance(v, bool))


def added_up(*reports: list[dict]) -> dict[tuple, dict]:
    """Rows keyed by their text columns, numbers added up, zeros left out (a store's report has no column of a
    category it never sold)."""
    total: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for rows in reports:
        for row in rows:
            for k, v in row.items():
                if isinstance(v, int) and not isinstance(v, bool):
                    total[_key(row)][k] += v
    return {key: {k: v for k, v in sums.items() if v} for key, sums in total.items()}


SUBTREE_REPORTS = ("turnover", "topups", "visits", "staff", "products", "shifts", "liability", "cards")


def test_a_report_on_a_region_is_the_sum_of_its_stores(desk):
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.checkin import check_in
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.money.checkout import checkout
    from mms_tui.services.money.refund import refund
    from mms_tui.services.money.shifts import open_shift
    from mms_tui.services.money.topup import top_up
    from mms_tui.services.reports.catalogue import run_report

    chain(desk)
    for n, store in enumerate(("SH1", "SH2", "CD1", "HQ")):
        open_shift(desk.cashier, store)
        member = register_member(f"会员{n}", f"1380000000{n}", desk.cashier, f"r{n}", store=store).member_id
        sv = issue_card(member, "SV", desk.cashier, f"i{n}", store=store).card_id
        top_up(sv, 10_000 * (n + 1), 0, "cash", desk.cashier, f"t{n}", store=store)
        visits = issue_card(member, "V10", desk.cashier, f"v{n}", store=store).card_id
        check_in(visits, desk.cashier, f"c{n}", store=store)
        checkout(member, ["HAIR"] * (n + 1), [("stored_value", 8_800 * (n + 1), sv)], desk.cashier, f"s{n}",
                 store=store)
        checkout(None, ["WATER", "SHAMPOO"], [("cash", 7_100)], desk.cashier, f"w{n}", store=store)
    refund("w1", desk.manager, "wrong change", "rf1", store="SH2")  # a refund at SH2 counts there, negatively
    for name in SUBTREE_REPORTS:
        region = list(run_report(name, None, None, "EAST"))
        shops = [list(run_report(name, None, None, code)) for code in ("SH1", "SH2")]
        assert region, name
        assert added_up(region) == added_up(*shops), name
        everything = list(run_report(name, None, None, None))
        assert added_up(region) != added_up(everything), name  # HQ and WEST's stores are not in it
    # HQ, the root, is the whole chain
    assert added_up(run_report("turnover", None, None, "HQ")) == added_up(run_report("turnover", None, None, None))
    # the stores report: a row per store of the node, and a total over the node equal to their sum
    rows = list(run_report("stores", None, None, "EAST"))
    assert [r["store"] for r in rows] == ["EAST", "SH1", "SH2", "Total"]
    *per_store, total = rows
    for column in ("sale_count", "net_fen", "topup_count", "principal_fen", "check_ins"):
        assert total[column] == sum(r[column] for r in per_store), column
    assert (total["sale_count"], total["net_fen"], total["principal_fen"], total["check_ins"]) == (
        4, 8_800 + 7_100 + 17_600 + 7_100 - 7_100, 10_000 + 20_000, 2)
    # each row is what the turnover, topups and visits reports say for its store (read in one grouped pass)
    from mms_tui.models import Store

    parents = {s.parent_id for s in Store.select()}
    leaves = {s.code for s in Store.select() if s.id not in parents}  # (a node's report covers what is below it)
    for row in run_report("stores", None, None, None):
        if row["store"] != "Total" and row["store"] not in leaves:
            continue
        node = None if row["store"] == "Total" else row["store"]
        turnover = list(run_report("turnover", None, None, node))
        topups = list(run_report("topups", None, None, node))
        assert (row["sale_count"], row["net_fen"]) == (sum(r["sale_count"] for r in turnover),
                                                       sum(r["net_fen"] for r in turnover)), row
        assert (row["topup_count"], row["principal_fen"], row["bonus_fen"]) == tuple(
            sum(r[c] for r in topups) for c in ("topup_count", "principal_fen", "bonus_fen")), row
        assert row["check_ins"] == sum(r["check_ins"] for r in run_report("visits", None, None, node)), row


# ------------------------------------------------------------------------------------ the commands


def test_every_stores_command_works_and_refuses_in_one_line(desk, run):
    db = ["--db", desk.target]
    result = run(*db, "stores", "add", "EAST", "华东区", "--kind", "region", "--parent", "HQ", "--staff", "admin",
                 "--pin-stdin", input=ADMIN_PIN + "\n")
    assert result.exit_code == 0, result.output
    result = run(*db, "stores", "add", "SH1", "上海一店", "--parent", "EAST", "--phone", "021-5555",
                 "--receipt-header", r"欢迎光临\n会员日每周三", "--format", "json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)[0]
    assert (made["parent"], made["depth"], made["receipt_header"]) == ("EAST", 2, "欢迎光临\n会员日每周三")
    result = run(*db, "stores", "list", "--format", "csv")
    assert result.output.splitlines()[1:] == ["HQ,总店,store,,0,,,,,", "EAST,华东区,region,HQ,1,,,,,",
                                              'SH1,上海一店,store,EAST,2,,021-5555,"欢迎光临', '会员日每周三",,']
    assert "· · SH1" in run(*db, "stores", "list").output  # a dot per level in a table
    result = run(*db, "stores", "edit", "SH1", "--address", "上海市", "--staff", "m01", "--pin-stdin",
                 input=MANAGER_PIN + "\n")
    assert result.exit_code == 0 and "上海市" in result.output
    result = run(*db, "stores", "add", "SH2", "二店", "--staff", "m01", "--pin-stdin", input=MANAGER_PIN + "\n")
    assert result.exit_code == 1 and "may not do this" in result.output
    result = run(*db, "stores", "move", "EAST", "--parent", "SH1")
    assert result.exit_code == 1 and "EAST cannot move under SH1" in result.output
    assert "Traceback" not in result.output
    result = run(*db, "stores", "move", "SH1", "--root", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.output)[0]["parent"] == ""
    assert run(*db, "stores", "move", "SH1").exit_code != 0  # neither --parent nor --root
    result = run(*db, "stores", "close", "SH1", "--staff", "c01", "--pin-stdin", input=CASHIER_PIN + "\n")
    assert result.exit_code == 1 and "may not do this" in result.output
    result = run(*db, "stores", "close", "SH1", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.output)[0]["closed_at"]
    assert "SH1" not in run(*db, "stores", "list", "--open").output
    result = run(*db, "stores", "close", "SH1")
    assert result.exit_code == 1 and "already closed" in result.output
    result = run(*db, "report", "stores", "--store", "HQ", "--format", "json")
    assert [r["store"] for r in json.loads(result.output)] == ["EAST", "HQ", "Total"]


def test_a_regions_manager_looks_after_the_staff_of_the_regions_stores_and_no_others(desk):
    """Staff administration's store scope follows the tree: a manager of the region EAST manages staff of its
    stores, works their desks, and neither at the other region's store."""
    from mms_tui.services.base.errors import PermissionDenied
    from mms_tui.services.staff.admin import add_staff, edit_staff
    from mms_tui.services.staff.permissions import in_store_scope, may_work_at

    nodes = chain(desk)
    boss = add_staff("e01", "华东经理", by=desk.admin, role="manager", store="EAST", pin="4321")
    boss_row = Staff.get(Staff.code == "e01")
    add_staff("s01", "上海收银", by=boss_row, store="SH1", pin="5678")
    edit_staff("s01", by=boss_row, name="上海收银员")
    assert boss.code == "e01" and in_store_scope(boss_row, nodes["SH2"].id) and may_work_at(boss_row, nodes["SH1"].id)
    other = "CD1"
    assert not in_store_scope(boss_row, nodes[other].id) and not may_work_at(boss_row, nodes[other].id)
    with pytest.raises(PermissionDenied):
        add_staff("x01", "别区收银", by=boss_row, store=other, pin="5678")


def test_an_import_naming_a_store_not_yet_made_says_how_to_add_it_and_then_goes_through(desk, tmp_path):
    """A member file whose 门店 is BR9, before BR9 exists: the row is named with what to do; after
    `mms stores add BR9 …` the same file imports, the member at BR9."""
    from mms_tui.models import Member
    from mms_tui.services.exchange.import_report import ImportRejected
    from mms_tui.services.exchange.importing import import_file

    source = tmp_path / "members.csv"
    source.write_text("姓名,手机,门店\n王五,13700137009,BR9\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as refused:
        import_file("members", str(source), staff=desk.manager)
    assert "unknown store (add it first: mms stores add CODE NAME)" in str(refused.value.errors[0])
    add_store("BR9", "九号店", desk.admin, parent="HQ")
    import_file("members", str(source), staff=desk.manager)
    assert Member.get(Member.phone == "13700137009").home_store.code == "BR9"
