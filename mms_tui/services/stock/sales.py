"""Stock that leaves with a sale and comes back with its refund, in the money operation's own transaction.

* A checkout's product lines take their quantity (free units of a promotion included: they are on the line);
  its service lines take what the service consumes (``ServiceConsumption``: 60 ml of dye per hair colour).
* A gift for points, or a birthday gift, whose code is a product's code takes one of it.
* A refund puts back exactly what its operation took, at the value it took.

Where the store refuses negative stock (``Store.negative_stock``), going below zero refuses the whole sale; where it
warns, the sale goes through and the result names what went below zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mms_tui.i18n import _
from mms_tui.models import Product, Store, Transaction
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.stock.levels import Moved, MoveRequest, move_stock


def _warnings(moved: list[Moved]) -> list[str]:
    short = [m for m in moved if m.below_zero]
    if not short:
        return []
    names = dict(fetch_rows(f'SELECT "id", "code" FROM "product" WHERE "id" IN ({", ".join("?" * len(short))})',
                            [m.product_id for m in short]))
    return [_("{code} is below zero in stock: {on_hand} on hand.").format(code=names.get(m.product_id, "?"),
                                                                         on_hand=m.on_hand) for m in short]


def _bill_stock(store_id: int, products: list[int], services: list[int]) -> tuple[list[tuple[int, int, int]],
                                                                             dict[int, tuple[int, int, int, int]]]:
    """In one read: (service, product, qty) of what the bill's services consume, and {product: (level id, on hand,
    value, last cost)} of the bill's products and those consumed that are counted at the store."""
    parts, params = [], []
    if services:
        parts.append(f'SELECT c."service_id", c."product_id", c."qty", l."id", l."on_hand", l."value_fen", '
                     f'l."last_cost_fen" FROM "service_consumption" AS c LEFT JOIN "stock_level" AS l '
                     f'ON l."product_id" = c."product_id" AND l."store_id" = ? '
                     f'WHERE c."service_id" IN ({", ".join("?" * len(services))})')
        params += [store_id, *services]
    if products:
        parts.append(f'SELECT NULL, l."product_id", NULL, l."id", l."on_hand", l."value_fen", l."last_cost_fen" '
                     f'FROM "stock_level" AS l WHERE l."store_id" = ? '
                     f'AND l."product_id" IN ({", ".join("?" * len(products))})')
        params += [store_id, *products]
    consumed, levels = [], {}
    for service_id, product_id, qty, level_id, on_hand, value, last_cost in fetch_rows(" UNION ALL ".join(parts),
                                                                                       params):
        if service_id is not None:
            consumed.append((service_id, product_id, qty))
        if level_id is not None:
            levels[product_id] = (level_id, on_hand, value, last_cost)
    return consumed, levels


def take_for_sale(tx: Transaction, store: Store, sale_id: int, lines: Iterable[Mapping]) -> list[str]:
    """Take a checkout's goods out of the store's stock (``lines``: the sale's line dicts, with ``kind``,
    ``item_id`` and ``qty``). Returns warnings for what a warning store let go below zero. One read when nothing on
    the bill is counted at the store."""
    products: dict[int, int] = {}
    services: dict[int, int] = {}
    for line in lines:
        if line.get("kind") in ("product", "service"):
            into = products if line["kind"] == "product" else services
            into[int(line["item_id"])] = into.get(int(line["item_id"]), 0) + int(line["qty"])
    if not products and not services:
        return []
    consumed, levels = _bill_stock(store.id, list(products), list(services))
    ref = f"sale:{sale_id}"
    requests = [MoveRequest(p, "sale", -q, reference=ref) for p, q in products.items() if p in levels]
    requests += [MoveRequest(p, "consume", -q * services[s], reference=ref) for s, p, q in consumed if p in levels]
    if not requests:
        return []
    return _warnings(move_stock(tx, store.id, requests, allow_below_zero=store.negative_stock == "warn",
                                read=levels))


def take_gift(tx: Transaction, store: Store, gift_code: str | None) -> list[str]:
    """A gift whose code is a product's code leaves the shelf: one unit."""
    if not gift_code:
        return []
    product = Product.get_or_none(Product.code == gift_code)
    if product is None:
        return []
    return _warnings(move_stock(tx, store.id, [MoveRequest(product.id, "gift", -1, reference=f"gift:{gift_code}")],
                                allow_below_zero=store.negative_stock == "warn"))


def put_back(tx: Transaction, original_tx_id: int) -> int:
    """A refund puts back what ``original_tx_id`` took out, at the value it took; returns the units put back."""
    rows = fetch_rows('SELECT "store_id", "product_id", "qty", "value_fen", "reference" FROM "stock_move" '
                      'WHERE "transaction_id" = ? AND "kind" IN (\'sale\', \'gift\', \'consume\') ORDER BY "id"',
                      (original_tx_id,))
    by_store: dict[int, list[MoveRequest]] = {}
    for store_id, product_id, qty, value, reference in rows:
        by_store.setdefault(store_id, []).append(MoveRequest(product_id, "refund", -qty, total_fen=-value,
                                                             reference=reference))
    for store_id, requests in by_store.items():
        move_stock(tx, store_id, requests)
    return sum(-r[2] for r in rows)
