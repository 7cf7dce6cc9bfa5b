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

import importlib
import os

import click
import peewee

from mms_tui import __version__
from mms_tui.cli.common import open_database, run_tui
from mms_tui.cli.help_text import measure_in_cells, speak_for_click, translate_help
from mms_tui.db import DatabaseError, close_database, database_fault
from mms_tui.devices.protocols import PROTOCOLS
from mms_tui.i18n import _, set_language
from mms_tui.services.base.errors import DomainError
from mms_tui.settings import SettingsError, load_settings

measure_in_cells()
speak_for_click()

#: every command under ``mms``: its name and where it is defined (module in mms_tui.cli, attribute), in the order
#: the README and the tests list them. A command's module is imported when the command is first asked for, so the
#: desk (``mms`` alone) and each command import only what they use.
COMMANDS = {
    "init": ("setup", "init"), "demo": ("setup", "demo"), "info": ("setup", "info"),
    "lookup": ("members", "lookup"), "family": ("members", "family_group"), "members": ("members", "members_group"),
    "import": ("exchange", "import_"), "export": ("exchange", "export"), "cards": ("exchange", "cards_group"),
    "report": ("reports", "report"),
    "topup": ("money", "topup_group"),
    "rules": ("loyalty", "rules_group"), "points": ("loyalty", "points_group"), "tiers": ("loyalty", "tiers_group"),
    "coupons": ("loyalty", "coupons_group"),
    "products": ("catalogue", "products_group"), "cardtypes": ("catalogue", "cardtypes_group"),
    "prices": ("catalogue", "prices_group"), "categories": ("catalogue", "categories_group"),
    "check": ("ops", "check"), "backup": ("ops", "backup"), "restore": ("ops", "restore"),
    "doctor": ("ops", "doctor"), "upgrade": ("ops", "upgrade"), "migrate-to": ("ops", "migrate_to"),
    "devices": ("devices", "devices_group"),
    "staff": ("staff", "staff_group"), "audit": ("staff", "audit"),
    "stores": ("stores", "stores_group"),
    "bookings": ("bookings", "bookings_group"),
    "classes": ("classes", "classes_group"),
    "stock": ("stock", "stock_group"),
    "messages": ("messages", "messages_group"), "tickets": ("messages", "tickets_group"),
    "payments": ("payments", "payments_group"),
    "serve": ("serve", "serve"),
}


class LazyCommands(dict):
    """A group's commands (name → command) whose modules are imported when a command is first looked up.

    Iterating gives every name, loaded or not; looking one up (``[name]``, ``get``, ``items``, ``values``) imports
    it, gives its help the language now set (:func:`translate_help`) and keeps it. :meth:`loaded` is what has been
    imported so far — what a change of language has to translate again."""

    def __init__(self, where: dict[str, tuple[str, str]]) -> None:
        super().__init__()
        self._where = dict(where)
        self._order = list(where)

    def _load(self, name: str) -> click.Command:
        module, attribute = self._where[name]
        command = getattr(importlib.import_module(f"mms_tui.cli.{module}"), attribute)
        translate_help(command)
        dict.__setitem__(self, name, command)
        del self._where[name]  # (only once it loaded: a failed import leaves the name to be tried again)
        return command

    def __getitem__(self, name: str) -> click.Command:
        return self._load(name) if name in self._where else dict.__getitem__(self, name)

    def get(self, name, default=None):
        if name not in self:
            return default
        return self[name]

    def __contains__(self, name: object) -> bool:
        return name in self._where or dict.__contains__(self, name)

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._where.pop(name, None)
        if name not in self._order:
            self._order.append(name)
        dict.__setitem__(self, name, command)

    def __iter__(self):
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def keys(self):
        return list(self._order)

    def values(self):
        return [self[name] for name in self._order]

    def items(self):
        return [(name, self[name]) for name in self._order]

    def loaded(self) -> list[tuple[str, click.Command]]:
        return [(name, dict.__getitem__(self, name)) for name in self._order if dict.__contains__(self, name)]


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


cli.commands = LazyCommands(COMMANDS)


def main() -> None:
    cli(prog_name="mms")
