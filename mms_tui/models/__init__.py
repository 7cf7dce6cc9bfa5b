"""Peewee tables only: fields, indexes, tiny query helpers. Business rules live in ``mms_tui.services``."""

from mms_tui.models.base import BaseModel, Moment, now
from mms_tui.models.catalog import Product, ServiceItem, TierPrice
from mms_tui.models.ledger import AuditEvent, ChainHead, ChainLink, Entry, Transaction
from mms_tui.models.members import CARD_KINDS, CARD_STATUSES, Card, CardType, Member, Tier
from mms_tui.models.org import STAFF_ROLES, STORE_KINDS, Config, SchemaVersion, Shift, Staff, Store
from mms_tui.models.sales import Coupon, Payment, Sale, SaleLine, Visit

#: every table, in creation order (parents first)
ALL_MODELS = [
    SchemaVersion,
    Store,
    Staff,
    Config,
    Tier,
    Member,
    CardType,
    Card,
    Product,
    ServiceItem,
    TierPrice,
    Transaction,
    Entry,
    AuditEvent,
    Sale,
    SaleLine,
    Payment,
    Visit,
    Coupon,
    Shift,
    ChainHead,
    ChainLink,
]

__all__ = [
    "ALL_MODELS",
    "CARD_KINDS",
    "CARD_STATUSES",
    "STAFF_ROLES",
    "STORE_KINDS",
    "AuditEvent",
    "BaseModel",
    "Card",
    "CardType",
    "ChainHead",
    "ChainLink",
    "Config",
    "Coupon",
    "Entry",
    "Member",
    "Moment",
    "Payment",
    "Product",
    "Sale",
    "SaleLine",
    "SchemaVersion",
    "ServiceItem",
    "Shift",
    "Staff",
    "Store",
    "Tier",
    "TierPrice",
    "Transaction",
    "Visit",
    "now",
]
