"""Resolving the things an operation names (staff, store, member, card), the card usability rule, and the
written-out SQL the hot paths run.

The desk's hottest operations (a swipe, a quote, a checkout) run their statements written out once, through
peewee's own connection (:func:`run_sql`, ``?`` placeholders): building the same query through the ORM each time
costs about 0.2 ms of Python per statement, twenty times the database's own work for a keyed read
(BENCHMARKS.md). :func:`row_model` turns such a row back into the model instance the ORM would have made, and
:func:`insert_model` writes one as ``Model.create`` would.
"""

from __future__ import annotations

import datetime as dt

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import Card, Member, Staff, Store
from mms_tui.services.base.errors import (
    CardCancelled,
    CardExpired,
    CardFrozen,
    CardLost,
    InvalidInput,
    NotFound,
    UnknownCard,
    UnknownMember,
)
from mms_tui.services.base.sql import fetch_model
from mms_tui.services.base.text import normalise_card_no


def today() -> dt.date:
    """Today for the services: the product's one clock (:mod:`mms_tui.clock`)."""
    return clock.today()


#: the days a period or an "as of" day may name. The arithmetic on them (a window of months back, the day after a
#: period, a coupon's days ahead) then stays far from the ends of Python's calendar (0001-01-01 … 9999-12-31),
#: where it fails with an OverflowError; no shop's books hold a day outside.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)


def checked_day(day: dt.date | None) -> dt.date | None:
    """``day`` (or None) when it lies within FIRST_DAY … LAST_DAY; InvalidInput, one line, when not."""
    if day is not None and not FIRST_DAY <= (day.date() if isinstance(day, dt.datetime) else day) <= LAST_DAY:
        raise InvalidInput(_("{day} is out of range: give a day from {first} to {last}.").format(
            day=day.isoformat()[:10], first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))
    return day


def as_date(value: object) -> dt.date:
    """The day of a value read back from the database: a date, a datetime, or their text (SQLite gives text)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def resolve_staff(staff: Staff | int | str) -> Staff:
    if isinstance(staff, Staff):
        return staff
    found = (
        Staff.get_or_none(Staff.id == staff) if isinstance(staff, int) else Staff.get_or_none(Staff.code == staff)
    )
    if found is None or not found.active:
        raise NotFound(_("No active staff member {staff!r}.").format(staff=staff))
    return found


def resolve_store(store: Store | int | str | None, staff: Staff | None = None, *, writing: bool = False) -> Store:
    """The store named, else the staff member's store, else the chain's first store. ``writing``: for an
    operation that changes something there, which a closed store refuses (its history stays readable)."""
    found = _find_store(store, staff)
    if writing:
        refuse_closed(found)
    return found


def refuse_closed(store: Store) -> None:
    """A closed store takes no new operation: one line naming it and the day it closed."""
    if store.closed_at is not None:
        raise InvalidInput(_("Store {code} ({name}) closed on {day}; it takes no new operations.").format(
            code=store.code, name=store.name, day=str(store.closed_at)[:10]))


def _find_store(store: Store | int | str | None, staff: Staff | None) -> Store:
    if isinstance(store, Store):
        return store
    if store is not None:
        found = fetch_model(Store, '"t"."id" = ?' if isinstance(store, int) else '"t"."code" = ?', (store,))
        if found is None:
            raise NotFound(_("No store {store!r}.").format(store=store))
        return found
    if staff is not None and staff.store_id is not None:
        found = fetch_model(Store, '"t"."id" = ?', (staff.store_id,))
        if found is None:
            raise Store.DoesNotExist(f"no store {staff.store_id}")
        return found
    found = fetch_model(Store, "1 = 1", order='"t"."id"')
    if found is None:
        raise NotFound(_("No store is set up; run 'mms init' first."))
    return found


def find_card(key: str) -> Card | None:
    """A card by its number, reader UID or printed barcode."""
    key = normalise_card_no(key)
    if not key:
        return None
    return (
        fetch_model(Card, '"t"."card_no" = ?', (key,))
        or fetch_model(Card, '"t"."reader_uid" = ?', (key,))
        or fetch_model(Card, '"t"."barcode" = ?', (key,))
    )


def resolve_card(card: Card | int | str) -> Card:
    """A fresh copy of the card (its cached balances as committed now)."""
    if isinstance(card, Card):
        found = fetch_model(Card, '"t"."id" = ?', (card.id,))
    elif isinstance(card, int):
        found = fetch_model(Card, '"t"."id" = ?', (card,))
    else:
        found = find_card(card)
    if found is None:
        raise UnknownCard(_("Unknown card {card}.").format(card=card if not isinstance(card, Card) else card.card_no))
    return found


def resolve_member(member: Member | int | str) -> Member:
    """By id, or by phone."""
    if isinstance(member, Member):
        found = fetch_model(Member, '"t"."id" = ?', (member.id,))
    elif isinstance(member, int):
        found = fetch_model(Member, '"t"."id" = ?', (member,))
    else:
        found = fetch_model(Member, '"t"."phone" = ?', (member,))
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
