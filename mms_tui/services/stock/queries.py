"""Reading stock: the levels of a store's products (the desk's list and ``mms stock levels``) and what is low
(the desk's F8 day)."""

from __future__ import annotations

from collections.abc import Iterator

from mms_tui.models import Product, StockLevel, Store
from mms_tui.services.base.resolve import resolve_store


def levels(*, store: Store | str | None = None, low_only: bool = False) -> Iterator[dict]:
    """{store, code, name, category, unit, on_hand, value_fen, low_at, low} per product counted at a store."""
    query = (StockLevel.select(Store.code, Product.code, Product.name, Product.category, Product.unit,
                               StockLevel.on_hand, StockLevel.value_fen, StockLevel.low_at)
             .join(Product).switch(StockLevel).join(Store).order_by(Store.code, Product.category, Product.code))
    if store is not None:
        query = query.where(StockLevel.store == resolve_store(store).id)
    if low_only:
        query = query.where((StockLevel.on_hand <= StockLevel.low_at) | (StockLevel.on_hand < 0))
    for store_code, code, name, category, unit, on_hand, value, low_at in query.tuples():
        yield {"store": store_code, "code": code, "name": name, "category": category, "unit": unit,
               "on_hand": on_hand, "value_fen": value, "low_at": low_at,
               "low": on_hand < 0 or (low_at is not None and on_hand <= low_at)}


def low_at_store(store: Store | int, limit: int = 50) -> list[dict]:
    """What is low at the store, lowest first (at most ``limit``)."""
    store_id = store.id if isinstance(store, Store) else store
    rows = list(levels(store=resolve_store(store_id), low_only=True))
    return sorted(rows, key=lambda r: (r["on_hand"], r["code"]))[:limit]
