"""The day view's grid (预约日视图): a store's staff as columns, the day's times as rows (the ``bookings`` setting's
step), each live booking in the cells it covers, the current time's row marked. Read in three queries whatever the
day holds; the desk draws it and moves a cursor over it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mms_tui import clock
from mms_tui.models import Staff, StaffService, Store
from mms_tui.services.base.resolve import resolve_store
from mms_tui.services.bookings.appointments import (
    BookingView,
    day_bookings,
    step_minutes,
    store_hours,
    working_hours,
)

#: shown in the grid: what still holds a slot, and a no-show (so the desk sees it); cancelled ones are only listed
SHOWN = ("booked", "arrived", "no_show")


@dataclass(frozen=True)
class DayColumn:
    staff_id: int
    code: str
    name: str
    hours: tuple[dt.datetime, dt.datetime] | None  # bookable span that day; None: not working


@dataclass
class DayGrid:
    store_code: str
    day: dt.date
    step: int  # minutes per row
    times: list[dt.datetime]
    columns: list[DayColumn]
    #: (row, column) → the booking covering that cell, and whether the cell is its first
    cells: dict[tuple[int, int], tuple[BookingView, bool]] = field(default_factory=dict)
    bookings: list[BookingView] = field(default_factory=list)  # every booking of the day, cancelled ones too
    now_row: int | None = None

    def column_of(self, staff_code: str) -> int | None:
        return next((i for i, c in enumerate(self.columns) if c.code == staff_code), None)

    def row_of(self, moment: dt.datetime) -> int | None:
        for i, t in enumerate(self.times):
            if t <= moment < t + dt.timedelta(minutes=self.step):
                return i
        return None

    def working(self, row: int, col: int) -> bool:
        hours = self.columns[col].hours
        return hours is not None and hours[0] <= self.times[row] < hours[1]


def _columns(store: Store, day: dt.date, booked_staff: set[int]) -> list[DayColumn]:
    performers = {sid for (sid,) in StaffService.select(StaffService.staff).distinct().tuples()}
    people = [s for s in Staff.select().where(Staff.active == True).order_by(Staff.code)  # noqa: E712
              if s.id in booked_staff or (s.id in performers and s.store_id in (None, store.id))]
    hours = working_hours([s.id for s in people], day)
    return [DayColumn(s.id, s.code, s.name, hours[s.id]) for s in people]


def day_grid(store: Store | str | None, day: dt.date, *, viewer: Staff | None = None) -> DayGrid:
    """The grid of ``store`` on ``day``."""
    store_obj = resolve_store(store, viewer)
    start = dt.datetime.combine(day, dt.time())
    bookings = day_bookings(store_obj, day)
    shown = [b for b in bookings if b.status in SHOWN]
    columns = _columns(store_obj, day, {b.staff_id for b in shown})
    step = step_minutes()
    opens, closes = store_hours()
    first = dt.datetime.combine(day, opens)
    last = dt.datetime.combine(day, closes) if closes != dt.time(0) else start + dt.timedelta(days=1)
    for c in columns:
        if c.hours is not None:
            first, last = min(first, c.hours[0]), max(last, c.hours[1])
    for b in shown:
        first, last = min(first, b.start), max(last, b.end)
    first = start + dt.timedelta(minutes=(int((first - start).total_seconds()) // 60) // step * step)
    times = []
    t = first
    while t < last:
        times.append(t)
        t += dt.timedelta(minutes=step)
    grid = DayGrid(store_obj.code, day, step, times, columns, bookings=bookings)
    index = {c.staff_id: i for i, c in enumerate(columns)}
    span = dt.timedelta(minutes=step)
    for b in shown:
        col = index[b.staff_id]
        first_cell = True
        for row, t in enumerate(times):
            if t < b.end and t + span > b.start and (row, col) not in grid.cells:
                grid.cells[(row, col)] = (b, first_cell)
                first_cell = False
    now = clock.now()
    grid.now_row = grid.row_of(now) if now.date() == day else None
    return grid
