"""``mms report commissions``: per staff member, the lines they were credited with, the base and the commission
(提成) in the period, refunds netted on the day they were made (a refunded line counts −1)."""

from __future__ import annotations

from collections.abc import Iterator

import peewee

from mms_tui.i18n import _
from mms_tui.models import Commission, Staff
from mms_tui.services.base.errors import NotFound
from mms_tui.services.reports.period import Period, Row, count_if


def commissions(p: Period, by: str = "day", staff: str | None = None) -> Iterator[Row]:
    """One row per staff member with commission rows in the period (at its stores), by staff code; ``staff``: only
    that staff member. ``by`` is not used: the rows are per staff member."""
    where = p.during(Commission.created_at, Commission.store)
    stores = p.at_stores(Commission.store)
    if stores is not None:
        where &= stores
    if staff is not None:
        member = Staff.get_or_none(Staff.code == staff)
        if member is None:
            raise NotFound(_("No staff member {code}.").format(code=staff))
        where &= Commission.staff == member.id
    query = (Commission.select(Staff.code, Staff.name, Staff.level,
                               count_if(Commission.reverses.is_null()) - count_if(Commission.reverses.is_null(False)),
                               peewee.fn.SUM(Commission.base_fen), peewee.fn.SUM(Commission.amount_fen))
             .join(Staff).where(where).group_by(Staff.code, Staff.name, Staff.level).order_by(Staff.code).tuples())
    for code, name, level, lines, base, amount in query:
        yield {"staff": code, "name": name, "level": level or "", "lines": int(lines), "base_fen": int(base),
               "commission_fen": int(amount)}
