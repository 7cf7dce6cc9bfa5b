#!/usr/bin/env python3
"""Refresh the message catalogs: extract ``_``/``N_`` strings and the commands' help texts (Click's, read from the
command tree: mms_tui/cli/help_text.py), merge into each language's .po, compile .mo.

    python scripts/i18n.py          # needs GNU gettext (xgettext, msgcat, msgmerge, msgfmt) and mms installed

The compiled .mo files are committed, so installing mms never needs gettext tools.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "mms_tui" / "locale"
LANGUAGES = ("zh_CN", "en")


def _run(args: list[str], **kwargs) -> None:
    """A gettext tool, quiet about the one thing that is meant: Click's \\b (keep the lines) inside help texts."""
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    for line in done.stderr.splitlines():
        if "should not contain the '\\b' escape sequence" not in line:
            print(line, file=sys.stderr)
    done.check_returncode()


def _po_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def add_help_texts(pot: Path) -> None:
    """The help of every command and option (English in the code, translated when shown) into the template."""
    sys.path.insert(0, str(ROOT))
    from mms_tui.cli import cli
    from mms_tui.cli.help_text import help_messages

    entries = []
    for text, where in help_messages(cli):
        entries.append((f"#: {where}\n" if where else "") + f"msgid {_po_string(text)}\nmsgstr \"\"\n")
    helps = pot.with_name("cli-help.pot")
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Content-Transfer-Encoding: 8bit\\n"\n\n'
    helps.write_text(header + "\n".join(entries), encoding="utf-8")
    try:
        _run(["msgcat", "--no-wrap", "--sort-output", "--use-first", "-o", str(pot), str(pot), str(helps)])
    finally:
        helps.unlink()


def main() -> int:
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "mms_tui").rglob("*.py"))
    pot = LOCALE / "mms.pot"
    subprocess.run(
        ["xgettext", "--language=Python", "--keyword=_", "--keyword=N_", "--from-code=UTF-8", "--no-wrap",
         "--sort-output", "--package-name=mms", "-o", str(pot), *sources],
        cwd=ROOT, check=True,
    )
    add_help_texts(pot)
    for lang in LANGUAGES:
        folder = LOCALE / lang / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        po = folder / "mms.po"
        if lang == "en":  # the source language: every message is itself
            _run(["msgen", "--no-wrap", "-o", str(po), str(pot)])
            subprocess.run(["sed", "-i", "-e", "s/charset=CHARSET/charset=UTF-8/",
                            "-e", "s/nplurals=INTEGER; plural=EXPRESSION;/nplurals=2; plural=(n != 1);/", str(po)],
                           check=True)
        elif po.exists():  # keep its header (zh_CN: "Plural-Forms: nplurals=1; plural=0;")
            _run(["msgmerge", "--quiet", "--update", "--no-wrap", "--backup=none", str(po), str(pot)])
        else:
            subprocess.run(["msginit", "--no-translator", "--no-wrap", f"--locale={lang}.UTF-8", "-i", str(pot),
                            "-o", str(po)], check=True)
        _run(["msgfmt", "--check-format", "-o", str(folder / "mms.mo"), str(po)])
        result = subprocess.run(["msgfmt", "--statistics", "-o", "/dev/null", str(po)], capture_output=True,
                                text=True)
        print(lang, result.stderr.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
