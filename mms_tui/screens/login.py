"""Login: staff code and PIN (the services throttle and lock wrong PINs per account); a demo database shows its
login; a staff card swiped here fills in the code. A login opens the staff member's shift at this store. A PIN a
manager reset is right but opens nothing until its owner has chosen a new one (:class:`NewPinScreen`)."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Label

from mms_tui.i18n import _
from mms_tui.screens.common import Swiped, WorkerErrors, error_message, in_connection
from mms_tui.screens.pin import NewPinScreen
from mms_tui.services.base.config import get_config
from mms_tui.services.base.errors import InvalidInput, PinChangeRequired
from mms_tui.services.money.shifts import open_shift
from mms_tui.services.staff.accounts import authenticate, set_own_pin, staff_code_for_card
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.staff_pin import StaffPinForm


def log_in(code: str, pin: str, store: str):
    """The staff member, checked (and bound to this desk's store), with their shift at this store open."""
    staff = authenticate(code, pin, store)
    open_shift(staff, store)
    return staff


def replace_pin_and_log_in(code: str, reset_pin: str, new_pin: str, store: str):
    """After a reset: the new PIN replaces the reset one (checked by the services), then the login goes on."""
    set_own_pin(code, reset_pin, new_pin)
    return log_in(code, new_pin, store)


class StaffCardFillsTheCode:
    """Mixed into a screen with a :class:`StaffPinForm`: a staff card swiped there fills in the staff code (the PIN
    is still asked); any other card is named as not a staff card."""

    def on_swiped(self, event: Swiped) -> None:
        event.stop()
        self.staff_card(event.read.value)

    @work(exclusive=True, group="staff-card", exit_on_error=False)
    async def staff_card(self, card_no: str) -> None:
        code = await asyncio.to_thread(in_connection, staff_code_for_card, card_no)
        form = self.query_one(StaffPinForm)  # type: ignore[attr-defined]
        if code is None:
            form.say(_("This card does not belong to a staff member."))
        else:
            form.fill_code(code)


class LoginScreen(StaffCardFillsTheCode, WorkerErrors, Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="login-box"):
            yield Label(_("Staff login"))
            yield StaffPinForm(id="login-form")
            yield Label("", id="demo-hint", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.load_demo_hint()

    @work(thread=True, exit_on_error=False)
    def load_demo_hint(self) -> None:
        login = in_connection(get_config, "demo_login")
        if login:
            text = _("Demo database — staff {code}, PIN {pin}").format(code=login["code"], pin=login["pin"])
            self.app.call_from_thread(self.query_one("#demo-hint", Label).update, text)

    @on(StaffPinForm.Submitted)
    def submitted(self, event: StaffPinForm.Submitted) -> None:
        self.login(event.code, event.pin)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def login(self, code: str, pin: str, new_pin: str | None = None) -> None:
        """Log in with ``pin``; after a reset, with ``new_pin`` replacing it first."""
        form = self.query_one(StaffPinForm)
        store = self.app.settings.store
        try:
            staff = await asyncio.to_thread(in_connection, *(
                (log_in, code, pin, store) if new_pin is None else (replace_pin_and_log_in, code, pin, new_pin,
                                                                     store)))
        except (InvalidInput, PinChangeRequired) as exc:  # a reset PIN; then a new one of the wrong form, or it again
            if new_pin is None and isinstance(exc, InvalidInput):
                form.refused(exc, error_message(exc))
            else:
                self.ask_new_pin(code, pin, "" if new_pin is None else error_message(exc))
            return
        except Exception as exc:
            form.refused(exc, error_message(exc))
            return
        form.accepted()
        self.app.logged_in(staff)

    def ask_new_pin(self, code: str, reset_pin: str, message: str = "") -> None:
        """The PIN was right but reset by a manager: its owner chooses a new one, then the login goes on."""
        def chosen(new_pin: str | None) -> None:
            if new_pin is None:
                self.query_one(StaffPinForm).refused(PinChangeRequired(""), _(
                    "Not logged in: a PIN a manager reset must be replaced first."))
            else:
                self.login(code, reset_pin, new_pin)

        self.app.push_screen(NewPinScreen(code, message), chosen)
