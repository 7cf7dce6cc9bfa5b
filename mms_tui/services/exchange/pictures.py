"""A report as a picture for email (``mms report NAME --chart FILE.png|svg``): the figures the manager would rather
look at, drawn by matplotlib (which writes files; plotext draws only to terminals) from the report's own rows.

Each report that has a natural picture names it here (:data:`PICTURES`): money over time as a line, counts per
kind as bars, the weekday × hour check-ins and the cohorts' retention as grids. Labels are the headers of the
spreadsheets (``sheet_style.header_label``) in the desk's language; Chinese needs a CJK font on the machine
(fonts-noto-cjk or fonts-wqy-zenhei), else it shows as boxes. Text in an SVG stays text. The file is written
whole or not at all, private, as every file mms writes.
"""

from __future__ import annotations

import io
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mms_tui.i18n import N_, _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.files import write_file
from mms_tui.services.base.text import WEEKDAY_NAMES as WEEKDAYS
from mms_tui.services.exchange.sheet_style import header_label
from mms_tui.services.reports.dashboard import visits_grid_of

Row = dict[str, Any]

#: fonts tried in turn for each character (Chinese first, then matplotlib's own)
FONTS = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
         "SimHei", "Microsoft YaHei", "DejaVu Sans"]


def _yuan(fen: Any) -> float:
    return int(fen or 0) / 100


def _line(ax: Any, rows: list[Row], x: str, columns: list[str]) -> None:
    xs = [str(r[x]) for r in rows]
    for column in columns:
        values = [(_yuan(r[column]) if column.endswith("_fen") else (r[column] or 0)) for r in rows]
        ax.plot(xs, values, marker="o", markersize=3, label=header_label(column))
    ax.set_xlabel(header_label(x))
    _few_ticks(ax, xs)
    if len(columns) > 1:
        ax.legend()


def _few_ticks(ax: Any, labels: list[str]) -> None:
    step = max(len(labels) // 10, 1)
    ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")


def _bars(ax: Any, labels: list[str], values: list[float], label: str) -> None:
    ax.bar(labels, values, color="#3b82c4")
    ax.set_ylabel(label)
    if len(labels) > 6:
        ax.tick_params(axis="x", labelrotation=45)


def _turnover(ax: Any, rows: list[Row]) -> None:
    _line(ax, rows, "period", ["net_fen"])
    ax.set_ylabel(header_label("net_fen"))


def _topups(ax: Any, rows: list[Row]) -> None:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        per[str(r["period"])][0] += int(r["principal_fen"])
        per[str(r["period"])][1] += int(r["bonus_fen"])
    days = sorted(per)
    ax.bar(days, [per[d][0] / 100 for d in days], label=header_label("principal_fen"), color="#3b82c4")
    ax.bar(days, [per[d][1] / 100 for d in days], bottom=[per[d][0] / 100 for d in days],
           label=header_label("bonus_fen"), color="#f59e0b")
    _few_ticks(ax, days)
    ax.legend()


def _visits(ax: Any, rows: list[Row]) -> None:
    grid = visits_grid_of(rows)
    image = ax.imshow(grid, aspect="auto", cmap="Blues")
    ax.set_yticks(range(7), [_(d) for d in WEEKDAYS])
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel(header_label("hour"))
    ax.figure.colorbar(image, ax=ax, label=header_label("check_ins"))


def _counts(label_column: str, value_column: str) -> Callable[[Any, list[Row]], None]:
    def draw(ax: Any, rows: list[Row]) -> None:
        _bars(ax, [str(r[label_column]) for r in rows],
              [(_yuan(r[value_column]) if value_column.endswith("_fen") else (r[value_column] or 0)) for r in rows],
              header_label(value_column))
    return draw


def _tier_trend(ax: Any, rows: list[Row]) -> None:
    tiers = [k for k in rows[0] if k not in ("period", "members")]
    xs = [str(r["period"]) for r in rows]
    ax.stackplot(range(len(xs)), *[[r[t] for r in rows] for t in tiers], labels=tiers)
    _few_ticks(ax, xs)
    ax.set_ylabel(header_label("members"))
    ax.legend(loc="upper left")


def _frequency(ax: Any, rows: list[Row]) -> None:
    buckets = [str(r["times"]) for r in rows if r["measure"] == "visits"]
    width = 0.4
    for i, measure in enumerate(("visits", "purchases")):
        values = [r["members"] for r in rows if r["measure"] == measure]
        ax.bar([n + (i - 0.5) * width for n in range(len(buckets))], values, width, label=header_label(measure))
    ax.set_xticks(range(len(buckets)), buckets)
    ax.set_xlabel(header_label("times"))
    ax.set_ylabel(header_label("members"))
    ax.legend()


def grid_rows(grid: list[list[int]]) -> list[Row]:
    """The grid as rows for a table: an hour each (those with check-ins, first to last), a column per weekday."""
    hours = [h for h in range(24) if any(day[h] for day in grid)]
    if not hours:
        return []
    return [{"hour": f"{h:02d}:00", **{_(WEEKDAYS[d]): grid[d][h] for d in range(7)}}
            for h in range(hours[0], hours[-1] + 1)]


def _cohorts(ax: Any, rows: list[Row]) -> None:
    months = [k for k in rows[0] if k.startswith("month_")]
    grid = [[(r[m] if r[m] is not None else float("nan")) for m in months] for r in rows]
    image = ax.imshow(grid, aspect="auto", cmap="Greens", vmin=0, vmax=100)
    ax.set_yticks(range(len(rows)), [f"{r['cohort']} ({r['members']})" for r in rows])
    ax.set_xticks(range(len(months)), [str(n + 1) for n in range(len(months))])
    ax.set_xlabel(_("Months after joining"))
    ax.figure.colorbar(image, ax=ax, label="%")


#: report → (title, how its rows are drawn)
PICTURES: dict[str, tuple[str, Callable[[Any, list[Row]], None]]] = {
    "turnover": (N_("Net sales"), _turnover),
    "topups": (N_("Top-ups and bonus"), _topups),
    "visits": (N_("Check-ins by weekday and hour"), _visits),
    "tiers": (N_("Members per tier"), _counts("tier", "members")),
    "segments": (N_("Members per segment"), _counts("segment", "members")),
    "stores": (N_("Net sales per store"), _counts("store", "net_fen")),
    "tier-trend": (N_("Members per tier over time"), _tier_trend),
    "frequency": (N_("Members by times they came and bought"), _frequency),
    "cohorts": (N_("Retention by join month (%)"), _cohorts),
}


def chart_format(path: str) -> str:
    """'png' or 'svg' by the file's name; InvalidInput otherwise."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in ("png", "svg"):
        raise InvalidInput(_("--chart writes a .png or an .svg file, not {name!r}.").format(name=path))
    return suffix


def write_chart(name: str, rows: Iterable[Row], path: str, subtitle: str = "") -> int:
    """Draw report ``name``'s rows into ``path`` (.png or .svg); returns the rows drawn. Nothing is written when
    the report has no picture, the rows are none, or the name is neither."""
    fmt = chart_format(path)
    if name not in PICTURES:
        raise InvalidInput(_("--chart draws these reports: {names}.").format(names=", ".join(PICTURES)))
    rows = list(rows)
    if not rows:
        raise InvalidInput(_("Nothing in this period: no chart written."))
    if name == "stores":
        rows = [r for r in rows if r.get("name")]  # the total row would dwarf the stores
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    title, draw = PICTURES[name]
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": FONTS, "svg.fonttype": "none",
                                "axes.unicode_minus": False, "svg.hashsalt": "mms"}), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph no font on the machine has: drawn as a box, said in the module
        figure = Figure(figsize=(10, 5.6), dpi=100, layout="constrained")
        ax = figure.add_subplot()
        draw(ax, rows)
        ax.set_title(_(title) + (f" — {subtitle}" if subtitle else ""))
        ax.grid(axis="y", alpha=0.3)
        out = io.BytesIO()
        figure.savefig(out, format=fmt, metadata={"Date": None} if fmt == "svg" else {"Software": "mms"})
    write_file(path, out.getvalue())
    return len(rows)
