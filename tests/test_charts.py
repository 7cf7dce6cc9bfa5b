"""The manager's screen's figures (经营图表, issue #25): the same money and counts as the reports they come from,
the days without figures as zeros, a cashier refused; and the pictures' text (the grid, the tier bars)."""

from __future__ import annotations

import datetime as dt

import pytest

from mms_tui import clock
from mms_tui.screens.charts import grid_text, tiers_text
from mms_tui.services.base.errors import PermissionDenied
from mms_tui.services.reports.catalogue import run_report
from mms_tui.services.reports.dashboard import members_by_tier, money_in_and_out, turnover_series, visits_grid
from tests.test_reports import build_history


@pytest.fixture
def demo(db_target):
    return build_history(db_target)


def test_the_charts_carry_the_reports_figures(demo):
    from mms_tui.models import Staff

    manager = Staff.get(Staff.code == "m01")
    today = clock.today()
    start = today - dt.timedelta(days=29)
    turnover = turnover_series(manager, 30)
    assert turnover.days == [start + dt.timedelta(days=n) for n in range(30)]
    rows = list(run_report("turnover", start, today))
    assert sum(turnover.series["net"]) == sum(int(r["net_fen"]) for r in rows) != 0
    assert turnover.series["net"].count(0) >= 30 - len(rows)  # days without sales drawn as zeros
    money = money_in_and_out(manager, 30)
    assert sum(money.series["topups"]) == sum(int(r["principal_fen"]) for r in run_report("topups", start, today))
    assert sum(money.series["spent"]) == sum(int(r["stored_value_fen"]) for r in rows)
    grid = visits_grid(manager, 30)
    assert sum(map(sum, grid)) == sum(int(r["check_ins"]) for r in run_report("visits", start, today)) > 0
    tiers = members_by_tier(manager)
    assert sum(n for _name, n in tiers) == sum(int(r["members"]) for r in run_report("tiers", today, today))


def test_a_cashier_may_not(demo):
    from mms_tui.models import Staff

    cashier = Staff.get(Staff.code == "c01")
    for read in (turnover_series, money_in_and_out, visits_grid):
        with pytest.raises(PermissionDenied):
            read(cashier, 7)
    with pytest.raises(PermissionDenied):
        members_by_tier(cashier)


def test_the_grid_and_the_bars():
    grid = [[0] * 24 for _ in range(7)]
    grid[0][9], grid[6][18], grid[6][19] = 1, 4, 2
    text = grid_text(grid).splitlines()
    assert text[0].split() == [f"{h:02d}" for h in range(9, 20)]  # the hours with check-ins, first to last
    assert text[7].split()[-2:] == ["██", "▒▒"]  # Sunday 18:00 the busiest, 19:00 half of it
    assert "Sun 18:00 (4)" in text[-1]
    assert grid_text([[0] * 24 for _ in range(7)]) == "No check-ins in the period."
    bars = tiers_text([("普通会员", 10), ("银卡会员", 5), ("金卡会员", 0)], width=10).splitlines()
    assert bars[0].endswith("█" * 10 + " 10") and bars[1].endswith("█" * 5 + " 5") and bars[2].endswith(" 0")
    assert bars[-1] == "15 members"
