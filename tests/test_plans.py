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
from mms_tui.models.migrations import ACCOUNT_INDEX_28, STORE_INDEX_27
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout, quote
from mms_tui.services.money.shifts import open_shift, shift_summary
from mms_tui.services.money.topup import top_up
from mms_tui.services.reports.day import day_summary

#: indexes a day's or a shift's read must not be led by: one value shared by a store's every transaction, or by
#: every entry of a tender
MISLEADING = (ACCOUNT_INDEX_28, STORE_INDEX_27)


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


def _plans(statements: list[tuple[str, tuple]], reading: str = r'"ledger_(entry|transaction)"') -> list[tuple[str, str]]:
    """(statement, its plan) of each SELECT that reads a table ``reading`` matches (the ledger's, unless told)."""
    out = []
    for sql, params in statements:
        if not sql.lstrip().upper().startswith("SELECT") or not re.search(reading, sql):
            continue
        plan = "\n".join(row[-1] for row in database.obj.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        out.append((sql, plan))
    return out


def _a_day_at_the_desk(desk) -> None:
    member = register_member("张三", "13800138000", desk.cashier, "reg-1").member_id
    card = issue_card(member, "SV", desk.cashier, "issue-1", card_no="1001").card_id
    top_up(card, 100_000, 0, "cash", desk.manager, "topup-1")
    checkout(member, ["SPA"], [("stored_value", quote(member, ["SPA"]).total_fen, card)], desk.cashier, "sale-1")


def test_the_store_index_and_the_account_index_are_gone(sqlite_desk):
    assert not {STORE_INDEX_27, ACCOUNT_INDEX_28} & {row[1] for row in database.obj.execute_sql(
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


def _index_plans(statements: list[tuple[str, tuple]]) -> str:
    """Every plan of the SELECTs seen, one text."""
    return "\n".join(plan for _sql, plan in _plans(statements, reading=""))


def test_the_indexes_of_set_columns_hold_only_set_rows_and_the_reads_still_take_them(sqlite_desk, statements):
    """Migration 28: the indexes of columns most rows leave empty hold the rows that have a value — and the reads
    that need them (a card's balances, a swipe's UID, a scanned barcode, what reversed a sale) still read with them;
    a second card with the same UID or barcode is still refused."""
    import peewee

    from mms_tui.models import Card
    from mms_tui.models.migrations import SET_INDEXES_28
    from mms_tui.services.ledger.check import check_ledger
    from mms_tui.services.members.lookup import lookup
    from mms_tui.services.members.view import member_view
    from mms_tui.services.money.refund import refund

    defined = dict(database.obj.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index'").fetchall())
    for name, _table, columns, _unique in SET_INDEXES_28:
        assert defined[name].endswith(f'WHERE ({columns.split(",")[0]} IS NOT NULL)'), defined[name]
    _a_day_at_the_desk(sqlite_desk)
    member = register_member("王五", "13700000000", sqlite_desk.cashier, "reg-3").member_id
    card = issue_card(member, "SV", sqlite_desk.cashier, "issue-3", card_no="3003", reader_uid="0A1B2C3D").card_id
    Card.update(barcode="6901234567892").where(Card.id == card).execute()
    top_up(card, 10_000, 0, "cash", sqlite_desk.cashier, "topup-3")
    statements.clear()
    member_view(member)
    check_ledger()
    assert "USING COVERING INDEX ledger_entry_card_id_account_amount" in _index_plans(statements)
    for value, index in (("0A1B2C3D", "card_reader_uid"), ("6901234567892", "card_barcode")):
        statements.clear()
        assert [h.member_id for h in lookup(value, 2) if h.match == "card"] == [member], value
        assert f"INDEX {index}" in _index_plans(statements), value
    statements.clear()
    refund("sale-1", sqlite_desk.manager, "顾客退货", "refund-1")
    assert "INDEX ledger_transaction_reverses_id" in _index_plans(statements)
    other = issue_card(member, "SV", sqlite_desk.cashier, "issue-4", card_no="4004").card_id
    for column, value in (("reader_uid", "0A1B2C3D"), ("barcode", "6901234567892")):  # (the database's own refusal)
        with pytest.raises(peewee.IntegrityError, match="UNIQUE"), database.atomic():
            Card.update({column: value}).where(Card.id == other).execute()
