"""F1: every key of the screen underneath, named in the desk's language — those the footer shows and those it has
no room for — and how typing and swiping work there."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors
from mms_tui.services.base.text import display_width, fit
from mms_tui.widgets.footer import Footer


def key_label(key: str) -> str:
    """How a key is written for people: F6, Ctrl+L, Esc, ?."""
    names = {"escape": "Esc", "question_mark": "?", "enter": "Enter", "delete": "Del", "plus": "+", "minus": "-"}
    parts = key.split("+")
    return "+".join(names.get(p, p.upper() if len(p) <= 3 else p.capitalize()) for p in parts).replace(
        "CTRL", "Ctrl").replace("Ctrl", "Ctrl", 1)


def screen_keys(screen: Screen) -> list[tuple[str, str]]:
    """(key, what it does) of every enabled key of ``screen`` and of the app — the desk's own keys (with an id),
    not the arrows and Tab every list and box knows — the screen's first."""
    seen: set[str] = set()
    keys: list[tuple[str, str]] = []
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.id is None or binding.action in seen or not active.enabled:
            continue
        seen.add(binding.action)
        keys.append((key_label(key), _(binding.description)))
    return keys


class HelpScreen(WorkerErrors, ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", N_("Close"), id="help.close", priority=True),
                Binding("f1", "close", N_("Close"), id="help.close_f1", show=False, priority=True),
                Binding("question_mark", "close", N_("Close"), id="help.close_mark", show=False, priority=True)]

    def __init__(self, of: Screen, notes: list[str] | None = None) -> None:
        super().__init__()
        self.keys = screen_keys(of)
        self.notes = notes or []

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help-body"):
            yield Label(_("Keys on this screen"), classes="dialog-title")
            width = max((display_width(k) for k, _d in self.keys), default=4) + 2
            yield Static("\n".join(fit(k, width, pad=True) + d for k, d in self.keys), id="help-keys")
            for note in self.notes:
                yield Label(note, classes="hint")
            yield Label(_("Ctrl+P lists every action by name. Esc closes this help."), classes="hint")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
