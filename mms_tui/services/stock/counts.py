"""盘点 and 调整: a store's stock-take, and adjustments by hand.

A count sheet is opened for a store; products are counted on it by scanning (each scan one more unit) or by typing
a quantity; only products stocked at the store may be counted. The sheet lists every stocked product with what is
on hand and what was counted. Posting it needs a manager (the cashier who counted asks one to approve): each
counted product's variance from on hand *at posting* becomes a ``count`` move with the line's reason (goods found
come in at the average cost, goods missing go out at it); products not counted are left as they are unless the
manager posts with ``missing_as_zero``. An adjustment is one product's change by hand, with a reason (a manager).
"""

from __future__ import annotations

from dataclasses import dataclass

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Product, Staff, StockCount, StockCountLine, StockLevel, Store, Transaction
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.ledger.operations import audit, run_operation
from mms_tui.services.staff.permissions import require
from mms_tui.services.stock.common import check_cost, product_of, require_stocked, store_for, whole_qty
from mms_tui.services.stock.levels import MoveRequest, move_stock

_REASON_MAX = 100


@dataclass(frozen=True)
class SheetLine:
    code: str
    name: str
    category: str
    unit: str
    on_hand: int
    counted: int | None  # None: not counted yet
    reason: str

    @property
    def variance(self) -> int | None:
        return None if self.counted is None else self.counted - self.on_hand


@dataclass(frozen=True)
class CountSheet:
    id: int
    store: str
    status: str
    opened_at: str
    opened_by: str
    lines: list[SheetLine]

    @property
    def counted(self) -> int:
        return sum(1 for x in self.lines if x.counted is not None)


def open_count(staff: Staff, *, store: Store | str | None = None, note: str = "") -> int:
    """A new count sheet for the store (one open at a time per store: the open one is returned)."""
    store_obj = store_for(staff, store, "stock.count")
    with write_transaction():
        existing = StockCount.get_or_none((StockCount.store == store_obj.id) & (StockCount.status == "open"))
        if existing is not None:
            return existing.id
        count = StockCount.create(store=store_obj, opened_by=staff, note=(note or "").strip()[:100])
        audit("stock.count_open", f"count:{count.id}", staff=staff, store=store_obj, payload={})
        return count.id


def _open(count_id: int) -> StockCount:
    count = StockCount.get_or_none(StockCount.id == count_id)
    if count is None:
        raise NotFound(_("No count sheet {id}.").format(id=count_id))
    if count.status != "open":
        raise InvalidInput(_("Count sheet {id} was already posted or cancelled; it cannot be changed.").format(
            id=count_id))
    return count


def count_item(staff: Staff, count_id: int, key: str, qty: int = 1, *, add: bool = True,
               reason: str | None = None) -> SheetLine:
    """Count a product on an open sheet: ``add`` ``qty`` more (a scan: one), or set it to ``qty`` (typed); the line
    as it now stands."""
    count = _open(count_id)
    store_for(staff, count.store, "stock.count")
    product = product_of(key)
    whole_qty(qty, product.code, allow_zero=True)
    require_stocked(count.store, [product])
    if reason is not None and len(reason.strip()) > _REASON_MAX:
        raise InvalidInput(_("A reason is at most {n} characters.").format(n=_REASON_MAX))
    with write_transaction():
        _open(count_id)
        line = StockCountLine.get_or_none((StockCountLine.count == count_id) & (StockCountLine.product == product.id))
        counted = (line.counted if line is not None and add else 0) + qty
        whole_qty(counted, product.code, allow_zero=True)
        values = {"counted": counted, **({"reason": reason.strip()} if reason is not None else {})}
        if line is None:
            StockCountLine.create(count=count_id, product=product, **values)
        else:
            StockCountLine.update(**values).where(StockCountLine.id == line.id).execute()
    return next(x for x in count_sheet(count_id).lines if x.code == product.code)


def count_sheet(count_id: int) -> CountSheet:
    """The sheet: every product stocked at the store (and any counted), with on hand now and what was counted; a
    posted sheet shows on hand as it was at posting."""
    count = StockCount.get_or_none(StockCount.id == count_id)
    if count is None:
        raise NotFound(_("No count sheet {id}.").format(id=count_id))
    counted = {x.product_id: x for x in StockCountLine.select().where(StockCountLine.count == count_id)}
    levels = {lv.product_id: lv.on_hand for lv in StockLevel.select().where(StockLevel.store == count.store_id)}
    ids = set(levels) | set(counted)
    lines = []
    for p in Product.select().where(Product.id.in_(list(ids))).order_by(Product.category, Product.code):
        line = counted.get(p.id)
        on_hand = line.expected if line is not None and line.expected is not None else levels.get(p.id, 0)
        lines.append(SheetLine(p.code, p.name, p.category, p.unit, on_hand,
                               line.counted if line is not None else None, line.reason if line is not None else ""))
    return CountSheet(count.id, count.store.code, count.status, str(count.created_at)[:16], count.opened_by.name,
                      lines)


@dataclass(frozen=True)
class PostedCount:
    txid: str
    count_id: int
    store: str
    #: {code, name, expected, counted, variance, value_fen, reason} per product with a variance
    variances: list[dict]
    counted: int  # products counted
    value_fen: int  # the value the variances moved


def post_count(staff: Staff, count_id: int, txid: str, *, approver: Staff | None = None,
               missing_as_zero: bool = False) -> PostedCount:
    """Post a sheet's variances. ``staff`` works the desk; a cashier needs a manager's ``approver``."""
    require(approver or staff, "stock.approve")
    count = StockCount.get_or_none(StockCount.id == count_id)
    if count is None:
        raise NotFound(_("No count sheet {id}.").format(id=count_id))
    store_obj = store_for(staff, count.store, "stock.count")
    if approver is not None:  # the approving manager looks after this store too
        store_for(approver, store_obj, "stock.approve")

    def body(tx: Transaction) -> PostedCount:
        current = _open(count_id)
        lines = {x.product_id: x for x in StockCountLine.select().where(StockCountLine.count == count_id)}
        levels = {lv.product_id: lv.on_hand for lv in StockLevel.select().where(StockLevel.store == store_obj.id)}
        if missing_as_zero:
            for product_id in levels:
                if product_id not in lines:
                    lines[product_id] = StockCountLine.create(count=current, product=product_id, counted=0,
                                                              reason=_("not found in the count"))
        if not lines:
            raise InvalidInput(_("Nothing was counted on sheet {id}.").format(id=count_id))
        requests = []
        for product_id, line in sorted(lines.items()):
            expected = levels.get(product_id, 0)
            StockCountLine.update(expected=expected).where(StockCountLine.id == line.id).execute()
            if line.counted != expected:
                requests.append(MoveRequest(product_id, "count", line.counted - expected,
                                            reference=f"count:{count_id}", reason=line.reason))
        moved = move_stock(tx, store_obj.id, requests)
        codes = dict(Product.select(Product.id, Product.code).where(Product.id.in_([r.product_id for r in requests]))
                     .tuples())
        variances = [{"code": codes[m.product_id], "expected": m.on_hand - m.qty, "counted": m.on_hand,
                      "variance": m.qty, "value_fen": m.value_fen, "reason": r.reason}
                     for r, m in zip(requests, moved, strict=True)]
        StockCount.update(status="posted", posted=tx, approved_by=approver or staff).where(
            StockCount.id == count_id).execute()
        audit("stock.count", f"count:{count_id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"variances": len(variances), "approved_by": (approver or staff).code,
                       "value_fen": sum(v["value_fen"] for v in variances)})
        return PostedCount(tx.txid, count_id, store_obj.code, variances, len(lines),
                           sum(v["value_fen"] for v in variances))

    return run_operation(txid=txid, kind="stock_count", request={"count": count_id, "zero": missing_as_zero},
                         staff=staff, store=store_obj, member=None, body=body, result_type=PostedCount)


def cancel_count(staff: Staff, count_id: int) -> None:
    count = _open(count_id)
    store_for(staff, count.store, "stock.count")
    with write_transaction():
        StockCount.update(status="cancelled").where((StockCount.id == count_id) & (StockCount.status == "open")).execute()
        audit("stock.count_cancel", f"count:{count_id}", staff=staff, store=count.store, payload={})


def open_counts(store: Store) -> list[int]:
    return [c.id for c in StockCount.select(StockCount.id).where(
        (StockCount.store == store.id) & (StockCount.status == "open")).order_by(StockCount.id)]


@dataclass(frozen=True)
class Adjusted:
    txid: str
    store: str
    code: str
    qty: int
    value_fen: int
    on_hand: int
    reason: str


def adjust(staff: Staff, key: str, qty: int, reason: str, txid: str, *, store: Store | str | None = None,
           unit_cost_fen: int | None = None) -> Adjusted:
    """调整: one product's stock changed by ``qty`` (signed) with a reason; goods added come in at ``unit_cost_fen``,
    else the average cost. Needs a manager; never below zero."""
    store_obj = store_for(staff, store, "stock.approve")
    product = product_of(key)
    qty = whole_qty(qty, product.code, signed=True)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("An adjustment needs a reason."))
    if len(reason) > _REASON_MAX:
        raise InvalidInput(_("A reason is at most {n} characters.").format(n=_REASON_MAX))
    if qty < 0:
        require_stocked(store_obj, [product])
    cost = check_cost(unit_cost_fen, product.code) if unit_cost_fen is not None else 0
    request = {"store": store_obj.id, "product": product.id, "qty": qty, "reason": reason, "cost": cost}

    def body(tx: Transaction) -> Adjusted:
        (moved,) = move_stock(tx, store_obj.id, [MoveRequest(product.id, "adjust", qty, unit_cost_fen=cost,
                                                             reason=reason)])
        audit("stock.adjust", f"product:{product.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"qty": qty, "value_fen": moved.value_fen, "reason": reason})
        return Adjusted(tx.txid, store_obj.code, product.code, qty, moved.value_fen, moved.on_hand, reason)

    return run_operation(txid=txid, kind="stock_adjust", request=request, staff=staff, store=store_obj,
                         member=None, body=body, result_type=Adjusted, note=reason)
