"""The minimal desk, driven by keys through Textual's Pilot against a real SQLite file."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Label, Static

from mms_tui.app import create_app
from mms_tui.db import write_transaction
from mms_tui.services.common import set_config
from mms_tui.services.members import issue_card, register_member
from mms_tui.settings import Settings


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def login(pilot, code: str = "c01", pin: str = "0000") -> None:
    await pilot.press(*code, "enter")
    await pilot.pause()
    await pilot.press(*pin, "enter")
    await settle(pilot)
    await settle(pilot)


def text(widget) -> str:
    return str(widget.render())


async def test_demo_login_hint_wrong_pin_then_login(sqlite_desk):
    with write_transaction():
        set_config("demo_login", {"code": "admin", "pin": "1234"})
    app = create_app(Settings(db=sqlite_desk.target))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "admin" in text(app.screen.query_one("#demo-hint", Label))
        await login(pilot, "c01", "9999")
        assert "Wrong staff code or PIN" in text(app.screen.query_one("#login-message", Label))
        assert app.staff is None
        await pilot.press(*"0000", "enter")
        await settle(pilot)
        await settle(pilot)
        assert app.staff is not None and app.staff.code == "c01"
        assert app.screen.focused is app.screen.query_one("#search", Input)


async def test_search_by_card_opens_member_and_by_initials_lists(sqlite_desk):
    zhang = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    register_member("周山", "13912345678", sqlite_desk.cashier, "r2")
    issue_card(zhang, "SV", sqlite_desk.cashier, "i1", card_no="00012345")
    app = create_app(Settings(db=sqlite_desk.target))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await login(pilot)
        await pilot.press(*"00012345", "enter")
        await settle(pilot)
        panel = app.screen.query_one("#member", Static)
        assert panel.has_class("shown")
        assert "张三" in text(panel) and "00012345" in text(panel)
        await pilot.press(*"zs", "enter")
        await settle(pilot)
        table = app.screen.query_one("#results", DataTable)
        assert table.row_count == 2
        assert not panel.has_class("shown")
        await pilot.press("down", "enter")
        await pilot.pause()
        assert "周山" in text(panel)
