"""Staff administration: ``mms staff list|add|edit|disable|enable|reset-pin``, rosters and punches (考勤: ``mms staff roster``, ``punches``, ``correct-punch``, ``add-punch``), and ``mms audit`` (the audited
events, newest first)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import DAY, format_option, period_options, staff_options
from mms_tui.cli.output import write_rows
from mms_tui.i18n import _


@click.group("staff")
def staff_group() -> None:
    """Staff (员工管理): who logs in at which store, and the performers (技师/教练) who serve members. A manager
    manages the staff of their own store; an admin everyone.

    \b
    mms staff add c02 小王 --role cashier --store HQ      # the PIN is asked twice (or --pin-stdin)
    mms staff add t01 李师傅 --performer --level 高级 --services HAIR,SPA
    mms staff edit c02 --role manager --card STAFF002
    mms staff reset-pin c02                              # a temporary PIN, replaced at the next login
    mms staff disable c02
    mms staff list --store HQ
    """


def _rows(staff: Iterable) -> Iterator[dict]:
    for s in staff:
        yield {"code": s.code, "name": s.name, "role": s.role, "store": s.store, "card_no": s.card_no,
               "level": s.level, "services": ",".join(s.services), "active": s.active,
               "must_change_pin": s.must_change_pin,
               "last_login_at": s.last_login_at.strftime("%Y-%m-%d %H:%M") if s.last_login_at else ""}


def _new_pin(staff_code: str | None, pin_stdin: bool, code: str) -> str:
    """A new PIN from the terminal (typed twice, never echoed) or from standard input (its next line: after the
    --staff member's own PIN when both come from there). Never from the command line, where ``ps`` shows it."""
    if pin_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException(_("Standard input holds no PIN for {code}.").format(code=code))
        return line.strip()
    if not sys.stdin.isatty():
        raise click.ClickException(_("No terminal to ask {code}'s PIN on: pass it on standard input with "
                                     "--pin-stdin.").format(code=code))
    return click.prompt(_("New PIN of {code}").format(code=code), hide_input=True, confirmation_prompt=True)


def _services(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


@staff_group.command("list")
@click.option("--store", "store_code", metavar="CODE", help="Only this store's staff.")
@click.option("--active-only", is_flag=True, help="Leave out disabled accounts.")
@staff_options("Manager or admin who asks (a manager sees their own store's staff).")
@format_option()
@click.pass_context
def staff_list(ctx: click.Context, store_code: str | None, active_only: bool, staff_code: str | None,
               pin_stdin: bool, fmt: str) -> None:
    """List staff by store and code, with role, level, services and last login."""
    from mms_tui.services.staff.admin import list_staff

    open_database(settings_of(ctx))
    by = acting_staff(staff_code, pin_stdin)
    write_rows(_rows(list_staff(by, store=store_code, include_disabled=not active_only)), fmt)


@staff_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--role", type=click.Choice(["cashier", "manager", "admin"]), default="cashier", show_default=True,
              help="What they may do at the desk (not for --performer).")
@click.option("--store", "store_code", metavar="CODE", help="Their store (default: the store of --staff).")
@click.option("--card", "card_no", metavar="NUMBER", help="Staff card number (swiping it fills in the code).")
@click.option("--performer", is_flag=True, help="Serves members (技师/教练) and never logs in: no PIN.")
@click.option("--level", metavar="TEXT", help="Level, e.g. 助理, 技师, 高级, 首席.")
@click.option("--services", metavar="CODES", help="Service codes they may perform, comma-separated (HAIR,SPA).")
@staff_options("Manager or admin who adds them.")
@format_option()
@click.pass_context
def staff_add(ctx: click.Context, code: str, name: str, role: str, store_code: str | None, card_no: str | None,
              performer: bool, level: str | None, services: str | None, staff_code: str | None, pin_stdin: bool,
              fmt: str) -> None:
    """Add a staff member. One who logs in gets a PIN, asked twice on the terminal or read with --pin-stdin
    (after the --staff member's own PIN when --staff is given); a --performer gets none."""
    from mms_tui.services.staff.admin import add_staff

    open_database(settings_of(ctx))
    by = acting_staff(staff_code, pin_stdin)
    pin = None if performer else _new_pin(staff_code, pin_stdin, code)
    row = add_staff(code, name, by=by, role=role, store=store_code, pin=pin, card_no=card_no, performer=performer,
                    level=level, services=_services(services) or ())
    write_rows(_rows([row]), fmt)


@staff_group.command("edit")
@click.argument("code")
@click.option("--name", help="New name.")
@click.option("--role", type=click.Choice(["cashier", "manager", "admin"]), help="New role.")
@click.option("--store", "store_code", metavar="CODE", help="Move them to this store.")
@click.option("--card", "card_no", metavar="NUMBER", help="New staff card number ('' takes the card away).")
@click.option("--level", metavar="TEXT", help="New level ('' clears it).")
@click.option("--services", metavar="CODES", help="The services they may perform, all of them, comma-separated "
                                                  "('' for none).")
@staff_options("Manager or admin who changes them.")
@format_option()
@click.pass_context
def staff_edit(ctx: click.Context, code: str, name: str | None, role: str | None, store_code: str | None,
               card_no: str | None, level: str | None, services: str | None, staff_code: str | None,
               pin_stdin: bool, fmt: str) -> None:
    """Change a staff member's name, role, store, staff card, level or services (what is not given stays)."""
    from mms_tui.services.staff.admin import edit_staff

    open_database(settings_of(ctx))
    by = acting_staff(staff_code, pin_stdin)
    row = edit_staff(code, by=by, name=name, role=role, store=store_code, card_no=card_no, level=level,
                     services=_services(services))
    write_rows(_rows([row]), fmt)


def _activation(name: str, active: bool, recorded: str, help: str) -> click.Command:
    """``mms staff disable`` and ``mms staff enable``: the same command but for the state it sets."""
    @staff_group.command(name, help=help)
    @click.argument("code")
    @staff_options(recorded)
    @format_option()
    @click.pass_context
    def command(ctx: click.Context, code: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
        from mms_tui.services.staff.admin import set_staff_active

        open_database(settings_of(ctx))
        by = acting_staff(staff_code, pin_stdin)
        write_rows(_rows([set_staff_active(code, active, by=by)]), fmt)

    return command


staff_disable = _activation("disable", False, "Manager or admin who disables them.",
                            "Disable a staff member: they log in no more; their history stays.")
staff_enable = _activation("enable", True, "Manager or admin who enables them.",
                           "Enable a disabled staff member again.")


@staff_group.command("reset-pin")
@click.argument("code")
@staff_options("Manager or admin who resets it.")
@format_option()
@click.pass_context
def staff_reset_pin(ctx: click.Context, code: str, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Give CODE a temporary PIN (asked twice, or read with --pin-stdin after the --staff member's own) and lift
    a lockout: the next login with it must set a new PIN before it finishes."""
    from mms_tui.services.staff.admin import reset_pin

    open_database(settings_of(ctx))
    by = acting_staff(staff_code, pin_stdin)
    write_rows(_rows([reset_pin(code, _new_pin(staff_code, pin_stdin, code), by=by)]), fmt)


@click.command("audit")
@click.option("--staff", "staff_code", metavar="CODE", help="Only what this staff member did.")
@click.option("--subject", metavar="TEXT",
              help="Only events about this: a kind (staff, member, card …) or one subject (staff:c02, member:12).")
@period_options("First day (the store's calendar), included.", "Last day, included.")
@format_option()
@click.pass_context
def audit(ctx: click.Context, staff_code: str | None, subject: str | None, start, end, fmt: str) -> None:
    """The audited events — who, at which store, did what to whom, and the change in short (before → after) —
    newest first. Read by the trusted account (whoever runs mms with the database's permissions)."""
    from mms_tui.services.reports.audit import audit_events

    open_database(settings_of(ctx))
    by = acting_staff(None)
    write_rows(({"at": e.at.strftime("%Y-%m-%d %H:%M:%S"), "staff": e.staff, "store": e.store, "action": e.action,
                 "subject": e.subject, "change": e.change}
                for e in audit_events(by, staff=staff_code, subject=subject, start=start, end=end)), fmt)


# --- 考勤: rosters and punch corrections ---------------------------------------------------------------------------


@staff_group.group("roster")
def roster_group() -> None:
    """Rosters (排班): each staff member's week and the dates that differ, which attendance is measured against.

    \b
    mms staff roster set c01 mon-fri=09:00-18:00 sat=10:00-16:00 --staff m01   # days not named: off
    mms staff roster except c01 2026-12-24 13:00-21:00 --note 平安夜 --staff m01
    mms staff roster except c01 2026-12-25 off --staff m01      # 'week' goes back to the week
    mms staff roster show c01
    """


@roster_group.command("show")
@click.argument("code", required=False)
@period_options("Exceptions from this day.", "Exceptions up to this day.")
@format_option()
@click.pass_context
def roster_show(ctx: click.Context, code: str | None, start, end, fmt: str) -> None:
    """The week of CODE (or of everyone with a roster) and the dates that differ from it."""
    from mms_tui.services.staff.attendance import roster_rows

    open_database(settings_of(ctx))
    write_rows(roster_rows(code, start, end), fmt)


@roster_group.command("set")
@click.argument("code")
@click.argument("days", nargs=-1, required=True, metavar="DAYS=HH:MM-HH:MM|off")
@staff_options("Manager or admin who sets it.")
@click.pass_context
def roster_set(ctx: click.Context, code: str, days: tuple[str, ...], staff_code: str | None,
               pin_stdin: bool) -> None:
    """Set CODE's week, replacing the one before: DAYS is mon … sun, a range (mon-fri) or a list (sat,sun);
    a weekday not named is off. A shift ends the day it starts (24:00 at the latest)."""
    from mms_tui.services.staff.attendance import parse_week, set_week

    week = parse_week(days)
    open_database(settings_of(ctx))
    set_week(code, week, acting_staff(staff_code, pin_stdin))
    click.echo(_("Roster of {code} set.").format(code=code), err=True)


@roster_group.command("except")
@click.argument("code")
@click.argument("day", type=DAY, metavar="YYYY-MM-DD")
@click.argument("shift", metavar="HH:MM-HH:MM|off|week")
@click.option("--note", default="", help="Why the day differs.")
@staff_options("Manager or admin who sets it.")
@click.pass_context
def roster_except(ctx: click.Context, code: str, day, shift: str, note: str, staff_code: str | None,
                  pin_stdin: bool) -> None:
    """One date of CODE that differs from the week: another shift, a day off, or 'week' to follow the week
    again."""
    from mms_tui.services.staff.attendance import parse_shift, set_exception

    chosen = None if shift.strip().lower() == "week" else parse_shift(shift)
    open_database(settings_of(ctx))
    set_exception(code, day, chosen, acting_staff(staff_code, pin_stdin), note)
    click.echo(_("Roster of {code} on {day} set.").format(code=code, day=day.isoformat()), err=True)


@staff_group.command("punches")
@period_options("First day (default: today).", "Last day (default: the first).")
@click.option("--of", "of_code", metavar="CODE", help="Only this staff member's punches.")
@format_option()
@click.pass_context
def staff_punches(ctx: click.Context, start, end, of_code: str | None, fmt: str) -> None:
    """Every clock-in and clock-out of the days (考勤), with the corrections and what they corrected: 'counts'
    says which ones the figures use."""
    from mms_tui import clock
    from mms_tui.services.staff.attendance import punch_rows

    open_database(settings_of(ctx))
    first = start or clock.today()
    write_rows(({"id": r.id, "code": r.code, "name": r.name, "kind": r.kind,
                 "at": r.at.strftime("%Y-%m-%d %H:%M:%S"), "store": r.store, "source": r.source,
                 "counts": r.counts, "supersedes": r.supersedes or "", "void": r.void, "reason": r.reason,
                 "recorded_by": r.recorded_by} for r in punch_rows(first, end or first, of_code)), fmt)


@staff_group.command("correct-punch")
@click.argument("punch_id", type=int, metavar="ID")
@click.option("--at", "at", metavar="'YYYY-MM-DD HH:MM'", help="The time the punch should have.")
@click.option("--void", is_flag=True, help="Take the punch away (it stays, marked superseded).")
@click.option("--reason", required=True, help="Why (recorded in the audit).")
@staff_options("Manager or admin who corrects it.")
@click.pass_context
def staff_correct_punch(ctx: click.Context, punch_id: int, at: str | None, void: bool, reason: str,
                        staff_code: str | None, pin_stdin: bool) -> None:
    """Correct punch ID (mms staff punches shows the ids): another time, or --void. The punch is kept; the
    correction is a new row that supersedes it."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.staff.attendance import correct_punch

    open_database(settings_of(ctx))
    result = correct_punch(punch_id, acting_staff(staff_code, pin_stdin), reason, new_txid(), at=at, void=void)
    click.echo(_("Punch {id} corrected by punch {new}.").format(id=punch_id, new=result.punch_id), err=True)


@staff_group.command("add-punch")
@click.argument("code")
@click.argument("kind", type=click.Choice(["in", "out"]))
@click.argument("at", metavar="'YYYY-MM-DD HH:MM'")
@click.option("--reason", required=True, help="Why (recorded in the audit).")
@click.option("--at-store", "at_store", metavar="CODE", help="Where (default: their store).")
@staff_options("Manager or admin who adds it.")
@click.pass_context
def staff_add_punch(ctx: click.Context, code: str, kind: str, at: str, reason: str, at_store: str | None,
                    staff_code: str | None, pin_stdin: bool) -> None:
    """Add a punch that is missing: a forgotten clock-out, a clock-in the reader never saw."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.staff.attendance import add_punch

    open_database(settings_of(ctx))
    result = add_punch(code, kind, at, acting_staff(staff_code, pin_stdin), reason, new_txid(), at_store)
    click.echo(_("Punch {id} added.").format(id=result.punch_id), err=True)


@staff_group.command("rate")
@click.argument("txid")
@click.argument("rating", type=click.IntRange(1, 5))
@click.option("--performer", required=True, metavar="CODE", help="The staff member who performed the service.")
@click.option("--line", "line_code", metavar="CODE", help="The service's code, when they performed several.")
@staff_options("Staff member who records it.")
@click.pass_context
def staff_rate(ctx: click.Context, txid: str, rating: int, performer: str, line_code: str | None,
               staff_code: str | None, pin_stdin: bool) -> None:
    """A member's 1–5 rating of a service on the sale TXID (服务评价), for 'mms report service'. One per service and
    performer, never changed."""
    from mms_tui.services.money.ratings import rate_service

    open_database(settings_of(ctx))
    by = acting_staff(staff_code, pin_stdin)
    done = rate_service(txid, performer, rating, by, line_code=line_code)
    click.echo(_("Rated {staff}'s {service}: {rating}.").format(staff=done.staff_code, service=done.name,
                                                                 rating=done.rating))
