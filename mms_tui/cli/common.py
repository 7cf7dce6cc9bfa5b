"""What the command groups share besides options: the settings the root group loaded, opening the database, the
staff member a command acts as, confirmations, progress on stderr and the desk itself. No business rule lives
here: each of these only gathers input or hands over to a service.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from mms_tui.db import close_database
from mms_tui.i18n import _
from mms_tui.settings import Settings


def settings_of(ctx: click.Context) -> Settings:
    """The settings the root group loaded: file, environment and global options."""
    return ctx.find_object(Settings)  # type: ignore[return-value]


def open_database(settings: Settings) -> None:
    """Open the configured database for a command (a missing or too old one is one line, exit 1)."""
    from mms_tui.services.ops.setup import open_store

    open_store(settings.database)


def acting_staff(staff_code: str | None, pin_stdin: bool = False):
    """The staff member a command acts as (services.staff.command_staff decides; this only gets the PIN)."""
    from mms_tui.services.staff.accounts import command_staff

    pin = None
    if staff_code:
        if pin_stdin:
            pin = sys.stdin.readline().strip()
        elif sys.stdin.isatty():
            pin = click.prompt(_("PIN of {code}").format(code=staff_code), hide_input=True, default="",
                               show_default=False)
    return command_staff(staff_code, pin)


def confirm(yes: bool, question: str, refusal: str) -> None:
    """Go on when ``--yes`` was given or the person at the terminal agrees to ``question``; without a terminal
    there is nobody to ask, so stop with ``refusal`` (one line, exit 1) instead of waiting."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.ClickException(refusal)
    click.confirm(question, abort=True)


def with_progress(run: Callable[[Callable[[int, int], None] | None], Any]) -> Any:
    """A progress bar on stderr while ``run(progress)`` works, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return run(None)
    with click.progressbar(length=1, label=_("Reading"), file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        return run(progress)


def run_tui(settings: Settings) -> None:
    """The front desk on ``settings``: what ``mms`` and ``mms demo`` open."""
    from mms_tui.app import create_app
    from mms_tui.services.ops.upgrade import desk_presence

    if not os.environ.get("TEXTUAL_DRIVER") and not (sys.stdin.isatty() and sys.stdout.isatty()):
        # no terminal (sftp or a command through a desk's SSH login, a pipe): nobody could use the desk, and it
        # would wait on input that never comes; 'mms serve' runs it through its own driver
        raise click.ClickException(_("The desk needs a terminal: log in with 'ssh -t', or run it in a terminal "
                                     "(commands such as 'mms check' need none)."))
    if os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver"):
        # a desk in a browser ('mms serve') is not at the counter: the readers, printer and customer display of
        # the machine that serves it are not the browser user's to use
        settings = dataclasses.replace(settings, card_reader="", scanner="", printer="", display="")
    close_database()  # the app opens its own connections, one per worker thread
    with desk_presence(settings.database):  # 'mms upgrade' waits for no desk: it sees this one
        create_app(settings).run()
