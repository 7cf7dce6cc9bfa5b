"""What to do with a card nobody owns yet (yes/no questions are :class:`mms_tui.screens.dialog.ConfirmScreen`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors
from mms_tui.screens.dialog import ConfirmScreen
from mms_tui.widgets.footer import Footer


class UnknownCardScreen(WorkerErrors, ModalScreen[str | None]):
    """A card no one holds: register a new member with it, or issue it to the member on screen."""

    BINDINGS = [
        Binding("r", "choose('register')", N_("Register new member"), id="unknown.register"),
        Binding("i", "choose('issue')", N_("Issue to this member"), id="unknown.issue"),
        Binding("escape", "choose(None)", N_("Cancel"), id="unknown.cancel"),
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


__all__ = ["ConfirmScreen", "UnknownCardScreen"]
