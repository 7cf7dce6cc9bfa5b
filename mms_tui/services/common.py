"""Resolving the things an operation names (staff, store, member, card) and the card usability rule."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from mms_tui.i18n import _
from mms_tui.models import Card, Config, Member, Staff, Store
from mms_tui.services.errors import (
    CardCancelled,
    CardExpired,
    CardFrozen,
    CardLost,
    InvalidInput,
    NotFound,
    UnknownCard,
    UnknownMember,
)
from mms_tui.services.text import normalise_card_no

#: business settings kept in the database (``Config``), with their defaults
CONFIG_DEFAULTS: dict[str, Any] = {
    # points earned per whole yuan paid with money (cash, bank card, wallets, stored-value principal)
    "points_per_yuan": 1,
    # what one point is worth when it pays a bill, in fen (1 → 100 points = ¥1)
    "point_value_fen": 1,
    # a demo database shows its login on the login screen: {"code": "admin", "pin": "1234"}
    "demo_login": None,
    # top-up bonus tiers [threshold_fen, bonus_fen]: 充500送50, 充1000送200, 充2000送500, 充3000送900
    "topup_bonus_rules": [[50_000, 5_000], [100_000, 20_000], [200_000, 50_000], [300_000, 90_000]],
}


def get_config(key: str) -> Any:
    row = Config.get_or_none(Config.key == key)
    return CONFIG_DEFAULTS[key] if row is None else json.loads(row.value)


def set_config(key: str, value: Any) -> None:
    if key not in CONFIG_DEFAULTS:
        raise InvalidInput(_("Unknown setting {key!r}.").format(key=key))
    Config.insert(key=key, value=json.dumps(value)).on_conflict(
        conflict_target=[Config.key], update={Config.value: json.dumps(value)}
    ).execute()


def today() -> dt.date:
    return dt.date.today()


def resolve_staff(staff: Staff | int | str) -> Staff:
    if isinstance(staff, Staff):
        return staff
    found = (
        Staff.get_or_none(Staff.id == staff) if isinstance(staff, int) else Staff.get_or_none(Staff.code == staff)
    )
    if found is None or not found.active:
        raise NotFound(_("No active staff member {staff!r}.").format(staff=staff))
    return found


def resolve_store(store: Store | int | str | None, staff: Staff | None = None) -> Store:
    """The store named, else the staff member's store, else the chain's first store."""
    if isinstance(store, Store):
        return store
    if store is not None:
        found = (
            Store.get_or_none(Store.id == store) if isinstance(store, int) else Store.get_or_none(Store.code == store)
        )
        if found is None:
            raise NotFound(_("No store {store!r}.").format(store=store))
        return found
    if staff is not None and staff.store_id is not None:
        return Store.get_by_id(staff.store_id)
    found = Store.select().order_by(Store.id).first()
    if found is None:
        raise NotFound(_("No store is set up; run 'mms init' first."))
    return found


def find_card(key: str) -> Card | None:
    """A card by its number, reader UID or printed barcode."""
    key = normalise_card_no(key)
    if not key:
        return None
    return (
        Card.get_or_none(Card.card_no == key)
        or Card.get_or_none(Card.reader_uid == key)
        or Card.get_or_none(Card.barcode == key)
    )


def resolve_card(card: Card | int | str) -> Card:
    """A fresh copy of the card (its cached balances as committed now)."""
    if isinstance(card, Card):
        found = Card.get_or_none(Card.id == card.id)
    elif isinstance(card, int):
        found = Card.get_or_none(Card.id == card)
    else:
        found = find_card(card)
    if found is None:
        raise UnknownCard(_("Unknown card {card}.").format(card=card if not isinstance(card, Card) else card.card_no))
    return found


def resolve_member(member: Member | int | str) -> Member:
    """By id, or by phone."""
    if isinstance(member, Member):
        found = Member.get_or_none(Member.id == member.id)
    elif isinstance(member, int):
        found = Member.get_or_none(Member.id == member)
    else:
        found = Member.get_or_none(Member.phone == member)
    if found is None:
        raise UnknownMember(_("Unknown member {member}.").format(member=member))
    return found


def ensure_usable(card: Card, on: dt.date | None = None) -> None:
    """Refuse a lost, frozen, cancelled or expired card, saying which."""
    on = on or today()
    if card.status == "lost":
        raise CardLost(_("Card {card} is reported lost and blocked.").format(card=card.card_no))
    if card.status == "frozen":
        raise CardFrozen(
            _("Card {card} is frozen since {since}.").format(card=card.card_no, since=card.frozen_since or "?")
        )
    if card.status == "cancelled":
        raise CardCancelled(_("Card {card} was cancelled.").format(card=card.card_no))
    if card.status == "expired" or (card.valid_until is not None and card.valid_until < on):
        raise CardExpired(
            _("Card {card} expired on {date}.").format(card=card.card_no, date=card.valid_until or "?")
        )
    if card.valid_from is not None and card.valid_from > on:
        raise CardExpired(_("Card {card} is valid only from {date}.").format(card=card.card_no, date=card.valid_from))


def require_positive(amount: int, what: str) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidInput(_("{what} must be a whole number of fen.").format(what=what))
    if amount <= 0:
        raise InvalidInput(_("{what} must be more than zero.").format(what=what))
    return amount
