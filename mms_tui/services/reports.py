"""Reports for the owner and the accountant: rows of plain values (money in ``*_fen`` integers), one function each.

Every report takes the same arguments — ``start`` and ``end`` dates (inclusive; ``end`` defaults to today and
``start`` to 30 days before), and an optional store code — and yields dicts with the same keys on every row, so
the CLI can print any of them as a table, CSV or JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import peewee

from mms_tui.i18n import N_, _
from mms_tui.models import (
    AuditEvent,
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
    Visit,
)
from mms_tui.services.common import resolve_store, today
from mms_tui.services.errors import InvalidInput

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
        where = (Transaction.created_at >= self.start_dt) & (Transaction.created_at < self.end_dt)
        if self.store_id is not None:
            where &= Transaction.store == self.store_id
        return where


def period(start: dt.date | None, end: dt.date | None, store: str | None) -> Period:
    end = end or today()
    start = start or end - dt.timedelta(days=30)
    if start > end:
        raise InvalidInput(_("The period starts after it ends ({start} > {end}).").format(start=start, end=end))
    return Period(start, end, resolve_store(store).id if store else None)


def _day(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _bucket(day: dt.date, by: str) -> str:
    if by == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return monday.isoformat()
    if by == "month":
        return day.strftime("%Y-%m")
    return day.isoformat()


# --- turnover ----------------------------------------------------------------------------------------------------


def turnover(p: Period, by: str = "day") -> Iterator[Row]:
    """Sales per day (week, month) by tender and by category (one ``<category>_fen`` column each, after the
    tenders); a refund counts, negatively, on the day it was made."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sales = (
        Sale.select(Sale.id, Sale.total_fen, Transaction.created_at)
        .join(Transaction)
        .where(p.tx_filter())
        .tuples()
    )
    for _sale_id, total, created in sales:
        r = rows[_bucket(_day(created), by)]
        r["sales"] += 1
        r["sales_fen"] += total
    pays = (
        Payment.select(Payment.tender, Payment.amount_fen, Transaction.created_at)
        .join(Sale).join(Transaction)
        .where(p.tx_filter())
        .tuples()
    )
    for tender, amount, created in pays:
        rows[_bucket(_day(created), by)][f"{tender}_fen"] += amount
    categories: set[str] = set()
    lines = (
        SaleLine.select(SaleLine.category, SaleLine.line_total_fen, Transaction.created_at)
        .join(Sale).join(Transaction)
        .where(p.tx_filter())
        .tuples()
    )
    for category, amount, created in lines:
        category = category or _("uncategorised")
        categories.add(category)
        rows[_bucket(_day(created), by)][f"category:{category}"] += amount
    Original = Transaction.alias()
    refunds = (
        Transaction.select(Transaction.created_at, Sale.id, Sale.total_fen)
        .join(Original, on=(Transaction.reverses == Original.id))
        .join(Sale, on=(Sale.transaction == Original.id))
        .where(p.tx_filter() & (Transaction.kind == "refund"))
        .tuples()
    )
    for created, sale_id, total in refunds:
        r = rows[_bucket(_day(created), by)]
        r["refunds"] += 1
        r["refunds_fen"] += total
        for tender, amount in Payment.select(Payment.tender, Payment.amount_fen).where(Payment.sale == sale_id).tuples():
            r[f"{tender}_fen"] -= amount
        for category, amount in SaleLine.select(SaleLine.category, SaleLine.line_total_fen).where(
                SaleLine.sale == sale_id).tuples():
            category = category or _("uncategorised")
            categories.add(category)
            r[f"category:{category}"] -= amount
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
    query = (
        Entry.select(Transaction.id, Transaction.created_at, Transaction.kind, Entry.account, Entry.amount)
        .join(Transaction)
        .join(Original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == Original.id))
        .where(p.tx_filter() & ((Transaction.kind == "topup") | (Original.kind == "topup")))
        .tuples()
    )
    by_tx: dict = defaultdict(list)
    for tx_id, created, kind, account, amount in query:
        by_tx[(tx_id, created, kind)].append((account, amount))
    for (_tx_id, created, kind), entries in by_tx.items():
        accounts = dict(entries)
        tender = next(a for a in accounts if a.startswith("tender.")).removeprefix("tender.")
        r = rows[(_bucket(_day(created), by), tender)]
        r["topups"] += 1 if kind == "topup" else -1
        r["principal_fen"] += accounts.get("card.principal", 0)
        r["bonus_fen"] += accounts.get("card.bonus", 0)
    for (key, tender) in sorted(rows):
        r = rows[(key, tender)]
        yield {"period": key, "tender": tender, "topup_count": r["topups"], "principal_fen": r["principal_fen"],
               "bonus_fen": r["bonus_fen"]}


def liability(p: Period, by: str = "day") -> Iterator[Row]:
    """What the business still owes its members at the end of the period: stored value (principal and bonus
    apart), points and visits, per card type — from the ledger, so it is exact at any past date."""
    query = (
        Entry.select(CardType.name, Entry.account, peewee.fn.SUM(Entry.amount))
        .join(Transaction, on=(Entry.transaction == Transaction.id))
        .switch(Entry).join(Card, on=(Entry.card == Card.id)).join(CardType)
        .where(Transaction.created_at < p.end_dt)
        .group_by(CardType.name, Entry.account)
        .tuples()
    )
    if p.store_id is not None:
        query = query.where(Card.store == p.store_id)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, account, amount in query:
        totals[name][account] += int(amount)
    grand: dict[str, int] = defaultdict(int)
    for name in sorted(totals):
        t = totals[name]
        row = {"card_type": name, "principal_fen": t["card.principal"], "bonus_fen": t["card.bonus"],
               "points": t["card.points"], "visits": t["card.visits"]}
        for k in ("principal_fen", "bonus_fen", "points", "visits"):
            grand[k] += row[k]  # type: ignore[operator]
        yield row
    yield {"card_type": _("Total"), **grand}


def visits(p: Period, by: str = "day") -> Iterator[Row]:
    """Check-ins per hour of day and weekday (the busy hours), per store; reversed check-ins left out."""
    counts: dict[tuple[str, int, int], int] = defaultdict(int)
    query = (
        Visit.select(Store.name, Transaction.created_at)
        .join(Transaction).switch(Visit).join(Store)
        .where(p.tx_filter() & (Visit.status == "ok"))
        .tuples()
    )
    for store, created in query:
        moment = created if isinstance(created, dt.datetime) else dt.datetime.fromisoformat(str(created))
        counts[(store, moment.isoweekday(), moment.hour)] += 1
    for (store, weekday, hour) in sorted(counts):
        yield {"store": store, "weekday": weekday, "hour": f"{hour:02d}:00", "check_ins": counts[(store, weekday, hour)]}


def staff(p: Period, by: str = "day") -> Iterator[Row]:
    """Sales and services per staff member (refunded sales left out)."""
    query = (
        SaleLine.select(Staff.code, Staff.name, SaleLine.service.is_null(False), peewee.fn.SUM(SaleLine.qty),
                        peewee.fn.SUM(SaleLine.line_total_fen), peewee.fn.COUNT(peewee.fn.DISTINCT(Sale.id)))
        .join(Sale).join(Transaction).switch(Sale).join(Staff)
        .where(p.tx_filter() & (Sale.status == "paid"))
        .group_by(Staff.code, Staff.name, SaleLine.service.is_null(False))
        .tuples()
    )
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for code, name, is_service, qty, total, sales in query:
        r = rows[(code, name)]
        r["sales"] = max(r["sales"], int(sales))
        r["services" if is_service else "products"] += int(qty)
        r["revenue_fen"] += int(total)
    for (code, name), r in sorted(rows.items(), key=lambda kv: -kv[1]["revenue_fen"]):
        yield {"staff": code, "name": name, "services": r["services"], "products": r["products"],
               "revenue_fen": r["revenue_fen"]}


def products(p: Period, by: str = "day") -> Iterator[Row]:
    """Best sellers and services by revenue (refunded sales left out)."""
    query = (
        SaleLine.select(SaleLine.code, SaleLine.name, SaleLine.category, SaleLine.service.is_null(False),
                        peewee.fn.SUM(SaleLine.qty), peewee.fn.SUM(SaleLine.line_total_fen))
        .join(Sale).join(Transaction)
        .where(p.tx_filter() & (Sale.status == "paid"))
        .group_by(SaleLine.code, SaleLine.name, SaleLine.category, SaleLine.service.is_null(False))
        .order_by(peewee.fn.SUM(SaleLine.line_total_fen).desc())
        .tuples()
    )
    for code, name, category, is_service, qty, total in query:
        yield {"code": code, "name": name, "category": category, "kind": "service" if is_service else "product",
               "qty": int(qty), "revenue_fen": int(total)}


def cards(p: Period, by: str = "day") -> Iterator[Row]:
    """Cards per type: issued in the period, and how many are active, frozen, lost, expired; ending in 30 days."""
    soon = p.end + dt.timedelta(days=30)
    query = Card.select(CardType.name, Card.status, Card.valid_until, Card.issued_at).join(CardType)
    if p.store_id is not None:
        query = query.where(Card.store == p.store_id)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, status, valid_until, issued in query.tuples().iterator():
        r = rows[name]
        issued_day = _day(issued)
        if p.start <= issued_day <= p.end:
            r["issued"] += 1
        until = _day(valid_until) if valid_until else None
        state = "expired" if status == "active" and until is not None and until < p.end else status
        r[state] += 1
        if state == "active" and until is not None and p.end <= until <= soon:
            r["ending_30d"] += 1
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


#: (segment, rule) in the order they are tested: a member falls in the first that fits
SEGMENT_RULES = (
    ("new", N_("joined in the last 30 days")),
    ("big_spenders", N_("spent ¥3,000 or more in the last 365 days and came in the last 60 days")),
    ("loyal", N_("6 or more sales in the last 365 days and came in the last 30 days")),
    ("returning", N_("came in the last 60 days")),
    ("at_risk", N_("not seen for 60–180 days after 2 or more sales")),
    ("lost", N_("not seen for more than 180 days, or never came")),
    ("idle", N_("everyone else: one visit, 60–180 days ago")),
)


def segment_of(joined: dt.date, last_seen: dt.date | None, sales: int, spend_fen: int, on: dt.date) -> str:
    """The RFM segment of one member on day ``on`` (see SEGMENT_RULES)."""
    recency = (on - last_seen).days if last_seen else None
    if (on - joined).days <= 30:
        return "new"
    if recency is not None and spend_fen >= 300_000 and recency <= 60:
        return "big_spenders"
    if recency is not None and sales >= 6 and recency <= 30:
        return "loyal"
    if recency is not None and recency <= 60:
        return "returning"
    if recency is not None and recency <= 180 and sales >= 2:
        return "at_risk"
    if recency is None or recency > 180:
        return "lost"
    return "idle"


def segments(p: Period, by: str = "day") -> Iterator[Row]:
    """Members by recency, frequency and monetary value as of the end of the period, with the rule used."""
    year_ago = dt.datetime.combine(p.end - dt.timedelta(days=365), dt.time())
    activity: dict[int, list] = defaultdict(lambda: [None, 0, 0])  # last seen, sales, spend
    sales = (
        Sale.select(Sale.member, peewee.fn.MAX(Sale.created_at), peewee.fn.COUNT(Sale.id), peewee.fn.SUM(Sale.total_fen))
        .where(Sale.member.is_null(False) & (Sale.status == "paid") & (Sale.created_at >= year_ago)
               & (Sale.created_at < p.end_dt))
        .group_by(Sale.member).tuples()
    )
    for member_id, last, count, spend in sales:
        activity[member_id] = [_day(last), int(count), int(spend or 0)]
    for member_id, last in (
        Visit.select(Visit.member, peewee.fn.MAX(Visit.created_at))
        .where((Visit.status == "ok") & (Visit.created_at < p.end_dt)).group_by(Visit.member).tuples()
    ):
        seen = activity[member_id]
        seen[0] = max(x for x in (seen[0], _day(last)) if x is not None)
    counts: dict[str, int] = defaultdict(int)
    members = Member.select(Member.id, Member.created_at).where(Member.created_at < p.end_dt)
    if p.store_id is not None:
        members = members.where(Member.home_store == p.store_id)
    for member_id, created in members.tuples().iterator():
        last, count, spend = activity.get(member_id, (None, 0, 0))
        counts[segment_of(_day(created), last, count, spend, p.end)] += 1
    for name, rule in SEGMENT_RULES:
        yield {"segment": name, "members": counts.get(name, 0), "rule": _(rule)}


#: name → (one-line description, function)
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
}


def run_report(name: str, start: dt.date | None = None, end: dt.date | None = None, store: str | None = None,
               by: str = "day") -> Iterator[Row]:
    if name not in REPORTS:
        raise InvalidInput(_("No report {name!r}; 'mms report --list' shows them.").format(name=name))
    if by not in ("day", "week", "month"):
        raise InvalidInput(_("--by must be day, week or month."))
    return REPORTS[name][1](period(start, end, store), by)
