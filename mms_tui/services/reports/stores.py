"""The stores of a node side by side: a row per store of the subtree, and the node's total."""

from __future__ import annotations

from collections.abc import Iterator

from mms_tui.i18n import _
from mms_tui.models import Staff, Store
from mms_tui.services.base.resolve import today
from mms_tui.services.reports.attendance import visits
from mms_tui.services.reports.period import Period, Row
from mms_tui.services.reports.sales import topups, turnover


def _figures(p: Period) -> dict[str, int]:
    """Sales, net turnover, top-ups and check-ins in the period at ``p``'s stores: the turnover, topups and
    visits reports added up, so each row says what those reports say for its store."""
    figures = dict.fromkeys(("sale_count", "net_fen", "topup_count", "principal_fen", "bonus_fen", "check_ins"), 0)
    for row in turnover(p):
        figures["sale_count"] += int(row["sale_count"])  # type: ignore[call-overload]
        figures["net_fen"] += int(row["net_fen"])  # type: ignore[call-overload]
    for row in topups(p):
        for column in ("topup_count", "principal_fen", "bonus_fen"):
            figures[column] += int(row[column])  # type: ignore[call-overload]
    figures["check_ins"] = sum(int(row["check_ins"]) for row in visits(p))  # type: ignore[call-overload]
    return figures


def stores(p: Period, by: str = "day") -> Iterator[Row]:
    """Per store of the period's node (every store without one), in code order: sales, net turnover, top-ups and
    check-ins; then the total over them all, worked out over the whole node at once."""
    query = Store.select().order_by(Store.code)
    for store in p.of_stores(query, Store.id):
        yield {"store": store.code, "name": store.name, **_figures(Period(p.start, p.end, (store.id,)))}
    yield {"store": _("Total"), "name": "", **_figures(p)}


def stores_today(viewer: Staff) -> list[Row]:
    """总部看板: today's figures per store that ``viewer`` looks after (an admin: the whole chain; a region's
    manager: its stores; a store's manager: their store), and their total — the ``stores`` report for today."""
    from mms_tui.services.reports.catalogue import run_report

    return list(run_report("stores", today(), today(), None, viewer=viewer))
