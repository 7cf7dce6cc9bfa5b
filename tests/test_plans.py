"""The desk's recurring reads take the index their period gives (issue #27). SQLite keeps no statistics here, so
its planner prefers any index with an equality — a store all transactions share, a tender account millions of
entries share — over the day's range of moments: the desk's day summary, read each time the desk comes back,
took 2.3 s at a million members that way. Checked by the plans SQLite makes, not by timings (those are
``scripts/bench.py``'s)."""

from __future__ import annotations

import re

import pytest

from mms_tui.db import database
from mms_tui.models import Shift
from mms_tui.models.migrations import STORE_INDEX_27
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout, quote
from mms_tui.services.money.shifts import open_shift, shift_summary
from mms_tui.services.money.topup import top_up
from mms_tui.services.reports.day import day_summary

#: indexes a day's or a shift's read must not be led by: one value shared by a store's every transaction, or by
#: every entry of a tender
MISLEADING = ("ledger_entry_account", STORE_INDEX_27)


@pytest.fixture
def statements(monkeypatch):
    seen: list[tuple[str, tuple]] = []
    obj = database.obj
    run = obj.execute_sql

    def keeping(sql, params=None, *args, **kwargs):
        seen.append((sql, tuple(params or ())))
        return run(sql, params, *args, **kwargs)

    monkeypatch.setattr(obj, "execute_sql", keeping)
    return seen


def _plans(statements: list[tuple[str, tuple]]) -> list[tuple[str, str]]:
    """(statement, its plan) of each statement that reads the ledger."""
    out = []
    for sql, params in statements:
        if not sql.lstrip().upper().startswith("SELECT") or not re.search(r'"ledger_(entry|transaction)"', sql):
            continue
        plan = "\n".join(row[-1] for row in database.obj.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        out.append((sql, plan))
    return out


def _a_day_at_the_desk(desk) -> None:
    member = register_member("张三", "13800138000", desk.cashier, "reg-1").member_id
    card = issue_card(member, "SV", desk.cashier, "issue-1", card_no="1001").card_id
    top_up(card, 100_000, 0, "cash", desk.manager, "topup-1")
    checkout(member, ["SPA"], [("stored_value", quote(member, ["SPA"]).total_fen, card)], desk.cashier, "sale-1")


def test_the_store_index_is_gone(sqlite_desk):
    assert STORE_INDEX_27 not in {row[1] for row in database.obj.execute_sql(
        "SELECT type, name FROM sqlite_master WHERE type = 'index'")}


def test_the_desks_day_summary_reads_the_days_transactions_then_their_entries(sqlite_desk, statements):
    _a_day_at_the_desk(sqlite_desk)
    statements.clear()
    summary = day_summary()
    assert summary.sales == 1 and summary.topups == 1
    plans = _plans(statements)
    assert len(plans) >= 6
    for sql, plan in plans:
        assert not any(name in plan for name in MISLEADING), (sql, plan)
        assert not re.search(r"SCAN (ledger_entry|ledger_transaction|t\d)\b", plan), (sql, plan)
        if '"created_at" >=' in sql:  # a read of the day's: not a kind's every transaction ever
            assert "(kind=?)" not in plan, (sql, plan)


def test_a_shifts_figures_read_the_shifts_transactions(sqlite_desk, statements):
    open_shift(sqlite_desk.cashier, None)
    _a_day_at_the_desk(sqlite_desk)
    shift = Shift.select().where(Shift.staff == sqlite_desk.cashier.id).get()
    statements.clear()
    shift_summary(shift)
    plans = _plans(statements)
    assert plans
    for sql, plan in plans:
        assert not any(name in plan for name in MISLEADING), (sql, plan)


def test_the_desk_coming_back_reads_only_the_days_latest_check_ins(sqlite_desk, statements):
    from mms_tui.services.members.checkin import check_in
    from mms_tui.services.reports.day import recent_checkins

    member = register_member("李四", "13912345678", sqlite_desk.cashier, "reg-2").member_id
    card = issue_card(member, "V10", sqlite_desk.cashier, "issue-2", card_no="2002").card_id
    check_in(card, sqlite_desk.cashier, "visit-1")
    statements.clear()
    assert [r.what for r in recent_checkins()] == ["李四"]
    plans = _plans(statements)
    assert len(plans) == 1  # one read, not the day summary's dozen
    for sql, plan in plans:
        assert not any(name in plan for name in MISLEADING), (sql, plan)
        assert "ledger_transaction_created_at" in plan, (sql, plan)
