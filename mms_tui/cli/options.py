"""Options several commands share, one decorator each (after sqlite-utils' ``output_options``), so a flag is
spelled, typed and read the same wherever it appears. A decorator that takes text is given the help line its
command needs: ``--dry-run`` of an import checks rows, of a review lists changes.

Days are written YYYY-MM-DD and reach the command as a :class:`datetime.date` (:data:`DAY`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import click

from mms_tui.cli.output import FORMATS

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class Day(click.DateTime):
    """A day written YYYY-MM-DD, given to the command as a :class:`datetime.date` (not a midnight datetime)."""

    def __init__(self) -> None:
        super().__init__(["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        return super().convert(value, param, ctx).date()


#: the type of every day option
DAY = Day()


def format_option(default: str = "simple") -> Decorator:
    """``--format`` of a command that prints rows: csv, json, jsonl or any tabulate table format."""
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default=default, show_default=True, metavar="FORMAT",
        help="Output format: csv, json, jsonl, or a table: simple, plain, grid, github, pipe, tsv, html… (any "
             "tabulate format).",
    )


def file_format_option(choices: Sequence[str], help: str, default: str | None = None) -> Decorator:
    """``--format`` of a command that writes or reads a file of one of ``choices`` (without ``default``, the
    command decides from the file's name)."""
    extra: dict[str, Any] = {"default": default, "show_default": True} if default is not None else {}
    return click.option("--format", "fmt", type=click.Choice(list(choices)), help=help, **extra)


def staff_options(recorded: str) -> Decorator:
    """``--staff CODE`` (checked with that staff member's PIN, asked on the terminal or read from standard input
    with ``--pin-stdin``) and ``--pin-stdin``, for every command that changes money, rules or staff. The command
    gets ``staff_code`` and ``pin_stdin`` and passes them to :func:`mms_tui.cli.common.acting_staff`."""
    def decorate(fn):
        fn = click.option("--pin-stdin", "pin_stdin", is_flag=True,
                          help="Read the --staff member's PIN from the first line of standard input.")(fn)
        return click.option("--staff", "staff_code", metavar="CODE",
                            help=recorded + " Their PIN is asked (or --pin-stdin); without --staff: the trusted "
                                            "account, recorded as the first admin.")(fn)
    return decorate


def viewer_options(sees: str) -> Decorator:
    """``--as CODE`` (that staff member's PIN asked on the terminal, or ``--pin-stdin``) for a command that reads
    figures or data out: run as that staff member, held to their own stores (``sees``); without it, the trusted
    account at this machine. The command gets ``viewer_code`` and ``pin_stdin``."""
    def decorate(fn):
        fn = click.option("--pin-stdin", "pin_stdin", is_flag=True,
                          help="Read the --as staff member's PIN from standard input.")(fn)
        return click.option("--as", "viewer_code", metavar="CODE",
                            help=f"Run it as this staff member, whose PIN is asked (or --pin-stdin): {sees} Without "
                                 "--as: the trusted account at this machine.")(fn)
    return decorate


def as_of_option(help: str) -> Decorator:
    """``--as-of YYYY-MM-DD``: the day a scheduled job acts for (``as_of``, None for today)."""
    return click.option("--as-of", "as_of", type=DAY, metavar="YYYY-MM-DD", help=help)


def dry_run_option(help: str) -> Decorator:
    """``--dry-run``: do every check and say what would happen, write nothing."""
    return click.option("--dry-run", is_flag=True, help=help)


def period_options(first: str, last: str) -> Decorator:
    """``--from`` and ``--to``, the first and last day (inclusive) of a period (``start``, ``end``; None when
    not given)."""
    def decorate(fn):
        fn = click.option("--to", "end", type=DAY, metavar="YYYY-MM-DD", help=last)(fn)
        return click.option("--from", "start", type=DAY, metavar="YYYY-MM-DD", help=first)(fn)
    return decorate


def store_option(help: str) -> Decorator:
    """``--store CODE``: only this store's data (``store_code``); the global ``mms --store`` is the desk's own."""
    return click.option("--store", "store_code", metavar="CODE", help=help)


def write_encoding_option(help: str) -> Decorator:
    """``--encoding`` of text written out (``encoding``): one of the encodings the exports write."""
    from mms_tui.services.exchange.export_formats import ENCODINGS

    return click.option("--encoding", type=click.Choice(ENCODINGS), help=help)


def read_encoding_option() -> Decorator:
    """``--encoding`` of a file read in (``encoding``): auto (UTF-8, else GB18030) or a codec name."""
    return click.option("--encoding", default="auto", show_default=True,
                        help="The file's encoding: auto, utf-8 or gb18030.")


def yes_option() -> Decorator:
    """``--yes`` for a command that asks before it replaces or erases (see :func:`mms_tui.cli.common.confirm`)."""
    return click.option("--yes", is_flag=True, help="Do not ask for confirmation.")


def file_argument(stdin: bool = False, required: bool = True) -> Decorator:
    """FILE: a path to a file (not a folder) to read or write; ``stdin``: a file read in, where ``-`` is standard
    input (the command reads it through :func:`mms_tui.cli.common.readable`)."""
    if stdin:
        return click.argument("file", metavar="FILE|-" if required else "[FILE|-]", required=required,
                              type=click.Path(dir_okay=False, allow_dash=True))
    return click.argument("file", type=click.Path(dir_okay=False), required=required)


def file_or_stdio_argument(optional: bool = False) -> Decorator:
    """FILE or ``-`` for standard input or output; ``optional``: ``-`` when left out."""
    if optional:
        return click.argument("file", default="-", metavar="[FILE|-]")
    return click.argument("file", metavar="FILE|-")
