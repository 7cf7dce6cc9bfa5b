"""Resolving the things an operation names (staff, store, member, card), the card usability rule, and the
written-out SQL the hot paths run.

The desk's hottest operations (a swipe, a quote, a checkout) run their statements written out once, through
peewee's own connection (:func:`run_sql`, ``?`` placeholders): building the same query through the ORM each time
costs about 0.2 ms of Python per statement, twenty times the database's own work for a keyed read
(BENCHMARKS.md). :func:`row_model` turns such a row back into the model instance the ORM would have made, and
:func:`insert_model` writes one as ``Model.create`` would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import peewee

from mms_tui import clock
from mms_tui.db import database, is_sqlite
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

M = TypeVar("M", bound=peewee.Model)

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
    # wrong PINs: wait this many seconds before the next try after the 1st, 2nd… wrong PIN in a row (the last
    # figure repeats), and after ``lock_after`` in a row take no PIN for ``lock_minutes`` (a manager may unlock)
    "pin_throttle": {"waits": [0, 1, 2, 4], "lock_after": 5, "lock_minutes": 5},
    # a second check-in of the same card this soon asks first: minutes for a visit package, "day" (the same
    # calendar day) or minutes for a pass; 0 never asks
    "repeat_check_in": {"visits": 10, "period": "day"},
    # 备用金: the cash a drawer starts each shift with
    "shift_float_fen": 0,
    # the most one operation may move (fen), and the most a card may hold in each of its balances: far above any
    # shop's real figures, low enough that no sum of the ledger can leave 64-bit integers
    "limits": {"operation_fen": 100_000_000, "balance_fen": 1_000_000_000, "points": 1_000_000_000,
               "visits": 100_000},
    # a long write (an import) in progress, so that a desk waiting for the write lock can say what it waits for
    "writer": None,
}

#: what ``limits`` falls back to for a key a saved setting leaves out
LIMIT_DEFAULTS = CONFIG_DEFAULTS["limits"]


# ------------------------------------------------------------------------------------------------ written-out SQL


def run_sql(statement: str, params: Iterable[object] = ()) -> Any:
    """Run ``statement`` (``?`` placeholders, double-quoted names) through peewee's connection; the cursor.

    Inside the caller's transaction, with peewee's errors (``IntegrityError``, ``OperationalError``) as the ORM
    would raise them."""
    return database.execute_sql(statement.replace("?", database.param), tuple(params))


def fetch_rows(statement: str, params: Iterable[object] = ()) -> list[tuple]:
    return run_sql(statement, params).fetchall()


_COLUMNS: dict[tuple[type, str], str] = {}


def columns(model: type[peewee.Model], alias: str) -> str:
    """Every column of ``model`` as ``"alias"."column", …``, in the order :func:`row_model` reads them."""
    key = (model, alias)
    text = _COLUMNS.get(key)
    if text is None:
        text = _COLUMNS[key] = ", ".join(f'"{alias}"."{f.column_name}"' for f in model._meta.sorted_fields)
    return text


def row_model(model: type[M], row: Sequence[object], start: int = 0) -> M:
    """The instance the ORM makes of a row whose columns from ``start`` on are :func:`columns` of ``model``:
    values converted as the fields convert them (dates from SQLite's text, booleans from 0/1), nothing dirty."""
    data = {}
    for i, f in enumerate(model._meta.sorted_fields, start):
        value = row[i]
        data[f.name] = value if value is None else f.python_value(value)
    # what Model.__init__(__no_default__=1, **data) leaves behind (foreign keys hold the related id), without
    # a descriptor call per field
    obj = model.__new__(model)
    obj.__data__ = data
    obj._dirty = set()
    obj.__rel__ = {}
    return obj


def fetch_model(model: type[M], where: str, params: Iterable[object] = (), order: str = "") -> M | None:
    """The first row of ``model`` matching ``where`` (written against the alias ``t``) in ``order``, or None."""
    sql = f'SELECT {columns(model, "t")} FROM "{model._meta.table_name}" AS "t" WHERE {where}'
    rows = fetch_rows(f"{sql} ORDER BY {order} LIMIT 1" if order else f"{sql} LIMIT 1", params)
    return row_model(model, rows[0]) if rows else None


_INSERTS: dict[tuple[type, tuple[str, ...], int, bool], str] = {}


def _insert_sql(model: type[peewee.Model], names: tuple[str, ...], rows: int, returning: bool) -> str:
    key = (model, names, rows, returning)
    sql = _INSERTS.get(key)
    if sql is None:
        fields = model._meta.fields
        cols = ", ".join(f'"{fields[n].column_name}"' for n in names)
        one = "(" + ", ".join("?" for _n in names) + ")"
        sql = f'INSERT INTO "{model._meta.table_name}" ({cols}) VALUES ' + ", ".join(one for _r in range(rows))
        if returning:
            sql += f' RETURNING "{model._meta.primary_key.column_name}"'
        sql = _INSERTS[key] = sql
    return sql


def insert_model(model: type[M], **values: Any) -> M:
    """``model.create(**values)`` as one written-out INSERT: the same defaults, the same values stored, the same
    instance returned (its new id set, nothing dirty)."""
    obj = model(**values)
    data = obj.__data__
    pk = model._meta.primary_key
    names = tuple(n for n in data if not (n == pk.name and data[n] is None))
    fields = model._meta.fields
    params = [fields[n].db_value(data[n]) for n in names]
    auto = model._meta.auto_increment and data.get(pk.name) is None
    if auto and not is_sqlite():
        obj._pk = run_sql(_insert_sql(model, names, 1, True), params).fetchone()[0]
    else:
        cursor = run_sql(_insert_sql(model, names, 1, False), params)
        if auto:
            obj._pk = cursor.lastrowid
    obj._dirty.clear()
    return obj


def insert_rows(model: type[peewee.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """``model.insert_many(rows).execute()`` for rows that all name the same fields, as one written-out INSERT."""
    if not rows:
        return
    names = tuple(rows[0])
    fields = [model._meta.fields[n] for n in names]
    params = [f.db_value(row[f.name]) for row in rows for f in fields]
    run_sql(_insert_sql(model, names, len(rows), False), params)


def get_config(key: str) -> Any:
    rows = fetch_rows('SELECT "value" FROM "config" WHERE "key" = ?', (key,))
    return CONFIG_DEFAULTS[key] if not rows else json.loads(rows[0][0])


def set_config(key: str, value: Any) -> None:
    if key not in CONFIG_DEFAULTS:
        raise InvalidInput(_("Unknown setting {key!r}.").format(key=key))
    Config.insert(key=key, value=json.dumps(value)).on_conflict(
        conflict_target=[Config.key], update={Config.value: json.dumps(value)}
    ).execute()


@contextmanager
def announced_writer(what: str, staff: Staff | None = None) -> Iterator[None]:
    """A long write (an import) says so before it takes the write lock and clears it after: a desk whose save
    waits can tell the cashier who it waits for (:func:`current_writer`), instead of a silent wait."""
    from mms_tui.db import write_transaction

    note = {"what": what, "by": staff.code if staff is not None else None, "since": clock.now().strftime("%H:%M"),
            "pid": os.getpid(), "host": socket.gethostname()}
    with write_transaction():
        set_config("writer", note)
    try:
        yield
    finally:
        with contextlib.suppress(Exception), write_transaction():  # (a stale note: see current_writer)
            set_config("writer", None)


def current_writer() -> dict | None:
    """The long write going on now, as :func:`announced_writer` noted it (None: none, or its process is gone)."""
    note = get_config("writer")
    if not isinstance(note, dict):
        return None
    if note.get("host") == socket.gethostname():
        try:
            os.kill(int(note.get("pid", 0)), 0)
        except (OSError, ValueError):
            return None
    return note


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


def resolve_store(store: Store | int | str | None, staff: Staff | None = None) -> Store:
    """The store named, else the staff member's store, else the chain's first store."""
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


def limits() -> dict[str, int]:
    """The ceilings of one operation and of a card's balances (setting ``limits``)."""
    saved = get_config("limits") or {}
    return {key: int(saved.get(key, default)) for key, default in LIMIT_DEFAULTS.items()}


def require_positive(amount: int, what: str) -> int:
    """A money amount of one operation: a whole number of fen, more than zero, at most the operation limit."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidInput(_("{what} must be a whole number of fen.").format(what=what))
    if amount <= 0:
        raise InvalidInput(_("{what} must be more than zero.").format(what=what))
    return require_within_limit(amount, what)


def require_within_limit(amount: int, what: str, ceiling: int | None = None) -> int:
    """Refuse an amount above what one operation may move (setting ``limits.operation_fen``; ``ceiling``: that
    setting as already read)."""
    from mms_tui.services.text import format_money

    ceiling = limits()["operation_fen"] if ceiling is None else ceiling
    if amount > ceiling:
        raise InvalidInput(_("{what} may be at most {limit} in one operation (setting limits.operation_fen).").format(
            what=what, limit=format_money(ceiling)))
    return amount
