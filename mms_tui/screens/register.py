"""Register a member (and issue the first card in the same flow), or edit one. Validated by the services."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.services.ledger import new_txid
from mms_tui.services.members import (
    CardTypeInfo,
    MemberDetails,
    card_types,
    issue_card,
    member_details,
    register_member,
    update_member,
)
from mms_tui.services.text import format_money

NO_CARD = "-"


class MemberFormScreen(WorkerErrors, ModalScreen[int | None]):
    """Returns the member id, or None when cancelled. ``member_id`` given: edit that member."""

    BINDINGS = [
        Binding("escape", "cancel", _("Cancel"), id="form.cancel"),
        Binding("f10", "save", _("Save"), id="form.save", priority=True),
    ]

    def __init__(self, phone: str = "", member_id: int | None = None, card_no: str = "") -> None:
        super().__init__()
        self.phone = phone
        self.card_no = card_no
        self.member_id = member_id
        self.register_txid = new_txid()
        self.issue_txid = new_txid()
        self.busy = False

    def handle_device_read(self, read) -> bool:
        """A card swiped while this dialog is open is the card number it asks for."""
        if not self.query("#card-no"):
            return False
        self.query_one("#card-no", Input).value = read.value
        return True

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="member-form"):
            yield Label(_("Edit member") if self.member_id else _("New member"), classes="dialog-title")
            yield Input(id="name", placeholder=_("Name"))
            yield Input(id="phone", placeholder=_("Mobile phone (11 digits)"), value=self.phone)
            yield Select([(_("Female"), "F"), (_("Male"), "M")], id="gender", prompt=_("Gender"))
            yield Input(id="birthday", placeholder=_("Birthday YYYY-MM-DD (optional)"))
            yield Input(id="notes", placeholder=_("Notes (optional)"))
            if self.member_id is None:
                yield Label(_("First card"))
                yield Select([], id="card-type", prompt=_("No card now"))
                yield Input(id="card-no", placeholder=_("Card number: swipe, or empty for a new number"),
                            value=self.card_no)
                yield Select([("现金 Cash", "cash"), ("微信 WeChat", "wechat"), ("支付宝 Alipay", "alipay"),
                              ("银行卡 Bank card", "bank_card")], id="card-tender", value="cash", allow_blank=False)
            yield Label(_("F10 to save, Esc to cancel"), classes="hint")
            yield Label("", id="form-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        if self.member_id is not None:
            details = in_connection(member_details, self.member_id)
            self.app.call_from_thread(self.fill, details)
        else:
            types = in_connection(card_types)
            self.app.call_from_thread(self.fill_types, types)

    def fill(self, details: MemberDetails) -> None:
        self.query_one("#name", Input).value = details.name
        self.query_one("#phone", Input).value = details.phone
        if details.gender:
            self.query_one("#gender", Select).value = details.gender
        self.query_one("#birthday", Input).value = details.birthday
        self.query_one("#notes", Input).value = details.notes

    def fill_types(self, types: list[CardTypeInfo]) -> None:
        self.query_one("#card-type", Select).set_options(
            [(f"{t.name}  {format_money(t.price_fen)}", t.code) for t in types])

    def values(self) -> dict:
        gender = self.query_one("#gender", Select).value
        return {
            "name": self.query_one("#name", Input).value,
            "phone": self.query_one("#phone", Input).value,
            "gender": gender if isinstance(gender, str) else "",
            "birthday": self.query_one("#birthday", Input).value.strip() or None,
            "notes": self.query_one("#notes", Input).value,
        }

    def action_save(self) -> None:
        if self.busy:
            return
        self.busy = True
        values = self.values()
        if self.member_id is not None:
            self.save_edit(values)
            return
        card_type = self.query_one("#card-type", Select).value
        card = {
            "card_type": card_type if isinstance(card_type, str) else None,
            "card_no": self.query_one("#card-no", Input).value.strip() or None,
            "tender": str(self.query_one("#card-tender", Select).value),
        }
        self.save_new(values, card)

    @work(thread=True, exit_on_error=False, exclusive=True, group="member-form")
    def save_new(self, values: dict, card: dict) -> None:
        staff, store = self.app.staff, self.app.settings.store
        try:
            member = in_connection(register_member, values["name"], values["phone"], staff, self.register_txid,
                                   gender=values["gender"], birthday=values["birthday"], notes=values["notes"],
                                   store=store)
            if card["card_type"]:
                in_connection(issue_card, member.member_id, card["card_type"], staff, self.issue_txid,
                              card_no=card["card_no"], tender=card["tender"], store=store)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, member.member_id)

    @work(thread=True, exit_on_error=False, exclusive=True, group="member-form")
    def save_edit(self, values: dict) -> None:
        try:
            in_connection(update_member, self.member_id, self.app.staff, self.register_txid, **values)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, self.member_id)

    def failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#form-error", Label).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)
