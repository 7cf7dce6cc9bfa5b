"""The member at the counter: who, which cards, what to watch for (birthday, fees due, family), and one key for
each desk task."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Header, Input, Label, Static

from mms_tui import clock
from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import N_, _
from mms_tui.services.checkin import check_in
from mms_tui.services.desk import MemberView, member_view, reveal_phone
from mms_tui.services.errors import DomainError
from mms_tui.services.ledger import new_txid
from mms_tui.services.lookup import CardSummary
from mms_tui.services.members import (
    BirthdayGiftResult,
    FamilyMember,
    family_members,
    freeze_card,
    give_birthday_benefit,
    set_family,
    unfreeze_card,
)
from mms_tui.services.text import format_money
from mms_tui.widgets.footer import Footer

STATUS_NAMES = {
    "active": N_("active"),
    "frozen": N_("frozen"),
    "lost": N_("lost"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
}


def card_value(card: CardSummary) -> str:
    if card.kind == "stored_value":
        text = format_money(card.principal_fen)
        if card.bonus_fen:
            text += " + " + _("bonus") + " " + format_money(card.bonus_fen)
        return text
    if card.kind == "visits":
        return _("{n} visits left").format(n=card.visits_left)
    if card.kind == "period":
        if card.valid_until is None:
            return _("starts at first check-in")
        return _("until {date}").format(date=card.valid_until)
    return ""


def benefit_lines(view: MemberView) -> list[str]:
    """The birthday benefit, the fees due and the family, one line each (what the panel shows under the alerts)."""
    lines = []
    offer = view.birthday_offer
    if offer is not None:
        if offer.to_give:
            lines.append(_("{benefit} — B gives it").format(benefit=offer.explanation))
        elif offer.given_at:
            lines.append(_("{benefit} — given {when}").format(benefit=offer.explanation, when=offer.given_at))
        else:
            lines.append(_("{benefit} — coupon on the account, applies at checkout").format(
                benefit=offer.explanation))
    if view.fees_due:
        fees = " · ".join(f"{f.explanation} {format_money(f.amount_fen)}" for f in view.fees_due)
        lines.append(_("Fees due: {fees} (collected at checkout)").format(fees=fees))
    if view.family:
        names = ", ".join(f.name + ("*" if f.head else "") for f in view.family)
        lines.append(_("Family: {names}").format(names=names))
    return lines


class MemberScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", _("Back"), id="member.back"),
        Binding("c", "check_in", _("Check in"), id="member.check_in"),
        Binding("x", "checkout", _("Checkout"), id="member.checkout"),
        Binding("t", "top_up", _("Top up"), id="member.top_up"),
        Binding("i", "issue_card", _("Issue card"), id="member.issue_card"),
        Binding("b", "birthday", _("Birthday gift"), id="member.birthday"),
        Binding("g", "gift", _("Gift for points"), id="member.gift"),
        Binding("r", "renew", _("Renew pass"), id="member.renew"),
        Binding("f", "freeze", _("Freeze/unfreeze"), id="member.freeze"),
        Binding("v", "transfer", _("Transfer visits"), id="member.transfer"),
        Binding("l", "replace_card", _("Lost card"), id="member.replace_card"),
        Binding("m", "family", _("Family"), id="member.family"),
        Binding("e", "edit", _("Edit"), id="member.edit"),
        Binding("h", "history", _("History"), id="member.history"),
        Binding("p", "phone", _("Full phone"), id="member.phone"),
    ]

    def __init__(self, member_id: int, card_no: str | None = None, *, view: MemberView | None = None) -> None:
        super().__init__()
        self.member_id = member_id
        self.preferred_card = card_no
        self.view: MemberView | None = None
        self.preloaded = view  # read by the swipe's own worker, so the panel shows as the screen opens

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="member-body"):
            yield Static(id="member-title")
            yield Static(id="outcome")
            yield Static(id="alerts")
            yield Static(id="benefits")
            yield DataTable(id="cards", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="recent"):
                yield Static(id="recent-visits")
                yield Static(id="recent-sales")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#cards", DataTable).add_columns(_("Card"), _("Type"), _("State"), _("Balance"), _("Points"))
        self.fill()

    def open(self, member_id: int, card_no: str | None = None, view: MemberView | None = None) -> None:
        """The same screen for another member (the app keeps one to reuse): nothing of the last one stays."""
        self.member_id = member_id
        self.preferred_card = card_no
        self.view = None
        self.preloaded = view
        box = self.query_one("#outcome", Static)
        box.set_classes("")
        box.update("")
        self.query_one("#cards", DataTable).move_cursor(row=0)
        self.fill()

    def fill(self) -> None:
        if self.preloaded is not None and self.preloaded.member_id == self.member_id:
            self.show(self.preloaded)
        else:
            self.refresh_view()

    @work(thread=True, exit_on_error=False, exclusive=True, group="member-view")
    def refresh_view(self) -> None:
        view = in_connection(member_view, self.member_id)
        self.app.call_from_thread(self.show, view)

    def show(self, view: MemberView) -> None:
        self.view = view
        tier = view.tier
        title = f"[b]{view.name}[/b]  {view.phone_masked}  [b]{tier.tier_name}[/b]"
        for progress in (tier.explanation, tier.keep_explanation):
            if progress:
                title += "  " + progress
        self.query_one("#member-title", Static).update(title)
        alerts = self.query_one("#alerts", Static)
        alerts.update("\n".join("⚠ " + a for a in view.alerts))
        alerts.display = bool(view.alerts)
        benefits = self.query_one("#benefits", Static)
        lines = benefit_lines(view)
        benefits.update("\n".join("★ " + line for line in lines))
        benefits.display = bool(lines)
        self.refresh_bindings()
        table = self.query_one("#cards", DataTable)
        table.clear()
        today = clock.today().isoformat()
        for card in view.cards:
            status = "expired" if card.status == "active" and card.valid_until and card.valid_until < today else card.status
            table.add_row(card.card_no, card.type_name, _(STATUS_NAMES.get(status, status)),
                          card_value(card), str(card.points) if card.points else "", key=card.card_no)
        if self.preferred_card:
            for i, card in enumerate(view.cards):
                if card.card_no == self.preferred_card:
                    table.move_cursor(row=i)
        table.focus()
        visits = [_("Last visits")] + [f"{v.when[5:]}  {v.what}" for v in view.recent_visits]
        sales = [_("Last sales")] + [f"{s.when[5:]}  {s.amount}  {s.what[:14]}" for s in view.recent_sales]
        self.query_one("#recent-visits", Static).update("\n".join(visits))
        self.query_one("#recent-sales", Static).update("\n".join(sales))

    def selected_card(self) -> CardSummary | None:
        if self.view is None or not self.view.cards:
            return None
        table = self.query_one("#cards", DataTable)
        return self.view.cards[min(table.cursor_row, len(self.view.cards) - 1)]

    def usable_card(self, kinds: tuple[str, ...]) -> CardSummary | None:
        """The highlighted card if it is of these kinds, else the member's first active one that is."""
        chosen = self.selected_card()
        if chosen is not None and chosen.kind in kinds:
            return chosen
        assert self.view is not None
        return next((c for c in self.view.cards if c.kind in kinds and c.status == "active"), None)

    def outcome(self, text: str, ok: bool) -> None:
        box = self.query_one("#outcome", Static)
        box.set_classes("outcome-ok" if ok else "outcome-refused")
        box.update(text)

    # --- actions ---------------------------------------------------------------------------------------------

    def action_check_in(self) -> None:
        card = self.usable_card(("visits", "period"))
        if card is None:
            self.outcome(_("No visit package or pass to check in with."), ok=False)
            return
        self.run_check_in(card.card_no, new_txid())

    @work(thread=True, exit_on_error=False, exclusive=True, group="desk-op")
    def run_check_in(self, card_no: str, txid: str) -> None:
        from mms_tui.services.errors import DomainError

        try:
            result = in_connection(check_in, card_no, self.app.staff, txid, store=self.app.settings.store)
        except DomainError as exc:
            self.app.call_from_thread(self.outcome, "✗ " + str(exc), False)
            return
        if result.kind == "visits":
            text = _("✓ Checked in — {n} visits left").format(n=result.visits_left)
        elif result.started:
            text = _("✓ Checked in — the pass starts today, valid until {date}").format(date=result.valid_until)
        else:
            text = _("✓ Checked in — pass valid until {date}").format(date=result.valid_until)
        self.app.call_from_thread(self.outcome, text, True)
        self.refresh_view()

    def action_freeze(self) -> None:
        card = self.selected_card()
        if card is None:
            return
        self.run_freeze(card.card_no, card.status == "frozen", new_txid())

    @work(thread=True, exit_on_error=False, exclusive=True, group="desk-op")
    def run_freeze(self, card_no: str, frozen: bool, txid: str) -> None:
        operation = unfreeze_card if frozen else freeze_card
        result = in_connection(operation, card_no, self.app.staff, txid)
        if frozen:
            text = _("Card {card} unfrozen; {n} days frozen added to its end.").format(card=card_no,
                                                                                        n=result.frozen_days)
        elif result.ends_on:
            text = _("Card {card} frozen; {n} freeze days left this year: it ends by itself on {date}.").format(
                card=card_no, n=result.days_left, date=result.ends_on)
        else:
            text = _("Card {card} frozen.").format(card=card_no)
        self.app.call_from_thread(self.outcome, text, True)
        self.refresh_view()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The birthday, renewal and transfer keys show only for a member they apply to (the footer is short)."""
        view = self.view
        if action == "birthday":
            return view is not None and view.birthday_offer is not None
        if action == "renew":
            return view is not None and any(c.kind == "period" for c in view.cards)
        if action == "gift":
            return view is not None and any(c.points > 0 and c.status == "active" for c in view.cards)
        if action == "transfer":
            return view is not None and any(c.kind == "visits" for c in view.cards) and bool(view.family)
        return True

    def action_birthday(self) -> None:
        if self.view is None or self.view.birthday_offer is None:
            self.outcome(_("No birthday benefit today."), ok=False)
            return
        self.run_birthday(new_txid())

    @work(thread=True, exit_on_error=False, exclusive=True, group="desk-op")
    def run_birthday(self, txid: str) -> None:
        try:
            result = in_connection(give_birthday_benefit, self.member_id, self.app.staff, txid,
                                   store=self.app.settings.store)
        except DomainError as exc:
            self.app.call_from_thread(self.outcome, "✗ " + str(exc), False)
            return
        self.app.call_from_thread(self.outcome, birthday_outcome(result), True)
        self.refresh_view()

    def action_gift(self) -> None:
        from mms_tui.screens.cards import GiftScreen

        card = self.selected_card()
        if card is None or card.points <= 0 or card.status != "active":
            card = next((c for c in (self.view.cards if self.view else []) if c.points > 0 and c.status == "active"),
                        None)
        if card is None:
            self.outcome(_("No points to give a gift for."), ok=False)
            return
        self.app.push_screen(GiftScreen(card.card_no, card.points), self.after_dialog)

    def action_renew(self) -> None:
        from mms_tui.screens.cards import RenewPassScreen

        card = self.selected_card()
        if card is None or card.kind != "period":
            card = next((c for c in self.view.cards if c.kind == "period" and c.status in ("active", "frozen",
                                                                                           "expired")), None)
        if card is None:
            self.outcome(_("No pass to renew."), ok=False)
            return
        self.app.push_screen(RenewPassScreen(card.card_no), self.after_dialog)

    def action_transfer(self) -> None:
        from mms_tui.screens.cards import TransferVisitsScreen

        card = self.usable_card(("visits",))
        if card is None:
            self.outcome(_("No visit package to transfer from."), ok=False)
            return
        self.app.push_screen(TransferVisitsScreen(self.member_id, card.card_no, card.visits_left), self.after_dialog)

    def action_family(self) -> None:
        self.app.push_screen(FamilyScreen(self.member_id), self.after_dialog)

    def action_phone(self) -> None:
        self.run_reveal()

    @work(thread=True, exit_on_error=False, group="desk-op")
    def run_reveal(self) -> None:
        phone = in_connection(reveal_phone, self.member_id, self.app.staff)
        self.app.call_from_thread(self.outcome, _("Phone: {phone} (this look is recorded)").format(phone=phone), True)

    def action_top_up(self) -> None:
        from mms_tui.screens.topup import TopUpScreen

        card = self.usable_card(("stored_value",))
        if card is None:
            self.outcome(_("No stored-value card to top up; issue one first."), ok=False)
            return
        self.app.push_screen(TopUpScreen(card.card_no), self.after_dialog)

    def action_checkout(self) -> None:
        from mms_tui.screens.checkout import CheckoutScreen

        name = self.view.name if self.view else ""
        self.app.push_screen(CheckoutScreen(self.member_id, name), self.after_checkout)

    def after_checkout(self, result) -> None:
        if result is not None:
            self.outcome(_("✓ Sale {total} — {points} points earned").format(
                total=format_money(result.total_fen), points=result.points_earned), ok=True)
        self.refresh_view()

    def after_dialog(self, message: str | int | None) -> None:
        if isinstance(message, str):
            self.outcome(message, ok=True)
        self.refresh_view()

    def action_issue_card(self) -> None:
        from mms_tui.screens.cards import IssueCardScreen

        self.app.push_screen(IssueCardScreen(self.member_id), self.after_dialog)

    def action_replace_card(self) -> None:
        from mms_tui.screens.cards import ReplaceCardScreen

        card = self.selected_card()
        if card is None or card.status not in ("active", "frozen", "lost"):
            self.outcome(_("Highlight the card that was lost."), ok=False)
            return
        self.app.push_screen(ReplaceCardScreen(card.card_no, card.status), self.after_dialog)

    def action_edit(self) -> None:
        from mms_tui.screens.register import MemberFormScreen

        self.app.push_screen(MemberFormScreen(member_id=self.member_id), self.after_dialog)

    def action_history(self) -> None:
        from mms_tui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.member_id), lambda _result: self.refresh_view())

    @on(DataTable.RowSelected, "#cards")
    def card_chosen(self) -> None:
        self.action_check_in()


def birthday_outcome(result: BirthdayGiftResult) -> str:
    parts = []
    if result.gift_name:
        parts.append(_("gift {name} given").format(name=result.gift_name))
    if result.item_name:
        parts.append(_("{item} given free").format(item=result.item_name))
    if result.coupon:
        parts.append(_("coupon {label} on the account, applies at checkout").format(label=result.coupon_label))
    return _("✓ Birthday: {what}").format(what="; ".join(parts))


class FamilyScreen(WorkerErrors, ModalScreen[str | None]):
    """家庭: join the family of another member (by phone or card), or leave the one the member is in."""

    BINDINGS = [
        Binding("escape", "cancel", _("Cancel"), id="family.cancel"),
        Binding("f10", "save", _("Join"), id="family.save", priority=True),
        Binding("f8", "leave", _("Leave family"), id="family.leave", priority=True),
    ]

    def __init__(self, member_id: int) -> None:
        super().__init__()
        self.member_id = member_id
        self.txid = new_txid()
        self.busy = False

    def handle_device_read(self, read) -> bool:
        """A card swiped while this dialog is open names the member whose family to join."""
        self.query_one("#family-of", Input).value = read.value
        return True

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Family"), classes="dialog-title")
            yield Label("", id="family-members")
            yield Input(id="family-of", placeholder=_("Join the family of: phone or card number"))
            yield Label(_("F10 to join, F8 to leave the family, Esc to cancel"), classes="hint")
            yield Label("", id="family-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#family-of", Input).focus()
        self.load()

    @work(thread=True, exit_on_error=False)
    def load(self) -> None:
        family = in_connection(family_members, self.member_id)
        self.app.call_from_thread(self.show, family)

    def show(self, family: list[FamilyMember]) -> None:
        text = ", ".join(f"{f.name}{'*' if f.head else ''} {f.phone_masked}" for f in family)
        self.query_one("#family-members", Label).update(text or _("Not in a family yet."))

    def action_save(self) -> None:
        key = self.query_one("#family-of", Input).value.strip()
        if self.busy:
            return
        if not key:
            self.query_one("#family-error", Label).update(_("Type or swipe the phone or card of a family member."))
            return
        self.busy = True
        self.change(key)

    def action_leave(self) -> None:
        if not self.busy:
            self.busy = True
            self.change(None)

    @work(thread=True, exit_on_error=False, exclusive=True)
    def change(self, key: str | None) -> None:
        try:
            result = in_connection(set_family, self.member_id, key, self.app.staff, self.txid)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        text = (_("✓ Family: {names}").format(names=", ".join(result.members)) if result.family_id is not None
                else _("✓ Left the family."))
        self.app.call_from_thread(self.dismiss, text)

    def failed(self, message: str) -> None:
        self.busy = False
        self.txid = new_txid()  # a refused change wrote nothing: the next try is a new operation
        self.query_one("#family-error", Label).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)
