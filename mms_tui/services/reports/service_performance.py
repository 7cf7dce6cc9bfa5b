"""``mms report service`` (服务表现报告): per staff member and service in the period — services performed, revenue
(their share of the lines' money), average ticket, repeat rate (of the members they served, the share they served
again within ``REPEAT_DAYS``), and the average 1–5 rating recorded at the desk. Refunded services are netted.

The performers come from the commission rows (a lead or an assistant on a service line: services/money/
commissions.py). The counts and sums are ``GROUP BY`` queries; the repeat rate reads one row per (staff member,
member, day served) of the period and the ``REPEAT_DAYS`` after it.

From the bookings (预约, services/bookings): the *rebook rate* — of the members they served, the share who booked
with them again (a booking made within ``REPEAT_DAYS`` after the service); and per service the bookings with them
that started in the period (cancelled ones left out) and the *no-shows* among them, with the *no-show rate* of
those that were due (arrived or no-show). A staff member booked for a service they did not perform in the period
gets a row with the bookings alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import (
    Booking,
    BookingService,
    Commission,
    Sale,
    SaleLine,
    ServiceItem,
    ServiceRating,
    Staff,
    Transaction,
)
from mms_tui.services.base.errors import NotFound
from mms_tui.services.base.resolve import store_zones
from mms_tui.services.reports.period import Period, Row
from mms_tui.services.reports.sales import lines_given_back_of, part_line_shares, parts_given_back

#: a member served again by the same staff member within this many days counts as a repeat
REPEAT_DAYS = 30
_A_DAY = dt.timedelta(days=1)


def _performed(p: Period, staff_id: int | None) -> peewee.Expression:
    """Services performed in the period's days, each store's own days."""
    where = (p.during(Commission.created_at, Commission.store)
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
    # a partial refund (部分退款) takes back part of a line's commission: the service stays performed and only the
    # part of the line's money it gave back comes off (below); the rows of whole refunds undo the line
    whole = earned | (Transaction.kind != "refund_part")
    totals = list(Commission.select(Commission.staff, SaleLine.code, peewee.fn.MAX(SaleLine.name),
                                    peewee.fn.SUM(sign), peewee.fn.SUM(sign * SaleLine.line_total_fen
                                                                       * Commission.share_bp))
                  .join(SaleLine).switch(Commission).join(Transaction).where(_performed(p, staff_id) & whole)
                  .group_by(Commission.staff, SaleLine.code).tuples())
    given = parts_given_back()  # sale txid → what its parts gave back (few: read whole)
    if given:
        parted = dict(Sale.select(Sale.id, Transaction.txid).join(Transaction)
                      .where(Transaction.txid.in_(list(given))).tuples())
        partly = list(Commission.select(Commission.staff, SaleLine.code, SaleLine.name, Commission.line,
                                        Commission.transaction, Commission.share_bp)
                      .join(SaleLine).switch(Commission).join(Transaction)
                      .where(_performed(p, staff_id) & ~whole).tuples())
        # a whole refund after parts undoes only what they left of a line: what they gave back is added again
        after_parts = list(Commission.select(Commission.staff, SaleLine.code, SaleLine.name, Commission.line,
                                             Commission.share_bp)
                           .join(SaleLine).switch(Commission).join(Transaction)
                           .where(_performed(p, staff_id) & ~earned & (Transaction.kind != "refund_part")
                                  & SaleLine.sale.in_(list(parted))).tuples())
        shares = part_line_shares({tx_id for *_x, tx_id, _bp in partly})
        earlier = lines_given_back_of(parted, given) if after_parts else {}
        money: dict[tuple[int, str], list] = {(s, c): [n, int(k), int(m or 0)] for s, c, n, k, m in totals}
        for staff_pk, code, name, line_id, tx_id, share_bp in partly:
            money.setdefault((staff_pk, code), [name, 0, 0])[2] -= shares.get(tx_id, {}).get(line_id, 0) * share_bp
        for staff_pk, code, name, line_id, share_bp in after_parts:
            money.setdefault((staff_pk, code), [name, 0, 0])[2] += earlier.get(line_id, 0) * share_bp
        totals = [(s, c, n, k, m) for (s, c), (n, k, m) in money.items()]
    ratings = dict(((s, c), (int(n), int(t))) for s, c, n, t in
                   ServiceRating.select(ServiceRating.staff, SaleLine.code, peewee.fn.COUNT(ServiceRating.id),
                                        peewee.fn.SUM(ServiceRating.rating))
                   .join(SaleLine).switch(ServiceRating).join(Commission, on=(
                       (Commission.line == ServiceRating.line) & (Commission.staff == ServiceRating.staff)))
                   .where(_performed(p, staff_id) & Commission.reverses.is_null())
                   .group_by(ServiceRating.staff, SaleLine.code).tuples())
    repeats = _repeats(p, staff_id)
    booked = _bookings(p, staff_id)
    codes = {s.id: (s.code, s.name) for s in Staff.select(Staff.id, Staff.code, Staff.name)}
    rows = []
    done = set()
    for staff_pk, code, name, count, money in [*totals, *((s, c, n, 0, 0) for (s, c), (n, *_x) in booked.items())]:
        if (staff_pk, code) in done:
            continue
        done.add((staff_pk, code))
        count, revenue = int(count), int(money or 0) // 10000
        served, again, rebooked = repeats.get((staff_pk, code), (0, 0, 0))
        rated, stars = ratings.get((staff_pk, code), (0, 0))
        _name, bookings, due, missed = booked.get((staff_pk, code), ("", 0, 0, 0))
        rows.append({"staff": codes[staff_pk][0], "name": codes[staff_pk][1], "service": code, "service_name": name,
                     "services": count, "revenue_fen": revenue,
                     "average_fen": revenue // count if count > 0 else 0,
                     "members": served, "repeat_members": again,
                     "repeat_rate": f"{100 * again / served:.1f}%" if served else "",
                     "rebooked_members": rebooked, "rebook_rate": f"{100 * rebooked / served:.1f}%" if served else "",
                     "bookings": bookings, "no_shows": missed,
                     "no_show_rate": f"{100 * missed / due:.1f}%" if due else "",
                     "ratings": rated, "rating": f"{stars / rated:.2f}" if rated else ""})
    yield from sorted(rows, key=lambda r: (r["staff"], r["service"]))


def _bookings(p: Period, staff_id: int | None) -> dict[tuple[int, str], tuple[str, int, int, int]]:
    """(staff id, service code) → (service name, bookings that started in the period and were not cancelled,
    of them due — arrived or no-show —, no-shows)."""
    where = p.during(Booking.start, Booking.store) & (Booking.status != "cancelled")
    stores = p.at_stores(Booking.store)
    if stores is not None:
        where &= stores
    if staff_id is not None:
        where &= Booking.staff == staff_id
    out: dict[tuple[int, str], list] = {}
    for staff_pk, code, name, status, n in (
            BookingService.select(Booking.staff, ServiceItem.code, peewee.fn.MAX(ServiceItem.name), Booking.status,
                                  peewee.fn.COUNT(BookingService.id))
            .join(Booking).switch(BookingService).join(ServiceItem).where(where)
            .group_by(Booking.staff, ServiceItem.code, Booking.status).tuples()):
        row = out.setdefault((staff_pk, code), [name, 0, 0, 0])
        row[1] += int(n)
        if status in ("arrived", "no_show"):
            row[2] += int(n)
        if status == "no_show":
            row[3] += int(n)
    return {key: tuple(v) for key, v in out.items()}


def _repeats(p: Period, staff_id: int | None) -> dict[tuple[int, str], tuple[int, int, int]]:
    """(staff id, service code) → (members served in the period, of them served again by that staff member, any
    service, within REPEAT_DAYS after, and of them those who booked with that staff member within REPEAT_DAYS
    after). Days are each store's own: a visit counts in the period by its store's calendar, and a repeat is
    served on a later day of that calendar."""
    until = p.end_dt + dt.timedelta(days=REPEAT_DAYS)
    later_too = dataclasses.replace(p, end=p.end + dt.timedelta(days=REPEAT_DAYS))
    zones = store_zones()
    seen: dict[tuple[int, int], list[tuple[dt.datetime, str, str]]] = defaultdict(list)
    query = (Commission.select(Commission.staff, Sale.member, Commission.created_at, SaleLine.code, Commission.store)
             .join(SaleLine).switch(Commission).join(Sale)
             .where(_performed(later_too, staff_id) & Commission.reverses.is_null() & Sale.member.is_null(False))
             .order_by(Commission.staff, Sale.member, Commission.created_at).tuples())
    for staff_pk, member, moment, code, store_id in query:
        seen[(staff_pk, member)].append((moment, code, zones.get(store_id, zones[None])))
    booked: dict[tuple[int, int], list[dt.datetime]] = defaultdict(list)
    bookings = Booking.select(Booking.staff, Booking.member, Booking.created_at).where(
        (Booking.created_at > p.start_dt - _A_DAY) & (Booking.created_at < until + _A_DAY)  # (any store's zone)
        & Booking.member.is_null(False))
    if staff_id is not None:
        bookings = bookings.where(Booking.staff == staff_id)
    for staff_pk, member, made in bookings.tuples():
        booked[(staff_pk, member)].append(made)
    served: dict[tuple[int, str], set[int]] = defaultdict(set)
    again: dict[tuple[int, str], set[int]] = defaultdict(set)
    rebooked: dict[tuple[int, str], set[int]] = defaultdict(set)
    window = dt.timedelta(days=REPEAT_DAYS)
    for (staff_pk, member), visits in seen.items():
        for i, (moment, code, zone) in enumerate(visits):
            day = clock.day_in(moment, zone)
            if not (p.start <= day <= p.end):
                continue
            served[(staff_pk, code)].add(member)
            if any(moment < later <= moment + window and clock.day_in(later, zone) > day
                   for later, _c, _z in visits[i + 1:]):
                again[(staff_pk, code)].add(member)
            if any(moment < made <= moment + window for made in booked.get((staff_pk, member), ())):
                rebooked[(staff_pk, code)].add(member)
    return {key: (len(members), len(again.get(key, ())), len(rebooked.get(key, ()))) for key, members in
            served.items()}
