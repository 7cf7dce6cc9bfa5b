#!/usr/bin/env python3
"""Refresh the message catalogs: extract ``_``/``N_`` strings, merge into each language's .po, compile .mo.

    python scripts/i18n.py          # needs GNU gettext (xgettext, msgmerge, msgfmt)

The compiled .mo files are committed, so installing mms never needs gettext tools.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "mms_tui" / "locale"
LANGUAGES = ("zh_CN", "en")


def main() -> int:
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "mms_tui").rglob("*.py"))
    pot = LOCALE / "mms.pot"
    subprocess.run(
        ["xgettext", "--language=Python", "--keyword=_", "--keyword=N_", "--from-code=UTF-8", "--no-wrap",
         "--sort-output", "--package-name=mms", "-o", str(pot), *sources],
        cwd=ROOT, check=True,
    )
    for lang in LANGUAGES:
        folder = LOCALE / lang / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        po = folder / "mms.po"
        if lang == "en":  # the source language: every message is itself
            subprocess.run(["msgen", "--no-wrap", "-o", str(po), str(pot)], check=True)
            subprocess.run(["sed", "-i", "-e", "s/charset=CHARSET/charset=UTF-8/",
                            "-e", "s/nplurals=INTEGER; plural=EXPRESSION;/nplurals=2; plural=(n != 1);/", str(po)],
                           check=True)
        elif po.exists():  # keep its header (zh_CN: "Plural-Forms: nplurals=1; plural=0;")
            subprocess.run(["msgmerge", "--quiet", "--update", "--no-wrap", "--backup=none", str(po), str(pot)],
                           check=True)
        else:
            subprocess.run(["msginit", "--no-translator", "--no-wrap", f"--locale={lang}.UTF-8", "-i", str(pot),
                            "-o", str(po)], check=True)
        subprocess.run(["msgfmt", "--check-format", "-o", str(folder / "mms.mo"), str(po)], check=True)
        result = subprocess.run(["msgfmt", "--statistics", "-o", "/dev/null", str(po)], capture_output=True,
                                text=True)
        print(lang, result.stderr.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
