"""Group classes (课程安排): ``mms classes types|add-type|rooms|add-room|timetable|add-slot|add-session|end-slot|generate|
sessions|roster|book|cancel|checkin|no-shows``. The rules live in ``services.bookings.classes`` and ``rooms``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import DAY, format_option, period_options, staff_options, store_option
from mms_tui.cli.output import write_rows
from mms_tui.i18n import _

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@click.group("classes")
def classes_group() -> None:
    """Group classes (课程安排): class types, rooms, each store's weekly timetable, the sessions generated from
    it, and members' places, waitlists and check-in at the door.

    \b
    mms classes add-type YOGA 瑜伽 --minutes 60 --capacity 12 --staff m01
    mms classes add-room R1 一号教室 --store HQ --staff m01
    mms classes add-slot YOGA tue 19:00 --coach t01 --room R1 --store HQ --staff m01
    mms classes generate --from 2026-12-07 --to 2026-12-13 --store HQ --staff m01
    mms classes sessions --from 2026-12-08
    mms classes book 13800138000 42 --staff c01         # a place, or the waitlist when it is full
    mms classes checkin 00077777 --store HQ --staff c01  # at the door: one visit of a package
    """


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _session_rows(rows: Iterable) -> Iterator[dict]:
    for s in rows:
        yield {"id": s.id, "store": s.store, "class": s.class_type, "name": s.class_name, "start": _when(s.start),
               "end": s.end.strftime("%H:%M"), "coach": s.coach, "room": s.room, "capacity": s.capacity,
               "booked": s.booked, "waitlisted": s.waitlisted, "attended": s.attended, "no_show": s.no_show,
               "cancelled": s.cancelled}


def _place_rows(rows: Iterable) -> Iterator[dict]:
    for p in rows:
        yield {"id": p.id, "session": p.session_id, "class": p.class_name, "start": _when(p.start),
               "member": p.member_name, "card_no": p.card_no, "status": p.status, "position": p.position or "",
               "late": p.late, "reason": p.reason, "txid": p.txid}


def _type_rows(rows: Iterable) -> Iterator[dict]:
    for t in rows:
        yield {"code": t.code, "name": t.name, "minutes": t.minutes, "capacity": t.capacity, "active": t.active}


def _slot_rows(rows: Iterable) -> Iterator[dict]:
    for s in rows:
        yield {"id": s.id, "store": s.store, "weekday": WEEKDAY_NAMES[s.weekday - 1], "start": s.start,
               "minutes": s.minutes, "class": s.class_type, "name": s.class_name, "coach": s.coach, "room": s.room,
               "capacity": s.capacity, "active": s.active}


@classes_group.command("types")
@click.option("--all", "include_inactive", is_flag=True, help="Also the class types no longer in use.")
@format_option()
@click.pass_context
def types(ctx: click.Context, include_inactive: bool, fmt: str) -> None:
    """The class types, by code: length in minutes and usual places."""
    from mms_tui.services.bookings.classes import list_class_types

    open_database(settings_of(ctx))
    write_rows(_type_rows(list_class_types(include_inactive=include_inactive)), fmt)


@classes_group.command("add-type")
@click.argument("code")
@click.argument("name")
@click.option("--minutes", type=int, required=True, help="How long a class lasts.")
@click.option("--capacity", type=int, required=True, help="How many places a class usually has.")
@staff_options("Manager or admin who adds it.")
@format_option()
@click.pass_context
def add_type(ctx: click.Context, code: str, name: str, minutes: int, capacity: int, staff_code: str | None,
             pin_stdin: bool, fmt: str) -> None:
    """Add a class type (瑜伽, 动感单车 …)."""
    from mms_tui.services.bookings.classes import add_class_type

    open_database(settings_of(ctx))
    write_rows(_type_rows([add_class_type(code, name, minutes, capacity, acting_staff(staff_code, pin_stdin))]),
               fmt)


@classes_group.command("edit-type")
@click.argument("code")
@click.option("--name", help="New name.")
@click.option("--minutes", type=int, help="New length in minutes (sessions already made keep theirs).")
@click.option("--capacity", type=int, help="New usual places.")
@click.option("--active/--inactive", default=None, help="Take the class type into or out of use.")
@staff_options("Manager or admin who changes it.")
@format_option()
@click.pass_context
def edit_type(ctx: click.Context, code: str, name: str | None, minutes: int | None, capacity: int | None,
              active: bool | None, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Change a class type (what is not given stays)."""
    from mms_tui.services.bookings.classes import edit_class_type

    open_database(settings_of(ctx))
    row = edit_class_type(code, acting_staff(staff_code, pin_stdin), name=name, minutes=minutes, capacity=capacity,
                          active=active)
    write_rows(_type_rows([row]), fmt)


@classes_group.command("rooms")
@store_option("Only this store's rooms.")
@click.option("--all", "include_inactive", is_flag=True, help="Also the rooms out of use.")
@format_option()
@click.pass_context
def rooms(ctx: click.Context, store_code: str | None, include_inactive: bool, fmt: str) -> None:
    """The rooms and resources of the stores, by store and code."""
    from mms_tui.services.bookings.rooms import list_rooms

    open_database(settings_of(ctx))
    write_rows(({"code": r.code, "name": r.name, "store": r.store, "active": r.active}
                for r in list_rooms(store_code, include_inactive=include_inactive)), fmt)


@classes_group.command("add-room")
@click.argument("code")
@click.argument("name")
@store_option("The room's store (default: the store of --staff).")
@staff_options("Manager or admin who adds it.")
@format_option()
@click.pass_context
def add_room_command(ctx: click.Context, code: str, name: str, store_code: str | None, staff_code: str | None,
                     pin_stdin: bool, fmt: str) -> None:
    """Add a room or resource to a store (房间 / 器械): classes and appointments book it."""
    from mms_tui.services.bookings.rooms import add_room

    open_database(settings_of(ctx))
    r = add_room(code, name, store_code, acting_staff(staff_code, pin_stdin))
    write_rows([{"code": r.code, "name": r.name, "store": r.store, "active": r.active}], fmt)


@classes_group.command("timetable")
@store_option("The store (default: the desk's store, else the first).")
@click.option("--all", "include_ended", is_flag=True, help="Also the lines taken off the timetable.")
@format_option()
@click.pass_context
def timetable_command(ctx: click.Context, store_code: str | None, include_ended: bool, fmt: str) -> None:
    """A store's weekly timetable, by weekday and start (ids for end-slot)."""
    from mms_tui.services.bookings.classes import timetable

    settings = settings_of(ctx)
    open_database(settings)
    write_rows(_slot_rows(timetable(store_code or settings.store, include_ended=include_ended)), fmt)


@classes_group.command("add-slot")
@click.argument("class_type", metavar="TYPE")
@click.argument("weekday", metavar="WEEKDAY")
@click.argument("start", metavar="HH:MM")
@click.option("--coach", required=True, metavar="CODE", help="The staff member who teaches it.")
@click.option("--room", metavar="CODE", help="One of the store's rooms.")
@click.option("--capacity", type=int, help="Places (default: the class type's).")
@store_option("The store (default: the store of --staff).")
@staff_options("Manager or admin who adds it.")
@format_option()
@click.pass_context
def add_slot_command(ctx: click.Context, class_type: str, weekday: str, start: str, coach: str, room: str | None,
                     capacity: int | None, store_code: str | None, staff_code: str | None, pin_stdin: bool,
                     fmt: str) -> None:
    """Add a line to a store's weekly timetable: TYPE every WEEKDAY (mon … sun, or 1 … 7) at HH:MM, store
    time."""
    from mms_tui.services.bookings.classes import add_slot

    open_database(settings_of(ctx))
    row = add_slot(store_code, class_type, weekday, start, coach, acting_staff(staff_code, pin_stdin), room=room,
                   capacity=capacity)
    write_rows(_slot_rows([row]), fmt)


@classes_group.command("add-session")
@click.argument("class_type", metavar="TYPE")
@click.argument("start", metavar="'YYYY-MM-DD HH:MM'")
@click.option("--coach", required=True, metavar="CODE", help="The staff member who teaches it.")
@click.option("--room", metavar="CODE", help="One of the store's rooms.")
@click.option("--capacity", type=int, help="Places (default: the class type's).")
@store_option("The store (default: the store of --staff).")
@staff_options("Manager or admin who adds it.")
@format_option()
@click.pass_context
def add_session_command(ctx: click.Context, class_type: str, start: str, coach: str, room: str | None,
                        capacity: int | None, store_code: str | None, staff_code: str | None, pin_stdin: bool,
                        fmt: str) -> None:
    """Add a one-off class of TYPE at START (a workshop, a make-up class), on no timetable line."""
    from mms_tui.services.bookings.classes import add_session

    open_database(settings_of(ctx))
    row = add_session(store_code, class_type, start, coach, acting_staff(staff_code, pin_stdin), room=room,
                      capacity=capacity)
    write_rows(_session_rows([row]), fmt)


@classes_group.command("end-slot")
@click.argument("slot_id", type=int, metavar="ID")
@staff_options("Manager or admin who ends it.")
@click.pass_context
def end_slot_command(ctx: click.Context, slot_id: int, staff_code: str | None, pin_stdin: bool) -> None:
    """Take timetable line ID off the timetable: no more sessions are generated from it (those made stay)."""
    from mms_tui.services.bookings.classes import end_slot

    open_database(settings_of(ctx))
    end_slot(slot_id, acting_staff(staff_code, pin_stdin))
    click.echo(_("Timetable line {id} ended.").format(id=slot_id), err=True)


@classes_group.command("generate")
@click.option("--from", "start", type=DAY, metavar="YYYY-MM-DD", required=True, help="First day.")
@click.option("--to", "end", type=DAY, metavar="YYYY-MM-DD", required=True, help="Last day, included.")
@store_option("The store (default: the store of --staff).")
@staff_options("Manager or admin who generates them.")
@format_option()
@click.pass_context
def generate(ctx: click.Context, start: dt.date, end: dt.date, store_code: str | None, staff_code: str | None,
             pin_stdin: bool, fmt: str) -> None:
    """Make the sessions of the store's timetable for the days; those made already are left as they are, so
    running it again makes nothing twice. Prints the sessions made."""
    from mms_tui.services.bookings.classes import generate_sessions

    open_database(settings_of(ctx))
    done = generate_sessions(store_code, start, end, acting_staff(staff_code, pin_stdin))
    write_rows(_session_rows(done.created), fmt)
    click.echo(_("{n} sessions made, {m} there already.").format(n=len(done.created), m=done.existing), err=True)


@classes_group.command("sessions")
@period_options("First day (default: today).", "Last day (default: the first).")
@store_option("Only this store's sessions.")
@click.option("--coach", metavar="CODE", help="Only this coach's sessions.")
@format_option()
@click.pass_context
def sessions(ctx: click.Context, start: dt.date | None, end: dt.date | None, store_code: str | None,
             coach: str | None, fmt: str) -> None:
    """The sessions of the days, by start: places, booked, waitlisted, attended and no-shows."""
    from mms_tui import clock
    from mms_tui.services.bookings.classes import list_sessions

    open_database(settings_of(ctx))
    first = start or clock.today()
    write_rows(_session_rows(list_sessions(first, end or first, store_code, coach=coach)), fmt)


@classes_group.command("roster")
@click.argument("session_id", type=int, metavar="SESSION")
@format_option()
@click.pass_context
def roster(ctx: click.Context, session_id: int, fmt: str) -> None:
    """Who is in SESSION: the places in the order they were taken, then the waitlist in order."""
    from mms_tui.services.bookings.classes import session_roster

    open_database(settings_of(ctx))
    write_rows(({"position": r.position, "id": r.place_id, "member": r.member, "card_no": r.card_no,
                 "status": r.status, "booked_at": _when(r.booked_at), "promoted_at": _when(r.promoted_at)}
                for r in session_roster(session_id)), fmt)


@classes_group.command("book")
@click.argument("member", metavar="MEMBER")
@click.argument("session_id", type=int, metavar="SESSION")
@click.option("--card", "card_no", metavar="NUMBER", help="The pass or visit package to book with (default: a "
                                                           "pass before a package).")
@click.option("--txid", metavar="ID", help="Operation id: the same id again returns the first result.")
@staff_options("Staff member who books it.")
@format_option()
@click.pass_context
def book(ctx: click.Context, member: str, session_id: int, card_no: str | None, txid: str | None,
         staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Book MEMBER (a card number, a phone or a member id) into SESSION: a place while places are left, else the waitlist. Needs a
    pass valid on the class's day or a visit package with visits left; the visit is used at the door."""
    from mms_tui.services.bookings.classes import book_class
    from mms_tui.services.ledger.operations import new_txid

    open_database(settings_of(ctx))
    place = book_class(member, session_id, acting_staff(staff_code, pin_stdin), txid or new_txid(), card=card_no)
    write_rows(_place_rows([place]), fmt)


@classes_group.command("cancel")
@click.argument("booking", metavar="BOOKING")
@click.option("--reason", required=True, help="Why (recorded with the place).")
@click.option("--txid", metavar="ID", help="Operation id: the same id again returns the first result.")
@staff_options("Staff member who cancels it.")
@format_option()
@click.pass_context
def cancel(ctx: click.Context, booking: str, reason: str, txid: str | None, staff_code: str | None,
           pin_stdin: bool, fmt: str) -> None:
    """Cancel place BOOKING (its id, or the txid it was booked with). Late when it is close to the start; the
    place goes to the first on the waitlist whose pass still allows the class. Prints the place, then those
    promoted."""
    from mms_tui.services.bookings.classes import cancel_class
    from mms_tui.services.ledger.operations import new_txid

    open_database(settings_of(ctx))
    done = cancel_class(booking, acting_staff(staff_code, pin_stdin), reason, txid or new_txid())
    write_rows(_place_rows([done.place, *done.promoted]), fmt)


@classes_group.command("checkin")
@click.argument("key", metavar="CARD|PHONE")
@click.option("--session", "session_id", type=int, metavar="SESSION", help="This session (default: the member's "
                                                                             "class open now).")
@click.option("--txid", metavar="ID", help="Operation id: the same id again returns the first result.")
@store_option("The store of the door (default: the desk's store, else that of --staff).")
@staff_options("Staff member at the door.")
@format_option()
@click.pass_context
def checkin(ctx: click.Context, key: str, session_id: int | None, txid: str | None, store_code: str | None,
            staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Check a member in to their class at the door (a card read, its number, or a phone): from 30 minutes before
    the start to the end. A visit package gives up one visit, a pass is validated."""
    from mms_tui.services.bookings.classes import class_check_in
    from mms_tui.services.ledger.operations import new_txid

    settings = settings_of(ctx)
    open_database(settings)
    done = class_check_in(key, store_code or settings.store, acting_staff(staff_code, pin_stdin),
                          txid or new_txid(), session_id)
    p = done.place
    write_rows([{"id": p.id, "session": p.session_id, "class": p.class_name, "start": _when(p.start),
                 "member": p.member_name, "card_no": done.card_no, "status": p.status,
                 "visits_left": done.visits_left if done.kind == "visits" else "",
                 "valid_until": done.valid_until or ""}], fmt)


@classes_group.command("no-shows")
@click.argument("session_id", type=int, metavar="SESSION")
@staff_options("Staff member who marks them.")
@format_option()
@click.pass_context
def no_shows(ctx: click.Context, session_id: int, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """After SESSION ends, mark its booked places that were not checked in as no-shows; prints them."""
    from mms_tui.services.bookings.classes import mark_no_shows

    open_database(settings_of(ctx))
    write_rows(_place_rows(mark_no_shows(session_id, acting_staff(staff_code, pin_stdin))), fmt)
