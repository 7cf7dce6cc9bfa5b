"""Stores, staff, settings kept in the database, and the schema version."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, now

STAFF_ROLES = ("cashier", "manager", "admin")
#: what a node of the store tree is (总部 / 区域 / 门店): a column, not read off the tree, because a region is set up
#: before its stores (a leaf then) and stays a region when its last store closes or moves away
STORE_KINDS = ("hq", "region", "store")


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=100)
    applied_at = Moment(default=now)


class Store(BaseModel):
    """A node of the chain's tree (HQ → region → store, any depth): reports on a node cover its subtree. A closed
    store keeps its history and takes no new operation (migration 10: address to closed_at)."""

    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=100)
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    created_at = Moment(default=now)
    kind = peewee.CharField(max_length=10, default="store",
                            constraints=[peewee.Check("kind IN ('hq','region','store')")])
    address = peewee.CharField(max_length=200, default="")
    phone = peewee.CharField(max_length=30, default="")
    #: printed at the top of its receipts, under the store's name (a few lines)
    receipt_header = peewee.TextField(default="")
    closed_at = Moment(null=True)
    #: a sale that would take a product below zero here: refused, or allowed with a warning (migration 20)
    negative_stock = peewee.CharField(max_length=6, default="refuse",
                                      constraints=[peewee.Check("negative_stock IN ('refuse','warn')")])
    #: the store's IANA time zone when it is not the chain's (``time_zone`` setting); empty: the chain's (migration
    #: 23). Its desks' "today", hours and receipts, and its operations' local days, are in it.
    time_zone = peewee.CharField(max_length=64, default="")


class Staff(BaseModel):
    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=50)
    role = peewee.CharField(max_length=10, constraints=[peewee.Check("role IN ('cashier','manager','admin')")])
    pin_hash = peewee.CharField(max_length=200)
    store = peewee.ForeignKeyField(Store, null=True, backref="staff", on_delete="RESTRICT")
    card_no = peewee.CharField(max_length=64, null=True, unique=True)
    active = peewee.BooleanField(default=True)
    failed_logins = peewee.IntegerField(default=0)
    created_at = Moment(default=now)
    #: the PIN throttle and lockout, kept here so every desk and every process sees them (migration 5)
    last_failed_at = Moment(null=True)
    locked_until = Moment(null=True)
    last_login_at = Moment(null=True)
    #: the back office (migration 9): a PIN a manager reset must be replaced by its owner before a login
    #: finishes; a performer (技师/教练) serves members and never logs in (no PIN), at a level (助理, 技师, 高级,
    #: 首席 …) that commission and price rules read
    must_change_pin = peewee.BooleanField(default=False)
    performer = peewee.BooleanField(default=False)
    level = peewee.CharField(max_length=20, null=True)


class Shift(BaseModel):
    """交班: one staff member's drawer at one store, from opening to close. What was taken in is not stored here —
    it is read from the ledger (the tender entries of that staff member's operations at that store in the span);
    the close keeps what was expected then, what was counted, and the difference (migration 5)."""

    staff = peewee.ForeignKeyField(Staff, backref="shifts", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, backref="shifts", on_delete="RESTRICT")
    #: the shift covers operations made after this moment (the previous shift's close) up to ``closed_at``
    opened_at = Moment(default=now, index=True)
    closed_at = Moment(null=True)
    float_fen = peewee.BigIntegerField(default=0)  # 备用金: cash in the drawer when the shift opened
    closed_by = peewee.ForeignKeyField(Staff, null=True, backref="shifts_closed", on_delete="RESTRICT")
    close_txid = peewee.CharField(max_length=64, null=True, unique=True)
    #: at close: {tender: fen} expected from the ledger and counted in the drawer; their difference, all tenders
    expected_json = peewee.TextField(default="{}")
    counted_json = peewee.TextField(default="{}")
    over_short_fen = peewee.BigIntegerField(default=0)
    result_json = peewee.TextField(default="{}")
    note = peewee.TextField(default="")


#: at most one open shift per staff member and store
Shift.add_index(Shift.index(Shift.staff, Shift.store, unique=True, where=Shift.closed_at.is_null(),
                            name="shift_one_open"))


class Config(BaseModel):
    """Business settings a manager edits (points rates, rules); JSON values."""

    key = peewee.CharField(max_length=64, primary_key=True)
    value = peewee.TextField()
