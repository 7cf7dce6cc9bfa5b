"""The Textual app and its factory. Screens are thin: they call services in thread workers and show results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from mms_tui.db import database, init_database
from mms_tui.i18n import _, set_language
from mms_tui.models import Staff
from mms_tui.services.errors import DomainError
from mms_tui.settings import Settings

T = TypeVar("T")


def in_connection(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run ``fn`` on this thread's own short-lived connection (each worker thread has its own)."""
    with database.connection_context():
        return fn(*args, **kwargs)


def error_message(error: BaseException) -> str:
    """What a cashier reads when something fails: the domain's own sentence, or one plain line."""
    if isinstance(error, DomainError):
        return str(error)
    return _("Something went wrong: {error}").format(error=error.__class__.__name__ + (f": {error}" if str(error) else ""))


class MmsApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "mms"
    BINDINGS = [
        Binding("ctrl+q", "quit", _("Quit"), id="quit", show=True, priority=True),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.staff: Staff | None = None
        self.sub_title = _("Front desk")

    def on_mount(self) -> None:
        from mms_tui.screens.login import LoginScreen

        self.push_screen(LoginScreen())

    def logged_in(self, staff: Staff) -> None:
        from mms_tui.screens.desk import DeskScreen

        self.staff = staff
        self.sub_title = f"{staff.name} · {self.settings.store}"
        self.switch_screen(DeskScreen())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one error path: any failed worker becomes one clear notification, never a traceback."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.notify(error_message(event.worker.error), severity="error", timeout=6)


def create_app(settings: Settings) -> MmsApp:
    """Build the app from settings: used by ``mms``, ``mms demo`` and the tests alike."""
    set_language(settings.lang)
    init_database(settings.database)
    return MmsApp(settings)
