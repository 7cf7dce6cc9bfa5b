"""A sale's receipt, opened by scanning the QR code printed on it: as it printed (balances as they were right after
the sale), F6 to print it again, F5 for the member's history on that sale (to refund it there)."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors
from mms_tui.services.money.receipt import Receipt
from mms_tui.widgets.footer import Footer


class ReceiptScreen(WorkerErrors, ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", N_("Close"), id="receipt.close"),
        Binding("f5", "history", N_("History"), id="receipt.history"),
        Binding("f6", "print", N_("Print"), id="receipt.print"),
        Binding("f7", "rate", N_("Rate"), id="receipt.rate"),
    ]

    def __init__(self, txid: str, member_id: int | None) -> None:
        super().__init__()
        self.txid = txid
        self.member_id = member_id

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="receipt-view"):
            yield Static("", id="receipt-text")
            yield Label(_("Esc closes · F6 prints") + (_(" · F5 history") if self.member_id else ""), classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#receipt-view").styles.width = self.app.settings.receipt_columns + 8  # border, padding, bar
        self.load()

    @work(thread=True, exit_on_error=False, group="receipt")
    def load(self) -> None:
        receipt = self.app.receipt(self.txid)
        self.app.call_from_thread(self.show, receipt)

    def show(self, receipt: Receipt) -> None:
        self.query_one("#receipt-text", Static).update(escape("\n".join([receipt.title, *receipt.lines])))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.member_id is not None if action == "history" else True

    def action_print(self) -> None:
        if not self.app.settings.printer:
            self.notify(_("No receipt printer is set up."), severity="warning")
            return
        self.app.print_receipt(self.txid, reprint=True)
        self.notify(_("Printing the receipt again."))

    def action_history(self) -> None:
        from mms_tui.screens.history import HistoryScreen

        if self.member_id is None:
            return
        self.dismiss(None)
        self.app.push_screen(HistoryScreen(self.member_id, select=self.txid))

    def action_rate(self) -> None:
        from mms_tui.screens.rating import RateServiceScreen

        self.app.push_screen(RateServiceScreen(self.txid))

    def action_close(self) -> None:
        self.dismiss(None)
