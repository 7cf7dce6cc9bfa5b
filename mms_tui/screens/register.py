"""Register a member (and issue the first card in the same flow), or edit one. Validated by the services."""

from __future__ import annotations

from textual import work
from textual.widgets import Input, Label, Select

from mms_tui.i18n import N_, _
from mms_tui.screens.common import Swiped, in_connection
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.ledger.tenders import money_tender_choices
from mms_tui.services.members.cards import CardTypeInfo, card_types, issue_card
from mms_tui.services.members.profile import MemberDetails, member_details, register_member, update_member


def _register_with_card(values: dict, card: dict, staff, store: str, register_txid: str, issue_txid: str) -> int:
    """Register, then issue the first card; each its own operation, so a retry after a refused card registers
    nobody twice."""
    member = register_member(values["name"], values["phone"], staff, register_txid, gender=values["gender"],
                             birthday=values["birthday"], notes=values["notes"], store=store)
    if card["card_type"]:
        issue_card(member.member_id, card["card_type"], staff, issue_txid, card_no=card["card_no"],
                   tender=card["tender"], store=store, reader_uid=card.get("reader_uid"),
                   uid_as_read=card.get("uid_as_read", False))
    return member.member_id


class MemberFormScreen(OperationDialog):
    """Returns the member id, or None when cancelled. ``member_id`` given: edit that member."""

    HINT = N_("F10 to save, Esc to cancel")

    def __init__(self, phone: str = "", member_id: int | None = None, card_no: str = "",
                 uid_as_read: bool = False) -> None:
        super().__init__()
        self.phone = phone
        self.card_no = card_no
        #: what a reader read for the first card (it came swiped, here or before the dialog opened): kept as its
        #: reader UID too — as it is when a serial reader decoded it (as the issue dialog keeps it)
        self.swiped = card_no or None
        self.swiped_uid = uid_as_read
        self.member_id = member_id
        self.issue_txid = new_txid()

    def heading(self) -> str:
        return _("Edit member") if self.member_id else _("New member")

    def fields(self):
        yield field_row(_("Name"), Input(id="name"))
        yield field_row(_("Phone"), Input(id="phone", placeholder=_("Mobile phone (11 digits)"), value=self.phone))
        yield field_row(_("Gender"), Select([(_("Female"), "F"), (_("Male"), "M")], id="gender", prompt="-"))
        yield field_row(_("Birthday"), Input(id="birthday", placeholder=_("YYYY-MM-DD (optional)")))
        yield field_row(_("Notes"), Input(id="notes", placeholder=_("(optional)")))
        if self.member_id is None:
            yield field_row(_("First card"), Select([], id="card-type", prompt=_("No card now")))
            yield field_row(_("Card number"), Input(id="card-no", value=self.card_no,
                                                    placeholder=_("swipe, or empty for a new number")))
            yield field_row(_("Tender"), Select(money_tender_choices(), id="card-tender", value="cash",
                                                allow_blank=False))

    def on_swiped(self, event: Swiped) -> None:
        """A card swiped while registering is the first card's number."""
        if self.query("#card-no"):
            event.stop()
            # a card's read is kept as its reader UID too; a scanned barcode is only the number
            self.swiped = event.read.value if event.read.kind != "barcode" else None
            self.swiped_uid = event.read.is_uid
            self.query_one("#card-no", Input).value = event.read.value

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        if self.member_id is not None:
            details = in_connection(member_details, self.member_id, self.app.staff)  # (this look is recorded)
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

    def operation(self):
        values = self.values()
        staff = self.app.staff
        if self.member_id is not None:
            member_id, txid = self.member_id, self.txid

            def save_edit() -> int:
                update_member(member_id, staff, txid, **values)
                return member_id

            return save_edit
        card_type = self.query_one("#card-type", Select).value
        card_no = self.query_one("#card-no", Input).value.strip() or None
        swiped = bool(card_no) and card_no == self.swiped
        card = {
            "card_type": card_type if isinstance(card_type, str) else None,
            "card_no": card_no,
            "tender": str(self.query_one("#card-tender", Select).value),
            "reader_uid": card_no if swiped else None,
            "uid_as_read": swiped and self.swiped_uid,
        }
        store, register_txid, issue_txid = self.app.settings.store, self.txid, self.issue_txid
        return lambda: _register_with_card(values, card, staff, store, register_txid, issue_txid)

    def succeeded(self, result) -> int:  # type: ignore[override]
        return int(result)

    def failed(self, message: str) -> None:
        super().failed(message)
        self.query_one("#dialog-error", Label).scroll_visible()

