"""提成 at the desk: who performed a line (the performer picker the checkout opens with Enter on a line) and a staff
member's own 日结 (F7 on the today screen: today's lines and total of the logged-in staff member only)."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, OptionList
from textual.widgets.option_list import Option

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, in_connection
from mms_tui.services.base.text import fit, format_money
from mms_tui.services.money.commissions import (
    PerformerChoice,
    Settlement,
    day_settlement,
    performer_choices,
    settlement_text,
    shares_of,
)
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

ROLE_NAMES = {"lead": N_("lead"), "assistant": N_("assistant"), "sales": N_("sales")}


def parse_shares(text: str, count: int) -> list[int] | None:
    """'70 30' → [7000, 3000] (percent, at most two decimals); empty: equal shares; None when it does not read."""
    words = text.replace(",", " ").replace("%", " ").split()
    if not words:
        return shares_of(count)
    if len(words) != count:
        return None
    out = []
    for word in words:
        whole, _dot, frac = word.partition(".")
        if not whole.isdigit() or (frac and (not frac.isdigit() or len(frac) > 2)):
            return None
        out.append(int(whole) * 100 + int(frac.ljust(2, "0") or 0))
    return out


class PerformerScreen(WorkerErrors, ModalScreen[list[tuple[str, int]] | None]):
    """Who performed (or sold) one line: Enter takes the highlighted one at 100 %; Space marks several, whose shares
    (percent, in order) are typed below — left empty, equal — and F10 takes them; Delete clears the line's staff.
    Returns [(staff code, share in basis points), …], [] to clear, None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="performers.cancel"),
        Binding("space", "mark", N_("Mark"), id="performers.mark", priority=True),
        Binding("f10", "take", N_("Confirm"), id="performers.take", priority=True),
        Binding("delete", "clear", N_("Clear"), id="performers.clear"),
    ]

    def __init__(self, member_id: int | None, code: str, name: str) -> None:
        super().__init__()
        self.member_id = member_id
        self.code = code
        self.item_name = name
        self.choices: list[PerformerChoice] = []
        self.marked: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Who served: {item}").format(item=self.item_name), classes="dialog-title")
            yield OptionList(id="performer-choices")
            yield Input(id="performer-shares", compact=True,
                        placeholder=_("Shares in percent for the marked, in order (empty: equal)"))
            yield Label(_("Enter: this one, 100 % · Space: mark several, F10 · Del: clear"), classes="hint")
            yield Label("", id="performer-message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#performer-choices", OptionList).focus()
        self.load()

    @work(exclusive=True, group="performers", exit_on_error=False)
    async def load(self) -> None:
        self.choices = await asyncio.to_thread(in_connection, performer_choices, self.member_id, self.code,
                                               me=self.app.staff)
        self.show()

    def label(self, c: PerformerChoice) -> str:
        mark = "✓" if c.code in self.marked else " "
        notes = [_("usual")] if c.usual else []
        if not c.allowed:
            notes.append(_("not set up: a manager allows"))
        return f"{mark} {fit(c.name, 14)} {c.code:<8} {fit(c.level, 6)} {' · '.join(notes)}"

    def show(self) -> None:
        options = self.query_one("#performer-choices", OptionList)
        at = options.highlighted
        options.clear_options()
        options.add_options([Option(self.label(c), id=c.code) for c in self.choices])
        if self.choices:
            options.highlighted = at if at is not None and at < len(self.choices) else 0
        else:
            self.say(_("Nobody is set up for this item."))

    def say(self, text: str) -> None:
        self.query_one("#performer-message", Label).update(text)

    @on(OptionList.OptionSelected, "#performer-choices")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        if self.marked:
            self.action_take()
        else:
            self.dismiss([(str(event.option.id), 10_000)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Space marks in the list; in the shares box it is a space."""
        if action == "mark":
            return isinstance(self.focused, OptionList)
        return True

    def action_mark(self) -> None:
        options = self.query_one("#performer-choices", OptionList)
        if options.highlighted is None or not self.choices:
            return
        code = self.choices[options.highlighted].code
        if code in self.marked:
            self.marked.remove(code)
        else:
            self.marked.append(code)
        self.show()

    def action_take(self) -> None:
        if not self.marked:
            options = self.query_one("#performer-choices", OptionList)
            if options.highlighted is not None and self.choices:
                self.dismiss([(self.choices[options.highlighted].code, 10_000)])
            return
        shares = parse_shares(self.query_one("#performer-shares", Input).value, len(self.marked))
        if shares is None or sum(shares) != 10_000 or min(shares) <= 0:
            self.say(_("Type one share per marked person, adding up to 100."))
            self.query_one("#performer-shares", Input).focus()
            return
        self.dismiss(list(zip(self.marked, shares, strict=True)))

    @on(Input.Submitted, "#performer-shares")
    def shares_entered(self) -> None:
        self.action_take()

    def action_clear(self) -> None:
        self.dismiss([])

    def action_cancel(self) -> None:
        self.dismiss(None)


class MyCommissionsScreen(WorkerErrors, ModalScreen[None]):
    """日结: the logged-in staff member's own commissions today — each line and the total."""

    BINDINGS = [Binding("escape", "close", N_("Close"), id="my_commissions.close"),
                Binding("f6", "print", N_("Print"), id="my_commissions.print")]

    def __init__(self) -> None:
        super().__init__()
        self.settlement: Settlement | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("My commissions today: {name}").format(name=self.app.staff.name), classes="dialog-title")
            yield Table(id="my-commissions", cursor_type="none", zebra_stripes=True)
            yield Label("", id="my-commissions-total")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#my-commissions", DataTable)
        for label, width in ((_("Time"), 5), (_("Item"), 14), (_("Role"), 8), (_("Share"), 5),
                             (_("Commission"), 10)):
            table.add_column(label, width=width)
        self.load()

    @work(exclusive=True, group="settlement", exit_on_error=False)
    async def load(self) -> None:
        self.show(await asyncio.to_thread(in_connection, day_settlement, self.app.staff))

    def show(self, s: Settlement) -> None:
        self.settlement = s
        table = self.query_one("#my-commissions", DataTable)
        table.clear()
        for x in s.lines:
            table.add_row(x.time, fit(x.item, 14), _(ROLE_NAMES.get(x.role, x.role)), f"{x.share_bp / 100:g}%",
                          format_money(x.amount_fen))
        self.query_one("#my-commissions-total", Label).update(
            _("{n} lines · base {base} · commission {amount}").format(
                n=len(s.lines), base=format_money(s.base_fen), amount=format_money(s.amount_fen)))

    def action_print(self) -> None:
        """日结 on the receipt printer, for the staff member to keep."""
        if self.settlement is None:
            return
        if not self.app.settings.printer:
            self.notify(_("No receipt printer is set up."), severity="warning")
            return
        self.print_settlement(settlement_text(self.settlement))

    @work(thread=True, exit_on_error=False, group="print")
    def print_settlement(self, lines: list[str]) -> None:
        self.app.print_lines(lines, _("My commissions"))

    def action_close(self) -> None:
        self.dismiss(None)
