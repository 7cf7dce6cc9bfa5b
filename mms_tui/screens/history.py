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
from mms_tui.services.base.text import fit, format_money, parse_yuan
from mms_tui.services.ledger.tenders import MONEY_TENDERS, tender_label
from mms_tui.services.members.view import HistoryRow, member_history
from mms_tui.services.money.refund import RefundPreview, RefundResult, refund, refund_part, refund_preview
from mms_tui.services.payments.providers import provider_label
from mms_tui.services.staff.permissions import may
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table


def signed(value: int, money: bool = False) -> str:
    if not value:
        return ""
    text = format_money(abs(value)) if money else str(abs(value))
    return ("+" if value > 0 else "−") + text


ORIGINAL = "original"
CARD_PARTS = {"principal_fen": N_("stored value"), "bonus_fen": N_("bonus value"), "points": N_("points"),
              "visits": N_("visits")}


def preview_lines(preview: RefundPreview, *, the_way_paid: bool = True) -> list[str]:
    """The money terms of a refund, in words (``the_way_paid``: the money goes back the way it came, so what
    payment codes paid goes back through their providers)."""
    lines = []
    if preview.paid_with:
        lines.append(_("Money back: {paid}").format(paid=", ".join(
            f"{tender_label(t)} {format_money(a)}" for t, a in preview.paid_with.items())))
    for provider, amount in preview.by_code.items() if the_way_paid else ():
        lines.append(_("{provider} gives {amount} back to the customer itself (paid by code)").format(
            provider=provider_label(provider), amount=format_money(amount)))
    for part, amount in preview.to_cards.items():
        value = format_money(abs(amount)) if part.endswith("_fen") else str(abs(amount))
        lines.append((_("Back on the card: {what} {value}") if amount > 0 else _("Taken off the card: {what} {value}"))
                     .format(what=_(CARD_PARTS.get(part, part)), value=value))
    if preview.parts_fen:
        lines.append(_("Given back in part before: {amount}").format(amount=format_money(preview.parts_fen)))
    if preview.part_left_fen:
        lines.append(_("Or type an amount to give back part of it (up to {amount}).").format(
            amount=format_money(preview.part_left_fen)))
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
        if self.row.kind == "checkout":  # a sale may be refunded in part (部分退款)
            yield field_row(_("Amount"), Input(id="refund-amount", placeholder=_("all of it")))
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
        self.show_lines()
        if not preview.refundable:
            self.show_error(preview.reason_not)
        if not preview.paid_with:  # nothing was paid with money: nothing to choose
            self.query_one("#refund-tender", Select).disabled = True
        for box in self.query("#refund-amount"):  # no money left to give back in part
            box.disabled = not preview.part_left_fen

    def show_lines(self) -> None:
        if self.preview is not None:
            original = self.query_one("#refund-tender", Select).value == ORIGINAL
            self.query_one("#refund-terms", Static).update(escape("\n".join(
                preview_lines(self.preview, the_way_paid=original))))

    def on_select_changed(self, _event: Select.Changed) -> None:
        self.show_lines()

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
        boxes = self.query("#refund-amount")
        typed = boxes.first(Input).value.strip() if boxes else ""
        if typed:  # part of the sale's money
            return partial(refund_part, self.row.txid, parse_yuan(typed), self.app.staff,
                           self.query_one("#refund-reason", Input).value, self.txid, store=self.app.settings.store,
                           approver=self.approver, to_tender=None if tender == ORIGINAL else str(tender),
                           payments=self.app.settings.payments)
        return partial(refund, self.row.txid, self.app.staff, self.query_one("#refund-reason", Input).value,
                       self.txid, store=self.app.settings.store, approver=self.approver,
                       to_tender=None if tender == ORIGINAL or not self.preview.paid_with else str(tender),
                       payments=self.app.settings.payments)

    def succeeded(self, result) -> str:
        return refunded_message(result)


def refunded_message(result: RefundResult) -> str:
    """What the cashier reads after a refund: what the providers gave back themselves, and what the desk pays out."""
    desk = {t: a - result.by_provider.get(t, 0) for t, a in result.paid_out.items()}
    paid = ", ".join(f"{tender_label(t)} {format_money(a)}" for t, a in desk.items() if a > 0)
    said = [_("{provider} gave {amount} back to the customer").format(provider=provider_label(p),
                                                                      amount=format_money(a))
            for p, a in result.by_provider.items() if a > 0]
    if paid:
        said.append(_("pay back {paid}").format(paid=paid))
    if result.part:
        return _("✓ Refunded {amount} in part; {what}").format(amount=format_money(result.money_returned_fen),
                                                                what="; ".join(said))
    return _("✓ Refunded; {what}").format(what="; ".join(said)) if said else _("✓ Refunded.")


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
        yield Table(id="history", cursor_type="row", zebra_stripes=True)
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
