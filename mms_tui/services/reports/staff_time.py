"""考勤 report: per staff member, the days worked and hours against their roster (``mms report attendance``)."""

from __future__ import annotations

from collections.abc import Iterator

from mms_tui.i18n import _
from mms_tui.models import Punch, Staff, Store
from mms_tui.services.base.errors import NotFound
from mms_tui.services.reports.period import Period, Row
from mms_tui.services.staff.attendance import hours, staff_days


def attendance(p: Period, by: str = "day", staff: str | None = None) -> Iterator[Row]:
    """One row per staff member: days worked, hours, late, early leaves, absent days, overtime hours and forgotten
    clock-outs (closed at the rostered end, or the day's end, and counted here). With a store, the staff whose
    store it is (or lies below it); without, every active staff member and anyone who punched in the period."""
    query = Staff.select().order_by(Staff.code)
    if staff:
        query = query.where(Staff.code == staff)
        if not query.exists():
            raise NotFound(_("No staff member {code!r}.").format(code=staff))
    else:
        punched = Punch.select(Punch.staff).where((Punch.at >= p.start_dt) & (Punch.at < p.end_dt))
        query = query.where((Staff.active == True) | Staff.id.in_(punched))  # noqa: E712
        where = p.at_stores(Staff.store)
        if where is not None:
            query = query.where(where)
    people = list(query)
    stores = {s.id: s.code for s in Store.select(Store.id, Store.code)}
    figures = staff_days([s.id for s in people], p.start, p.end)
    for person in people:
        days = figures[person.id]
        yield {"code": person.code, "name": person.name, "store": stores.get(person.store_id, ""),
               "days_worked": sum(1 for d in days if d.worked_any),
               "hours": hours(sum(d.worked for d in days)),
               "late": sum(d.late for d in days),
               "early_leave": sum(d.early for d in days),
               "absent": sum(d.absent for d in days),
               "overtime_hours": hours(sum(d.overtime for d in days)),
               "forgotten_clock_outs": sum(d.forgotten for d in days)}
