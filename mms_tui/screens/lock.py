"""The idle lock: after ``lock_minutes`` without a key, the desk asks for a PIN before anything else. Another staff
member may take the desk over (their shift opens at this store)."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from mms_tui.i18n import _
from mms_tui.models import Staff
from mms_tui.screens.common import WorkerErrors, error_message, in_connection
from mms_tui.screens.login import StaffCardFillsTheCode, log_in
from mms_tui.widgets.staff_pin import StaffPinForm


class LockScreen(StaffCardFillsTheCode, WorkerErrors, ModalScreen[Staff]):
    """Returns the staff member who unlocked (the same one, or another taking over the desk)."""

    def __init__(self, staff_code: str) -> None:
        super().__init__()
        self.staff_code = staff_code

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Desk locked"), classes="dialog-title")
            yield StaffPinForm(self.staff_code, id="lock-form")

    @on(StaffPinForm.Submitted)
    def submitted(self, event: StaffPinForm.Submitted) -> None:
        self.unlock(event.code, event.pin)

    @work(exclusive=True, group="unlock", exit_on_error=False)
    async def unlock(self, code: str, pin: str) -> None:
        form = self.query_one(StaffPinForm)
        try:
            staff = await asyncio.to_thread(in_connection, log_in, code, pin, self.app.settings.store)
        except Exception as exc:
            form.refused(exc, error_message(exc))
            return
        self.dismiss(staff)
