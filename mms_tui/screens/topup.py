"""充值: amount, the bonus from the loyalty rules with the rule it came from (a manager may change the bonus), a tier
the amount gives, tender, one key to confirm."""

from __future__ import annotations

from functools import partial

from textual import on, work
from textual.widgets import Input, Label, Select

from mms_tui.i18n import N_, _
from mms_tui.screens.common import in_connection
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.screens.paycode import PAYCODE_BINDING, PaysByCode
from mms_tui.services.base.errors import DomainError
from mms_tui.services.base.text import format_money, parse_yuan, plain_amount
from mms_tui.services.ledger.tenders import money_tender_choices
from mms_tui.services.money.topup import TopUpOffer, top_up, topup_offer
from mms_tui.services.staff.permissions import may


class TopUpScreen(PaysByCode, OperationDialog):
    BINDINGS = [PAYCODE_BINDING]
    HINT = N_("Enter on the amount, then F10 to confirm (F11: the customer's payment code)")

    def __init__(self, card_no: str) -> None:
        super().__init__()
        self.card_no = card_no

    def heading(self) -> str:
        return _("Top up card {card}").format(card=self.card_no)

    def fields(self):
        yield field_row(_("Amount (¥)"), Input(id="amount", placeholder="1000"))
        yield field_row(_("Bonus (¥)"), Input(id="bonus", value="0"))
        yield Label(_("The bonus comes from the rules; a manager may change it."), id="bonus-rule", classes="hint")
        yield field_row(_("Tender"), Select(money_tender_choices(), id="tender", value="cash", allow_blank=False))
        yield field_row(_("Salesperson"), Input(id="salesperson", placeholder=_("staff code (提成); empty: none")))

    def on_mount(self) -> None:
        # the service decides (a cashier's bonus other than the rules' is refused); the box only says so early
        self.query_one("#bonus", Input).disabled = not may(self.app.staff, "topup.bonus")
        self.query_one("#amount", Input).focus()

    @on(Input.Changed, "#amount")
    def amount_changed(self, event: Input.Changed) -> None:
        try:
            amount = parse_yuan(event.value or "0")
        except DomainError:
            return
        self.bonus_for(amount)

    @work(thread=True, exit_on_error=False, exclusive=True, group="bonus")
    def bonus_for(self, amount: int) -> None:
        offer = in_connection(topup_offer, amount)
        self.app.call_from_thread(self._set_offer, offer)

    def _set_offer(self, offer: TopUpOffer) -> None:
        self.query_one("#bonus", Input).value = plain_amount(offer.bonus_fen)
        self.query_one("#bonus-rule", Label).update(offer.text or _("No top-up bonus for this amount."))

    @on(Input.Submitted, "#amount")
    def amount_entered(self) -> None:
        self.query_one("#tender", Select).focus()

    def operation(self):
        amount = parse_yuan(self.query_one("#amount", Input).value or "0")
        bonus_box = self.query_one("#bonus", Input)
        # a cashier gives the rule's bonus as it stands when the top-up is posted
        bonus = None if bonus_box.disabled else parse_yuan(bonus_box.value or "0")
        return partial(top_up, self.card_no, amount, bonus, str(self.query_one("#tender", Select).value),
                       self.app.staff, self.txid, store=self.app.settings.store,
                       salesperson=self.query_one("#salesperson", Input).value.strip() or None)

    def code_payment(self):
        amount = parse_yuan(self.query_one("#amount", Input).value or "0")
        bonus_box = self.query_one("#bonus", Input)
        bonus = None if bonus_box.disabled else parse_yuan(bonus_box.value or "0")
        salesperson = self.query_one("#salesperson", Input).value.strip() or None

        def book(provider: str, charged):
            return top_up(self.card_no, charged.amount_fen, bonus, provider, self.app.staff, self.txid,
                          store=self.app.settings.store, salesperson=salesperson)

        return amount, "topup", _("Top-up of card {card}").format(card=self.card_no[-4:]), book

    def succeeded(self, result) -> str:
        message = _("✓ Topped up {amount} + bonus {bonus}: now {principal} + {bonus_after}").format(
            amount=format_money(result.amount_fen), bonus=format_money(result.bonus_fen),
            principal=format_money(result.principal_after), bonus_after=format_money(result.bonus_after))
        if result.tier_up:
            message += "  " + _("Member tier now {tier}").format(tier=result.tier_name)
        return message
