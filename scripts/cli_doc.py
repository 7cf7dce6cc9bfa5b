#!/usr/bin/env python3
"""The README's command list, made from the commands themselves, so the two cannot drift apart.

    python scripts/cli_doc.py            # print the list
    python scripts/cli_doc.py --write    # refresh it in README.md
    python scripts/cli_doc.py --check    # exit 1 when README.md's list is not what the commands say

It walks the Click command tree from ``mms_tui.cli.cli`` and writes one entry per command: its synopsis (the
arguments, then every option in the order ``--help`` lists them) and the first sentence of its help. The list
sits in README.md in the fenced block after the ``cli_doc`` marker comment; tests/test_commands.py fails when it
differs from what this script makes (as sqlite-utils checks its documentation with cog).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from wcwidth import wcswidth

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: the comment that marks the generated block; the fenced block right after it is replaced
MARKER = "<!-- cli_doc: made by `python scripts/cli_doc.py --write` from the commands' help; edit the commands -->"
WIDTH = 116
#: where descriptions start: after a short synopsis on the same line, else on the lines below it
COLUMN = 29
#: a choice of more values than this is shown by the option's name (``--format FORMAT``)
MAX_CHOICES = 8


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command below ``group`` that does something itself, as (path, command), in ``--help`` order."""
    ctx = click.Context(group, info_name=" ".join(path) or "mms")
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def first_sentence(help_text: str | None) -> str:
    """The first sentence of the help's first paragraph (``e.g.`` and ``i.e.`` end none)."""
    paragraph = (help_text or "").split("\n\n")[0].replace("\b", "")
    text = " ".join(paragraph.split())
    match = re.match(r"(.*?(?<!\be\.g)(?<!\bi\.e)\.)(?:\s|$)", text)
    return match.group(1) if match else text


def _word(option: click.Option) -> str:
    return next((o for o in option.opts if o.startswith("--")), option.opts[0])


def _metavar(param: click.Parameter) -> str:
    if param.metavar:
        return param.metavar
    kind = param.type
    if isinstance(kind, click.Choice):
        if len(kind.choices) <= MAX_CHOICES:
            return "|".join(map(str, kind.choices))
        return param.name.upper() if isinstance(param, click.Argument) else _word(param).lstrip("-").upper()
    if isinstance(param, click.Argument):
        return param.name.upper()
    if isinstance(kind, click.DateTime):
        return "YYYY-MM-DD"
    if isinstance(kind, click.Path):
        return "DIR" if not kind.file_okay else "FILE" if not kind.dir_okay else "PATH"
    if isinstance(kind, click.File):
        return "FILE"
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return "N"
    return _word(param).rsplit("-", 1)[-1].upper()  # --admin-pin PIN, --reason REASON


def _piece(param: click.Parameter) -> str | None:
    if isinstance(param, click.Argument):
        shown = _metavar(param)
        if not param.required and not shown.startswith("["):
            shown = f"[{shown}]"
        return shown + ("..." if param.nargs != 1 else "")
    if not isinstance(param, click.Option) or param.hidden or _word(param) == "--help":
        return None
    shown = _word(param) if param.is_flag or param.count else f"{_word(param)} {_metavar(param)}"
    shown = shown if param.required else f"[{shown}]"
    return shown + ("..." if param.multiple else "")


def synopsis(path: tuple[str, ...], command: click.Command) -> list[str]:
    """``mms PATH ARGUMENTS [OPTIONS…]`` wrapped to the width, never inside an option."""
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    options = [p for p in command.params if not isinstance(p, click.Argument)]
    pieces = [" ".join(("mms", *path))] + [s for p in (*arguments, *options) if (s := _piece(p))]
    lines = [pieces[0]]
    for piece in pieces[1:]:
        if _columns(lines[-1]) + 1 + _columns(piece) > WIDTH:
            lines.append("    " + piece)
        else:
            lines[-1] += " " + piece
    return lines


def _columns(text: str) -> int:
    """How many terminal columns ``text`` takes (a Chinese character takes two)."""
    return max(wcswidth(text), len(text))


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and _columns(lines[-1]) + 1 + _columns(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def entry(path: tuple[str, ...], command: click.Command) -> str:
    usage = synopsis(path, command)
    words = _wrap(first_sentence(command.help), WIDTH - COLUMN)
    if len(usage) == 1 and len(usage[0]) <= COLUMN - 2 and words:
        usage[0] = usage[0].ljust(COLUMN) + words.pop(0)
    return "\n".join(usage + [" " * COLUMN + line for line in words])


def render(cli: click.Group) -> str:
    """The command list: the global options and what ``mms`` alone does, then every command."""
    return "\n".join([entry((), cli), *(entry(path, command) for path, command in commands(cli))]) + "\n"


def _block_span(readme: str) -> tuple[int, int]:
    """Where the generated block's text lies in ``readme`` (between its fences)."""
    at = readme.find(MARKER)
    if at < 0:
        raise SystemExit(f"README.md has no line {MARKER!r} before the command list")
    start = readme.index("```\n", at) + len("```\n")
    return start, readme.index("```\n", start)


def current(readme: str) -> str:
    """The command list README.md holds now."""
    start, end = _block_span(readme)
    return readme[start:end]


def refreshed(readme: str, cli: click.Group) -> str:
    start, end = _block_span(readme)
    return readme[:start] + render(cli) + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="refresh the list in README.md")
    action.add_argument("--check", action="store_true", help="exit 1 when README.md's list differs")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mms_tui.cli import cli

    if not (args.write or args.check):
        sys.stdout.write(render(cli))
        return 0
    readme = README.read_text(encoding="utf-8")
    if args.check:
        if current(readme) != render(cli):
            print("README.md's command list differs from the commands: python scripts/cli_doc.py --write",
                  file=sys.stderr)
            return 1
        return 0
    README.write_text(refreshed(readme, cli), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
