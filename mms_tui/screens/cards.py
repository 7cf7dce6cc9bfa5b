"""Card dialogs from the member screen: issue a card of a type, replace a lost one (value moves over), renew a
pass, transfer visits to a family member."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.services.errors import DomainError
from mms_tui.services.ledger import new_txid
from mms_tui.services.members import (
    CardTypeInfo,
    FamilyMember,
    RenewalQuote,
    card_types,
    family_members,
    issue_card,
    renew_pass,
    renewal_quote,
    replace_card,
    report_lost,
    transfer_visits,
)
from mms_tui.services.text import format_money, parse_count

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


class RenewPassScreen(WorkerErrors, ModalScreen[str | None]):
    """续卡: another period of a pass, paid like a card issue; shows the new end date before anything is paid."""

    BINDINGS = [
        Binding("escape", "cancel", _("Cancel"), id="renew.cancel"),
        Binding("f10", "save", _("Renew"), id="renew.save", priority=True),
    ]

    def __init__(self, card_no: str) -> None:
        super().__init__()
        self.card_no = card_no
        self.txid = new_txid()
        self.busy = False
        self.ready = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Renew pass {card}").format(card=self.card_no), classes="dialog-title")
            yield Label("", id="renew-terms")
            yield Select(TENDERS, id="renew-tender", value="cash", allow_blank=False)
            yield Label(_("F10 to renew, Esc to cancel"), classes="hint")
            yield Label("", id="renew-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#renew-tender", Select).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        try:
            terms = in_connection(renewal_quote, self.card_no)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.show_terms, terms)

    def show_terms(self, terms: RenewalQuote) -> None:
        self.ready = True
        self.query_one("#renew-terms", Label).update(
            _("{type}: valid until {until}; renewed until {renewed} for {price}.").format(
                type=terms.type_name, until=terms.valid_until, renewed=terms.renewed_until,
                price=format_money(terms.price_fen)))

    def action_save(self) -> None:
        if self.busy or not self.ready:
            return
        self.busy = True
        self.renew(str(self.query_one("#renew-tender", Select).value))

    @work(thread=True, exit_on_error=False, exclusive=True)
    def renew(self, tender: str) -> None:
        try:
            result = in_connection(renew_pass, self.card_no, self.app.staff, self.txid, tender=tender,
                                   store=self.app.settings.store)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, _("✓ Pass {card} renewed until {date} ({price}).").format(
            card=result.card_no, date=result.valid_until, price=format_money(result.price_fen)))

    def failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#renew-error", Label).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TransferVisitsScreen(WorkerErrors, ModalScreen[str | None]):
    """转让: visits of a transferable package to another member of the family."""

    BINDINGS = [
        Binding("escape", "cancel", _("Cancel"), id="transfer.cancel"),
        Binding("f10", "save", _("Transfer"), id="transfer.save", priority=True),
    ]

    def __init__(self, member_id: int, card_no: str, visits_left: int) -> None:
        super().__init__()
        self.member_id = member_id
        self.card_no = card_no
        self.visits_left = visits_left
        self.txid = new_txid()
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Transfer visits of {card} ({n} left)").format(card=self.card_no, n=self.visits_left),
                        classes="dialog-title")
            yield Select([], id="transfer-to", prompt=_("To family member"))
            yield Input(id="transfer-visits", value="1", placeholder=_("Visits"), type="integer")
            yield Label(_("F10 to transfer, Esc to cancel"), classes="hint")
            yield Label("", id="transfer-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#transfer-to", Select).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        family = in_connection(family_members, self.member_id)
        self.app.call_from_thread(self.fill, family)

    def fill(self, family: list[FamilyMember]) -> None:
        others = [(f"{f.name}  {f.phone_masked}", f.member_id) for f in family if f.member_id != self.member_id]
        self.query_one("#transfer-to", Select).set_options(others)
        if len(others) == 1:
            self.query_one("#transfer-to", Select).value = others[0][1]
        if not others:
            self.query_one("#transfer-error", Label).update(
                _("Not in a family: M on the member screen sets the family first."))

    def action_save(self) -> None:
        if self.busy:
            return
        to = self.query_one("#transfer-to", Select).value
        if not isinstance(to, int):
            self.query_one("#transfer-error", Label).update(_("Choose the family member who gets the visits."))
            return
        try:
            visits = parse_count(self.query_one("#transfer-visits", Input).value)
        except DomainError as exc:
            self.query_one("#transfer-error", Label).update(str(exc))
            return
        self.busy = True
        self.transfer(to, visits)

    @work(thread=True, exit_on_error=False, exclusive=True)
    def transfer(self, to: int, visits: int) -> None:
        try:
            result = in_connection(transfer_visits, self.card_no, to, visits, self.app.staff, self.txid,
                                   store=self.app.settings.store)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, _("✓ {n} visits moved to {name} (card {card}: {left} left).").format(
            n=result.visits, name=result.to_member_name, card=result.to_card_no, left=result.to_visits_left))

    def failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#transfer-error", Label).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)


class GiftScreen(WorkerErrors, ModalScreen[str | None]):
    """积分兑换: a gift from the points catalogue for the points of one card. Enter on a gift gives it (once: the
    operation's txid is made when the dialog opens)."""

    BINDINGS = [Binding("escape", "cancel", _("Cancel"), id="gift.cancel")]

    def __init__(self, card_no: str, points: int) -> None:
        super().__init__()
        self.card_no = card_no
        self.points = points
        self.txid = new_txid()
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Gift for points — card {card}, {points} points").format(card=self.card_no,
                                                                                 points=self.points),
                        classes="dialog-title")
            yield OptionList(id="gift-list")
            yield Label(_("Enter gives the gift, Esc cancels"), classes="hint")
            yield Label("", id="gift-error", classes="error")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        from mms_tui.services.points import gift_catalogue

        gifts = in_connection(gift_catalogue)
        self.app.call_from_thread(self.show_gifts, gifts)

    def show_gifts(self, gifts: list) -> None:
        options = self.query_one("#gift-list", OptionList)
        if not gifts:
            self.query_one("#gift-error", Label).update(_("The points catalogue is empty (the rules' points.gifts)."))
            return
        for gift in gifts:
            options.add_option(Option(_("{name} — {points} points").format(name=gift.name, points=gift.points),
                                      id=gift.code, disabled=gift.points > self.points))
        affordable = [i for i, gift in enumerate(gifts) if gift.points <= self.points]
        if affordable:
            options.highlighted = affordable[0]
        else:
            self.query_one("#gift-error", Label).update(_("Not enough points for any gift yet."))
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if self.busy or event.option.id is None:
            return
        self.busy = True
        self.give(event.option.id)

    @work(thread=True, exit_on_error=False, exclusive=True)
    def give(self, code: str) -> None:
        from mms_tui.services.points import redeem_gift

        try:
            result = in_connection(redeem_gift, self.card_no, code, self.app.staff, self.txid,
                                   store=self.app.settings.store)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, _("✓ {gift} given for {points} points; {left} left on {card}.").format(
            gift=result.gift_name, points=result.points, left=result.points_after, card=result.card_no))

    def failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#gift-error", Label).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)
