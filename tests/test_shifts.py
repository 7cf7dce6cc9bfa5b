"""交班: expected money per tender from the ledger, counted, over/short kept and audited; who may see and close."""

from __future__ import annotations

import datetime as dt

import pytest

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.models import AuditEvent
from mms_tui.services.base.config import set_config
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied, TxidConflict
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.money.shifts import (
    close_shift,
    current_shift,
    open_shift,
    shift_report_lines,
    shifts_of_day,
)
from mms_tui.services.money.topup import top_up

DAY = dt.datetime.combine(clock.today(), dt.time(9, 0))


def at(minutes: int):
    return clock.pinned(DAY + dt.timedelta(minutes=minutes))


@pytest.fixture
def day_of_work(desk):
    """A cashier's day of mixed operations, each at its own minute; a manager's sale in between."""
    c, m = desk.cashier, desk.manager
    with write_transaction():
        set_config("shift_float_fen", 50_000)
    with at(0):
        open_shift(c)
    with at(1):
        zhang = register_member("张三", "13800138000", c, "r1").member_id
        sv = issue_card(zhang, "SV", c, "i1", price_fen=0).card_id
    with at(2):
        top_up(sv, 100_000, None, "cash", c, "t1")  # +¥1,000 cash (and ¥200 bonus, not money)
    with at(3):
        checkout(zhang, ["HAIR"], [("cash", 10_000)], c, "s1")  # ¥88, ¥100 handed over, ¥12 change
    with at(4):
        checkout(zhang, ["SPA"], [("wechat", 40_000), ("cash", 9_800)], c, "s2")
    with at(5):
        issue_card(zhang, "V10", c, "i2", tender="cash")  # a 10次卡 sold for ¥500 cash
    with at(6):
        checkout(None, ["WATER"], [("cash", 300)], m, "m1")  # the manager's own sale: not in this drawer
    with at(7):
        refund("s1", c, "wrong service", "rf1", approver=m)  # back in cash, from this drawer
    with at(8):
        top_up(sv, 10_000, None, "wechat", c, "t2")
    with at(9):
        refund("t2", c, "wrong card", "rf2", approver=m, to_tender="cash")  # paid by WeChat, handed back in cash
    with at(10):
        checkout(zhang, ["WATER"], [("stored_value", 300, sv)], c, "s3")  # stored value: no money at all
    return desk


def test_expected_cash_is_the_float_and_every_money_movement_of_the_day(day_of_work):
    desk = day_of_work
    # by hand: float 500 + top-up 1,000 + haircut 88 + SPA cash part 98 + card 500 − refund 88 − top-up refund 100
    cash = 50_000 + 100_000 + 8_800 + 9_800 + 50_000 - 8_800 - 10_000
    with at(11):
        now = current_shift(desk.cashier)
    assert now.expected == {"cash": cash, "bank_card": 0, "wechat": 40_000 + 10_000, "alipay": 0}
    assert now.by_group["refunds"] == {"cash": -18_800, "bank_card": 0, "wechat": 0, "alipay": 0}
    assert (now.counts["sales"], now.counts["refunds"], now.counts["topups"], now.counts["cards"]) == (3, 2, 2, 2)
    with at(12):
        closed = close_shift(desk.cashier, {"cash": cash - 800}, "close1")
    assert closed.closed and closed.over_short == {"cash": -800, "bank_card": 0, "wechat": 0, "alipay": 0}
    assert closed.over_short_fen == -800 and closed.counted["wechat"] == 50_000  # not counted: as expected
    event = AuditEvent.get(AuditEvent.action == "shift.close")
    assert '"over_short": {"alipay": 0, "bank_card": 0, "cash": -800, "wechat": 0}' in event.payload
    lines = shift_report_lines(closed)
    assert "Short" in lines[-1] and "¥8.00" in lines[-1]
    assert all(len(line) <= 32 for line in lines)


def test_a_close_is_once_per_txid_and_a_new_shift_starts_where_it_ended(day_of_work):
    desk = day_of_work
    with at(12):
        first = close_shift(desk.cashier, {"cash": 0}, "close1")
        assert close_shift(desk.cashier, {"cash": 0}, "close1") == first  # a double Enter
        with pytest.raises(TxidConflict):
            close_shift(desk.cashier, {"cash": 5}, "close1")
        with pytest.raises(NotFound):
            close_shift(desk.cashier, {"cash": 0}, "close2")  # nothing open any more
    with at(20):
        open_shift(desk.cashier)
    with at(21):
        checkout(None, ["WATER"], [("cash", 300)], desk.cashier, "s9")
        after = current_shift(desk.cashier)
    assert after.expected["cash"] == 50_000 + 300 and after.since.startswith(str(DAY + dt.timedelta(minutes=12))[:16])


def test_counted_amounts_are_checked(day_of_work):
    with at(12):
        with pytest.raises(InvalidInput, match="cash"):
            close_shift(day_of_work.cashier, {"wechat": 50_000}, "c1")
        with pytest.raises(InvalidInput):
            close_shift(day_of_work.cashier, {"cash": -1}, "c1")
        with pytest.raises(InvalidInput):
            close_shift(day_of_work.cashier, {"cash": 1, "cheque": 5}, "c1")
    assert current_shift(day_of_work.cashier) is not None


def test_a_manager_sees_and_closes_every_shift_a_cashier_only_their_own(day_of_work):
    desk = day_of_work
    with at(30):
        open_shift(desk.manager)
        assert [s.staff_code for s in shifts_of_day(desk.cashier)] == ["c01"]
        assert [s.staff_code for s in shifts_of_day(desk.manager)] == ["c01", "m01"]
        with pytest.raises(PermissionDenied):
            close_shift(desk.manager, {"cash": 0}, "x1", by=desk.cashier)
        closed = close_shift(desk.cashier, {"cash": 199_800}, "x2", by=desk.manager)
    assert closed.closed_by == "m01" and closed.over_short_fen == 0
    with at(31):  # the day of the shifts (the run may cross midnight: never the calendar's today)
        assert [s.closed for s in shifts_of_day(desk.manager)] == [True, False]


def test_the_day_at_the_desk_equals_the_turnover_and_topups_reports(day_of_work, run):
    """F8's sales are turnover's and its top-ups the topups report's for the same day (through the CLI)."""
    import json

    from mms_tui.services.reports.day import day_summary

    desk = day_of_work
    when = DAY.date().isoformat()
    day = day_summary("HQ", DAY.date())
    (turnover,) = json.loads(run("--db", desk.target, "report", "turnover", "--from", when, "--to", when,
                                 "--format", "json").output)
    assert (day.sales, day.sales_total_fen, day.sale_refunds, day.sale_refunds_fen, day.net_fen) == (
        turnover["sale_count"], turnover["sales_fen"], turnover["refund_count"], turnover["refunds_fen"],
        turnover["net_fen"])
    assert day.by_tender == {k.removesuffix("_fen"): v for k, v in turnover.items()
                             if k.removesuffix("_fen") in ("cash", "wechat", "stored_value") and v}
    topups = json.loads(run("--db", desk.target, "report", "topups", "--from", when, "--to", when,
                            "--format", "json").output)
    assert day.topups == sum(r["topup_count"] for r in topups) == 1  # two top-ups, one refunded
    assert day.topup_fen == sum(r["principal_fen"] for r in topups) == 100_000
    assert day.bonus_fen == sum(r["bonus_fen"] for r in topups) == 20_000
    # what the reports leave out and a drawer needs: card sales, every refund's money, each staff member's money
    assert (day.card_sales, day.card_sales_fen) == (2, 50_000)
    assert (day.refunds, day.refunds_paid_fen) == (2, 18_800)
    people = {s.code: s for s in day.staff}
    assert people["c01"].by_tender == {"cash": 149_800, "bank_card": 0, "wechat": 50_000, "alipay": 0}
    assert people["m01"].by_tender["cash"] == 300


def test_mms_report_shifts_lists_each_shift_with_its_over_short(day_of_work, run):
    import json

    with at(12):
        close_shift(day_of_work.cashier, {"cash": 199_000}, "close1")
    with at(13):
        open_shift(day_of_work.manager)
    when = DAY.date().isoformat()
    rows = json.loads(run("--db", day_of_work.target, "report", "shifts", "--from", when, "--to", when,
                          "--format", "json").output)
    assert [(r["staff"], r["cash_expected_fen"], r["cash_counted_fen"], r["over_short_fen"]) for r in rows] == [
        ("c01", 199_800, 199_000, -800), ("m01", 50_000, None, None)]
    assert rows[0]["wechat_fen"] == 50_000 and rows[0]["float_fen"] == 50_000
    table = run("--db", day_of_work.target, "report", "shifts", "--from", when, "--to", when).output
    assert "c01" in table and "¥1,998.00" in table
