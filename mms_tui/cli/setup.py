"""Setting a database up: ``mms init`` (create or upgrade, the first admin), ``mms demo`` (a demo database and the
desk on it) and ``mms info`` (what and where it is)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mms_tui import __version__
from mms_tui.cli.common import run_tui, settings_of
from mms_tui.cli.options import format_option
from mms_tui.cli.output import write_rows
from mms_tui.i18n import _
from mms_tui.settings import demo_database_path


@click.command()
@click.option("--admin-code", default="admin", show_default=True, help="Staff code of the first admin.")
@click.option("--admin-name", default="", help="Name of the first admin (default: the code).")
@click.option("--admin-pin", help="PIN of the first admin (4–8 digits); asked for when not given. On a shared "
                                 "machine prefer --pin-stdin: the command line is visible to others (ps).")
@click.option("--pin-stdin", is_flag=True, help="Read the first admin's PIN from the first line of standard input.")
@click.option("--store-code", default="HQ", show_default=True, help="Code of the first store.")
@click.option("--store-name", default="总店", show_default=True, help="Name of the first store.")
@click.option("--time-zone", help="The store's time zone, e.g. Asia/Shanghai (default: the system's, recorded when "
                                  "the database is made).")
@click.pass_context
def init(ctx: click.Context, admin_code: str, admin_name: str, admin_pin: str | None, pin_stdin: bool,
         store_code: str, store_name: str, time_zone: str | None) -> None:
    """Create or upgrade the database schema and create the first admin."""
    from mms_tui.models.migrations import current_version
    from mms_tui.services.ops.setup import checked_time_zone, connect, initialise, needs_admin
    from mms_tui.services.staff.accounts import check_pin

    settings = settings_of(ctx)
    if pin_stdin:
        if admin_pin is not None:
            raise click.UsageError(_("Give --admin-pin or --pin-stdin, not both."))
        admin_pin = sys.stdin.readline().strip()
    if admin_pin is not None:
        check_pin(admin_pin)  # a bad PIN is refused before the database file is even made
    if time_zone is not None:
        checked_time_zone(time_zone)  # and so is an unknown zone
    connect(settings.database, new_folder=not settings.db)  # a folder typed with --db must exist already
    if admin_pin is None and (current_version() == 0 or needs_admin()):
        if not sys.stdin.isatty():
            raise click.ClickException(_("No admin exists yet: give its PIN (4–8 digits) with --pin-stdin (or --admin-pin)."))
        admin_pin = click.prompt(_("PIN for admin {code}").format(code=admin_code), hide_input=True,
                                 confirmation_prompt=True)
    result = initialise(store_code=store_code, store_name=store_name, admin_code=admin_code,
                        admin_name=admin_name, admin_pin=admin_pin, time_zone=time_zone)
    if result.applied:
        click.echo(_("Schema at version {v} (applied {n}).").format(v=result.version, n=", ".join(map(str, result.applied))))
    else:
        click.echo(_("Schema already at version {v}.").format(v=result.version))
    if result.room:
        click.echo(result.room)
    if result.admin_created:
        click.echo(_("Created admin {code}.").format(code=admin_code))
    elif ctx.get_parameter_source("admin_code") == click.core.ParameterSource.COMMANDLINE:
        raise click.ClickException(_("No admin {code} created: this database has an admin already. Add staff with "
                                     "'mms staff add'.").format(code=admin_code))
    click.echo(_("Database: {where}").format(where=settings.database))


@click.command()
@click.option("--members", default=200, show_default=True, type=click.IntRange(1, 100_000),
              help="How many members to invent.")
@click.option("--no-tui", is_flag=True, help="Only build the database; do not open the screen.")
@click.option("--fresh", is_flag=True, help="Throw away an existing demo database and build a new one.")
@click.pass_context
def demo(ctx: click.Context, members: int, no_tui: bool, fresh: bool) -> None:
    """Build a demo database (its own file) with members and months of history, and open the desk on it."""
    from mms_tui.models.migrations import current_version
    from mms_tui.services.ops.demo import is_seeded, seed_demo
    from mms_tui.services.ops.setup import connect

    settings = settings_of(ctx)
    target = settings.db or str(demo_database_path())
    settings = settings.with_overrides(db=target)
    if fresh:
        if "://" in target:
            raise click.ClickException(_("--fresh only removes a demo SQLite file, not a server database."))
        for suffix in ("", "-wal", "-shm"):
            Path(target + suffix).unlink(missing_ok=True)
    connect(target, new_folder=not settings_of(ctx).db)
    if current_version() and is_seeded():
        click.echo(_("Using the demo database at {where} (--fresh builds a new one).").format(where=target), err=True)
    elif current_version() and _has_members():
        raise click.ClickException(
            _("{where} already holds data that is not a demo; give another --db.").format(where=target)
        )
    else:
        click.echo(_("Building a demo database at {where} …").format(where=target), err=True)
        result = _seed_with_progress(seed_demo, members)
        click.echo(
            _("{members} members, {cards} cards, {sales} sales, {visits} check-ins. Log in as {code}, PIN {pin}.")
            .format(members=result.members, cards=result.cards, sales=result.sales, visits=result.visits,
                    code=result.admin_code, pin=result.admin_pin),
            err=True,
        )
    if not no_tui:
        run_tui(settings)


def _has_members() -> bool:
    from mms_tui.models import Member

    return Member.select().exists()


def _seed_with_progress(seed, members: int):
    if not sys.stderr.isatty():
        return seed(members)
    with click.progressbar(length=members, label=_("Members"), file=sys.stderr) as bar:
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            bar.update(n - done)
            done = n

        return seed(members, progress=tick)


@click.command()
@format_option("plain")
@click.pass_context
def info(ctx: click.Context, fmt: str) -> None:
    """Version, database location, schema version and counts."""
    from mms_tui.services.messages.worker import channels_configured
    from mms_tui.services.ops.setup import connect
    from mms_tui.services.ops.setup import info as database_info
    from mms_tui.services.payments.charge import providers_configured

    settings = settings_of(ctx)
    connect(settings.database, create=False, new_folder=False)  # reading: a mistyped path is said, not made
    facts = database_info()
    rows = [
        ("version", __version__),
        ("database", facts.location),
        ("schema", f"{facts.schema_version} / {facts.latest_version}"),
        ("config", ", ".join(settings.config_files) or _("none read")),
        ("store", settings.store),
        ("time zone", facts.time_zone),
        ("stores", facts.stores),
        ("staff", facts.staff),
        ("members", facts.members),
        ("cards", facts.cards),
        ("transactions", facts.transactions),
        ("message channels", ", ".join(channels_configured(settings.messages)) or _("none")),  # never their secrets
        ("payment codes", ", ".join(providers_configured(settings.payments)) or _("none")),  # never their keys
    ]
    write_rows(({"key": k, "value": v} for k, v in rows), fmt)
