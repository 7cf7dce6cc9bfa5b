"""付款码: the customer's WeChat Pay or Alipay payment code scanned (or typed), charged through the provider, and
what it pays for booked with it (services/payments/charge.py). The dialog says what is happening — "waiting for the
customer's password" while they confirm on their phone — and stays open on a refusal, so the cashier scans again
(a new attempt) or closes it with Esc and takes another tender."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from textual import on
from textual.binding import Binding
from textual.widgets import Input, Label

from mms_tui.i18n import N_, _
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.services.base.errors import DomainError, InvalidInput
from mms_tui.services.base.text import format_money
from mms_tui.services.payments.charge import Charged, pay_by_code
from mms_tui.services.payments.providers import provider_label, provider_of_code


class PayCodeDialog(OperationDialog):
    """Returns what ``book`` returned (the checkout's result), or None when closed without paying."""

    #: the scanner's burst is the code typed into the box, not a member's card
    WEDGE_IS_TYPING = True
    #: the wait is the provider's and the customer's: the status line says so, not "another desk is writing"
    SAVING_NOTICE = False
    HINT = N_("Scan the customer's payment code (Enter charges it); Esc to pay another way")

    def __init__(self, amount_fen: int, txid: str, *, purpose: str, subject: str,
                 book: Callable[[str, Charged], object]) -> None:
        super().__init__()
        self.txid = txid  # the operation's own: a retry, or a second scan, is the same operation
        self.amount_fen, self.purpose, self.subject, self.book = amount_fen, purpose, subject, book

    def heading(self) -> str:
        return _("Payment code (付款码) — {amount}").format(amount=format_money(self.amount_fen))

    def fields(self) -> Iterable:
        yield field_row(_("Code"), Input(id="paycode", placeholder=_("scan or type the 18–24 digits")))
        yield Label(_("WeChat Pay or Alipay, told by the code."), id="paycode-status")

    def on_mount(self) -> None:
        self.query_one("#paycode", Input).focus()

    @on(Input.Submitted, "#paycode")
    def scanned(self) -> None:
        self.action_confirm()

    def operation(self):
        code = self.query_one("#paycode", Input).value.strip()
        if not code:
            raise InvalidInput(_("Scan the customer's payment code first."))
        provider = provider_of_code(code)  # said at once for a member card or a product scanned by mistake
        self.query_one("#paycode-status", Label).update(_("Charging {amount} to {provider}…").format(
            amount=format_money(self.amount_fen), provider=provider_label(provider)))
        return partial(pay_by_code, code, self.amount_fen, self.txid, purpose=self.purpose, subject=self.subject,
                       staff=self.app.staff, store=self.app.settings.store, config=self.app.settings.payments,
                       book=partial(self.book, provider), waiting=self.waiting)

    def waiting(self, text: str) -> None:
        """From the charge's thread: the customer is confirming on their phone."""
        self.app.call_from_thread(self.query_one("#paycode-status", Label).update, text)

    def failed(self, message: str) -> None:
        super().failed(message)
        box = self.query_one("#paycode", Input)
        box.value = ""  # the next scan is a new attempt
        box.focus()
        self.query_one("#paycode-status", Label).update(_("Scan again, or Esc to pay another way."))

    def action_cancel(self) -> None:
        """Esc while the provider is asked would leave a charge nobody waits for: it waits for the answer (at most
        ``wait_seconds`` and a reversal), then closes."""
        if self.busy:
            self.notify(_("Still charging: wait for the provider's answer (a charge in doubt is reversed), then Esc."),
                        severity="warning", timeout=5)
            return
        super().action_cancel()

    def succeeded(self, result: object) -> object:
        return result


#: the key of a dialog that may be paid by payment code (each such dialog lists it in its own BINDINGS: Textual
#: merges the bindings of its screens' classes, not of a mixin's)
PAYCODE_BINDING = Binding("f11", "paycode", N_("Pay code"), id="dialog.paycode", priority=True)


class PaysByCode:
    """For an operation dialog (a top-up, a card sale): F11 pays it by the customer's payment code instead of a
    tender chosen — the dialog's own txid, its own service as what is booked with the charge, its own line for
    what was done. The dialog says ``code_payment()``: the amount, what it is for, and the service to book with
    the provider's name as its tender."""

    def code_payment(self) -> tuple[int, str, str, Callable[[str, Charged], object]]:
        raise NotImplementedError

    def action_paycode(self) -> None:
        if self.busy:
            return
        try:
            amount, purpose, subject, book = self.code_payment()
        except DomainError as exc:
            self.failed(str(exc))
            return
        if amount <= 0:
            self.failed(_("A payment code is charged a positive amount."))
            return

        def paid(result: object | None) -> None:
            if result is not None:
                self.dismiss(self.succeeded(result))

        self.app.push_screen(PayCodeDialog(amount, self.txid, purpose=purpose, subject=subject, book=book), paid)
