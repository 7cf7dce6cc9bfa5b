"""F7 — the day's classes (课程) at this store: each session with its coach, room and places taken, and below it
the highlighted session's roster (places in order, then the waitlist). F9 shows only the classes of the staff
member logged in (a coach's own list). F2 checks the highlighted member in to the class (a member without their
card; with it, a swipe and F2 on their screen does the same); F8 marks the places not checked in as no-shows once
the class is over (the rules' no-show policy applies); F4 / F5 the day before / after."""

from __future__ import annotations

import datetime as dt
from functools import partial

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from mms_tui import clock
from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, error_message, in_connection
from mms_tui.services.base.text import fit
from mms_tui.services.bookings.classes import (
    RosterLine,
    SessionRow,
    class_check_in,
    list_sessions,
    mark_no_shows,
    session_roster,
)
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

PLACE_NAMES = {"booked": N_("booked"), "waitlisted": N_("waitlist"), "attended": N_("attended"),
               "no_show": N_("no-show"), "cancelled": N_("cancelled")}


def _day_sessions(store: str, day: dt.date, coach: str | None) -> list[SessionRow]:
    return list_sessions(day, day, store, coach=coach)


class ClassesScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="classes.back"),
        Binding("f2", "check_in", N_("Check in"), id="classes.check_in"),
        Binding("f8", "no_shows", N_("No-shows"), id="classes.no_shows"),
        Binding("f9", "mine", N_("Mine"), id="classes.mine"),
        Binding("f4", "day(-1)", N_("Day before"), id="classes.prev", show=False),
        Binding("f5", "day(1)", N_("Day after"), id="classes.next", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.day = clock.today()
        self.mine = False
        self.sessions: list[SessionRow] = []
        self.roster: list[RosterLine] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="classes-title")
        yield Table(id="classes-sessions", cursor_type="row", zebra_stripes=True)
        yield Static(id="classes-roster-title")
        yield Table(id="classes-roster", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def help_notes(self) -> list[str]:
        return [_("↑ ↓ choose a class; Tab moves to its roster, where F2 checks the highlighted member in."),
                _("F4 / F5: the day before / after. F9: only my classes.")]

    def on_mount(self) -> None:
        sessions = self.query_one("#classes-sessions", DataTable)
        for label, width in ((_("Time"), 11), (_("Class"), 14), (_("Coach"), 12), (_("Room"), 8),
                             (_("Places"), 7), (_("Waitlist"), 8), (_("Here"), 5)):
            sessions.add_column(label, width=width)
        roster = self.query_one("#classes-roster", DataTable)
        for label, width in (("#", 3), (_("Member"), 16), (_("Card"), 12), (_("State"), 10)):
            roster.add_column(label, width=width)
        sessions.focus()
        self.load()

    def action_day(self, days: int) -> None:
        self.day += dt.timedelta(days=days)
        self.load()

    def action_mine(self) -> None:
        self.mine = not self.mine
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="classes")
    def load(self) -> None:
        sessions = in_connection(_day_sessions, self.app.settings.store, self.day,
                                 self.app.staff.code if self.mine else None)
        self.app.call_from_thread(self.show, sessions)

    def show(self, sessions: list[SessionRow]) -> None:
        self.sessions = sessions
        who = _("my classes") if self.mine else _("all classes")
        self.query_one("#classes-title", Static).update(
            f"[b]{escape(self.app.settings.store or '')}  {self.day.isoformat()}  {escape(who)}[/b]")
        table = self.query_one("#classes-sessions", DataTable)
        row = table.cursor_row
        table.clear()
        for s in sessions:
            state = _("cancelled") if s.cancelled else f"{s.booked + s.attended + s.no_show}/{s.capacity}"
            table.add_row(f"{s.start:%H:%M}-{s.end:%H:%M}", fit(s.class_name, 14), fit(s.coach, 12), fit(s.room, 8),
                          state, str(s.waitlisted) if s.waitlisted else "", str(s.attended) if s.attended else "")
        if sessions:
            table.move_cursor(row=min(row, len(sessions) - 1))
        self.load_roster()

    def current(self) -> SessionRow | None:
        row = self.query_one("#classes-sessions", DataTable).cursor_row
        return self.sessions[row] if 0 <= row < len(self.sessions) else None

    @on(DataTable.RowHighlighted, "#classes-sessions")
    def session_highlighted(self) -> None:
        self.load_roster()

    @work(thread=True, exit_on_error=False, exclusive=True, group="roster")
    def load_roster(self) -> None:
        session = self.current()
        roster = in_connection(session_roster, session.id) if session is not None else []
        self.app.call_from_thread(self.show_roster, session, roster)

    def show_roster(self, session: SessionRow | None, roster: list[RosterLine]) -> None:
        self.roster = roster
        title = self.query_one("#classes-roster-title", Static)
        title.update(escape(f"{session.class_name} {session.start:%H:%M} · {session.coach}") if session else
                     _("No class on this day."))
        table = self.query_one("#classes-roster", DataTable)
        row = table.cursor_row
        table.clear()
        for line in roster:
            table.add_row(str(line.position), fit(line.member, 16), line.card_no, _(PLACE_NAMES[line.status]))
        if roster:
            table.move_cursor(row=min(row, len(roster) - 1))

    def action_check_in(self) -> None:
        session = self.current()
        table = self.query_one("#classes-roster", DataTable)
        line = self.roster[table.cursor_row] if self.roster and 0 <= table.cursor_row < len(self.roster) else None
        if session is None or line is None:
            self.notify(_("Choose a member on the roster first (Tab)."), severity="warning")
            return
        from mms_tui.services.ledger.operations import new_txid

        self.run(partial(class_check_in, line.member_id, self.app.settings.store, self.app.staff, new_txid(),
                         session_id=session.id),
                 _("{member} checked in to {name}.").format(member=line.member, name=session.class_name))

    def action_no_shows(self) -> None:
        session = self.current()
        if session is None:
            return
        self.run(partial(mark_no_shows, session.id, self.app.staff), None)

    @work(exclusive=True, group="class-op", exit_on_error=False)
    async def run(self, call, done: str | None) -> None:
        import asyncio

        try:
            result = await asyncio.to_thread(in_connection, call)
        except Exception as exc:
            self.notify(error_message(exc), severity="error", timeout=8)
            return
        if done is None:
            done = _("{n} marked no-show.").format(n=len(result))
        self.notify(done, timeout=6)
        self.load()
