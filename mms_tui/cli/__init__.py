"""``mms``: the Click commands. Thin: parse options, call services, print rows. Errors are one line, exit 1.

This module is the root group (the global options, the settings they load, the desk when no command is given)
and ``main``; each command group lives in its own module:

    setup      init, demo, info
    members    lookup, family, members erase
    exchange   import, export, cards print
    reports    report
    money      topup batch
    loyalty    rules, points expire, tiers review, coupons
    catalogue  products, cardtypes
    ops        check, backup, restore, doctor, upgrade, migrate-to
    devices    devices watch
    staff      staff list|add|edit|disable|enable|reset-pin, audit
    stores     stores list, add, edit, move, close
    bookings   bookings list, add, free, move, cancel, no-show, rooms
    classes    classes: types, rooms, timetable, sessions, places, check-in at the door
    serve      serve (the desk in a web browser)

``options`` holds the options several commands share (one decorator each), ``common`` what they share besides
(the settings, the staff member a command acts as, confirmations, progress), ``output`` the rows they print.
The README's command list is made from these commands' help by ``scripts/cli_doc.py``.
"""

from __future__ import annotations

import os

import click
import peewee

from mms_tui import __version__
from mms_tui.cli import (
    bookings,
    catalogue,
    classes,
    devices,
    exchange,
    loyalty,
    members,
    messages,
    money,
    ops,
    payments,
    reports,
    serve,
    setup,
    staff,
    stock,
    stores,
)
from mms_tui.cli.common import open_database, run_tui
from mms_tui.cli.help_text import measure_in_cells, speak_for_click, translate_help
from mms_tui.db import DatabaseError, close_database, database_fault
from mms_tui.devices.protocols import PROTOCOLS
from mms_tui.i18n import _, set_language
from mms_tui.services.base.errors import DomainError
from mms_tui.settings import SettingsError, load_settings

measure_in_cells()
speak_for_click()


class MmsGroup(click.Group):
    """Turns every expected failure into one clear line on stderr and exit status 1, never a traceback; speaks the
    language of MMS_LANG (or the locale) from the first word of help, before any option is read."""

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[override]
        if parent is None:
            set_language(os.environ.get("MMS_LANG") or None)
            translate_help(self)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (DomainError, DatabaseError, SettingsError) as exc:
            raise click.ClickException(str(exc)) from None
        except peewee.DatabaseError as exc:  # a full disk, a read-only or missing file: said plainly
            raise click.ClickException(database_fault(exc) or _("Database error: {error}").format(error=exc)) from None
        finally:
            close_database()


def _say_help_in(ctx: click.Context, _param: click.Parameter, lang: str | None) -> str | None:
    """``--lang`` read before ``--help`` is (both eager, in the order typed): the help in that language."""
    if lang:
        set_language(lang)
        translate_help(ctx.find_root().command)
    return lang


@click.group(cls=MmsGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="PATH|URL", help="SQLite file or postgresql:// URL. [env MMS_DB]")
@click.option("--store", metavar="CODE", help="Store this desk belongs to. [env MMS_STORE]")
@click.option("--lang", type=click.Choice(["zh", "zh_CN", "en"]), is_eager=True, callback=_say_help_in,
              help="Language of the screens, messages and help. [env MMS_LANG]")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Configuration file (TOML).")
@click.option("--card-reader", metavar="URL", help="Card reader: a pyserial URL. [env MMS_CARD_READER]")
@click.option("--reader-protocol", type=click.Choice(sorted(PROTOCOLS)), help="Card reader protocol.")
@click.option("--scanner", metavar="URL", help="Barcode scanner in serial mode: a pyserial URL. [env MMS_SCANNER]")
@click.option("--printer", metavar="URL", help="ESC/POS receipt printer: a pyserial URL. [env MMS_PRINTER]")
@click.version_option(__version__, prog_name="mms")
@click.pass_context
def cli(ctx: click.Context, db: str | None, store: str | None, lang: str | None, config_path: str | None,
        card_reader: str | None, reader_protocol: str | None, scanner: str | None, printer: str | None) -> None:
    """mms — the front desk for membership businesses (会员管理系统); without a command it opens the front-desk
    screen on the configured database."""
    try:
        settings = load_settings(config_path=config_path, db=db, store=store, lang=lang, card_reader=card_reader,
                                 reader_protocol=reader_protocol, scanner=scanner, printer=printer)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    set_language(settings.lang)
    translate_help(ctx.command)  # a subcommand's --help, in the language the settings chose
    from mms_tui.db import set_file_group, set_waits
    from mms_tui.services.base.files import shared_gid

    set_waits(settings.lock_wait_seconds, settings.statement_timeout_seconds)
    if settings.group:
        try:
            shared_gid(settings.group)  # an unknown group is said before any file is made
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
    set_file_group(settings.group)
    from mms_tui.services.base.resolve import set_uid_byte_order

    set_uid_byte_order(settings.uid_byte_order)
    from mms_tui import clock

    clock.serve_store(settings.store)  # the store's own time zone, when it keeps one
    ctx.obj = settings
    if ctx.invoked_subcommand is None:
        open_database(settings)
        run_tui(settings)


for _command in (
    setup.init, setup.demo, setup.info,
    members.lookup, members.family_group, members.members_group,
    exchange.import_, exchange.export, exchange.cards_group,
    reports.report,
    money.topup_group,
    loyalty.rules_group, loyalty.points_group, loyalty.tiers_group, loyalty.coupons_group,
    catalogue.products_group, catalogue.cardtypes_group, catalogue.prices_group, catalogue.categories_group,
    ops.check, ops.backup, ops.restore, ops.doctor, ops.upgrade, ops.migrate_to,
    devices.devices_group,
    staff.staff_group, staff.audit,
    stores.stores_group,
    bookings.bookings_group,
    classes.classes_group,
    stock.stock_group,
    messages.messages_group,
    messages.tickets_group,
    payments.payments_group,
    serve.serve,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="mms")
