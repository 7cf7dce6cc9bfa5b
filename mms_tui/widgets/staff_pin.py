"""Staff code and PIN: the one form the login, the idle lock and every manager approval use.

The form only collects; the screen checks the PIN with the services (``authenticate``, which throttles and locks
per staff account in the database) and hands a refusal back through :meth:`StaffPinForm.refused`. While a wrong
PIN's wait or a lockout runs, both boxes are disabled and a countdown shows the seconds left: keys typed meanwhile
go nowhere, and nothing typed lands in the code box.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label

from mms_tui.i18n import _
from mms_tui.services.base.errors import PinWait, WrongPin


class StaffPinForm(Vertical):
    DEFAULT_CSS = """
    StaffPinForm { height: auto; }
    StaffPinForm Input { margin-bottom: 1; }
    StaffPinForm #pin-wait { color: $warning; text-style: bold; }
    """

    class Submitted(Message):
        def __init__(self, form: StaffPinForm, code: str, pin: str) -> None:
            super().__init__()
            self.form = form
            self.code = code
            self.pin = pin

        @property
        def control(self) -> StaffPinForm:
            return self.form

    def __init__(self, code: str = "", *, code_placeholder: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial_code = code
        self.code_placeholder = code_placeholder or _("Staff code")
        self.timer: Timer | None = None
        self.left = 0

    def compose(self) -> ComposeResult:
        yield Input(value=self.initial_code, placeholder=self.code_placeholder, id="staff-code")
        yield Input(placeholder=_("PIN"), password=True, restrict=r"\d*", max_length=8, id="staff-pin")
        yield Label("", id="pin-message", classes="error")
        yield Label("", id="pin-wait")

    def on_mount(self) -> None:
        self.say("")
        self.show_wait()
        self.focus_first()

    def focus_first(self) -> None:
        code = self.query_one("#staff-code", Input)
        (self.query_one("#staff-pin", Input) if code.value else code).focus()

    @property
    def waiting(self) -> bool:
        return self.left > 0

    @on(Input.Submitted, "#staff-code")
    def to_pin(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#staff-pin", Input).focus()

    @on(Input.Submitted, "#staff-pin")
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        if self.waiting:
            return
        code = self.query_one("#staff-code", Input).value
        self.set_enabled(False)
        self.post_message(self.Submitted(self, code, event.value))

    def fill_code(self, code: str) -> None:
        """A staff card read: its code in the box, the PIN asked next."""
        self.query_one("#staff-code", Input).value = code
        self.say("")
        if not self.waiting:
            self.query_one("#staff-pin", Input).focus()

    def say(self, message: str) -> None:
        label = self.query_one("#pin-message", Label)
        label.update(message)
        label.display = bool(message)

    def set_enabled(self, enabled: bool) -> None:
        for box in self.query(Input):
            box.disabled = not enabled

    def refused(self, error: Exception, message: str) -> None:
        """The PIN was refused: say why; during a wait or a lockout, count the seconds down with both boxes shut."""
        self.say(message)
        pin = self.query_one("#staff-pin", Input)
        pin.value = ""
        if isinstance(error, (PinWait, WrongPin)) and error.seconds > 0:
            self.left = error.seconds
            self.set_enabled(False)
            self.show_wait()
            if self.timer is not None:
                self.timer.stop()
            self.timer = self.set_interval(1, self.tick)
            return
        self.set_enabled(True)
        pin.focus()

    def show_wait(self) -> None:
        label = self.query_one("#pin-wait", Label)
        label.update(_("Next try in {n} s").format(n=self.left) if self.left else "")
        label.display = bool(self.left)

    def tick(self) -> None:
        self.left = max(0, self.left - 1)
        self.show_wait()
        if not self.left:
            if self.timer is not None:
                self.timer.stop()
                self.timer = None
            self.say("")
            self.set_enabled(True)
            self.query_one("#staff-pin", Input).focus()

    def accepted(self) -> None:
        self.set_enabled(True)
        self.query_one("#staff-pin", Input).value = ""
