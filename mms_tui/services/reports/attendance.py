"""Reports of members coming: the busy hours, the RFM segments, and birthdays in the period."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui import clock
from mms_tui.db import database, is_sqlite
from mms_tui.models import (
    Member,
    Moment,
    Sale,
    Store,
    Tier,
    Transaction,
    Visit,
)
from mms_tui.services.base.resolve import as_date
from mms_tui.services.base.text import mask_phone
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.segments import segment_of, segment_rules
from mms_tui.services.reports.period import Period, Row, count_if, moment_of, quarter_hour_of


def visits(p: Period, by: str = "day") -> Iterator[Row]:
    """Check-ins per hour of day and weekday (the busy hours), per store; reversed check-ins left out."""
    counts: dict[tuple[str, int, int], int] = defaultdict(int)
    quarter = quarter_hour_of(Transaction.created_at)
    query = (
        Visit.select(Store.name, quarter, peewee.fn.COUNT(Visit.id))
        .join(Transaction).switch(Visit).join(Store)
        .where(p.kind_filter("checkin") & (Visit.status == "ok"))  # a visit is always its check-in's transaction
        .group_by(Store.name, quarter)
        .tuples()
    )
    for store, started, n in query:  # one row per store and quarter hour of the period
        moment = clock.from_utc(moment_of(started))
        counts[(store, moment.isoweekday(), moment.hour)] += int(n)
    for (store, weekday, hour_of_day) in sorted(counts):
        yield {"store": store, "weekday": weekday, "hour": f"{hour_of_day:02d}:00",
               "check_ins": counts[(store, weekday, hour_of_day)]}


def segments(p: Period, by: str = "day") -> Iterator[Row]:
    """Members by recency, frequency and monetary value as of the end of the period, with the rule used (the
    thresholds of the rules' ``segments`` section).

    A member not seen for ``lost_days`` is "lost" unless they joined in the last ``new_days`` ("new"), so the
    database counts those; only the members seen lately come back, a row each with their last sale and visit and a
    year's sales and spend (read from the indexes (member, status, created_at, …) of sales and visits), for
    ``segment_of``.
    """
    def since(days: int) -> dt.datetime:
        return dt.datetime.combine(p.end - dt.timedelta(days=days), dt.time())

    terms = load_rules().segments
    recent, new = since(terms.lost_days), since(terms.new_days)
    paid = (Sale.status == "paid") & (Sale.created_at < p.end_dt)
    came = (Visit.status == "ok") & (Visit.created_at < p.end_dt)
    members = p.of_stores(Member.select().where(Member.created_at < p.end_dt), Member.home_store)
    total, joined_lately = members.select(peewee.fn.COUNT(Member.id), count_if(Member.created_at >= new)).tuples().get()
    total, joined_lately = int(total or 0), int(joined_lately or 0)
    seen_lately = (
        Sale.select(Sale.member).where(Sale.member.is_null(False) & paid & (Sale.created_at >= recent))
        | Visit.select(Visit.member).where(came & (Visit.created_at >= recent))
    )
    # a check-in older than lost_days cannot make anyone more than "lost": only those days are looked at
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
        segment = segment_of(day_of(joined), day_of(last), int(sales), int(spend or 0), p.end, terms)
        counts[segment] += 1
        looked_at += 1
        new_looked_at += segment == "new"
    counts["new"] += joined_lately - new_looked_at
    counts["lost"] += total - looked_at - (joined_lately - new_looked_at)
    for name, rule in segment_rules(terms):
        yield {"segment": name, "members": counts.get(name, 0), "rule": rule}


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
    query = p.of_stores(query, Member.home_store)
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
