"""结账: lines by code, barcode or name, each with its price and why; coupons; due fees; split tenders; one key to
confirm.

The bill is priced by the loyalty rules (services/checkout.quote) every time it changes: lines show their member
price and promotions, the discounts panel lists the cart discounts and the coupons with what each did (or why it
did not apply), and the fees that are due. The member's own coupons are on the bill from the start; F9 opens the
coupon box (a code typed or scanned there goes on the bill, the code of one already on it comes off); a coupon
scanned into the item box goes on the bill too. F12 puts the due fees on the bill, or takes them off. F3 with no
amount pays the most points may pay, and the payment shows how many points it takes.

Enter on a line opens the performer picker (提成): the member's usual stylist first, then who performs that service;
Enter again takes the highlighted one at 100 %. A performer not set up for the service needs a manager's PIN at
confirm.

The txid is made when the screen opens, so a double confirm, or a retry after an error, never charges twice.
"""

from __future__ import annotations

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.common import SavingNotice, Swiped, WorkerErrors, error_message, in_connection
from mms_tui.services.base.errors import DomainError
from mms_tui.services.base.text import fit, format_money, normalise_card_no, parse_yuan
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.ledger.tenders import TENDER_LABELS, tender_label
from mms_tui.services.loyalty.redeem import is_coupon_code
from mms_tui.services.members.lookup import lookup
from mms_tui.services.money.checkout import CheckoutResult, Offers, Quote, checkout, checkout_offers, quote
from mms_tui.services.money.commissions import PerformerNotAllowed
from mms_tui.services.money.fees import FeeLine
from mms_tui.services.money.items import ItemHit, LineRequest, search_items
from mms_tui.services.money.payment import TenderRequest
from mms_tui.services.money.receipt import receipt_lines
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

TENDER_KEYS = [
    ("f2", "stored_value"),
    ("f3", "points"),
    ("f4", "cash"),
    ("f5", "bank_card"),
    ("f6", "wechat"),
    ("f7", "alipay"),
]


class CheckoutScreen(WorkerErrors, Screen[CheckoutResult | None]):
    #: a wedge scanner's burst is a product (or coupon) typed into the item box, not a swipe
    WEDGE_IS_TYPING = True

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="checkout.back"),
        # the tender keys are named on their own line above the footer (#pay-keys): six of them do not fit in it
        *[Binding(key, f"tender('{tender}')", TENDER_LABELS[tender], id=f"checkout.{tender}",
                  priority=True, show=False) for key, tender in TENDER_KEYS],
        Binding("f10", "confirm", N_("Confirm"), id="checkout.confirm", priority=True),
        Binding("f8", "clear_tenders", N_("Clear payments"), id="checkout.clear_tenders", priority=True),
        Binding("f9", "coupon", N_("Coupon"), id="checkout.coupon", priority=True),
        Binding("f12", "fees", N_("Fees"), id="checkout.fees", priority=True),
        # named on the tenders' line (#pay-keys), as they are: the footer has no room left at 80 columns
        Binding("f11", "paycode", N_("Pay code"), id="checkout.paycode", priority=True, show=False),
        Binding("plus", "qty(1)", "+1", id="checkout.more", show=False),
        Binding("minus", "qty(-1)", "-1", id="checkout.less", show=False),
        Binding("delete", "remove_line", N_("Remove line"), id="checkout.remove", show=False),
    ]

    def __init__(self, member_id: int | None, member_name: str = "", *, lines: list[str] = (),
                 performers: dict[str, list[tuple[str, int]]] | None = None) -> None:
        """``lines`` and ``performers``: a bill opened already filled (a booking that arrived)."""
        super().__init__()
        self.member_id = member_id
        self.member_name = member_name
        self.txid = new_txid()
        self.lines: list[LineRequest] = []
        self.tenders: list[TenderRequest] = []
        #: the coupon codes on the bill (the member's own ones from the start) and the fee kinds on it
        self.coupons: list[str] = []
        self.fees: list[str] = []
        self.fees_due: list[FeeLine] = []
        #: the provider's number of what a payment code paid, by tender, for the receipt shown
        self.trade_numbers: dict[str, str] = {}
        self.priced: Quote | None = None
        self.result: CheckoutResult | None = None
        self.notice: SavingNotice | None = None
        self.busy = False
        #: item code → [(staff code, share in basis points)] credited with the line's commission
        self.performers: dict[str, list[tuple[str, int]]] = dict(performers or {})
        self.approver: Staff | None = None
        self.lines = [LineRequest(code, 1) for code in lines]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="checkout-body"):
            yield Label(self.member_name or _("Walk-in customer"), id="checkout-member")
            yield Input(id="code", placeholder=_("Item code, barcode or name + Enter (3*HAIR: quantity 3)"))
            yield Input(id="coupon", placeholder=_("Coupon code + Enter (a code on the bill comes off); Enter: close"))
            yield OptionList(id="item-choices")
            yield Table(id="lines", cursor_type="row", zebra_stripes=True)
            yield Static(id="discounts")
            with Horizontal(id="pay-row"):
                yield Input(id="amount", placeholder=_("Amount, then F2–F7"), select_on_focus=False)
                yield Static(id="totals")
            yield Static(self.pay_keys(), id="pay-keys")
            yield Static(id="tenders")
            yield Label("", id="checkout-message")
            yield Static(id="receipt")
        yield Footer()

    @staticmethod
    def pay_keys() -> str:
        keys = [f"[b]{key.upper()}[/b] {escape(tender_label(tender))}" for key, tender in TENDER_KEYS]
        return "  ".join([*keys, f"[b]F11[/b] {escape(_('Pay code'))}"])

    def on_mount(self) -> None:
        self.query_one("#lines", DataTable).add_columns(
            _("Item"), _("Qty"), _("List"), _("Price"), _("Total"), _("Why"))
        self.query_one("#item-choices", OptionList).display = False
        self.query_one("#coupon", Input).display = False
        self.query_one("#receipt", Static).display = False
        self.query_one("#code", Input).focus()
        self.show_totals()
        self.show_discounts()
        if self.member_id is not None:
            self.load_offers()
        if self.lines:  # a bill opened filled (a booking arrived): ready to be paid
            self.query_one("#amount", Input).focus()
            self.reprice()

    # --- what the member is offered ----------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="offers")
    def load_offers(self) -> None:
        offers = in_connection(checkout_offers, self.member_id, store=self.app.settings.store, staff=self.app.staff)
        self.app.call_from_thread(self.show_offers, offers)

    def show_offers(self, offers: Offers) -> None:
        for coupon in offers.coupons:
            if coupon.code not in self.coupons:
                self.coupons.append(coupon.code)
        self.fees_due = offers.fees_due
        if self.lines or self.fees:
            self.reprice()
        else:
            self.show_discounts()

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
        coupon = not hits and in_connection(is_coupon_code, text)
        cards = [] if hits or coupon else [h for h in in_connection(lookup, text, 2) if h.match == "card"]
        self.app.call_from_thread(self.items_found, text, qty, hits, coupon, cards)

    def items_found(self, text: str, qty: int, hits: list[ItemHit], coupon: bool = False, cards=()) -> None:
        if coupon:  # a coupon scanned or typed into the item box
            self.toggle_coupon(text)
            return
        if cards:  # a member's card, typed or read by a wedge reader: as a swipe would (leave the sale?)
            self.app.show_card(text, list(cards))
            return
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

    def on_swiped(self, event: Swiped) -> None:
        """A scanned product is added to the bill (a coupon, with the coupon box open or not, goes on it as a
        coupon); a card swiped here does not switch the member mid-sale: the app asks first."""
        read = event.read
        if self.result is not None or read.kind != "barcode":
            return
        event.stop()
        if self.query_one("#coupon", Input).display:
            self.toggle_coupon(read.value)
        else:
            self.find_items(read.value, 1)

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

    # --- who served each line (提成) --------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#lines")
    def line_chosen(self, event: DataTable.RowSelected) -> None:
        priced = self.priced
        if self.result is not None or priced is None or event.cursor_row >= len(priced.lines):
            return
        line = priced.lines[event.cursor_row]
        from mms_tui.screens.commissions import PerformerScreen

        def picked(credits: list[tuple[str, int]] | None) -> None:
            if credits is None:
                return
            if credits:
                self.performers[line.code] = credits
            else:
                self.performers.pop(line.code, None)
            self.show_quote(self.priced)

        self.app.push_screen(PerformerScreen(self.member_id, line.code, line.name), picked)

    def staff_text(self, code: str) -> str:
        credits = self.performers.get(code)
        if not credits:
            return ""
        if len(credits) == 1:
            return "@" + credits[0][0] + " "
        return "@" + "/".join(f"{c}:{s / 100:g}" for c, s in credits) + " "

    # --- coupons and fees ------------------------------------------------------------------------------------

    def action_coupon(self) -> None:
        if self.result is not None:
            return
        box = self.query_one("#coupon", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#coupon")
    def coupon_entered(self, event: Input.Submitted) -> None:
        code = event.value.strip()
        event.input.value = ""
        if not code:  # Enter on an empty box closes it
            event.input.display = False
            self.query_one("#code", Input).focus()
            return
        self.toggle_coupon(code)

    def toggle_coupon(self, code: str) -> None:
        key = normalise_card_no(code)
        on_bill = next((c for c in self.coupons if c.upper() == key.upper()), None)
        if on_bill is not None:
            self.coupons.remove(on_bill)
            self.message(_("Coupon {code} taken off the bill.").format(code=on_bill))
            self.reprice()
            return
        self.reprice(coupons=[*self.coupons, key], added=key)

    def action_fees(self) -> None:
        if self.result is not None:
            return
        if self.fees:
            self.fees = []
            self.reprice()
            return
        if not self.fees_due:
            self.message(_("No fees are due."), error=True)
            return
        self.reprice(fees=[f.kind for f in self.fees_due if f.kind != "late"])

    # --- pricing ---------------------------------------------------------------------------------------------

    def reprice(self, coupons: list[str] | None = None, fees: list[str] | None = None, added: str | None = None
                ) -> None:
        """Price the bill as it would be with these coupons and fees; they stay only if the pricing accepts them
        (the payments start again once it does)."""
        coupons = list(self.coupons) if coupons is None else coupons
        fees = list(self.fees) if fees is None else fees
        if not self.lines and not fees:
            self.coupons, self.fees = coupons, fees
            self.tenders.clear()
            self.show_quote(None)
            return
        self.run_quote(list(self.lines), coupons, fees, added)

    @work(thread=True, exit_on_error=False, exclusive=True, group="quote")
    def run_quote(self, lines: list[LineRequest], coupons: list[str], fees: list[str], added: str | None) -> None:
        try:
            priced = in_connection(quote, self.member_id, lines, coupons=coupons, member_coupons=False, fees=fees,
                                   store=self.app.settings.store, staff=self.app.staff)
        except DomainError as exc:
            self.app.call_from_thread(self.message, str(exc), True)
            self.app.call_from_thread(self.show_totals)
            return
        self.app.call_from_thread(self.quoted, priced, coupons, fees, added)

    def quoted(self, priced: Quote, coupons: list[str], fees: list[str], added: str | None) -> None:
        self.coupons = [c.code for c in priced.coupons]
        self.fees = fees
        self.tenders.clear()
        self.fees_due = priced.fees_due
        self.show_quote(priced)
        if added is not None:
            status = next((c for c in priced.coupons if c.code.upper() == added.upper()), None)
            if status is not None and status.applied:
                self.message(_("Coupon {code}: {offer} −{amount}").format(
                    code=status.code, offer=status.label, amount=format_money(status.amount_fen)))
            elif status is not None:
                self.message(_("Coupon {code} is on the bill but does not apply: {reason}").format(
                    code=status.code, reason=status.reason), error=True)

    def show_quote(self, priced: Quote | None) -> None:
        self.app.show_bill_on_display(self.priced, priced)
        self.priced = priced
        table = self.query_one("#lines", DataTable)
        table.clear()
        for line in priced.lines if priced else []:
            table.add_row(fit(line.name, 16), str(line.qty), format_money(line.list_price_fen),
                          format_money(line.unit_price_fen), format_money(line.line_total_fen),
                          fit(self.staff_text(line.code) + line.discount_reason, 22))
        for fee in priced.fees if priced else []:
            table.add_row(fee.name, "1", format_money(fee.amount_fen), format_money(fee.amount_fen),
                          format_money(fee.amount_fen), _("Fee"))
        self.show_discounts()
        self.show_totals()
        self.show_member()

    def show_member(self) -> None:
        priced = self.priced
        text = self.member_name or _("Walk-in customer")
        if priced is not None and priced.points_held:
            text += "  " + _("Points {points} (this bill: up to {amount})").format(
                points=priced.points_held, amount=format_money(priced.points_max_fen))
        self.query_one("#checkout-member", Label).update(text)

    def show_discounts(self) -> None:
        """Cart discounts with their explanations, every coupon on the bill, and the fees that are due."""
        priced = self.priced
        rows: list[str] = []
        if priced is not None:
            from_coupon = {d.coupon for d in priced.cart_discounts if d.coupon}
            for d in priced.cart_discounts:
                amount = format_money(d.amount_fen)
                rows.append(_("{offer} (coupon {code})  −{amount}").format(offer=d.explanation, code=d.coupon,
                                                                          amount=amount)
                            if d.coupon else f"{d.explanation}  −{amount}")
            for c in priced.coupons:
                if c.applied and c.code not in from_coupon:
                    rows.append(_("Coupon {code} {offer}  −{amount}").format(
                        code=c.code, offer=c.label, amount=format_money(c.amount_fen)))
                elif not c.applied:
                    rows.append(_("Coupon {code} {offer}: {reason}").format(code=c.code, offer=c.label,
                                                                            reason=c.reason))
        elif self.coupons:
            rows.append(_("Coupons on the bill: {codes}").format(codes=", ".join(self.coupons)))
        on_bill = {f.kind for f in priced.fees} if priced is not None else set(self.fees)
        not_on_bill = [f for f in self.fees_due if f.kind not in on_bill]
        if not_on_bill:
            rows.append(_("Due: {fees} — F12 to add").format(
                fees=", ".join(f"{f.name} {format_money(f.amount_fen)}" for f in not_on_bill)))
        widget = self.query_one("#discounts", Static)
        widget.update("\n".join(rows))
        widget.display = bool(rows)

    # --- tenders ---------------------------------------------------------------------------------------------

    def due(self) -> int:
        total = self.priced.total_fen if self.priced else 0
        return total - sum(t.amount_fen for t in self.tenders)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Once paid, only Esc (close the receipt) and help remain."""
        paid_only = ("confirm", "tender", "clear_tenders", "coupon", "fees", "qty", "remove_line", "paycode")
        return self.result is None or action not in paid_only

    def action_tender(self, tender: str) -> None:
        if self.result is not None:
            self.message(_("Paid. Esc closes the receipt."))
            return
        if self.unsent_text():
            return
        if self.priced is None:
            self.message(_("Nothing on the bill yet: add an item first."), error=True)
            return
        box = self.query_one("#amount", Input)
        try:
            amount = parse_yuan(box.value) if box.value.strip() else self.due()
        except DomainError as exc:
            self.message(str(exc), error=True)
            return
        if tender == "points" and not box.value.strip():  # as much as points may pay of what is left
            taken = sum(t.amount_fen for t in self.tenders if t.tender == "points")
            amount = min(self.due(), self.priced.points_max_fen - taken)
            amount -= amount % max(1, self.priced.points_step_fen)
            if amount <= 0:
                self.message(_("Points cannot pay any of this bill."), error=True)
                return
        if amount <= 0:
            self.message(_("Nothing left to pay.") if not box.value.strip() else
                         _("An amount paid is more than zero."), error=True)
            return
        if tender != "cash" and amount > self.due():
            self.message(_("Only cash can be more than what is due."), error=True)
            return
        self.tenders.append(TenderRequest(tender, amount))
        box.value = ""
        self.show_totals()

    def action_paycode(self) -> None:
        """付款码: what is still due charged to the customer's WeChat Pay or Alipay code, and the sale booked with
        it — the tenders taken so far and the code's charge (services/payments/charge.py)."""
        from mms_tui.screens.paycode import PayCodeDialog

        if not self.ready_to_pay():
            return
        if self.query_one("#amount", Input).value.strip():
            self.message(_("A payment code is charged what is still due: clear the typed amount first."), error=True)
            return
        due = self.due()
        if due <= 0:
            self.message(_("Nothing left to pay."), error=True)
            return
        lines, tenders, coupons, fees = list(self.lines), list(self.tenders), list(self.coupons), list(self.fees)
        on_bill = {x.code for x in self.priced.lines}
        performers = {code: v for code, v in self.performers.items() if code in on_bill}
        names = [x.name for x in self.priced.lines]
        subject = "、".join(names[:3]) + ("…" if len(names) > 3 else "")

        def book(provider: str, charged) -> CheckoutResult:
            self.trade_numbers = {provider: charged.trade_no}  # for the receipt shown
            return checkout(self.member_id, lines, [*tenders, TenderRequest(provider, charged.amount_fen)],
                            self.app.staff, self.txid, store=self.app.settings.store, coupons=coupons,
                            member_coupons=False, fees=fees, performers=performers, approver=self.approver)

        def paid(result: CheckoutResult | None) -> None:
            if result is not None:
                self.done(result)

        self.app.push_screen(PayCodeDialog(due, self.txid, purpose="checkout", subject=subject, book=book), paid)

    def unsent_text(self) -> bool:
        """Text typed in the item or coupon box and not entered yet: say so rather than pay past it."""
        for box_id, what in (("#code", _("item")), ("#coupon", _("coupon"))):
            box = self.query_one(box_id, Input)
            if box.display and box.value.strip():
                self.message(_("{text!r} is typed in the {what} box: Enter adds it, or clear it first.").format(
                    text=box.value.strip(), what=what), error=True)
                box.focus()
                return True
        return False

    def on_key(self, event: events.Key) -> None:
        """Digits typed while no box has the keyboard (the lines list, after Tab) go to the amount box."""
        focused = self.focused
        if isinstance(focused, Input) or self.result is not None:
            return
        if event.character and len(event.character) == 1 and (event.character.isdigit() or event.character == "."):
            event.stop()
            event.prevent_default()
            box = self.query_one("#amount", Input)
            box.value += event.character
            box.cursor_position = len(box.value)
            box.focus()

    def action_clear_tenders(self) -> None:
        if self.result is None:
            self.tenders.clear()
            self.show_totals()

    def tender_text(self, t: TenderRequest) -> str:
        text = f"{tender_label(t.tender)} {format_money(t.amount_fen)}"
        if t.tender == "points" and self.priced is not None:
            text += " " + _("({points} pts)").format(points=self.priced.points_for(t.amount_fen))
        return text

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
        self.query_one("#tenders", Static).update("  ".join(self.tender_text(t) for t in self.tenders))

    def message(self, text: str, error: bool = False) -> None:
        label = self.query_one("#checkout-message", Label)
        label.set_classes("error" if error else "")
        label.update(text)

    # --- confirm ---------------------------------------------------------------------------------------------

    def ready_to_pay(self) -> bool:
        """Not paid yet (a second F10 must not close the receipt before anyone reads it), not saving, nothing typed
        and left unsent, something on the bill: else the reason said."""
        if self.result is not None:
            self.message(_("Paid. Esc closes the receipt."))
            return False
        if self.busy or self.unsent_text():
            return False
        if self.priced is None:
            self.message(_("Nothing on the bill yet: add an item first."), error=True)
            return False
        return True

    def action_confirm(self) -> None:
        if not self.ready_to_pay():
            return
        typed = self.query_one("#amount", Input).value.strip()
        if typed:
            self.message(_("{amount} is typed but not applied: choose how it is paid (F2–F7), or clear it.").format(
                amount=typed), error=True)
            return
        if self.due() > 0:
            self.message(_("{amount} still to pay: choose a payment (F2–F7).").format(
                amount=format_money(self.due())), error=True)
            return
        self.busy = True
        self.notice = SavingNotice(self)
        self.submit(list(self.lines), list(self.tenders), list(self.coupons), list(self.fees))

    @work(thread=True, exit_on_error=False, exclusive=True, group="checkout")
    def submit(self, lines: list[LineRequest], tenders: list[TenderRequest], coupons: list[str],
               fees: list[str]) -> None:
        on_bill = {x.code for x in self.priced.lines} if self.priced else set()
        performers = {code: v for code, v in self.performers.items() if code in on_bill}
        try:
            result = in_connection(checkout, self.member_id, lines, tenders, self.app.staff, self.txid,
                                   store=self.app.settings.store, coupons=coupons, member_coupons=False, fees=fees,
                                   performers=performers, approver=self.approver)
        except PerformerNotAllowed as exc:
            self.app.call_from_thread(self.ask_approval, str(exc), lines, tenders, coupons, fees)
            return
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.done, result)

    def ask_approval(self, reason: str, lines, tenders, coupons, fees) -> None:
        """A performer not set up for the service: a manager's PIN allows it (and the sale goes on), Esc does not."""
        from mms_tui.screens.pin import ManagerPinScreen

        def approved(manager: Staff | None) -> None:
            if manager is None:
                self.failed(reason)
                return
            self.approver = manager
            self.submit(lines, tenders, coupons, fees)

        self.app.push_screen(ManagerPinScreen(reason, "commissions.allow"), approved)

    def failed(self, message: str) -> None:
        self.busy = False
        if self.notice is not None:
            self.notice.done()
        self.message("✗ " + message, error=True)

    def done(self, result: CheckoutResult) -> None:
        self.busy = False
        if self.notice is not None:
            self.notice.done()
        self.result = result
        self.app.show_sale_on_display(result)
        receipt = self.query_one("#receipt", Static)
        receipt.update(escape("\n".join(receipt_lines(  # laid out as the desk's printer prints it
            result, staff_name=self.app.staff.name, member_name=self.member_name,
            width=self.app.settings.receipt_columns, encoding=self.app.settings.printer_encoding,
            trade_numbers=self.trade_numbers))))
        receipt.display = True
        for hidden in ("#lines", "#discounts", "#coupon", "#code", "#pay-row", "#pay-keys", "#tenders"):
            self.query_one(hidden).display = False
        self.refresh_bindings()
        self.app.print_receipt(result.txid)
        self.message(_("✓ Paid. Esc closes the receipt."))
        self.query_one("#code", Input).disabled = True
        for warning in result.stock_warnings:  # a store that sells below zero says what it sold short
            self.notify(warning, severity="warning", timeout=8)

    def on_unmount(self) -> None:
        self.app.show_welcome_on_display()  # the customer display, between sales

    def action_back(self) -> None:
        choices = self.query_one("#item-choices", OptionList)
        if choices.display:
            choices.display = False
            self.query_one("#code", Input).focus()
            return
        coupon = self.query_one("#coupon", Input)
        if coupon.display and self.result is None:
            coupon.display = False
            self.query_one("#code", Input).focus()
            return
        if self.result is None and (self.lines or self.tenders or self.busy):
            from mms_tui.screens.dialog import ConfirmScreen

            total = format_money(self.priced.total_fen) if self.priced else format_money(0)

            def answered(leave: bool | None) -> None:
                if leave:
                    self.dismiss(None)

            self.app.push_screen(ConfirmScreen(_("Leave this sale?"), [
                _("The bill ({n} lines, {total}) is thrown away; nothing is charged.").format(
                    n=len(self.lines), total=total)]), answered)
            return
        self.dismiss(self.result)
