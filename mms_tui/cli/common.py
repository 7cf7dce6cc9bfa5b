"""What the command groups share besides options: the settings the root group loaded, opening the database, the
staff member a command acts as, confirmations, progress on stderr and the desk itself. No business rule lives
here: each of these only gathers input or hands over to a service.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
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


@contextlib.contextmanager
def readable(file: str | None, pin_stdin: bool = False) -> Iterator[str | None]:
    """The path of a file to read in: FILE itself, or for ``-`` what standard input brings, kept in a private
    temporary folder while the command runs (a sheet is read more than once, and an XLSX workbook needs seeking;
    a workbook is told by its first bytes). Gone when the command ends."""
    if file != "-":
        yield file
        return
    if pin_stdin:
        raise click.ClickException(_("FILE '-' reads the file from standard input, so the PIN cannot come from there "
                                     "too: name the file instead, or leave out --pin-stdin."))
    if sys.stdin.isatty():
        raise click.ClickException(_("FILE '-' reads the file from standard input: pipe or redirect it "
                                     "(… - < members.csv), or name the file."))
    with tempfile.TemporaryDirectory(prefix="mms-stdin-") as folder:
        path = Path(folder) / "stdin"
        try:
            with path.open("wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        except OSError as exc:
            raise click.ClickException(_("Cannot keep standard input to read it: {error}.").format(
                error=exc.strerror or exc)) from None
        with path.open("rb") as kept:
            if kept.read(4) == b"PK\x03\x04":  # a workbook: its reader goes by the name
                path = path.rename(path.with_suffix(".xlsx"))
        yield str(path)


def with_progress(run: Callable[[Callable[[int, int], None] | None], Any], label: str | None = None) -> Any:
    """A progress bar on stderr while ``run(progress)`` works, only when stderr is a terminal; ``label``: what it
    does (default: Reading)."""
    if not sys.stderr.isatty():
        return run(None)
    with click.progressbar(length=1, label=label or _("Reading"), file=sys.stderr) as bar:
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
