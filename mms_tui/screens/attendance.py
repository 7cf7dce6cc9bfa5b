"""考勤 at the desk: a staff card swiped on any screen (but the login and the lock, where it fills in the code)
opens :class:`ClockCardScreen` — who, in or out, the time; F10 or Y clocks — never a member. From the desk, F4
clocks in or out by code and PIN (:class:`ClockPinScreen`), and F5 lists who is clocked in now
(:class:`ClockedInScreen`)."""

from __future__ import annotations

from functools import partial

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from mms_tui.i18n import N_, _
from mms_tui.screens.common import Swiped, WorkerErrors, card_and_view, in_connection
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import display_width, fit
from mms_tui.services.staff.attendance import (
    ClockPreview,
    InNow,
    PunchResult,
    clocked_in_now,
    preview,
    punch,
    punch_by_pin,
    staff_for_card,
)
from mms_tui.widgets.footer import Footer


def staff_card_or_member(value: str, look_up: bool = True, as_read: bool = False
                         ) -> tuple[ClockPreview | None, list, object]:
    """A swipe read in one connection: a staff card's clock preview; else (``look_up``) what the member lookup
    finds, with the member's panel (see :func:`~mms_tui.screens.common.card_and_view`)."""
    staff = staff_for_card(value)
    if staff is not None:
        return preview(staff), [], None
    if not look_up:
        return None, [], None
    hits, view = card_and_view(value, as_read)
    return None, hits, view


def punch_staff(staff_id: int, store: str, kind: str, txid: str) -> PunchResult:
    """The punch a swiped staff card showed (refused when it is no longer due: another desk clocked them)."""
    from mms_tui.models import Staff

    return punch(Staff.get_by_id(staff_id), store, kind, txid, source="card")


class ClockCardScreen(OperationDialog):
    """A staff card was swiped: who, clock in or out (whichever is due), and the time; F10 or Y confirms."""

    BINDINGS = [
        Binding("y", "confirm", N_("Confirm"), id="clock.yes", show=False),
        Binding("n", "cancel", N_("Cancel"), id="clock.no", show=False),
    ]
    HINT = N_("F10 / Y: confirm    Esc / N: cancel")

    def __init__(self, seen: ClockPreview, store: str) -> None:
        super().__init__()
        self.seen = seen
        self.store = store

    def heading(self) -> str:
        return _("Clock in") if self.seen.kind == "in" else _("Clock out")

    def fields(self):
        seen = self.seen
        yield Label(_("Staff: {name} ({code})").format(name=seen.name, code=seen.code), id="clock-who")
        yield Label(_("Time: {time}").format(time=seen.at.strftime("%Y-%m-%d %H:%M")), id="clock-time")
        if seen.since is not None:
            yield Label(_("Clocked in since {time}").format(time=seen.since.strftime("%H:%M")), id="clock-since")

    def operation(self):
        return partial(punch_staff, self.seen.staff_id, self.store, self.seen.kind, self.txid)

    def succeeded(self, result: PunchResult) -> str:  # type: ignore[override]
        return result.line


class ClockPinScreen(OperationDialog):
    """Clock in or out by staff code and PIN (the PIN throttle of every login applies): F2 in, F3 out, F10
    whichever is due. A staff card swiped here fills in the code."""

    BINDINGS = [
        Binding("f2", "clock('in')", N_("Clock in"), id="clock.in", priority=True),
        Binding("f3", "clock('out')", N_("Clock out"), id="clock.out", priority=True),
    ]
    HINT = N_("F2 clock in, F3 clock out, F10 whichever is due, Esc to cancel")

    def __init__(self, store: str) -> None:
        super().__init__()
        self.store = store
        self.kind: str | None = None

    def heading(self) -> str:
        return _("Clock in or out (考勤)")

    def fields(self):
        yield field_row(_("Staff code"), Input(id="clock-code"))
        yield field_row(_("PIN"), Input(password=True, restrict=r"\d*", max_length=8, id="clock-pin"))

    def on_mount(self) -> None:
        self.query_one("#clock-code", Input).focus()

    def on_swiped(self, event: Swiped) -> None:
        event.stop()
        self.fill_from_card(event.read.value)

    @work(exclusive=True, group="clock-card", exit_on_error=False)
    async def fill_from_card(self, value: str) -> None:
        import asyncio

        staff = await asyncio.to_thread(in_connection, staff_for_card, value)
        if staff is None:
            self.show_error(_("This card does not belong to a staff member."))
            return
        self.query_one("#clock-code", Input).value = staff.code
        self.query_one("#clock-pin", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "clock-code":
            self.query_one("#clock-pin", Input).focus()

    def action_clock(self, kind: str) -> None:
        self.kind = kind
        self.action_confirm()

    def operation(self):
        kind, self.kind = self.kind, None
        code = self.query_one("#clock-code", Input).value.strip()
        pin = self.query_one("#clock-pin", Input).value
        if not code or not pin:
            raise InvalidInput(_("Type the staff code and PIN."))
        return partial(punch_by_pin, code, pin, self.store, self.txid, kind)

    def failed(self, message: str) -> None:
        from mms_tui.services.ledger.operations import new_txid

        super().failed(message)
        self.txid = new_txid()  # a refusal wrote nothing: the next try is another punch
        pin = self.query_one("#clock-pin", Input)
        pin.value = ""
        pin.focus()

    def succeeded(self, result: PunchResult) -> str:  # type: ignore[override]
        return result.line


class ClockedInScreen(WorkerErrors, ModalScreen[None]):
    """Who is clocked in now at this store, since when."""

    BINDINGS = [Binding("escape", "close", N_("Close"), id="clocked.close")]

    def __init__(self, store: str) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label(_("Clocked in now"), classes="dialog-title")
            yield Static("", id="clocked-list")
            yield Label(_("Esc closes"), classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="clocked-in", exit_on_error=False)
    async def load(self) -> None:
        import asyncio

        people = await asyncio.to_thread(in_connection, clocked_in_now, self.store)
        self.query_one("#clocked-list", Static).update(self.listing(people))

    @staticmethod
    def listing(people: list[InNow]) -> str:
        if not people:
            return _("Nobody is clocked in.")
        width = max(display_width(p.name) for p in people) + 2
        return "\n".join(f"{fit(p.name, min(width, 30), pad=True)}{p.code:<8} "
                         + _("since {time}").format(time=p.since.strftime("%H:%M")) for p in people)

    def action_close(self) -> None:
        self.dismiss(None)
