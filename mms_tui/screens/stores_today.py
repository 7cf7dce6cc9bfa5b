"""总部看板 (F2 on Today): today's figures per store the logged-in manager looks after — an admin the whole chain,
a region's manager its stores, a store's manager their own — with their total; the ``stores`` report for today.
Whom it shows is the service's decision (reports.read and the store scope); a cashier is told so here."""

from __future__ import annotations

import asyncio

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, error_message, in_connection
from mms_tui.services.base.text import fit, format_money
from mms_tui.services.reports.stores import stores_today
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table


class StoresTodayScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="stores_today.back"),
        Binding("f5", "reload", N_("Refresh"), id="stores_today.reload"),
    ]
    #: 64 columns and 12 of cell padding: whole within 80
    COLUMNS = ((N_("Store"), 18), (N_("Sales"), 5), (N_("Net"), 12), (N_("Top-ups"), 11), (N_("Bonus"), 9),
               (N_("Check-ins"), 9))

    def compose(self) -> ComposeResult:
        yield Header()
        yield Table(id="stores-today-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="stores-today-note")
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("Stores today")
        table = self.query_one("#stores-today-table", DataTable)
        for label, width in self.COLUMNS:
            table.add_column(_(label), width=width)
        table.focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="stores-today", exit_on_error=False)
    async def load(self) -> None:
        note = self.query_one("#stores-today-note", Static)
        try:
            rows = await asyncio.to_thread(in_connection, stores_today, self.app.staff)
        except Exception as exc:
            note.update(escape(error_message(exc)))
            return
        table = self.query_one("#stores-today-table", DataTable)
        table.clear()
        for row in rows:
            name = f"{row['store']} {row['name']}".strip()
            table.add_row(fit(name, 18), str(row["sale_count"]), format_money(int(row["net_fen"])),  # type: ignore[call-overload]
                          format_money(int(row["principal_fen"])), format_money(int(row["bonus_fen"])),  # type: ignore[call-overload]
                          str(row["check_ins"]))
        note.update(escape(_("{n} stores. Net: sales less refunds; top-ups: principal paid in.").format(
            n=max(len(rows) - 1, 0))))
