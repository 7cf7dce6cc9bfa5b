"""``mms report service`` (服务表现报告): per staff member and service in the period — services performed, revenue
(their share of the lines' money), average ticket, repeat rate (of the members they served, the share they served
again within ``REPEAT_DAYS``), and the average 1–5 rating recorded at the desk. Refunded services are netted.

The performers come from the commission rows (a lead or an assistant on a service line: services/money/
commissions.py). The counts and sums are ``GROUP BY`` queries; the repeat rate reads one row per (staff member,
member, day served) of the period and the ``REPEAT_DAYS`` after it. Rebooking and no-shows join these figures when
bookings exist.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui.i18n import _
from mms_tui.models import Commission, Sale, SaleLine, ServiceRating, Staff
from mms_tui.services.base.errors import NotFound
from mms_tui.services.reports.period import Period, Row

#: a member served again by the same staff member within this many days counts as a repeat
REPEAT_DAYS = 30


def _performed(p: Period, staff_id: int | None, until: dt.datetime) -> peewee.Expression:
    where = ((Commission.created_at >= p.start_dt) & (Commission.created_at < until)
             & Commission.role.in_(("lead", "assistant")) & SaleLine.service.is_null(False))
    stores = p.at_stores(Commission.store)
    if stores is not None:
        where &= stores
    if staff_id is not None:
        where &= Commission.staff == staff_id
    return where


def service(p: Period, by: str = "day", staff: str | None = None) -> Iterator[Row]:
    """One row per staff member and service they performed in the period, by staff code and service code."""
    staff_id = None
    if staff is not None:
        member = Staff.get_or_none(Staff.code == staff)
        if member is None:
            raise NotFound(_("No staff member {code}.").format(code=staff))
        staff_id = member.id
    earned = Commission.reverses.is_null()
    sign = peewee.Case(None, [(earned, 1)], -1)
    totals = (Commission.select(Commission.staff, SaleLine.code, peewee.fn.MAX(SaleLine.name), peewee.fn.SUM(sign),
                                peewee.fn.SUM(sign * SaleLine.line_total_fen * Commission.share_bp))
              .join(SaleLine).where(_performed(p, staff_id, p.end_dt))
              .group_by(Commission.staff, SaleLine.code).tuples())
    ratings = dict(((s, c), (int(n), int(t))) for s, c, n, t in
                   ServiceRating.select(ServiceRating.staff, SaleLine.code, peewee.fn.COUNT(ServiceRating.id),
                                        peewee.fn.SUM(ServiceRating.rating))
                   .join(SaleLine).switch(ServiceRating).join(Commission, on=(
                       (Commission.line == ServiceRating.line) & (Commission.staff == ServiceRating.staff)))
                   .where(_performed(p, staff_id, p.end_dt) & Commission.reverses.is_null())
                   .group_by(ServiceRating.staff, SaleLine.code).tuples())
    repeats = _repeats(p, staff_id)
    codes = {s.id: (s.code, s.name) for s in Staff.select(Staff.id, Staff.code, Staff.name)}
    rows = []
    for staff_pk, code, name, count, money in totals:
        count, revenue = int(count), int(money or 0) // 10000
        served, again = repeats.get((staff_pk, code), (0, 0))
        rated, stars = ratings.get((staff_pk, code), (0, 0))
        rows.append({"staff": codes[staff_pk][0], "name": codes[staff_pk][1], "service": code, "service_name": name,
                     "services": count, "revenue_fen": revenue,
                     "average_fen": revenue // count if count > 0 else 0,
                     "members": served, "repeat_members": again,
                     "repeat_rate": f"{100 * again / served:.1f}%" if served else "",
                     "ratings": rated, "rating": f"{stars / rated:.2f}" if rated else ""})
    yield from sorted(rows, key=lambda r: (r["staff"], r["service"]))


def _repeats(p: Period, staff_id: int | None) -> dict[tuple[int, str], tuple[int, int]]:
    """(staff id, service code) → (members served in the period, of them served again by that staff member, any
    service, within REPEAT_DAYS after)."""
    until = p.end_dt + dt.timedelta(days=REPEAT_DAYS)
    seen: dict[tuple[int, int], list[tuple[dt.datetime, str]]] = defaultdict(list)
    query = (Commission.select(Commission.staff, Sale.member, Commission.created_at, SaleLine.code)
             .join(SaleLine).switch(Commission).join(Sale)
             .where(_performed(p, staff_id, until) & Commission.reverses.is_null() & Sale.member.is_null(False))
             .order_by(Commission.staff, Sale.member, Commission.created_at).tuples())
    for staff_pk, member, moment, code in query:
        seen[(staff_pk, member)].append((moment, code))
    served: dict[tuple[int, str], set[int]] = defaultdict(set)
    again: dict[tuple[int, str], set[int]] = defaultdict(set)
    window = dt.timedelta(days=REPEAT_DAYS)
    for (staff_pk, member), visits in seen.items():
        for i, (moment, code) in enumerate(visits):
            if not (p.start_dt <= moment < p.end_dt):
                continue
            served[(staff_pk, code)].add(member)
            if any(moment < later <= moment + window and later.date() > moment.date() for later, _c in visits[i + 1:]):
                again[(staff_pk, code)].add(member)
    return {key: (len(members), len(again.get(key, ()))) for key, members in served.items()}
