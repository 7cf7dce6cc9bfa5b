"""A manager's code and PIN, asked for when a cashier needs an override (refunds, the loyalty rules) — the same
throttle and lockout as the login: it is the same service — and the new PIN a staff member chooses after a reset."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.common import WorkerErrors, error_message, in_connection
from mms_tui.services.staff.accounts import authenticate
from mms_tui.services.staff.permissions import require
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.staff_pin import StaffPinForm


def _authorise(code: str, pin: str, permission: str) -> Staff:
    staff = authenticate(code, pin)
    require(staff, permission)
    return staff


class ManagerPinScreen(WorkerErrors, ModalScreen[Staff | None]):
    """Returns the approving manager, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), id="pin.cancel")]

    def __init__(self, reason: str, permission: str = "refund") -> None:
        super().__init__()
        self.reason = reason
        self.permission = permission

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.reason, classes="dialog-title")
            yield Label(_("A manager must approve: manager code and PIN"))
            yield StaffPinForm(code_placeholder=_("Manager code"), id="manager-form")
        yield Footer()

    @on(StaffPinForm.Submitted)
    def submitted(self, event: StaffPinForm.Submitted) -> None:
        self.check(event.code, event.pin)

    @work(exclusive=True, group="approve", exit_on_error=False)
    async def check(self, code: str, pin: str) -> None:
        form = self.query_one(StaffPinForm)
        try:
            staff = await asyncio.to_thread(in_connection, _authorise, code, pin, self.permission)
        except Exception as exc:
            form.refused(exc, error_message(exc))
            return
        self.dismiss(staff)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NewPinScreen(ModalScreen[str | None]):
    """A staff member whose PIN a manager reset chooses a new one (typed twice) before their login finishes.
    Returns the new PIN, or None when cancelled; the login screen sets it through the services, which check it
    (4–8 digits, not the reset one) and hand a refusal back here as ``message``."""

    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), id="newpin.cancel")]

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__()
        self.code = code
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("{code}: your PIN was reset — choose a new one").format(code=self.code),
                        classes="dialog-title")
            yield Input(placeholder=_("New PIN (4–8 digits)"), password=True, restrict=r"\d*", max_length=8,
                        id="new-pin")
            yield Input(placeholder=_("The new PIN again"), password=True, restrict=r"\d*", max_length=8,
                        id="new-pin-again")
            yield Label(self.message, id="new-pin-message", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#new-pin-message", Label).display = bool(self.message)
        self.query_one("#new-pin", Input).focus()

    @on(Input.Submitted, "#new-pin")
    def first(self) -> None:
        self.query_one("#new-pin-again", Input).focus()

    @on(Input.Submitted, "#new-pin-again")
    def second(self) -> None:
        first, again = (self.query_one(f"#{name}", Input) for name in ("new-pin", "new-pin-again"))
        if first.value != again.value or not first.value:
            message = self.query_one("#new-pin-message", Label)
            message.update(_("The two PINs differ: type the new PIN twice."))
            message.display = True
            first.value = again.value = ""
            first.focus()
            return
        self.dismiss(first.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
