"""The stock reports (进销存): what is on the shelves now (``stock``), what moved in a period (``stock-moves``), what
is low (``low-stock``) and what the period's stock-takes found (``stock-take``). Quantities are in each product's
base unit (pcs, ml, g); values in fen at moving-average cost (services/stock/levels.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import peewee

from mms_tui.models import (
    Product,
    Staff,
    StockCount,
    StockCountLine,
    StockLevel,
    StockMove,
    Store,
    Transaction,
)
from mms_tui.services.reports.period import Period, Row, bucket


def stock(p: Period, by: str = "day") -> Iterator[Row]:
    """On hand and value now, per store and category, with each store's total (the period's dates do not apply:
    stock is as it stands)."""
    query = (StockLevel.select(StockLevel.store, Product.category, peewee.fn.COUNT(StockLevel.id),
                               peewee.fn.SUM(StockLevel.on_hand), peewee.fn.SUM(StockLevel.value_fen),
                               peewee.fn.SUM(peewee.Case(None, [(StockLevel.on_hand <= StockLevel.low_at, 1)], 0)),
                               peewee.fn.SUM(peewee.Case(None, [(StockLevel.on_hand < 0, 1)], 0)))
             .join(Product).group_by(StockLevel.store, Product.category)
             .order_by(StockLevel.store, Product.category))
    query = p.of_stores(query, StockLevel.store)
    codes = dict(Store.select(Store.id, Store.code).tuples())
    totals: dict[int, list[int]] = {}
    rows = list(query.tuples())
    for i, (store_id, category, products, on_hand, value, low, below) in enumerate(rows):
        yield _stock_row(codes[store_id], category or "", products, on_hand, value, low, below)
        t = totals.setdefault(store_id, [0, 0, 0, 0, 0])
        for j, v in enumerate((products, on_hand, value, low, below)):
            t[j] += int(v or 0)
        if i + 1 == len(rows) or rows[i + 1][0] != store_id:
            yield _stock_row(codes[store_id], "*", *t)


def _stock_row(store: str, category: str, products, on_hand, value, low, below) -> Row:
    return {"store": store, "category": category, "products": int(products or 0), "on_hand": int(on_hand or 0),
            "value_fen": int(value or 0), "low": int(low or 0), "below_zero": int(below or 0)}


def stock_moves(p: Period, by: str = "day") -> Iterator[Row]:
    """Movements per day (week, month), store and kind: how many, the quantity and the value moved."""
    query = (StockMove.select(Transaction.local_day, StockMove.store, StockMove.kind, peewee.fn.COUNT(StockMove.id),
                              peewee.fn.SUM(StockMove.qty), peewee.fn.SUM(StockMove.value_fen))
             .join(Transaction)
             .where((Transaction.local_day >= p.start) & (Transaction.local_day <= p.end))
             .group_by(Transaction.local_day, StockMove.store, StockMove.kind)
             .order_by(Transaction.local_day, StockMove.store, StockMove.kind))
    query = p.of_stores(query, StockMove.store)
    codes = dict(Store.select(Store.id, Store.code).tuples())
    grouped: dict[tuple[str, str, str], list[int]] = {}
    for day, store_id, kind, moves, qty, value in query.tuples():
        key = (bucket(day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)), by), codes[store_id], kind)
        acc = grouped.setdefault(key, [0, 0, 0])
        acc[0] += int(moves)
        acc[1] += int(qty or 0)
        acc[2] += int(value or 0)
    for (period_, store, kind), (moves, qty, value) in grouped.items():
        yield {"period": period_, "store": store, "kind": kind, "moves": moves, "qty": qty, "value_fen": value}


def low_stock(p: Period, by: str = "day") -> Iterator[Row]:
    """Products at or below their threshold at a store (or below zero), lowest first."""
    query = (StockLevel.select(Store.code, Product.code, Product.name, Product.category, Product.unit,
                               StockLevel.on_hand, StockLevel.low_at, StockLevel.value_fen)
             .join(Product).switch(StockLevel).join(Store)
             .where((StockLevel.on_hand <= StockLevel.low_at) | (StockLevel.on_hand < 0))
             .order_by(Store.code, StockLevel.on_hand, Product.code))
    query = p.of_stores(query, StockLevel.store)
    for store, code, name, category, unit, on_hand, low_at, value in query.tuples():
        yield {"store": store, "code": code, "name": name, "category": category, "unit": unit,
               "on_hand": int(on_hand), "low_at": low_at, "value_fen": int(value)}


def stock_take(p: Period, by: str = "day") -> Iterator[Row]:
    """The variances of the stock-takes posted in the period: per count and product, expected, counted, the
    variance, its value and reason, and who approved it."""
    approver = Staff.alias()
    query = (StockMove.select(Transaction.local_day, Store.code, StockCount.id, Product.code, Product.name,
                              Product.unit, StockCountLine.expected, StockCountLine.counted, StockMove.qty,
                              StockMove.value_fen, StockMove.reason, approver.code)
             .join(Transaction).switch(StockMove).join(Store).switch(StockMove).join(Product)
             .switch(StockMove).join(StockCount, on=(StockCount.posted == StockMove.transaction))
             .join(approver, on=(StockCount.approved_by == approver.id))
             .switch(StockMove).join(StockCountLine, on=((StockCountLine.count == StockCount.id)
                                                         & (StockCountLine.product == StockMove.product)))
             .where((StockMove.kind == "count") & (Transaction.local_day >= p.start) & (Transaction.local_day <= p.end))
             .order_by(Transaction.local_day, Store.code, StockCount.id, Product.code))
    query = p.of_stores(query, StockMove.store)
    for day, store, count_id, code, name, unit, expected, got, qty, value, reason, approved in query.tuples():
        yield {"day": str(day), "store": store, "count": count_id, "code": code, "name": name, "unit": unit,
               "expected": expected, "counted": got, "variance": int(qty), "value_fen": int(value),
               "reason": reason, "approved_by": approved}
