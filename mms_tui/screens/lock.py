"""The idle lock: after ``lock_minutes`` without a key, the desk asks for a PIN before anything else."""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.models import Staff
from mms_tui.screens.login import WRONG_PIN_DELAYS
from mms_tui.services.errors import WrongPin
from mms_tui.services.staff import authenticate


class LockScreen(WorkerErrors, ModalScreen[Staff]):
    """Returns the staff member who unlocked (the same one, or another taking over the desk)."""

    def __init__(self, staff_code: str) -> None:
        super().__init__()
        self.staff_code = staff_code
        self.failures = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Desk locked"), classes="dialog-title")
            yield Input(id="lock-code", value=self.staff_code, placeholder=_("Staff code"))
            yield Input(id="lock-pin", placeholder=_("PIN"), password=True, restrict=r"\d*", max_length=8)
            yield Label("", id="lock-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#lock-pin", Input).focus()

    @on(Input.Submitted, "#lock-code")
    def to_pin(self) -> None:
        self.query_one("#lock-pin", Input).focus()

    @on(Input.Submitted, "#lock-pin")
    def submit(self) -> None:
        self.unlock(self.query_one("#lock-code", Input).value, self.query_one("#lock-pin", Input).value)

    @work(thread=True, exit_on_error=False, exclusive=True)
    def unlock(self, code: str, pin: str) -> None:
        time.sleep(WRONG_PIN_DELAYS[min(self.failures, len(WRONG_PIN_DELAYS) - 1)])
        try:
            staff = in_connection(authenticate, code, pin)
        except Exception as exc:
            if isinstance(exc, WrongPin):
                self.failures += 1
            self.app.call_from_thread(self.failed, error_message(exc))
            return
        self.app.call_from_thread(self.dismiss, staff)

    def failed(self, message: str) -> None:
        self.query_one("#lock-error", Label).update(message)
        pin = self.query_one("#lock-pin", Input)
        pin.value = ""
        pin.focus()
