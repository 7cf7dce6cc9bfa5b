"""The Textual app and its factory. Screens are thin: they call services in thread workers and show results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TypeVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
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


def notify_worker_error(node, event: Worker.StateChanged) -> None:
    if event.state == WorkerState.ERROR and event.worker.error is not None:
        node.app.notify(error_message(event.worker.error), severity="error", timeout=6)


class WorkerErrors:
    """Mixed into every screen: the one error path. A worker that fails becomes one clear notification."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_worker_error(self, event)


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
        #: seconds without a key before the desk locks (0: never)
        self.lock_after = max(0, settings.lock_minutes) * 60
        self.last_activity = time.monotonic()
        self.locked = False

    def on_mount(self) -> None:
        from mms_tui.screens.login import LoginScreen

        self.push_screen(LoginScreen())
        self.set_interval(5, self.lock_if_idle)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.Paste):
            self.last_activity = time.monotonic()
        await super().on_event(event)

    def lock_if_idle(self) -> None:
        if self.staff is None or self.locked or not self.lock_after:
            return
        if time.monotonic() - self.last_activity >= self.lock_after:
            self.lock_desk()

    def lock_desk(self) -> None:
        from mms_tui.screens.lock import LockScreen

        assert self.staff is not None
        self.locked = True
        self.push_screen(LockScreen(self.staff.code), self.unlocked)

    def unlocked(self, staff: Staff | None) -> None:
        self.locked = False
        self.last_activity = time.monotonic()
        if staff is not None:
            self.set_staff(staff)

    def set_staff(self, staff: Staff) -> None:
        self.staff = staff
        self.sub_title = f"{staff.name} · {self.settings.store}"

    def logged_in(self, staff: Staff) -> None:
        from mms_tui.screens.desk import DeskScreen

        self.set_staff(staff)
        self.last_activity = time.monotonic()
        self.switch_screen(DeskScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key of the current screen is also in the command palette (Ctrl+P), by its description."""
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            key = binding.key_display or binding.key
            yield SystemCommand(binding.description, _("Key: {key}").format(key=key),
                                partial(self.run_action, binding.action, active.node))
        yield from super().get_system_commands(screen)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one error path: any failed worker becomes one clear notification, never a traceback."""
        notify_worker_error(self, event)


def create_app(settings: Settings) -> MmsApp:
    """Build the app from settings: used by ``mms``, ``mms demo`` and the tests alike."""
    set_language(settings.lang)
    init_database(settings.database)
    return MmsApp(settings)
