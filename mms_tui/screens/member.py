"""The member at the counter: who, which cards, what to watch for (birthday, fees due, family), and one key for
each desk task."""

from __future__ import annotations

import asyncio
from functools import partial

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Static

from mms_tui import clock
from mms_tui.i18n import N_, _, ngettext
from mms_tui.screens.common import (
    SavingNotice,
    Swiped,
    TypingSearches,
    WorkerErrors,
    in_connection,
)
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.services.base.errors import DomainError, InvalidInput, RepeatCheckIn
from mms_tui.services.base.text import fit, format_money
from mms_tui.services.bookings.classes import ClassCheckIn, door_check_in
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.members.birthdays import BirthdayGiftResult, give_birthday_benefit
from mms_tui.services.members.family import FamilyMember, family_members, set_family
from mms_tui.services.members.lookup import CardSummary
from mms_tui.services.members.passes import freeze_card, unfreeze_card
from mms_tui.services.members.view import MemberView, member_view, reveal_phone
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

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
        return _("pass")
    return ""


def card_until(card: CardSummary) -> str:
    """The card's last day, or what stands for it (a pass not started yet)."""
    if card.kind == "period" and card.valid_until is None:
        return _("first use")
    return card.valid_until or ""


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


#: member actions the footer has no room for: reached from F9 (More), Ctrl+P, or these keys, none of which
#: typing a phone, a name, pinyin or a card number produces
MORE_ACTIONS = [
    ("issue_card", "f6"), ("edit", "f7"), ("freeze", "f8"), ("replace_card", "ctrl+l"), ("birthday", "ctrl+d"),
    ("gift", "ctrl+g"), ("renew", "ctrl+r"), ("transfer", "ctrl+t"), ("family", "ctrl+f"), ("phone", "ctrl+o"),
    ("record", "ctrl+e"), ("book", "ctrl+b"), ("ticket", "ctrl+k"), ("dismiss_prompts", "ctrl+x"),
]


class MemberScreen(TypingSearches, WorkerErrors, Screen[None]):
    """One member at the counter. Every action is on a key that typing never produces (F-keys, Ctrl+letters):
    typing — digits, letters, a wedge reader's card number — starts a new search at the desk instead, so nothing
    typed ever acts on the member showing. A check-in belongs to what the cashier means: pressing F2 again while
    its result shows returns that result; a second check-in within the repeat window asks first."""

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="member.back"),
        Binding("f2", "check_in", N_("Check in"), id="member.check_in"),
        Binding("f3", "checkout", N_("Checkout"), id="member.checkout"),
        Binding("f4", "top_up", N_("Top up"), id="member.top_up"),
        Binding("f5", "history", N_("History"), id="member.history"),
        Binding("f9", "more", N_("More"), id="member.more"),
        Binding("f6", "issue_card", N_("Issue card"), id="member.issue_card", show=False),
        Binding("f7", "edit", N_("Edit"), id="member.edit", show=False),
        Binding("f8", "freeze", N_("Freeze/unfreeze"), id="member.freeze", show=False),
        Binding("ctrl+l", "replace_card", N_("Lost card"), id="member.replace_card", show=False),
        Binding("ctrl+d", "birthday", N_("Birthday gift"), id="member.birthday", show=False),
        Binding("ctrl+g", "gift", N_("Gift for points"), id="member.gift", show=False),
        Binding("ctrl+r", "renew", N_("Renew pass"), id="member.renew", show=False),
        Binding("ctrl+t", "transfer", N_("Transfer visits"), id="member.transfer", show=False),
        Binding("ctrl+f", "family", N_("Family"), id="member.family", show=False),
        Binding("ctrl+o", "phone", N_("Full phone"), id="member.phone", show=False),
        Binding("ctrl+e", "record", N_("Details"), id="member.record", show=False),
        Binding("ctrl+b", "book", N_("Book"), id="member.book", show=False),
        Binding("ctrl+k", "ticket", N_("Service ticket"), id="member.ticket", show=False),
        Binding("ctrl+x", "dismiss_prompts", N_("Prompts: not now"), id="member.dismiss_prompts", show=False),
        Binding("question_mark", "app.help", N_("Help"), id="member.help", show=False),
    ]

    def __init__(self, member_id: int, card_no: str | None = None, *, view: MemberView | None = None) -> None:
        super().__init__()
        self.member_id = member_id
        self.preferred_card = card_no
        self.view: MemberView | None = None
        self.preloaded = view  # read by the swipe's own worker, so the panel shows as the screen opens
        self.next_start = None  # what a booking made here offers as its start (read with the member's bookings)
        #: the operation the banner shows, and its txid: the same key again repeats that intent, not a new one
        self.intent: tuple[tuple[str, str], str] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="member-body"):
            yield Static(id="member-title")
            yield Static(id="member-facts")
            yield Static(id="member-bookings")
            yield Static(id="outcome")
            yield Static(id="alerts")
            yield Static(id="benefits")
            yield Static(id="prompts")
            yield Table(id="cards", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="recent"):
                yield Static(id="recent-visits")
                yield Static(id="recent-sales")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#outcome", Static).display = False
        self.query_one("#cards", DataTable).add_columns(_("Card"), _("Type"), _("State"), _("Balance"),
                                                        _("Valid until"), _("Points"))
        self.fill()

    def help_notes(self) -> list[str]:
        return [_("Typing a phone, a name or a card number starts a new search at the desk."),
                _("↑ ↓ choose the card an action is for.")]

    def open(self, member_id: int, card_no: str | None = None, view: MemberView | None = None) -> None:
        """The same screen for another member (the app keeps one to reuse): nothing of the last one stays."""
        self.member_id = member_id
        self.preferred_card = card_no
        self.view = None
        self.preloaded = view
        self.intent = None
        box = self.query_one("#outcome", Static)
        box.set_classes("")
        box.update("")
        box.display = False
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
        title = f"[b]{escape(view.name)}[/b]  {view.phone_masked}  [b]{escape(tier.tier_name)}[/b]"
        for progress in (tier.explanation, tier.keep_explanation):
            if progress:
                title += "  " + escape(progress)
        self.query_one("#member-title", Static).update(title)
        facts = []
        if view.price_level:
            facts.append(_("Buys at {level}").format(level=view.price_level))
        if view.birthday:
            facts.append(_("Birthday {date}").format(date=view.birthday))
        if view.notes:
            facts.append(_("Notes: {notes}").format(notes=view.notes))
        box = self.query_one("#member-facts", Static)
        box.update(escape("  ·  ".join(facts)))
        box.display = bool(facts)
        alerts = self.query_one("#alerts", Static)
        alerts.update(escape("\n".join("⚠ " + a for a in view.alerts)))
        alerts.display = bool(view.alerts)
        benefits = self.query_one("#benefits", Static)
        lines = benefit_lines(view)
        benefits.update(escape("\n".join("★ " + line for line in lines)))
        benefits.display = bool(lines)
        prompts = self.query_one("#prompts", Static)
        prompts.update(escape("\n".join("» " + p.text for p in view.prompts)))
        prompts.display = bool(view.prompts)
        self.refresh_bindings()
        self.load_bookings(view.member_id)
        table = self.query_one("#cards", DataTable)
        table.clear()
        today = clock.today().isoformat()
        for card in view.cards:
            status = "expired" if card.status == "active" and card.valid_until and card.valid_until < today else card.status
            table.add_row(card.card_no, fit(card.type_name, 10), _(STATUS_NAMES.get(status, status)),
                          card_value(card), card_until(card), str(card.points) if card.points else "",
                          key=card.card_no)
        if self.preferred_card:
            for i, card in enumerate(view.cards):
                if card.card_no == self.preferred_card:
                    table.move_cursor(row=i)
        table.focus()
        visits = [_("Last visits")] + [f"{v.when[5:]}  {fit(v.what, 22)}" for v in view.recent_visits]
        sales = [_("Last sales")] + [f"{s.when[5:]}  {s.amount}  {fit(s.what, 14)}" for s in view.recent_sales]
        self.query_one("#recent-visits", Static).update(escape("\n".join(visits)))
        self.query_one("#recent-sales", Static).update(escape("\n".join(sales)))

    @work(thread=True, exit_on_error=False, exclusive=True, group="member-bookings")
    def load_bookings(self, member_id: int) -> None:
        from mms_tui.services.bookings.appointments import next_step, upcoming

        booked, self.next_start = in_connection(lambda: (upcoming(member_id, limit=3), next_step()))
        text = _("Booked: {list}").format(list="  ".join(
            f"{b.start:%m-%d %H:%M} {b.services} {b.staff_name}" for b in booked)) if booked else ""
        self.app.call_from_thread(self.show_bookings, member_id, text)

    def show_bookings(self, member_id: int, text: str) -> None:
        if member_id != self.member_id:
            return  # another member's screen by now
        box = self.query_one("#member-bookings", Static)
        box.update(escape(text))
        box.display = bool(text)

    def action_book(self) -> None:
        from mms_tui.screens.bookings import BookDialog

        if self.view is None:
            return

        def booked(line: str | None) -> None:
            if line:
                self.outcome(line, True)
                self.load_bookings(self.member_id)

        self.app.push_screen(BookDialog(self.app.settings.store, start=self.next_start, member_id=self.member_id,
                                        member_name=self.view.name), booked)

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
        if self.view is None:
            return None
        return next((c for c in self.view.cards if c.kind in kinds and c.status == "active"), None)

    def outcome(self, text: str, ok: bool, *, intent: tuple[tuple[str, str], str] | None = None) -> None:
        """Show what happened; the banner now belongs to ``intent`` (the same key again repeats it) or to none."""
        self.intent = intent
        box = self.query_one("#outcome", Static)
        box.set_classes("outcome-ok" if ok else "outcome-refused")
        box.update(escape(text))
        box.display = True


    def action_back(self) -> None:
        self.dismiss(None)

    def action_more(self) -> None:
        from mms_tui.screens.dialog import MenuScreen

        bindings = {b.action: b for b in self.BINDINGS}
        items = [(action, key, _(bindings[action].description)) for action, key in MORE_ACTIONS
                 if self.check_action(action, ()) is not False]

        def chosen(action: str | None) -> None:
            if action:
                self.run_action(action)

        self.app.push_screen(MenuScreen(_("More for {name}").format(name=self.view.name if self.view else ""),
                                        items), chosen)

    # --- actions ---------------------------------------------------------------------------------------------

    def action_check_in(self) -> None:
        card = self.usable_card(("visits", "period"))
        if card is None:
            self.outcome(_("No visit package or pass to check in with."), ok=False)
            return
        key = ("check_in", card.card_no)
        txid = self.intent[1] if self.intent is not None and self.intent[0] == key else new_txid()
        self.intent = (key, txid)  # a second F2 while this one runs is the same check-in
        self.run_check_in(card.card_no, txid)

    @work(exit_on_error=False, group="desk-op")
    async def run_check_in(self, card_no: str, txid: str, again: bool = False) -> None:
        intent = (("check_in", card_no), txid)
        notice = SavingNotice(self)
        try:
            result = await asyncio.to_thread(in_connection, door_check_in, card_no, self.app.staff, txid,
                                             store=self.app.settings.store, again=again)
        except RepeatCheckIn as exc:
            from mms_tui.screens.dialog import ConfirmScreen

            def answered(yes: bool | None) -> None:
                if yes:
                    self.run_check_in(card_no, txid, True)
                else:
                    self.outcome(_("Not checked in again."), ok=False)

            self.app.push_screen(ConfirmScreen(str(exc), [_("F10 checks in once more; Esc leaves it.")],
                                               warning=True), answered)
            return
        except DomainError as exc:
            self.outcome("✗ " + str(exc), False, intent=intent)
            return
        finally:
            notice.done()
        if isinstance(result, ClassCheckIn):
            text = _("✓ Checked in to {name} at {time}").format(name=result.place.class_name,
                                                                time=f"{result.place.start:%H:%M}")
            text += " — " + (_("{n} visits left").format(n=result.visits_left) if result.kind == "visits" else
                             _("pass valid until {date}").format(date=result.valid_until))
        elif result.kind == "visits":
            text = _("✓ Checked in — {n} visits left").format(n=result.visits_left)
        elif result.started:
            text = _("✓ Checked in — the pass starts today, valid until {date}").format(date=result.valid_until)
        else:
            text = _("✓ Checked in — pass valid until {date}").format(date=result.valid_until)
        self.outcome(text, True, intent=intent)
        self.refresh_view()

    def action_freeze(self) -> None:
        from mms_tui.screens.dialog import ConfirmScreen

        card = self.selected_card()
        if card is None:
            return
        if card.status not in ("active", "frozen"):
            self.outcome(_("Card {card} is {state}: it cannot be frozen.").format(
                card=card.card_no, state=_(STATUS_NAMES.get(card.status, card.status))), ok=False)
            return
        frozen = card.status == "frozen"
        if frozen:
            question = _("Unfreeze card {card} ({type})?").format(card=card.card_no, type=card.type_name)
            details = [_("It can be used again at once; a pass's end moves on by the days it was frozen.")]
        else:
            question = _("Freeze card {card} ({type})?").format(card=card.card_no, type=card.type_name)
            details = [_("While frozen it cannot be used: {value} stays on it.").format(value=card_value(card))
                       if card.kind in ("stored_value", "visits") else
                       _("While frozen it cannot be used; its end date moves on by the days it stays frozen.")]
        txid = new_txid()

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_freeze(card.card_no, frozen, txid)

        self.app.push_screen(ConfirmScreen(question, details), answered)

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
        """The birthday, renewal, gift and transfer keys apply only to some members (the menu lists only those)."""
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
        key = ("birthday", str(self.member_id))
        txid = self.intent[1] if self.intent is not None and self.intent[0] == key else new_txid()
        self.intent = (key, txid)
        self.run_birthday(txid)

    @work(thread=True, exit_on_error=False, exclusive=True, group="desk-op")
    def run_birthday(self, txid: str) -> None:
        intent = (("birthday", str(self.member_id)), txid)
        try:
            result = in_connection(give_birthday_benefit, self.member_id, self.app.staff, txid,
                                   store=self.app.settings.store)
        except DomainError as exc:
            self.app.call_from_thread(partial(self.outcome, "✗ " + str(exc), False, intent=intent))
            return
        self.app.call_from_thread(partial(self.outcome, birthday_outcome(result), True, intent=intent))
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
            card = next((c for c in (self.view.cards if self.view else [])
                         if c.kind == "period" and c.status in ("active", "frozen", "expired")), None)
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
            self.outcome(_("No stored-value card to top up; issue one first (F6)."), ok=False)
            return
        if card.status != "active":
            self.outcome(_("Card {card} is {state}: it cannot be topped up.").format(
                card=card.card_no, state=_(STATUS_NAMES.get(card.status, card.status))), ok=False)
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
            self.outcome(_("Highlight the card that was lost (↑ ↓), then Ctrl+L."), ok=False)
            return
        self.app.push_screen(ReplaceCardScreen(card, self.view.name if self.view else ""), self.after_dialog)

    def action_edit(self) -> None:
        from mms_tui.screens.register import MemberFormScreen

        self.app.push_screen(MemberFormScreen(member_id=self.member_id), self.after_dialog)

    def action_record(self) -> None:
        """The member's details (contact, preferences, tags, consent, price level, the shop's fields) in one form."""
        self.open_record()

    @work(exit_on_error=False, exclusive=True, group="member-record")
    async def open_record(self) -> None:
        from mms_tui.screens.member_record import MemberRecordScreen
        from mms_tui.services.members.record import member_record

        record = await asyncio.to_thread(in_connection, member_record, self.member_id)
        self.app.push_screen(MemberRecordScreen(record, self.app.staff), self.after_dialog)

    def action_ticket(self) -> None:
        """Record what the member asks or complains about (客户服务); shown here until it is closed."""
        from mms_tui.screens.tickets import TicketDialog

        if self.view is not None:
            self.app.push_screen(TicketDialog(self.member_id, self.view.name, self.app.staff), self.after_dialog)

    def action_dismiss_prompts(self) -> None:
        """Put the prompts from the member's pattern away ("not now"): each stays away, and the next one shows when
        a purchase or a visit changes what it was about."""
        if self.view is None or not self.view.prompts:
            self.outcome(_("No prompts to put away."), False)
            return
        self.put_prompts_away(self.member_id, [p.key for p in self.view.prompts])

    @work(thread=True, exit_on_error=False, exclusive=True, group="member-prompts")
    def put_prompts_away(self, member_id: int, keys: list[str]) -> None:
        from mms_tui.services.loyalty.prompts import dismiss_prompts

        n = in_connection(dismiss_prompts, member_id, keys, self.app.staff)
        self.app.call_from_thread(self.prompts_put_away, member_id, n)

    def prompts_put_away(self, member_id: int, n: int) -> None:
        if member_id != self.member_id:
            return  # another member's screen by now
        if n:  # (Ctrl+X pressed again before the screen caught up: already away, nothing to say)
            self.outcome(ngettext("✓ {n} prompt put away", "✓ {n} prompts put away", n).format(n=n), True)
        self.refresh_view()

    def action_history(self) -> None:
        from mms_tui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.member_id), lambda _result: self.refresh_view())


def birthday_outcome(result: BirthdayGiftResult) -> str:
    parts = []
    if result.gift_name:
        parts.append(_("gift {name} given").format(name=result.gift_name))
    if result.item_name:
        parts.append(_("{item} given free").format(item=result.item_name))
    if result.coupon:
        parts.append(_("coupon {label} on the account, applies at checkout").format(label=result.coupon_label))
    return _("✓ Birthday: {what}").format(what="; ".join(parts))


class FamilyScreen(OperationDialog):
    """家庭: join the family of another member (by phone or card; a card swiped here names them), or leave it."""

    BINDINGS = [
        Binding("f10", "confirm", N_("Join"), id="family.save", priority=True),
        Binding("f8", "leave", N_("Leave family"), id="family.leave", priority=True),
    ]
    HINT = N_("F10 to join, F8 to leave the family, Esc to cancel")

    def __init__(self, member_id: int) -> None:
        super().__init__()
        self.member_id = member_id
        self.leaving = False

    def heading(self) -> str:
        return _("Family")

    def fields(self):
        yield Label("", id="family-members")
        yield field_row(_("Join family of"), Input(id="family-of", placeholder=_("phone or card number")))

    def on_swiped(self, event: Swiped) -> None:
        event.stop()
        self.query_one("#family-of", Input).value = event.read.value

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

    def action_leave(self) -> None:
        self.leaving = True
        self.action_confirm()

    def operation(self):
        key = None if self.leaving else self.query_one("#family-of", Input).value.strip()
        self.leaving = False
        if key == "":
            raise InvalidInput(_("Type or swipe the phone or card of a family member."))
        return partial(set_family, self.member_id, key, self.app.staff, self.txid)

    def succeeded(self, result) -> str:
        return (_("✓ Family: {names}").format(names=", ".join(result.members)) if result.family_id is not None
                else _("✓ Left the family."))

    def failed(self, message: str) -> None:
        super().failed(message)
        self.txid = new_txid()  # a refused change wrote nothing: a join after a leave is another operation
