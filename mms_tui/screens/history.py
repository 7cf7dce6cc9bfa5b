"""A member's ledger: top-ups, sales, visits, refunds. Refund from here — with a reason, the money terms shown
first, the way the money goes back chosen, and a manager's approval for a cashier — or show and reprint a receipt.
"""

from __future__ import annotations

from functools import partial

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.common import TypingSearches, WorkerErrors, error_message, in_connection
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import fit, format_money
from mms_tui.services.ledger.tenders import MONEY_TENDERS, tender_label
from mms_tui.services.members.view import HistoryRow, member_history
from mms_tui.services.money.refund import RefundPreview, refund, refund_preview
from mms_tui.services.staff.permissions import may
from mms_tui.widgets.footer import Footer


def signed(value: int, money: bool = False) -> str:
    if not value:
        return ""
    text = format_money(abs(value)) if money else str(abs(value))
    return ("+" if value > 0 else "−") + text


ORIGINAL = "original"
CARD_PARTS = {"principal_fen": N_("stored value"), "bonus_fen": N_("bonus value"), "points": N_("points"),
              "visits": N_("visits")}


def preview_lines(preview: RefundPreview) -> list[str]:
    """The money terms of a refund, in words."""
    lines = []
    if preview.paid_with:
        lines.append(_("Money back: {paid}").format(paid=", ".join(
            f"{tender_label(t)} {format_money(a)}" for t, a in preview.paid_with.items())))
    for part, amount in preview.to_cards.items():
        value = format_money(abs(amount)) if part.endswith("_fen") else str(abs(amount))
        lines.append((_("Back on the card: {what} {value}") if amount > 0 else _("Taken off the card: {what} {value}"))
                     .format(what=_(CARD_PARTS.get(part, part)), value=value))
    if not lines:
        lines.append(_("No money or value moves back."))
    return lines


class RefundScreen(OperationDialog):
    """退款: what goes back and where, a reason, then F10 (a cashier's refund asks a manager's code and PIN)."""

    HINT = N_("F10 to refund, Esc to cancel")

    def __init__(self, row: HistoryRow) -> None:
        super().__init__()
        self.row = row
        self.preview: RefundPreview | None = None
        self.approver: Staff | None = None

    def heading(self) -> str:
        return _("Refund {what} of {when}").format(what=self.row.label, when=self.row.when)

    def fields(self):
        if self.row.detail:
            yield Label(fit(self.row.detail, 70), classes="wrap")
        yield Static("", id="refund-terms")
        yield field_row(_("Money back as"), Select(
            [(_("the way it was paid"), ORIGINAL)] + [(tender_label(t), t) for t in MONEY_TENDERS],
            id="refund-tender", value=ORIGINAL, allow_blank=False))
        yield field_row(_("Reason"), Input(id="refund-reason", placeholder=_("required")))

    def on_mount(self) -> None:
        self.query_one("#refund-reason", Input).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        try:
            preview = in_connection(refund_preview, self.row.txid)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.show_terms, preview)

    def show_terms(self, preview: RefundPreview) -> None:
        self.preview = preview
        self.query_one("#refund-terms", Static).update(escape("\n".join(preview_lines(preview))))
        if not preview.refundable:
            self.show_error(preview.reason_not)
        if not preview.paid_with:  # nothing was paid with money: nothing to choose
            self.query_one("#refund-tender", Select).disabled = True

    def action_confirm(self) -> None:
        if self.busy:
            return
        if not self.query_one("#refund-reason", Input).value.strip():
            self.failed(_("A refund needs a reason."))
            return
        if self.approver is None and not may(self.app.staff, "refund"):
            from mms_tui.screens.pin import ManagerPinScreen

            def approved(manager: Staff | None) -> None:
                if manager is not None:
                    self.approver = manager
                    super(RefundScreen, self).action_confirm()

            self.app.push_screen(ManagerPinScreen(self.heading(), "refund"), approved)
            return
        super().action_confirm()

    def operation(self):
        if self.preview is None:
            return None
        if not self.preview.refundable:
            raise InvalidInput(self.preview.reason_not)
        tender = self.query_one("#refund-tender", Select).value
        return partial(refund, self.row.txid, self.app.staff, self.query_one("#refund-reason", Input).value,
                       self.txid, store=self.app.settings.store, approver=self.approver,
                       to_tender=None if tender == ORIGINAL or not self.preview.paid_with else str(tender))

    def succeeded(self, result) -> str:
        paid = ", ".join(f"{tender_label(t)} {format_money(a)}" for t, a in result.paid_out.items())
        return _("✓ Refunded; pay back {paid}").format(paid=paid) if paid else _("✓ Refunded.")


class HistoryScreen(TypingSearches, WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="history.back"),
        Binding("f8", "refund", N_("Refund"), id="history.refund"),
        Binding("f6", "reprint", N_("Receipt"), id="history.reprint"),
    ]

    def __init__(self, member_id: int, *, select: str | None = None) -> None:
        super().__init__()
        self.member_id = member_id
        self.rows: list[HistoryRow] = []
        self.select = select  # the txid of a row to put the cursor on (a sale opened by its receipt's QR code)

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Static("", id="history-status")
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
                          signed(row.visits), fit(row.detail, 24), fit(row.staff, 8), key=row.txid)
        table.focus()
        chosen = next((i for i, row in enumerate(rows) if row.txid == self.select), None)
        if chosen is not None:
            self.select = None
            table.move_cursor(row=chosen)

    def status(self, text: str) -> None:
        self.query_one("#history-status", Static).update(escape(text))

    def current(self) -> HistoryRow | None:
        if not self.rows:
            return None
        return self.rows[min(self.query_one("#history", DataTable).cursor_row, len(self.rows) - 1)]

    def action_reprint(self) -> None:
        row = self.current()
        if row is None:
            return
        if row.kind != "checkout":
            self.status(_("Only sales have receipts."))
            return
        self.show_receipt(row.txid)

    @work(thread=True, exclusive=True, group="receipt", exit_on_error=False)
    def show_receipt(self, txid: str) -> None:
        receipt = self.app.receipt(txid)
        self.app.call_from_thread(self.status, "\n".join([receipt.title, *receipt.lines]))
        self.app.call_from_thread(self.app.print_receipt, txid, reprint=True)

    def action_refund(self) -> None:
        row = self.current()
        if row is None:
            return
        if not row.refundable:
            self.status(_("This line cannot be refunded."))
            return
        self.app.push_screen(RefundScreen(row), self.refunded)

    def refunded(self, message: str | None) -> None:
        if message:
            self.status(message)
            self.load()
