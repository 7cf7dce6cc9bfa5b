"""The loyalty rules, edited at the desk by a manager: the same TOML document ``mms rules export`` writes.

Ctrl+S checks the whole document and saves it only when nothing is wrong; every problem is listed with its place
(``promotions[2].percent: …``) and the text stays as typed, so the manager fixes it and saves again. A cashier
at the desk is asked for a manager's code and PIN first; the change is recorded under that manager.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, Label, Static, TextArea

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.common import WorkerErrors, error_message, in_connection
from mms_tui.services.base.errors import RulesInvalid
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_files import document_from_text, rules_to_text
from mms_tui.services.loyalty.rules_store import load_rules, save_rules
from mms_tui.widgets.footer import Footer


def _save(text: str, staff: Staff) -> Rules:
    return save_rules(document_from_text(text, "toml", source=_("the rules")), staff)


def _current_text() -> str:
    return rules_to_text(load_rules(), "toml")


class RulesScreen(WorkerErrors, Screen[None]):
    """Returns nothing; the rules in force are whatever was last saved."""

    BINDINGS = [
        Binding("ctrl+s", "save", N_("Check and save"), id="rules.save", priority=True),
        Binding("ctrl+r", "reload", N_("Undo all edits"), id="rules.reload"),
        Binding("escape", "close", N_("Close"), id="rules.close", priority=True),  # before the editor takes it
    ]

    def __init__(self, manager: Staff) -> None:
        super().__init__()
        self.manager = manager
        self.saved_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(_("Loyalty rules · money in yuan · weekdays 1 = Monday · Ctrl+S saves"), id="rules-help")
        yield TextArea("", id="rules-text", show_line_numbers=True, tab_behavior="indent")
        yield Static("", id="rules-status")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="rules")
    def load(self) -> None:
        text = in_connection(_current_text)
        self.app.call_from_thread(self.show_text, text)

    def show_text(self, text: str) -> None:
        self.saved_text = text
        editor = self.query_one("#rules-text", TextArea)
        editor.load_text(text)
        editor.focus()
        self.query_one("#rules-status", Static).update("")

    def action_reload(self) -> None:
        self.load()

    def action_save(self) -> None:
        self.query_one("#rules-status", Static).update(_("Checking…"))
        self.save(self.query_one("#rules-text", TextArea).text)

    @work(thread=True, exit_on_error=False, exclusive=True, group="rules")
    def save(self, text: str) -> None:
        try:
            rules = in_connection(_save, text, self.manager)
        except RulesInvalid as exc:
            self.app.call_from_thread(self.show_problems, exc.errors)
            return
        except Exception as exc:  # a TOML syntax error, the database: one clear line, the text stays
            self.app.call_from_thread(self.show_problems, [error_message(exc)])
            return
        self.app.call_from_thread(self.saved, text, rules)

    def show_problems(self, problems: list[str]) -> None:
        shown = problems[:5]
        more = len(problems) - len(shown)
        lines = [_("Not saved — fix these and press Ctrl+S again:"), *shown]
        if more:
            lines.append(_("… and {n} more").format(n=more))
        status = self.query_one("#rules-status", Static)
        status.update("\n".join(lines))
        status.set_class(True, "error")

    def saved(self, text: str, rules: Rules) -> None:
        self.saved_text = text
        status = self.query_one("#rules-status", Static)
        status.set_class(False, "error")
        status.update(_("Saved: {promotions} promotions, {bonuses} top-up bonuses, {days} points days.").format(
            promotions=len(rules.promotions), bonuses=len(rules.topup.bonuses), days=len(rules.points.days)))
        self.app.notify(_("The loyalty rules are saved and in force."))

    def action_close(self) -> None:
        if self.query_one("#rules-text", TextArea).text == self.saved_text:
            self.dismiss(None)
            return
        from mms_tui.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(_("Close without saving your edits?")),
                             lambda yes: self.dismiss(None) if yes else None)
