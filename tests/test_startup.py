"""What keeps the desk's start short (issue #27), checked for correctness — the time itself is in
``scripts/bench.py start``: each ``mms`` command's module imported only when that command is asked for, the desk's
checkout and receipts imported after the login is drawn, no password hash made at import."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from mms_tui.cli import COMMANDS, LazyCommands, cli


def _loaded_after(code: str) -> set[str]:
    """The mms_tui modules a fresh interpreter holds after running ``code``."""
    script = code + "\nimport sys\nprint(' '.join(m for m in sys.modules if m.startswith('mms_tui')))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_desk_imports_no_command_module_nor_the_checkout_before_its_first_frame():
    loaded = _loaded_after("import mms_tui.cli, mms_tui.app, mms_tui.screens.login")
    commands = {f"mms_tui.cli.{module}" for module, _attribute in COMMANDS.values()}
    assert not loaded & commands, sorted(loaded & commands)
    for heavy in ("mms_tui.services.money.checkout", "mms_tui.services.money.receipt", "mms_tui.screens.member",
                  "mms_tui.screens.desk", "mms_tui.services.reports", "mms_tui.services.exchange"):
        assert heavy not in loaded, heavy


def test_a_command_imports_its_own_module_only():
    loaded = _loaded_after("from mms_tui.cli import cli\ncli.commands['check']")
    assert "mms_tui.cli.ops" in loaded
    assert not {"mms_tui.cli.reports", "mms_tui.cli.exchange", "mms_tui.cli.bookings"} & loaded


def test_every_listed_command_loads_under_its_own_name_and_the_table_lists_each_once():
    assert len(set(COMMANDS)) == len(COMMANDS)
    for name in COMMANDS:
        command = cli.commands[name]
        assert isinstance(command, click.Command)
        assert command.name == name, (name, command.name)
    assert list(cli.commands) == list(COMMANDS)
    assert [n for n, _c in cli.commands.items()] == list(COMMANDS)


def test_the_lazy_table_behaves_as_a_dict_of_commands():
    table = LazyCommands({"check": ("ops", "check"), "audit": ("staff", "audit")})
    assert "check" in table and "nope" not in table and len(table) == 2
    assert table.loaded() == []
    assert table.get("nope") is None
    assert table.get("check").name == "check"
    assert [n for n, _c in table.loaded()] == ["check"]
    extra = click.Command("extra", help="x")
    table["extra"] = extra
    assert list(table) == ["check", "audit", "extra"] and table["extra"] is extra
    assert [c.name for c in table.values()] == ["check", "audit", "extra"]


@pytest.mark.parametrize("lang, words", [("zh", "核验账目"), ("en", "Prove the books")])
def test_a_command_loaded_late_speaks_the_language_chosen_first(run, lang, words):
    result = run("--lang", lang, "check", "--help")
    assert result.exit_code == 0
    assert words in result.output


def test_the_unknown_staff_hash_is_made_by_the_same_hasher():
    from mms_tui.services.staff import accounts

    assert not accounts._hasher.check_needs_rehash(accounts._NOBODY)  # same cost: a wrong code takes a PIN's time
    assert accounts._hasher.verify(accounts._NOBODY, "no-such-staff")


def test_the_desk_imports_its_screens_once_the_login_is_drawn(tmp_path):
    """In a fresh process: the login drawn without the checkout; shortly after, with it (before any login)."""
    path = tmp_path / "desk.sqlite3"
    script = f"""
import asyncio, sys
from mms_tui.services.ops.setup import connect, initialise
from mms_tui.db import close_database
connect({str(path)!r}); initialise(admin_code="admin", admin_name="Admin", admin_pin="1234"); close_database()
from mms_tui.app import create_app
from mms_tui.settings import load_settings

async def main():
    app = create_app(load_settings(env={{"MMS_CONFIG": "/dev/null"}}, db={str(path)!r}, lang="en"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        before = "mms_tui.services.money.checkout" in sys.modules
        for _ in range(50):
            await pilot.pause(0.05)
            if "mms_tui.services.money.checkout" in sys.modules:
                break
        print(type(app.screen).__name__, before, "mms_tui.screens.member" in sys.modules)

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["LoginScreen", "False", "True"]


def test_a_command_whose_module_fails_to_import_is_tried_again_not_lost():
    table = LazyCommands({"ghost": ("no_such_module", "ghost"), "check": ("ops", "check")})
    with pytest.raises(ImportError):
        table["ghost"]
    assert "ghost" in table and list(table) == ["ghost", "check"]
    assert table.get("check").name == "check"


def test_every_top_level_command_defined_in_the_command_modules_is_in_the_table():
    """A command made in mms_tui/cli/* and added to no group must be in COMMANDS, or mms, its help, the README's
    list and the catalog would never see it."""
    import importlib
    import pkgutil

    import mms_tui.cli as package

    defined: dict[int, click.Command] = {}
    below: set[int] = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"mms_tui.cli.{info.name}")
        for value in vars(module).values():
            if isinstance(value, click.Command) and value.callback is not None \
                    and value.callback.__module__ == module.__name__:
                defined[id(value)] = value
                if isinstance(value, click.Group):
                    below |= {id(c) for c in value.commands.values()}
    top = {c.name for i, c in defined.items() if i not in below}
    assert top == set(COMMANDS)
