"""What the desk sells: products (with stock later) and services (with commission later)."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel
from mms_tui.models.members import Tier
from mms_tui.models.org import Staff


class _CatalogItem(BaseModel):
    code = peewee.CharField(max_length=32, unique=True)
    barcode = peewee.CharField(max_length=64, null=True, unique=True)
    name = peewee.CharField(max_length=100)
    category = peewee.CharField(max_length=50, default="")
    price_fen = peewee.BigIntegerField(constraints=[peewee.Check("price_fen >= 0")])
    active = peewee.BooleanField(default=True)


class Product(_CatalogItem):
    pass


class ServiceItem(_CatalogItem):
    duration_minutes = peewee.IntegerField(null=True)


class TierPrice(BaseModel):
    """A fixed member price for one tier, instead of the tier's percentage discount."""

    tier = peewee.ForeignKeyField(Tier, backref="prices", on_delete="CASCADE")
    product = peewee.ForeignKeyField(Product, null=True, backref="tier_prices", on_delete="CASCADE")
    service = peewee.ForeignKeyField(ServiceItem, null=True, backref="tier_prices", on_delete="CASCADE")
    price_fen = peewee.BigIntegerField(constraints=[peewee.Check("price_fen >= 0")])

    class Meta:
        indexes = ((("tier", "product"), True), (("tier", "service"), True))
        constraints = (peewee.SQL("CHECK ((product_id IS NULL) <> (service_id IS NULL))"),)


class StaffService(BaseModel):
    """A service a staff member (a performer, usually) may perform (migration 9)."""

    staff = peewee.ForeignKeyField(Staff, backref="service_links", on_delete="CASCADE")
    service = peewee.ForeignKeyField(ServiceItem, backref="staff_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("staff", "service"), True),)
