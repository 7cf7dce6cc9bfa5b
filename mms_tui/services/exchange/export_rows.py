"""What each export yields: members, cards, the ledger and sales as rows (dicts keyed by their columns).

* **It streams.** Rows come from keyset-paged queries (``WHERE id > last ORDER BY id LIMIT n``), so a million
  members never sit in memory — not in Python, and not in the PostgreSQL client either, which would otherwise
  fetch a whole result set before the first row. Every ``*_rows`` function is a generator.

The member file uses exactly the columns of :data:`mms_tui.services.exchange.fields.MEMBER_COLUMNS`, with money as exact
yuan strings, so an export imports again with ``mms import members``. The accounting exports (ledger, sales) keep
money as integer fen, like the machine formats of ``mms report``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import peewee

from mms_tui.i18n import _
from mms_tui.models import (
    Card,
    CardType,
    Entry,
    Member,
    Payment,
    Sale,
    SaleLine,
    Staff,
    Store,
    Tier,
    Transaction,
)
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import checked_day, resolve_store
from mms_tui.services.exchange.fields import MEMBER_COLUMNS
from mms_tui.services.ledger.tenders import MONEY_TENDERS, Tender

#: the tender columns of the sales export, in the order its files have always had them: value from cards first
SALE_TENDERS: tuple[str, ...] = tuple(t.value for t in (Tender.STORED_VALUE, Tender.POINTS, *MONEY_TENDERS))

Row = dict[str, Any]
Progress = Callable[[int, int], None]  # (done, total): ids gone through of the table's range, for a progress bar

#: rows fetched per query; bounds memory whatever the table size
PAGE_SIZE = 2000

CARD_COLUMNS = (
    "card_no", "reader_uid", "barcode", "card_type", "kind", "status", "member_phone", "member_name",
    "principal_fen", "bonus_fen", "points", "visits_left", "valid_from", "valid_until", "store", "issued_at",
)
LEDGER_COLUMNS = (
    "txid", "kind", "created_at", "store", "staff", "member_phone", "account", "card_no", "unit", "amount",
    "reverses",
)
SALE_COLUMNS = (
    "txid", "created_at", "store", "staff", "member_phone", "subtotal_fen", "discount_fen", "total_fen",
    "change_fen", "points_earned", "status", *(f"{tender}_fen" for tender in SALE_TENDERS), "lines",
)


# --- values ------------------------------------------------------------------------------------------------------


def yuan(fen: int) -> str:
    """123450 → '1234.50': exact, from integers, in the form the member import parses back to the same fen."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def iso_date(value: Any) -> str | None:
    """A date as exports write it ('2024-01-02'); a moment gives its day."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def iso_moment(value: Any) -> str | None:
    """A moment as exports write it, to the second ('2024-01-02 09:30:00')."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return str(value)[:19]


# --- paging ------------------------------------------------------------------------------------------------------


def _pages(make_query: Callable[[int], peewee.Query], page_size: int,
           progress: Progress | None = None) -> Iterator[list[tuple]]:
    """Keyset pages of tuples whose first column is the increasing id ``make_query(last_id)`` continues after.
    No read transaction stays open between pages, so desks keep writing while a big export runs. ``progress``
    hears after each page how far the ids have come from the first row's towards the table's highest (one index
    lookup: no count of a filtered table), and the whole at the end."""
    last = 0
    top = 0
    first: int | None = None  # the id before the first row's (0 when the table starts at id 1)
    if progress is not None:
        model = make_query(0).model
        top = model.select(peewee.fn.MAX(model._meta.primary_key)).scalar() or 0
    try:
        while True:
            page = list(make_query(last).limit(page_size).tuples())
            if not page:
                return
            if first is None:
                first = page[0][0] - 1
            yield page
            if len(page) < page_size:
                return
            last = page[-1][0]
            if progress is not None:
                progress(last - first, max(top - first, last - first))
    finally:
        if progress is not None:
            progress(1, 1)


@dataclass(frozen=True)
class _Period:
    start: dt.date | None  # the first and last days, inclusive: each store's own calendar days
    end: dt.date | None
    store_ids: list[int] | None  # the store named and the stores below it (None: every store)


def _stores(store: str | None) -> list[int] | None:
    """The store named (a region or HQ: with every store below it), as ids; None without one."""
    from mms_tui.services.staff.stores import subtree

    return subtree(resolve_store(store)) if store else None


def _period(start: dt.date | None, end: dt.date | None, store: str | None) -> _Period:
    checked_day(start)
    checked_day(end)
    if start and end and start > end:
        raise InvalidInput(_("The period starts after it ends ({start} > {end}).").format(start=start, end=end))
    return _Period(start, end, _stores(store))


def _in_period(query: peewee.Query, store: peewee.Field, p: _Period) -> peewee.Query:
    """``query`` (of transactions) narrowed to the period's days, inclusive — the store's calendar day of each
    (``Transaction.local_day``), as the reports count them — and to its stores; ``where`` calls are ANDed."""
    # (with a moment two days wider on each side, which any zone's day lies within: the index on created_at)
    if p.start is not None:
        query = query.where((Transaction.local_day >= p.start)
                            & (Transaction.created_at >= p.start - dt.timedelta(days=2)))
    if p.end is not None:
        query = query.where((Transaction.local_day <= p.end)
                            & (Transaction.created_at < p.end + dt.timedelta(days=3)))
    if p.store_ids is not None:
        query = query.where(store.in_(p.store_ids))
    return query


# --- members -----------------------------------------------------------------------------------------------------


def member_rows(store: str | None = None, *, page_size: int = PAGE_SIZE,
                progress: Progress | None = None) -> Iterator[Row]:
    """One row per card (a member without a card: one row, card columns empty), keys = MEMBER_COLUMNS."""
    return _member_rows(_stores(store), page_size, progress)


def _member_rows(store_ids: list[int] | None, page_size: int, progress: Progress | None) -> Iterator[Row]:
    def members(last: int) -> peewee.Query:
        query = (
            Member.select(Member.id, Member.name, Member.phone, Member.gender, Member.birthday, Tier.code,
                          Member.notes, Member.created_at, Store.code)
            .join(Tier, on=(Member.tier == Tier.id))
            .switch(Member).join(Store, peewee.JOIN.LEFT_OUTER, on=(Member.home_store == Store.id))
            .where(Member.id > last)
            .order_by(Member.id)
        )
        return query.where(Member.home_store.in_(store_ids)) if store_ids is not None else query

    no_card = dict.fromkeys(MEMBER_COLUMNS[MEMBER_COLUMNS.index("card_no"):])
    for page in _pages(members, page_size, progress):
        cards: dict[int, list[tuple]] = defaultdict(list)
        query = (
            Card.select(Card.member, Card.card_no, CardType.code, Card.status, Card.principal_fen, Card.bonus_fen,
                        Card.points, Card.visits_left, Card.valid_from, Card.valid_until, Card.reader_uid,
                        Card.barcode)
            .join(CardType)
            .where(Card.member.in_([m[0] for m in page]))
            .order_by(Card.member, Card.id)
            .tuples()
        )
        for card in query:
            cards[card[0]].append(card)
        for member_id, name, phone, gender, birthday, tier, notes, created, home in page:
            person = {"name": name, "phone": phone, "gender": gender or "", "birthday": iso_date(birthday),
                      "tier": tier, "notes": notes or "", "joined": iso_date(created), "store": home or ""}
            if not cards[member_id]:
                yield {**person, **no_card}
            for (_m, card_no, ctype, status, principal, bonus, points, visits, valid_from, valid_until, uid,
                 barcode) in cards.pop(member_id, ()):
                yield {**person, "card_no": card_no, "card_type": ctype, "status": status,
                       "balance": yuan(principal), "bonus": yuan(bonus), "points": int(points),
                       "visits": int(visits), "valid_from": iso_date(valid_from), "valid_until": iso_date(valid_until),
                       "reader_uid": uid, "barcode": barcode}


# --- cards -------------------------------------------------------------------------------------------------------


def card_rows(store: str | None = None, *, page_size: int = PAGE_SIZE,
              progress: Progress | None = None) -> Iterator[Row]:
    """One row per card with its member and cached balances (money in fen). ``store``: cards bound to it."""
    return _card_rows(_stores(store), page_size, progress)


def _card_rows(store_ids: list[int] | None, page_size: int, progress: Progress | None) -> Iterator[Row]:
    def cards(last: int) -> peewee.Query:
        query = (
            Card.select(Card.id, Card.card_no, Card.reader_uid, Card.barcode, CardType.code, CardType.kind,
                        Card.status, Member.phone, Member.name, Card.principal_fen, Card.bonus_fen, Card.points,
                        Card.visits_left, Card.valid_from, Card.valid_until, Store.code, Card.issued_at)
            .join(CardType)
            .switch(Card).join(Member)
            .switch(Card).join(Store, peewee.JOIN.LEFT_OUTER, on=(Card.store == Store.id))
            .where(Card.id > last)
            .order_by(Card.id)
        )
        return query.where(Card.store.in_(store_ids)) if store_ids is not None else query

    for page in _pages(cards, page_size, progress):
        for (_id, card_no, uid, barcode, ctype, kind, status, phone, name, principal, bonus, points, visits,
             valid_from, valid_until, store, issued) in page:
            yield {"card_no": card_no, "reader_uid": uid, "barcode": barcode, "card_type": ctype, "kind": kind,
                   "status": status, "member_phone": phone, "member_name": name, "principal_fen": int(principal),
                   "bonus_fen": int(bonus), "points": int(points), "visits_left": int(visits),
                   "valid_from": iso_date(valid_from), "valid_until": iso_date(valid_until), "store": store,
                   "issued_at": iso_moment(issued)}


# --- ledger ------------------------------------------------------------------------------------------------------


def ledger_rows(start: dt.date | None = None, end: dt.date | None = None, store: str | None = None, *,
                page_size: int = PAGE_SIZE, progress: Progress | None = None) -> Iterator[Row]:
    """One row per entry, signed, in integer units (fen, pt, visit). Paged by transaction, so every transaction
    arrives whole and its entries of each unit sum to zero in the file as in the books."""
    return _ledger_rows(_period(start, end, store), page_size, progress)


def _ledger_rows(p: _Period, page_size: int, progress: Progress | None) -> Iterator[Row]:
    Original = Transaction.alias()

    def transactions(last: int) -> peewee.Query:
        query = (
            Transaction.select(Transaction.id, Transaction.txid, Transaction.kind, Transaction.created_at,
                               Store.code, Staff.code, Member.phone, Original.txid)
            .join(Store, on=(Transaction.store == Store.id))
            .switch(Transaction).join(Staff, on=(Transaction.staff == Staff.id))
            .switch(Transaction).join(Member, peewee.JOIN.LEFT_OUTER, on=(Transaction.member == Member.id))
            .switch(Transaction).join(Original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == Original.id))
            .where(Transaction.id > last)
            .order_by(Transaction.id)
        )
        return _in_period(query, Transaction.store, p)

    for page in _pages(transactions, page_size, progress):
        entries: dict[int, list[tuple]] = defaultdict(list)
        query = (
            Entry.select(Entry.transaction, Entry.account, Card.card_no, Entry.unit, Entry.amount)
            .join(Card, peewee.JOIN.LEFT_OUTER, on=(Entry.card == Card.id))
            .where(Entry.transaction.in_([t[0] for t in page]))
            .order_by(Entry.transaction, Entry.id)
            .tuples()
        )
        for entry in query:
            entries[entry[0]].append(entry)
        for tx_id, txid, kind, created, store, staff, phone, reverses in page:
            for _tx, account, card_no, unit, amount in entries.pop(tx_id, ()):
                yield {"txid": txid, "kind": kind, "created_at": iso_moment(created), "store": store, "staff": staff,
                       "member_phone": phone, "account": account, "card_no": card_no, "unit": unit,
                       "amount": int(amount), "reverses": reverses}


# --- sales -------------------------------------------------------------------------------------------------------


def sale_rows(start: dt.date | None = None, end: dt.date | None = None, store: str | None = None, *,
              page_size: int = PAGE_SIZE, progress: Progress | None = None) -> Iterator[Row]:
    """One row per sale: totals in fen, what each tender paid, and the lines as text ('精剪×1; 矿泉水×2')."""
    return _sale_rows(_period(start, end, store), page_size, progress)


def _sale_rows(p: _Period, page_size: int, progress: Progress | None) -> Iterator[Row]:
    def sales(last: int) -> peewee.Query:
        query = (
            Sale.select(Sale.id, Transaction.txid, Transaction.created_at, Store.code, Staff.code, Member.phone,
                        Sale.subtotal_fen, Sale.discount_fen, Sale.total_fen, Sale.change_fen, Sale.points_earned,
                        Sale.status)
            .join(Transaction, on=(Sale.transaction == Transaction.id))
            .switch(Sale).join(Store, on=(Sale.store == Store.id))
            .switch(Sale).join(Staff, on=(Sale.staff == Staff.id))
            .switch(Sale).join(Member, peewee.JOIN.LEFT_OUTER, on=(Sale.member == Member.id))
            .where(Sale.id > last)
            .order_by(Sale.id)
        )
        return _in_period(query, Sale.store, p)

    for page in _pages(sales, page_size, progress):
        ids = [s[0] for s in page]
        lines: dict[int, list[str]] = defaultdict(list)
        for sale_id, name, qty in (
            SaleLine.select(SaleLine.sale, SaleLine.name, SaleLine.qty)
            .where(SaleLine.sale.in_(ids)).order_by(SaleLine.sale, SaleLine.id).tuples()
        ):
            lines[sale_id].append(f"{name}×{qty}")
        paid: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SALE_TENDERS, 0))
        for sale_id, tender, amount in (
            Payment.select(Payment.sale, Payment.tender, Payment.amount_fen).where(Payment.sale.in_(ids)).tuples()
        ):
            paid[sale_id][tender] = paid[sale_id].get(tender, 0) + int(amount)
        for (sale_id, txid, created, store, staff, phone, subtotal, discount, total, change, points,
             status) in page:
            tenders = paid[sale_id]
            yield {"txid": txid, "created_at": iso_moment(created), "store": store, "staff": staff,
                   "member_phone": phone, "subtotal_fen": int(subtotal), "discount_fen": int(discount),
                   "total_fen": int(total), "change_fen": int(change), "points_earned": int(points),
                   "status": status, **{f"{t}_fen": tenders.get(t, 0) for t in SALE_TENDERS},
                   "lines": "; ".join(lines.pop(sale_id, ()))}
            paid.pop(sale_id, None)


PRICE_COLUMNS = ("code", "kind", "name", "list", "list_name", "store", "price", "list_price")


def price_rows(store: str | None = None) -> Iterator[Row]:
    """Every price of the price lists (``mms prices export``): a file ``mms prices import`` reads back."""
    from mms_tui.services.catalogue.prices import list_prices

    for p in list_prices(store=store):
        yield {"code": p.item, "kind": p.kind, "name": p.name, "list": p.list, "list_name": p.list_name,
               "store": p.store, "price": yuan(p.price_fen), "list_price": yuan(p.list_price_fen)}


#: export name → (columns, whether --from/--to apply)
TABLES: dict[str, tuple[tuple[str, ...], bool]] = {
    "members": (MEMBER_COLUMNS, False),
    "cards": (CARD_COLUMNS, False),
    "ledger": (LEDGER_COLUMNS, True),
    "sales": (SALE_COLUMNS, True),
    "prices": (PRICE_COLUMNS, False),
}


def table_rows(name: str, *, start: dt.date | None = None, end: dt.date | None = None, store: str | None = None,
               page_size: int = PAGE_SIZE, progress: Progress | None = None) -> Iterator[Row]:
    """The rows of one export, as a generator. Arguments are checked now, before any file is opened.
    ``progress``: told how far a long table has come (the price lists are short: not told)."""
    if name not in TABLES:
        raise InvalidInput(_("Cannot export {name!r}; choose one of {names}.").format(
            name=name, names=", ".join([*TABLES, "member"])))
    if (start or end) and not TABLES[name][1]:
        raise InvalidInput(_("--from and --to apply to the ledger and sales exports only."))
    if name == "members":
        return member_rows(store, page_size=page_size, progress=progress)
    if name == "cards":
        return card_rows(store, page_size=page_size, progress=progress)
    if name == "ledger":
        return ledger_rows(start, end, store, page_size=page_size, progress=progress)
    if name == "prices":
        return price_rows(store)
    return sale_rows(start, end, store, page_size=page_size, progress=progress)


