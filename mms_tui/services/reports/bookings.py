"""``mms report bookings`` (预约报表): how the period's bookings used the staff and the rooms, how many were missed
or cancelled late, and how full the classes were — one row per staff member, room and class type, with the same
keys on every row (figures that do not apply to a kind are left empty).

* **staff** (the performers with bookings, or set up for services, at the stores): ``booked_minutes`` of the
  bookings that started in the period and were not cancelled, over ``available_minutes`` — their rostered shifts
  day by day (staff without a roster: the store's booking hours) — is the ``utilisation``; ``no_shows`` over
  the bookings that were due (arrived or no-show) the ``no_show_rate``; ``late_cancels`` over all their bookings
  the ``late_cancel_rate``. Classes they coached count as booked minutes too.
* **room**: the minutes of its bookings and classes over the store's booking hours of the days.
* **class** (per class type): ``sessions`` held (not cancelled), ``places`` their capacity, ``filled`` the places
  held when the class began (booked, attended or no-show), ``fill_rate`` = filled over places; its no-shows.

Each figure is a ``GROUP BY`` over the period's rows; the hours are worked out per staff member and day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

import peewee

from mms_tui.models import Booking, ClassBooking, ClassSession, ClassType, Room, Staff, StaffService
from mms_tui.services.bookings.appointments import store_hours, working_hours
from mms_tui.services.reports.period import Period, Row

KEYS = ("kind", "code", "name", "bookings", "booked_minutes", "available_minutes", "utilisation", "no_shows",
        "no_show_rate", "late_cancels", "late_cancel_rate", "sessions", "places", "filled", "fill_rate")


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else ""


def _minutes(start: object, end: object) -> int:
    return int((end - start).total_seconds()) // 60  # type: ignore[operator]


def _row(kind: str, code: str, name: str, **figures: object) -> Row:
    row: Row = dict.fromkeys(KEYS, "")
    row.update(kind=kind, code=code, name=name, **figures)
    return row


def bookings(p: Period, by: str = "day") -> Iterator[Row]:
    days = [p.start + dt.timedelta(days=i) for i in range((p.end - p.start).days + 1)]
    in_period = p.during(Booking.start, Booking.store)
    stores = p.at_stores(Booking.store)
    if stores is not None:
        in_period &= stores
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    booked: dict[int, int] = defaultdict(int)
    room_booked: dict[int, int] = defaultdict(int)
    for b in Booking.select(Booking.staff, Booking.room, Booking.start, Booking.end, Booking.status,
                            Booking.late).where(in_period):
        c = counts[b.staff_id]
        c["all"] += 1
        c[b.status] += 1
        if b.status == "cancelled":
            c["late"] += 1 if b.late else 0
            continue
        booked[b.staff_id] += _minutes(b.start, b.end)
        if b.room_id is not None:
            room_booked[b.room_id] += _minutes(b.start, b.end)
    in_classes = p.during(ClassSession.start, ClassSession.store) & (
        ClassSession.cancelled == False)  # noqa: E712
    class_stores = p.at_stores(ClassSession.store)
    if class_stores is not None:
        in_classes &= class_stores
    sessions = list(ClassSession.select().where(in_classes))
    for s in sessions:
        booked[s.coach_id] += _minutes(s.start, s.end)
        if s.room_id is not None:
            room_booked[s.room_id] += _minutes(s.start, s.end)
    performers = StaffService.select(StaffService.staff).distinct()
    people = Staff.select().where(Staff.id.in_(list(counts)) | (
        Staff.id.in_(performers) & (Staff.active == True)))  # noqa: E712
    if p.store_ids is not None:
        people = people.where(Staff.id.in_(list(counts) + [s.coach_id for s in sessions])
                              | Staff.store.in_(list(p.store_ids)))
    staff = sorted(people, key=lambda s: s.code)
    available: dict[int, int] = defaultdict(int)
    for day in days:
        for staff_id, span in working_hours([s.id for s in staff], day).items():
            if span is not None:
                available[staff_id] += _minutes(*span)
    for s in staff:
        c = counts.get(s.id, {})
        due = c.get("arrived", 0) + c.get("no_show", 0)
        yield _row("staff", s.code, s.name, bookings=c.get("all", 0), booked_minutes=booked[s.id],
                   available_minutes=available[s.id], utilisation=_rate(booked[s.id], available[s.id]),
                   no_shows=c.get("no_show", 0), no_show_rate=_rate(c.get("no_show", 0), due),
                   late_cancels=c.get("late", 0), late_cancel_rate=_rate(c.get("late", 0), c.get("all", 0)))
    opens, closes = store_hours()
    day_minutes = _minutes(dt.datetime.combine(p.start, opens), dt.datetime.combine(p.start, closes)) \
        if closes != dt.time(0) else _minutes(dt.datetime.combine(p.start, opens),
                                              dt.datetime.combine(p.start + dt.timedelta(days=1), dt.time()))
    rooms = Room.select().order_by(Room.code)
    if p.store_ids is not None:
        rooms = rooms.where(Room.store.in_(list(p.store_ids)))
    for r in rooms:
        if not r.active and not room_booked.get(r.id):
            continue
        open_minutes = day_minutes * len(days)
        yield _row("room", r.code, r.name, booked_minutes=room_booked[r.id], available_minutes=open_minutes,
                   utilisation=_rate(room_booked[r.id], open_minutes))
    places = dict(ClassBooking.select(ClassBooking.session, peewee.fn.COUNT(ClassBooking.id))
                  .where(ClassBooking.session.in_([s.id for s in sessions])
                         & ClassBooking.status.in_(("booked", "attended", "no_show")))
                  .group_by(ClassBooking.session).tuples()) if sessions else {}
    missed = dict(ClassBooking.select(ClassBooking.session, peewee.fn.COUNT(ClassBooking.id))
                  .where(ClassBooking.session.in_([s.id for s in sessions]) & (ClassBooking.status == "no_show"))
                  .group_by(ClassBooking.session).tuples()) if sessions else {}
    per_type: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for s in sessions:
        f = per_type[s.class_type_id]
        f[0] += 1
        f[1] += s.capacity
        f[2] += int(places.get(s.id, 0))
        f[3] += int(missed.get(s.id, 0))
    types = {t.id: t for t in ClassType.select()}
    for type_id, (held, capacity, filled, no_shows) in sorted(per_type.items(), key=lambda kv: types[kv[0]].code):
        t = types[type_id]
        yield _row("class", t.code, t.name, no_shows=no_shows, no_show_rate=_rate(no_shows, filled), sessions=held,
                   places=capacity, filled=filled, fill_rate=_rate(filled, capacity))
