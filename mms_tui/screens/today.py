"""F8 — today at this store, as a drawer is reconciled: sales (equal to ``mms report turnover`` for the day),
refunds with what they paid out, top-ups (equal to ``mms report topups``), card sales, check-ins; and the shifts of
the day (交班), each staff member's money per tender: every shift for a manager, a cashier's own otherwise. F9
closes a shift: the cash counted against what the ledger says the drawer holds."""

from __future__ import annotations

from functools import partial

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Header, Input, Label, Static

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, in_connection
from mms_tui.screens.dialog import OperationDialog
from mms_tui.services.base.text import fit, format_money, parse_yuan, plain_amount
from mms_tui.services.ledger.tenders import MONEY_TENDERS, tender_label
from mms_tui.services.money.shifts import ShiftSummary, close_shift, shift_report_lines, shifts_of_day
from mms_tui.services.reports.day import DaySummary, day_summary
from mms_tui.services.staff.permissions import may
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

# the reader states, for the catalog
_STATE_NAMES = (N_("connecting"), N_("connected"), N_("disconnected"), N_("stopped"))


def _today(viewer, store: str) -> tuple[DaySummary, list[ShiftSummary], list[dict], tuple[int, int]]:
    from mms_tui.services.base.resolve import resolve_store
    from mms_tui.services.messages.tickets import tickets
    from mms_tui.services.stock.queries import low_at_store

    open_tickets = tickets()
    return (day_summary(store), shifts_of_day(viewer, store), low_at_store(resolve_store(store, viewer), 8),
            (len(open_tickets), sum(t.overdue for t in open_tickets)))


def shift_state(shift: ShiftSummary | None, day: str) -> str:
    if shift is None:
        return _("no shift")
    if not shift.closed:
        return _("open since {time}").format(time=shift.since[11:16] if shift.since[:10] == day else shift.since[5:16])
    if not shift.over_short_fen:
        return _("closed, balanced")
    if shift.over_short_fen > 0:
        return _("closed, over {amount}").format(amount=format_money(shift.over_short_fen))
    return _("closed, short {amount}").format(amount=format_money(-shift.over_short_fen))


def minus(amount: int) -> str:
    return "−" + format_money(amount) if amount else format_money(0)


class TodayScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="today.back"),
        Binding("f2", "stores", N_("Stores"), id="today.stores", show=False),
        Binding("f3", "stock", N_("Stock"), id="today.stock"),
        Binding("f4", "tickets", N_("Tickets"), id="today.tickets", show=False),
        Binding("f5", "reload", N_("Refresh"), id="today.reload", show=False),
        Binding("f6", "report", N_("Shift report"), id="today.report"),
        Binding("f7", "my_commissions", N_("Commission"), id="today.my_commissions"),
        Binding("f8", "charts", N_("Charts"), id="today.charts", show=False),
        Binding("f9", "close_shift", N_("Close shift"), id="today.close_shift"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.shifts: list[ShiftSummary] = []
        self.rows: list[str] = []  # the staff code of each row of the staff list

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="today-title")
        yield Table(id="today-table", cursor_type="none", zebra_stripes=True)
        yield Table(id="today-shifts", cursor_type="row", zebra_stripes=True)
        yield Static(id="today-stock")
        yield Static(id="today-tickets")
        yield Static(id="today-stores")
        yield Static(id="today-devices")
        yield Footer()

    def on_mount(self) -> None:
        # fixed widths: the figures line up the same whatever the day holds (and a picture of it is repeatable)
        day = self.query_one("#today-table", DataTable)
        for label, width in ((_("What"), 16), (_("Count"), 6), (_("Amount"), 14), (_("What"), 14), (_("Amount"), 14)):
            day.add_column(label, width=width)
        staff = self.query_one("#today-shifts", DataTable)
        for label, width in ((_("Staff"), 14), (_("Ops"), 4), (_("Cash"), 12), (_("Others"), 22), (_("Shift"), 18)):
            staff.add_column(label, width=width)
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True)
    def load(self) -> None:
        day, shifts, low, open_tickets = in_connection(_today, self.app.staff, self.app.settings.store)
        self.app.call_from_thread(self.show, day, shifts, low, open_tickets)

    def show(self, day: DaySummary, shifts: list[ShiftSummary], low: list[dict] | None = None,
             open_tickets: tuple[int, int] = (0, 0)) -> None:
        self.query_one("#today-title", Static).update(f"[b]{escape(day.store)}  {day.day}[/b]")
        left = [(_("Sales"), str(day.sales), format_money(day.sales_total_fen)),  # each label fits 16 columns
                (_("Refunded sales"), str(day.sale_refunds), minus(day.sale_refunds_fen)),
                (_("Net sales"), "", format_money(day.net_fen)),
                (_("Top-ups"), str(day.topups), format_money(day.topup_fen)),
                (_("Bonus given"), "", format_money(day.bonus_fen)),
                (_("Card sales"), str(day.card_sales), format_money(day.card_sales_fen)),
                (_("All refunds paid"), str(day.refunds), minus(day.refunds_paid_fen)),
                (_("Check-ins"), str(day.checkins), "")]
        right = [(tender_label(t), format_money(a)) for t, a in sorted(day.by_tender.items())]
        table = self.query_one("#today-table", DataTable)
        table.clear()
        for i, (what, count, amount) in enumerate(left):
            other = right[i] if i < len(right) else ("", "")
            table.add_row(what, count, amount, *other)
        # one row per staff member who worked the store today: their money per tender from the ledger, and the
        # state of their shift (the latest one of the day)
        latest = {s.staff_code: s for s in shifts}
        people = {p.code: p for p in day.staff}
        codes = sorted(set(people) | set(latest))
        self.shifts = [latest[c] for c in codes if c in latest]
        self.rows = codes
        table = self.query_one("#today-shifts", DataTable)
        table.clear()
        for code in codes:
            person, shift = people.get(code), latest.get(code)
            money = person.by_tender if person else dict.fromkeys(MONEY_TENDERS, 0)
            others = " ".join(f"{tender_label(t)}{format_money(money[t])}" for t in MONEY_TENDERS[1:] if money[t])
            name = person.name if person else shift.staff_name
            table.add_row(fit(f"{code} {name}", 14), str(person.operations if person else 0),
                          format_money(money["cash"]), fit(others, 22), shift_state(shift, day.day))
        self.show_low_stock(low or [])
        waiting = self.query_one("#today-tickets", Static)
        waiting.display = bool(open_tickets[0])
        waiting.update(escape(_("Service tickets (F4): {n} open, {late} overdue").format(
            n=open_tickets[0], late=open_tickets[1])))
        stores = self.query_one("#today-stores", Static)
        stores.display = may(self.app.staff, "reports.read")
        stores.update(escape(_("Every store's figures today (F2)")))
        self.show_devices()

    def show_low_stock(self, low: list[dict]) -> None:
        """The products low at this store (at or below their threshold, or below zero): F3 opens the stock."""
        stock = self.query_one("#today-stock", Static)
        stock.display = bool(low)
        items = "  ".join(f"{r['code']} {r['on_hand']}" + (f"≤{r['low_at']}" if r["low_at"] is not None else "")
                          for r in low)
        stock.update(escape(fit(_("Low stock (F3): {items}").format(items=items), 78)))

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
        self.query_one("#today-devices", Static).update(escape("\n".join(lines)))

    def chosen_shift(self) -> ShiftSummary | None:
        """The highlighted staff member's shift when the list has the keyboard, else the desk's staff member's."""
        table = self.query_one("#today-shifts", DataTable)
        by_code = {s.staff_code: s for s in self.shifts}
        if self.rows and table.has_focus:
            return by_code.get(self.rows[min(table.cursor_row, len(self.rows) - 1)])
        return by_code.get(self.app.staff.code)

    def action_stock(self) -> None:
        from mms_tui.screens.stock import StockScreen

        self.app.push_screen(StockScreen())

    def action_stores(self) -> None:
        """总部看板: today's figures per store this manager looks after."""
        from mms_tui.screens.stores_today import StoresTodayScreen

        self.app.push_screen(StoresTodayScreen())

    def action_charts(self) -> None:
        """经营图表: the manager's screen, the charts of the stores this manager looks after."""
        from mms_tui.screens.charts import ChartsScreen

        self.app.push_screen(ChartsScreen())

    def action_tickets(self) -> None:
        """客户服务: the open service tickets, to answer, note, close or assign."""
        from mms_tui.screens.tickets import TicketsScreen

        self.app.push_screen(TicketsScreen())

    def action_report(self) -> None:
        shift = self.chosen_shift()
        if shift is not None:
            self.app.push_screen(ShiftReportScreen(shift))

    def action_my_commissions(self) -> None:
        """日结: the logged-in staff member's own commissions today."""
        from mms_tui.screens.commissions import MyCommissionsScreen

        self.app.push_screen(MyCommissionsScreen())

    def action_close_shift(self) -> None:
        shift = self.chosen_shift()
        if shift is None or shift.closed:
            own = [s for s in self.shifts if s.staff_code == self.app.staff.code and not s.closed]
            shift = own[0] if own else None
        if shift is None:
            self.notify(_("No open shift to close."), severity="warning")
            return
        if shift.staff_code != self.app.staff.code and not may(self.app.staff, "shift.others"):
            self.notify(_("Only a manager closes another staff member's shift."), severity="warning")
            return
        self.app.push_screen(ShiftCloseScreen(shift), self.closed)

    def closed(self, summary: ShiftSummary | None) -> None:
        if summary is None:
            return
        own = summary.staff_code == self.app.staff.code
        self.app.push_screen(ShiftReportScreen(summary, print_it=True),
                             lambda _result: self.app.log_out() if own else self.load())


class ShiftCloseScreen(OperationDialog):
    """交班: count the drawer. Expected per tender from the ledger; cash counted is required, the other tenders'
    slips are taken as expected unless typed."""

    HINT = N_("F10 to close the shift, Esc to cancel")

    def __init__(self, shift: ShiftSummary) -> None:
        super().__init__()
        self.shift = shift

    def heading(self) -> str:
        return _("Close the shift of {name} ({code})").format(name=self.shift.staff_name, code=self.shift.staff_code)

    def fields(self):
        expected = self.shift.expected
        yield Label(_("Since {since}; the float was {float}.").format(
            since=self.shift.since[:16], float=format_money(self.shift.float_fen)))
        yield Label(_("Counted in the drawer (a tender left empty is taken as expected):"), classes="hint")
        for tender in MONEY_TENDERS:
            with Horizontal(classes="count-row"):
                yield Label(_("{tender}: expected {amount}").format(tender=tender_label(tender),
                                                                     amount=format_money(expected.get(tender, 0))))
                yield Input(id=f"count-{tender}", compact=True, placeholder=_("counted (¥)") if tender == "cash"
                            else plain_amount(expected.get(tender, 0)))
        yield Input(id="shift-note", compact=True, placeholder=_("Note (optional)"))

    def on_mount(self) -> None:
        self.query_one("#count-cash", Input).focus()

    def operation(self):
        counted = {}
        for tender in MONEY_TENDERS:
            text = self.query_one(f"#count-{tender}", Input).value.strip()
            if text:
                counted[tender] = parse_yuan(text)
        return partial(close_shift, self.shift.staff_code, counted, self.txid, by=self.app.staff,
                       store=self.app.settings.store, note=self.query_one("#shift-note", Input).value.strip())

    def succeeded(self, result) -> ShiftSummary:  # type: ignore[override]
        return result


class ShiftReportScreen(WorkerErrors, ModalScreen[None]):
    """The shift report as it prints (F6 prints it again)."""

    BINDINGS = [
        Binding("escape", "close", N_("Close"), id="shift_report.close"),
        Binding("f6", "print", N_("Print"), id="shift_report.print"),
    ]

    def __init__(self, shift: ShiftSummary, *, print_it: bool = False) -> None:
        super().__init__()
        self.shift = shift
        self.print_it = print_it
        self.lines = shift_report_lines(shift)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog narrow"):
            yield Static(escape("\n".join(self.lines)), id="shift-report")
            yield Label(_("Esc closes · F6 prints"), classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        if self.print_it:
            self.action_print()

    @work(thread=True, exit_on_error=False, group="printer")
    def action_print(self) -> None:
        if not self.app.settings.printer:
            if not self.print_it:
                self.app.call_from_thread(self.notify, _("No receipt printer is set up."), severity="warning")
            return
        self.app.print_lines(self.lines, _("Shift report"))

    def action_close(self) -> None:
        self.dismiss(None)
