"""Card dialogs from the member screen: issue a card of a type, and replace a lost one (value moves over)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.services.ledger import new_txid
from mms_tui.services.members import CardTypeInfo, card_types, issue_card, replace_card, report_lost
from mms_tui.services.text import format_money

TENDERS = [("现金 Cash", "cash"), ("微信 WeChat", "wechat"), ("支付宝 Alipay", "alipay"), ("银行卡 Bank card", "bank_card")]


class IssueCardScreen(WorkerErrors, ModalScreen[str | None]):
    """Returns a line saying what was issued, or None."""

    BINDINGS = [
        Binding("escape", "cancel", _("Cancel"), id="issue.cancel"),
        Binding("f10", "save", _("Issue"), id="issue.save", priority=True),
    ]

    def __init__(self, member_id: int, card_no: str = "") -> None:
        super().__init__()
        self.member_id = member_id
        self.card_no = card_no
        self.txid = new_txid()
        self.busy = False

    def handle_device_read(self, read) -> bool:
        """A card swiped while this dialog is open is the card number it asks for."""
        if not self.query("#issue-no"):
            return False
        self.query_one("#issue-no", Input).value = read.value
        return True

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Issue a card"), classes="dialog-title")
            yield Select([], id="issue-type", prompt=_("Card type"))
            yield Input(id="issue-no", placeholder=_("Card number: swipe, or empty for a new number"),
                        value=self.card_no)
            yield Select(TENDERS, id="issue-tender", value="cash", allow_blank=False)
            yield Label(_("F10 to issue, Esc to cancel"), classes="hint")
            yield Label("", id="issue-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#issue-type", Select).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        types = in_connection(card_types)
        self.app.call_from_thread(self.fill, types)

    def fill(self, types: list[CardTypeInfo]) -> None:
        self.query_one("#issue-type", Select).set_options(
            [(f"{t.name}  {format_money(t.price_fen)}", t.code) for t in types])

    def action_save(self) -> None:
        card_type = self.query_one("#issue-type", Select).value
        if self.busy:
            return
        if not isinstance(card_type, str):
            self.query_one("#issue-error", Label).update(_("Choose a card type."))
            return
        self.busy = True
        self.issue(card_type, self.query_one("#issue-no", Input).value.strip() or None,
                   str(self.query_one("#issue-tender", Select).value))

    @work(thread=True, exit_on_error=False, exclusive=True)
    def issue(self, card_type: str, card_no: str | None, tender: str) -> None:
        try:
            result = in_connection(issue_card, self.member_id, card_type, self.app.staff, self.txid,
                                   card_no=card_no, tender=tender, store=self.app.settings.store)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, _("✓ Card {card} issued ({price}).").format(
            card=result.card_no, price=format_money(result.price_fen)))

    def failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#issue-error", Label).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _lost_and_replace(card_no: str, new_no: str | None, staff, lost_txid: str, replace_txid: str, status: str):
    if status != "lost":
        report_lost(card_no, staff, lost_txid)
    return replace_card(card_no, new_no, staff, replace_txid)


class ReplaceCardScreen(WorkerErrors, ModalScreen[str | None]):
    """挂失补卡: block the old card and move everything on it to a new one."""

    BINDINGS = [
        Binding("escape", "cancel", _("Cancel"), id="replace.cancel"),
        Binding("f10", "save", _("Replace"), id="replace.save", priority=True),
    ]

    def __init__(self, card_no: str, status: str) -> None:
        super().__init__()
        self.card_no = card_no
        self.status = status
        self.lost_txid = new_txid()
        self.replace_txid = new_txid()
        self.busy = False

    def handle_device_read(self, read) -> bool:
        """A card swiped while this dialog is open is the card number it asks for."""
        if not self.query("#replace-no"):
            return False
        self.query_one("#replace-no", Input).value = read.value
        return True

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Card {card} lost: block it and move its value to a new card").format(card=self.card_no),
                        classes="dialog-title")
            yield Input(id="replace-no", placeholder=_("New card number: swipe, or empty for a new number"))
            yield Label(_("F10 to replace, Esc to cancel"), classes="hint")
            yield Label("", id="replace-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#replace-no", Input).focus()

    def action_save(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.replace(self.query_one("#replace-no", Input).value.strip() or None)

    @work(thread=True, exit_on_error=False, exclusive=True)
    def replace(self, new_no: str | None) -> None:
        try:
            result = in_connection(_lost_and_replace, self.card_no, new_no, self.app.staff, self.lost_txid,
                                   self.replace_txid, self.status)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, _("✓ Card {old} blocked; its value is now on card {new}.").format(
            old=self.card_no, new=result.card_no))

    def failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#replace-error", Label).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)
