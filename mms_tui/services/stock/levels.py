"""The one way stock moves: :func:`move_stock` inside an operation's transaction.

**Costing: moving average, in whole fen.** A store's stock of a product has an on-hand quantity (whole base units)
and a value (fen, never below zero):

* goods going out (a sale, a gift, a service's consumption, a return, a transfer out, a loss found by a count)
  take ``floor(value × qty / on hand)``; the last units out take all that is left, so the value is 0 whenever
  nothing is left, and rounding never makes it negative (:func:`issue_value`);
* goods coming in add their cost (a receipt: quantity × unit cost; a transfer in: the value that left the other
  store; a refund: the value its sale took out; goods found by a count or an adjustment: at the average cost on
  hand, else the last receipt's unit cost). Where the store allowed selling below zero, the units that make up for
  those sold short come in at no value (their cost went out with nothing to take it from), so on hand ≤ 0 always
  means value 0 (:func:`incoming_value`).

Every move is a :class:`~mms_tui.models.StockMove` of the operation's transaction, and the
:class:`~mms_tui.models.StockLevel` cache moves in the same database transaction; ``mms check`` proves cache = Σ
moves. The level's row is read ``FOR UPDATE`` (PostgreSQL) or under the writer's lock (SQLite ``BEGIN
IMMEDIATE``), so two desks selling the last unit at once sell it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mms_tui.db import is_sqlite
from mms_tui.i18n import _
from mms_tui.models import Product, StockLevel, StockMove, Transaction
from mms_tui.services.base.errors import InsufficientStock
from mms_tui.services.base.sql import insert_rows, run_sql

#: kinds that take stock out (their quantity is negative) and kinds that bring it in
OUT_KINDS = ("sale", "gift", "consume", "return", "transfer_out")
IN_KINDS = ("receipt", "refund", "transfer_in")
#: kinds that start counting a product at a store when it is not counted there yet
STARTS_COUNTING = ("receipt", "transfer_in", "adjust")


def issue_value(on_hand: int, value_fen: int, qty: int) -> int:
    """The value ``qty`` (> 0) units take out of ``on_hand`` units worth ``value_fen``."""
    if on_hand <= 0 or value_fen <= 0:
        return 0
    if qty >= on_hand:
        return value_fen
    return value_fen * qty // on_hand


def incoming_value(on_hand: int, qty: int, total_fen: int) -> int:
    """The value ``qty`` (> 0) units worth ``total_fen`` add to ``on_hand``: the units that fill a shortfall (on
    hand below zero) come in at no value."""
    if on_hand >= 0:
        return total_fen
    filling = min(qty, -on_hand)
    return total_fen * (qty - filling) // qty


def unit_cost(level_on_hand: int, level_value: int, last_cost: int) -> int:
    """What one unit is worth at a store: the average on hand, else the last receipt's cost."""
    return level_value // level_on_hand if level_on_hand > 0 and level_value > 0 else last_cost


@dataclass(frozen=True)
class MoveRequest:
    """One product's movement. ``qty``: signed (out < 0); ``total_fen``: the value of goods coming in when it is
    known (a receipt's cost, a transfer's or refund's value), None to value them at the store's cost."""

    product_id: int
    kind: str
    qty: int
    total_fen: int | None = None
    unit_cost_fen: int = 0
    supplier_id: int | None = None
    reference: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Moved:
    product_id: int
    qty: int
    value_fen: int
    on_hand: int  # after
    value_after_fen: int
    below_zero: bool  # allowed below zero (a warning for the desk)


@dataclass
class _Level:
    id: int
    on_hand: int
    value: int
    last_cost: int


def _levels(store_id: int, product_ids: Sequence[int]) -> dict[int, _Level]:
    if not product_ids:
        return {}
    marks = ", ".join("?" * len(product_ids))
    lock = "" if is_sqlite() else " FOR UPDATE"
    rows = run_sql(f'SELECT "product_id", "id", "on_hand", "value_fen", "last_cost_fen" FROM "stock_level" '
                   f'WHERE "store_id" = ? AND "product_id" IN ({marks}){lock}',
                   (store_id, *product_ids)).fetchall()
    return {r[0]: _Level(r[1], r[2], r[3], r[4]) for r in rows}


def start_counting(store_id: int, product_ids: Sequence[int]) -> None:
    """Level rows (0 on hand) for products not yet counted at the store; two desks starting the same one at once
    make one row."""
    if product_ids:
        (StockLevel.insert_many([{"store": store_id, "product": p} for p in dict.fromkeys(product_ids)])
         .on_conflict_ignore().execute())


def _short(product_id: int, have: int, need: int) -> InsufficientStock:
    product = Product.get_or_none(Product.id == product_id)
    name = f"{product.code} {product.name}" if product is not None else str(product_id)
    return InsufficientStock(_("Not enough {item} in stock: {have} on hand, {need} needed; nothing was changed.")
                             .format(item=name, have=have, need=need))


def move_stock(tx: Transaction, store_id: int, requests: Sequence[MoveRequest], *,
               allow_below_zero: bool = False, read: dict[int, tuple[int, int, int, int]] | None = None) -> list[Moved]:
    """Post ``requests`` at ``store_id`` in ``tx``'s database transaction. Products not counted at the store are
    skipped by sales, gifts, consumption and refunds (nothing to count them against) and start being counted by a
    receipt, a transfer in or an adjustment; a return, a transfer out or a count of one is the caller's error to
    refuse first. Goods going out beyond on hand raise :class:`InsufficientStock` unless ``allow_below_zero``.
    ``read``: {product id: (level id, on hand, value, last cost)} as the caller already read them in this write
    transaction (SQLite: under the writer's lock, so they stand; PostgreSQL locks them again here)."""
    requests = [r for r in requests if r.qty != 0]
    if not requests:
        return []
    ids = list(dict.fromkeys(r.product_id for r in requests))
    starting = [r.product_id for r in requests if r.kind in STARTS_COUNTING or (r.kind == "count" and r.qty > 0)]
    if starting:
        start_counting(store_id, starting)
    if read is not None and is_sqlite() and not starting:
        levels = {p: _Level(*read[p]) for p in ids if p in read}
    else:
        levels = _levels(store_id, ids)
    moved: list[Moved] = []
    rows: list[dict] = []
    for r in requests:
        level = levels.get(r.product_id)
        if level is None:
            continue
        if r.qty < 0:
            need = -r.qty
            below = level.on_hand + r.qty < 0
            if below and (not allow_below_zero or r.kind not in ("sale", "gift", "consume")):
                raise _short(r.product_id, level.on_hand, need)
            value = -issue_value(level.on_hand, level.value, need)
        else:
            below = False
            total = r.total_fen
            if total is None:
                total = r.qty * (r.unit_cost_fen or unit_cost(level.on_hand, level.value, level.last_cost))
            value = incoming_value(level.on_hand, r.qty, total)
        level.on_hand += r.qty
        level.value += value
        if r.kind == "receipt" and r.unit_cost_fen:
            level.last_cost = r.unit_cost_fen
        rows.append({"transaction": tx.id, "product": r.product_id, "store": store_id, "created_at": tx.created_at,
                     "kind": r.kind, "qty": r.qty, "value_fen": value, "unit_cost_fen": r.unit_cost_fen,
                     "supplier": r.supplier_id, "reference": r.reference[:64], "reason": r.reason[:100]})
        moved.append(Moved(r.product_id, r.qty, value, level.on_hand, level.value, below))
    for level in {id(lv): lv for lv in levels.values()}.values():
        run_sql('UPDATE "stock_level" SET "on_hand" = ?, "value_fen" = ?, "last_cost_fen" = ? WHERE "id" = ?',
                (level.on_hand, level.value, level.last_cost, level.id))
    insert_rows(StockMove, rows)
    return moved
