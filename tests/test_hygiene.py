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
