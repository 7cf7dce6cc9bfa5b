"""Day arithmetic the loyalty rules share: the day of a time, and months added to a day."""

from __future__ import annotations

import calendar
import datetime as dt


def day_of(when: dt.datetime | dt.date) -> dt.date:
    """The day of ``when`` (a time or a day): the rules' dated settings go by the day."""
    return when.date() if isinstance(when, dt.datetime) else when


def add_months(day: dt.date, months: int) -> dt.date:
    """31 January + 1 month → 28 (29) February: the last day when the month is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
