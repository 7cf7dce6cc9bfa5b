"""进: suppliers, goods received from them (入库: scanned at the desk, typed, or read from a spreadsheet), and goods
sent back to them (退货). A receipt values its goods at the supplier's unit cost and sets the store's last cost;
a return takes goods out at the average cost (services/stock/levels.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Staff, Store, Supplier, Transaction
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.ledger.operations import audit, run_operation
from mms_tui.services.staff.permissions import require
from mms_tui.services.stock.common import StockLine, merge_lines, products_by_key, require_stocked, store_for
from mms_tui.services.stock.levels import MoveRequest, move_stock

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,19}$")


@dataclass(frozen=True)
class SupplierRow:
    code: str
    name: str
    contact: str
    phone: str
    note: str
    active: bool


def _row(s: Supplier) -> SupplierRow:
    return SupplierRow(s.code, s.name, s.contact, s.phone, s.note, bool(s.active))


def list_suppliers(*, inactive: bool = False) -> list[SupplierRow]:
    query = Supplier.select().order_by(Supplier.code)
    if not inactive:
        query = query.where(Supplier.active == True)  # noqa: E712
    return [_row(s) for s in query]


def find_supplier(code: str) -> Supplier:
    found = Supplier.get_or_none(Supplier.code == (code or "").strip().upper())
    if found is None:
        raise NotFound(_("No supplier {code}.").format(code=code))
    return found


def _clean(value: str | None, limit: int, what: str) -> str:
    text = (value or "").strip()
    if len(text) > limit or any(ord(c) < 32 for c in text):
        raise InvalidInput(_("{what}: at most {n} characters, on one line.").format(what=what, n=limit))
    return text


def save_supplier(staff: Staff, code: str, *, name: str | None = None, contact: str | None = None,
                  phone: str | None = None, note: str | None = None, active: bool | None = None) -> SupplierRow:
    """Add a supplier (a name is needed) or change one. Needs a manager."""
    require(staff, "stock.manage")
    key = (code or "").strip().upper()
    if not _CODE.match(key):
        raise InvalidInput(_("A supplier code is 1 to 20 letters, digits, '-', '_' or '.', not {code!r}.").format(
            code=code))
    values = {k: v for k, v in (("name", _clean(name, 100, _("Name")) if name is not None else None),
                                ("contact", _clean(contact, 50, _("Contact")) if contact is not None else None),
                                ("phone", _clean(phone, 30, _("Phone")) if phone is not None else None),
                                ("note", _clean(note, 200, _("Note")) if note is not None else None),
                                ("active", active)) if v is not None}
    with write_transaction():
        row = Supplier.get_or_none(Supplier.code == key)
        before = _row(row) if row is not None else None
        if row is None:
            if not values.get("name"):
                raise InvalidInput(_("A new supplier needs a name."))
            row = Supplier.create(code=key, **values)
        elif values:
            if "name" in values and not values["name"]:
                raise InvalidInput(_("A supplier's name cannot be empty."))
            Supplier.update(**values).where(Supplier.id == row.id).execute()
            row = Supplier.get_by_id(row.id)
        after = _row(row)
        if before != after:
            audit("stock.supplier", f"supplier:{row.id}", staff=staff, store=None,
                  payload={"before": asdict(before) if before else None, "after": asdict(after)})
        return after


@dataclass(frozen=True)
class ReceiptResult:
    txid: str
    kind: str  # receipt | return
    store: str
    supplier: str | None
    reference: str
    #: {code, name, qty, unit_cost_fen, value_fen, on_hand} per product
    lines: list[dict]
    qty: int
    value_fen: int


def _lines_result(tx: Transaction, kind: str, store: Store, supplier: Supplier | None, reference: str,
                  rows: Sequence[tuple], moved) -> ReceiptResult:
    out = [{"code": p.code, "name": p.name, "unit": p.unit, "qty": m.qty, "unit_cost_fen": cost,
            "value_fen": m.value_fen, "on_hand": m.on_hand} for (p, _qty, cost), m in zip(rows, moved, strict=True)]
    return ReceiptResult(tx.txid, kind, store.code, supplier.code if supplier else None, reference, out,
                         sum(x["qty"] for x in out), sum(x["value_fen"] for x in out))


def receive(staff: Staff, lines: Iterable[StockLine], txid: str, *, store: Store | str | None = None,
            supplier: str | None = None, reference: str = "") -> ReceiptResult:
    """入库: goods from ``supplier`` into ``store`` at their unit costs, all or nothing: an unknown code or barcode is
    named and nothing is written. Staff of the store (a cashier too) receive goods."""
    store_obj = store_for(staff, store, "stock.receive")
    lines = list(lines)
    if not lines:
        raise InvalidInput(_("The receipt has no lines."))
    supplier_obj = find_supplier(supplier) if supplier else None
    if supplier_obj is not None and not supplier_obj.active:
        raise InvalidInput(_("Supplier {code} is disabled.").format(code=supplier_obj.code))
    reference = _clean(reference, 64, _("Reference"))
    rows = merge_lines(lines, products_by_key(line.key for line in lines), _("receipt"))
    request = {"store": store_obj.id, "supplier": supplier_obj.id if supplier_obj else None, "reference": reference,
               "lines": [[p.id, qty, cost] for p, qty, cost in rows]}

    def body(tx: Transaction) -> ReceiptResult:
        moved = move_stock(tx, store_obj.id, [
            MoveRequest(p.id, "receipt", qty, total_fen=qty * cost, unit_cost_fen=cost,
                        supplier_id=supplier_obj.id if supplier_obj else None, reference=reference)
            for p, qty, cost in rows])
        result = _lines_result(tx, "receipt", store_obj, supplier_obj, reference, rows, moved)
        audit("stock.receive", f"store:{store_obj.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"supplier": result.supplier, "reference": reference, "qty": result.qty,
                       "value_fen": result.value_fen})
        return result

    return run_operation(txid=txid, kind="stock_receipt", request=request, staff=staff, store=store_obj,
                         member=None, body=body, result_type=ReceiptResult, note=reference)


def return_goods(staff: Staff, lines: Iterable[StockLine], txid: str, *, store: Store | str | None = None,
                 supplier: str, reason: str = "") -> ReceiptResult:
    """退货: goods sent back to ``supplier``, out at the average cost; never below zero. Needs a manager."""
    store_obj = store_for(staff, store, "stock.manage")
    lines = list(lines)
    if not lines:
        raise InvalidInput(_("The return has no lines."))
    supplier_obj = find_supplier(supplier)
    reason = _clean(reason, 100, _("Reason"))
    rows = merge_lines([StockLine(x.key, x.qty) for x in lines], products_by_key(x.key for x in lines), _("return"))
    require_stocked(store_obj, [p for p, _q, _c in rows])
    request = {"store": store_obj.id, "supplier": supplier_obj.id, "reason": reason,
               "lines": [[p.id, qty] for p, qty, _c in rows]}

    def body(tx: Transaction) -> ReceiptResult:
        moved = move_stock(tx, store_obj.id, [
            MoveRequest(p.id, "return", -qty, supplier_id=supplier_obj.id, reference=supplier_obj.code,
                        reason=reason) for p, qty, _c in rows])
        result = _lines_result(tx, "return", store_obj, supplier_obj, supplier_obj.code, rows, moved)
        audit("stock.return", f"store:{store_obj.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"supplier": supplier_obj.code, "reason": reason, "qty": result.qty,
                       "value_fen": result.value_fen})
        return result

    return run_operation(txid=txid, kind="stock_return", request=request, staff=staff, store=store_obj,
                         member=None, body=body, result_type=ReceiptResult, note=reason)


@dataclass(frozen=True)
class ReceiptItem:
    """A product as the receiving screen shows it when scanned: its last cost at the store is the line's cost until
    someone types another."""

    code: str
    name: str
    unit: str
    last_cost_fen: int
    on_hand: int


def item_for_receipt(key: str, store: Store | str | None = None) -> ReceiptItem:
    from mms_tui.models import StockLevel
    from mms_tui.services.base.resolve import resolve_store
    from mms_tui.services.stock.common import product_of

    product = product_of(key)
    store_obj = resolve_store(store)
    level = StockLevel.get_or_none((StockLevel.store == store_obj.id) & (StockLevel.product == product.id))
    return ReceiptItem(product.code, product.name, product.unit, level.last_cost_fen if level else 0,
                       level.on_hand if level else 0)
