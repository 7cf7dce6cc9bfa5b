"""Reports for the owner and the accountant: rows of plain values (money in ``*_fen`` integers), one function each
(in ``sales``, ``balances``, ``attendance`` and ``stores``, on the ``period`` they share; a store is a node of
the tree and covers its subtree), listed here by name.

Every report takes the same arguments — ``start`` and ``end`` dates (inclusive; ``end`` defaults to today and
``start`` to 30 days before), and an optional store code — and yields dicts with the same keys on every row, so
the CLI can print any of them as a table, CSV or JSON.

They must answer in under two seconds on a million members and five million ledger entries (issue #5;
``scripts/bench.py reports``, figures in BENCHMARKS.md), so the database does the adding up: each report is a few
``GROUP BY`` queries, and the big ones read along an index (migrations 2 and 7) in the order they group by, so
SQLite need not sort a year of rows. Dated reports group by the store's calendar day (``Transaction.local_day``), and the few day rows are bucketed into weeks
or months here. Python only touches what is left — a row per day and tender or category, card type, store hour —
never one per sale or entry (segments: one per member seen in the last 180 days). Sums come back as integers on
SQLite and as ``Decimal`` on PostgreSQL, hence the ``int()`` around each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import checked_day, today
from mms_tui.services.reports.activity import cohorts, frequency, tier_trend
from mms_tui.services.reports.attendance import birthdays, segments, visits
from mms_tui.services.reports.balances import cards, liability, tiers
from mms_tui.services.reports.bookings import bookings
from mms_tui.services.reports.commissions import commissions
from mms_tui.services.reports.messages import campaigns, messages, tickets
from mms_tui.services.reports.paycodes import paycodes
from mms_tui.services.reports.period import Row, period
from mms_tui.services.reports.promotions import promotions
from mms_tui.services.reports.sales import products, shifts, staff, topups, turnover
from mms_tui.services.reports.service_performance import service
from mms_tui.services.reports.settlement import settlement
from mms_tui.services.reports.staff_time import attendance
from mms_tui.services.reports.stock import low_stock, stock, stock_moves, stock_take
from mms_tui.services.reports.stores import stores
from mms_tui.services.staff.permissions import require, scoped_node

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
    "frequency": (N_("活跃度: members by how many times they came and bought in the period (0, 1, 2, 3–4 … 20+), "
                     "with their share"), frequency),
    "cohorts": (N_("cohort retention by join month: of the members who joined in each month, the share who came or "
                   "bought in each of the 12 months after"), cohorts),
    "tier-trend": (N_("members per tier at the end of each day/week/month of the period, and their total"),
                   tier_trend),
    "birthdays": (N_("members whose birthday falls in the period (default: the coming 30 days): phone, tier, age, "
                     "last check-in"), birthdays),
    "shifts": (N_("shifts (交班): money per tender, cash expected, counted, over/short"), shifts),
    "commissions": (N_("per staff member (--staff: one): lines credited, base and commission (提成)"), commissions),
    "service": (N_("service performance (服务表现) per staff member and service (--staff: one): services, revenue, "
                   "average ticket, repeat and rebook rate within 30 days, bookings and no-shows, average rating"),
                service),
    "bookings": (N_("bookings (预约) per staff member and room: booked against available time, no-show and "
                    "late-cancel rates; per class type: sessions, places, fill rate"), bookings),
    "stores": (N_("per store of the node (--store, any level of the tree): sales, net, top-ups, check-ins; a total"),
               stores),
    "settlement": (N_("cross-store settlement (跨店结算): stored-value principal loaded at one store and spent at "
                      "another, per pair of stores netted, and each store's position"), settlement),
    "stock": (N_("stock (进销存) on hand now and its value at cost, per store and category, with each store's total"),
              stock),
    "stock-moves": (N_("stock movements per day/week/month, store and kind: receipts, sales, transfers, counts…"),
                    stock_moves),
    "low-stock": (N_("products at or below their low-stock threshold at a store, or below zero"), low_stock),
    "stock-take": (N_("the variances of the stock-takes (盘点) posted in the period, with their reasons"), stock_take),
    "messages": (N_("messages to members per channel and trigger: sent, failed, unknown, skipped, waiting, SMS "
                    "parts billed"), messages),
    "campaigns": (N_("each campaign (群发): sent, SMS parts, and the members it reached who came in or bought "
                     "afterwards"), campaigns),
    "promotions": (N_("campaign results (营销效果) per promotion: coupons issued and redeemed, members reached, sales "
                      "it applied to, discount, revenue and average ticket against other members', win-back members "
                      "who came back"), promotions),
    "tickets": (N_("service tickets per staff member: opened, answered, closed, hours to the first answer and to "
                   "the close, open and overdue now"), tickets),
    "attendance": (N_("staff attendance (考勤): days worked, hours, late, early leave, absent, overtime, forgotten "
                      "clock-outs"), attendance),
    "paycodes": (N_("payment codes (付款码) per day and provider: charged, refunded, net, the bill's fees, whether "
                    "the day was reconciled (对账)"), paycodes),
}

#: the reports about days to come: without --to they cover COMING_DAYS from --from (default today), not the past
COMING_REPORTS = ("birthdays",)
COMING_DAYS = 30

#: the reports that take --staff (one staff member)
STAFF_REPORTS = ("attendance", "commissions", "service")


def run_report(name: str, start: dt.date | None = None, end: dt.date | None = None, store: str | None = None,
               by: str = "day", staff: str | None = None, *, viewer: Staff | None = None) -> Iterator[Row]:
    """The report ``name``'s rows. ``viewer``: the staff member asking (None: the trusted account at the machine);
    a manager sees only their own store's subtree — the node they name must lie in it, and without one it is it."""
    if viewer is not None:
        require(viewer, "reports.read")
        store = scoped_node(viewer, store)
    if name not in REPORTS:
        raise InvalidInput(_("No report {name!r}; 'mms report --list' shows them.").format(name=name))
    if by not in ("day", "week", "month"):
        raise InvalidInput(_("--by must be day, week or month."))
    if staff and name not in STAFF_REPORTS:
        raise InvalidInput(_("--staff applies to these reports: {names}.").format(names=", ".join(STAFF_REPORTS)))
    if name in COMING_REPORTS and end is None:
        start = checked_day(start) or today()
        end = start + dt.timedelta(days=COMING_DAYS - 1)
    if staff:
        return REPORTS[name][1](period(start, end, store), by, staff=staff)
    return REPORTS[name][1](period(start, end, store), by)
