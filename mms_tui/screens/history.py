"""A member's ledger: top-ups, sales, visits, refunds. Refund from here (a manager approves for a cashier)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.models import Staff
from mms_tui.services.desk import HistoryRow, member_history
from mms_tui.services.ledger import new_txid
from mms_tui.services.receipt import sale_receipt
from mms_tui.services.refund import refund
from mms_tui.services.staff import ROLE_RANK
from mms_tui.services.text import format_money
from mms_tui.widgets.footer import Footer


def signed(value: int, money: bool = False) -> str:
    if not value:
        return ""
    text = format_money(abs(value)) if money else str(abs(value))
    return ("+" if value > 0 else "−") + text


class HistoryScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", _("Back"), id="history.back"),
        Binding("r", "refund", _("Refund"), id="history.refund"),
        Binding("p", "reprint", _("Receipt"), id="history.reprint"),
    ]

    def __init__(self, member_id: int) -> None:
        super().__init__()
        self.member_id = member_id
        self.rows: list[HistoryRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Label("", id="history-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#history", DataTable).add_columns(
            _("When"), _("What"), _("Stored value"), _("Points"), _("Visits"), _("Detail"), _("Staff"))
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="history")
    def load(self) -> None:
        rows = in_connection(member_history, self.member_id)
        self.app.call_from_thread(self.show, rows)

    def show(self, rows: list[HistoryRow]) -> None:
        self.rows = rows
        table = self.query_one("#history", DataTable)
        table.clear()
        for row in rows:
            label = row.label + (" ↺" if row.refunded else "")
            table.add_row(row.when, label, signed(row.money_fen, money=True), signed(row.points),
                          signed(row.visits), row.detail, row.staff, key=row.txid)
        table.focus()

    def status(self, text: str) -> None:
        self.query_one("#history-status", Label).update(text)

    def action_reprint(self) -> None:
        if not self.rows:
            return
        row = self.rows[self.query_one("#history", DataTable).cursor_row]
        if row.kind != "checkout":
            self.status(_("Only sales have receipts."))
            return
        self.show_receipt(row.txid)

    @work(thread=True, exclusive=True, group="receipt", exit_on_error=False)
    def show_receipt(self, txid: str) -> None:
        receipt = in_connection(sale_receipt, txid)
        self.app.call_from_thread(self.status, "\n".join([receipt.title, *receipt.lines]))
        self.app.call_from_thread(self.app.print_receipt, txid, reprint=True)

    def action_refund(self) -> None:
        if not self.rows:
            return
        row = self.rows[self.query_one("#history", DataTable).cursor_row]
        if not row.refundable:
            self.status(_("This line cannot be refunded."))
            return
        txid = new_txid()
        staff = self.app.staff
        if ROLE_RANK.get(staff.role, 0) >= ROLE_RANK["manager"]:
            self.run_refund(row.txid, staff, txid)
            return
        from mms_tui.screens.pin import ManagerPinScreen

        def approved(manager: Staff | None) -> None:
            if manager is not None:
                self.run_refund(row.txid, manager, txid)

        self.app.push_screen(ManagerPinScreen(_("Refund {what} {when}").format(what=row.label, when=row.when)),
                             approved)

    @work(thread=True, exit_on_error=False, exclusive=True, group="refund")
    def run_refund(self, original: str, manager: Staff, txid: str) -> None:
        try:
            result = in_connection(refund, original, manager, _("refund at the desk"), txid,
                                   store=self.app.settings.store)
        except Exception as exc:
            self.app.call_from_thread(self.status, "✗ " + error_message(exc))
            return
        self.app.call_from_thread(
            self.status, _("✓ Refunded; {amount} to pay back").format(amount=format_money(result.money_returned_fen)))
        self.load()
