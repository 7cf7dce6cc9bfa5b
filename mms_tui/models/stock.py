"""进销存: products on the shelves of each store, on a ledger of their own (migration 20).

A :class:`StockMove` is one append-only movement of one product at one store (signed quantity in the product's base
unit, signed value in fen) written by an operation's ledger :class:`~mms_tui.models.ledger.Transaction` (its txid,
staff, store and time); :class:`StockLevel` is the cache of on hand and value per product and store, moved in the
same database transaction, which ``mms check`` holds to Σ moves (services/stock).
"""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, now
from mms_tui.models.catalog import Product, ServiceItem
from mms_tui.models.ledger import Transaction
from mms_tui.models.org import Staff, Store

#: what moved stock: 入库 receipt, 退货 return to the supplier, 销售 sale, 退款 refund (back on the shelf), 赠品
#: gift (points or birthday), 耗用 consumed by a service, 调出/调入 transfer out/in, 盘点 count variance, 调整
#: adjustment
STOCK_MOVE_KINDS = ("receipt", "return", "sale", "refund", "gift", "consume", "transfer_out", "transfer_in",
                    "count", "adjust")
#: what a store does when a sale would take a product below zero: refuse it, or allow it with a warning
NEGATIVE_STOCK_POLICIES = ("refuse", "warn")
STOCK_UNITS = ("pcs", "ml", "g")


class Supplier(BaseModel):
    """供应商: where goods come from (receipts and returns name it)."""

    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=100)
    contact = peewee.CharField(max_length=50, default="")
    phone = peewee.CharField(max_length=30, default="")
    note = peewee.TextField(default="")
    active = peewee.BooleanField(default=True)
    created_at = Moment(default=now)


class StockLevel(BaseModel):
    """A product counted at a store: the cache of on hand (base units) and value (fen), and the store's low-stock
    threshold for it. A product is counted at a store from its first receipt, transfer in, count or adjustment
    there; until then its sales move no stock."""

    product = peewee.ForeignKeyField(Product, backref="stock_levels", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, backref="stock_levels", on_delete="RESTRICT")
    on_hand = peewee.BigIntegerField(default=0)
    value_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("value_fen >= 0")])
    #: the last receipt's unit cost, what goods found by a count are valued at when none is on hand
    last_cost_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("last_cost_fen >= 0")])
    #: at or below this, the product is low at the store (None: no threshold)
    low_at = peewee.BigIntegerField(null=True)

    class Meta:
        indexes = ((("store", "product"), True),)


class StockMove(BaseModel):
    transaction = peewee.ForeignKeyField(Transaction, backref="stock_moves", on_delete="RESTRICT")
    product = peewee.ForeignKeyField(Product, backref="stock_moves", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, backref="stock_moves", on_delete="RESTRICT")
    created_at = Moment(default=now)
    kind = peewee.CharField(max_length=12, constraints=[peewee.Check(
        "kind IN ('receipt','return','sale','refund','gift','consume','transfer_out','transfer_in','count',"
        "'adjust')")])
    qty = peewee.BigIntegerField()
    value_fen = peewee.BigIntegerField()
    #: a receipt's price per unit as the supplier charged it (0 for every other kind)
    unit_cost_fen = peewee.BigIntegerField(default=0)
    supplier = peewee.ForeignKeyField(Supplier, null=True, backref="moves", on_delete="RESTRICT")
    #: what it belongs to: "sale:12", "transfer:3", "count:4", a supplier's delivery note number
    reference = peewee.CharField(max_length=64, default="")
    reason = peewee.CharField(max_length=100, default="")

    class Meta:
        indexes = ((("store", "product", "id"), False), (("created_at", "kind"), False))


class StockTransfer(BaseModel):
    """调拨: goods sent from one store to another, in transit until the receiving store takes them in."""

    from_store = peewee.ForeignKeyField(Store, backref="transfers_out", on_delete="RESTRICT")
    to_store = peewee.ForeignKeyField(Store, backref="transfers_in", on_delete="RESTRICT")
    sent = peewee.ForeignKeyField(Transaction, unique=True, backref="transfer_sent", on_delete="RESTRICT")
    received = peewee.ForeignKeyField(Transaction, null=True, unique=True, backref="transfer_received",
                                      on_delete="RESTRICT")
    status = peewee.CharField(max_length=10, default="in_transit",
                              constraints=[peewee.Check("status IN ('in_transit','received')")])
    note = peewee.CharField(max_length=100, default="")


class StockTransferLine(BaseModel):
    transfer = peewee.ForeignKeyField(StockTransfer, backref="lines", on_delete="RESTRICT")
    product = peewee.ForeignKeyField(Product, on_delete="RESTRICT")
    qty = peewee.BigIntegerField(constraints=[peewee.Check("qty > 0")])
    #: the value that left the sending store with it, and arrives with it
    value_fen = peewee.BigIntegerField(constraints=[peewee.Check("value_fen >= 0")])


class StockCount(BaseModel):
    """盘点: a count sheet of one store, counted (by scanning or typing), then posted with a manager's approval:
    each variance from on hand becomes a ``count`` move with the line's reason."""

    store = peewee.ForeignKeyField(Store, backref="stock_counts", on_delete="RESTRICT")
    opened_by = peewee.ForeignKeyField(Staff, backref="stock_counts", on_delete="RESTRICT")
    created_at = Moment(default=now)
    status = peewee.CharField(max_length=10, default="open",
                              constraints=[peewee.Check("status IN ('open','posted','cancelled')")])
    posted = peewee.ForeignKeyField(Transaction, null=True, unique=True, backref="stock_count",
                                    on_delete="RESTRICT")
    approved_by = peewee.ForeignKeyField(Staff, null=True, backref="stock_counts_approved", on_delete="RESTRICT")
    note = peewee.CharField(max_length=100, default="")


class StockCountLine(BaseModel):
    count = peewee.ForeignKeyField(StockCount, backref="lines", on_delete="CASCADE")
    product = peewee.ForeignKeyField(Product, on_delete="RESTRICT")
    counted = peewee.BigIntegerField(constraints=[peewee.Check("counted >= 0")])
    #: on hand when the count was posted (None while it is open)
    expected = peewee.BigIntegerField(null=True)
    reason = peewee.CharField(max_length=100, default="")

    class Meta:
        indexes = ((("count", "product"), True),)


class ServiceConsumption(BaseModel):
    """A service that uses a product: each unit of the service sold takes ``qty`` of it (a hair colour: 60 ml of
    dye) off the shelf of the store that sold it."""

    service = peewee.ForeignKeyField(ServiceItem, backref="consumes", on_delete="CASCADE")
    product = peewee.ForeignKeyField(Product, backref="consumed_by", on_delete="RESTRICT")
    qty = peewee.BigIntegerField(constraints=[peewee.Check("qty > 0")])

    class Meta:
        indexes = ((("service", "product"), True),)
