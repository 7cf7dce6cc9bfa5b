"""F6 — the day's bookings (预约) at this store: staff as columns, times as rows, the current time marked (▶).
The arrows move over the grid (it scrolls sideways when the staff do not fit); Enter on a free slot books it, on a
booking offers what can be done with it. F2 — the member arrived: the bill opens with the booked services and their
performer. F3 moves, F7 marks a no-show, F8 cancels (with a reason); F4 / F5 the day before / after, F6 today; F9
the list of the day (every booking, cancelled ones too: arrivals and no-shows at a glance), also the view on a
narrow terminal. Conflicts are refused with the reason and the next free slots; F6 in the booking form takes the
first of them."""

from __future__ import annotations

import datetime as dt
from functools import partial

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Static

from mms_tui import clock
from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, error_message, in_connection
from mms_tui.screens.dialog import MenuScreen, OperationDialog, field_row
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import WEEKDAY_NAMES, display_width, fit
from mms_tui.services.bookings.appointments import (
    Arrival,
    BookingRefused,
    BookingResult,
    BookingView,
    arrive,
    book_at_desk,
    cancel,
    link_sale,
    move,
    next_step,
    no_show,
    policy_text,
)
from mms_tui.services.bookings.dayview import DayGrid, day_grid
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

#: a staff column's width, and the time column's
COLUMN = 12
TIME = 6
#: below this width the day is shown as a list
NARROW = 60

STATUS_NAMES = {"booked": N_("booked"), "arrived": N_("arrived"), "cancelled": N_("cancelled"),
                "no_show": N_("no-show")}
STATUS_MARKS = {"booked": "", "arrived": "✓", "no_show": "✗", "cancelled": "—"}


def day_title(grid: DayGrid) -> str:
    counts = {s: sum(1 for b in grid.bookings if b.status == s) for s in STATUS_NAMES}
    figures = "  ".join(f"{_(STATUS_NAMES[s])} {n}" for s, n in counts.items() if n)
    return f"{grid.store_code}  {grid.day.isoformat()} {_(WEEKDAY_NAMES[grid.day.weekday()])}  {figures}".rstrip()


def cell_text(grid: DayGrid, row: int, col: int) -> Text:
    hit = grid.cells.get((row, col))
    if hit is None:
        return Text("" if grid.working(row, col) else "·", style="dim")
    booking, first = hit
    mark = STATUS_MARKS[booking.status]
    if first:
        text = padded(f"{mark}{booking.who}")
        return Text(text, style="bold reverse" if booking.status == "booked" else "reverse")
    return Text(padded(f"│{booking.services}"), style="dim" if booking.status == "no_show" else "")


def padded(text: str) -> str:
    """Fitted to a staff column and filled to its edge (a booking reads as one bar)."""
    text = fit(text, COLUMN - 1)
    return text + " " * max(0, COLUMN - 1 - display_width(text))


class BookingsScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="bookings.back"),
        Binding("f2", "arrive", N_("Arrived"), id="bookings.arrive"),
        Binding("f3", "move", N_("Move"), id="bookings.move"),
        Binding("f4", "day(-1)", N_("Day before"), id="bookings.prev", show=False),
        Binding("f5", "day(1)", N_("Day after"), id="bookings.next", show=False),
        Binding("f6", "today", N_("Today"), id="bookings.today", show=False),
        Binding("f7", "no_show", N_("No-show"), id="bookings.no_show"),
        Binding("f8", "cancel_booking", N_("Cancel"), id="bookings.cancel"),
        Binding("f9", "toggle_list", N_("List"), id="bookings.list"),
        Binding("question_mark", "app.help", N_("Help"), id="bookings.help", show=False),
        Binding("right", "slide(1)", "→", id="bookings.right", show=False, priority=True),
        Binding("left", "slide(-1)", "←", id="bookings.left", show=False, priority=True),
    ]

    def __init__(self, day: dt.date | None = None) -> None:
        super().__init__()
        self.day = day or clock.today()
        self.grid: DayGrid | None = None
        self.listed: list[BookingView] = []
        self.as_list = False
        self.placed = False  # the cursor was put on the current time once
        self.first_staff = 0  # the first staff member the grid shows

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="bookings-title")
        yield Table(id="bookings-grid", cursor_type="cell", zebra_stripes=False)
        yield Table(id="bookings-list", cursor_type="row", zebra_stripes=True)
        yield Static(id="bookings-detail")
        yield Footer()

    def help_notes(self) -> list[str]:
        return [_("Arrows: move over the grid; Enter: book a free slot, or act on a booking."),
                _("F4 / F5: the day before / after, F6: today. F9: the day as a list.")]

    def on_mount(self) -> None:
        table = self.query_one("#bookings-list", DataTable)
        for label, width in ((_("Time"), 11), (_("Staff"), 10), (_("Who"), 12), (_("Services"), 18),
                             (_("Status"), 10)):
            table.add_column(label, width=width)
        self.as_list = self.size.width < NARROW
        self.show_mode()
        self.load()

    def show_mode(self) -> None:
        self.query_one("#bookings-grid", DataTable).display = not self.as_list
        self.query_one("#bookings-list", DataTable).display = self.as_list
        (self.query_one("#bookings-list" if self.as_list else "#bookings-grid", DataTable)).focus()

    def action_toggle_list(self) -> None:
        self.as_list = not self.as_list
        if self.as_list:
            self.draw_list()
        self.show_mode()
        self.show_detail()

    def action_day(self, days: int) -> None:
        self.day += dt.timedelta(days=days)
        self.placed = False
        self.load()

    def action_today(self) -> None:
        self.day = clock.today()
        self.placed = False
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="day")
    def load(self) -> None:
        grid = in_connection(day_grid, self.app.settings.store, self.day, viewer=self.app.staff)
        self.app.call_from_thread(self.show, grid)

    def show(self, grid: DayGrid) -> None:
        self.grid = grid
        self.listed = grid.bookings
        self.first_staff = min(self.first_staff, max(0, len(grid.columns) - self.visible()))
        self.draw_grid()
        if self.as_list:
            self.draw_list()
        self.show_detail()

    def visible(self) -> int:
        """How many staff columns fit beside the time: the grid holds only those (a DataTable draws every column
        of every line it shows, so a store of 30 staff would cost ten times the drawing); the arrows slide it."""
        width = self.query_one("#bookings-grid", DataTable).size.width or self.size.width
        return max(1, (width - TIME - 2) // COLUMN)

    def draw_grid(self) -> None:
        grid = self.grid
        if grid is None:
            return
        table = self.query_one("#bookings-grid", DataTable)
        keep = table.cursor_coordinate if self.placed else None
        shown = range(self.first_staff, min(len(grid.columns), self.first_staff + self.visible()))
        more = ("◀" if self.first_staff else "") + ("▶" if shown.stop < len(grid.columns) else "")
        self.query_one("#bookings-title", Static).update(
            f"[b]{escape(day_title(grid))}[/b]" + (f"  {shown.start + 1}–{shown.stop}/{len(grid.columns)} {more}"
                                                   if more else ""))
        labels = [_("Time"), *(fit(grid.columns[col].name, COLUMN - 1) for col in shown)]
        if [str(c.label) for c in table.columns.values()] == labels:
            table.clear()  # the same staff: only the rows are drawn again
        else:
            table.clear(columns=True)
            table.add_column(labels[0], width=TIME)
            for label in labels[1:]:
                table.add_column(label, width=COLUMN - 1)
        for row, t in enumerate(grid.times):
            marker = "▶" if row == grid.now_row else " "
            table.add_row(Text(f"{marker}{t:%H:%M}", style="bold" if marker != " " else ""),
                          *[cell_text(grid, row, col) for col in shown])
        if keep is not None and keep.row < len(grid.times) and keep.column <= len(shown):
            table.cursor_coordinate = keep
        elif grid.times:
            start_row = grid.now_row if grid.now_row is not None else 0
            table.cursor_coordinate = Coordinate(start_row, 1 if grid.columns else 0)
            self.placed = True

    def draw_list(self) -> None:
        listing = self.query_one("#bookings-list", DataTable)
        cursor = listing.cursor_row
        listing.clear()
        for b in self.listed:
            listing.add_row(f"{b.start:%H:%M}-{b.end:%H:%M}", fit(b.staff_name, 10), fit(b.who, 12),
                            fit(b.services, 18), fit(f"{STATUS_MARKS[b.status]}{_(STATUS_NAMES[b.status])}", 10))
        if self.listed:
            listing.move_cursor(row=min(cursor, len(self.listed) - 1))

    def action_slide(self, step: int) -> None:
        """← / → on the grid: the cursor moves; at the edge of the staff shown the grid slides by one."""
        table = self.query_one("#bookings-grid", DataTable)
        if self.as_list or self.grid is None or not table.has_focus:
            return
        at = table.cursor_coordinate
        shown = min(self.visible(), len(self.grid.columns) - self.first_staff)
        target = at.column + step
        if 0 <= target <= shown:
            table.cursor_coordinate = at._replace(column=target)
        elif target > shown and self.first_staff + shown < len(self.grid.columns):
            self.first_staff += 1
            self.draw_grid()
            table.cursor_coordinate = at
        elif target < 0 < self.first_staff or (target == 0 and self.first_staff):
            self.first_staff -= 1
            self.draw_grid()
            table.cursor_coordinate = at
        self.show_detail()

    # --- where the cursor is -----------------------------------------------------------------------------------

    def slot(self) -> tuple[str, dt.datetime] | None:
        """The staff code and start of the free grid cell under the cursor."""
        if self.grid is None or self.as_list:
            return None
        at = self.query_one("#bookings-grid", DataTable).cursor_coordinate
        col = self.first_staff + at.column - 1
        if at.column < 1 or col >= len(self.grid.columns) or at.row >= len(self.grid.times):
            return None
        return self.grid.columns[col].code, self.grid.times[at.row]

    def current(self) -> BookingView | None:
        """The booking under the cursor (grid or list)."""
        if self.grid is None:
            return None
        if self.as_list:
            row = self.query_one("#bookings-list", DataTable).cursor_row
            return self.listed[row] if 0 <= row < len(self.listed) else None
        at = self.query_one("#bookings-grid", DataTable).cursor_coordinate
        if at.column < 1:
            return None
        hit = self.grid.cells.get((at.row, self.first_staff + at.column - 1))
        return hit[0] if hit else None

    @on(DataTable.CellHighlighted)
    @on(DataTable.RowHighlighted)
    def highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        b = self.current()
        detail = self.query_one("#bookings-detail", Static)
        if b is None:
            slot = self.slot()
            name = next((c.name for c in self.grid.columns if c.code == slot[0]), "") if slot and self.grid else ""
            detail.update(escape(_("Free: {time} {staff} — Enter books it").format(
                time=f"{slot[1]:%H:%M}", staff=name)) if slot else "")
            return
        room = f" · {b.room_code}" if b.room_code else ""
        note = f"\n{b.note}" if b.note else ""
        detail.update(escape(f"{b.start:%H:%M}-{b.end:%H:%M} {b.who} {b.phone_tail} · {b.services} · "
                             f"{b.staff_name}{room} · {_(STATUS_NAMES[b.status])}{note}"))

    @on(DataTable.CellSelected, "#bookings-grid")
    @on(DataTable.RowSelected, "#bookings-list")
    def selected(self, event) -> None:
        event.stop()
        b = self.current()
        if b is None:
            slot = self.slot()
            if slot is not None:
                self.book(*slot)
            return
        if b.status != "booked":
            self.notify(_("This booking is {status}.").format(status=_(STATUS_NAMES[b.status])))
            return
        items = [("arrive", "f2", _("Arrived: check in and open the bill")), ("move", "f3", _("Move")),
                 ("no_show", "f7", _("No-show")), ("cancel_booking", "f8", _("Cancel"))]
        self.app.push_screen(MenuScreen(f"{b.who} {b.start:%H:%M}", items),
                             lambda action: getattr(self, f"action_{action}")() if action else None)

    # --- the actions -------------------------------------------------------------------------------------------

    def book(self, staff_code: str, start: dt.datetime) -> None:
        self.app.push_screen(BookDialog(self.app.settings.store, staff_code, start), self.done)

    def done(self, line: str | None) -> None:
        if line:
            self.notify(line, timeout=6)
        self.load()

    def live(self) -> BookingView | None:
        b = self.current()
        if b is None:
            self.notify(_("No booking here."), severity="warning")
            return None
        if b.status != "booked":
            self.notify(_("This booking is {status}.").format(status=_(STATUS_NAMES[b.status])), severity="warning")
            return None
        return b

    def action_move(self) -> None:
        b = self.live()
        if b is not None:
            self.app.push_screen(MoveBookingDialog(b), self.done)

    def action_cancel_booking(self) -> None:
        b = self.live()
        if b is not None:
            self.app.push_screen(CancelBookingDialog(b), self.done)

    def action_no_show(self) -> None:
        b = self.live()
        if b is not None:
            self.app.push_screen(NoShowDialog(b), self.done)

    def action_arrive(self) -> None:
        b = self.live()
        if b is not None:
            self.run_arrival(b)

    @work(exclusive=True, group="arrive", exit_on_error=False)
    async def run_arrival(self, b: BookingView) -> None:
        import asyncio

        from mms_tui.services.ledger.operations import new_txid

        try:
            arrival = await asyncio.to_thread(in_connection, arrive, b.id, self.app.staff, new_txid())
        except Exception as exc:  # the one error path: a clear line, nothing changed
            self.notify(error_message(exc), severity="error", timeout=8)
            return
        self.open_bill(arrival)

    def open_bill(self, arrival: Arrival) -> None:
        from mms_tui.screens.checkout import CheckoutScreen

        name = arrival.guest_name
        screen = CheckoutScreen(arrival.member_id, name, lines=arrival.lines,
                                performers={code: [tuple(p) for p in ps] for code, ps in arrival.performers.items()})
        self.app.push_screen(screen, partial(self.paid, arrival.booking_id))

    def paid(self, booking_id: int, result) -> None:
        if result is not None:
            self.tie(booking_id, result.txid)
        self.load()

    @work(thread=True, exit_on_error=False, group="arrive")
    def tie(self, booking_id: int, txid: str) -> None:
        in_connection(link_sale, booking_id, txid)


class BookDialog(OperationDialog):
    """预约: who (a desk query, or a walk-in's name and phone), the services, the staff member and the start; a
    refusal shows the reason and the next free slots, F6 takes the first."""

    BINDINGS = [Binding("f6", "take_free", N_("Next free"), id="book.take_free", priority=True)]

    def __init__(self, store: str, staff_code: str = "", start: dt.datetime | None = None, *,
                 member_id: int | None = None, member_name: str = "") -> None:
        super().__init__()
        self.store = store
        self.staff_code = staff_code
        self.start = start
        self.member_id = member_id  # booked from a member's screen: that member
        self.member_name = member_name
        self.suggestions: list = []

    def heading(self) -> str:
        return _("New booking")

    def fields(self):
        if self.member_id is not None:
            yield field_row(_("Member"), Label(self.member_name, id="book-member-name"))
        else:
            yield field_row(_("Member"), Input(placeholder=_("card / phone / name; empty: walk-in"),
                                               id="book-member"))
            yield field_row(_("Walk-in name"), Input(id="book-guest-name"))
            yield field_row(_("Walk-in phone"), Input(id="book-guest-phone"))
        yield field_row(_("Services"), Input(placeholder=_("codes, e.g. HAIR,SPA"), id="book-services"))
        yield field_row(_("Staff"), Input(self.staff_code, placeholder=_("code, or any"), id="book-staff"))
        yield field_row(_("Start"), Input(f"{self.start:%Y-%m-%d %H:%M}" if self.start else "", id="book-start"))
        yield field_row(_("Weeks"), Input("1", restrict=r"\d*", max_length=2, id="book-weeks"))
        yield field_row(_("Note"), Input(id="book-note"))

    def on_mount(self) -> None:
        self.query_one("#book-member" if self.member_id is None else "#book-services", Input).focus()
        if self.start is None:
            self.offer_start()

    @work(thread=True, exit_on_error=False, group="book-start")
    def offer_start(self) -> None:
        """No slot chosen (booked from a member's screen): the first start on the day view's step after now."""
        start = in_connection(next_step)
        self.app.call_from_thread(self.fill_start, start)

    def fill_start(self, start: dt.datetime) -> None:
        box = self.query_one("#book-start", Input)
        if not box.value:
            box.value = f"{start:%Y-%m-%d %H:%M}"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def value(self, name: str) -> str:
        found = self.query(f"#book-{name}")
        return found.first(Input).value.strip() if found else ""

    def operation(self):
        if not self.value("services"):
            raise InvalidInput(_("Type the services' codes."))
        return partial(book_at_desk, self.member_id if self.member_id is not None else self.value("member"),
                       self.value("services"), self.app.staff, self.txid,
                       start=self.value("start"), staff=self.value("staff"), store=self.store,
                       guest_name=self.value("guest-name"), guest_phone=self.value("guest-phone"),
                       note=self.value("note"), weeks=self.value("weeks"))

    @work(exclusive=True, group="operation", exit_on_error=False)
    async def run_operation(self, call) -> None:
        import asyncio

        try:
            result = await asyncio.to_thread(in_connection, call)
        except BookingRefused as refused:
            self.suggestions = refused.suggestions
            slots = "; ".join(s.text() for s in refused.suggestions[:3])
            self.failed(str(refused) + (("\n" + _("Next free: {slots} (F6 takes the first)").format(slots=slots))
                                        if slots else ""))
            return
        except Exception as exc:
            self.failed(error_message(exc))
            return
        self.dismiss(self.succeeded(result))

    def action_take_free(self) -> None:
        if not self.suggestions:
            return
        first = self.suggestions[0]
        self.query_one("#book-staff", Input).value = first.staff_code
        self.query_one("#book-start", Input).value = f"{first.start:%Y-%m-%d %H:%M}"
        self.suggestions = []
        self.show_error("")

    def succeeded(self, result: BookingResult) -> str:
        line = _("Booked {start}-{end} with {staff}.").format(start=result.starts[0][5:], end=result.end,
                                                               staff=result.staff_name)
        if len(result.starts) > 1:
            line += " " + _("Weekly, {n} times.").format(n=len(result.starts))
        return " ".join([line, *result.warnings])


class _BookingDialog(OperationDialog):
    def __init__(self, booking: BookingView) -> None:
        super().__init__()
        self.booking = booking

    def about(self) -> Label:
        b = self.booking
        return Label(f"{b.start:%m-%d %H:%M}-{b.end:%H:%M} {b.who} · {b.services} · {b.staff_name}")


class MoveBookingDialog(_BookingDialog):
    def heading(self) -> str:
        return _("Move the booking")

    def fields(self):
        yield self.about()
        yield field_row(_("New start"), Input(f"{self.booking.start:%Y-%m-%d %H:%M}", id="move-start"))
        yield field_row(_("Staff"), Input(self.booking.staff_code, placeholder=_("code, or any"), id="move-staff"))

    def on_mount(self) -> None:
        self.query_one("#move-start", Input).focus()

    def operation(self):
        staff = self.query_one("#move-staff", Input).value.strip()
        return partial(move, self.booking.id, self.app.staff, self.txid,
                       start=self.query_one("#move-start", Input).value.strip(),
                       staff=None if staff == self.booking.staff_code else (staff or "any"))

    def succeeded(self, result) -> str:
        return _("Moved to {start}.").format(start=self.query_one("#move-start", Input).value.strip())


class CancelBookingDialog(_BookingDialog):
    def heading(self) -> str:
        return _("Cancel the booking")

    def fields(self):
        yield self.about()
        yield field_row(_("Reason"), Input(id="cancel-reason"))

    def on_mount(self) -> None:
        self.query_one("#cancel-reason", Input).focus()

    def operation(self):
        reason = self.query_one("#cancel-reason", Input).value.strip()
        if not reason:
            raise InvalidInput(_("A cancellation needs a reason."))
        return partial(cancel, self.booking.id, self.app.staff, reason, self.txid)

    def succeeded(self, result) -> str:
        return policy_text(result.status, result.late, result.policy)


class NoShowDialog(_BookingDialog):
    def heading(self) -> str:
        return _("Mark a no-show")

    def fields(self):
        yield self.about()
        yield Label(_("The rules' no-show policy applies."))

    def operation(self):
        return partial(no_show, self.booking.id, self.app.staff, self.txid)

    def succeeded(self, result) -> str:
        return policy_text(result.status, result.late, result.policy)
