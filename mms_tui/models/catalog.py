"""What the desk sells: products (their stock: models/stock.py) and services."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel
from mms_tui.models.members import PriceLevel, Tier
from mms_tui.models.org import Staff, Store


class Category(BaseModel):
    """类别: the managed list an item's category names (migration 14; services/catalogue/categories.py)."""

    name = peewee.CharField(max_length=50, unique=True)
    active = peewee.BooleanField(default=True)


class _CatalogItem(BaseModel):
    code = peewee.CharField(max_length=32, unique=True)
    barcode = peewee.CharField(max_length=64, null=True, unique=True)
    name = peewee.CharField(max_length=100)
    category = peewee.CharField(max_length=50, default="")
    price_fen = peewee.BigIntegerField(constraints=[peewee.Check("price_fen >= 0")])
    active = peewee.BooleanField(default=True)


class Product(_CatalogItem):
    #: the base unit its stock is counted in: pieces, ml or g (migration 20); quantities are whole numbers of it
    unit = peewee.CharField(max_length=5, default="pcs", constraints=[peewee.Check("unit IN ('pcs','ml','g')")])


class ServiceItem(_CatalogItem):
    duration_minutes = peewee.IntegerField(null=True)


class ItemPrice(BaseModel):
    """An item's price on one price list (价格体系, migration 13): a tier's (a fixed member price instead of the
    tier's discount), a price level's, or neither (the store's own retail price); for one store or region, or
    chain-wide (no store). ``key`` makes it one price per item, list and store (services/catalogue/prices.py)."""

    key = peewee.CharField(max_length=80, unique=True)
    product = peewee.ForeignKeyField(Product, null=True, backref="list_prices", on_delete="CASCADE")
    service = peewee.ForeignKeyField(ServiceItem, null=True, backref="list_prices", on_delete="CASCADE")
    tier = peewee.ForeignKeyField(Tier, null=True, backref="prices", on_delete="CASCADE")
    price_level = peewee.ForeignKeyField(PriceLevel, null=True, backref="prices", on_delete="CASCADE")
    store = peewee.ForeignKeyField(Store, null=True, backref="prices", on_delete="CASCADE")
    price_fen = peewee.BigIntegerField(constraints=[peewee.Check("price_fen >= 0")])

    class Meta:
        constraints = (peewee.SQL("CHECK ((product_id IS NULL) <> (service_id IS NULL))"),
                       peewee.SQL("CHECK (tier_id IS NULL OR price_level_id IS NULL)"))


class StaffService(BaseModel):
    """A service a staff member (a performer, usually) may perform (migration 9)."""

    staff = peewee.ForeignKeyField(Staff, backref="service_links", on_delete="CASCADE")
    service = peewee.ForeignKeyField(ServiceItem, backref="staff_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("staff", "service"), True),)
