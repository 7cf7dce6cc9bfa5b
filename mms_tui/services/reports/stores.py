"""The stores of a node side by side: a row per store of the subtree, and the node's total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui.i18n import _
from mms_tui.models import Sale, Staff, Store, Transaction, Visit
from mms_tui.services.base.resolve import today
from mms_tui.services.reports.period import Period, Row
from mms_tui.services.reports.sales import partial_refund_moves, topup_totals

FIGURES = ("sale_count", "net_fen", "topup_count", "principal_fen", "bonus_fen", "check_ins")


def _by_store(p: Period) -> dict[int | None, dict[str, int]]:
    """Sales, net turnover, top-ups and check-ins in the period, per store of the transactions: what the turnover,
    topups and visits reports say for each store (the same rows counted the same way), in one grouped pass each
    instead of a pass of each report per store."""
    figures: dict[int | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    store = Transaction.store
    for store_id, count, total in (  # a sale is always its checkout's transaction
        Sale.select(store, peewee.fn.COUNT(Sale.id), peewee.fn.SUM(Sale.total_fen)).join(Transaction)
        .where(p.kind_filter("checkout")).group_by(store).tuples()
    ):
        figures[store_id]["sale_count"] += int(count)
        figures[store_id]["net_fen"] += int(total or 0)
    for store_id, total in (  # a refunded sale, at the refund's store on its day
        Transaction.select(store, peewee.fn.SUM(Sale.total_fen))
        .join(Sale, on=(Sale.transaction == Transaction.reverses)).where(p.kind_filter("refund"))
        .group_by(store).tuples()
    ):
        figures[store_id]["net_fen"] -= int(total or 0)
    for _day, store_id, _count, fen, _tenders, _categories in partial_refund_moves(p, Transaction.local_day):
        figures[store_id]["net_fen"] -= fen  # 部分退款 at its store; a later whole refund counted only the rest
    for store_id, kind, _tender, count, principal, bonus in topup_totals(p, store):
        f = figures[store_id]
        f["topup_count"] += int(count) if kind == "topup" else -int(count)
        f["principal_fen"] += int(principal or 0)
        f["bonus_fen"] += int(bonus or 0)
    for store_id, count in (
        Visit.select(store, peewee.fn.COUNT(Visit.id)).join(Transaction)
        .where(p.kind_filter("checkin") & (Visit.status == "ok")).group_by(store).tuples()
    ):
        figures[store_id]["check_ins"] += int(count)
    return figures


def stores(p: Period, by: str = "day") -> Iterator[Row]:
    """Per store of the period's node (every store without one), in code order: sales, net turnover, top-ups and
    check-ins; then the total over them all."""
    figures = _by_store(p)
    query = Store.select().order_by(Store.code)
    for node in p.of_stores(query, Store.id):
        yield {"store": node.code, "name": node.name, **figures.get(node.id, dict.fromkeys(FIGURES, 0))}
    yield {"store": _("Total"), "name": "",
           **{column: sum(f[column] for f in figures.values()) for column in FIGURES}}


def stores_today(viewer: Staff) -> list[Row]:
    """总部看板: today's figures per store that ``viewer`` looks after (an admin: the whole chain; a region's
    manager: its stores; a store's manager: their store), and their total — the ``stores`` report for today."""
    from mms_tui.services.reports.catalogue import run_report

    return list(run_report("stores", today(), today(), None, viewer=viewer))
