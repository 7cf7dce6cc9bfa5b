"""充值: amount, the bonus from the loyalty rules with the rule it came from (a manager may change the bonus), a tier
the amount gives, tender, one key to confirm."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.services.errors import DomainError
from mms_tui.services.ledger import new_txid
from mms_tui.services.staff import ROLE_RANK
from mms_tui.services.text import format_money, parse_money, plain_amount
from mms_tui.services.topup import TopUpOffer, top_up, topup_offer
from mms_tui.widgets.footer import Footer

TENDER_NAMES = {"cash": "现金 Cash", "wechat": "微信 WeChat", "alipay": "支付宝 Alipay", "bank_card": "银行卡 Bank card"}


class TopUpScreen(WorkerErrors, ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", _("Cancel"), id="topup.cancel"),
        Binding("f10", "confirm", _("Confirm"), id="topup.confirm"),
    ]

    def __init__(self, card_no: str) -> None:
        super().__init__()
        self.card_no = card_no
        self.txid = new_txid()  # made when the screen opens: a double confirm or a retry never charges twice
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Top up card {card}").format(card=self.card_no), classes="dialog-title")
            yield Label(_("Amount (¥)"))
            yield Input(id="amount", placeholder="1000")
            yield Label(_("Bonus (¥) — from the rule; a manager may change it"))
            yield Input(id="bonus", value="0")
            yield Label("", id="bonus-rule", classes="hint")
            yield Label(_("Tender"))
            yield Select([(name, key) for key, name in TENDER_NAMES.items()], id="tender", value="cash",
                         allow_blank=False)
            yield Label(_("Enter on the amount, then F10 to confirm"), classes="hint")
            yield Label("", id="topup-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        manager = ROLE_RANK.get(self.app.staff.role, 0) >= ROLE_RANK["manager"]
        self.query_one("#bonus", Input).disabled = not manager
        self.query_one("#amount", Input).focus()

    def amounts(self) -> tuple[int, int]:
        amount = parse_money(self.query_one("#amount", Input).value or "0")
        bonus = parse_money(self.query_one("#bonus", Input).value or "0")
        return amount, bonus

    @on(Input.Changed, "#amount")
    def amount_changed(self, event: Input.Changed) -> None:
        try:
            amount = parse_money(event.value or "0")
        except DomainError:
            return
        self.bonus_for(amount)

    @work(thread=True, exit_on_error=False, exclusive=True, group="bonus")
    def bonus_for(self, amount: int) -> None:
        offer = in_connection(topup_offer, amount)
        self.app.call_from_thread(self._set_offer, offer)

    def _set_offer(self, offer: TopUpOffer) -> None:
        self.query_one("#bonus", Input).value = plain_amount(offer.bonus_fen)
        self.query_one("#bonus-rule", Label).update(offer.text)

    @on(Input.Submitted, "#amount")
    def amount_entered(self) -> None:
        self.query_one("#tender", Select).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_confirm(self) -> None:
        if self.busy:
            return
        try:
            amount, bonus = self.amounts()
        except DomainError as exc:
            self.query_one("#topup-error", Label).update(str(exc))
            return
        tender = self.query_one("#tender", Select).value
        self.busy = True
        # a cashier cannot change the bonus: the service takes the rule's, as it stands when the top-up is posted
        given = None if self.query_one("#bonus", Input).disabled else bonus
        self.submit(amount, given, str(tender))

    @work(thread=True, exit_on_error=False, exclusive=True, group="topup")
    def submit(self, amount: int, bonus: int | None, tender: str) -> None:
        try:
            result = in_connection(top_up, self.card_no, amount, bonus, tender, self.app.staff, self.txid,
                                   store=self.app.settings.store)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        message = _("✓ Topped up {amount} + bonus {bonus}: now {principal} + {bonus_after}").format(
            amount=format_money(result.amount_fen), bonus=format_money(result.bonus_fen),
            principal=format_money(result.principal_after), bonus_after=format_money(result.bonus_after))
        if result.tier_up:
            message += "  " + _("Member tier now {tier}").format(tier=result.tier_name)
        self.app.call_from_thread(self.dismiss, message)

    def failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#topup-error", Label).update(message)
