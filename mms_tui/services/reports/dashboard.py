"""The manager's screen (经营图表): the figures its charts draw, from the reports themselves (``run_report`` with the
viewer, so a manager sees their own subtree): turnover per day, stored value topped up against stored value
spent, check-ins per weekday and hour, and members per tier today. Each chart's figures come on their own, so the
screen draws the first while the others are still being read."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from mms_tui.models import Staff
from mms_tui.services.base.resolve import today
from mms_tui.services.reports.period import Row

#: the periods the screen offers, in days
CHART_PERIODS = (7, 30, 90)


@dataclass(frozen=True)
class DailySeries:
    days: list[dt.date]
    #: name → one value per day (fen)
    series: dict[str, list[int]]


def _days(days: int) -> tuple[dt.date, dt.date, list[dt.date]]:
    end = today()
    start = end - dt.timedelta(days=days - 1)
    return start, end, [start + dt.timedelta(days=n) for n in range(days)]


def turnover_series(viewer: Staff, days: int = 30, store: str | None = None) -> DailySeries:
    """Net sales (sales less refunds) per day of the last ``days`` days."""
    from mms_tui.services.reports.catalogue import run_report

    start, end, dates = _days(days)
    net = {row["period"]: int(row["net_fen"]) for row in run_report("turnover", start, end, store, viewer=viewer)}  # type: ignore[call-overload]
    return DailySeries(dates, {"net": [net.get(d.isoformat(), 0) for d in dates]})


def money_in_and_out(viewer: Staff, days: int = 30, store: str | None = None) -> DailySeries:
    """Stored-value principal topped up per day against stored value spent at checkout (refunds netted in both)."""
    from mms_tui.services.reports.catalogue import run_report

    start, end, dates = _days(days)
    loaded: dict[str, int] = defaultdict(int)
    for row in run_report("topups", start, end, store, viewer=viewer):
        loaded[str(row["period"])] += int(row["principal_fen"])  # type: ignore[call-overload]
    spent = {row["period"]: int(row["stored_value_fen"])  # type: ignore[call-overload]
             for row in run_report("turnover", start, end, store, viewer=viewer)}
    return DailySeries(dates, {"topups": [loaded.get(d.isoformat(), 0) for d in dates],
                               "spent": [spent.get(d.isoformat(), 0) for d in dates]})


def visits_grid(viewer: Staff, days: int = 30, store: str | None = None) -> list[list[int]]:
    """Check-ins of the last ``days`` days as [weekday 0 (Monday) … 6][hour 0 … 23], all the node's stores."""
    from mms_tui.services.reports.catalogue import run_report

    start, end, _dates = _days(days)
    return visits_grid_of(run_report("visits", start, end, store, viewer=viewer))


def visits_grid_of(rows: Iterable[Row]) -> list[list[int]]:
    """The visits report's rows as check-ins [weekday 0 (Monday) … 6][hour 0 … 23], all its stores together
    (the screen's grid, and the picture's and the CLI's)."""
    grid = [[0] * 24 for _ in range(7)]
    for row in rows:
        grid[int(row["weekday"]) - 1][int(str(row["hour"])[:2])] += int(row["check_ins"])  # type: ignore[call-overload]
    return grid


def members_by_tier(viewer: Staff, store: str | None = None) -> list[tuple[str, int]]:
    """(tier, members) today, lowest tier first, of the members whose home store is in the viewer's node."""
    from mms_tui.services.reports.catalogue import run_report

    (row,) = run_report("tier-trend", today(), today(), store, viewer=viewer)
    return [(str(k), int(v)) for k, v in row.items() if k not in ("period", "members")]  # type: ignore[call-overload]


def campaign_results(viewer: Staff, days: int = 30, store: str | None = None) -> list[dict[str, object]]:
    """营销效果 of the last ``days`` days: the promotions report's rows (a promotion each)."""
    from mms_tui.services.reports.catalogue import run_report

    start, end, _dates = _days(days)
    return list(run_report("promotions", start, end, store, viewer=viewer))
