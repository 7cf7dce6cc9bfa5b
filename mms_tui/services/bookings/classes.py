"""课程安排: group classes — class types, a store's weekly timetable, the sessions generated from it, members'
places and waitlists, check-in at the door, no-shows, and the figures a coach and the bookings report read.

* **Timetable → sessions.** A timetable line (:class:`~mms_tui.models.ClassSlot`) says weekday, start ("HH:MM",
  the store's wall time), coach, room and places. :func:`generate_sessions` makes one session per line and date,
  and only the ones missing: running it twice makes nothing twice. A session's moments are wall times of the
  store turned into UTC on their way into the database (``Moment`` fields, :mod:`mms_tui.clock`).
* **A place needs a pass.** :func:`book_class` asks for a pass (a period card valid on the class's day, not
  frozen, lost or expired) or a visit package with visits left, decided by the same rules as a check-in
  (:func:`mms_tui.services.base.resolve.ensure_usable`, a freeze that ends by itself as
  :mod:`mms_tui.services.members.passes` has it). No visit is used at booking: one is used at the door
  (:func:`class_check_in`, through :func:`mms_tui.services.members.checkin.check_in` and its ledger).
* **Capacity, then the waitlist.** While places are left a booking is ``booked``, else ``waitlisted``; the
  waitlist's order is the order of the rows' ids. A cancelled place goes to the first on the waitlist whose pass
  still allows the class (the others keep their turn), in the cancellation's transaction (``promoted_at``).
  Cancelling less than :func:`late_cancel_hours` before the start is *late* (``late``); what that costs is the
  no-show policy's business, like ``policy`` of a no-show (:func:`mark_no_shows` leaves it empty).
* **One writer at a time per session.** Every change of places locks the session first: SQLite's
  ``BEGIN IMMEDIATE`` (:func:`mms_tui.db.write_transaction`) serialises writers, and on PostgreSQL the session's
  row is read ``FOR UPDATE``; two desks booking the last place at the same moment: one gets it, the other is
  waitlisted.
* **Idempotent, audited.** A booking's txid is its row's; a cancellation's is its audit event's; a check-in's is
  its visit's ledger transaction. The same txid again returns the first result; with other content it is a
  :class:`~mms_tui.services.base.errors.TxidConflict`. Every row made or changed records its state in the audit
  (``mms check`` holds the rows to it).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from dataclasses import dataclass

import peewee

from mms_tui import clock
from mms_tui.db import database, is_sqlite, retrying, write_transaction
from mms_tui.i18n import N_, _
from mms_tui.models import (
    AuditEvent,
    Card,
    ClassBooking,
    ClassSession,
    ClassSlot,
    ClassType,
    Member,
    Room,
    Staff,
    Store,
    Transaction,
    Visit,
)
from mms_tui.services.base.errors import (
    CardNotUsable,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TxidConflict,
    UnknownMember,
)
from mms_tui.services.base.resolve import (
    ensure_usable,
    find_card,
    resolve_card,
    resolve_member,
    resolve_store,
)
from mms_tui.services.bookings.appointments import parse_start as parse_when
from mms_tui.services.bookings.appointments import penalise
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.ledger.operations import audit
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.members.checkin import CheckInResult, check_in
from mms_tui.services.members.passes import freeze_ends_on
from mms_tui.services.staff.permissions import in_store_scope, require

#: a place that holds one of the session's places; ``waitlisted`` waits for one
HOLDS_PLACE = ("booked", "attended", "no_show")
LIVE = ("booked", "waitlisted")
STATUS_NAMES = {"booked": N_("booked"), "waitlisted": N_("waitlisted"), "cancelled": N_("cancelled"),
                "attended": N_("attended"), "no_show": N_("no-show")}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: the door opens this long before a class starts, and stays open until it ends
CHECK_IN_EARLY = dt.timedelta(minutes=30)
#: the most days one run of :func:`generate_sessions` covers
GENERATE_MAX_DAYS = 366
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class ClassUnavailable(DomainError):
    """The session cannot be booked (cancelled, started or over)."""

    code = "class_unavailable"


class NoPass(DomainError):
    """The member holds no pass or visit package that allows the class."""

    code = "no_pass"


class AlreadyBooked(DomainError):
    code = "already_booked"


class NotCancellable(DomainError):
    code = "not_cancellable"


class NoClassNow(DomainError):
    """At the door: the member has no place in a class open for check-in."""

    code = "no_class_now"


def late_cancel_hours() -> int:
    """A place cancelled less than this many hours before its class starts is a late cancellation (the rules'
    ``bookings.late_cancel_hours``, as for appointments)."""
    return load_rules().bookings.late_cancel_hours


def _txid(txid: str) -> str:
    if not isinstance(txid, str) or not txid.strip() or len(txid.strip()) > 64:
        raise InvalidInput(_("An operation id (txid) of 1 to 64 characters is required."))
    return txid.strip()


def _lock_session(session_id: int) -> None:
    """Inside a write transaction: wait for any other desk changing this session's places (PostgreSQL; SQLite's
    write lock is held already)."""
    if not is_sqlite():
        database.execute_sql('SELECT "id" FROM "class_session" WHERE "id" = %s FOR UPDATE', (session_id,))


def _once(attempt):
    """Run a write attempt, again on a transient failure; a unique index that refused a row another desk wrote at
    the same moment (the same txid, the same timetable line and start) gets one more attempt, which then sees it."""
    try:
        return retrying(attempt)
    except peewee.IntegrityError:
        try:
            return retrying(attempt)
        except peewee.IntegrityError:
            raise DomainError(_("The change clashed with another one saved at the same moment; nothing was "
                                "changed. Try again.")) from None


def _managed(by: Staff, store_id: int | None = None) -> None:
    require(by, "classes.manage")
    if store_id is not None and not in_store_scope(by, store_id):
        store = Store.get_by_id(store_id)
        raise PermissionDenied(_("{name} does not manage store {store}.").format(name=by.name, store=store.code))


def _hhmm(moment: dt.datetime) -> str:
    return moment.strftime("%H:%M")


# ------------------------------------------------------------------------------------------------ class types


@dataclass(frozen=True)
class ClassTypeRow:
    id: int
    code: str
    name: str
    minutes: int
    capacity: int
    active: bool


def _type_row(row: ClassType) -> ClassTypeRow:
    return ClassTypeRow(row.id, row.code, row.name, row.minutes, row.capacity, bool(row.active))


def _check_type_fields(name: str | None, minutes: int | None, capacity: int | None) -> None:
    if name is not None and not 1 <= len(name) <= 50:
        raise InvalidInput(_("A class type needs a name of 1 to 50 characters."))
    if minutes is not None and not 1 <= minutes <= 24 * 60:
        raise InvalidInput(_("A class lasts 1 to 1440 minutes, not {n}.").format(n=minutes))
    if capacity is not None and not 1 <= capacity <= 10_000:
        raise InvalidInput(_("A class has 1 to 10000 places, not {n}.").format(n=capacity))


def find_class_type(code: str) -> ClassType:
    row = ClassType.get_or_none(ClassType.code == (code or "").strip())
    if row is None:
        raise NotFound(_("No class type {code!r}.").format(code=code))
    return row


def add_class_type(code: str, name: str, minutes: int, capacity: int, by: Staff) -> ClassTypeRow:
    """A new kind of class (瑜伽, 动感单车 …): how long it lasts and how many places it usually has."""
    code, name = (code or "").strip(), (name or "").strip()
    if not 1 <= len(code) <= 20:
        raise InvalidInput(_("A class type needs a code of 1 to 20 characters."))
    _check_type_fields(name, minutes, capacity)
    with write_transaction():
        _managed(by)
        if ClassType.get_or_none(ClassType.code == code) is not None:
            raise InvalidInput(_("There is a class type {code} already.").format(code=code))
        row = ClassType.create(code=code, name=name, minutes=minutes, capacity=capacity)
        record_states("class_type", [row.id], staff=by, store=None)
    return _type_row(ClassType.get_by_id(row.id))


def edit_class_type(code: str, by: Staff, *, name: str | None = None, minutes: int | None = None,
                    capacity: int | None = None, active: bool | None = None) -> ClassTypeRow:
    """Change a class type (what is not given stays). Sessions already generated keep their length and places;
    timetable lines keep theirs."""
    name = name.strip() if name is not None else None
    _check_type_fields(name, minutes, capacity)
    with write_transaction():
        _managed(by)
        row = find_class_type(code)
        changes = {k: v for k, v in (("name", name), ("minutes", minutes), ("capacity", capacity),
                                     ("active", active)) if v is not None}
        if changes:
            ClassType.update(**changes).where(ClassType.id == row.id).execute()
            record_states("class_type", [row.id], staff=by, store=None)
    return _type_row(ClassType.get_by_id(row.id))


def list_class_types(*, include_inactive: bool = False) -> list[ClassTypeRow]:
    query = ClassType.select().order_by(ClassType.code)
    if not include_inactive:
        query = query.where(ClassType.active == True)  # noqa: E712
    return [_type_row(r) for r in query]


# ------------------------------------------------------------------------------------------------ the timetable


@dataclass(frozen=True)
class SlotRow:
    id: int
    store: str
    class_type: str
    class_name: str
    weekday: int
    start: str
    minutes: int
    coach: str
    room: str
    capacity: int
    active: bool


def _slot_row(row: ClassSlot) -> SlotRow:
    ctype = ClassType.get_by_id(row.class_type_id)
    room = Room.get_by_id(row.room_id).code if row.room_id else ""
    return SlotRow(row.id, Store.get_by_id(row.store_id).code, ctype.code, ctype.name, row.weekday, row.start,
                   ctype.minutes, Staff.get_by_id(row.coach_id).code, room, row.capacity, bool(row.active))


def parse_weekday(value: int | str) -> int:
    """1 … 7, or mon … sun (Monday is 1)."""
    text = str(value).strip().lower()
    if text.isdigit() and 1 <= int(text) <= 7:
        return int(text)
    if text[:3] in WEEKDAYS and len(text) >= 3:
        return WEEKDAYS.index(text[:3]) + 1
    raise InvalidInput(_("Unknown weekday {text!r}: mon … sun, or 1 … 7.").format(text=str(value)))


def parse_start(text: str) -> str:
    """A start time of day, "HH:MM" (00:00 … 23:59), as stored."""
    text = (text or "").strip()
    if len(text) == 4 and text[1] == ":":
        text = "0" + text
    if not _HHMM.fullmatch(text):
        raise InvalidInput(_("Write a start time as HH:MM, not {text!r}.").format(text=text))
    return text


def _setup(store: Store | str | None, class_type: str, coach: str, room: str | None, by: Staff
           ) -> tuple[Store, ClassType, Staff, Room | None]:
    """The store (in the manager's scope), class type (in use), coach (active) and room (the store's, in use) a
    timetable line or a one-off session names; inside the caller's write transaction."""
    where = resolve_store(store, by, writing=True)
    _managed(by, where.id)
    ctype = find_class_type(class_type)
    if not ctype.active:
        raise InvalidInput(_("Class type {code} is no longer in use.").format(code=ctype.code))
    teacher = Staff.get_or_none(Staff.code == (coach or "").strip())
    if teacher is None or not teacher.active:
        raise NotFound(_("No active staff member {code!r}.").format(code=coach))
    place = None
    if room:
        place = Room.get_or_none(Room.code == room.strip())
        if place is None:
            raise NotFound(_("No room {code!r}.").format(code=room))
        if place.store_id != where.id:
            raise InvalidInput(_("Room {room} is not a room of store {store}.").format(room=place.code,
                                                                                      store=where.code))
        if not place.active:
            raise InvalidInput(_("Room {room} is out of use.").format(room=place.code))
    return where, ctype, teacher, place


def _minutes_of(hhmm: str) -> int:
    hour, minute = map(int, hhmm.split(":"))
    return hour * 60 + minute


def _refuse_timetable_clash(weekday: int, start: str, minutes: int, coach: Staff, room: Room | None) -> None:
    """A coach teaches one class at a time, and a room holds one: a timetable line over another active line of
    the same coach or room that weekday is refused, naming it."""
    begins = _minutes_of(start)
    same = ClassSlot.coach == coach.id
    if room is not None:
        same |= ClassSlot.room == room.id
    for other in ClassSlot.select(ClassSlot, ClassType).join(ClassType).where(
            (ClassSlot.active == True) & (ClassSlot.weekday == weekday) & same):  # noqa: E712
        other_start = _minutes_of(other.start)
        if other_start < begins + minutes and begins < other_start + other.class_type.minutes:
            who = (_("{coach} teaches {name} then").format(coach=coach.name, name=other.class_type.name)
                   if other.coach_id == coach.id else
                   _("room {room} holds {name} then").format(room=room.code if room else "", name=other.class_type.name))
            raise InvalidInput(_("The timetable has {what} ({start}): choose another time.").format(
                what=who, start=other.start))


def _refuse_session_clash(start: dt.datetime, end: dt.datetime, coach: Staff, room: Room | None) -> None:
    """A one-off class over the coach's other classes or appointments, or over what the room holds, is refused."""
    from mms_tui.services.bookings.appointments import _busy

    busy = _busy([coach.id], [room.id] if room else [], start, end)
    clash = busy.staff_clash(coach.id, start, end)
    if clash is not None:
        raise InvalidInput(_("{name} is busy from {start} to {end} ({what}).").format(
            name=coach.name, start=_hhmm(clash[0]), end=_hhmm(clash[1]), what=clash[2]))
    if room is not None and busy.room_free([room.id], start, end) is None:
        raise InvalidInput(_("Room {room} is taken at {time}.").format(room=room.code, time=_hhmm(start)))


def add_slot(store: Store | str | None, class_type: str, weekday: int | str, start: str, coach: str, by: Staff, *,
             room: str | None = None, capacity: int | None = None) -> SlotRow:
    """A line of ``store``'s weekly timetable: ``class_type`` every ``weekday`` at ``start`` (store time), with
    ``coach`` (an active staff member), in ``room`` (one of the store's rooms in use) for ``capacity`` places
    (default: the class type's)."""
    day, begins = parse_weekday(weekday), parse_start(start)
    if capacity is not None:
        _check_type_fields(None, None, capacity)
    with write_transaction():
        where, ctype, teacher, place = _setup(store, class_type, coach, room, by)
        _refuse_timetable_clash(day, begins, ctype.minutes, teacher, place)
        row = ClassSlot.create(class_type=ctype, store=where, room=place, coach=teacher, weekday=day, start=begins,
                               capacity=capacity or ctype.capacity)
        record_states("class_slot", [row.id], staff=by, store=where)
    return _slot_row(ClassSlot.get_by_id(row.id))


def add_session(store: Store | str | None, class_type: str, start: dt.datetime | str, coach: str, by: Staff, *,
                room: str | None = None, capacity: int | None = None) -> SessionRow:
    """A one-off class (a workshop, a make-up class) on no timetable line: at ``start`` (store time, in the
    future), otherwise as :func:`add_slot`."""
    start = parse_when(start)
    if start <= clock.now():
        raise InvalidInput(_("{time} is in the past.").format(time=f"{start:%Y-%m-%d %H:%M}"))
    if capacity is not None:
        _check_type_fields(None, None, capacity)
    with write_transaction():
        where, ctype, teacher, place = _setup(store, class_type, coach, room, by)
        _refuse_session_clash(start, start + dt.timedelta(minutes=ctype.minutes), teacher, place)
        row = ClassSession.create(class_type=ctype, store=where, room=place, coach=teacher, slot=None, start=start,
                                  end=start + dt.timedelta(minutes=ctype.minutes),
                                  capacity=capacity or ctype.capacity)
        record_states("class_session", [row.id], staff=by, store=where)
    return _session_rows([ClassSession.get_by_id(row.id)])[0]


def end_slot(slot_id: int, by: Staff) -> SlotRow:
    """Take a line off the timetable (``active`` false): no more sessions are generated from it. Sessions already
    generated stay; :func:`cancel_session` cancels one."""
    with write_transaction():
        row = ClassSlot.get_or_none(ClassSlot.id == slot_id)
        if row is None:
            raise NotFound(_("No timetable line {id}.").format(id=slot_id))
        _managed(by, row.store_id)
        if row.active:
            ClassSlot.update(active=False).where(ClassSlot.id == row.id).execute()
            record_states("class_slot", [row.id], staff=by, store=Store.get_by_id(row.store_id))
    return _slot_row(ClassSlot.get_by_id(slot_id))


def timetable(store: Store | str | None = None, *, include_ended: bool = False) -> list[SlotRow]:
    """A store's weekly timetable, by weekday and start."""
    where = resolve_store(store)
    query = ClassSlot.select().where(ClassSlot.store == where.id)
    if not include_ended:
        query = query.where(ClassSlot.active == True)  # noqa: E712
    return [_slot_row(r) for r in query.order_by(ClassSlot.weekday, ClassSlot.start, ClassSlot.id)]


# ------------------------------------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class SessionRow:
    id: int
    store: str
    class_type: str
    class_name: str
    start: dt.datetime
    end: dt.datetime
    coach: str
    room: str
    capacity: int
    booked: int
    waitlisted: int
    attended: int
    no_show: int
    cancelled: bool

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked - self.attended - self.no_show)


def _counts(session_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if not session_ids:
        return out
    for session_id, status, n in (ClassBooking.select(ClassBooking.session, ClassBooking.status,
                                                      peewee.fn.COUNT(ClassBooking.id))
                                  .where(ClassBooking.session.in_(session_ids))
                                  .group_by(ClassBooking.session, ClassBooking.status).tuples()):
        out[session_id][status] = n
    return out


def _session_rows(sessions: list[ClassSession]) -> list[SessionRow]:
    counts = _counts([s.id for s in sessions])
    types = {t.id: t for t in ClassType.select()}
    stores = {s.id: s.code for s in Store.select()}
    rooms = {r.id: r.code for r in Room.select()}
    staff = {s.id: s.code for s in Staff.select(Staff.id, Staff.code)}
    out = []
    for s in sessions:
        c = counts[s.id]
        ctype = types[s.class_type_id]
        out.append(SessionRow(s.id, stores[s.store_id], ctype.code, ctype.name, s.start, s.end, staff[s.coach_id],
                              rooms.get(s.room_id, ""), s.capacity, c["booked"], c["waitlisted"], c["attended"],
                              c["no_show"], bool(s.cancelled)))
    return out


def _day_span(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.combine(first, dt.time()), dt.datetime.combine(last + dt.timedelta(days=1), dt.time())


@dataclass(frozen=True)
class Generated:
    created: list[SessionRow]
    existing: int  # sessions of the days that were there already


def generate_sessions(store: Store | str | None, start_day: dt.date, end_day: dt.date, by: Staff) -> Generated:
    """The sessions of ``store``'s active timetable lines (of class types in use) for every day from
    ``start_day`` to ``end_day``; only those missing are made, so running it again makes nothing twice."""
    if end_day < start_day:
        raise InvalidInput(_("The last day comes before the first."))
    if (end_day - start_day).days >= GENERATE_MAX_DAYS:
        raise InvalidInput(_("Generate at most {n} days at a time.").format(n=GENERATE_MAX_DAYS))

    def attempt() -> tuple[list[int], int]:
        with write_transaction():
            where = resolve_store(store, by, writing=True)
            _managed(by, where.id)
            slots = list(ClassSlot.select().join(ClassType).where(
                (ClassSlot.store == where.id) & (ClassSlot.active == True)  # noqa: E712
                & (ClassType.active == True)))  # noqa: E712
            first, last = _day_span(start_day, end_day)
            there = {(s.slot_id, s.start) for s in ClassSession.select(ClassSession.slot, ClassSession.start).where(
                (ClassSession.store == where.id) & (ClassSession.start >= first) & (ClassSession.start < last)
                & ClassSession.slot.is_null(False))}
            made: list[int] = []
            existing = 0
            day = start_day
            while day <= end_day:
                for slot in slots:
                    if slot.weekday != day.isoweekday():
                        continue
                    hour, minute = map(int, slot.start.split(":"))
                    begins = dt.datetime.combine(day, dt.time(hour, minute))
                    if (slot.id, begins) in there:
                        existing += 1
                        continue
                    ctype = ClassType.get_by_id(slot.class_type_id)
                    row = ClassSession.create(class_type=ctype, store=where, room=slot.room_id, coach=slot.coach_id,
                                              slot=slot, start=begins,
                                              end=begins + dt.timedelta(minutes=ctype.minutes),
                                              capacity=slot.capacity)
                    made.append(row.id)
                day += dt.timedelta(days=1)
            if made:
                record_states("class_session", made, staff=by, store=where)
            return made, existing

    made, existing = _once(attempt)
    sessions = list(ClassSession.select().where(ClassSession.id.in_(made)).order_by(ClassSession.start,
                                                                                      ClassSession.id)) if made else []
    return Generated(_session_rows(sessions), existing)


def list_sessions(start_day: dt.date, end_day: dt.date, store: Store | str | None = None, *,
                  coach: Staff | str | None = None, include_cancelled: bool = True) -> list[SessionRow]:
    """Sessions starting from ``start_day`` to ``end_day`` (store days), at ``store`` (or every store), of
    ``coach`` (or everyone), by start."""
    first, last = _day_span(start_day, end_day)
    query = ClassSession.select().where((ClassSession.start >= first) & (ClassSession.start < last))
    if store is not None:
        query = query.where(ClassSession.store == resolve_store(store).id)
    if coach is not None:
        teacher = coach if isinstance(coach, Staff) else Staff.get_or_none(Staff.code == coach)
        if teacher is None:
            raise NotFound(_("No staff member {code!r}.").format(code=coach))
        query = query.where(ClassSession.coach == teacher.id)
    if not include_cancelled:
        query = query.where(ClassSession.cancelled == False)  # noqa: E712
    return _session_rows(list(query.order_by(ClassSession.start, ClassSession.id)))


def coach_classes(coach: Staff | str, day: dt.date) -> list[SessionRow]:
    """A coach's sessions on ``day``, with their booked, waitlisted and attended counts."""
    return list_sessions(day, day, coach=coach)


def _session(session_id: int) -> ClassSession:
    row = ClassSession.get_or_none(ClassSession.id == session_id)
    if row is None:
        raise NotFound(_("No class session {id}.").format(id=session_id))
    return row


def _class_name(session: ClassSession) -> str:
    return ClassType.get_by_id(session.class_type_id).name


# ------------------------------------------------------------------------------------------------ places


@dataclass(frozen=True)
class ClassPlace:
    """A member's place in a session (or on its waitlist: ``position`` counts from 1; 0 for anything else)."""

    id: int
    txid: str
    session_id: int
    class_name: str
    start: dt.datetime
    member_id: int
    member_name: str
    card_no: str
    status: str
    position: int
    late: bool
    reason: str


def _place(row: ClassBooking) -> ClassPlace:
    row = ClassBooking.get_by_id(row.id)
    session = ClassSession.get_by_id(row.session_id)
    position = 0
    if row.status == "waitlisted":
        position = ClassBooking.select().where((ClassBooking.session == row.session_id)
                                               & (ClassBooking.status == "waitlisted")
                                               & (ClassBooking.id <= row.id)).count()
    card_no = Card.get_by_id(row.card_id).card_no if row.card_id else ""
    return ClassPlace(row.id, row.txid, session.id, _class_name(session), session.start, row.member_id,
                      Member.get_by_id(row.member_id).name, card_no, row.status, position, bool(row.late),
                      row.reason)


def pass_refusal(card: Card, day: dt.date, store: Store | None = None) -> str | None:
    """Why ``card`` does not allow a class on ``day`` (None when it does): a period pass usable that day, or a
    visit package usable that day with a visit left. Usable as a check-in decides it (lost, frozen, cancelled,
    expired, not yet valid); a freeze that has ended by itself by then under its yearly limit no longer counts."""
    ctype = card.card_type
    if ctype.kind not in ("visits", "period"):
        return _("Card {card} ({type}) is not a visit package or a pass.").format(card=card.card_no, type=ctype.name)
    probe = card
    ends = freeze_ends_on(card)
    if ends is not None and ends <= day:  # the freeze is over by then: as a check-in would record it
        probe = Card(**card.__data__)
        probe.status = "active"
        if card.valid_until is not None and card.frozen_since is not None:
            probe.valid_until = card.valid_until + (ends - card.frozen_since)
    try:
        ensure_usable(probe, day, at=store)  # at the class's store: a card bound elsewhere does not allow it
    except CardNotUsable as exc:
        return str(exc)
    if ctype.kind == "visits" and card.visits_left <= 0:
        return _("Visit package {card} has no visits left.").format(card=card.card_no)
    return None


def allowing_card(member: Member, day: dt.date, card: Card | str | int | None = None,
                  store: Store | None = None) -> Card:
    """The member's card that allows a class on ``day``: ``card`` when named, else a period pass before a visit
    package (no visit is then spent), the one ending first before the others. :class:`NoPass` says why none."""
    if card is not None:
        chosen = resolve_card(card)
        if chosen.member_id != member.id:
            raise NoPass(_("Card {card} is not {name}'s.").format(card=chosen.card_no, name=member.name))
        why = pass_refusal(chosen, day, store)
        if why is not None:
            raise NoPass(why)
        return chosen
    cards = [c for c in Card.select().where((Card.member == member.id) & (Card.status != "cancelled"))
             .order_by(Card.id) if c.card_type.kind in ("visits", "period")]
    if not cards:
        raise NoPass(_("{name} holds no pass or visit package.").format(name=member.name))
    refusals = []
    usable = []
    for c in cards:
        why = pass_refusal(c, day, store)
        if why is None:
            usable.append(c)
        else:
            refusals.append(why)
    if not usable:
        raise NoPass(_("{name} has no pass or visit package valid on {day}: {why}").format(
            name=member.name, day=day.isoformat(), why=refusals[0]))
    usable.sort(key=lambda c: (c.card_type.kind != "period", c.valid_until or dt.date.max, c.id))
    return usable[0]


def book_class(member: Card | Member | int | str, session_id: int, staff: Staff, txid: str, *,
               card: Card | str | int | None = None) -> ClassPlace:
    """A place for ``member`` (see :func:`find_member`) in session ``session_id``: ``booked`` while places are left, else ``waitlisted``.
    Refused, with nothing written, for a cancelled or started session, a member who is not active, no pass or
    visit package allowing the class's day (see :func:`allowing_card`), or a place held already. No visit is used
    here. The same txid again returns the first result."""
    txid = _txid(txid)
    who = find_member(member)

    def attempt() -> ClassPlace:
        with write_transaction():
            _lock_session(session_id)
            done = ClassBooking.get_or_none(ClassBooking.txid == txid)
            if done is not None:
                if done.session_id != session_id or done.member_id != who.id:
                    raise TxidConflict(_("Operation {txid} was already used for another class booking.").format(
                        txid=txid))
                return _place(done)
            session = _session(session_id)
            store = resolve_store(session.store_id, writing=True)
            name, begins = _class_name(session), session.start
            if session.cancelled:
                raise ClassUnavailable(_("{name} on {day} at {time} was cancelled.").format(
                    name=name, day=begins.date().isoformat(), time=_hhmm(begins)))
            if begins <= clock.now():
                raise ClassUnavailable(_("{name} on {day} at {time} has started: it can no longer be booked.")
                                       .format(name=name, day=begins.date().isoformat(), time=_hhmm(begins)))
            if Member.get_by_id(who.id).status != "active":
                raise InvalidInput(_("Member {name} is not active.").format(name=who.name))
            held = ClassBooking.get_or_none((ClassBooking.session == session.id) & (ClassBooking.member == who.id)
                                            & ClassBooking.status.in_(LIVE))
            if held is not None:
                raise AlreadyBooked(_("{member} is {status} for {name} at {time} already.").format(
                    member=who.name, status=_(STATUS_NAMES[held.status]), name=name, time=_hhmm(begins)))
            chosen = allowing_card(who, begins.date(), card, session.store)
            taken = ClassBooking.select().where((ClassBooking.session == session.id)
                                                & ClassBooking.status.in_(HOLDS_PLACE)).count()
            status = "booked" if taken < session.capacity else "waitlisted"
            row = ClassBooking.create(txid=txid, session=session, member=who.id, card=chosen, status=status,
                                      created_by=staff)
            record_states("class_booking", [row.id], staff=staff, store=store)
            return _place(row)

    return _once(attempt)


def _find_place(booking: int | str) -> ClassBooking:
    if isinstance(booking, int) or (isinstance(booking, str) and booking.strip().isdigit()):
        row = ClassBooking.get_or_none(ClassBooking.id == int(booking))
    else:
        row = ClassBooking.get_or_none(ClassBooking.txid == (booking or "").strip())
    if row is None:
        raise NotFound(_("No class booking {id}.").format(id=booking))
    return row


def _promote(session: ClassSession, staff: Staff, store: Store, now: dt.datetime) -> list[int]:
    """Give free places to the waitlist in order, skipping (and leaving waiting) those whose member is no longer
    active or whose pass no longer allows the class. Inside the caller's transaction, the session locked."""
    free = session.capacity - ClassBooking.select().where((ClassBooking.session == session.id)
                                                          & ClassBooking.status.in_(HOLDS_PLACE)).count()
    promoted: list[int] = []
    if free <= 0:
        return promoted
    day = session.start.date()
    for row in (ClassBooking.select().where((ClassBooking.session == session.id)
                                            & (ClassBooking.status == "waitlisted")).order_by(ClassBooking.id)):
        member = Member.get_by_id(row.member_id)
        if member.status != "active":
            continue
        chosen = None
        if row.card_id is not None and pass_refusal(Card.get_by_id(row.card_id), day, session.store) is None:
            chosen = Card.get_by_id(row.card_id)
        else:
            try:
                chosen = allowing_card(member, day, store=session.store)
            except NoPass:
                continue
        ClassBooking.update(status="booked", promoted_at=now, card=chosen.id).where(
            ClassBooking.id == row.id).execute()
        promoted.append(row.id)
        free -= 1
        if free == 0:
            break
    if promoted:
        record_states("class_booking", promoted, staff=staff, store=store)
    return promoted


@dataclass(frozen=True)
class Cancelled:
    place: ClassPlace
    late: bool
    promoted: list[ClassPlace]


def cancel_class(booking: int | str, staff: Staff, reason: str, txid: str) -> Cancelled:
    """Cancel a place (by its id or its booking's txid) before its class starts, with ``reason``. A booked place
    cancelled less than :func:`late_cancel_hours` before the start is ``late`` (a place on the waitlist never is).
    Its place goes to the waitlist in order (see :func:`_promote`), in the same transaction. The same txid again
    returns the first result."""
    txid = _txid(txid)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("A cancellation needs a reason."))
    if len(reason) > 200:
        raise InvalidInput(_("Keep the reason to 200 characters."))
    found = _find_place(booking)

    def attempt() -> Cancelled:
        with write_transaction():
            _lock_session(found.session_id)
            done = AuditEvent.get_or_none((AuditEvent.txid == txid) & (AuditEvent.action == "class_booking.cancel"))
            if done is not None:
                if done.subject != f"class_booking:{found.id}":
                    raise TxidConflict(_("Operation {txid} was already used for another cancellation.").format(
                        txid=txid))
                payload = json.loads(done.payload)
                return Cancelled(_place(found), bool(payload.get("late")),
                                 [_place(ClassBooking.get_by_id(i)) for i in payload.get("promoted", [])])
            if AuditEvent.get_or_none(AuditEvent.txid == txid) is not None or ClassBooking.get_or_none(
                    ClassBooking.txid == txid) is not None or Transaction.get_or_none(Transaction.txid == txid) \
                    is not None:  # (a sale's or a top-up's txid: their audit event is kept on their transaction)
                raise TxidConflict(_("Operation {txid} was already used for another operation.").format(txid=txid))
            row = ClassBooking.get_by_id(found.id)
            session = _session(row.session_id)
            store = resolve_store(session.store_id, writing=True)
            now = clock.now()
            if row.status not in LIVE:
                raise NotCancellable(_("The place of {member} in {name} is {status}: it cannot be cancelled.")
                                     .format(member=Member.get_by_id(row.member_id).name, name=_class_name(session),
                                             status=_(STATUS_NAMES[row.status])))
            if session.start <= now:
                raise NotCancellable(_("{name} started at {time}: its places can no longer be cancelled.").format(
                    name=_class_name(session), time=_hhmm(session.start)))
            late = row.status == "booked" and session.start - now < dt.timedelta(hours=late_cancel_hours())
            policy, fee = "", 0
            if late:
                rules = load_rules().bookings
                policy, fee = penalise(row.member_id, session.start.date(), rules.late_cancel,
                                       rules.late_cancel_fee_fen, staff, store, f"class_booking:{row.id}",
                                       f"{txid}:policy"[:64], card_id=row.card_id)
            ClassBooking.update(status="cancelled", closed_at=now, reason=reason, late=late, policy=policy,
                                fee_fen=fee).where(ClassBooking.id == row.id).execute()
            record_states("class_booking", [row.id], staff=staff, store=store)
            promoted = _promote(session, staff, store, now)
            audit("class_booking.cancel", f"class_booking:{row.id}", staff=staff, store=store, txid=txid,
                  payload={"reason": reason, "late": late, "promoted": promoted})
            return Cancelled(_place(row), late, [_place(ClassBooking.get_by_id(i)) for i in promoted])

    return _once(attempt)


def cancel_session(session_id: int, by: Staff, reason: str) -> list[ClassPlace]:
    """Cancel a whole session (the coach is ill, the room is closed): every place and waitlist place in it is
    cancelled with ``reason``, never late. Returns the places cancelled."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise InvalidInput(_("A cancellation needs a reason of at most 200 characters."))

    def attempt() -> list[int]:
        with write_transaction():
            _lock_session(session_id)
            session = _session(session_id)
            _managed(by, session.store_id)
            store = resolve_store(session.store_id, writing=True)
            if session.cancelled:
                return []
            if session.end <= clock.now():
                raise NotCancellable(_("{name} on {day} is over: it cannot be cancelled.").format(
                    name=_class_name(session), day=session.start.date().isoformat()))
            ClassSession.update(cancelled=True).where(ClassSession.id == session.id).execute()
            record_states("class_session", [session.id], staff=by, store=store)
            live = [r.id for r in ClassBooking.select(ClassBooking.id).where(
                (ClassBooking.session == session.id) & ClassBooking.status.in_(LIVE))]
            if live:
                ClassBooking.update(status="cancelled", closed_at=clock.now(), reason=reason).where(
                    ClassBooking.id.in_(live)).execute()
                record_states("class_booking", live, staff=by, store=store)
            return live

    return [_place(ClassBooking.get_by_id(i)) for i in _once(attempt)]


# ------------------------------------------------------------------------------------------------ at the door


@dataclass(frozen=True)
class ClassCheckIn:
    place: ClassPlace
    visit_id: int
    card_no: str
    kind: str  # "visits" (one visit used) or "period"
    visits_left: int
    valid_until: str | None


def find_member(key: Card | Member | int | str) -> Member:
    """The member a desk names: a card (read, typed or scanned), a member, a member id, or text that is a card's
    number, reader UID or barcode, else a phone number, else (all digits) a member id."""
    if isinstance(key, Card):
        return resolve_member(key.member_id)
    if isinstance(key, (Member, int)):
        return resolve_member(key)
    text = (key or "").strip()
    card = find_card(text) if text else None
    if card is not None:
        return resolve_member(card.member_id)
    found = Member.get_or_none(Member.phone == text) if text else None
    if found is None and text.isdigit():
        found = Member.get_or_none(Member.id == int(text))
    if found is None:
        raise UnknownMember(_("No card or member {key!r}.").format(key=text))
    return found


def _check_in_result(place: ClassBooking) -> ClassCheckIn:
    visit = Visit.get_by_id(place.visit_id)
    card = Card.get_by_id(visit.card_id)
    return ClassCheckIn(_place(place), visit.id, card.card_no, card.card_type.kind, card.visits_left,
                        card.valid_until.isoformat() if card.valid_until else None)


def class_check_in(card_or_member: Card | Member | int | str, store: Store | str | None, staff: Staff, txid: str,
                   session_id: int | None = None) -> ClassCheckIn:
    """At the door: the member's booked place in a class at ``store`` open now (from :data:`CHECK_IN_EARLY`
    before its start to its end; with ``session_id``, that class) is marked attended. The place's card is checked
    in (:func:`mms_tui.services.members.checkin.check_in`, with this txid): a visit package gives up one visit, a
    pass is validated; the visit is linked to the place. The same txid again returns the first result."""
    txid = _txid(txid)
    who = find_member(card_or_member)
    where = resolve_store(store, staff, writing=True)

    def attempt() -> ClassCheckIn:
        with write_transaction():
            tx = Transaction.get_or_none(Transaction.txid == txid)
            if tx is not None:
                visit = Visit.get_or_none(Visit.transaction == tx.id)
                done = ClassBooking.get_or_none(ClassBooking.visit == visit.id) if visit is not None else None
                if done is None or done.member_id != who.id:
                    raise TxidConflict(_("Operation {txid} was already used for another operation.").format(
                        txid=txid))
                return _check_in_result(done)
            now = clock.now()
            query = (ClassBooking.select(ClassBooking, ClassSession).join(ClassSession)
                     .where((ClassBooking.member == who.id) & (ClassSession.store == where.id)
                            & (ClassSession.cancelled == False)))  # noqa: E712
            if session_id is not None:
                session = _session(session_id)
                if session.store_id != where.id:
                    raise NoClassNow(_("{name} on {day} at {time} is a class of another store.").format(
                        name=_class_name(session), day=session.start.date().isoformat(),
                        time=_hhmm(session.start)))
                if not session.start - CHECK_IN_EARLY <= now <= session.end:
                    raise NoClassNow(_("{name} on {day} at {time} is open for check-in from {first} to {last}.")
                                     .format(name=_class_name(session), day=session.start.date().isoformat(),
                                             time=_hhmm(session.start),
                                             first=_hhmm(session.start - CHECK_IN_EARLY), last=_hhmm(session.end)))
                query = query.where(ClassSession.id == session_id)
            else:
                query = query.where((ClassSession.start <= now + CHECK_IN_EARLY) & (ClassSession.end >= now))
            rows = list(query.order_by(ClassSession.start, ClassBooking.id))
            place = next((r for r in rows if r.status == "booked"), None)
            if place is None:
                for status, text in (("attended", N_("{member} was checked in to {name} at {time} already.")),
                                     ("waitlisted", N_("{member} is on the waitlist of {name} at {time}, with no "
                                                       "place."))):
                    other = next((r for r in rows if r.status == status), None)
                    if other is not None:
                        begins = other.session.start
                        raise NoClassNow(_(text).format(member=who.name, name=_class_name(other.session),
                                                        time=_hhmm(begins)))
                raise NoClassNow(_("{member} has no class booked at {store} now.").format(member=who.name,
                                                                                       store=where.code))
            _lock_session(place.session_id)
            place = ClassBooking.get_by_id(place.id)
            if place.status != "booked":  # another desk checked it in while this one waited
                raise NoClassNow(_("{member} was checked in to {name} at {time} already.").format(
                    member=who.name, name=_class_name(place.session), time=_hhmm(place.session.start)))
            card = place.card_id or allowing_card(who, place.session.start.date(), store=where).id
            done = check_in(card, staff, txid, store=where, again=True)
            ClassBooking.update(status="attended", attended_at=now, visit=done.visit_id, card=done.card_id).where(
                ClassBooking.id == place.id).execute()
            record_states("class_booking", [place.id], staff=staff, store=where)
            return _check_in_result(ClassBooking.get_by_id(place.id))

    return _once(attempt)


def mark_no_shows(session_id: int, staff: Staff) -> list[ClassPlace]:
    """After a session ends, its booked places that were not checked in become ``no_show``, each costing what the
    rules' ``bookings.no_show`` says (a visit of the place's visit package, or a fee on the member's next bill).
    Running it again marks nothing more."""

    def attempt() -> list[int]:
        with write_transaction():
            _lock_session(session_id)
            session = _session(session_id)
            store = resolve_store(session.store_id, writing=True)
            now = clock.now()
            if session.end > now:
                raise InvalidInput(_("{name} ends at {time}: no-shows are marked after it ends.").format(
                    name=_class_name(session), time=_hhmm(session.end)))
            ids = [r.id for r in ClassBooking.select(ClassBooking.id).where(
                (ClassBooking.session == session.id) & (ClassBooking.status == "booked"))]
            rules = load_rules().bookings
            for place in ClassBooking.select().where(ClassBooking.id.in_(ids)):
                policy, fee = penalise(place.member_id, session.start.date(), rules.no_show, rules.no_show_fee_fen,
                                       staff, store, f"class_booking:{place.id}", f"no-show:class_booking:{place.id}",
                                       card_id=place.card_id)
                ClassBooking.update(status="no_show", closed_at=now, policy=policy, fee_fen=fee).where(
                    ClassBooking.id == place.id).execute()
            if ids:
                record_states("class_booking", ids, staff=staff, store=store)
            return ids

    return [_place(ClassBooking.get_by_id(i)) for i in _once(attempt)]


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class RosterLine:
    position: int
    place_id: int
    member: str
    card_no: str
    status: str
    booked_at: dt.datetime
    promoted_at: dt.datetime | None
    member_id: int = 0


def session_roster(session_id: int) -> list[RosterLine]:
    """A session's places in the order they were taken (booked, attended, no-show), then its waitlist in order;
    cancelled places are left out. ``position`` counts each list from 1."""
    _session(session_id)
    rows = list(ClassBooking.select().where(ClassBooking.session == session_id).order_by(ClassBooking.id))
    members = {m.id: m.name for m in Member.select(Member.id, Member.name).where(
        Member.id.in_([r.member_id for r in rows] or [0]))}
    cards = {c.id: c.card_no for c in Card.select(Card.id, Card.card_no).where(
        Card.id.in_([r.card_id for r in rows if r.card_id] or [0]))}
    out = []
    for wanted in (HOLDS_PLACE, ("waitlisted",)):
        n = 0
        for r in rows:
            if r.status in wanted:
                n += 1
                out.append(RosterLine(n, r.id, members[r.member_id], cards.get(r.card_id, ""), r.status,
                                      r.created_at, r.promoted_at, r.member_id))
    return out


@dataclass(frozen=True)
class FillRow:
    class_type: str
    name: str
    sessions: int
    places: int
    booked: int
    attended: int
    no_show: int

    @property
    def fill_pct(self) -> str:
        """Places taken over places, a percentage to one decimal, rounded half up ("" with no places)."""
        if not self.places:
            return ""
        tenths = (self.booked * 1000 * 2 + self.places) // (self.places * 2)
        return f"{tenths // 10}.{tenths % 10}"


def class_fill(start_day: dt.date, end_day: dt.date, store: Store | str | None = None) -> list[FillRow]:
    """Per class type, the sessions starting in the days (store days; cancelled ones left out) at ``store`` (or
    every store): ``places`` their capacity together; ``booked`` the places taken — booked, attended or no-show,
    the places held when the class began (waitlist and cancelled places are not); ``attended`` those checked in;
    ``no_show`` those marked so. The fill rate (:attr:`FillRow.fill_pct`) is **booked over capacity**: how full
    the classes were booked, whether or not the members came (attended over places is ``attended``/``places``)."""
    if end_day < start_day:
        raise InvalidInput(_("The last day comes before the first."))
    first, last = _day_span(start_day, end_day)
    query = ClassSession.select().where((ClassSession.start >= first) & (ClassSession.start < last)
                                        & (ClassSession.cancelled == False))  # noqa: E712
    if store is not None:
        query = query.where(ClassSession.store == resolve_store(store).id)
    sessions = list(query)
    counts = _counts([s.id for s in sessions])
    figures: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for s in sessions:
        f = figures[s.class_type_id]
        c = counts[s.id]
        f[0] += 1
        f[1] += s.capacity
        f[2] += c["booked"] + c["attended"] + c["no_show"]
        f[3] += c["attended"]
        f[4] += c["no_show"]
    types = {t.id: t for t in ClassType.select()}
    return sorted((FillRow(types[k].code, types[k].name, *v) for k, v in figures.items()),
                  key=lambda r: r.class_type)


def door_check_in(card: Card | str | int, staff: Staff, txid: str, *, store: Store | str | None = None,
                  again: bool = False) -> CheckInResult | ClassCheckIn:
    """A check-in at the desk or the door (F2 on the member's screen, after a swipe): a member with a place in a
    class of ``store`` open now checks in to it (:func:`class_check_in`: the place attended, its pass or package
    used once); anyone else checks in as always (:func:`mms_tui.services.members.checkin.check_in`). So a member
    who came for a class never gives up two visits for it."""
    who = find_member(card)
    where = resolve_store(store, staff)
    now = clock.now()
    done = Transaction.get_or_none(Transaction.txid == txid)
    in_class = done is not None and ClassBooking.select().join(Visit).where(Visit.transaction == done.id).exists()
    if done is None:
        in_class = (ClassBooking.select().join(ClassSession)
                    .where((ClassBooking.member == who.id) & (ClassBooking.status == "booked")
                           & (ClassSession.store == where.id) & (ClassSession.cancelled == False)  # noqa: E712
                           & (ClassSession.start <= now + CHECK_IN_EARLY) & (ClassSession.end >= now)).exists())
    if in_class:
        return class_check_in(who, where, staff, txid)
    return check_in(card, staff, txid, store=where, again=again)
