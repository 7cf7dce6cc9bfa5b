"""The member at the counter: who, which cards, what to watch for, and one key for each desk task."""

from __future__ import annotations

import datetime as dt

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from mms_tui.app import WorkerErrors, in_connection
from mms_tui.i18n import N_, _
from mms_tui.services.checkin import check_in
from mms_tui.services.desk import MemberView, member_view, reveal_phone
from mms_tui.services.ledger import new_txid
from mms_tui.services.lookup import CardSummary
from mms_tui.services.members import freeze_card, unfreeze_card
from mms_tui.services.text import format_money

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
        return _("until {date}").format(date=card.valid_until or "—")
    return ""


class MemberScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", _("Back"), id="member.back"),
        Binding("c", "check_in", _("Check in"), id="member.check_in"),
        Binding("x", "checkout", _("Checkout"), id="member.checkout"),
        Binding("t", "top_up", _("Top up"), id="member.top_up"),
        Binding("i", "issue_card", _("Issue card"), id="member.issue_card"),
        Binding("f", "freeze", _("Freeze/unfreeze"), id="member.freeze"),
        Binding("l", "replace_card", _("Lost card"), id="member.replace_card"),
        Binding("e", "edit", _("Edit"), id="member.edit"),
        Binding("h", "history", _("History"), id="member.history"),
        Binding("p", "phone", _("Full phone"), id="member.phone"),
    ]

    def __init__(self, member_id: int, card_no: str | None = None) -> None:
        super().__init__()
        self.member_id = member_id
        self.preferred_card = card_no
        self.view: MemberView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="member-body"):
            yield Static(id="member-title")
            yield Static(id="outcome")
            yield Static(id="alerts")
            yield DataTable(id="cards", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="recent"):
                yield Static(id="recent-visits")
                yield Static(id="recent-sales")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cards", DataTable).add_columns(_("Card"), _("Type"), _("State"), _("Balance"), _("Points"))
        self.refresh_view()

    @work(thread=True, exit_on_error=False, exclusive=True, group="member-view")
    def refresh_view(self) -> None:
        view = in_connection(member_view, self.member_id)
        self.app.call_from_thread(self.show, view)

    def show(self, view: MemberView) -> None:
        self.view = view
        tier = view.tier
        title = f"[b]{view.name}[/b]  {view.phone_masked}  [b]{tier.tier_name}[/b]"
        if tier.next_name:
            title += "  " + _("{amount} more to {tier}").format(
                amount=format_money(tier.next_spend_fen or 0), tier=tier.next_name)
        self.query_one("#member-title", Static).update(title)
        alerts = self.query_one("#alerts", Static)
        alerts.update("\n".join("⚠ " + a for a in view.alerts))
        alerts.display = bool(view.alerts)
        table = self.query_one("#cards", DataTable)
        table.clear()
        today = dt.date.today().isoformat()
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
        in_connection(operation, card_no, self.app.staff, txid)
        text = _("Card {card} unfrozen.") if frozen else _("Card {card} frozen.")
        self.app.call_from_thread(self.outcome, text.format(card=card_no), True)
        self.refresh_view()

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
