"""A manager's code and PIN, asked for when a cashier needs an override (refunds)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.models import Staff
from mms_tui.services.staff import authenticate, require_role


def _authorise(code: str, pin: str, role: str) -> Staff:
    staff = authenticate(code, pin)
    require_role(staff, role)
    return staff


class ManagerPinScreen(WorkerErrors, ModalScreen[Staff | None]):
    """Returns the authorising manager, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", _("Cancel"), id="pin.cancel")]

    def __init__(self, reason: str, role: str = "manager") -> None:
        super().__init__()
        self.reason = reason
        self.role = role

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.reason, classes="dialog-title")
            yield Label(_("A manager must approve: manager code and PIN"))
            yield Input(id="manager-code", placeholder=_("Manager code"))
            yield Input(id="manager-pin", placeholder=_("PIN"), password=True, restrict=r"\d*", max_length=8)
            yield Label("", id="pin-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#manager-code", Input).focus()

    @on(Input.Submitted, "#manager-code")
    def to_pin(self) -> None:
        self.query_one("#manager-pin", Input).focus()

    @on(Input.Submitted, "#manager-pin")
    def submit(self) -> None:
        self.check(self.query_one("#manager-code", Input).value, self.query_one("#manager-pin", Input).value)

    @work(thread=True, exit_on_error=False, exclusive=True)
    def check(self, code: str, pin: str) -> None:
        try:
            staff = in_connection(_authorise, code, pin, self.role)
        except Exception as exc:
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, staff)

    def failed(self, message: str) -> None:
        self.query_one("#pin-error", Label).update(message)
        pin = self.query_one("#manager-pin", Input)
        pin.value = ""
        pin.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
