"""考勤: staff clock in and out, by swiping their staff card or by code and PIN; rosters say when they were due.

* **Punches are append-only.** A clock-in or clock-out is a :class:`~mms_tui.models.Punch` row, written with an
  audited state (``mms check`` holds it to it) in the same transaction, idempotent by txid. A manager's correction
  is a row of its own that supersedes the punch it corrects (another time, or void), or adds one that was missing;
  the original stays, and the correction's reason is audited.
* **The store's day.** A punch belongs to the store's calendar day of its moment (:mod:`mms_tui.clock`); a clock-in
  is closed by a clock-out of the same day. Someone who is clocked in may not clock in again; a clock-out needs a
  clock-in that day. A clock-in left open when its day is over is a *forgotten clock-out*: when reported it is
  closed at the rostered end (or at the end of the day when nothing was rostered, or the clock-in came after the
  rostered end) and flagged, never silently.
* **Rosters.** Per staff member a weekly pattern (weekday → start–end, or off) and dated exceptions (another shift
  or a day off). Against them, per day: *late* (the first clock-in after the start plus the grace, setting
  ``attendance.grace_minutes``, default 5), *early leave* (the last clock-out before the end), *absent* (a rostered
  day over with no punch), *overtime* (time worked after the rostered end; on a rostered day off, all of it). A
  staff member with no roster at all is never late, early, absent or on overtime: only their hours count.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import N_, _
from mms_tui.models import Punch, RosterDay, RosterException, Staff, Store
from mms_tui.services.base.config import get_config
from mms_tui.services.base.errors import DomainError, InvalidInput, NotFound, PermissionDenied, TxidConflict
from mms_tui.services.base.resolve import resolve_store, store_zones
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.ledger.chain import record_gone, record_states
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import in_store_scope, require

KIND_NAMES = {"in": N_("Clock in"), "out": N_("Clock out")}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")


class NotClockedIn(DomainError):
    code = "not_clocked_in"


class AlreadyClockedIn(DomainError):
    code = "already_clocked_in"


# ------------------------------------------------------------------------------------------------ punching


@dataclass(frozen=True)
class ClockPreview:
    """Who a staff card or code belongs to, and what their next punch would be (shown before it is confirmed)."""

    staff_id: int
    code: str
    name: str
    kind: str  # "in" or "out": what is due
    since: dt.datetime | None  # clocked in since (today), or None
    at: dt.datetime  # now


@dataclass(frozen=True)
class PunchResult:
    punch_id: int
    staff_code: str
    staff_name: str
    kind: str
    at: dt.datetime
    store_code: str

    @property
    def line(self) -> str:
        what = _("clocked in") if self.kind == "in" else _("clocked out")
        return _("✓ {name} {what} at {time}.").format(name=self.staff_name, what=what,
                                                     time=self.at.strftime("%H:%M"))


def effective_punches(staff_ids: Iterable[int] | None = None, start: dt.date | None = None,
                      end: dt.date | None = None, zone: str | None = None) -> list[Punch]:
    """The punches that count, in time order: no row supersedes them and they are not void. ``start``/``end``:
    store days, inclusive — of the zone ``zone`` (None: this process's)."""
    tz = clock.parse_zone(zone) if zone else None
    superseded = Punch.select(Punch.supersedes).where(Punch.supersedes.is_null(False))
    query = Punch.select().where(Punch.id.not_in(superseded) & (Punch.void == False))  # noqa: E712
    if staff_ids is not None:
        query = query.where(Punch.staff.in_(list(staff_ids)))
    if start is not None:
        query = query.where(Punch.at >= dt.datetime.combine(start, dt.time(), tzinfo=tz))
    if end is not None:
        query = query.where(Punch.at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz))
    return list(query.order_by(Punch.at, Punch.id))


def clocked_in_since(staff: Staff, day: dt.date | None = None, zone: str | None = None) -> dt.datetime | None:
    """When ``staff`` clocked in on ``day`` (today) — a day of the zone ``zone`` (None: this process's) — and has
    not clocked out since; None when they are not in."""
    day = day or clock.today()
    since = None
    for punch in effective_punches([staff.id], day, day, zone):
        since = punch.at if punch.kind == "in" else None
    return since


def staff_for_card(card_no: str) -> Staff | None:
    """The active staff member whose staff card this is (a staff card is never a member's card)."""
    card_no = (card_no or "").strip()
    if not card_no:
        return None
    return Staff.get_or_none((Staff.card_no == card_no) & (Staff.active == True))  # noqa: E712


def preview(staff: Staff) -> ClockPreview:
    since = clocked_in_since(staff)
    return ClockPreview(staff.id, staff.code, staff.name, "out" if since is not None else "in", since, clock.now())


def preview_card(card_no: str) -> ClockPreview:
    """What swiping this staff card does now; NotFound for a card that is no staff member's."""
    staff = staff_for_card(card_no)
    if staff is None:
        raise NotFound(_("Card {card} belongs to no staff member.").format(card=(card_no or "").strip()))
    return preview(staff)


def punch(staff: Staff, store: Store | str | None, kind: str | None, txid: str, *, source: str = "card") -> PunchResult:
    """Clock ``staff`` in or out (``kind`` None: whatever is due) at ``store``, now. A clock-out with no clock-in
    today is refused (not clocked in), and so is a second clock-in (already clocked in, since when); nothing is
    written then. The same txid again returns the first result."""
    if kind not in (None, "in", "out"):
        raise InvalidInput(_("A punch is a clock-in or a clock-out."))
    with write_transaction():
        done = Punch.get_or_none(Punch.txid == txid)
        if done is not None:
            if done.staff_id != staff.id or (kind is not None and done.kind != kind):
                raise TxidConflict(_("Operation {txid} was already used for another punch.").format(txid=txid))
            return _result(done)
        where = resolve_store(store, staff, writing=True)
        now = clock.now()
        zone = store_zones((where.id,))[where.id]  # the day of the store punched at, on its own clock
        since = clocked_in_since(staff, clock.day_in(now, zone), zone)
        if kind is None:
            kind = "out" if since is not None else "in"
        if kind == "in" and since is not None:
            raise AlreadyClockedIn(_("{name} clocked in at {time} already: clock out first.").format(
                name=staff.name, time=since.strftime("%H:%M")))
        if kind == "out" and since is None:
            raise NotClockedIn(_("{name} is not clocked in: clock in first.").format(name=staff.name))
        row = Punch.create(staff=staff, store=where, kind=kind, at=now, source=source, recorded_by=staff, txid=txid)
        record_states("attendance_punch", [row.id], staff=staff, store=where)
    return _result(Punch.get_by_id(row.id))


def punch_by_card(card_no: str, store: Store | str | None, txid: str, kind: str | None = None) -> PunchResult:
    staff = staff_for_card(card_no)
    if staff is None:
        raise NotFound(_("Card {card} belongs to no staff member.").format(card=(card_no or "").strip()))
    return punch(staff, store, kind, txid, source="card")


def punch_by_pin(code: str, pin: str, store: Store | str | None, txid: str, kind: str | None = None) -> PunchResult:
    """Clock in or out at the desk by staff code and PIN (the PIN throttle and lockout of every login apply)."""
    from mms_tui.services.staff.accounts import authenticate

    done = Punch.get_or_none(Punch.txid == txid)
    if done is not None:  # a retry of a punch made: its PIN was checked then
        return _result(done)
    staff = authenticate(code, pin)
    return punch(staff, store, kind, txid, source="pin")


def _result(row: Punch) -> PunchResult:
    staff = Staff.get_by_id(row.staff_id)
    return PunchResult(row.id, staff.code, staff.name, row.kind, row.at, Store.get_by_id(row.store_id).code)


@dataclass(frozen=True)
class InNow:
    code: str
    name: str
    since: dt.datetime
    store_code: str


def clocked_in_now(store: Store | str | None = None) -> list[InNow]:
    """Who is clocked in now (today, not clocked out), at ``store`` or anywhere, in the order they came."""
    where = resolve_store(store) if store is not None else None
    today = clock.today()
    open_in: dict[int, Punch] = {}
    for row in effective_punches(None, today, today):
        if row.kind == "in":
            open_in.setdefault(row.staff_id, row)
        else:
            open_in.pop(row.staff_id, None)
    out = []
    for row in sorted(open_in.values(), key=lambda r: (r.at, r.id)):
        if where is not None and row.store_id != where.id:
            continue
        staff = Staff.get_by_id(row.staff_id)
        out.append(InNow(staff.code, staff.name, row.at, Store.get_by_id(row.store_id).code))
    return out


# ------------------------------------------------------------------------------------------------ corrections


def _managed(by: Staff, staff: Staff, permission: str) -> None:
    require(by, permission)
    if not in_store_scope(by, staff.store_id):
        raise PermissionDenied(_("{name} works at a store {manager} does not manage.").format(
            name=staff.name, manager=by.name))


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("A correction needs a reason."))
    return reason


def parse_moment(text: str | dt.datetime) -> dt.datetime:
    """A moment written 'YYYY-MM-DD HH:MM' (store time), to the minute."""
    if isinstance(text, dt.datetime):
        return text.replace(second=0, microsecond=0)
    try:
        return dt.datetime.strptime((text or "").strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise InvalidInput(_("Write a time as YYYY-MM-DD HH:MM, not {text!r}.").format(text=text)) from None


def correct_punch(punch_id: int, by: Staff, reason: str, txid: str, *, at: str | dt.datetime | None = None,
                  void: bool = False) -> PunchResult:
    """A manager corrects a punch: another moment (``at``) or taken away (``void``). The punch stays as it was; a
    new row supersedes it, with the reason audited."""
    reason = _reason(reason)
    if (at is None) == (not void):
        raise InvalidInput(_("A correction either sets another time or takes the punch away."))
    moment = parse_moment(at) if at is not None else None
    with write_transaction():
        done = Punch.get_or_none(Punch.txid == txid)
        if done is not None:
            if done.supersedes_id != punch_id:
                raise TxidConflict(_("Operation {txid} was already used for another punch.").format(txid=txid))
            return _result(done)
        original = Punch.get_or_none(Punch.id == punch_id)
        if original is None:
            raise NotFound(_("No punch {id}.").format(id=punch_id))
        staff = Staff.get_by_id(original.staff_id)
        _managed(by, staff, "attendance.correct")
        if Punch.get_or_none(Punch.supersedes == original.id) is not None:
            raise InvalidInput(_("Punch {id} was corrected already: correct the correction.").format(id=punch_id))
        if original.void:
            raise InvalidInput(_("Punch {id} takes a punch away: it cannot be corrected.").format(id=punch_id))
        store = Store.get_by_id(original.store_id)
        row = Punch.create(staff=staff, store=store, kind=original.kind, at=moment or original.at,
                           source="correction", recorded_by=by, supersedes=original, void=void, reason=reason,
                           txid=txid)
        record_states("attendance_punch", [row.id], staff=by, store=store)
        audit("attendance.correct", f"attendance_punch:{original.id}", staff=by, store=store, txid=txid,
              payload={"correction": row.id, "reason": reason, "void": void,
                       "was": original.at.strftime("%Y-%m-%d %H:%M:%S"),
                       "now": None if void else row.at.strftime("%Y-%m-%d %H:%M:%S")})
    return _result(Punch.get_by_id(row.id))


def add_punch(staff_code: str, kind: str, at: str | dt.datetime, by: Staff, reason: str, txid: str,
              store: Store | str | None = None) -> PunchResult:
    """A manager adds a punch that is missing (a forgotten clock-out, a clock-in the reader never saw)."""
    reason = _reason(reason)
    if kind not in ("in", "out"):
        raise InvalidInput(_("A punch is a clock-in or a clock-out."))
    moment = parse_moment(at)
    with write_transaction():
        done = Punch.get_or_none(Punch.txid == txid)
        if done is not None:
            return _result(done)
        staff = Staff.get_or_none(Staff.code == (staff_code or "").strip())
        if staff is None:
            raise NotFound(_("No staff member {code!r}.").format(code=staff_code))
        _managed(by, staff, "attendance.correct")
        where = resolve_store(store, staff)
        row = Punch.create(staff=staff, store=where, kind=kind, at=moment, source="correction", recorded_by=by,
                           reason=reason, txid=txid)
        record_states("attendance_punch", [row.id], staff=by, store=where)
        audit("attendance.add", f"attendance_punch:{row.id}", staff=by, store=where, txid=txid,
              payload={"reason": reason, "kind": kind, "now": moment.strftime("%Y-%m-%d %H:%M:%S")})
    return _result(Punch.get_by_id(row.id))


@dataclass(frozen=True)
class PunchRow:
    id: int
    code: str
    name: str
    kind: str
    at: dt.datetime
    store: str
    source: str
    counts: bool  # neither superseded nor void
    supersedes: int | None
    void: bool
    reason: str
    recorded_by: str


def punch_rows(start: dt.date, end: dt.date, staff_code: str | None = None) -> list[PunchRow]:
    """Every punch row of the days (corrections and what they corrected too), for a manager to read."""
    query = Punch.select().where((Punch.at >= dt.datetime.combine(start, dt.time()))
                                 & (Punch.at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time())))
    if staff_code:
        staff = Staff.get_or_none(Staff.code == staff_code)
        if staff is None:
            raise NotFound(_("No staff member {code!r}.").format(code=staff_code))
        query = query.where(Punch.staff == staff.id)
    rows = list(query.order_by(Punch.at, Punch.id))
    superseded = {r.supersedes_id for r in Punch.select(Punch.supersedes).where(Punch.supersedes.is_null(False))}
    staff = {s.id: s for s in Staff.select()}
    stores = {s.id: s.code for s in Store.select()}
    return [PunchRow(r.id, staff[r.staff_id].code, staff[r.staff_id].name, r.kind, r.at, stores[r.store_id],
                     r.source, r.id not in superseded and not r.void, r.supersedes_id, r.void, r.reason,
                     staff[r.recorded_by_id].code if r.recorded_by_id else "") for r in rows]


# ------------------------------------------------------------------------------------------------ rosters


@dataclass(frozen=True)
class Duty:
    """What a roster says of one day: from ``start`` to ``end`` (store time), or off (both None)."""

    start: dt.time | None
    end: dt.time | None

    @property
    def off(self) -> bool:
        return self.start is None

    def text(self) -> str:
        if self.off:
            return _("off")
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(value: dt.time | None) -> str:
    if value is None:
        return ""
    return "24:00" if value == dt.time.max else value.strftime("%H:%M")


def _parse_time(text: str) -> dt.time:
    match = _TIME.fullmatch(text.strip())
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise InvalidInput(_("Write a time of day as HH:MM, not {text!r}.").format(text=text))
    hour, minute = int(match.group(1)), int(match.group(2))
    return dt.time.max if hour == 24 else dt.time(hour, minute)


def parse_shift(text: str) -> Duty:
    """'09:00-18:00' or 'off'. A shift ends the day it starts (24:00 at the latest)."""
    text = (text or "").strip().lower()
    if text in ("off", "休", "休息"):
        return Duty(None, None)
    start, sep, end = text.replace("–", "-").partition("-")
    if not sep:
        raise InvalidInput(_("Write a shift as HH:MM-HH:MM, or off, not {text!r}.").format(text=text))
    first, last = _parse_time(start), _parse_time(end)
    if last <= first:
        raise InvalidInput(_("A shift ends after it starts, the same day: {text!r}.").format(text=text))
    return Duty(first, last)


def _stored(value: str | None) -> dt.time | None:
    return None if not value else _parse_time(value)


def _weekdays(text: str) -> list[int]:
    """'mon', 'mon-fri', '1-5', 'sat,sun' → weekday numbers (1 Monday … 7 Sunday)."""
    days: list[int] = []

    def one(word: str) -> int:
        word = word.strip().lower()[:3]
        if word in WEEKDAYS:
            return WEEKDAYS.index(word) + 1
        if word.isdigit() and 1 <= int(word) <= 7:
            return int(word)
        raise InvalidInput(_("Unknown weekday {text!r}: mon … sun, or 1 … 7.").format(text=word))

    for part in text.split(","):
        first, sep, last = part.partition("-")
        a = one(first)
        b = one(last) if sep else a
        if b < a:
            raise InvalidInput(_("Weekdays run Monday to Sunday: {text!r}.").format(text=part))
        days.extend(range(a, b + 1))
    return days


def parse_week(specs: Iterable[str]) -> dict[int, Duty]:
    """'mon-fri=09:00-18:00', 'sat=10:00-16:00', 'sun=off' → the week; a weekday not named is off."""
    week = {d: Duty(None, None) for d in range(1, 8)}
    for spec in specs:
        days, sep, shift = spec.partition("=")
        if not sep:
            raise InvalidInput(_("Write a roster day as DAYS=HH:MM-HH:MM or DAYS=off, not {text!r}.").format(
                text=spec))
        for day in _weekdays(days):
            week[day] = parse_shift(shift)
    return week


def _roster_staff(by: Staff, staff_code: str) -> Staff:
    staff = Staff.get_or_none(Staff.code == (staff_code or "").strip())
    if staff is None:
        raise NotFound(_("No staff member {code!r}.").format(code=staff_code))
    _managed(by, staff, "roster.edit")
    return staff


def set_week(staff_code: str, week: dict[int, Duty], by: Staff) -> None:
    """Replace a staff member's weekly pattern (audited)."""
    with write_transaction():
        staff = _roster_staff(by, staff_code)
        for day in range(1, 8):
            shift = week.get(day, Duty(None, None))
            start, end = _hhmm(shift.start) or None, _hhmm(shift.end) or None
            row = RosterDay.get_or_none((RosterDay.staff == staff.id) & (RosterDay.weekday == day))
            if row is None:
                row = RosterDay.create(staff=staff, weekday=day, start=start, end=end)
            elif (row.start, row.end) != (start, end):
                RosterDay.update(start=start, end=end).where(RosterDay.id == row.id).execute()
            else:
                continue
            record_states("roster_day", [row.id], staff=by, store=None)


def set_exception(staff_code: str, day: dt.date, shift: Duty | None, by: Staff, note: str = "") -> None:
    """A date that differs from the week: another shift, a day off, or (``shift`` None) back to the week."""
    with write_transaction():
        staff = _roster_staff(by, staff_code)
        row = RosterException.get_or_none((RosterException.staff == staff.id) & (RosterException.day == day))
        if shift is None:
            if row is not None:
                RosterException.delete().where(RosterException.id == row.id).execute()
                record_gone("roster_exception", row.id, staff=by, store=None)
            return
        start, end = _hhmm(shift.start) or None, _hhmm(shift.end) or None
        if row is None:
            row = RosterException.create(staff=staff, day=day, start=start, end=end, note=note.strip()[:200])
        else:
            RosterException.update(start=start, end=end, note=note.strip()[:200]).where(
                RosterException.id == row.id).execute()
        record_states("roster_exception", [row.id], staff=by, store=None)


@dataclass
class Roster:
    """A staff member's week and exceptions, read once for a report."""

    week: dict[int, Duty] = field(default_factory=dict)
    exceptions: dict[dt.date, tuple[Duty, str]] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.week) or bool(self.exceptions)

    def on(self, day: dt.date) -> Duty | None:
        """The shift of ``day`` (off: ``Duty(None, None)``); None when the staff member has no roster."""
        if day in self.exceptions:
            return self.exceptions[day][0]
        if not self.exists:
            return None
        return self.week.get(day.isoweekday(), Duty(None, None))


def rosters(staff_ids: Iterable[int]) -> dict[int, Roster]:
    ids = list(staff_ids)
    out: dict[int, Roster] = defaultdict(Roster)
    if not ids:
        return out
    marks = ", ".join("?" for _ in ids)  # written out: a booking reads its staff member's roster on every commit
    for staff_id, weekday, start, end in fetch_rows(
            f'SELECT "staff_id", "weekday", "start", "end" FROM "roster_day" WHERE "staff_id" IN ({marks})', ids):
        out[staff_id].week[weekday] = Duty(_stored(start), _stored(end))
    for staff_id, day, start, end, note in fetch_rows(
            'SELECT "staff_id", "day", "start", "end", "note" FROM "roster_exception" '
            f'WHERE "staff_id" IN ({marks})', ids):
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        out[staff_id].exceptions[day] = (Duty(_stored(start), _stored(end)), note)
    return out


def roster_rows(staff_code: str | None = None, start: dt.date | None = None,
                end: dt.date | None = None) -> Iterator[dict[str, object]]:
    """The week of each staff member (with a roster, or the one named), then their exceptions in the days."""
    query = Staff.select().where(Staff.active == True).order_by(Staff.code)  # noqa: E712
    if staff_code:
        query = Staff.select().where(Staff.code == staff_code)
        if not query.exists():
            raise NotFound(_("No staff member {code!r}.").format(code=staff_code))
    staff = list(query)
    found = rosters(s.id for s in staff)
    for s in staff:
        roster = found.get(s.id)
        if roster is None or not roster.exists:
            if staff_code:
                yield {"code": s.code, "name": s.name, "day": "", "shift": _("no roster"), "note": ""}
            continue
        for day in range(1, 8):
            yield {"code": s.code, "name": s.name, "day": WEEKDAYS[day - 1],
                   "shift": roster.week.get(day, Duty(None, None)).text(), "note": ""}
        for day, (shift, note) in sorted(roster.exceptions.items()):
            if (start is None or day >= start) and (end is None or day <= end):
                yield {"code": s.code, "name": s.name, "day": day.isoformat(), "shift": shift.text(), "note": note}


# ------------------------------------------------------------------------------------------------ the figures


def grace() -> dt.timedelta:
    settings = get_config("attendance") or {}
    return dt.timedelta(minutes=max(0, int(settings.get("grace_minutes", 5))))


@dataclass
class DayFigures:
    """One staff member's day against their roster (seconds worked and over time)."""

    day: dt.date
    shift: Duty | None
    worked: int = 0
    overtime: int = 0
    late: bool = False
    early: bool = False
    absent: bool = False
    forgotten: int = 0  # clock-ins closed by the rule, not by a clock-out

    @property
    def worked_any(self) -> bool:
        return self.worked > 0 or self.forgotten > 0


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    if time == dt.time.max:
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    return dt.datetime.combine(day, time)


def day_figures(day: dt.date, shift: Duty | None, punches: list[Punch], now: dt.datetime, limit: dt.timedelta
                ) -> DayFigures:
    """The figures of one day from its punches (in time order), its shift and the moment it is now."""
    figures = DayFigures(day, shift)
    rostered = shift is not None and not shift.off
    start = _at(day, shift.start) if rostered else None  # type: ignore[union-attr, arg-type]
    end = _at(day, shift.end) if rostered else None  # type: ignore[union-attr, arg-type]
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    spans: list[tuple[dt.datetime, dt.datetime, bool]] = []  # (from, to, closed by a clock-out)
    opened: dt.datetime | None = None
    for row in punches:
        if row.kind == "in":
            if opened is None:
                opened = row.at
        elif opened is not None:
            spans.append((opened, row.at, True))
            opened = None
    if opened is not None:
        if now < day_end:  # still at work today: counted up to now
            spans.append((opened, max(opened, now), False))
        else:
            close = end if end is not None and end > opened else day_end
            spans.append((opened, close, False))
            figures.forgotten += 1
    for first, last, _closed in spans:
        figures.worked += int((last - first).total_seconds())
        if shift is not None and shift.off:
            figures.overtime += int((last - first).total_seconds())
        elif end is not None and last > end:
            figures.overtime += int((last - max(first, end)).total_seconds())
    if rostered:
        if not punches:
            figures.absent = now >= day_end
        else:
            first_in = next((p.at for p in punches if p.kind == "in"), None)
            figures.late = first_in is not None and first_in > start + limit  # type: ignore[operator]
            if spans and spans[-1][2]:
                figures.early = spans[-1][1] < end  # type: ignore[operator]
    return figures


def staff_days(staff_ids: Iterable[int], start: dt.date, end: dt.date) -> dict[int, list[DayFigures]]:
    """Every day of the period for each staff member, with its figures — on the clock of their store (its own zone,
    else the chain's), whichever zone this process runs in: the roster's 09:00 is the store's 09:00."""
    ids = list(staff_ids)
    found = rosters(ids)
    zones = store_zones()
    zone_of = {sid: zones.get(store_id, zones[None])
               for sid, store_id in Staff.select(Staff.id, Staff.store).where(Staff.id.in_(ids)).tuples()}
    by_day: dict[tuple[int, dt.date], list[Punch]] = defaultdict(list)
    # a day either side: a punch's day is its store's, which may be this process's day before or after
    for row in effective_punches(ids, start - dt.timedelta(days=1), end + dt.timedelta(days=1)):
        row.at = clock.wall_in(row.at, zone_of.get(row.staff_id))  # (read only: never saved)
        if start <= row.at.date() <= end:
            by_day[(row.staff_id, row.at.date())].append(row)
    now = clock.now()
    limit = grace()
    out: dict[int, list[DayFigures]] = {}
    for staff_id in ids:
        roster = found.get(staff_id, Roster())
        there = clock.wall_in(now, zone_of.get(staff_id))
        days = []
        day = start
        while day <= end:
            days.append(day_figures(day, roster.on(day), by_day.get((staff_id, day), []), there, limit))
            day += dt.timedelta(days=1)
        out[staff_id] = days
    return out


def hours(seconds: int) -> str:
    """Seconds as hours with two decimals, exactly rounded ('7.50')."""
    hundredths = (seconds * 100 + 1800) // 3600
    return f"{hundredths // 100}.{hundredths % 100:02d}"
