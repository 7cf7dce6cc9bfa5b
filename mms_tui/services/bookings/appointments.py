"""预约: appointments with a staff member, and a room when a service needs one.

* **A booking** is a member (or a walk-in's name and phone), one or more services performed back to back by one
  staff member (named, or "any who can": the first free of those set up for every service), a room when a service
  has rooms (one of those that host every such service), a store and a start; its end is the start plus the
  services' minutes (a service without a duration takes the ``bookings.default_minutes`` setting).
* **Conflicts are refused with the reason**, and the next free slots are suggested: the staff member busy with
  another booking or coaching a class, every suitable room taken, the member booked elsewhere at that time, the
  slot outside the staff member's rostered shift that day (staff without a roster: the store's booking hours,
  setting ``bookings.opens`` / ``bookings.closes``), a start in the past. A staff member who has not clocked in on
  the day of a booking made for today is only a warning.
* **Every change is one operation** (:func:`~mms_tui.services.ledger.operations.run_operation`): idempotent by
  txid, audited with the booking's state (``mms check`` holds the rows to it). A recurring booking (weekly for N
  weeks) is all or nothing: one occurrence in conflict refuses them all, naming its day.
* **Two desks, one slot**: on SQLite the write lock serialises the check and the insert; on PostgreSQL the staff
  member's row (and the rooms') are locked first, so the second desk sees the first's booking and is refused.
* **Cancellations and no-shows** keep the row with its reason and moment. A cancellation less than
  ``bookings.late_cancel_hours`` before the start is *late*; a booking not arrived ``no_show_after_minutes`` after
  its start may be marked a *no-show*; each costs what the rules document says (``bookings.late_cancel`` /
  ``no_show``): nothing, one visit of the member's visit package (a ledger entry, ``visits.forfeited``), or a fee
  put on the member's next bill (:mod:`mms_tui.services.money.fees`, kind ``booking``). A move keeps the services
  and makes a new booking; the old one is cancelled and names it, at no cost.
* **Arrival** marks the booking arrived and hands the desk the bill to open: the booked services with their
  performer already filled (so commissions follow); :func:`link_sale` ties the paid sale to the booking.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mms_tui import clock
from mms_tui.db import database, is_sqlite
from mms_tui.i18n import _
from mms_tui.models import (
    Booking,
    BookingService,
    Card,
    CardType,
    Member,
    Moment,
    Room,
    Sale,
    ServiceItem,
    ServiceRoom,
    Staff,
    Store,
    Transaction,
)
from mms_tui.services.base.config import get_config
from mms_tui.services.base.errors import CardNotUsable, DomainError, InvalidInput, NotFound
from mms_tui.services.base.resolve import ensure_usable, resolve_member, resolve_store
from mms_tui.services.base.sql import columns, fetch_model, fetch_rows, insert_model, row_model
from mms_tui.services.base.text import format_money, normalise_card_no, normalise_phone
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.ledger.operations import Posting, audit, card_posting, post, run_operation
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.staff import attendance

LIVE = ("booked", "arrived")
MAX_WEEKS = 52


class BookingRefused(DomainError):
    """A booking that cannot be made as asked: the reason, and the next free slots that would do."""

    def __init__(self, message: str, suggestions: Sequence[Slot] = ()) -> None:
        super().__init__(message)
        self.suggestions = list(suggestions)


@dataclass(frozen=True)
class Slot:
    """A time a booking fits: with this staff member (and room) from ``start`` to ``end`` (store time)."""

    staff_code: str
    staff_name: str
    room_code: str | None
    start: dt.datetime
    end: dt.datetime

    def text(self) -> str:
        room = f" · {self.room_code}" if self.room_code else ""
        return f"{self.start:%m-%d %H:%M}-{self.end:%H:%M} {self.staff_name}{room}"


@dataclass(frozen=True)
class Plan:
    """What a set of services needs: their minutes back to back, who may perform all of them, which rooms host
    all of those that need a room."""

    service_ids: tuple[int, ...]
    codes: tuple[str, ...]
    names: tuple[str, ...]
    minutes: tuple[int, ...]
    performer_ids: frozenset[int]
    needs_room: bool
    room_ids: tuple[int, ...]

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes)


@dataclass
class BookingResult:
    txid: str
    booking_ids: list[int]
    starts: list[str]  # "YYYY-MM-DD HH:MM", store time
    end: str
    staff_code: str
    staff_name: str
    room_code: str | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class BookingChange:
    txid: str
    booking_id: int
    status: str
    late: bool = False
    policy: str = ""
    fee_fen: int = 0
    new_booking_id: int | None = None


@dataclass
class Arrival:
    """A booking arrived: the bill the desk opens for it."""

    txid: str
    booking_id: int
    member_id: int | None
    guest_name: str
    lines: list[str]  # service codes, in order
    performers: dict[str, list[list]]  # service code → [[staff code, share in basis points]]


@dataclass(frozen=True)
class BookingView:
    """A booking as the day view, the member's screen and ``mms bookings list`` show it."""

    id: int
    start: dt.datetime
    end: dt.datetime
    status: str
    staff_id: int
    staff_code: str
    staff_name: str
    room_code: str | None
    member_id: int | None
    who: str  # the member's name, or the walk-in's
    phone_tail: str
    services: str
    note: str
    store_code: str
    late: bool
    policy: str


# ------------------------------------------------------------------------------------------------ settings


def _hours_setting() -> tuple[dt.time, dt.time, int, int]:
    cfg = get_config("bookings") or {}
    opens = attendance.parse_shift(f"{cfg.get('opens', '09:00')}-{cfg.get('closes', '21:00')}")
    return opens.start, opens.end, int(cfg.get("step_minutes", 30)), int(cfg.get("default_minutes", 60))


def store_hours() -> tuple[dt.time, dt.time]:
    opens, closes, _step, _default = _hours_setting()
    return opens, closes


def step_minutes() -> int:
    return _hours_setting()[2]


def next_step() -> dt.datetime:
    """The first start on the day view's step after now."""
    now = clock.now().replace(second=0)
    step = step_minutes()
    return now + dt.timedelta(minutes=step - (now.hour * 60 + now.minute) % step)


# ------------------------------------------------------------------------------------------------ the plan


def plan_services(codes: Iterable[str], store: Store) -> Plan:
    """The services ``codes`` name (active services, not products), who performs all of them at ``store``, the
    rooms of ``store`` that host those needing one."""
    wanted = [normalise_card_no(c) for c in codes if str(c or "").strip()]
    if not wanted:
        raise InvalidInput(_("A booking needs at least one service."))
    marks = ", ".join("?" for _ in wanted)  # written out, as every read of a booking's commit (BENCHMARKS.md)
    found = {code: (sid, name, minutes, active) for sid, code, name, minutes, active in fetch_rows(
        'SELECT "id", "code", "name", "duration_minutes", "active" FROM "service_item" '
        f'WHERE "code" IN ({marks})', wanted)}
    default = _hours_setting()[3]
    items = []
    for code in wanted:
        item = found.get(code)
        if item is None:
            raise NotFound(_("No service with code {code}.").format(code=code))
        if not item[3]:
            raise InvalidInput(_("Service {code} is no longer offered.").format(code=code))
        items.append(item)
    ids = [item[0] for item in items]
    marks = ", ".join("?" for _ in ids)
    able: dict[int, set[int]] = defaultdict(set)
    for staff_id, service_id in fetch_rows(
            'SELECT "l"."staff_id", "l"."service_id" FROM "staff_service" AS "l" JOIN "staff" AS "s" '
            f'ON "s"."id" = "l"."staff_id" WHERE "l"."service_id" IN ({marks}) AND "s"."active" = ? '
            'AND ("s"."store_id" IS NULL OR "s"."store_id" = ?)', [*ids, True, store.id]):
        able[staff_id].add(service_id)
    performers = frozenset(sid for sid, done in able.items() if done >= set(ids))
    hosts: dict[int, set[int]] = defaultdict(set)
    needing: set[int] = set()
    for service_id, room_id, room_store, room_active in fetch_rows(
            'SELECT "l"."service_id", "l"."room_id", "r"."store_id", "r"."active" FROM "service_room" AS "l" '
            f'JOIN "room" AS "r" ON "r"."id" = "l"."room_id" WHERE "l"."service_id" IN ({marks})', ids):
        needing.add(service_id)
        if room_store == store.id and room_active:
            hosts[service_id].add(room_id)
    rooms: set[int] | None = None
    for sid in needing:
        rooms = hosts[sid] if rooms is None else rooms & hosts[sid]
    return Plan(tuple(ids), tuple(wanted),
                tuple(item[1] for item in items), tuple(item[2] or default for item in items), performers,
                bool(needing), tuple(sorted(rooms or ())))


# ------------------------------------------------------------------------------------------------ busy times


@dataclass
class _Busy:
    """Who and what is taken when, over a span: intervals per staff member and per room, with what holds them."""

    staff: dict[int, list[tuple[dt.datetime, dt.datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    rooms: dict[int, list[tuple[dt.datetime, dt.datetime, str]]] = field(default_factory=lambda: defaultdict(list))

    def staff_clash(self, staff_id: int, start: dt.datetime, end: dt.datetime) -> tuple | None:
        return next((b for b in self.staff.get(staff_id, ()) if b[0] < end and b[1] > start), None)

    def room_free(self, room_ids: Sequence[int], start: dt.datetime, end: dt.datetime) -> int | None:
        return next((r for r in room_ids if not any(b[0] < end and b[1] > start for b in self.rooms.get(r, ()))),
                    None)


def _busy(staff_ids: Iterable[int], room_ids: Iterable[int], start: dt.datetime, end: dt.datetime,
          ignore: int | None = None) -> _Busy:
    staff_ids, room_ids = list(staff_ids), list(room_ids)
    busy = _Busy()
    if not staff_ids and not room_ids:
        return busy
    moment = Moment.from_db
    for table, person, booked, live in (("booking", "staff_id", _("another booking"), '"status" IN (?, ?)'),
                                        ("class_session", "coach_id", _("a class"), '"cancelled" = ?')):
        who, params = [], [*(LIVE if table == "booking" else (False,)), _at(end), _at(start)]
        if staff_ids:
            who.append(f'"{person}" IN ({", ".join("?" for _ in staff_ids)})')
            params += staff_ids
        if room_ids:
            who.append(f'"room_id" IN ({", ".join("?" for _ in room_ids)})')
            params += room_ids
        skip = ""
        if ignore is not None and table == "booking":
            skip = ' AND "id" <> ?'
            params.append(ignore)
        for staff_id, room_id, begins, ends in fetch_rows(
                f'SELECT "{person}", "room_id", "start", "end" FROM "{table}" WHERE {live} AND "start" < ? '
                f'AND "end" > ? AND ({" OR ".join(who)}){skip}', params):
            span = (moment(begins), moment(ends), booked)
            if staff_id in staff_ids:
                busy.staff[staff_id].append(span)
            if room_id is not None:
                busy.rooms[room_id].append(span)
    return busy


def working_hours(staff_ids: Iterable[int], day: dt.date) -> dict[int, tuple[dt.datetime, dt.datetime] | None]:
    """Each staff member's bookable span on ``day``: their rostered shift, none on a day off; staff without a
    roster: the store's booking hours."""
    ids = list(staff_ids)
    opens, closes = store_hours()
    rosters = attendance.rosters(ids)
    out: dict[int, tuple[dt.datetime, dt.datetime] | None] = {}
    for sid in ids:
        duty = rosters[sid].on(day) if sid in rosters else None
        if duty is None:
            out[sid] = (dt.datetime.combine(day, opens), dt.datetime.combine(day, closes))
        elif duty.off:
            out[sid] = None
        else:
            end = dt.datetime.combine(day, duty.end) if duty.end != dt.time(0) else dt.datetime.combine(
                day + dt.timedelta(days=1), dt.time())
            out[sid] = (dt.datetime.combine(day, duty.start), end)
    return out


def _staff(ids: Iterable[int]) -> dict[int, Staff]:
    ids = list(ids)
    if not ids:
        return {}
    rows = fetch_rows(f'SELECT {columns(Staff, "t")} FROM "staff" AS "t" WHERE "t"."id" IN '
                      f'({", ".join("?" for _ in ids)})', ids)
    return {s.id: s for s in (row_model(Staff, r) for r in rows)}


def _refusal(staff: Staff, start: dt.datetime, end: dt.datetime, hours, busy: _Busy, plan: Plan
             ) -> tuple[str | None, int | None]:
    """(why this staff member cannot take the slot, or None; the room it would use)."""
    if hours is None:
        return _("{name} does not work on {day}.").format(name=staff.name, day=start.date().isoformat()), None
    if start < hours[0] or end > hours[1]:
        return _("{start}-{end} is outside {name}'s hours ({opens}-{closes}).").format(
            start=f"{start:%H:%M}", end=f"{end:%H:%M}", name=staff.name, opens=f"{hours[0]:%H:%M}",
            closes=f"{hours[1]:%H:%M}" if hours[1].date() == start.date() else "24:00"), None
    clash = busy.staff_clash(staff.id, start, end)
    if clash is not None:
        return _("{name} is busy from {start} to {end} ({what}).").format(
            name=staff.name, start=f"{clash[0]:%H:%M}", end=f"{clash[1]:%H:%M}", what=clash[2]), None
    room = None
    if plan.needs_room:
        room = busy.room_free(plan.room_ids, start, end)
        if room is None:
            return (_("Every room for these services is taken at {time}.").format(time=f"{start:%H:%M}")
                    if plan.room_ids else _("No room of this store hosts these services.")), None
    return None, room


def free_slots(plan: Plan, store: Store, after: dt.datetime, *, staff_ids: Iterable[int] | None = None,
               count: int = 5, days: int = 7, ignore: int | None = None) -> list[Slot]:
    """The first ``count`` starts from ``after`` (on the step of the day view) at which the services fit, across
    the staff who can perform them (or ``staff_ids``), within ``days`` days: one read of the bookings in the span,
    then arithmetic."""
    candidates = sorted(set(staff_ids) & plan.performer_ids if staff_ids is not None else plan.performer_ids)
    if not candidates:
        return []
    step = dt.timedelta(minutes=step_minutes())
    length = dt.timedelta(minutes=plan.total_minutes)
    first_day = after.date()
    span_end = dt.datetime.combine(first_day + dt.timedelta(days=days), dt.time())
    busy = _busy(candidates, plan.room_ids, after, span_end + length, ignore)
    people = _staff(candidates)
    rooms = {r.id: r.code for r in Room.select().where(Room.id.in_(list(plan.room_ids)))} if plan.room_ids else {}
    found: list[Slot] = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        hours = working_hours(candidates, day)
        day_found: list[Slot] = []
        for sid in candidates:
            span = hours.get(sid)
            if span is None:
                continue
            start = span[0]
            while start < after:
                start += step
            while start + length <= span[1]:
                why, room = _refusal(people[sid], start, start + length, span, busy, plan)
                if why is None:
                    day_found.append(Slot(people[sid].code, people[sid].name, rooms.get(room), start,
                                          start + length))
                    if len([s for s in day_found if s.staff_code == people[sid].code]) >= count:
                        break
                start += step
        found.extend(sorted(day_found, key=lambda s: (s.start, s.staff_code)))
        if len(found) >= count:
            break
    return found[:count]


def next_free(services: Sequence[str], *, store: Store | str | None = None, after: dt.datetime | str | None = None,
              staff_code: str | None = None, count: int = 5) -> list[Slot]:
    """The next free slots for ``services`` at ``store`` from ``after`` (never before now), of one staff member or
    of all who perform them (``mms bookings free``)."""
    store_obj = resolve_store(store)
    plan = plan_services(services, store_obj)
    ids = None
    if staff_code:
        s = fetch_model(Staff, '"t"."code" = ?', (staff_code.strip(),))
        if s is None:
            raise NotFound(_("No staff member {code}.").format(code=staff_code))
        ids = [s.id]
    begin = max(parse_start(after), clock.now()) if after else clock.now()
    return free_slots(plan, store_obj, begin, staff_ids=ids, count=count)


# ------------------------------------------------------------------------------------------------ locking


def _lock(staff_ids: Iterable[int], room_ids: Iterable[int]) -> None:
    """Two desks booking the same staff member or room: on PostgreSQL the second waits here for the first to
    commit, then sees its booking. SQLite's write lock does this already."""
    if is_sqlite():
        return
    for table, ids in (("staff", sorted(set(staff_ids))), ("room", sorted(set(room_ids)))):
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            database.execute_sql(f'SELECT "id" FROM "{table}" WHERE "id" IN ({marks}) ORDER BY "id" FOR UPDATE',
                                 tuple(ids))


# ------------------------------------------------------------------------------------------------ booking


def _who(member: Member | int | str | None, guest_name: str, guest_phone: str) -> tuple[Member | None, str, str]:
    if member is not None:
        if isinstance(member, str):
            member = normalise_phone(member) or member
        m = resolve_member(member)
        if m.status != "active":
            raise InvalidInput(_("{name}'s membership is {status}: no booking.").format(name=m.name,
                                                                                        status=m.status))
        return m, "", ""
    name = (guest_name or "").strip()
    if not name or not (guest_phone or "").strip():
        raise InvalidInput(_("A walk-in's booking needs their name and phone."))
    phone = normalise_phone(guest_phone)
    if len(name) > 50:
        raise InvalidInput(_("The name is too long (50 characters at most)."))
    return None, name, phone


def parse_start(start: dt.datetime | str) -> dt.datetime:
    if isinstance(start, str):
        try:
            start = dt.datetime.fromisoformat(start.strip().replace("T", " "))
        except ValueError:
            raise InvalidInput(_("{text!r} is not a date and time (YYYY-MM-DD HH:MM).").format(text=start)) from None
    if start.tzinfo is not None:
        start = clock.from_utc(clock.to_utc(start))
    return start.replace(second=0, microsecond=0)


def _member_clash(member_id: int, start: dt.datetime, end: dt.datetime, ignore: int | None) -> Booking | None:
    where = '"t"."member_id" = ? AND "t"."status" IN (?, ?) AND "t"."start" < ? AND "t"."end" > ?'
    params = [member_id, *LIVE, _at(end), _at(start)]
    if ignore is not None:
        where += ' AND "t"."id" <> ?'
        params.append(ignore)
    return fetch_model(Booking, where, params)


def _check_slot(plan: Plan, store: Store, staff: Staff | None, start: dt.datetime, member_id: int | None,
                ignore: int | None = None) -> tuple[Staff, int | None]:
    """The staff member (the one named, or the first free who can) and room for a slot, or BookingRefused with
    the reason and the next free slots."""
    end = start + dt.timedelta(minutes=plan.total_minutes)
    if start < clock.now():
        raise BookingRefused(_("{time} is in the past.").format(time=f"{start:%Y-%m-%d %H:%M}"),
                             free_slots(plan, store, clock.now(), staff_ids=[staff.id] if staff else None,
                                        ignore=ignore))
    if member_id is not None:
        clash = _member_clash(member_id, start, end, ignore)
        if clash is not None:
            raise BookingRefused(_("The member is already booked from {start} to {end} that day.").format(
                start=f"{clash.start:%H:%M}", end=f"{clash.end:%H:%M}"))
    candidates = [staff.id] if staff is not None else sorted(plan.performer_ids)
    if not candidates:
        raise BookingRefused(_("No staff member of this store performs {services}.").format(
            services=", ".join(plan.names)))
    _lock(candidates, plan.room_ids)
    busy = _busy(candidates, plan.room_ids, start, end, ignore)
    hours = working_hours(candidates, start.date())
    people = _staff(candidates)
    first_reason = None
    for sid in candidates:
        why, room = _refusal(people[sid], start, end, hours[sid], busy, plan)
        if why is None:
            return people[sid], room
        first_reason = first_reason or why
    if staff is None:
        first_reason = _("No one who performs {services} is free at {time}.").format(
            services=", ".join(plan.names), time=f"{start:%H:%M}")
    raise BookingRefused(first_reason or "", free_slots(plan, store, max(start, clock.now()),
                                                        staff_ids=candidates, ignore=ignore))


def _performer(plan: Plan, staff: Staff | str | None) -> Staff | None:
    if staff is None or staff == "" or (isinstance(staff, str) and staff.strip().lower() in ("any", "*")):
        return None
    s = staff if isinstance(staff, Staff) else fetch_model(Staff, '"t"."code" = ?', (str(staff).strip(),))
    if s is None:
        raise NotFound(_("No staff member {code}.").format(code=staff))
    if not s.active:
        raise InvalidInput(_("{name}'s account is disabled.").format(name=s.name))
    if s.id not in plan.performer_ids:
        raise InvalidInput(_("{name} does not perform {services}.").format(name=s.name,
                                                                          services=", ".join(plan.names)))
    return s


def _warnings(staff: Staff, starts: Sequence[dt.datetime]) -> list[str]:
    today = clock.today()
    if any(s.date() == today for s in starts) and attendance.clocked_in_since(staff, today) is None:
        return [_("{name} has not clocked in today.").format(name=staff.name)]
    return []


def _insert(plan: Plan, store: Store, member: Member | None, guest: tuple[str, str], staff: Staff, room: int | None,
            start: dt.datetime, txid: str, series: str | None, note: str, by: Staff) -> Booking:
    end = start + dt.timedelta(minutes=plan.total_minutes)
    b = insert_model(Booking, txid=txid, store=store, member=member, guest_name=guest[0], guest_phone=guest[1],
                     staff=staff, room=room, start=start, end=end, series=series, note=note, created_by=by)
    for i, (sid, m) in enumerate(zip(plan.service_ids, plan.minutes, strict=True)):
        insert_model(BookingService, booking=b.id, service=sid, position=i, minutes=m)
    return b


def book(member: Member | int | str | None, services: Sequence[str], by: Staff, txid: str, *,
         start: dt.datetime | str, staff: Staff | str | None = None, store: Store | str | None = None,
         guest_name: str = "", guest_phone: str = "", note: str = "", weeks: int = 1) -> BookingResult:
    """Book ``services`` for ``member`` (None: a walk-in, by name and phone) with ``staff`` (None or "any": the
    first free who can) at ``start`` (store time), weekly for ``weeks`` weeks. Refused as a whole, with the reason
    and the next free slots, when any occurrence does not fit; nothing is written then."""
    store_obj = resolve_store(store, by)
    who, guest_name, guest_phone = _who(member, guest_name, guest_phone)
    plan = plan_services(services, store_obj)
    named = _performer(plan, staff)
    begin = parse_start(start)
    if not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        raise InvalidInput(_("A recurring booking repeats for 1 to {n} weeks.").format(n=MAX_WEEKS))
    note = (note or "").strip()
    if len(note) > 500:
        raise InvalidInput(_("The note is too long (500 characters at most)."))
    starts = [begin + dt.timedelta(weeks=i) for i in range(weeks)]
    request = {"member": who.id if who else None, "guest": [guest_name, guest_phone], "services": list(plan.codes),
               "staff": named.code if named else None, "store": store_obj.id, "start": begin.isoformat(),
               "weeks": weeks, "note": note}

    def body(tx) -> BookingResult:
        chosen, rooms = named, []
        for i, when in enumerate(starts):
            try:
                chosen, room = _check_slot(plan, store_obj, chosen, when, who.id if who else None)
            except BookingRefused as refused:
                if weeks == 1:
                    raise
                raise BookingRefused(_("Week {n} ({day}): {reason}").format(
                    n=i + 1, day=when.date().isoformat(), reason=str(refused)), refused.suggestions) from None
            rooms.append(room)
        ids = []
        for i, (when, room) in enumerate(zip(starts, rooms, strict=True)):
            b = _insert(plan, store_obj, who, (guest_name, guest_phone), chosen, room, when,
                        tx.txid if i == 0 else f"{tx.txid}:{i + 1}", tx.txid if weeks > 1 else None, note, by)
            ids.append(b.id)
        record_states("booking", ids, staff=by, store=store_obj)
        audit("booking.add", f"booking:{ids[0]}", staff=by, store=store_obj, txid=tx.txid,
              payload={"services": list(plan.codes), "staff": chosen.code, "weeks": weeks})
        room_code = Room.get_by_id(rooms[0]).code if rooms[0] is not None else None
        end = starts[0] + dt.timedelta(minutes=plan.total_minutes)
        return BookingResult(tx.txid, ids, [f"{s:%Y-%m-%d %H:%M}" for s in starts], f"{end:%H:%M}", chosen.code,
                             chosen.name, room_code, _warnings(chosen, starts))

    return run_operation(txid=txid, kind="booking", request=request, staff=by, store=store_obj,
                         member=who.id if who else None, body=body, result_type=BookingResult)


def member_by_query(query: str) -> Member:
    """The one member a desk's query names (card, phone, last 4, name, pinyin initials), for a booking form: a
    card or a full phone always names one; otherwise the query must match one member only."""
    from mms_tui.services.members.lookup import lookup

    hits = lookup(query, limit=2)
    if not hits:
        raise NotFound(_("No member matches {query}.").format(query=query.strip()))
    if len(hits) > 1 and hits[0].match not in ("card", "phone"):
        raise InvalidInput(_("Several members match {query}: type the phone or swipe the card.").format(
            query=query.strip()))
    return resolve_member(hits[0].member_id)


def book_at_desk(query: str | int, services: str, by: Staff, txid: str, *, start: str, staff: str, store: str | None,
                 guest_name: str = "", guest_phone: str = "", note: str = "", weeks: str = "1") -> BookingResult:
    """The booking form's fields as typed: the member by a desk query (empty: a walk-in; an id: that member),
    services as comma-separated codes, the weeks as text."""
    try:
        repeat = int((weeks or "1").strip())
    except ValueError:
        raise InvalidInput(_("Weeks: a whole number from 1 to {n}.").format(n=MAX_WEEKS)) from None
    member = resolve_member(query) if isinstance(query, int) else member_by_query(query) if query.strip() else None
    codes = [c.strip() for c in (services or "").replace("，", ",").split(",") if c.strip()]
    return book(member, codes, by, txid, start=start, staff=staff or None, store=store, guest_name=guest_name,
                guest_phone=guest_phone, note=note, weeks=repeat)


def _booking(booking_id: int) -> Booking:
    b = Booking.get_or_none(Booking.id == booking_id)
    if b is None:
        raise NotFound(_("No booking {id}.").format(id=booking_id))
    return b


def _plan_of(b: Booking) -> Plan:
    codes = [s.service.code for s in BookingService.select(BookingService, ServiceItem).join(ServiceItem)
             .where(BookingService.booking == b.id).order_by(BookingService.position)]
    return plan_services(codes, Store.get_by_id(b.store_id))


def _must_be_booked(b: Booking) -> None:
    if b.status != "booked":
        raise InvalidInput(_("Booking {id} is {status}: nothing to change.").format(id=b.id, status=_status(b.status)))


def _status(status: str) -> str:
    return {"booked": _("booked"), "arrived": _("arrived"), "cancelled": _("cancelled"),
            "no_show": _("no-show")}.get(status, status)


def move(booking_id: int, by: Staff, txid: str, *, start: dt.datetime | str,
         staff: Staff | str | None = None) -> BookingChange:
    """Move a booking to ``start`` (and ``staff``; None keeps its staff member, "any" lets the first free who can
    take it). The old row is cancelled naming the new one, at no cost."""
    b = _booking(booking_id)
    store_obj = Store.get_by_id(b.store_id)
    plan = _plan_of(b)
    keep = staff is None
    named = Staff.get_by_id(b.staff_id) if keep else _performer(plan, staff)
    if keep and named.id not in plan.performer_ids:
        named = None  # no longer set up for the services: any who can
    begin = parse_start(start)
    request = {"booking": b.id, "start": begin.isoformat(), "staff": named.code if named else None}

    def body(tx) -> BookingChange:
        current = _booking(booking_id)
        _must_be_booked(current)
        chosen, room = _check_slot(plan, store_obj, named, begin, current.member_id, ignore=current.id)
        new = _insert(plan, store_obj, current.member, (current.guest_name, current.guest_phone), chosen, room, begin,
                      tx.txid, current.series, current.note, by)
        Booking.update(status="cancelled", closed_at=clock.now(), closed_by=by, reason=_("moved"),
                       moved_to=new.id).where(Booking.id == current.id).execute()
        record_states("booking", [current.id, new.id], staff=by, store=store_obj)
        audit("booking.move", f"booking:{current.id}", staff=by, store=store_obj, txid=tx.txid,
              payload={"to": new.id, "start": begin.isoformat(), "staff": chosen.code})
        return BookingChange(tx.txid, current.id, "cancelled", new_booking_id=new.id)

    return run_operation(txid=txid, kind="booking_move", request=request, staff=by, store=store_obj,
                         member=b.member_id, body=body, result_type=BookingChange)


def _penalty(tx, b: Booking, kind: str, fee_fen: int, by: Staff, store: Store) -> tuple[str, int]:
    """Apply a late-cancel or no-show policy: (what was done, the fee put on the member's bill)."""
    if kind == "nothing":
        return "", 0
    if b.member_id is None:
        return "walk-in", 0  # no account to charge: recorded, nothing taken
    if kind == "fee":
        return f"fee:{fee_fen}", fee_fen
    return forfeit_visit(tx, b.member_id, b.start.date(), by, store, f"booking:{b.id}"), 0


def forfeit_visit(tx, member_id: int, day: dt.date, by: Staff, store: Store, subject: str,
                  card_id: int | None = None) -> str:
    """Take one visit of the member's visit package (``card_id``, or the usable one ending first) as a late-cancel
    or no-show policy says, in operation ``tx``: ``visit:<card>``, or ``visit:none`` when there is none to take."""
    query = (Card.select(Card).join(CardType)
             .where((Card.member == member_id) & (CardType.kind == "visits") & (Card.visits_left > 0))
             .order_by(Card.valid_until.asc(nulls="LAST"), Card.id))
    if card_id is not None:
        query = query.where(Card.id == card_id)
    for card in query:
        try:
            ensure_usable(card, day)
        except CardNotUsable:
            continue
        post(tx, [card_posting(card.id, "card.visits", -1), Posting("visits.forfeited", "visit", 1)])
        audit("card.visit_forfeited", f"card:{card.id}", staff=by, store=store, txid=tx.txid,
              payload={"for": subject})
        return f"visit:{card.card_no}"[:30]
    return "visit:none"


@dataclass
class Forfeit:
    txid: str
    policy: str


def penalise(member_id: int, day: dt.date, kind: str, fee_fen: int, by: Staff, store: Store, subject: str,
             txid: str, card_id: int | None = None) -> tuple[str, int]:
    """A late-cancel or no-show policy for what is not an appointment (a class place): (what was done, the fee
    put on the member's bill). A visit taken is an operation of its own (``txid``), run inside the caller's
    write transaction."""
    if kind == "nothing":
        return "", 0
    if kind == "fee":
        return f"fee:{fee_fen}", fee_fen
    done = run_operation(txid=txid, kind="visit_forfeit", request={"for": subject}, staff=by, store=store,
                         member=member_id, result_type=Forfeit,
                         body=lambda tx: Forfeit(tx.txid, forfeit_visit(tx, member_id, day, by, store, subject,
                                                                        card_id)))
    return done.policy, 0


def cancel(booking_id: int, by: Staff, reason: str, txid: str) -> BookingChange:
    """Cancel a booking with a reason; less than the rules' ``late_cancel_hours`` before its start it is late and
    costs what ``late_cancel`` says."""
    b = _booking(booking_id)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("A cancellation needs a reason."))
    store_obj = Store.get_by_id(b.store_id)
    request = {"booking": b.id, "reason": reason}

    def body(tx) -> BookingChange:
        current = _booking(booking_id)
        _must_be_booked(current)
        rules = load_rules().bookings
        now = clock.now()
        late = current.start - now < dt.timedelta(hours=rules.late_cancel_hours)
        policy, fee = _penalty(tx, current, rules.late_cancel, rules.late_cancel_fee_fen, by, store_obj) if late \
            else ("", 0)
        Booking.update(status="cancelled", closed_at=now, closed_by=by, reason=reason, late=late, policy=policy,
                       fee_fen=fee).where(Booking.id == current.id).execute()
        record_states("booking", [current.id], staff=by, store=store_obj)
        audit("booking.cancel", f"booking:{current.id}", staff=by, store=store_obj, txid=tx.txid,
              payload={"reason": reason, "late": late, "policy": policy})
        return BookingChange(tx.txid, current.id, "cancelled", late, policy, fee)

    return run_operation(txid=txid, kind="booking_cancel", request=request, staff=by, store=store_obj,
                         member=b.member_id, body=body, result_type=BookingChange)


def no_show(booking_id: int, by: Staff, txid: str) -> BookingChange:
    """Mark a booking nobody came to, once ``no_show_after_minutes`` have passed since its start; it costs what the
    rules' ``no_show`` says."""
    b = _booking(booking_id)
    store_obj = Store.get_by_id(b.store_id)

    def body(tx) -> BookingChange:
        current = _booking(booking_id)
        _must_be_booked(current)
        rules = load_rules().bookings
        now = clock.now()
        if now < current.start + dt.timedelta(minutes=rules.no_show_after_minutes):
            raise InvalidInput(_("Too early for a no-show: the booking starts at {time} (and {n} minutes' grace)."
                                 ).format(time=f"{current.start:%H:%M}", n=rules.no_show_after_minutes))
        policy, fee = _penalty(tx, current, rules.no_show, rules.no_show_fee_fen, by, store_obj)
        Booking.update(status="no_show", closed_at=now, closed_by=by, policy=policy, fee_fen=fee).where(
            Booking.id == current.id).execute()
        record_states("booking", [current.id], staff=by, store=store_obj)
        audit("booking.no_show", f"booking:{current.id}", staff=by, store=store_obj, txid=tx.txid,
              payload={"policy": policy})
        return BookingChange(tx.txid, current.id, "no_show", False, policy, fee)

    return run_operation(txid=txid, kind="booking_no_show", request={"booking": b.id}, staff=by, store=store_obj,
                         member=b.member_id, body=body, result_type=BookingChange)


def arrive(booking_id: int, by: Staff, txid: str) -> Arrival:
    """The member is here: the booking is arrived, and the desk opens the bill with the booked services and their
    performer filled in. Only on the booking's day."""
    b = _booking(booking_id)
    store_obj = Store.get_by_id(b.store_id)
    if b.start.date() != clock.today() and b.status == "booked":
        raise InvalidInput(_("Booking {id} is for {day}, not today.").format(id=b.id, day=b.start.date().isoformat()))

    def body(tx) -> Arrival:
        current = _booking(booking_id)
        _must_be_booked(current)
        Booking.update(status="arrived", arrived_at=clock.now()).where(Booking.id == current.id).execute()
        record_states("booking", [current.id], staff=by, store=store_obj)
        audit("booking.arrive", f"booking:{current.id}", staff=by, store=store_obj, txid=tx.txid, payload={})
        performer = Staff.get_by_id(current.staff_id)
        codes = [s.service.code for s in BookingService.select(BookingService, ServiceItem).join(ServiceItem)
                 .where(BookingService.booking == current.id).order_by(BookingService.position)]
        return Arrival(tx.txid, current.id, current.member_id, current.guest_name, codes,
                       {code: [[performer.code, 10_000]] for code in codes})

    return run_operation(txid=txid, kind="booking_arrive", request={"booking": b.id}, staff=by, store=store_obj,
                         member=b.member_id, body=body, result_type=Arrival)


def policy_text(status: str, late: bool, policy: str) -> str:
    """What a cancellation or a no-show did, for the person at the desk."""
    if policy.startswith("visit:") and policy != "visit:none":
        cost = _("one visit taken from card {card}").format(card=policy.removeprefix("visit:"))
    elif policy == "visit:none":
        cost = _("no visit package to take a visit from")
    elif policy.startswith("fee:"):
        cost = _("a fee of {amount} on the next bill").format(amount=format_money(int(policy.removeprefix("fee:"))))
    elif policy == "walk-in":
        cost = _("a walk-in: nothing to charge")
    else:
        cost = _("no charge")
    if status == "no_show":
        return _("Marked a no-show: {cost}.").format(cost=cost)
    return _("Cancelled late: {cost}.").format(cost=cost) if late else _("Cancelled: {cost}.").format(cost=cost)


def link_sale(booking_id: int, sale_txid: str) -> None:
    """Tie the sale that paid for an arrived booking to it (the desk calls this once the checkout is done)."""
    sale = Sale.select(Sale.id).join(Transaction).where(Transaction.txid == sale_txid).first()
    if sale is None:
        raise NotFound(_("No sale {txid}.").format(txid=sale_txid))
    from mms_tui.db import write_transaction

    with write_transaction():
        Booking.update(sale=sale.id).where((Booking.id == booking_id) & Booking.sale.is_null()
                                           & (Booking.status == "arrived")).execute()


# ------------------------------------------------------------------------------------------------ reading


_VIEW_COLUMNS = ('"b"."id", "b"."start", "b"."end", "b"."status", "b"."staff_id", "s"."code", "s"."name", '
                 '"r"."code", "b"."member_id", "m"."name", "m"."phone_last4", "b"."guest_name", "b"."guest_phone", '
                 '"b"."note", "st"."code", "b"."late", "b"."policy"')
_VIEW_FROM = ('"booking" AS "b" JOIN "staff" AS "s" ON "s"."id" = "b"."staff_id" '
              'LEFT JOIN "room" AS "r" ON "r"."id" = "b"."room_id" '
              'LEFT JOIN "member" AS "m" ON "m"."id" = "b"."member_id" '
              'JOIN "store" AS "st" ON "st"."id" = "b"."store_id"')


def views_where(where: str, params: Sequence[object], *, limit: int | None = None) -> list[BookingView]:
    """The bookings ``where`` (SQL over ``"b"``, the booking) picks, by start: written out, two reads whatever
    their number (the day view reads 400 of them in a few milliseconds)."""
    tail = f" LIMIT {int(limit)}" if limit is not None else ""
    rows = fetch_rows(f'SELECT {_VIEW_COLUMNS} FROM {_VIEW_FROM} WHERE {where} ORDER BY "b"."start", "b"."id"{tail}',
                      params)
    if not rows:
        return []
    names: dict[int, list[str]] = defaultdict(list)
    if limit is None:
        service_rows = fetch_rows(
            'SELECT "bs"."booking_id", "i"."name" FROM "booking_service" AS "bs" JOIN "booking" AS "b" '
            f'ON "b"."id" = "bs"."booking_id" JOIN "service_item" AS "i" ON "i"."id" = "bs"."service_id" WHERE {where} '
            'ORDER BY "bs"."booking_id", "bs"."position"', params)
    else:
        ids = [r[0] for r in rows]
        service_rows = fetch_rows(
            'SELECT "bs"."booking_id", "i"."name" FROM "booking_service" AS "bs" JOIN "service_item" AS "i" '
            f'ON "i"."id" = "bs"."service_id" WHERE "bs"."booking_id" IN ({", ".join("?" for _ in ids)}) '
            'ORDER BY "bs"."booking_id", "bs"."position"', ids)
    for booking_id, name in service_rows:
        names[booking_id].append(name)
    moment = Moment.from_db
    return [BookingView(bid, moment(start), moment(end), status, staff_id, staff_code, staff_name, room, member_id,
                        member_name if member_id is not None else guest_name,
                        (last4 or "") if member_id is not None else (guest_phone or "")[-4:], "+".join(names[bid]),
                        note, store_code, bool(late), policy)
            for (bid, start, end, status, staff_id, staff_code, staff_name, room, member_id, member_name, last4,
                 guest_name, guest_phone, note, store_code, late, policy) in rows]


def _at(moment: dt.datetime) -> object:
    """A store time as a written-out statement compares it with a stored moment."""
    return Booking.start.db_value(moment)


def day_bookings(store: Store | str | None, day: dt.date, *, staff: Staff | None = None,
                 live_only: bool = False) -> list[BookingView]:
    """A store's bookings that start on ``day``, by start."""
    store_obj = resolve_store(store, staff)
    start = dt.datetime.combine(day, dt.time())
    where = '"b"."store_id" = ? AND "b"."start" >= ? AND "b"."start" < ?'
    if live_only:
        where += ' AND "b"."status" IN (\'booked\', \'arrived\')'
    return views_where(where, (store_obj.id, _at(start), _at(start + dt.timedelta(days=1))))


def list_bookings(start_day: dt.date, end_day: dt.date, *, store: Store | str | None = None,
                  staff_code: str | None = None, viewer: Staff | None = None) -> list[BookingView]:
    """Bookings starting from ``start_day`` to ``end_day`` (both included), optionally of one store and staff."""
    where = '"b"."start" >= ? AND "b"."start" < ?'
    params: list[object] = [_at(dt.datetime.combine(start_day, dt.time())),
                            _at(dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time()))]
    if store is not None:
        where += ' AND "b"."store_id" = ?'
        params.append(resolve_store(store, viewer).id)
    if staff_code:
        s = Staff.get_or_none(Staff.code == staff_code)
        if s is None:
            raise NotFound(_("No staff member {code}.").format(code=staff_code))
        where += ' AND "b"."staff_id" = ?'
        params.append(s.id)
    return views_where(where, params)


def upcoming(member_id: int, *, limit: int = 5) -> list[BookingView]:
    """A member's next live bookings (the member's screen shows them)."""
    return views_where('"b"."member_id" = ? AND "b"."status" = \'booked\' AND "b"."end" > ?',
                       (member_id, _at(clock.now())), limit=limit)


def booking_view(booking_id: int) -> BookingView:
    return views_where('"b"."id" = ?', (_booking(booking_id).id,))[0]


# ------------------------------------------------------------------------------------------------ set-up


def set_service_rooms(by: Staff, service_code: str, room_codes: Iterable[str]) -> list[str]:
    """The rooms that host a service (none: it needs no room). A manager's change, audited."""
    from mms_tui.db import write_transaction
    from mms_tui.services.staff.permissions import require

    require(by, "catalogue.edit")
    service = ServiceItem.get_or_none(ServiceItem.code == normalise_card_no(service_code))
    if service is None:
        raise NotFound(_("No service with code {code}.").format(code=service_code))
    codes = list(dict.fromkeys(c.strip() for c in room_codes if c and c.strip()))
    rooms = {r.code: r for r in Room.select().where(Room.code.in_(codes))} if codes else {}
    missing = [c for c in codes if c not in rooms]
    if missing:
        raise NotFound(_("No room {code}.").format(code=missing[0]))
    with write_transaction():
        ServiceRoom.delete().where(ServiceRoom.service == service.id).execute()
        for code in codes:
            ServiceRoom.create(service=service, room=rooms[code])
        audit("service.rooms", f"service_item:{service.id}", staff=by, store=None, payload={"rooms": codes})
    return codes
