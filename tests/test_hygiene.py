"""The core never loads Textual, and importing it never touches a database (STYLE.md: core without the UI)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import mms_tui.devices
import mms_tui.services

CORE = ["mms_tui.models", "mms_tui.services", "mms_tui.devices", "mms_tui.db", "mms_tui.settings", "mms_tui.cli"] + [
    f"{package.__name__}.{m.name}"
    for package in (mms_tui.services, mms_tui.devices)
    for m in pkgutil.iter_modules(package.__path__)
]


def test_core_modules_import_without_textual_or_a_connection():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE!r}:\n"
        "    importlib.import_module(name)\n"
        "from mms_tui.db import database\n"
        "assert database.obj is None, 'a database was opened at import'\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_product_and_its_tests_read_the_day_from_the_one_clock():
    """No test may depend on the day it runs: the product asks mms_tui.clock, and so do the tests' dated
    fixtures (CI also runs the suite with the clock moved; see .ci/run)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    direct = re.compile(r"\b(?:date\.today|datetime\.now|datetime\.today)\(")
    offenders = [f"{path.relative_to(root)}:{n}"
                 for folder in ("mms_tui", "tests")
                 for path in sorted((root / folder).rglob("*.py"))
                 if path.name not in ("clock.py", "test_hygiene.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if direct.search(line)]
    assert offenders == []


def test_a_pinned_clock_is_what_the_product_sees():
    import datetime as dt

    from mms_tui import clock
    from mms_tui.models import now
    from mms_tui.services.common import today

    with clock.pinned(dt.datetime(2028, 2, 29, 9, 30, 15, 500)):
        assert (now(), today()) == (dt.datetime(2028, 2, 29, 9, 30, 15), dt.date(2028, 2, 29))
    assert today() == dt.date.fromtimestamp(__import__("time").time())
