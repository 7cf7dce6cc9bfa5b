"""Stores, staff, settings kept in the database, and the schema version."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, now

STAFF_ROLES = ("cashier", "manager", "admin")


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=100)
    applied_at = peewee.DateTimeField(default=now)


class Store(BaseModel):
    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=100)
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    created_at = peewee.DateTimeField(default=now)


class Staff(BaseModel):
    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=50)
    role = peewee.CharField(max_length=10, constraints=[peewee.Check("role IN ('cashier','manager','admin')")])
    pin_hash = peewee.CharField(max_length=200)
    store = peewee.ForeignKeyField(Store, null=True, backref="staff", on_delete="RESTRICT")
    card_no = peewee.CharField(max_length=64, null=True, unique=True)
    active = peewee.BooleanField(default=True)
    failed_logins = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=now)


class Config(BaseModel):
    """Business settings a manager edits (points rates, rules); JSON values."""

    key = peewee.CharField(max_length=64, primary_key=True)
    value = peewee.TextField()
