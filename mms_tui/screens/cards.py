"""Card dialogs from the member screen: issue a card of a type, replace a lost one (value moves over), renew a
pass, transfer visits to a family member, a gift for points. Each is one operation (:class:`OperationDialog`):
its txid is made when it opens, so a double F10 or a retry never does it twice."""

from __future__ import annotations

from functools import partial

from textual import on, work
from textual.binding import Binding
from textual.widgets import Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from mms_tui.i18n import N_, _
from mms_tui.screens.common import Swiped, in_connection
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.screens.paycode import PAYCODE_BINDING, PaysByCode
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import format_money, parse_count
from mms_tui.services.ledger.tenders import money_tender_choices
from mms_tui.services.members.cards import CardTypeInfo, card_types, issue_card, replace_card, report_lost
from mms_tui.services.members.family import FamilyMember, family_members, transfer_visits
from mms_tui.services.members.lookup import CardSummary
from mms_tui.services.members.passes import RenewalQuote, renew_pass, renewal_quote


class IssueCardScreen(PaysByCode, OperationDialog):
    """发卡: a card of a type for the member; a card swiped while it is open is the number it asks for."""

    BINDINGS = [PAYCODE_BINDING]
    HINT = N_("F10 to issue (F11: paid by the customer's payment code), Esc to cancel")

    def __init__(self, member_id: int, card_no: str = "", uid_as_read: bool = False) -> None:
        super().__init__()
        self.member_id = member_id
        self.card_no = card_no
        #: what a reader read for this card (it came swiped): kept as the card's reader UID too — as it is when a
        #: serial reader decoded it (swiped_uid), else in the form it is taken for
        self.swiped = card_no
        self.swiped_uid = uid_as_read

    def heading(self) -> str:
        return _("Issue a card")

    def fields(self):
        yield field_row(_("Card type"), Select([], id="issue-type", prompt="-"))
        yield field_row(_("Card number"), Input(id="issue-no", value=self.card_no,
                                                placeholder=_("swipe, or empty for a new number")))
        yield field_row(_("Tender"), Select(money_tender_choices(), id="issue-tender", value="cash",
                                            allow_blank=False))
        yield field_row(_("Salesperson"), Input(id="issue-salesperson",
                                                placeholder=_("staff code (提成); empty: none")))

    def on_swiped(self, event: Swiped) -> None:
        event.stop()
        self.swiped = event.read.value
        self.swiped_uid = event.read.is_uid
        self.query_one("#issue-no", Input).value = event.read.value

    def on_mount(self) -> None:
        self.query_one("#issue-type", Select).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        types = in_connection(card_types)
        self.app.call_from_thread(self.fill, types)

    def fill(self, types: list[CardTypeInfo]) -> None:
        self.prices = {t.code: (t.name, t.price_fen) for t in types}
        self.query_one("#issue-type", Select).set_options(
            [(f"{t.name}  {format_money(t.price_fen)}", t.code) for t in types])

    def operation(self):
        card_type = self.query_one("#issue-type", Select).value
        if not isinstance(card_type, str):
            raise InvalidInput(_("Choose a card type."))
        card_no = self.query_one("#issue-no", Input).value.strip() or None
        return partial(issue_card, self.member_id, card_type, self.app.staff, self.txid, card_no=card_no,
                       reader_uid=card_no if card_no and card_no == self.swiped else None,
                       uid_as_read=bool(card_no) and card_no == self.swiped and self.swiped_uid,
                       tender=str(self.query_one("#issue-tender", Select).value), store=self.app.settings.store,
                       salesperson=self.query_one("#issue-salesperson", Input).value.strip() or None)

    def code_payment(self):
        card_type = self.query_one("#issue-type", Select).value
        if not isinstance(card_type, str) or card_type not in getattr(self, "prices", {}):
            raise InvalidInput(_("Choose a card type."))
        name, price = self.prices[card_type]
        card_no = self.query_one("#issue-no", Input).value.strip() or None
        salesperson = self.query_one("#issue-salesperson", Input).value.strip() or None

        def book(provider: str, charged):
            return issue_card(self.member_id, card_type, self.app.staff, self.txid, card_no=card_no,
                              reader_uid=card_no if card_no and card_no == self.swiped else None, tender=provider,
                              store=self.app.settings.store, salesperson=salesperson,
                              uid_as_read=bool(card_no) and card_no == self.swiped and self.swiped_uid)

        return price, "card", name, book

    def succeeded(self, result) -> str:
        return _("✓ Card {card} issued ({price}).").format(card=result.card_no, price=format_money(result.price_fen))


def _lost_and_replace(card_no: str, new_no: str | None, staff, lost_txid: str, replace_txid: str, status: str,
                      reader_uid: str | None = None, uid_as_read: bool = False):
    if status != "lost":
        report_lost(card_no, staff, lost_txid)
    return replace_card(card_no, new_no, staff, replace_txid, reader_uid=reader_uid, uid_as_read=uid_as_read)


def value_words(card: CardSummary) -> str:
    """Everything a card holds, in words: what a lost card's replacement takes over."""
    parts = []
    if card.principal_fen or card.bonus_fen:
        parts.append(format_money(card.principal_fen) + (
            " + " + _("bonus") + " " + format_money(card.bonus_fen) if card.bonus_fen else ""))
    if card.visits_left:
        parts.append(_("{n} visits").format(n=card.visits_left))
    if card.points:
        parts.append(_("{n} points").format(n=card.points))
    if card.kind == "period" and card.valid_until:
        parts.append(_("valid until {date}").format(date=card.valid_until))
    return ", ".join(parts) or _("nothing")


class ReplaceCardScreen(OperationDialog):
    """挂失补卡: block the card at once and move everything on it to a new card."""

    HINT = N_("F10 to block and replace, Esc to cancel")

    def __init__(self, card: CardSummary, member_name: str = "") -> None:
        super().__init__()
        self.card = card
        self.member_name = member_name
        self.lost_txid = self.txid
        self.replace_txid = f"{self.txid}-new"[:64]
        #: the new card's read when it came swiped (kept as its reader UID too, as the issue dialog keeps it)
        self.swiped: str | None = None
        self.swiped_uid = False

    def heading(self) -> str:
        return _("Lost card {card} ({type})").format(card=self.card.card_no, type=self.card.type_name)

    def fields(self):
        yield Label(_("It is blocked at once: nobody can use it from now on."), classes="wrap")
        yield Label(_("Moves to the new card: {value}.").format(value=value_words(self.card)), classes="wrap")
        yield field_row(_("New card"), Input(id="replace-no", placeholder=_("swipe, or empty for a new number")))

    def on_swiped(self, event: Swiped) -> None:
        event.stop()
        self.swiped = event.read.value if event.read.kind != "barcode" else None  # (a barcode: only the number)
        self.swiped_uid = event.read.is_uid
        self.query_one("#replace-no", Input).value = event.read.value

    def on_mount(self) -> None:
        self.query_one("#replace-no", Input).focus()

    def operation(self):
        new_no = self.query_one("#replace-no", Input).value.strip() or None
        swiped = bool(new_no) and new_no == self.swiped
        return partial(_lost_and_replace, self.card.card_no, new_no, self.app.staff, self.lost_txid, self.replace_txid,
                       self.card.status, reader_uid=new_no if swiped else None, uid_as_read=swiped and self.swiped_uid)

    def succeeded(self, result) -> str:
        return _("✓ Card {old} blocked; its value is now on card {new}.").format(old=self.card.card_no,
                                                                                  new=result.card_no)


class RenewPassScreen(OperationDialog):
    """续卡: another period of a pass, paid like a card issue; shows the new end date before anything is paid."""

    HINT = N_("F10 to renew, Esc to cancel")

    def __init__(self, card_no: str) -> None:
        super().__init__()
        self.card_no = card_no
        self.ready = False

    def heading(self) -> str:
        return _("Renew pass {card}").format(card=self.card_no)

    def fields(self):
        yield Label("", id="renew-terms", classes="wrap")
        yield field_row(_("Tender"), Select(money_tender_choices(), id="renew-tender", value="cash",
                                            allow_blank=False))

    def on_mount(self) -> None:
        self.query_one("#renew-tender", Select).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        from mms_tui.screens.common import error_message

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

    def operation(self):
        if not self.ready:
            return None
        return partial(renew_pass, self.card_no, self.app.staff, self.txid,
                       tender=str(self.query_one("#renew-tender", Select).value), store=self.app.settings.store)

    def succeeded(self, result) -> str:
        return _("✓ Pass {card} renewed until {date} ({price}).").format(
            card=result.card_no, date=result.valid_until, price=format_money(result.price_fen))


class TransferVisitsScreen(OperationDialog):
    """转让: visits of a transferable package to another member of the family."""

    HINT = N_("F10 to transfer, Esc to cancel")

    def __init__(self, member_id: int, card_no: str, visits_left: int) -> None:
        super().__init__()
        self.member_id = member_id
        self.card_no = card_no
        self.visits_left = visits_left

    def heading(self) -> str:
        return _("Transfer visits of {card} ({n} left)").format(card=self.card_no, n=self.visits_left)

    def fields(self):
        yield field_row(_("To family member"), Select([], id="transfer-to", prompt="-"))
        yield field_row(_("Visits"), Input(id="transfer-visits", value="1", type="integer"))

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
            self.show_error(_("Not in a family: Ctrl+F on the member screen sets the family first."))

    def operation(self):
        to = self.query_one("#transfer-to", Select).value
        if not isinstance(to, int):
            raise InvalidInput(_("Choose the family member who gets the visits."))
        visits = parse_count(self.query_one("#transfer-visits", Input).value)
        return partial(transfer_visits, self.card_no, to, visits, self.app.staff, self.txid,
                       store=self.app.settings.store)

    def succeeded(self, result) -> str:
        return _("✓ {n} visits moved to {name} (card {card}: {left} left).").format(
            n=result.visits, name=result.to_member_name, card=result.to_card_no, left=result.to_visits_left)


class GiftScreen(OperationDialog):
    """积分兑换: a gift from the points catalogue for the points of one card. Enter on a gift gives it (once: the
    operation's txid is made when the dialog opens)."""

    BINDINGS = [Binding("f10", "confirm", N_("Give"), id="gift.give", priority=True)]
    HINT = N_("Enter or F10 gives the gift, Esc cancels")

    def __init__(self, card_no: str, points: int) -> None:
        super().__init__()
        self.card_no = card_no
        self.points = points

    def heading(self) -> str:
        return _("Gift for points — card {card}, {points} points").format(card=self.card_no, points=self.points)

    def fields(self):
        yield OptionList(id="gift-list")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        from mms_tui.services.loyalty.points import gift_catalogue

        gifts = in_connection(gift_catalogue)
        self.app.call_from_thread(self.show_gifts, gifts)

    def show_gifts(self, gifts: list) -> None:
        options = self.query_one("#gift-list", OptionList)
        if not gifts:
            self.show_error(_("The points catalogue is empty (the rules' points.gifts)."))
            return
        for gift in gifts:
            options.add_option(Option(_("{name} — {points} points").format(name=gift.name, points=gift.points),
                                      id=gift.code, disabled=gift.points > self.points))
        affordable = [i for i, gift in enumerate(gifts) if gift.points <= self.points]
        if affordable:
            options.highlighted = affordable[0]
        else:
            self.show_error(_("Not enough points for any gift yet."))
        options.focus()

    @on(OptionList.OptionSelected, "#gift-list")
    def chosen(self) -> None:
        self.action_confirm()

    def operation(self):
        from mms_tui.services.loyalty.points import redeem_gift

        options = self.query_one("#gift-list", OptionList)
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        if option.disabled or option.id is None:
            return None
        return partial(redeem_gift, self.card_no, option.id, self.app.staff, self.txid, store=self.app.settings.store)

    def succeeded(self, result) -> str:
        if result.coupon_code:
            return _("✓ {gift} for {points} points: coupon {code}, valid until {date}; {left} points left on "
                     "{card}.").format(gift=result.gift_name, points=result.points, code=result.coupon_code,
                                       date=result.coupon_valid_until or "-", left=result.points_after,
                                       card=result.card_no)
        return _("✓ {gift} given for {points} points; {left} left on {card}.").format(
            gift=result.gift_name, points=result.points, left=result.points_after, card=result.card_no)
