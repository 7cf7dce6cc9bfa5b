"""Login: staff code and PIN. Wrong PINs slow down; a demo database shows its login."""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Input, Label

from mms_tui.app import WorkerErrors, error_message, in_connection
from mms_tui.i18n import _
from mms_tui.services.common import get_config
from mms_tui.services.errors import WrongPin
from mms_tui.services.staff import authenticate, staff_code_for_card
from mms_tui.widgets.footer import Footer

#: seconds to wait after the n-th wrong PIN in a row at this desk (then stays at the last)
WRONG_PIN_DELAYS = (0, 0, 1, 2, 4, 8)


class LoginScreen(WorkerErrors, Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="login-box"):
            yield Label(_("Staff login"))
            yield Input(placeholder=_("Staff code"), id="code")
            yield Input(placeholder=_("PIN"), password=True, id="pin", restrict=r"\d*", max_length=8)
            yield Label("", id="login-message", classes="error")
            yield Label("", id="demo-hint", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#code", Input).focus()
        self.load_demo_hint()

    @work(thread=True, exit_on_error=False)
    def load_demo_hint(self) -> None:
        login = in_connection(get_config, "demo_login")
        if login:
            text = _("Demo database — staff {code}, PIN {pin}").format(code=login["code"], pin=login["pin"])
            self.app.call_from_thread(self.query_one("#demo-hint", Label).update, text)

    def handle_device_read(self, read) -> bool:
        """A staff card swiped at the login screen fills in the staff code; the PIN is still asked."""
        self.staff_card(read.value)
        return True

    @work(thread=True, exclusive=True, group="staff-card", exit_on_error=False)
    def staff_card(self, card_no: str) -> None:
        code = in_connection(staff_code_for_card, card_no)
        self.app.call_from_thread(self._staff_card_read, code)

    def _staff_card_read(self, code: str | None) -> None:
        if code is None:
            self.query_one("#login-message", Label).update(_("This card does not belong to a staff member."))
            return
        self.query_one("#code", Input).value = code
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#code")
    def to_pin(self) -> None:
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    def submit(self) -> None:
        code = self.query_one("#code", Input).value
        pin = self.query_one("#pin", Input).value
        self.query_one("#pin", Input).disabled = True
        self.login(code, pin)

    @work(thread=True, exit_on_error=False, exclusive=True)
    def login(self, code: str, pin: str) -> None:
        delay = WRONG_PIN_DELAYS[min(self.failures, len(WRONG_PIN_DELAYS) - 1)]
        time.sleep(delay)
        try:
            staff = in_connection(authenticate, code, pin)
        except Exception as exc:
            if isinstance(exc, WrongPin):
                self.failures += 1
            self.app.call_from_thread(self.failed, exc)
            return
        self.app.call_from_thread(self.app.logged_in, staff)

    def failed(self, error: Exception) -> None:
        self.query_one("#login-message", Label).update(error_message(error))
        pin = self.query_one("#pin", Input)
        pin.disabled = False
        pin.value = ""
        pin.focus()
