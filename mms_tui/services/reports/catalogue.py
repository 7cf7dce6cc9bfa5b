"""Reports for the owner and the accountant: rows of plain values (money in ``*_fen`` integers), one function each.

Every report takes the same arguments — ``start`` and ``end`` dates (inclusive; ``end`` defaults to today and
``start`` to 30 days before), and an optional store code — and yields dicts with the same keys on every row, so
the CLI can print any of them as a table, CSV or JSON.

They must answer in under two seconds on a million members and five million ledger entries (issue #5;
``scripts/bench.py reports``, figures in BENCHMARKS.md), so the database does the adding up: each report is a few
``GROUP BY`` queries, and the big ones read along an index (migration 2) in the order they group by, so SQLite
need not sort a year of rows. Dated reports group by calendar day, and the few day rows are bucketed into weeks
or months here. Python only touches what is left — a row per day and tender or category, card type, store hour —
never one per sale or entry (segments: one per member seen in the last 180 days). Sums come back as integers on
SQLite and as ``Decimal`` on PostgreSQL, hence the ``int()`` around each.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import peewee

from mms_tui import clock
from mms_tui.db import database, is_sqlite
from mms_tui.i18n import N_, _
from mms_tui.models import (
    AuditEvent,
    Card,
    CardType,
    Entry,
    Member,
    Moment,
    Payment,
    Product,
    Sale,
    SaleLine,
    ServiceItem,
    Staff,
    Store,
    Tier,
    Transaction,
    Visit,
)
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import as_date, checked_day, resolve_store, today
from mms_tui.services.base.text import mask_phone
from mms_tui.services.loyalty.segments import SEGMENT_RULES, segment_of

Row = dict[str, object]
TENDER_COLUMNS = ("cash", "bank_card", "wechat", "alipay", "stored_value", "points")


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    store_id: int | None

    @property
    def start_dt(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def end_dt(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())

    def tx_filter(self) -> peewee.Expression:
        """Transactions of any kind made in the period (at its store), by their timestamp."""
        where = (Transaction.created_at >= self.start_dt) & (Transaction.created_at < self.end_dt)
        if self.store_id is not None:
            where &= Transaction.store == self.store_id
        return where

    def kind_filter(self, *kinds: str) -> peewee.Expression:
        """Transactions of these kinds made in the period (at its store). Said by the store's calendar day,
        because the index (kind, local_day, created_at) hands them over in day order: a GROUP BY day then reads it
        without sorting. The same transactions as ``tx_filter``: local_day is in [start, end] exactly when
        created_at is in [start_dt, end_dt)."""
        day = Transaction.local_day
        where = Transaction.kind.in_(kinds) & (day >= self.start) & (day <= self.end)
        if self.store_id is not None:
            where &= Transaction.store == self.store_id
        return where


def period(start: dt.date | None, end: dt.date | None, store: str | None) -> Period:
    checked_day(start)
    end = checked_day(end) or today()
    start = start or end - dt.timedelta(days=30)
    if start > end:
        raise InvalidInput(_("The period starts after it ends ({start} > {end}).").format(start=start, end=end))
    return Period(start, end, resolve_store(store).id if store else None)


def _sum_if(condition: peewee.Expression, amount: peewee.Node) -> peewee.Node:
    """SUM of ``amount`` over the rows where ``condition`` holds, NULL when there are none: one column per
    tender or category, so one pass grouped by day replaces a pass grouped by (day, tender) that must sort."""
    return peewee.fn.SUM(peewee.Case(None, [(condition, amount)]))


def _count_if(condition: peewee.Expression) -> peewee.Node:
    return peewee.fn.SUM(peewee.Case(None, [(condition, 1)], 0))


def _quarter_hour_of(column: peewee.Node) -> peewee.Node:
    """The stored (UTC) moment cut to its quarter hour, for grouping: the store's hour of each quarter is worked
    out afterwards, exactly even in zones half or three quarters of an hour off UTC. SQLite cuts its text,
    PostgreSQL its timestamp."""
    if is_sqlite():
        minute = peewee.fn.printf("%02d", peewee.fn.substr(column, 15, 2).cast("INTEGER") / 15 * 15)
        return peewee.fn.substr(column, 1, 14).concat(minute)
    return peewee.fn.date_trunc("hour", column) + peewee.fn.floor(
        peewee.fn.date_part("minute", column) / 15) * peewee.SQL("interval '15 minutes'")


def _moment(value: object) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _bucket(day: dt.date, by: str) -> str:
    if by == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return monday.isoformat()
    if by == "month":
        return day.strftime("%Y-%m")
    return day.isoformat()


# --- turnover ----------------------------------------------------------------------------------------------------


def _categories() -> list[str]:
    """The categories a sale line is likely to carry: the catalogue's, and none ("")."""
    found = {c for (c,) in Product.select(Product.category).distinct().tuples()}
    found |= {c for (c,) in ServiceItem.select(ServiceItem.category).distinct().tuples()}
    return sorted(found | {""})


def turnover(p: Period, by: str = "day") -> Iterator[Row]:
    """Sales per day (week, month) by tender and by category (one ``<category>_fen`` column each, after the
    tenders); a refund counts, negatively, on the day it was made.

    A sale is always its checkout's transaction, so the sales are the period's checkout transactions; tenders and
    the catalogue's categories are columns of one pass each (a line of a category the catalogue no longer has
    takes a second, sorted pass). Refunds are few and are summed per day and tender or category directly.
    """
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    categories: set[str] = set()
    day = Transaction.local_day
    sold = p.kind_filter("checkout")

    def add_category(r: dict[str, int], category: str, amount: object, sign: int = 1) -> None:
        category = category or _("uncategorised")
        categories.add(category)
        r[f"category:{category}"] += sign * int(amount)  # type: ignore[call-overload]

    for created, count, total in (
        Sale.select(day, peewee.fn.COUNT(Sale.id), peewee.fn.SUM(Sale.total_fen))
        .join(Transaction).where(sold).group_by(day).tuples()
    ):
        r = rows[_bucket(as_date(created), by)]
        r["sales"] += int(count)
        r["sales_fen"] += int(total)
    for created, *amounts in (
        Payment.select(day, *[_sum_if(Payment.tender == t, Payment.amount_fen) for t in TENDER_COLUMNS])
        .join(Sale).join(Transaction).where(sold).group_by(day).tuples()
    ):
        r = rows[_bucket(as_date(created), by)]
        for tender, amount in zip(TENDER_COLUMNS, amounts, strict=True):
            r[f"{tender}_fen"] += int(amount or 0)
    known = _categories()
    others = False
    for created, *amounts, unknown in (
        SaleLine.select(day, *[_sum_if(SaleLine.category == c, SaleLine.line_total_fen) for c in known],
                        _count_if(SaleLine.category.not_in(known)))
        .join(Sale).join(Transaction).where(sold).group_by(day).tuples()
    ):
        r = rows[_bucket(as_date(created), by)]
        for category, amount in zip(known, amounts, strict=True):
            if amount is not None:  # NULL: no line of it that day
                add_category(r, category, amount)
        others = others or bool(unknown)
    if others:
        for created, category, amount in (
            SaleLine.select(day, SaleLine.category, peewee.fn.SUM(SaleLine.line_total_fen))
            .join(Sale).join(Transaction).where(sold & SaleLine.category.not_in(known))
            .group_by(day, SaleLine.category).tuples()
        ):
            add_category(rows[_bucket(as_date(created), by)], category, amount)
    refunded = p.kind_filter("refund")
    gives_back = Sale.transaction == Transaction.reverses  # the refund's original sale
    for created, count, total in (
        Transaction.select(day, peewee.fn.COUNT(Sale.id), peewee.fn.SUM(Sale.total_fen))
        .join(Sale, on=gives_back).where(refunded).group_by(day).tuples()
    ):
        r = rows[_bucket(as_date(created), by)]
        r["refunds"] += int(count)
        r["refunds_fen"] += int(total)
    for created, tender, amount in (
        Transaction.select(day, Payment.tender, peewee.fn.SUM(Payment.amount_fen))
        .join(Sale, on=gives_back).join(Payment, on=(Payment.sale == Sale.id))
        .where(refunded).group_by(day, Payment.tender).tuples()
    ):
        rows[_bucket(as_date(created), by)][f"{tender}_fen"] -= int(amount)
    for created, category, amount in (
        Transaction.select(day, SaleLine.category, peewee.fn.SUM(SaleLine.line_total_fen))
        .join(Sale, on=gives_back).join(SaleLine, on=(SaleLine.sale == Sale.id))
        .where(refunded).group_by(day, SaleLine.category).tuples()
    ):
        add_category(rows[_bucket(as_date(created), by)], category, amount, -1)
    for key in sorted(rows):
        r = rows[key]
        yield {
            "period": key,
            "sale_count": r["sales"],
            "sales_fen": r["sales_fen"],
            "refund_count": r["refunds"],
            "refunds_fen": r["refunds_fen"],
            "net_fen": r["sales_fen"] - r["refunds_fen"],
            **{f"{t}_fen": r[f"{t}_fen"] for t in TENDER_COLUMNS},
            **{f"{c}_fen": r[f"category:{c}"] for c in sorted(categories)},
        }


def topups(p: Period, by: str = "day") -> Iterator[Row]:
    """Top-ups and bonus value given, per day and tender (refunded top-ups count negatively on their refund day)."""
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    Original = Transaction.alias()
    Tender = Entry.alias()  # a top-up's one tender entry says how it was paid
    day = Transaction.local_day
    query = (
        Transaction.select(day, Transaction.kind, Tender.account, peewee.fn.COUNT(peewee.fn.DISTINCT(Transaction.id)),
                           _sum_if(Entry.account == "card.principal", Entry.amount),
                           _sum_if(Entry.account == "card.bonus", Entry.amount))
        .join(Tender, on=((Tender.transaction == Transaction.id) & Tender.account.startswith("tender.")))
        .join(Entry, on=(Entry.transaction == Transaction.id))
        .join(Original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == Original.id))
        # a reversal is always a refund's
        .where(p.kind_filter("topup", "refund") & ((Transaction.kind == "topup") | (Original.kind == "topup")))
        .group_by(day, Transaction.kind, Tender.account)
        .tuples()
    )
    for created, kind, tender, count, principal, bonus in query:
        r = rows[(_bucket(as_date(created), by), tender.removeprefix("tender."))]
        r["topups"] += int(count) if kind == "topup" else -int(count)
        r["principal_fen"] += int(principal or 0)
        r["bonus_fen"] += int(bonus or 0)
    for (key, tender) in sorted(rows):
        r = rows[(key, tender)]
        yield {"period": key, "tender": tender, "topup_count": r["topups"], "principal_fen": r["principal_fen"],
               "bonus_fen": r["bonus_fen"]}


#: the card accounts whose balances the business owes, and the liability report's column for each
CARD_BALANCES = (("card.principal", "principal_fen"), ("card.bonus", "bonus_fen"), ("card.points", "points"),
                 ("card.visits", "visits"))


def _card_entry_sums(query: peewee.ModelSelect, sign: int, store: peewee.Node, *group: peewee.Node
                     ) -> peewee.ModelSelect:
    """card type, store, ±Σ principal, ±Σ bonus, ±Σ points, ±Σ visits, ±entries: of the card entries ``query``
    joins, per card type (and ``group``)."""
    sums = [_sum_if(Entry.account == account, Entry.amount) * sign for account, _column in CARD_BALANCES]
    return query.select(Card.card_type, store, *sums, peewee.fn.COUNT(Entry.id) * sign).group_by(Card.card_type, *group)


def liability(p: Period, by: str = "day") -> Iterator[Row]:
    """What the business still owes its members at the end of the period: stored value (principal and bonus
    apart), points and visits, per card type — from the ledger, so it is exact at any past date.

    The whole card ledger is added up per card type in one pass over the covering index (card, account, amount),
    in card-type order so nothing is sorted, and what was posted after the period is taken off again: found from
    the transactions' dates, nothing or little for a period ending lately (the further back, the longer it
    takes). One statement, so both halves read the same moment of the database while the desk goes on. A card
    type is listed when it has entries by the end of the period.
    """
    everything = Card.select().join(Entry, on=(Entry.card == Card.id))
    if p.store_id is not None:
        everything = everything.where(Card.store == p.store_id)
    # what came later is summed per store and picked out here, and its transactions are a list to look entries up
    # by: with a store condition, or a join, SQLite goes through every card or entry instead of the few late ones
    later = (Card.select().join(Entry, on=(Entry.card == Card.id))
             .where(Entry.transaction.in_(Transaction.select(Transaction.id).where(Transaction.created_at >= p.end_dt))))
    query = (_card_entry_sums(everything, 1, peewee.Value(p.store_id))
             + _card_entry_sums(later, -1, Card.store, Card.store))  # UNION ALL
    totals: dict[int, list[int]] = {}
    for type_id, store_id, *values in query.tuples():
        if p.store_id is not None and store_id != p.store_id:
            continue
        so_far = totals.get(type_id, [0] * len(values))
        totals[type_id] = [a + int(b or 0) for a, b in zip(so_far, values, strict=True)]
    names = dict(CardType.select(CardType.id, CardType.name).tuples())
    by_name: dict[str, list[int]] = {}
    for type_id, values in totals.items():
        if values[-1] > 0:  # it has entries up to the end of the period
            named = by_name.get(names[type_id], [0] * len(values))
            by_name[names[type_id]] = [a + b for a, b in zip(named, values, strict=True)]
    grand: dict[str, int] = defaultdict(int)
    for name in sorted(by_name):
        row: Row = {"card_type": name}
        for (_account, column), amount in zip(CARD_BALANCES, by_name[name], strict=False):
            row[column] = amount
            grand[column] += amount
        yield row
    yield {"card_type": _("Total"), **grand}


def visits(p: Period, by: str = "day") -> Iterator[Row]:
    """Check-ins per hour of day and weekday (the busy hours), per store; reversed check-ins left out."""
    counts: dict[tuple[str, int, int], int] = defaultdict(int)
    quarter = _quarter_hour_of(Transaction.created_at)
    query = (
        Visit.select(Store.name, quarter, peewee.fn.COUNT(Visit.id))
        .join(Transaction).switch(Visit).join(Store)
        .where(p.kind_filter("checkin") & (Visit.status == "ok"))  # a visit is always its check-in's transaction
        .group_by(Store.name, quarter)
        .tuples()
    )
    for store, started, n in query:  # one row per store and quarter hour of the period
        moment = clock.from_utc(_moment(started))
        counts[(store, moment.isoweekday(), moment.hour)] += int(n)
    for (store, weekday, hour_of_day) in sorted(counts):
        yield {"store": store, "weekday": weekday, "hour": f"{hour_of_day:02d}:00",
               "check_ins": counts[(store, weekday, hour_of_day)]}


def staff(p: Period, by: str = "day") -> Iterator[Row]:
    """Sales and services per staff member (refunded sales left out)."""
    query = (
        SaleLine.select(Staff.code, Staff.name, SaleLine.service.is_null(False), peewee.fn.SUM(SaleLine.qty),
                        peewee.fn.SUM(SaleLine.line_total_fen), peewee.fn.COUNT(peewee.fn.DISTINCT(Sale.id)))
        .join(Sale).join(Transaction).switch(Sale).join(Staff)
        .where(p.kind_filter("checkout") & (Sale.status == "paid"))
        .group_by(Staff.code, Staff.name, SaleLine.service.is_null(False))
        .tuples()
    )
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for code, name, is_service, qty, total, sales in query:
        r = rows[(code, name)]
        r["sales"] = max(r["sales"], int(sales))
        r["services" if is_service else "products"] += int(qty)
        r["revenue_fen"] += int(total)
    for (code, name), r in sorted(rows.items(), key=lambda kv: (-kv[1]["revenue_fen"], kv[0])):
        yield {"staff": code, "name": name, "services": r["services"], "products": r["products"],
               "revenue_fen": r["revenue_fen"]}


def products(p: Period, by: str = "day") -> Iterator[Row]:
    """Best sellers and services by revenue (refunded sales left out)."""
    is_service = SaleLine.service.is_null(False)
    revenue = peewee.fn.SUM(SaleLine.line_total_fen)
    query = (
        SaleLine.select(SaleLine.code, SaleLine.name, SaleLine.category, is_service, peewee.fn.SUM(SaleLine.qty),
                        revenue)
        .join(Sale).join(Transaction)
        .where(p.kind_filter("checkout") & (Sale.status == "paid"))
        .group_by(SaleLine.code, SaleLine.name, SaleLine.category, is_service)
        .order_by(revenue.desc(), SaleLine.code, SaleLine.name, SaleLine.category, is_service)
        .tuples()
    )
    for code, name, category, service, qty, total in query:
        yield {"code": code, "name": name, "category": category, "kind": "service" if service else "product",
               "qty": int(qty), "revenue_fen": int(total)}


def cards(p: Period, by: str = "day") -> Iterator[Row]:
    """Cards per type: issued in the period, and how many are active, frozen, lost, expired; ending in 30 days.

    One pass over the index (card type, status, valid until, issued at, store), grouped in its order.
    """
    soon = p.end + dt.timedelta(days=30)
    active = Card.status == "active"
    # an active card past its end date counts as expired; the desk refuses it the same way
    lapsed = active & (Card.valid_until < p.end)
    issued = (Card.issued_at >= p.start_dt) & (Card.issued_at < p.end_dt)
    ending = active & (Card.valid_until >= p.end) & (Card.valid_until <= soon)
    query = Card.select(Card.card_type, Card.status, peewee.fn.COUNT(Card.id), _count_if(lapsed), _count_if(issued),
                        _count_if(ending)).group_by(Card.card_type, Card.status)
    if p.store_id is not None:
        query = query.where(Card.store == p.store_id)
    names = dict(CardType.select(CardType.id, CardType.name).tuples())
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for type_id, status, count, lapsed_count, issued_count, ending_count in query.tuples():
        r = rows[names[type_id]]
        r[status] += int(count) - int(lapsed_count)
        r["expired"] += int(lapsed_count)
        r["issued"] += int(issued_count)
        r["ending_30d"] += int(ending_count)
    for name in sorted(rows):
        r = rows[name]
        yield {"card_type": name, "issued": r["issued"], "active": r["active"], "frozen": r["frozen"],
               "lost": r["lost"], "expired": r["expired"], "cancelled": r["cancelled"], "ending_30d": r["ending_30d"]}


def tiers(p: Period, by: str = "day") -> Iterator[Row]:
    """Members per tier now, and upgrades into each tier during the period."""
    counts = dict(
        Member.select(Member.tier, peewee.fn.COUNT(Member.id)).group_by(Member.tier).tuples()
    )
    upgrades: dict[str, int] = defaultdict(int)
    events = AuditEvent.select(AuditEvent.payload).where(
        (AuditEvent.action == "member.tier_up") & (AuditEvent.created_at >= p.start_dt)
        & (AuditEvent.created_at < p.end_dt)
    )
    if p.store_id is not None:
        events = events.where(AuditEvent.store == p.store_id)
    for (payload,) in events.tuples().iterator():
        upgrades[json.loads(payload)["to"]] += 1
    for tier in Tier.select().order_by(Tier.rank):
        yield {"tier": tier.name, "code": tier.code, "members": counts.get(tier.id, 0),
               "upgrades": upgrades.get(tier.code, 0), "threshold_fen": tier.upgrade_spend_fen}




def segments(p: Period, by: str = "day") -> Iterator[Row]:
    """Members by recency, frequency and monetary value as of the end of the period, with the rule used.

    A member not seen for 180 days is "lost" unless they joined in the last 30 ("new"), so the database counts
    those; only the members seen lately come back, a row each with their last sale and visit and a year's sales
    and spend (read from the indexes (member, status, created_at, …) of sales and visits), for ``segment_of``.
    """
    def since(days: int) -> dt.datetime:
        return dt.datetime.combine(p.end - dt.timedelta(days=days), dt.time())

    recent, new = since(180), since(30)
    paid = (Sale.status == "paid") & (Sale.created_at < p.end_dt)
    came = (Visit.status == "ok") & (Visit.created_at < p.end_dt)
    members = Member.select().where(Member.created_at < p.end_dt)
    if p.store_id is not None:
        members = members.where(Member.home_store == p.store_id)
    total, joined_lately = members.select(peewee.fn.COUNT(Member.id), _count_if(Member.created_at >= new)).tuples().get()
    total, joined_lately = int(total or 0), int(joined_lately or 0)
    seen_lately = (
        Sale.select(Sale.member).where(Sale.member.is_null(False) & paid & (Sale.created_at >= recent))
        | Visit.select(Visit.member).where(came & (Visit.created_at >= recent))
    )
    # a check-in older than 180 days cannot make anyone more than "lost": only the last 180 are looked at
    last_visit = Visit.select(peewee.fn.MAX(Visit.created_at)).where(
        (Visit.member == Member.id) & came & (Visit.created_at >= recent))
    lately = (
        members.select(Member.created_at, peewee.fn.MAX(Sale.created_at).coerce(False), peewee.fn.COUNT(Sale.id),
                       peewee.fn.SUM(Sale.total_fen), last_visit)
        .join(Sale, peewee.JOIN.LEFT_OUTER,
              on=((Sale.member == Member.id) & paid & (Sale.created_at >= since(365))))
        .where(Member.id.in_(seen_lately))
        .group_by(Member.id)
    )
    counts: dict[str, int] = defaultdict(int)
    looked_at = new_looked_at = 0
    # the store's days of the stored UTC moments: what joined before the year looked at is only "not new"
    day_of = clock.LocalDays(p.end - dt.timedelta(days=366), p.end)
    for joined, last_sale, sales, spend, visited in database.execute(lately).fetchall():  # plain rows, fast
        # moments as ISO strings (SQLite) or datetimes (PostgreSQL): either way they order as moments do
        last = last_sale if visited is None or (last_sale is not None and last_sale > visited) else visited
        segment = segment_of(day_of(joined), day_of(last), int(sales), int(spend or 0), p.end)
        counts[segment] += 1
        looked_at += 1
        new_looked_at += segment == "new"
    counts["new"] += joined_lately - new_looked_at
    counts["lost"] += total - looked_at - (joined_lately - new_looked_at)
    for name, rule in SEGMENT_RULES:
        yield {"segment": name, "members": counts.get(name, 0), "rule": _(rule)}


# --- birthdays ---------------------------------------------------------------------------------------------------


def birthday_in(born: dt.date, year: int) -> dt.date:
    """The day a birthday falls on in ``year``: 29 February is kept on 28 February in other years (as the desk's
    birthday window keeps it)."""
    if (born.month, born.day) == (2, 29) and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return born.replace(year=year)


def _month_day(column: peewee.Node) -> peewee.Node:
    """'MM-DD' of a date column: SQLite's ISO text, PostgreSQL's to_char."""
    if is_sqlite():
        return peewee.fn.substr(column, 6, 5)
    return peewee.fn.to_char(column, "MM-DD")


def birthdays(p: Period, by: str = "day") -> Iterator[Row]:
    """Members whose birthday falls in the period, in date order: the day, name, masked phone, tier, the age they
    turn and their last check-in (empty: never). 29 February counts on 28 February in other years; with a store,
    the members whose home store it is.

    The database picks the members by the month and day they were born (the period's days as a list; a year or
    more takes everyone with a birthday), and each one's last check-in comes from the visits' (member, status,
    created_at) index."""
    last_visit = Visit.select(peewee.fn.MAX(Visit.created_at)).where((Visit.member == Member.id)
                                                                      & (Visit.status == "ok"))
    query = (Member.select(Member.id, Member.name, Member.phone, Member.birthday, Tier.name, last_visit)
             .join(Tier).where(Member.birthday.is_null(False)))
    if (p.end - p.start).days < 365:
        days = [p.start + dt.timedelta(days=n) for n in range((p.end - p.start).days + 1)]
        wanted = {d.strftime("%m-%d") for d in days}
        if any((d.month, d.day) == (2, 28) and not calendar.isleap(d.year) for d in days):
            wanted.add("02-29")
        query = query.where(_month_day(Member.birthday).in_(sorted(wanted)))
    if p.store_id is not None:
        query = query.where(Member.home_store == p.store_id)
    rows = []
    for member_id, name, phone, born, tier, visited in query.tuples().iterator():
        born = as_date(born)
        on = next((d for d in (birthday_in(born, y) for y in range(p.start.year, p.end.year + 1))
                   if p.start <= d <= p.end), None)
        if on is None:
            continue
        rows.append((on, name, member_id, {"date": on.isoformat(), "name": name, "phone": mask_phone(phone),
                                           "tier": tier, "age": on.year - born.year,
                                           "last_visit": str(Moment.from_db(visited))[:16] if visited else ""}))
    for *_key, row in sorted(rows, key=lambda r: r[:3]):
        yield row


#: name → (one-line description, function)
def shifts(p: Period, by: str = "day") -> Iterator[Row]:
    """Shifts opened in the period, oldest first: who, when, the money per tender the ledger says the drawer took,
    and at close the cash expected (with the float), counted, and over (+) or short (−) over all tenders."""
    from mms_tui.models import Shift
    from mms_tui.services.ledger.tenders import MONEY_TENDERS
    from mms_tui.services.money.shifts import shift_summary

    query = Shift.select().where((Shift.opened_at >= p.start_dt) & (Shift.opened_at < p.end_dt))
    if p.store_id is not None:
        query = query.where(Shift.store == p.store_id)
    for shift in query.order_by(Shift.opened_at, Shift.id):
        summary = shift_summary(shift)
        net = summary.net
        yield {"store": summary.store_code, "staff": summary.staff_code, "name": summary.staff_name,
               "opened_at": summary.opened_at, "closed_at": summary.closed_at or "",
               **{f"{t}_fen": net[t] for t in MONEY_TENDERS}, "float_fen": summary.float_fen,
               "cash_expected_fen": summary.expected.get("cash", 0),
               "cash_counted_fen": summary.counted.get("cash") if summary.closed else None,
               "over_short_fen": summary.over_short_fen if summary.closed else None}


REPORTS: dict[str, tuple[str, Callable[..., Iterator[Row]]]] = {
    "turnover": (N_("sales per day/week/month by tender, refunds netted"), turnover),
    "topups": (N_("top-ups and bonus given per day and tender"), topups),
    "liability": (N_("stored value (principal and bonus), points and visits still owed to members"), liability),
    "cards": (N_("cards issued, active, frozen, lost, expired per type; ending in the next 30 days"), cards),
    "visits": (N_("check-ins per weekday and hour (the busy hours), per store"), visits),
    "staff": (N_("sales and services per staff member"), staff),
    "products": (N_("best sellers and services by revenue"), products),
    "tiers": (N_("members per tier, upgrades in the period"), tiers),
    "segments": (N_("members by recency, frequency and spend (loyal, big spenders, at risk, lost…)"), segments),
    "birthdays": (N_("members whose birthday falls in the period: phone, tier, age, last check-in"), birthdays),
    "shifts": (N_("shifts (交班): money per tender, cash expected, counted, over/short"), shifts),
}


def run_report(name: str, start: dt.date | None = None, end: dt.date | None = None, store: str | None = None,
               by: str = "day") -> Iterator[Row]:
    if name not in REPORTS:
        raise InvalidInput(_("No report {name!r}; 'mms report --list' shows them.").format(name=name))
    if by not in ("day", "week", "month"):
        raise InvalidInput(_("--by must be day, week or month."))
    return REPORTS[name][1](period(start, end, store), by)
