"""The dialogs every desk task is built from.

* :class:`OperationDialog` — collect input, run one service with a txid made when the dialog opened (a double F10,
  or a retry after an error, never does it twice), close with a line saying what was done, or stay open with the
  error and everything typed. A dialog states only its fields, its service call and its result line.
* :class:`ConfirmScreen` — a question with what will happen (in money terms where money moves). F10 or Y says yes,
  Esc or N says no, and Enter does nothing: a hurried double Enter never confirms anything.
* :class:`MenuScreen` — a list of actions to pick with the arrows and Enter, each naming its key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from mms_tui.i18n import N_, _
from mms_tui.screens.common import SavingNotice, WorkerErrors, error_message, in_connection
from mms_tui.screens.help import key_label
from mms_tui.services.base.errors import DomainError
from mms_tui.services.ledger.operations import new_txid
from mms_tui.widgets.footer import Footer


def field_row(label: str, widget: Widget) -> Horizontal:
    """A labelled field on one line (the widget compact), so a whole form fits 24 rows."""
    widget.compact = True
    return Horizontal(Label(label, classes="field-label"), widget, classes="field-row")


class OperationDialog(WorkerErrors, ModalScreen[str | None]):
    """Returns the line saying what was done, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="dialog.cancel"),
        Binding("f10", "confirm", N_("Confirm"), id="dialog.confirm", priority=True),
    ]
    #: the line under the fields
    HINT = N_("F10 to confirm, Esc to cancel")
    #: a save that waits half a second says for whom (another desk's write); a dialog that waits on something else
    #: (a payment provider, the customer's phone) says so itself
    SAVING_NOTICE = True

    def __init__(self) -> None:
        super().__init__()
        self.txid = new_txid()  # made when the dialog opens: one intent, one posting
        self.busy = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):  # scrolls when a long form meets a short terminal
            yield Label(self.heading(), classes="dialog-title")
            error = Label("", id="dialog-error", classes="error")  # on top: never below the fold
            error.display = False
            yield error
            yield from self.fields()
            yield Label(_(self.HINT), classes="hint")
        yield Footer()

    def heading(self) -> str:
        raise NotImplementedError

    def fields(self) -> Iterable:
        return ()

    def operation(self) -> Callable[[], object] | None:
        """The fields read and checked: a call of the service with no arguments left (it runs on a worker's own
        connection), or None to do nothing yet. Raise a DomainError to refuse with its message."""
        raise NotImplementedError

    def succeeded(self, result: object) -> str:
        raise NotImplementedError

    def action_confirm(self) -> None:
        if self.busy:
            return
        try:
            call = self.operation()
        except DomainError as exc:
            self.failed(str(exc))
            return
        if call is None:
            return
        self.busy = True
        self.show_error("")
        self.run_operation(call)

    @work(exclusive=True, group="operation", exit_on_error=False)
    async def run_operation(self, call: Callable[[], object]) -> None:
        notice = SavingNotice(self) if self.SAVING_NOTICE else None
        try:
            result = await asyncio.to_thread(in_connection, call)
        except Exception as exc:
            self.failed(error_message(exc))
            return
        finally:
            if notice is not None:
                notice.done()
        self.dismiss(self.succeeded(result))

    def show_error(self, message: str) -> None:
        label = self.query_one("#dialog-error", Label)
        label.update(message)
        label.display = bool(message)

    def failed(self, message: str) -> None:
        self.busy = False
        self.show_error(message)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(WorkerErrors, ModalScreen[bool]):
    """Returns True only for F10 or Y."""

    BINDINGS = [
        Binding("f10", "answer(True)", N_("Yes"), id="confirm.yes", priority=True),
        Binding("escape", "answer(False)", N_("No"), id="confirm.no"),
        Binding("y", "answer(True)", N_("Yes"), id="confirm.y", show=False),
        Binding("n", "answer(False)", N_("No"), id="confirm.n", show=False),
    ]

    def __init__(self, question: str, details: Iterable[str] = (), *, warning: bool = False) -> None:
        super().__init__()
        self.question = question
        self.details = list(details)
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog warning" if self.warning else "dialog"):
            yield Label(self.question, classes="dialog-title")
            for line in self.details:
                yield Label(line)
            yield Label(_("F10 / Y: yes    Esc / N: no"), classes="hint")
        yield Footer()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class MenuScreen(WorkerErrors, ModalScreen[str | None]):
    """Returns the action chosen (Enter on it, or its own key), or None."""

    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), id="menu.cancel")]

    def __init__(self, title: str, items: Iterable[tuple[str, str, str]]) -> None:
        """``items``: (action, key, label) each; the label is already translated."""
        super().__init__()
        self.title_text = title
        self.items = list(items)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield OptionList(*[Option(f"{key_label(key):>6}  {label}" if key else f"        {label}", id=action)
                               for action, key, label in self.items], id="menu")
            yield Label(_("Enter chooses, Esc closes"), classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#menu", OptionList).focus()



    @on(OptionList.OptionSelected, "#menu")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_key(self, event) -> None:
        for action, key, _label in self.items:
            if key and event.key == key:
                event.stop()
                self.dismiss(action)
                return

    def action_cancel(self) -> None:
        self.dismiss(None)
