"""The core never loads Textual, and importing it never touches a database (STYLE.md: core without the UI)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import mms_tui.cli
import mms_tui.devices
import mms_tui.services

CORE = ["mms_tui.models", "mms_tui.services", "mms_tui.devices", "mms_tui.db", "mms_tui.settings", "mms_tui.cli"] + [
    m.name
    for package in (mms_tui.services, mms_tui.devices, mms_tui.cli)  # (the commands' modules load lazily)
    for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
]

#: the services' packages in order: each may import only those before it (services/__init__.py, ARCHITECTURE.md)
LAYERS = ["base", "ledger", "staff", "catalogue", "stock", "loyalty", "messages", "payments", "money", "members", "bookings", "reports",
          "exchange", "ops"]


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
    from mms_tui.services.base.resolve import today

    with clock.pinned(dt.datetime(2028, 2, 29, 9, 30, 15, 500)):
        assert (now(), today()) == (dt.datetime(2028, 2, 29, 9, 30, 15), dt.date(2028, 2, 29))
    assert today() == dt.date.fromtimestamp(__import__("time").time())


def test_the_services_packages_import_only_the_packages_below_them():
    """The arrows of services/__init__.py: no package imports one at or above it (function-level imports count)."""
    import ast
    from pathlib import Path

    root = Path(mms_tui.services.__file__).parent
    wrong = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if len(parts) == 1:
            continue
        package = parts[0]
        assert package in LAYERS, f"{package} is not in the layers: add it to LAYERS and services/__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mms_tui.services."):
                target = node.module.split(".")[2]
                if target != package and LAYERS.index(target) > LAYERS.index(package):
                    wrong.append(f"{path.relative_to(root)} imports {node.module}")
    assert wrong == []
    assert len(CORE) > 40  # every module of every package is imported by the no-Textual test above
