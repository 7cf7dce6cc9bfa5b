"""考勤: staff clock-in and clock-out punches (append-only), and the rosters they are measured against."""

from __future__ import annotations

import peewee

from mms_tui.models.base import BaseModel, Moment, now
from mms_tui.models.org import Staff, Store

PUNCH_KINDS = ("in", "out")
PUNCH_SOURCES = ("card", "pin", "correction")


class Punch(BaseModel):
    """One clock-in or clock-out, never updated or deleted (migration 16). A manager's correction is a row of its
    own: it ``supersedes`` the punch it corrects (with another time, or ``void`` to take it away), or it supersedes
    nothing and adds a punch that was missing (a forgotten clock-out). What counts is every row no other row
    supersedes, less the void ones."""

    staff = peewee.ForeignKeyField(Staff, backref="punches", on_delete="RESTRICT")
    store = peewee.ForeignKeyField(Store, backref="punches", on_delete="RESTRICT")
    kind = peewee.CharField(max_length=3, constraints=[peewee.Check("kind IN ('in','out')")])
    #: the moment the punch counts for (a correction: the moment the manager set)
    at = Moment(index=True)
    #: when the row was written
    recorded_at = Moment(default=now)
    source = peewee.CharField(max_length=10, constraints=[peewee.Check("source IN ('card','pin','correction')")])
    recorded_by = peewee.ForeignKeyField(Staff, backref="punches_recorded", on_delete="RESTRICT")
    supersedes = peewee.ForeignKeyField("self", null=True, unique=True, backref="superseded_by",
                                        on_delete="RESTRICT")
    void = peewee.BooleanField(default=False)
    reason = peewee.TextField(default="")
    txid = peewee.CharField(max_length=64, unique=True)

    class Meta:
        table_name = "attendance_punch"
        indexes = ((("staff", "at"), False),)


class RosterDay(BaseModel):
    """A staff member's weekly pattern: on ``weekday`` (1 Monday … 7 Sunday) from ``start`` to ``end`` ("HH:MM",
    the store's wall time, within the day), or off when both are empty. A weekday with no row is off too, for a
    staff member who has a pattern at all."""

    staff = peewee.ForeignKeyField(Staff, backref="roster", on_delete="RESTRICT")
    weekday = peewee.SmallIntegerField(constraints=[peewee.Check("weekday BETWEEN 1 AND 7")])
    start = peewee.CharField(max_length=5, null=True)
    end = peewee.CharField(max_length=5, null=True)

    class Meta:
        table_name = "roster_day"
        indexes = ((("staff", "weekday"), True),)


class RosterException(BaseModel):
    """One date that differs from the weekly pattern: another shift, or a day off (``start`` and ``end`` empty)."""

    staff = peewee.ForeignKeyField(Staff, backref="roster_exceptions", on_delete="RESTRICT")
    day = peewee.DateField()
    start = peewee.CharField(max_length=5, null=True)
    end = peewee.CharField(max_length=5, null=True)
    note = peewee.CharField(max_length=200, default="")

    class Meta:
        table_name = "roster_exception"
        indexes = ((("staff", "day"), True),)
