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

import peewee

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import Card, CardTypeStore, Member, Staff, Store
from mms_tui.services.base.errors import (
    AmbiguousCard,
    CardCancelled,
    CardElsewhere,
    CardExpired,
    CardFrozen,
    CardLost,
    InvalidInput,
    NotFound,
    UnknownCard,
    UnknownMember,
)
from mms_tui.services.base.sql import fetch_model, fetch_rows
from mms_tui.services.base.text import normalise_card_no

#: how keyboard-mode readers at this desk print a Mifare UID's bytes (setting ``uid_byte_order``)
UID_BYTE_ORDER = "normal"


def set_uid_byte_order(order: str) -> None:
    global UID_BYTE_ORDER
    UID_BYTE_ORDER = order


def today() -> dt.date:
    """Today for the services: the product's one clock (:mod:`mms_tui.clock`)."""
    return clock.today()


#: the stores a group of rows belongs to: store ids, and None for rows of no store; None alone (not in a tuple):
#: every row, whatever its store
Stores = tuple[int | None, ...] | None


def store_zones(store_ids: tuple[int, ...] | None = None) -> dict[int | None, str]:
    """Each store's time zone — its own, else the chain's (the ``time_zone`` setting, else this process's) — and,
    under None, the chain's for what belongs to no store; ``store_ids``: only those stores (and no None)."""
    from mms_tui.services.base.config import get_config

    chain = get_config("time_zone") or clock.zone_name()
    zones: dict[int | None, str] = {sid: zone or chain for sid, zone in Store.select(Store.id, Store.time_zone).tuples()
                                    if store_ids is None or sid in store_ids}
    if store_ids is None:
        zones[None] = chain
    return zones


def days_at_stores(now: dt.datetime | None = None) -> list[tuple[dt.date, Stores]]:
    """Today at each store, by its own clock: ``[(day, its stores)]``, earliest day first. The daily jobs (points
    expiring, reminders, birthday coupons) act for each store's members on that store's day, whichever zone the
    job's process runs in. One ``(today, None)`` — every store — when all the stores' days are this process's."""
    now = now or clock.now()
    by_day: dict[dt.date, list[int | None]] = {}
    for sid, zone in store_zones().items():
        by_day.setdefault(clock.day_in(now, zone), []).append(sid)
    if set(by_day) <= {now.date()}:
        return [(now.date(), None)]
    return [(day, tuple(sorted(sids, key=lambda s: (s is not None, s or 0)))) for day, sids in sorted(by_day.items())]


def at_stores(column: peewee.Field, stores: Stores) -> peewee.Expression | None:
    """``column`` (a store foreign key) within ``stores`` (None among them: no store); None when ``stores`` is
    None — every row."""
    if stores is None:
        return None
    ids = [sid for sid in stores if sid is not None]
    where = column.in_(ids) if ids else None
    if None in stores:
        where = column.is_null() if where is None else (where | column.is_null())
    return where if where is not None else column.in_([])


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


#: the statement of :func:`card_key`, one round trip of indexed equalities: by number (1), reader UID — by the tail
#: every form of a tag shares, or a legacy non-hex UID as it is — (2), printed barcode (3)
CARD_KEY_SQL = ('SELECT pref, id, member_id, card_no, reader_uid FROM ('
                'SELECT 1 AS pref, id, member_id, card_no, reader_uid FROM "card" WHERE card_no = ? '
                'UNION ALL SELECT 2, id, member_id, card_no, reader_uid FROM "card" WHERE uid_tail = ? '
                'UNION ALL SELECT 2, id, member_id, card_no, reader_uid FROM "card" WHERE reader_uid = ? '
                'UNION ALL SELECT 3, id, member_id, card_no, reader_uid FROM "card" WHERE barcode = ?) AS found '
                'ORDER BY pref')


def uid_tail(uid: str | None) -> str | None:
    """What a card's reader UID is found by (its last 6 characters: the 24 bits every reader carries)."""
    return uid[-6:] if uid else None


def card_key(key: str, *, as_read: bool = False) -> tuple[int, int, str] | None:
    """The card ``key`` names — (card id, member id, card number) — by card number, then reader UID, then printed
    barcode; None when none. A reader UID matches on the bits both the read and the stored UID carry
    (:func:`mms_tui.devices.protocols.uid_matches`): a read that fits more than one card is refused with
    :class:`AmbiguousCard`, never given to the first. ``as_read``: ``key`` is a canonical UID already (a serial
    reader's decoded read, :attr:`~mms_tui.devices.protocols.Read.is_uid`, or a stored one), not typed text whose
    form is guessed."""
    from mms_tui.devices.protocols import canonical_uid, uid_matches

    key = normalise_card_no(key)
    if not key:
        return None
    uid = key.upper() if as_read else (canonical_uid(key, UID_BYTE_ORDER) or key)
    rows = fetch_rows(CARD_KEY_SQL, (key, uid_tail(uid), key, key))
    if rows and rows[0][0] == 1:
        return rows[0][1], rows[0][2], rows[0][3]
    found = {row[1]: row for row in rows if row[0] == 2 and (row[4] == key or uid_matches(uid, row[4]))}
    if not as_read and len(key) == 10 and key.isdigit() and key.isascii() and uid != key:
        # ten digits typed (or come through a box from a reader): a USB reader's decimal — taken above — and
        # also ten hex digits, an RDM6300's read of a tag whose hex has no letter. A card of either is found; a
        # card of each is two cards, refused below rather than one of them guessed
        found.update({row[1]: row for row in fetch_rows(CARD_KEY_SQL, (key, uid_tail(key), key, key))
                      if row[0] == 2 and len(row[4]) >= 8 and uid_matches(key, row[4])})  # (a whole tag's: not
        # the 24 bits a Wiegand-26 card keeps, which six of any ten digits would match)
    if len(found) > 1:
        numbers = ", ".join(sorted(row[3] for row in found.values()))
        raise AmbiguousCard(_("This read fits {n} cards ({cards}): the reader carries only part of the tag's "
                              "number. Read the card on a reader that reads all of it, or type its card number.")
                            .format(n=len(found), cards=numbers))
    for row in [*found.values(), *(r for r in rows if r[0] == 3)]:
        return row[1], row[2], row[3]
    return None


def find_card(key: str) -> Card | None:
    """A card by its number, reader UID or printed barcode (:func:`card_key`)."""
    found = card_key(key)
    return fetch_model(Card, '"t"."id" = ?', (found[0],)) if found else None


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


def store_tree() -> dict[int, tuple[int | None, str]]:
    """Every node of the store tree: its id → (its parent's id, its code); one statement."""
    return {sid: (parent, code) for sid, parent, code in fetch_rows('SELECT "id", "parent_id", "code" FROM "store"')}


def up_the_tree(store_id: int | None, tree: dict[int, tuple[int | None, str]] | None = None) -> list[int]:
    """``store_id`` and the ids of the nodes above it, nearest first (a cycle ends the walk; None: none) — the one
    walk up the tree: what a rule naming a region reaches, whose subtree a store lies in. ``tree``: from
    :func:`store_tree`, when the caller has it already."""
    if store_id is None:
        return []
    tree = store_tree() if tree is None else tree
    path: list[int] = []
    node = store_id
    while node is not None and node not in path:
        path.append(node)
        node = tree[node][0] if node in tree else None
    return path


def within_nodes(nodes: set[int], store: Store) -> bool:
    """Whether ``store`` is one of ``nodes`` or below one of them in the tree (no nodes: everywhere)."""
    return not nodes or store.id in nodes or any(node in nodes for node in up_the_tree(store.parent_id))


def store_path(store: Store) -> tuple[str, ...]:
    """The codes of ``store`` and of the nodes above it, nearest first: what a rule naming a region reaches."""
    if store.parent_id is None:  # a one-store shop's (every checkout asks)
        return (store.code,)
    tree = store_tree()
    return tuple(tree[node][1] for node in up_the_tree(store.id, tree))


def ensure_used_here(card: Card, store: Store | None) -> None:
    """Refuse a card whose type binds it to other stores (card_types: ``bound``), naming where it is used. An
    operation at no store (the back office's own jobs) is not a desk's use."""
    ctype = card.card_type
    if store is None or not ctype.bound:
        return
    nodes = {store_id for (store_id,) in CardTypeStore.select(CardTypeStore.store)
             .where(CardTypeStore.card_type == ctype.id).tuples()}
    if nodes and not within_nodes(nodes, store):
        names = [name for (name,) in Store.select(Store.name).where(Store.id.in_(list(nodes)))
                 .order_by(Store.code).tuples()]
        raise CardElsewhere(_("Card {card} ({type}) is used only at {stores}, not at {here}.").format(
            card=card.card_no, type=ctype.name, stores="、".join(names), here=store.name))


def ensure_usable(card: Card, on: dt.date | None = None, *, at: Store | None = None) -> None:
    """Refuse a lost, frozen, cancelled or expired card, saying which; and, ``at`` a store, one bound to others."""
    on = on or today()
    ensure_used_here(card, at)
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
