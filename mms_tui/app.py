"""The Textual app and its factory. Screens are thin: they call services in thread workers and show results."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TypeVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from mms_tui.db import database, database_fault, init_database
from mms_tui.devices.printer import PrinterError, receipt_bytes, send
from mms_tui.devices.protocols import Read
from mms_tui.devices.reader import ReaderStatus, SerialReader, parse_serial
from mms_tui.i18n import _, set_language
from mms_tui.models import Staff
from mms_tui.services.errors import DomainError
from mms_tui.services.lookup import lookup
from mms_tui.services.receipt import sale_receipt
from mms_tui.settings import Settings

T = TypeVar("T")


def in_connection(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run ``fn`` on this thread's own short-lived connection (each worker thread has its own)."""
    with database.connection_context():
        return fn(*args, **kwargs)


def card_and_view(value: str) -> tuple[list, object]:
    """A swipe's lookup, and the member's panel read with it in the same connection when the card is known
    (the member screen then shows it as it opens); a panel that fails to read is read again by the screen."""
    from mms_tui.services.desk import member_view

    hits = lookup(value, 2)
    card_hits = [h for h in hits if h.match == "card"]
    if not card_hits:
        return hits, None
    try:
        return hits, member_view(card_hits[0].member_id)
    except Exception:  # the screen reads it again itself, and says what is wrong
        return hits, None


def error_message(error: BaseException) -> str:
    """What a cashier reads when something fails: the domain's own sentence, or one plain line."""
    if isinstance(error, DomainError):
        return str(error)
    fault = database_fault(error)
    if fault is not None:
        return fault
    return _("Something went wrong: {error}").format(error=error.__class__.__name__ + (f": {error}" if str(error) else ""))


def notify_worker_error(node, event: Worker.StateChanged) -> None:
    if event.state == WorkerState.ERROR and event.worker.error is not None:
        node.app.notify(error_message(event.worker.error), severity="error", timeout=6)


class WorkerErrors:
    """Mixed into every screen: the one error path. A worker that fails becomes one clear notification."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_worker_error(self, event)


class DeviceRead(Message):
    """A card swiped or a barcode scanned on a serial device (posted from the reader thread)."""

    def __init__(self, read: Read) -> None:
        super().__init__()
        self.read = read


class DeviceStatus(Message):
    def __init__(self, status: ReaderStatus) -> None:
        super().__init__()
        self.status = status


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
        self.readers: list[SerialReader] = []
        self.ui_loop: asyncio.AbstractEventLoop | None = None
        self.device_states: dict[str, ReaderStatus] = {}
        self.kept_member_screen: Screen | None = None
        self.last_busy = self.last_tidy = 0.0
        self.frozen = False

    def on_mount(self) -> None:
        from mms_tui.screens.login import LoginScreen

        self.push_screen(LoginScreen())
        self.set_interval(5, self.lock_if_idle)
        self.set_interval(0.25, self.tidy_memory)
        self.start_devices()

    # --- devices ---------------------------------------------------------------------------------------------

    def start_devices(self) -> None:
        self.ui_loop = asyncio.get_running_loop()
        wanted = [(self.settings.card_reader, self.settings.reader_protocol, self.settings.reader_serial),
                  (self.settings.scanner, self.settings.scanner_protocol, self.settings.scanner_serial)]
        for url, protocol, serial_spec in wanted:
            if not url:
                continue
            try:
                reader = SerialReader(url, protocol, lambda read: self.from_device(DeviceRead(read)),
                                      lambda status: self.from_device(DeviceStatus(status)),
                                      **parse_serial(serial_spec))
            except ValueError as exc:  # unknown protocol or bad serial settings in the configuration
                self.notify(str(exc), severity="error")
                continue
            self.readers.append(reader.start())

    def from_device(self, message: Message) -> None:
        """Called on a reader thread: hand the message to the UI loop and wake it at once."""
        loop = self.ui_loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.post_message, message)

    def on_unmount(self) -> None:
        for reader in self.readers:
            reader.stop(timeout=0.5)
        if self.frozen:  # hand what was frozen back to the collector (a process that runs the app again, tests)
            gc.unfreeze()
            self.frozen = False

    def on_device_status(self, message: DeviceStatus) -> None:
        status = message.status
        before = self.device_states.get(status.url)
        self.device_states[status.url] = status
        if before is not None and before.state != status.state and status.state == "disconnected":
            self.notify(_("Reader {url} disconnected; reconnecting…").format(url=status.url), severity="warning")
        self.show_title()

    def device_summary(self) -> str:
        marks = {"connected": "●", "disconnected": "○", "connecting": "…"}
        return " ".join(f"{marks.get(s.state, '?')}{_('reader')} {s.reads_per_minute}/min"
                        for s in self.device_states.values())

    def show_title(self) -> None:
        who = f"{self.staff.name} · {self.settings.store}" if self.staff is not None else _("Front desk")
        devices = self.device_summary()
        self.sub_title = f"{who}  {devices}" if devices else who

    @work(thread=True, group="printer", exit_on_error=False)
    def print_receipt(self, txid: str, *, reprint: bool = False) -> None:
        """Print a sale's receipt when a printer is configured; cash sales open the drawer (not on a reprint)."""
        if not self.settings.printer:
            return
        receipt = in_connection(sale_receipt, txid)
        data = receipt_bytes(receipt.lines, title=receipt.title, encoding=self.settings.printer_encoding,
                             kick_drawer=receipt.cash and not reprint)
        try:
            send(self.settings.printer, data, **parse_serial(self.settings.printer_serial))
        except PrinterError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
        except ValueError as exc:  # bad printer_serial in the configuration
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=8)

    def on_device_read(self, message: DeviceRead) -> None:
        """A swipe or scan: the screen may take it (checkout adds a product); otherwise it opens the member."""
        self.last_busy = time.monotonic()
        handler = getattr(self.screen, "handle_device_read", None)
        if handler is not None and handler(message.read):
            return
        if self.staff is None or self.locked:
            return
        self.open_card(message.read.value)

    @work(thread=True, exclusive=True, group="swipe", exit_on_error=False)
    def open_card(self, value: str) -> None:
        hits, view = in_connection(card_and_view, value)
        self.call_from_thread(self.show_card, value, hits, view)

    def show_card(self, value: str, hits: list, view=None) -> None:
        from mms_tui.screens.checkout import CheckoutScreen
        from mms_tui.screens.confirm import ConfirmScreen, UnknownCardScreen
        from mms_tui.screens.member import MemberScreen

        card_hits = [h for h in hits if h.match == "card"]
        screen = self.screen
        if not card_hits:
            member = screen if isinstance(screen, MemberScreen) else None
            name = member.view.name if member is not None and member.view is not None else None
            self.push_screen(UnknownCardScreen(value, name), lambda choice: self.unknown_card(choice, value, member))
            return
        hit = card_hits[0]
        if isinstance(screen, MemberScreen) and screen.member_id == hit.member_id:
            return
        if isinstance(screen, CheckoutScreen):
            if screen.member_id == hit.member_id:
                return

            def switch(yes: bool | None) -> None:
                if yes:
                    screen.dismiss(None)
                    self.push_screen(self.member_screen(hit.member_id, hit.matched_card))  # read afresh

            self.push_screen(ConfirmScreen(_("Leave this sale (nothing is charged) and open {name}?").format(
                name=hit.name)), switch)
            return
        self.push_screen(self.member_screen(hit.member_id, hit.matched_card, view=view))

    def member_screen(self, member_id: int, card_no: str | None = None, *, view=None) -> Screen:
        """The member screen for ``member_id``: the one kept from before, refilled, when it is idle and off the
        stack (a swipe at the counter then restyles and mounts nothing); a new one when that one is in use."""
        from mms_tui.screens.member import MemberScreen

        kept = self.kept_member_screen
        if kept is None:
            kept = self.kept_member_screen = MemberScreen(member_id, card_no, view=view)
            self.install_screen(kept, name="member")
            return kept
        busy = kept in self.screen_stack or any(w.node is kept and not w.is_finished for w in self.workers)
        if busy:
            return MemberScreen(member_id, card_no, view=view)
        kept.open(member_id, card_no, view)
        return kept

    def unknown_card(self, choice: str | None, card_no: str, member) -> None:
        from mms_tui.screens.register import MemberFormScreen

        if choice == "register":
            self.push_screen(MemberFormScreen(card_no=card_no), self._registered_with_card)
        elif choice == "issue" and member is not None:
            from mms_tui.screens.cards import IssueCardScreen

            self.push_screen(IssueCardScreen(member.member_id, card_no=card_no), member.after_dialog)

    def _registered_with_card(self, member_id: int | None) -> None:
        if member_id is not None:
            self.push_screen(self.member_screen(member_id))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.Paste):
            self.last_activity = self.last_busy = time.monotonic()
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
        self.show_title()

    def logged_in(self, staff: Staff) -> None:
        from mms_tui.screens.desk import DeskScreen

        self.set_staff(staff)
        self.last_activity = time.monotonic()
        self.switch_screen(DeskScreen())

    def tidy_memory(self) -> None:
        """Python's cycle collector, run when the desk is quiet instead of in the middle of a swipe.

        Left to itself the collector walks every object now and then: 20–150 ms at a random moment. Here the
        objects of starting up (modules, classes, the desk) are frozen once — moved out of the collector's
        sight — when the desk first shows; after that, a quarter to half a second after the last
        key or swipe, the garbage of that work (Textual leaves cycles behind on every restyle) is collected while
        nobody waits, so the collector seldom has to run during work, and briefly when it does."""
        now = time.monotonic()
        if self.last_busy <= self.last_tidy or now - self.last_busy < 0.25:
            return
        gc.collect()
        if not self.frozen and self.staff is not None:
            from mms_tui.screens.desk import DeskScreen

            if isinstance(self.screen, DeskScreen):
                gc.freeze()
                self.frozen = True
        self.last_tidy = time.monotonic()

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
