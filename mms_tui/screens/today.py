"""Today at this store: sales by tender, top-ups and bonus given, check-ins."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from mms_tui.app import WorkerErrors, in_connection
from mms_tui.i18n import N_, _
from mms_tui.services.desk import DaySummary, day_summary
from mms_tui.services.receipt import TENDER_LABELS
from mms_tui.services.text import format_money
from mms_tui.widgets.footer import Footer

# the reader states, for the catalog
_STATE_NAMES = (N_("connecting"), N_("connected"), N_("disconnected"), N_("stopped"))


class TodayScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", _("Back"), id="today.back"),
        Binding("f5", "reload", _("Refresh"), id="today.reload"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="today-title")
        yield DataTable(id="today-table", cursor_type="none", zebra_stripes=True)
        yield Static(id="today-checkins")
        yield Static(id="today-devices")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#today-table", DataTable).add_columns(_("What"), _("Count"), _("Amount"))
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True)
    def load(self) -> None:
        summary = in_connection(day_summary, self.app.settings.store)
        self.app.call_from_thread(self.show, summary)

    def show(self, day: DaySummary) -> None:
        self.query_one("#today-title", Static).update(f"[b]{day.store}  {day.day}[/b]")
        table = self.query_one("#today-table", DataTable)
        table.clear()
        table.add_row(_("Sales"), str(day.sales), format_money(day.sales_total_fen))
        for tender, amount in sorted(day.by_tender.items()):
            table.add_row("  " + TENDER_LABELS.get(tender, tender), "", format_money(amount))
        table.add_row(_("Top-ups"), str(day.topups), format_money(day.topup_fen))
        table.add_row("  " + _("Bonus given"), "", format_money(day.bonus_fen))
        table.add_row(_("Check-ins"), str(day.checkins), "")
        table.add_row(_("Refunds"), str(day.refunds), "")
        recent = [_("Recent check-ins")] + [f"{r.when}  {r.what}" for r in day.recent_checkins]
        self.query_one("#today-checkins", Static).update("\n".join(recent))
        self.show_devices()

    def show_devices(self) -> None:
        """Each reader: state, reads, reads per minute, frame errors and the last error (for the installer)."""
        lines = [_("Devices")] if self.app.readers else []
        for reader in self.app.readers:
            s = reader.status()
            lines.append(_("{url} ({protocol}): {state}, {reads} reads, {rpm}/min, {errors} frame errors").format(
                url=s.url, protocol=s.protocol, state=_(s.state), reads=s.reads, rpm=s.reads_per_minute,
                errors=s.errors))
            if s.last_error:
                lines.append("  " + _("last error: {error}").format(error=s.last_error))
        self.query_one("#today-devices", Static).update("\n".join(lines))
