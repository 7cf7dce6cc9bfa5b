"""调拨: goods sent from one store to another. Sending takes them out of the sending store at its average cost
(never below zero); they are in transit, with that value, until the receiving store takes them in (at that same
value). Each side is one operation with its own txid."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Product, Staff, StockTransfer, StockTransferLine, Store, Transaction
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.base.resolve import resolve_store
from mms_tui.services.base.sql import insert_model, insert_rows
from mms_tui.services.ledger.operations import audit, run_operation
from mms_tui.services.stock.common import StockLine, merge_lines, products_by_key, require_stocked, store_for
from mms_tui.services.stock.levels import MoveRequest, move_stock


@dataclass(frozen=True)
class TransferResult:
    txid: str
    transfer_id: int
    from_store: str
    to_store: str
    status: str
    #: {code, name, qty, value_fen} per product
    lines: list[dict]
    qty: int
    value_fen: int


def _result(tx: Transaction, transfer: StockTransfer, lines: list[dict]) -> TransferResult:
    return TransferResult(tx.txid, transfer.id, transfer.from_store.code, transfer.to_store.code, transfer.status,
                          lines, sum(x["qty"] for x in lines), sum(x["value_fen"] for x in lines))


def send_transfer(staff: Staff, lines: Iterable[StockLine], to_store: Store | str, txid: str, *,
                  store: Store | str | None = None, note: str = "") -> TransferResult:
    """Send goods from ``store`` (the staff member's) to ``to_store``. Needs a manager of the sending store."""
    from_obj = store_for(staff, store, "stock.transfer")
    to_obj = resolve_store(to_store, None, writing=True)
    if to_obj.kind != "store":
        raise InvalidInput(_("{code} is a {kind}, not a store: stock is kept at stores.").format(
            code=to_obj.code, kind=to_obj.kind))
    if to_obj.id == from_obj.id:
        raise InvalidInput(_("A transfer goes to another store, not to {code} itself.").format(code=from_obj.code))
    lines = list(lines)
    if not lines:
        raise InvalidInput(_("The transfer has no lines."))
    rows = merge_lines([StockLine(x.key, x.qty) for x in lines], products_by_key(x.key for x in lines),
                       _("transfer"))
    require_stocked(from_obj, [p for p, _q, _c in rows])
    note = (note or "").strip()[:100]
    request = {"from": from_obj.id, "to": to_obj.id, "note": note, "lines": [[p.id, q] for p, q, _c in rows]}

    def body(tx: Transaction) -> TransferResult:
        transfer = insert_model(StockTransfer, from_store=from_obj, to_store=to_obj, sent=tx, note=note)
        moved = move_stock(tx, from_obj.id, [MoveRequest(p.id, "transfer_out", -q, reference=f"transfer:{transfer.id}")
                                             for p, q, _c in rows])
        insert_rows(StockTransferLine, [{"transfer": transfer.id, "product": p.id, "qty": q, "value_fen": -m.value_fen}
                                        for (p, q, _c), m in zip(rows, moved, strict=True)])
        audit("stock.transfer", f"transfer:{transfer.id}", staff=staff, store=from_obj, txid=tx.txid,
              payload={"to": to_obj.code, "qty": sum(q for _p, q, _c in rows)})
        return _result(tx, transfer, [{"code": p.code, "name": p.name, "qty": q, "value_fen": -m.value_fen}
                                      for (p, q, _c), m in zip(rows, moved, strict=True)])

    return run_operation(txid=txid, kind="stock_transfer", request=request, staff=staff, store=from_obj,
                         member=None, body=body, result_type=TransferResult, note=note)


def receive_transfer(staff: Staff, transfer_id: int, txid: str) -> TransferResult:
    """Take a transfer in at the receiving store, at the value it left with. Staff of that store receive it."""
    transfer = StockTransfer.get_or_none(StockTransfer.id == transfer_id)
    if transfer is None:
        raise NotFound(_("No transfer {id}.").format(id=transfer_id))
    to_obj = store_for(staff, transfer.to_store, "stock.receive")

    def body(tx: Transaction) -> TransferResult:
        current = StockTransfer.get_by_id(transfer.id)
        if current.status != "in_transit":
            raise InvalidInput(_("Transfer {id} was already received.").format(id=transfer.id))
        lines = list(StockTransferLine.select(StockTransferLine, Product).join(Product)
                     .where(StockTransferLine.transfer == transfer.id).order_by(StockTransferLine.id))
        moved = move_stock(tx, to_obj.id, [MoveRequest(x.product_id, "transfer_in", x.qty, total_fen=x.value_fen,
                                                       reference=f"transfer:{transfer.id}") for x in lines])
        changed = (StockTransfer.update(status="received", received=tx)
                   .where((StockTransfer.id == transfer.id) & (StockTransfer.status == "in_transit")).execute())
        if changed != 1:
            raise InvalidInput(_("Transfer {id} was already received.").format(id=transfer.id))
        audit("stock.transfer_in", f"transfer:{transfer.id}", staff=staff, store=to_obj, txid=tx.txid,
              payload={"from": current.from_store.code, "qty": sum(x.qty for x in lines)})
        current.status = "received"
        return _result(tx, current, [{"code": x.product.code, "name": x.product.name, "qty": x.qty,
                                      "value_fen": m.value_fen} for x, m in zip(lines, moved, strict=True)])

    return run_operation(txid=txid, kind="stock_transfer_in", request={"transfer": transfer.id}, staff=staff,
                         store=to_obj, member=None, body=body, result_type=TransferResult)


@dataclass(frozen=True)
class TransferRow:
    id: int
    from_store: str
    to_store: str
    sent_at: str
    status: str
    qty: int
    value_fen: int


def list_transfers(*, store: Store | str | None = None, in_transit: bool = False) -> list[TransferRow]:
    """Transfers from or to ``store`` (all stores: None), newest first."""
    query = StockTransfer.select().order_by(StockTransfer.id.desc())
    if store is not None:
        s = resolve_store(store)
        query = query.where((StockTransfer.from_store == s.id) | (StockTransfer.to_store == s.id))
    if in_transit:
        query = query.where(StockTransfer.status == "in_transit")
    rows = []
    for t in query:
        lines = list(t.lines)
        rows.append(TransferRow(t.id, t.from_store.code, t.to_store.code, str(t.sent.created_at)[:16], t.status,
                                sum(x.qty for x in lines), sum(x.value_fen for x in lines)))
    return rows
