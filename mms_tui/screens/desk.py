"""The desk: one search box that always has focus. Card, phone, last 4, name or pinyin initials + Enter."""

from __future__ import annotations

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Static

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, in_connection, typed_character
from mms_tui.services.base.text import fit, format_money
from mms_tui.services.members.lookup import LookupHit, lookup
from mms_tui.services.reports.day import recent_checkins
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table


class DeskScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "clear", N_("Clear"), id="desk.clear", show=False),
        Binding("f2", "focus_search", N_("Search"), id="desk.search", show=False),
        Binding("f3", "register", N_("New member"), id="desk.register"),
        Binding("f4", "clock", N_("Clock"), id="desk.clock"),
        Binding("f5", "clocked_in", N_("Clocked in"), id="desk.clocked_in", show=False),
        Binding("f6", "bookings", N_("Bookings"), id="desk.bookings"),
        Binding("f7", "classes", N_("Classes"), id="desk.classes", show=False),
        Binding("f8", "today", N_("Today"), id="desk.today"),
        Binding("f9", "walk_in", N_("Walk-in"), id="desk.walk_in"),
        Binding("f10", "manage", N_("Manage"), id="desk.manage"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[LookupHit] = []
        self.last_query = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=_("Swipe a card, or type card no / phone / last 4 / name / pinyin (zs)"), id="search",
                    select_on_focus=False)  # what was typed on another screen is kept, not selected
        yield Table(id="results", cursor_type="row", zebra_stripes=True)
        yield Label("", id="status")
        yield Static(id="recent-checkins")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#results", DataTable)
        table.add_columns(_("Name"), _("Phone"), _("Tier"), _("Cards"), _("Stored value"), _("Points"))
        self.query_one("#search", Input).focus()
        self.load_recent()

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def help_notes(self) -> list[str]:
        return [_("Type a card number, a phone or its last 4 digits, a name or pinyin initials, then Enter; Esc "
                  "clears it."),
                _("F6: the day's bookings. F7: the day's classes and their rosters."),
                _("A card swiped on any screen opens its member; a staff card clocks in or out (F5: who is in).")]

    def on_key(self, event: events.Key) -> None:
        """Typing always goes to the search, wherever the focus was (the results list, say)."""
        search = self.query_one("#search", Input)
        char = typed_character(event)
        if search.has_focus or char is None:
            return
        event.stop()
        event.prevent_default()
        self.type_into_search(char)

    def type_into_search(self, text: str, *, submit: bool = False) -> None:
        """Text into the search box (what was typed elsewhere, or a wedge burst that matched no card)."""
        search = self.query_one("#search", Input)
        search.value = (search.value + text) if not submit else text
        search.cursor_position = len(search.value)
        search.focus()
        if submit and search.value.strip():
            self.run_lookup(search.value.strip())

    def action_register(self) -> None:
        from mms_tui.screens.register import MemberFormScreen

        digits = "".join(ch for ch in self.last_query if ch.isdigit())
        self.app.push_screen(MemberFormScreen(phone=digits if len(digits) >= 11 else ""), self.registered)

    def registered(self, member_id: int | None) -> None:
        if member_id is None:
            self.action_focus_search()
        else:
            self.app.push_screen(self.app.member_screen(member_id), lambda _result: self.action_focus_search())

    def action_clock(self) -> None:
        """考勤 by staff code and PIN (a staff card swiped anywhere does the same without the PIN)."""
        from mms_tui.screens.attendance import ClockPinScreen

        def clocked(line: str | None) -> None:
            if line:
                self.notify(line, timeout=6)
            self.action_focus_search()

        self.app.push_screen(ClockPinScreen(self.app.settings.store), clocked)

    def action_clocked_in(self) -> None:
        from mms_tui.screens.attendance import ClockedInScreen

        self.app.push_screen(ClockedInScreen(self.app.settings.store), lambda _result: self.action_focus_search())

    def action_bookings(self) -> None:
        from mms_tui.screens.bookings import BookingsScreen

        self.app.push_screen(BookingsScreen(), lambda _result: self.action_focus_search())

    def action_classes(self) -> None:
        from mms_tui.screens.classes import ClassesScreen

        self.app.push_screen(ClassesScreen(), lambda _result: self.action_focus_search())

    def action_today(self) -> None:
        from mms_tui.screens.today import TodayScreen

        self.app.push_screen(TodayScreen(), lambda _result: self.action_focus_search())

    def on_screen_resume(self) -> None:
        """Back at the desk from anywhere (Esc from a member included): typing goes to the search again, never to
        the last results, where Enter would reopen the highlighted member."""
        self.action_focus_search()
        self.load_recent()

    @work(thread=True, exit_on_error=False, exclusive=True, group="recent")
    def load_recent(self) -> None:
        recent = in_connection(recent_checkins, self.app.settings.store)
        lines = [f"{r.when} {r.what}" for r in recent]
        text = _("Recent check-ins: {list}").format(list="  ".join(lines)) if lines else ""
        self.app.call_from_thread(self.query_one("#recent-checkins", Static).update, text)

    def action_manage(self) -> None:
        """The manager's area: staff, stores, card types, products and services, the loyalty rules. A cashier's
        desk asks for a manager's code and PIN first; every change there is recorded under that manager."""
        from mms_tui.screens.manage import open_area
        from mms_tui.screens.pin import ManagerPinScreen
        from mms_tui.services.staff.permissions import may

        def opened(manager) -> None:
            if manager is None:
                self.action_focus_search()
            else:
                open_area(self.app, manager, self.action_focus_search)

        if may(self.app.staff, "backoffice.open"):
            opened(self.app.staff)
        else:
            self.app.push_screen(ManagerPinScreen(_("Open the manager's area"), "backoffice.open"), opened)

    def action_walk_in(self) -> None:
        from mms_tui.screens.checkout import CheckoutScreen

        self.app.push_screen(CheckoutScreen(None), lambda _result: self.action_focus_search())

    def action_clear(self) -> None:
        search = self.query_one("#search", Input)
        search.value = ""
        self.query_one("#results", DataTable).clear()
        self.query_one("#status", Label).update("")
        search.focus()

    @on(Input.Submitted, "#search")
    def search(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if query:
            self.run_lookup(query)

    @work(thread=True, exit_on_error=False, exclusive=True, group="lookup")
    def run_lookup(self, query: str) -> None:
        hits = in_connection(lookup, query, 50)
        self.app.call_from_thread(self.show_hits, query, hits)

    def show_hits(self, query: str, hits: list[LookupHit]) -> None:
        self.hits = hits
        table = self.query_one("#results", DataTable)
        table.clear()
        status = self.query_one("#status", Label)
        self.last_query = query
        if not hits:
            status.update(_("Nothing found for {query!r}. F3 registers a new member.").format(query=query))
            return
        for i, hit in enumerate(hits):
            table.add_row(fit(hit.name, 12), hit.phone_masked, fit(hit.tier, 10),
                          fit(" ".join(c.card_no for c in hit.cards), 26),
                          format_money(hit.stored_value_fen), str(hit.points), key=str(i))
        status.update(_("{n} found").format(n=len(hits)))
        if len(hits) == 1 or (hits[0].match in ("card", "phone") and hits[1:2] and hits[1].match != hits[0].match):
            self.open_member(hits[0])
        else:
            table.focus()

    @on(DataTable.RowSelected, "#results")
    def picked(self, event: DataTable.RowSelected) -> None:
        self.open_member(self.hits[int(event.row_key.value)])

    def open_member(self, hit: LookupHit) -> None:
        card = next((c for c in hit.cards if c.card_no == hit.matched_card), None)
        if card is not None and card.status == "lost":  # a lost card typed in warns just as one swiped
            self.query_one("#search", Input).value = ""
            self.app.show_card(card.card_no, [hit])
            return
        search = self.query_one("#search", Input)
        search.value = ""
        self.app.push_screen(self.app.member_screen(hit.member_id, hit.matched_card), lambda _result: search.focus())
