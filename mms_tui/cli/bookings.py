"""Appointments (预约): ``mms bookings list|add|free|move|cancel|no-show|rooms`` — the same services the desk's day
view calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import DAY, format_option, period_options, staff_options
from mms_tui.cli.output import write_rows
from mms_tui.i18n import _


@click.group("bookings")
def bookings_group() -> None:
    """Appointments (预约): a member (or a walk-in) with a staff member, and a room when a service needs one.
    Conflicts are refused with the reason and the next free slots.

    \b
    mms bookings add 13800138000 HAIR --at '2026-12-05 10:00' --performer t01
    mms bookings add 13800138000 HAIR,SPA --at '2026-12-05 14:00' --weeks 4     # any who can, weekly
    mms bookings add - HAIR --at '2026-12-05 11:00' --guest-name 王女士 --guest-phone 13700137000
    mms bookings free HAIR --after '2026-12-05 09:00'
    mms bookings list --date 2026-12-05 --staff t01
    mms bookings move 12 --at '2026-12-06 10:00'
    mms bookings cancel 12 --reason 出差
    mms bookings no-show 12
    mms bookings rooms SPA SPA1,SPA2 --staff m01      # the rooms that host a service
    """


def rows(views: Iterable) -> Iterator[dict]:
    for v in views:
        yield {"id": v.id, "day": v.start.strftime("%Y-%m-%d"), "start": v.start.strftime("%H:%M"),
               "end": v.end.strftime("%H:%M"), "staff": v.staff_code, "staff_name": v.staff_name,
               "room": v.room_code or "", "who": v.who, "phone": v.phone_tail, "services": v.services,
               "status": v.status, "late": v.late, "policy": v.policy, "store": v.store_code, "note": v.note}


def _refused(exc) -> click.ClickException:
    from mms_tui.services.bookings.appointments import BookingRefused

    if isinstance(exc, BookingRefused) and exc.suggestions:
        return click.ClickException(_("{reason} Next free: {slots}").format(
            reason=str(exc), slots="; ".join(s.text() for s in exc.suggestions)))
    return click.ClickException(str(exc))


@bookings_group.command("list")
@click.option("--date", "day", type=DAY, metavar="YYYY-MM-DD", help="One day (default: today).")
@period_options("First day (instead of --date).", "Last day (instead of --date).")
@click.option("--staff", "staff_code", metavar="CODE", help="Only this staff member's bookings.")
@click.option("--store", "store_code", metavar="CODE", help="Only this store's bookings.")
@format_option()
@click.pass_context
def bookings_list(ctx: click.Context, day: dt.date | None, start: dt.date | None, end: dt.date | None,
                  staff_code: str | None, store_code: str | None, fmt: str) -> None:
    """Bookings by start: of a day, or from --from to --to, with their status (booked, arrived, cancelled,
    no_show)."""
    from mms_tui import clock
    from mms_tui.services.bookings.appointments import list_bookings

    open_database(settings_of(ctx))
    first = start or day or clock.today()
    last = end or day or first
    if last < first:
        raise click.ClickException(_("--to is before --from."))
    write_rows(rows(list_bookings(first, last, store=store_code, staff_code=staff_code)), fmt)


def _services(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


@bookings_group.command("add")
@click.argument("member", metavar="PHONE|-")
@click.argument("services", metavar="CODES")
@click.option("--at", "start", required=True, metavar="'YYYY-MM-DD HH:MM'", help="When it starts (store time).")
@click.option("--performer", metavar="CODE", default="any", show_default=True,
              help="The staff member who performs the services, or 'any' who can.")
@click.option("--weeks", type=click.IntRange(1, 52), default=1, show_default=True, help="Weekly, this many times.")
@click.option("--note", default="", help="A note for the staff.")
@click.option("--guest-name", default="", help="A walk-in's name (with PHONE '-').")
@click.option("--guest-phone", default="", help="A walk-in's phone (with PHONE '-').")
@staff_options("Staff member who takes the booking.")
@click.pass_context
def bookings_add(ctx: click.Context, member: str, services: str, start: str, performer: str, weeks: int, note: str,
                 guest_name: str, guest_phone: str, staff_code: str | None, pin_stdin: bool) -> None:
    """Book the services CODES (comma-separated, performed back to back) for the member with this PHONE, or for a
    walk-in ('-', with --guest-name and --guest-phone)."""
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.bookings.appointments import book
    from mms_tui.services.ledger.operations import new_txid

    settings = settings_of(ctx)
    open_database(settings)
    by = acting_staff(staff_code, pin_stdin)
    try:
        result = book(None if member == "-" else member, _services(services), by, new_txid(), start=start,
                      staff=performer, store=settings.store, guest_name=guest_name, guest_phone=guest_phone,
                      note=note, weeks=weeks)
    except DomainError as exc:
        raise _refused(exc) from None
    for booking_id, when in zip(result.booking_ids, result.starts, strict=True):
        click.echo(f"{booking_id}\t{when}\t{result.staff_code}\t{result.room_code or ''}")
    for warning in result.warnings:
        click.echo(_("Warning: {text}").format(text=warning), err=True)


@bookings_group.command("free")
@click.argument("services", metavar="CODES")
@click.option("--after", metavar="'YYYY-MM-DD HH:MM'", help="From this time (default: now).")
@click.option("--performer", metavar="CODE", help="Only this staff member.")
@click.option("--count", type=click.IntRange(1, 50), default=5, show_default=True, help="How many slots.")
@click.option("--store", "store_code", metavar="CODE", help="At this store (default: the desk's).")
@format_option()
@click.pass_context
def bookings_free(ctx: click.Context, services: str, after: str | None, performer: str | None, count: int,
                  store_code: str | None, fmt: str) -> None:
    """The next free slots for the services CODES, across the staff who perform them."""
    from mms_tui.services.bookings.appointments import next_free

    settings = settings_of(ctx)
    open_database(settings)
    slots = next_free(_services(services), store=store_code or settings.store, after=after, staff_code=performer,
                      count=count)
    write_rows(({"day": s.start.strftime("%Y-%m-%d"), "start": s.start.strftime("%H:%M"),
                 "end": s.end.strftime("%H:%M"), "staff": s.staff_code, "staff_name": s.staff_name,
                 "room": s.room_code or ""} for s in slots), fmt)


@bookings_group.command("move")
@click.argument("booking_id", type=int, metavar="ID")
@click.option("--at", "start", required=True, metavar="'YYYY-MM-DD HH:MM'", help="The new start.")
@click.option("--performer", metavar="CODE", help="Another staff member, or 'any' who can (default: the same).")
@staff_options("Staff member who moves it.")
@click.pass_context
def bookings_move(ctx: click.Context, booking_id: int, start: str, performer: str | None, staff_code: str | None,
                  pin_stdin: bool) -> None:
    """Move booking ID to another time (the old one is cancelled naming the new one, at no cost)."""
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.bookings.appointments import move
    from mms_tui.services.ledger.operations import new_txid

    open_database(settings_of(ctx))
    by = acting_staff(staff_code, pin_stdin)
    try:
        result = move(booking_id, by, new_txid(), start=start, staff=performer)
    except DomainError as exc:
        raise _refused(exc) from None
    click.echo(str(result.new_booking_id))


@bookings_group.command("cancel")
@click.argument("booking_id", type=int, metavar="ID")
@click.option("--reason", required=True, help="Why (kept with the booking).")
@staff_options("Staff member who cancels it.")
@click.pass_context
def bookings_cancel(ctx: click.Context, booking_id: int, reason: str, staff_code: str | None,
                    pin_stdin: bool) -> None:
    """Cancel booking ID. Late (the rules' bookings.late_cancel_hours before its start) it costs what the rules
    say."""
    from mms_tui.services.bookings.appointments import cancel
    from mms_tui.services.ledger.operations import new_txid

    open_database(settings_of(ctx))
    result = cancel(booking_id, acting_staff(staff_code, pin_stdin), reason, new_txid())
    click.echo(_policy_text(result), err=True)


@bookings_group.command("no-show")
@click.argument("booking_id", type=int, metavar="ID")
@staff_options("Staff member who marks it.")
@click.pass_context
def bookings_no_show(ctx: click.Context, booking_id: int, staff_code: str | None, pin_stdin: bool) -> None:
    """Mark booking ID a no-show (once its grace has passed); it costs what the rules' bookings.no_show says."""
    from mms_tui.services.bookings.appointments import no_show
    from mms_tui.services.ledger.operations import new_txid

    open_database(settings_of(ctx))
    click.echo(_policy_text(no_show(booking_id, acting_staff(staff_code, pin_stdin), new_txid())), err=True)


def _policy_text(result) -> str:
    from mms_tui.services.bookings.appointments import policy_text

    return policy_text(result.status, result.late, result.policy)


@bookings_group.command("rooms")
@click.argument("service")
@click.argument("rooms", metavar="ROOMS")
@staff_options("Manager who sets it.")
@click.pass_context
def bookings_rooms(ctx: click.Context, service: str, rooms: str, staff_code: str | None, pin_stdin: bool) -> None:
    """The rooms (comma-separated codes; '-' for none) that host SERVICE: a booking of it takes one of them."""
    from mms_tui.services.bookings.appointments import set_service_rooms

    open_database(settings_of(ctx))
    codes = set_service_rooms(acting_staff(staff_code, pin_stdin), service, [] if rooms == "-" else
                              _services(rooms))
    click.echo(",".join(codes) or "-")
