"""The period every report takes, and the pieces of SQL and bucketing the reports share: sums and counts
under a condition, the stored moment cut to its quarter hour, days into weeks and months."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import dataclass

import peewee

from mms_tui import clock
from mms_tui.db import is_sqlite
from mms_tui.i18n import _
from mms_tui.models import (
    Transaction,
)
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import checked_day, resolve_store, store_zones, today
from mms_tui.services.ledger.tenders import Tender

Row = dict[str, object]


#: the tenders' columns of the money reports, in the tenders' order
TENDER_COLUMNS: tuple[str, ...] = tuple(t.value for t in Tender)


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    #: the stores reported on: the node named and every store below it (None: the whole chain)
    store_ids: tuple[int, ...] | None

    @property
    def start_dt(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def end_dt(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())

    def during(self, column: peewee.Field, store: peewee.Field) -> peewee.Expression:
        """``column`` (a stored moment) within the period's days, each row's days those of its store (``store``:
        the row's store column) — a store's own zone, else the chain's — as the transactions' ``local_day``
        counts them, whatever zone this process runs in; rows of no store, the chain's days. When every store
        concerned keeps this process's zone this is one plain range, the index's."""
        zones = store_zones(self.store_ids)  # (under None the rows of no store, when the whole chain is asked)
        if set(zones.values()) <= {clock.zone_name()}:
            return (column >= self.start_dt) & (column < self.end_dt)
        by_zone: dict[str, list[int | None]] = {}
        for sid, zone in zones.items():
            by_zone.setdefault(zone, []).append(sid)
        if len(by_zone) == 1:
            return self._between(column, next(iter(by_zone)))
        where = []
        for zone, sids in sorted(by_zone.items()):
            ids = sorted(sid for sid in sids if sid is not None)
            at = store.in_(ids) if ids else None
            if None in sids:
                at = store.is_null() if at is None else (at | store.is_null())
            where.append(at & self._between(column, zone))
        return functools.reduce(operator.or_, where)

    def zone(self) -> dt.tzinfo:
        """The zone the period's days are counted in where one zone must serve all its stores (members' join
        days, the activity reports' months): its stores' zone when they share one, else the chain's."""
        found = store_zones()
        chain = found.pop(None)
        zones = {zone for sid, zone in found.items() if self.store_ids is None or sid in self.store_ids}
        return clock.parse_zone(zones.pop() if len(zones) == 1 else chain)

    def midnights(self, days: list[dt.date]) -> list[dt.datetime]:
        """The moments each of ``days`` begins, in :meth:`zone` (aware: a column converts them to UTC)."""
        tz = self.zone()
        return [dt.datetime.combine(d, dt.time(), tzinfo=tz) for d in days]

    def _between(self, column: peewee.Field, zone: str) -> peewee.Expression:
        """The period's days in ``zone``, as aware moments (the column converts them to UTC)."""
        tz = clock.parse_zone(zone)
        return (column >= self.start_dt.replace(tzinfo=tz)) & (column < self.end_dt.replace(tzinfo=tz))

    def at_stores(self, column: peewee.Field) -> peewee.Expression | None:
        """``column`` (a store foreign key) within the period's stores; None for the whole chain. One store is
        said with ``=``."""
        if self.store_ids is None:
            return None
        if len(self.store_ids) == 1:
            return column == self.store_ids[0]
        return column.in_(list(self.store_ids))

    def of_stores(self, query: peewee.ModelSelect, column: peewee.Field) -> peewee.ModelSelect:
        """``query`` kept to the period's stores (by ``column``)."""
        where = self.at_stores(column)
        return query if where is None else query.where(where)

    def holds(self, store_id: int | None) -> bool:
        """Whether a row of this store counts in the period's report."""
        return self.store_ids is None or store_id in self.store_ids

    def tx_filter(self) -> peewee.Expression:
        """Transactions of any kind made in the period (at its stores), by their timestamp."""
        return self._at_tx_stores(self.during(Transaction.created_at, Transaction.store))

    def kind_filter(self, *kinds: str) -> peewee.Expression:
        """Transactions of these kinds made in the period (at its stores). Said by the store's calendar day,
        because the index (kind, local_day, created_at) hands them over in day order: a GROUP BY day then reads it
        without sorting. The same transactions as ``tx_filter``: local_day is in [start, end] exactly when
        created_at is in [start_dt, end_dt)."""
        day = Transaction.local_day
        return self._at_tx_stores(Transaction.kind.in_(kinds) & (day >= self.start) & (day <= self.end))

    def _at_tx_stores(self, where: peewee.Expression) -> peewee.Expression:
        stores = self.at_stores(Transaction.store)
        return where if stores is None else where & stores


def period(start: dt.date | None, end: dt.date | None, store: str | None) -> Period:
    """The period from ``start`` to ``end`` at ``store`` (a code of any node of the tree: it and every store below
    it; None: the whole chain)."""
    from mms_tui.services.staff.stores import subtree

    checked_day(start)
    end = checked_day(end) or today()
    start = start or end - dt.timedelta(days=30)
    if start > end:
        raise InvalidInput(_("The period starts after it ends ({start} > {end}).").format(start=start, end=end))
    return Period(start, end, tuple(subtree(resolve_store(store))) if store else None)


def sum_if(condition: peewee.Expression, amount: peewee.Node) -> peewee.Node:
    """SUM of ``amount`` over the rows where ``condition`` holds, NULL when there are none: one column per
    tender or category, so one pass grouped by day replaces a pass grouped by (day, tender) that must sort."""
    return peewee.fn.SUM(peewee.Case(None, [(condition, amount)]))


def count_if(condition: peewee.Expression) -> peewee.Node:
    return peewee.fn.SUM(peewee.Case(None, [(condition, 1)], 0))


def quarter_hour_of(column: peewee.Node) -> peewee.Node:
    """The stored (UTC) moment cut to its quarter hour, for grouping: the store's hour of each quarter is worked
    out afterwards, exactly even in zones half or three quarters of an hour off UTC. SQLite cuts its text,
    PostgreSQL its timestamp."""
    if is_sqlite():
        minute = peewee.fn.printf("%02d", peewee.fn.substr(column, 15, 2).cast("INTEGER") / 15 * 15)
        return peewee.fn.substr(column, 1, 14).concat(minute)
    return peewee.fn.date_trunc("hour", column) + peewee.fn.floor(
        peewee.fn.date_part("minute", column) / 15) * peewee.SQL("interval '15 minutes'")


def slot_of(column: peewee.Field, edges: list[dt.datetime]) -> peewee.Node:
    """Which of the spans cut by ``edges`` (ascending moments) the stored moment falls in: 0 before the first edge,
    ``i`` from edge ``i - 1`` up to edge ``i``, ``len(edges)`` from the last on — for grouping by months or days
    of a zone without the database knowing zones."""
    return peewee.Case(None, [(column < edge, i) for i, edge in enumerate(edges)], len(edges))


def moment_of(value: object) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def bucket(day: dt.date, by: str) -> str:
    if by == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return monday.isoformat()
    if by == "month":
        return day.strftime("%Y-%m")
    return day.isoformat()
