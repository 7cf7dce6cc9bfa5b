"""经营图表 (F8 on Today): the manager's screen — turnover per day, stored value topped up against stored value
spent, check-ins as a weekday × hour grid, members per tier — over the last 7, 30 or 90 days (F6), one chart a
tab (← → or 1–4). The figures are the reports' (services/reports/dashboard.py), so a manager sees their own
subtree and a cashier is told they may not; each tab reads its figures when it is first shown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane, Tabs
from textual_plotext import PlotextPlot

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, error_message, in_connection
from mms_tui.services.base.text import WEEKDAY_NAMES as WEEKDAYS
from mms_tui.services.base.text import format_money
from mms_tui.services.reports.dashboard import (
    CHART_PERIODS,
    DailySeries,
    campaign_results,
    members_by_tier,
    money_in_and_out,
    turnover_series,
    visits_grid,
)
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

TABS = ("turnover", "money", "visits", "tiers", "campaigns")
#: a grid cell's shade by its share of the busiest hour
SHADES = " ░▒▓█"


def yuan(fen: int) -> float:
    return fen / 100


#: each line's colour: plotext's name and Rich's
LINE_COLOURS = (("cyan", "cyan"), ("orange", "dark_orange"))


def draw_days(plot: PlotextPlot, legend: Static, data: DailySeries, lines: list[tuple[str, str]]) -> None:
    """One line per (series, label) over the days, the days marked every week (MM-DD). The legend is a line of
    its own above the plot: plotext counts a Chinese character as one cell and would break its frame."""
    plt = plot.plt
    plt.clear_figure()
    xs = list(range(len(data.days)))
    keys = []
    for (name, label), (colour, rich) in zip(lines, LINE_COLOURS, strict=False):
        plt.plot(xs, [yuan(v) for v in data.series[name]], color=colour, marker="braille")
        keys.append(f"[{rich}]━━[/] {escape(label)}")
    step = max(len(xs) // 5, 1)
    plt.xticks(xs[::step], [d.strftime("%m-%d") for d in data.days[::step]])
    legend.update("   ".join(keys) + "   (¥)")
    plot.refresh()


def grid_text(grid: list[list[int]]) -> str:
    """The weekday × hour grid in shades (the busiest hour █), hours with no check-ins on any day left out at the
    ends; the counts of the busiest hours under it."""
    hours = [h for h in range(24) if any(day[h] for day in grid)]
    if not hours:
        return _("No check-ins in the period.")
    first, last = hours[0], hours[-1]
    top = max(max(day) for day in grid)
    head = "     " + "".join(f"{h:02d} " for h in range(first, last + 1))
    rows = [head]
    for i, day in enumerate(grid):
        cells = "".join(SHADES[min(len(SHADES) - 1, (4 * n + top - 1) // top)] * 2 + " " if n else "·  "
                        for n in day[first:last + 1])
        rows.append(f"{_(WEEKDAYS[i]):<4} {cells}")
    busiest = sorted(((n, i, h) for i, day in enumerate(grid) for h, n in enumerate(day) if n), reverse=True)[:3]
    rows.append("")
    rows.append(_("Busiest: {list}").format(list=", ".join(
        f"{_(WEEKDAYS[i])} {h:02d}:00 ({n})" for n, i, h in busiest)))
    return "\n".join(rows)


def tiers_text(tiers: list[tuple[str, int]], width: int = 40) -> str:
    """A bar per tier, the longest ``width`` cells."""
    from mms_tui.services.base.text import fit

    top = max((n for _name, n in tiers), default=0)
    total = sum(n for _name, n in tiers)
    rows = []
    for name, n in tiers:
        bar = "█" * (round(width * n / top) if top else 0)
        rows.append(f"{fit(name, 10)} {bar} {n}")
    rows.append("")
    rows.append(_("{n} members").format(n=total))
    return "\n".join(rows)


class ChartsScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="charts.back"),
        Binding("f5", "reload", N_("Refresh"), id="charts.reload"),
        Binding("f6", "period", N_("Period"), id="charts.period"),
        Binding("1", "show_tab('turnover')", show=False),
        Binding("2", "show_tab('money')", show=False),
        Binding("3", "show_tab('visits')", show=False),
        Binding("4", "show_tab('tiers')", show=False),
        Binding("5", "show_tab('campaigns')", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.days = 30
        self.loaded: set[str] = set()
        self.notes: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="charts", initial="tab-turnover"):
            with TabPane(_("1 Turnover"), id="tab-turnover"):
                yield Static(id="legend-turnover", classes="chart-legend")
                yield PlotextPlot(id="chart-turnover")
            with TabPane(_("2 Top-ups/spend"), id="tab-money"):
                yield Static(id="legend-money", classes="chart-legend")
                yield PlotextPlot(id="chart-money")
            with TabPane(_("3 Visits"), id="tab-visits"):
                yield Static(id="chart-visits")
            with TabPane(_("4 Tiers"), id="tab-tiers"):
                yield Static(id="chart-tiers")
            with TabPane(_("5 Campaigns"), id="tab-campaigns"):
                yield Table(id="chart-campaigns", cursor_type="row", zebra_stripes=True)
        yield Static("", id="charts-note")
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("Charts")
        self.query_one(Tabs).focus()
        self.show_period()
        self.load("turnover")

    def show_period(self) -> None:
        self.sub_title = _("last {n} days").format(n=self.days)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = (event.pane.id or "").removeprefix("tab-")
        self.query_one("#charts-note", Static).update(escape(self.notes.get(tab, "")))
        if tab in TABS and tab not in self.loaded:
            self.load(tab)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{tab}"

    def action_reload(self) -> None:
        self.loaded.clear()
        self.load(self.current())

    def action_period(self) -> None:
        """7 → 30 → 90 days → 7."""
        self.days = CHART_PERIODS[(CHART_PERIODS.index(self.days) + 1) % len(CHART_PERIODS)]
        self.show_period()
        self.action_reload()

    def current(self) -> str:
        return (self.query_one(TabbedContent).active or "tab-turnover").removeprefix("tab-")

    def tell(self, tab: str, text: str) -> None:
        """The line under the chart, kept for the tab."""
        self.notes[tab] = text
        if self.current() == tab:
            self.query_one("#charts-note", Static).update(escape(text))

    @work(exit_on_error=False, group="charts")
    async def load(self, tab: str) -> None:
        staff, days = self.app.staff, self.days
        readers: dict[str, Callable[[], object]] = {
            "turnover": lambda: turnover_series(staff, days),
            "money": lambda: money_in_and_out(staff, days),
            "visits": lambda: visits_grid(staff, days),
            "tiers": lambda: members_by_tier(staff),
            "campaigns": lambda: campaign_results(staff, days),
        }
        try:
            figures = await asyncio.to_thread(in_connection, readers[tab])
        except Exception as exc:
            self.tell(tab, error_message(exc))
            return
        if days != self.days:
            return  # the period changed while this was read
        self.loaded.add(tab)
        if tab == "turnover":
            data = figures
            assert isinstance(data, DailySeries)
            draw_days(self.query_one("#chart-turnover", PlotextPlot), self.query_one("#legend-turnover", Static), data,
                      [("net", _("net sales"))])
            self.tell(tab, _("Net sales {total} in {n} days (sales less refunds).").format(
                total=format_money(sum(data.series["net"])), n=days))
        elif tab == "money":
            data = figures
            assert isinstance(data, DailySeries)
            draw_days(self.query_one("#chart-money", PlotextPlot), self.query_one("#legend-money", Static), data,
                      [("topups", _("topped up")), ("spent", _("spent from cards"))])
            self.tell(tab, _("Topped up {loaded}, spent from cards {spent} (refunds netted).").format(
                loaded=format_money(sum(data.series["topups"])), spent=format_money(sum(data.series["spent"]))))
        elif tab == "visits":
            self.query_one("#chart-visits", Static).update(escape(grid_text(figures)))  # type: ignore[arg-type]
            self.tell(tab, _("Check-ins per weekday and hour, the busiest █."))
        elif tab == "tiers":
            self.query_one("#chart-tiers", Static).update(escape(tiers_text(figures)))  # type: ignore[arg-type]
            self.tell(tab, _("Members per tier today."))
        else:
            self.show_campaigns(figures)  # type: ignore[arg-type]

    #: 64 columns and cell padding: whole within 80
    CAMPAIGN_COLUMNS = ((N_("Promotion"), 14), (N_("Issued"), 6), (N_("Redeemed %"), 10), (N_("Members"), 7),
                        (N_("Sales"), 5), (N_("Revenue"), 11), (N_("Avg ticket"), 11))

    def show_campaigns(self, rows: list[dict[str, object]]) -> None:
        """营销效果: a promotion a row — coupons issued and redeemed, members reached, the sales it applied to."""
        from mms_tui.services.base.text import fit

        table = self.query_one("#chart-campaigns", DataTable)
        table.clear(columns=True)
        for label, width in self.CAMPAIGN_COLUMNS:
            table.add_column(_(label), width=width)
        for row in rows:
            rate = row["redeem_rate_pct"]
            average = row["avg_ticket_fen"]
            table.add_row(fit(str(row["name"] or row["promotion"]), 14), str(row["coupons_issued"]),
                          "" if rate is None else f"{rate}%", str(row["members"]), str(row["sales"]),
                          format_money(int(row["revenue_fen"])),  # type: ignore[call-overload]
                          "" if average is None else format_money(int(average)))  # type: ignore[call-overload]
        self.tell("campaigns", _("Promotions in the last {n} days; mms report promotions has every column.").format(
            n=self.days) if rows else _("No promotion applied or coupon issued in the period."))
