"""The loyalty rules edited at the desk (issue #6), in the manager's area (F10, then 5; issue #17): a cashier needs
a manager's PIN; a bad document lists its problems and saves nothing; a good one is in force at once, recorded
under the approving manager."""

from __future__ import annotations

from textual.widgets import Static, TextArea

from mms_tui.models import AuditEvent
from mms_tui.screens.desk import DeskScreen
from mms_tui.screens.dialog import MenuScreen
from mms_tui.screens.pin import ManagerPinScreen
from mms_tui.screens.settings import RulesScreen
from mms_tui.services.loyalty.rules_store import load_rules
from tests.test_tui import at_desk, settle, text

BAD = """
[[promotions]]
code = "MJ300"
kind = "threshold"
threshold = "300"
amount = "-50"
auto = true

[points]
per_yuan = "lots"
"""

GOOD = """
[[promotions]]
code = "MJ300"
kind = "threshold"
threshold = "300"
amount = "50"
auto = true
"""


async def test_a_cashier_opens_the_rules_with_a_manager_pin_and_only_a_good_document_is_saved(sqlite_desk):
    before = load_rules()
    async with at_desk(sqlite_desk) as (app, pilot):
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, ManagerPinScreen)
        await pilot.press(*"m01", "enter")
        await pilot.pause()
        await pilot.press(*"2345", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MenuScreen)  # the manager's area
        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, RulesScreen)
        editor = app.screen.query_one("#rules-text", TextArea)
        assert "[points]" in editor.text  # the rules in force, as the export writes them

        editor.load_text(BAD)
        await pilot.press("ctrl+s")
        await settle(pilot)
        status = text(app.screen.query_one("#rules-status", Static))
        assert "Not saved" in status and "promotions[1].amount" in status and "points.per_yuan" in status
        assert load_rules() == before and editor.text == BAD

        editor.load_text(GOOD)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Saved: 1 promotions" in text(app.screen.query_one("#rules-status", Static))
        await pilot.press("escape")  # nothing unsaved: closes at once, back to the area's menu
        await settle(pilot)
        assert isinstance(app.screen, MenuScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
    rules = load_rules()
    assert [(p.code, p.kind, p.threshold_fen, p.amount_fen) for p in rules.promotions] == [
        ("MJ300", "threshold", 30_000, 5_000)]
    event = AuditEvent.select().where(AuditEvent.action == "rules.save").get()
    assert event.staff.code == "m01"


async def test_closing_with_unsaved_edits_asks_first(sqlite_desk):
    async with at_desk(sqlite_desk) as (app, pilot):
        app.staff = sqlite_desk.manager  # a manager at the desk goes straight in
        await pilot.press("f10", "5")
        await settle(pilot)
        assert isinstance(app.screen, RulesScreen)
        app.screen.query_one("#rules-text", TextArea).insert("# a note\n")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, RulesScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MenuScreen)
    assert AuditEvent.select().where(AuditEvent.action == "rules.save").count() == 0
