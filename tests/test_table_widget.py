"""The table every screen shows is drawn at its column widths even when it drew lines before they were known."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from mms_tui.widgets.table import Table


class OneTable(App):
    def __init__(self, kind: type[DataTable]) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        yield self.kind(id="t")


async def lines_after_widths_known(kind: type[DataTable]) -> list[str]:
    """Rows added, a line drawn before the table was idle (a loaded machine), then the widths worked out."""
    app = OneTable(kind)
    async with app.run_test(size=(80, 10)):
        table = app.query_one("#t", DataTable)
        table.add_columns("When", "What")
        table.add_row("2026-11-18 10:42", "Top-up")
        table.add_row("2026-11-17 09:15", "Check-in")
        drawn_early = [table.render_line(y).text for y in range(3)]  # drawn before idle: at the header's widths
        assert "2026  " in drawn_early[1]
        await table._on_idle(None)  # what the next idle does: the widths from the rows
        # and nothing else: a table on a screen under a dialog gets no resize that would draw it again
        return [table.render_line(y).text for y in range(3)]


@pytest.mark.asyncio
async def test_lines_drawn_before_the_widths_were_known_are_drawn_again():
    lines = await lines_after_widths_known(Table)
    assert "2026-11-18 10:42" in lines[1]
    assert "2026-11-17 09:15" in lines[2] and "Check-in" in lines[2]


@pytest.mark.asyncio
async def test_textuals_own_table_keeps_them_which_is_why_every_screen_uses_ours():
    """If Textual fixes textual#3533 this fails: then Table can go."""
    lines = await lines_after_widths_known(DataTable)
    assert "2026-11-18 10:42" not in lines[1]


def test_every_screen_uses_the_table():
    from pathlib import Path

    screens = Path(__file__).parent.parent / "mms_tui" / "screens"
    built = [f"{path.name}:{number}" for path in screens.glob("*.py")
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if "yield DataTable(" in line or "= DataTable(" in line]
    assert built == []
