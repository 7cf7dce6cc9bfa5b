"""结账: lines by code, barcode or name; tier prices with their reason; split tenders; one key to confirm.

The txid is made when the screen opens, so a double confirm, or a retry after an error, never charges twice.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.services.checkout import (
    CheckoutResult,
    ItemHit,
    LineRequest,
    Quote,
    TenderRequest,
    checkout,
    quote,
    search_items,
)
from mms_tui.services.errors import DomainError
from mms_tui.services.ledger import new_txid
from mms_tui.services.receipt import TENDER_LABELS, receipt_lines
from mms_tui.services.text import format_money, parse_money

TENDER_KEYS = [
    ("f2", "stored_value"),
    ("f3", "points"),
    ("f4", "cash"),
    ("f5", "bank_card"),
    ("f6", "wechat"),
    ("f7", "alipay"),
]


class CheckoutScreen(WorkerErrors, Screen[CheckoutResult | None]):
    BINDINGS = [
        Binding("escape", "back", _("Back"), id="checkout.back"),
        Binding("f10", "confirm", _("Confirm"), id="checkout.confirm", priority=True),
        *[Binding(key, f"tender('{tender}')", TENDER_LABELS[tender].split()[0], id=f"checkout.{tender}",
                  priority=True) for key, tender in TENDER_KEYS],
        Binding("f8", "clear_tenders", _("Clear payments"), id="checkout.clear_tenders", priority=True),
        Binding("plus", "qty(1)", "+1", id="checkout.more", show=False),
        Binding("minus", "qty(-1)", "-1", id="checkout.less", show=False),
        Binding("delete", "remove_line", _("Remove line"), id="checkout.remove", show=False),
    ]

    def __init__(self, member_id: int | None, member_name: str = "") -> None:
        super().__init__()
        self.member_id = member_id
        self.member_name = member_name
        self.txid = new_txid()
        self.lines: list[LineRequest] = []
        self.tenders: list[TenderRequest] = []
        self.priced: Quote | None = None
        self.result: CheckoutResult | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="checkout-body"):
            yield Label(self.member_name or _("Walk-in customer"), id="checkout-member")
            yield Input(id="code", placeholder=_("Item code, barcode or name + Enter (3*HAIR: quantity 3)"))
            yield OptionList(id="item-choices")
            yield DataTable(id="lines", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="pay-row"):
                yield Input(id="amount", placeholder=_("Amount, then F2–F7"))
                yield Static(id="totals")
            yield Static(id="tenders")
            yield Label("", id="checkout-message")
            yield Static(id="receipt")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#lines", DataTable).add_columns(
            _("Item"), _("Qty"), _("List"), _("Price"), _("Total"), _("Why"))
        self.query_one("#item-choices", OptionList).display = False
        self.query_one("#receipt", Static).display = False
        self.query_one("#code", Input).focus()
        self.show_totals()

    # --- lines -----------------------------------------------------------------------------------------------

    @on(Input.Submitted, "#code")
    def code_entered(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:  # Enter on an empty box: on to the payment amount
            self.query_one("#amount", Input).focus()
            return
        qty = 1
        if "*" in text:
            head, _sep, tail = text.partition("*")
            if head.strip().isdigit():
                qty, text = int(head), tail.strip()
        event.input.value = ""
        self.find_items(text, qty)

    @work(thread=True, exit_on_error=False, exclusive=True, group="items")
    def find_items(self, text: str, qty: int) -> None:
        hits = in_connection(search_items, text)
        self.app.call_from_thread(self.items_found, text, qty, hits)

    def items_found(self, text: str, qty: int, hits: list[ItemHit]) -> None:
        if not hits:
            self.message(_("No product or service matches {text!r}.").format(text=text), error=True)
            return
        if len(hits) == 1:
            self.add_line(hits[0].code, qty)
            return
        choices = self.query_one("#item-choices", OptionList)
        choices.clear_options()
        choices.add_options([Option(f"{h.code}  {h.name}  {format_money(h.price_fen)}", id=h.code) for h in hits])
        choices.display = True
        choices.focus()

    @on(OptionList.OptionSelected, "#item-choices")
    def item_chosen(self, event: OptionList.OptionSelected) -> None:
        event.option_list.display = False
        self.add_line(str(event.option.id), 1)
        self.query_one("#code", Input).focus()

    def handle_device_read(self, read) -> bool:
        """A scanned product is added to the bill; a card swiped here does not switch the member mid-sale."""
        if self.result is not None:
            return False
        if read.kind == "barcode":
            self.find_items(read.value, 1)
            return True
        return False  # a card: the app asks before leaving this sale for another member

    def add_line(self, code: str, qty: int) -> None:
        for i, line in enumerate(self.lines):
            if line.code == code:
                self.lines[i] = LineRequest(code, line.qty + qty)
                break
        else:
            self.lines.append(LineRequest(code, qty))
        self.reprice()

    def action_qty(self, delta: int) -> None:
        table = self.query_one("#lines", DataTable)
        if not self.lines or not table.has_focus:
            return
        i = min(table.cursor_row, len(self.lines) - 1)
        qty = self.lines[i].qty + delta
        if qty <= 0:
            del self.lines[i]
        else:
            self.lines[i] = LineRequest(self.lines[i].code, qty)
        self.reprice()

    def action_remove_line(self) -> None:
        table = self.query_one("#lines", DataTable)
        if self.lines and table.has_focus:
            del self.lines[min(table.cursor_row, len(self.lines) - 1)]
            self.reprice()

    def reprice(self) -> None:
        self.tenders.clear()
        if not self.lines:
            self.priced = None
            self.show_quote(None)
            return
        self.run_quote(list(self.lines))

    @work(thread=True, exit_on_error=False, exclusive=True, group="quote")
    def run_quote(self, lines: list[LineRequest]) -> None:
        try:
            priced = in_connection(quote, self.member_id, lines)
        except DomainError as exc:
            self.app.call_from_thread(self.message, str(exc), True)
            return
        self.app.call_from_thread(self.show_quote, priced)

    def show_quote(self, priced: Quote | None) -> None:
        self.priced = priced
        table = self.query_one("#lines", DataTable)
        table.clear()
        for line in priced.lines if priced else []:
            table.add_row(line.name, str(line.qty), format_money(line.list_price_fen),
                          format_money(line.unit_price_fen), format_money(line.line_total_fen), line.discount_reason)
        self.show_totals()

    # --- tenders ---------------------------------------------------------------------------------------------

    def due(self) -> int:
        total = self.priced.total_fen if self.priced else 0
        return total - sum(t.amount_fen for t in self.tenders)

    def action_tender(self, tender: str) -> None:
        if self.result is not None or self.priced is None:
            return
        box = self.query_one("#amount", Input)
        try:
            amount = parse_money(box.value) if box.value.strip() else self.due()
        except DomainError as exc:
            self.message(str(exc), error=True)
            return
        if amount <= 0:
            self.message(_("Nothing left to pay."), error=True)
            return
        if tender != "cash" and amount > self.due():
            self.message(_("Only cash can be more than what is due."), error=True)
            return
        self.tenders.append(TenderRequest(tender, amount))
        box.value = ""
        self.show_totals()

    def action_clear_tenders(self) -> None:
        if self.result is None:
            self.tenders.clear()
            self.show_totals()

    def show_totals(self) -> None:
        priced = self.priced
        if priced is None:
            self.query_one("#totals", Static).update(_("No lines yet"))
        else:
            parts = [_("Total {total}").format(total=format_money(priced.total_fen))]
            if priced.discount_fen:
                parts.append(_("saved {amount}").format(amount=format_money(priced.discount_fen)))
            due = self.due()
            parts.append(_("due {amount}").format(amount=format_money(due)) if due >= 0
                         else _("change {amount}").format(amount=format_money(-due)))
            self.query_one("#totals", Static).update("  ".join(parts))
        self.query_one("#tenders", Static).update(
            "  ".join(f"{TENDER_LABELS[t.tender]} {format_money(t.amount_fen)}" for t in self.tenders))

    def message(self, text: str, error: bool = False) -> None:
        label = self.query_one("#checkout-message", Label)
        label.set_classes("error" if error else "")
        label.update(text)

    # --- confirm ---------------------------------------------------------------------------------------------

    def action_confirm(self) -> None:
        if self.result is not None:
            self.dismiss(self.result)
            return
        if self.busy or self.priced is None:
            return
        if self.due() > 0:
            self.message(_("{amount} still to pay: choose a payment (F2–F7).").format(
                amount=format_money(self.due())), error=True)
            return
        self.busy = True
        self.submit(list(self.lines), list(self.tenders))

    @work(thread=True, exit_on_error=False, exclusive=True, group="checkout")
    def submit(self, lines: list[LineRequest], tenders: list[TenderRequest]) -> None:
        try:
            result = in_connection(checkout, self.member_id, lines, tenders, self.app.staff, self.txid,
                                   store=self.app.settings.store)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.done, result)

    def failed(self, message: str) -> None:
        self.busy = False
        self.message("✗ " + message, error=True)

    def done(self, result: CheckoutResult) -> None:
        self.busy = False
        self.result = result
        receipt = self.query_one("#receipt", Static)
        receipt.update("\n".join(receipt_lines(result, staff_name=self.app.staff.name, member_name=self.member_name)))
        receipt.display = True
        self.query_one("#lines", DataTable).display = False
        self.app.print_receipt(result.txid)
        self.message(_("✓ Paid. F10 or Esc to close."))
        self.query_one("#code", Input).disabled = True

    def action_back(self) -> None:
        choices = self.query_one("#item-choices", OptionList)
        if choices.display:
            choices.display = False
            self.query_one("#code", Input).focus()
            return
        self.dismiss(self.result)
