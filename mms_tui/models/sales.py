"""Sales with their lines and payments, and check-ins (visits)."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, now
from mms_tui.models.catalog import Product, ServiceItem
from mms_tui.models.ledger import Transaction
from mms_tui.models.members import Card, Member
from mms_tui.models.org import Staff, Store


class Sale(BaseModel):
    transaction = peewee.ForeignKeyField(Transaction, unique=True, backref="sale", on_delete="RESTRICT")
    #: no index of its own: (member, status, created_at, total_fen) below begins with it (migration 26)
    member = peewee.ForeignKeyField(Member, null=True, backref="sales", on_delete="RESTRICT", index=False)
    store = peewee.ForeignKeyField(Store, backref="sales", on_delete="RESTRICT")
    #: no index: staff are never deleted and no query reads by staff alone (migration 26)
    staff = peewee.ForeignKeyField(Staff, backref="sales", on_delete="RESTRICT", index=False)
    created_at = Moment(default=now, index=True)
    subtotal_fen = peewee.BigIntegerField()  # at list prices
    discount_fen = peewee.BigIntegerField()
    total_fen = peewee.BigIntegerField()
    change_fen = peewee.BigIntegerField(default=0)
    points_earned = peewee.BigIntegerField(default=0)
    status = peewee.CharField(max_length=10, default="paid")  # paid | refunded

    class Meta:
        #: a member's paid sales over a time: count, spend and last one from the index alone (segments; migration 2)
        indexes = ((("member", "status", "created_at", "total_fen"), False),)


class SaleLine(BaseModel):
    #: no index of its own: the lines report's (sale, category, line_total_fen) begins with it (migration 26)
    sale = peewee.ForeignKeyField(Sale, backref="lines", on_delete="RESTRICT", index=False)
    #: no index on the item: products and services are disabled, never deleted (migration 26)
    product = peewee.ForeignKeyField(Product, null=True, on_delete="RESTRICT", index=False)
    service = peewee.ForeignKeyField(ServiceItem, null=True, on_delete="RESTRICT", index=False)
    code = peewee.CharField(max_length=32)
    name = peewee.CharField(max_length=100)
    category = peewee.CharField(max_length=50, default="")
    qty = peewee.IntegerField(constraints=[peewee.Check("qty > 0")])
    list_price_fen = peewee.BigIntegerField()
    unit_price_fen = peewee.BigIntegerField()
    line_total_fen = peewee.BigIntegerField()
    discount_reason = peewee.CharField(max_length=100, default="")

    class Meta:
        #: turnover sums a sale's lines per category from the index alone (migration 2)
        indexes = ((("sale", "category", "line_total_fen"), False),)


class Payment(BaseModel):
    sale = peewee.ForeignKeyField(Sale, backref="payments", on_delete="RESTRICT")
    tender = peewee.CharField(max_length=12)  # a Tender value (services/ledger/tenders.py)
    amount_fen = peewee.BigIntegerField()  # value applied to the bill (cash: net of change)
    card = peewee.ForeignKeyField(Card, null=True, on_delete="RESTRICT")
    principal_fen = peewee.BigIntegerField(default=0)
    bonus_fen = peewee.BigIntegerField(default=0)
    points = peewee.BigIntegerField(default=0)


class Visit(BaseModel):
    transaction = peewee.ForeignKeyField(Transaction, unique=True, backref="visit", on_delete="RESTRICT")
    #: no index of its own: (member, status, created_at) below begins with it (migration 26)
    member = peewee.ForeignKeyField(Member, backref="visits", on_delete="RESTRICT", index=False)
    card = peewee.ForeignKeyField(Card, backref="visits", on_delete="RESTRICT")
    #: no index on store or staff: never deleted, and no query reads visits by them alone (migration 26)
    store = peewee.ForeignKeyField(Store, backref="visits", on_delete="RESTRICT", index=False)
    staff = peewee.ForeignKeyField(Staff, backref="visits", on_delete="RESTRICT", index=False)
    created_at = Moment(default=now, index=True)
    status = peewee.CharField(max_length=10, default="ok")  # ok | reversed

    class Meta:
        #: a member's last check-in from the index alone (segments; migration 2)
        indexes = ((("member", "status", "created_at"), False),)


class Coupon(BaseModel):
    """One coupon held by a member (or a bearer, member null) for a promotion of the loyalty rules, used at most
    once: ``used_at``/``transaction`` are set by the sale that redeemed it, and cleared by that sale's refund."""

    code = peewee.CharField(max_length=40, unique=True)
    promotion = peewee.CharField(max_length=32)  # the promotion's code in the rules document
    member = peewee.ForeignKeyField(Member, null=True, backref="coupons", on_delete="RESTRICT")
    reason = peewee.CharField(max_length=20, default="manual")  # manual | new_member | birthday | winback | bulk
    issued_at = Moment(default=now)
    issued_by = peewee.ForeignKeyField(Staff, null=True, backref="coupons_issued", on_delete="RESTRICT")
    valid_from = peewee.DateField(null=True)
    valid_until = peewee.DateField(null=True)
    store = peewee.ForeignKeyField(Store, null=True, backref="coupons", on_delete="RESTRICT")
    used_at = Moment(null=True)
    transaction = peewee.ForeignKeyField(Transaction, null=True, backref="coupons", on_delete="RESTRICT")

    class Meta:
        #: a member's coupons, unused first (the desk lists them at checkout; migration 4)
        indexes = ((("member", "used_at"), False),)
