"""Small questions at the counter: yes/no, and what to do with a card nobody owns yet."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from mms_tui.app import WorkerErrors
from mms_tui.i18n import _
from mms_tui.widgets.footer import Footer


class ConfirmScreen(WorkerErrors, ModalScreen[bool]):
    BINDINGS = [
        Binding("y,enter", "answer(True)", _("Yes"), id="confirm.yes"),
        Binding("n,escape", "answer(False)", _("No"), id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            yield Label(_("Y / Enter: yes    N / Esc: no"), classes="hint")
        yield Footer()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class UnknownCardScreen(WorkerErrors, ModalScreen[str | None]):
    """A card no one holds: register a new member with it, or issue it to the member on screen."""

    BINDINGS = [
        Binding("r", "choose('register')", _("Register new member"), id="unknown.register"),
        Binding("i", "choose('issue')", _("Issue to this member"), id="unknown.issue"),
        Binding("escape", "choose(None)", _("Cancel"), id="unknown.cancel"),
    ]

    def __init__(self, card_no: str, member_name: str | None) -> None:
        super().__init__()
        self.card_no = card_no
        self.member_name = member_name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Card {card} is not issued yet.").format(card=self.card_no), classes="dialog-title")
            yield Label(_("R: register a new member with this card"))
            if self.member_name:
                yield Label(_("I: issue it to {name}").format(name=self.member_name))
            yield Label(_("Esc: nothing"), classes="hint")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters and parameters[0] == "issue":
            return self.member_name is not None
        return True

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
