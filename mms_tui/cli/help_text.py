"""The commands' help in the chosen language: ``mms --lang zh report --help`` reads Chinese.

Click keeps each command's help (its docstring) and each option's help as plain English strings, fixed when the
module is imported, before anyone has said a language. :func:`translate_help` puts every one of them through the
catalog once the language is known — kept English originals are the message ids, so it can run again for another
language — and :func:`help_messages` lists them for ``scripts/i18n.py``, which adds them to the catalog beside the
``_()`` strings (a help text changed in the code is then a message to translate, as any other).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import click

from mms_tui.i18n import N_, _, ngettext

#: the words Click itself prints around the help and in its errors, for the catalog (Click looks each up through
#: gettext; :func:`speak_for_click` points that at ours)
CLICK_MESSAGES = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Positional arguments"), N_("Show this message and exit."),
    N_("Show the version and exit."), N_("Error: {message}"), N_("Try '{command} {option}' for help."),
    N_("Invalid value: {message}"), N_("Invalid value for {param_hint}: {message}"), N_("Missing argument"),
    N_("Missing option"), N_("Missing parameter"), N_("Missing parameter: {param_name}"), N_("Missing command."),
    N_("No such option {name!r}."), N_("No such command {name!r}."), N_("Aborted!"), N_("default: {default}"),
    N_("env var: {var}"), N_("required"), N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."), N_("Option {name!r} does not take a value."),
    N_("Do you want to continue?"), N_("Confirm the action without prompting."),
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a directory."), N_("file"),
    N_("directory"), N_("path"),
)


def _click_plurals(n: int) -> tuple[str, ...]:
    """Click's messages with a number, for the catalog (never called)."""
    return (ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", n),
            ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", n),
            ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", n),
            ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", n),
            ngettext("{value!r} does not match the format {format}.",
                     "{value!r} does not match the formats {formats}.", n))


def speak_for_click() -> None:
    """Click's own words (Usage:, Options, its errors) through mms's catalog, in the language mms speaks: each of
    its modules looks them up with a ``_``/``ngettext`` of its own, pointed here."""
    import importlib

    for name in ("core", "formatting", "exceptions", "decorators", "types", "parser", "termui"):
        try:
            module = importlib.import_module(f"click.{name}")
        except ImportError:
            continue
        if hasattr(module, "_"):
            module._ = _
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext

#: where the English of each translated help was kept: (object, attribute) → original
_ORIGINALS: dict[tuple[int, str], str] = {}


def measure_in_cells() -> None:
    """Click wraps help by counting characters, and a Chinese character takes two cells of a terminal: its lines
    would run past the edge. Click measures every width through ``term_len`` (and cuts a long run of Chinese,
    which has no spaces, with ``_truncate_visible``); those two count cells here (Rich's ``cell_len``, as the desk
    does). Should a later Click no longer have them, the help is only wrapped less well."""
    from click import _compat, _textwrap, formatting
    from rich.cells import cell_len

    ansi = getattr(_compat, "_ansi_re", None)
    if ansi is None or not hasattr(_textwrap, "_truncate_visible") or not hasattr(formatting, "term_len"):
        return

    def term_len(text: str) -> int:
        return cell_len(_compat.strip_ansi(text))

    def truncate_visible(text: str, cells: int) -> str:
        """The longest start of ``text`` that fits ``cells`` (escape sequences kept whole, not counted); at least
        one character, so a wide one never stalls the wrapping."""
        used = i = cut = 0
        while i < len(text):
            escape = ansi.match(text, i)
            if escape is not None:
                i = escape.end()
                continue
            width = cell_len(text[i])
            if used + width > cells and cut:
                break
            used += width
            i += 1
            cut = i
            if used >= cells:
                break
        return text[:cut]

    _textwrap.term_len = term_len
    formatting.term_len = term_len
    _textwrap._truncate_visible = truncate_visible


def _helped(command: click.Command) -> Iterator[tuple[object, str]]:
    """(object, attribute) of every help text of ``command`` and the commands below it."""
    yield command, "help"
    yield command, "short_help"
    for param in command.params:
        yield param, "help"
    if isinstance(command, click.Group):  # those loaded: a lazy group's others are translated as they load
        loaded = getattr(command.commands, "loaded", command.commands.items)
        for _name, below in sorted(loaded(), key=lambda pair: pair[0]):
            yield from _helped(below)


def translate_help(command: click.Command) -> None:
    """Every help text of ``command`` and below in the language now set (``mms_tui.i18n.set_language``)."""
    for owner, attribute in _helped(command):
        key = (id(owner), attribute)
        original = _ORIGINALS.get(key)
        if original is None:
            original = getattr(owner, attribute, None)
            if not original:
                continue
            _ORIGINALS[key] = original
        setattr(owner, attribute, _(original))


def help_messages(command: click.Command) -> Iterator[tuple[str, str]]:
    """(English help text, 'path:line' of the function it belongs to) of every help of ``command`` and below,
    each once, for the catalog."""
    seen: set[str] = set()
    root = Path(__file__).resolve().parent.parent.parent

    def where(command: click.Command) -> str:
        function = inspect.unwrap(command.callback) if command.callback else None
        if function is None:
            return ""
        try:
            path = Path(inspect.getsourcefile(function) or "").resolve().relative_to(root)
            return f"{path}:{inspect.getsourcelines(function)[1]}"
        except (OSError, TypeError, ValueError):
            return ""

    def walk(command: click.Command) -> Iterator[tuple[str, str]]:
        found = where(command)
        texts = [_ORIGINALS.get((id(command), "help"), command.help),
                 _ORIGINALS.get((id(command), "short_help"), command.short_help)]
        texts += [_ORIGINALS.get((id(p), "help"), getattr(p, "help", None)) for p in command.params]
        for text in texts:
            if text and text not in seen:
                seen.add(text)
                yield text, found
        if isinstance(command, click.Group):
            for name in sorted(command.commands):
                yield from walk(command.commands[name])

    yield from walk(command)
