"""The day at one store, as a drawer is reconciled (F8 at the desk): the sales and top-ups exactly as the turnover
and topups reports give them for that day, card sales, every refund's money, check-ins, each staff member's money."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import peewee

from mms_tui.models import Entry, Member, Staff, Store, Transaction, Visit
from mms_tui.services.base.resolve import resolve_store, today
from mms_tui.services.members.view import RecentItem


@dataclass(frozen=True)
class StaffDay:
    """One staff member's money at the store that day, per money tender (+ in, − paid out)."""

    code: str
    name: str
    operations: int
    by_tender: dict[str, int]

    @property
    def net_fen(self) -> int:
        return sum(self.by_tender.values())


@dataclass(frozen=True)
class DaySummary:
    """The day at one store, as a drawer is reconciled: the sales and top-ups exactly as ``mms report turnover``
    and ``mms report topups`` give them for that day and store (the same functions), card sales, refunds with
    what they paid out, check-ins, and each staff member's money per tender."""

    day: str
    store: str
    sales: int  # sales made that day (refunded later or not) and their total
    sales_total_fen: int
    sale_refunds: int  # sales refunded that day and what they were worth
    sale_refunds_fen: int
    net_fen: int
    by_tender: dict[str, int]  # the sales' tenders, refunds netted (turnover's columns)
    topups: int  # top-ups less refunded top-ups (the topups report's count)
    topup_fen: int
    bonus_fen: int
    topups_by_tender: dict[str, int]
    card_sales: int  # cards issued and passes renewed, and the money taken for them
    card_sales_fen: int
    checkins: int
    refunds: int  # every refund made that day (sales, top-ups, check-ins, cards), and the money it paid out
    refunds_paid_fen: int
    recent_checkins: list[RecentItem]
    staff: list[StaffDay] = field(default_factory=list)


def _in_day(store_obj: Store, day: dt.date) -> peewee.Expression:
    """The day's transactions at the store, by their moments' index."""
    start = dt.datetime.combine(day, dt.time())
    return ((Transaction.created_at >= start) & (Transaction.created_at < start + dt.timedelta(days=1))
            & (Transaction.store == store_obj.id))


def _day_visits(in_day: peewee.Expression) -> peewee.ModelSelect:
    return Visit.select(Visit, Member).join(Member).switch(Visit).join(Transaction).where(
        in_day & (Visit.status == "ok")).order_by(Visit.created_at.desc(), Visit.id.desc())


def _recent(visits: peewee.ModelSelect, limit: int) -> list[RecentItem]:
    return [RecentItem(str(v.created_at)[11:16], v.member.name, "") for v in visits.limit(limit)]


def recent_checkins(store: Store | str | None = None, limit: int = 5) -> list[RecentItem]:
    """Today's latest check-ins at the store, newest first: what the desk shows each time it comes back (one read,
    not the whole day summary)."""
    return _recent(_day_visits(_in_day(resolve_store(store), today())), limit)


def day_summary(store: Store | str | None = None, day: dt.date | None = None) -> DaySummary:
    """The day's sales, top-ups, card sales, refunds and check-ins at one store, and each staff member's money."""
    from mms_tui.services.ledger.tenders import MONEY_TENDERS
    from mms_tui.services.reports.period import TENDER_COLUMNS, Period
    from mms_tui.services.reports.sales import topups, turnover

    store_obj = resolve_store(store)
    day = day or today()
    # the day's transactions by their moments' index; the entries each has, by its id (a CROSS JOIN keeps SQLite to
    # that order: on its own it read every entry of a tender account to find the day's, 1 s at a million members)
    in_day = _in_day(store_obj, day)
    the_day = Period(day, day, (store_obj.id,))  # this desk's store alone
    sold = next(iter(turnover(the_day)), None) or {}
    topped: dict[str, int] = defaultdict(int)
    principal = bonus = 0
    for row in topups(the_day):
        topped["count"] += int(row["topup_count"])
        principal += int(row["principal_fen"])
        bonus += int(row["bonus_fen"])
        topped[str(row["tender"])] += int(row["principal_fen"])

    def money_of(*kinds: str) -> tuple[int, int]:
        """Operations of these kinds that day, and the money they moved through money tenders (+ in)."""
        # (kind, local_day, created_at) leads only with a range of days: its store's day is within one of ours
        near = (Transaction.local_day >= day - dt.timedelta(days=1)) & (Transaction.local_day <= day + dt.timedelta(days=1))
        of_kinds = in_day & Transaction.kind.in_(kinds) & near
        count = Transaction.select().where(of_kinds).count()
        amount = (Transaction.select(peewee.fn.SUM(Entry.amount)).join(Entry, peewee.JOIN.CROSS)
                  .where(of_kinds & (Entry.transaction == Transaction.id)
                         & Entry.account.in_([f"tender.{t}" for t in MONEY_TENDERS])).scalar())
        return count, -int(amount or 0)

    card_sales, card_fen = money_of("issue", "renew")
    refunds, refunds_in = money_of("refund", "refund_part")
    people: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MONEY_TENDERS, 0))
    for staff_id, account, amount in (
        Transaction.select(Transaction.staff, Entry.account, peewee.fn.SUM(Entry.amount))
        .join(Entry, peewee.JOIN.CROSS)
        .where(in_day & (Entry.transaction == Transaction.id)
               & Entry.account.in_([f"tender.{t}" for t in MONEY_TENDERS]))
        .group_by(Transaction.staff, Entry.account).tuples()
    ):
        people[staff_id][account.removeprefix("tender.")] -= int(amount)
    operations = dict(Transaction.select(Transaction.staff, peewee.fn.COUNT(Transaction.id)).where(in_day)
                      .group_by(Transaction.staff).tuples())
    names = {s.id: s for s in Staff.select().where(Staff.id.in_(list(operations) or [0]))}
    staff_days = [StaffDay(names[i].code, names[i].name, int(operations[i]), people.get(i, dict.fromkeys(MONEY_TENDERS, 0)))
                  for i in sorted(operations, key=lambda i: names[i].code)]
    visits = _day_visits(in_day)
    recent = _recent(visits, 8)
    return DaySummary(
        day.isoformat(), store_obj.name, int(sold.get("sale_count", 0)), int(sold.get("sales_fen", 0)),
        int(sold.get("refund_count", 0)), int(sold.get("refunds_fen", 0)), int(sold.get("net_fen", 0)),
        {t: int(sold.get(f"{t}_fen", 0)) for t in TENDER_COLUMNS if sold.get(f"{t}_fen")},
        topped.pop("count", 0), principal, bonus, dict(topped), card_sales, card_fen, visits.count(), refunds,
        -refunds_in, recent, staff_days)
