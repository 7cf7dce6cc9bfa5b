"""A manager's code and PIN, asked for when a cashier needs an override (refunds, the loyalty rules). The same
throttle and lockout as the login: it is the same service."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

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
