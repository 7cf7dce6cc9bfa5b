"""The Textual app and its factory. Screens are thin: they call services in workers and show results.

Reads reach screens as one message, :class:`~mms_tui.screens.common.Swiped`, whether they come from a serial reader
or scanner or from a keyboard-wedge reader typing a card number and Enter (recognised by its speed here, before the
keys reach any box; settings ``wedge_gap_ms`` and ``wedge_min_chars``). The screen on top may take the read (a
dialog asking for a card, the checkout adding a product); otherwise the app opens the member — never over a dialog,
and with a warning first for a card reported lost. A read that is no card but a receipt's QR code (a sale's txid)
opens that sale's receipt. A wedge burst that matches neither is searched for at the desk, as it would have been
typed.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.worker import Worker

from mms_tui import clock
from mms_tui.db import init_database, set_waits
from mms_tui.devices import display as pole
from mms_tui.devices.printer import PrinterError, receipt_bytes, send
from mms_tui.devices.protocols import Read
from mms_tui.devices.reader import ReaderStatus, SerialReader, parse_serial
from mms_tui.devices.wedge import WedgeDetector
from mms_tui.i18n import N_, _, set_language
from mms_tui.models import Staff
from mms_tui.screens.common import (
    DeviceRead,
    DeviceStatus,
    Swiped,
    error_message,
    in_connection,
    notify_worker_error,
    typed_character,
)
from mms_tui.services.base.resolve import set_uid_byte_order
from mms_tui.settings import Settings

if TYPE_CHECKING:
    from mms_tui.services.money.checkout import CheckoutResult, Quote
    from mms_tui.services.money.receipt import Receipt

__all__ = ["MmsApp", "create_app", "error_message", "in_connection"]

#: after the customer display failed, how long the desk keeps quiet about it (unless it answers again first)
DISPLAY_QUIET_SECONDS = 60

#: Textual's own palette commands, for the catalog (shown through ``_`` in the desk's language)
_TEXTUAL_COMMANDS = (N_("Theme"), N_("Change the current theme"), N_("Quit"),
                     N_("Quit the application as soon as possible"), N_("Keys"),
                     N_("Hide the keys and widget help panel"),
                     N_("Show help for the focused widget and a summary of available keys"), N_("Minimize"),
                     N_("Minimize the widget and restore to normal size"), N_("Maximize"),
                     N_("Maximize the focused widget"), N_("Screenshot"),
                     N_("Save an SVG 'screenshot' of the current screen"))


class MmsApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "mms"
    BINDINGS = [
        Binding("f1", "help", N_("Help"), id="help", priority=True),
        Binding("ctrl+q", "quit", N_("Quit"), id="quit", show=False, priority=True),
        Binding("ctrl+p", "command_palette", N_("All actions"), id="palette", show=False, priority=True),
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
        self.wedge = WedgeDetector(max(0, settings.wedge_gap_ms) / 1000, settings.wedge_min_chars)
        self.held_keys: list[events.Key] = []  # typed keys held back while a wedge burst may be arriving
        self.held_timer: Timer | None = None
        #: the customer display: the newest frame not sent yet, who is sending, and until when a fault is not
        #: said again (see show_on_display)
        self.display_frames: deque[bytes] = deque(maxlen=1)
        self.display_sending = threading.Lock()
        self.display_quiet_until = 0.0

    def on_mount(self) -> None:
        from mms_tui.screens.login import LoginScreen

        self.push_screen(LoginScreen())
        self.set_interval(5, self.lock_if_idle)
        self.set_interval(0.25, self.tidy_memory)
        self.start_devices()
        self.call_after_refresh(self.set_timer, 0.05, self.warm_up)

    def warm_up(self) -> None:
        """Import what the desk uses after the login (its screens, checkout and receipts: a third of the start-up
        time) once the login is drawn, while the staff member types — not before the first frame, and not in
        the middle of the first swipe. Keys typed meanwhile wait in order; nothing is lost."""
        import importlib

        for name in ("screens.desk", "screens.member", "screens.checkout", "services.money.receipt"):
            importlib.import_module(f"mms_tui.{name}")

    # --- devices ---------------------------------------------------------------------------------------------

    def start_devices(self) -> None:
        self.ui_loop = asyncio.get_running_loop()
        wanted = [("reader", self.settings.card_reader, self.settings.reader_protocol, self.settings.reader_serial),
                  ("scanner", self.settings.scanner, self.settings.scanner_protocol, self.settings.scanner_serial)]
        for role, url, protocol, serial_spec in wanted:
            if not url:
                continue
            try:
                reader = SerialReader(url, protocol, lambda read: self.from_device(DeviceRead(read)),
                                      lambda status: self.from_device(DeviceStatus(status)),
                                      role=role, byte_order=self.settings.uid_byte_order,
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
        names = {"reader": _("reader"), "scanner": _("scanner")}
        return " ".join(f"{marks.get(s.state, '?')}{names.get(s.role, s.role)} {s.reads_per_minute}/{_('min')}"
                        for s in self.device_states.values())

    def show_title(self) -> None:
        who = f"{self.staff.name} · {self.settings.store}" if self.staff is not None else _("Front desk")
        devices = self.device_summary()
        self.sub_title = f"{who}  {devices}" if devices else who

    def receipt(self, txid: str) -> Receipt:
        """A sale's receipt laid out for this desk's printer (its paper width and encoding); reads the database."""
        from mms_tui.services.money.receipt import sale_receipt

        return in_connection(sale_receipt, txid, width=self.settings.receipt_columns,
                             encoding=self.settings.printer_encoding)

    @work(thread=True, group="printer", exit_on_error=False)
    def print_receipt(self, txid: str, *, reprint: bool = False) -> None:
        """Print a sale's receipt when a printer is configured; cash sales open the drawer (not on a reprint)."""
        if not self.settings.printer:
            return
        receipt = self.receipt(txid)
        self.print_lines(receipt.lines, receipt.title, kick_drawer=receipt.cash and not reprint, qr=receipt.qr)

    def print_lines(self, lines: list[str], title: str, *, kick_drawer: bool = False, qr: str = "") -> None:
        """Send text to the receipt printer (on a worker thread); a fault becomes one notification."""
        data = receipt_bytes(lines, title=title, encoding=self.settings.printer_encoding, kick_drawer=kick_drawer,
                             qr=qr)
        try:
            send(self.settings.printer, data, **parse_serial(self.settings.printer_serial))
        except (PrinterError, ValueError) as exc:  # ValueError: bad printer_serial in the configuration
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=8)

    # --- reads: serial devices and keyboard-wedge bursts, one path --------------------------------------------

    def on_device_read(self, message: DeviceRead) -> None:
        self.last_busy = time.monotonic()
        self.offer_read(message.read)

    def offer_read(self, read: Read) -> None:
        """Offer a read to the screen on top; what it does not take comes back to :meth:`on_swiped`."""
        self.screen.post_message(Swiped(read))

    def on_swiped(self, message: Swiped) -> None:
        """No screen took the read: a staff card clocks in or out (考勤), over any screen; any other card opens
        its member (or a wedge's burst is searched for)."""
        if self.staff is None or self.locked:
            return
        self.open_card(message.read.value, wedge=message.read.kind == "wedge",
                       over_dialog=isinstance(self.screen, ModalScreen), as_read=message.read.is_uid)

    @work(exclusive=True, group="swipe", exit_on_error=False)
    async def open_card(self, value: str, wedge: bool = False, over_dialog: bool = False,
                        as_read: bool = False) -> None:
        from mms_tui.screens.attendance import staff_card_or_member

        clocking, hits, view = await asyncio.to_thread(in_connection, staff_card_or_member, value, not over_dialog,
                                                       as_read)
        if clocking is not None:
            self.open_clock(clocking)
            return
        if over_dialog:  # never open a member over a dialog in progress
            self.notify(_("Finish or close this dialog first, then swipe again."), severity="warning")
            return
        if not any(h.match == "card" for h in hits):  # a receipt's QR code? (an unknown one fails: one notice)
            from mms_tui.services.money.receipt import sale_for_code

            sale = await asyncio.to_thread(in_connection, sale_for_code, value)
            if sale is not None:
                self.open_sale(sale.txid, sale.member_id)
                return
        self.show_card(value, hits, view, wedge=wedge, as_read=as_read)

    def open_clock(self, clocking) -> None:
        """A staff card: its clock dialog over whatever shows (a sale in progress stays as it was)."""
        from mms_tui.screens.attendance import ClockCardScreen

        if isinstance(self.screen, ClockCardScreen):
            return

        def clocked(line: str | None) -> None:
            if line:
                self.notify(line, timeout=6)

        self.push_screen(ClockCardScreen(clocking, self.settings.store), clocked)

    def open_sale(self, txid: str, member_id: int | None) -> None:
        """A receipt's QR code scanned at the desk: that sale's receipt, over whatever screen is showing."""
        from mms_tui.screens.receipt import ReceiptScreen

        self.push_screen(ReceiptScreen(txid, member_id))

    def show_card(self, value: str, hits: list, view=None, *, wedge: bool = False, as_read: bool = False) -> None:
        from mms_tui.screens.checkout import CheckoutScreen
        from mms_tui.screens.confirm import UnknownCardScreen
        from mms_tui.screens.dialog import ConfirmScreen
        from mms_tui.screens.member import MemberScreen

        card_hits = [h for h in hits if h.match == "card"]
        screen = self.screen
        if not card_hits:
            if wedge:  # typed by a reader, or by someone very fast: what it was typed as, a search
                self.search_at_desk(value, submit=True)
                return
            member = screen if isinstance(screen, MemberScreen) else None
            name = member.view.name if member is not None and member.view is not None else None
            self.push_screen(UnknownCardScreen(value, name), lambda choice: self.unknown_card(choice, value, member,
                                                                                               as_read))
            return
        hit = card_hits[0]
        card = next((c for c in hit.cards if c.card_no == hit.matched_card), None)
        if card is not None and card.status == "lost":
            def after_warning(go_on: bool | None) -> None:
                if go_on:
                    self.open_hit(hit, None)

            self.push_screen(ConfirmScreen(
                _("⚠ Card {card} is reported lost and blocked.").format(card=card.card_no),
                [_("The person holding it may not be {name}. Keep the card and check who they are.").format(
                    name=hit.name), _("Open {name} anyway?").format(name=hit.name)], warning=True), after_warning)
            return
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
        self.open_hit(hit, view)

    def open_hit(self, hit, view) -> None:
        from mms_tui.screens.member import MemberScreen

        if isinstance(self.screen, MemberScreen):  # another member: this one's screen is left, not stacked
            self.screen.dismiss(None)
        self.push_screen(self.member_screen(hit.member_id, hit.matched_card, view=view))

    def search_at_desk(self, text: str, *, submit: bool = False) -> None:
        """Back to the desk's search with ``text`` typed into it (and searched for when ``submit``): typing on a
        member's screen never acts on that member."""
        from mms_tui.screens.desk import DeskScreen

        while not isinstance(self.screen, DeskScreen) and len(self.screen_stack) > 1 \
                and not isinstance(self.screen, ModalScreen):
            self.screen.dismiss(None)
        if isinstance(self.screen, DeskScreen):
            self.screen.type_into_search(text, submit=submit)

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

    def unknown_card(self, choice: str | None, card_no: str, member, as_read: bool = False) -> None:
        from mms_tui.screens.register import MemberFormScreen

        if choice == "register":
            self.push_screen(MemberFormScreen(card_no=card_no, uid_as_read=as_read), self._registered_with_card)
        elif choice == "issue" and member is not None:
            from mms_tui.screens.cards import IssueCardScreen

            self.push_screen(IssueCardScreen(member.member_id, card_no=card_no, uid_as_read=as_read),
                             member.after_dialog)

    def _registered_with_card(self, member_id: int | None) -> None:
        if member_id is not None:
            self.push_screen(self.member_screen(member_id))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.Paste):
            self.last_activity = self.last_busy = time.monotonic()
        if isinstance(event, events.Key) and self.wedge.enabled and await self.hold_for_wedge(event):
            return
        await super().on_event(event)

    async def hold_for_wedge(self, event: events.Key) -> bool:
        """Tell a keyboard-wedge reader's burst from typing before any box sees it.

        A printable key is held for ``wedge_gap_ms``: the next one arriving sooner is held with it. When Enter
        ends a held burst long enough to be a card, the burst is a read (offered like a serial swipe) and no box
        ever shows it; otherwise — a person's keystroke, a slower burst over a jittery SSH link, any other key —
        the held keys go on, in order, to whatever has the keyboard. True when ``event`` was taken here."""
        char = typed_character(event)
        now = max(event.time, self.wedge.last)  # when the key came in, not when the loop got to it (it may have been
        # busy); never back in time
        if char is not None:
            if self.held_keys and now - self.wedge.last > self.wedge.max_gap:
                await self.release_keys()
            self.wedge.char(char, now)
            self.held_keys.append(event)
            if self.held_timer is not None:
                self.held_timer.stop()
            self.held_timer = self.set_timer(self.wedge.max_gap, self.release_keys)
            return True
        if event.key == "enter" and self.held_keys:
            burst = self.wedge.enter(now)
            if burst is not None and not getattr(self.screen, "WEDGE_IS_TYPING", False):
                self.held_keys = []
                if self.held_timer is not None:
                    self.held_timer.stop()
                self.offer_read(Read("wedge", burst.strip(), "wedge"))
                return True
        else:
            self.wedge.other()
        await self.release_keys()
        return False

    async def release_keys(self) -> None:
        """The held keys were typing: on to the screen, in the order they came."""
        if self.held_timer is not None:
            self.held_timer.stop()
            self.held_timer = None
        held, self.held_keys = self.held_keys, []
        for key in held:
            await App.on_event(self, key)

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

    def unlocked(self, staff: Staff | None) -> None:  # the lock screen opened the unlocking staff's shift
        self.locked = False
        self.last_activity = time.monotonic()
        if staff is not None:
            self.set_staff(staff)

    def set_staff(self, staff: Staff) -> None:
        self.staff = staff
        self.show_title()

    def log_out(self) -> None:
        """Back to the login (after a staff member closed their own shift): nothing of their work stays."""
        from mms_tui.screens.login import LoginScreen

        self.staff = None
        self.show_title()
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(LoginScreen())

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

            if self.screen_stack and isinstance(self.screen, DeskScreen):  # (none while the app closes)
                gc.freeze()
                self.frozen = True
        self.last_tidy = time.monotonic()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key of the current screen is also in the command palette (Ctrl+P), by its description, in the
        desk's language; then Textual's own commands, translated."""
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding  # the desk's own keys have an id; a list's arrows and Home/End are not actions
            if not binding.description or binding.id is None or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            key = binding.key_display or self.get_key_display(binding)
            yield SystemCommand(_(binding.description), _("Key: {key}").format(key=key),
                                partial(self.run_action, binding.action, active.node))
        for command in super().get_system_commands(screen):
            yield SystemCommand(_(command.title), _(command.help), command.callback, command.discover)

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(placeholder=_("Search for commands…"), id="--command-palette"))

    def action_help(self) -> None:
        """F1: every key of the screen on top, named."""
        from mms_tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        notes = getattr(self.screen, "help_notes", lambda: [])()
        self.push_screen(HelpScreen(self.screen, notes))

    # --- the customer display (客显) -----------------------------------------------------------------------------

    def show_bill_on_display(self, before: Quote | None, after: Quote | None) -> None:
        """The checkout's bill changed from ``before`` to ``after``: the line added or changed (else the last one)
        and the running total; an empty bill shows the welcome."""
        if not self.settings.display:
            return
        rows = self.bill_rows(after)
        if after is None or not rows:
            self.show_welcome_on_display()
            return
        seen = {(code, qty, amount) for code, _name, qty, amount in self.bill_rows(before)}
        code, name, qty, amount = next((row for row in reversed(rows) if (row[0], row[2], row[3]) not in seen),
                                       rows[-1])
        self.show_on_display(partial(pole.item_bytes, name=name, code=code, qty=qty, amount_fen=amount,
                                     total_fen=after.total_fen))

    @staticmethod
    def bill_rows(quote: Quote | None) -> list[tuple[str, str, int, int]]:
        if quote is None:
            return []
        return ([(line.code, line.name, line.qty, line.line_total_fen) for line in quote.lines]
                + [(fee.kind, fee.name, 1, fee.amount_fen) for fee in quote.fees])

    def show_sale_on_display(self, result: CheckoutResult) -> None:
        """The sale is paid: its total, and the change (or what was paid)."""
        if self.settings.display:
            self.show_on_display(partial(pole.payment_bytes, total_fen=result.total_fen,
                                         paid_fen=result.total_fen + result.change_fen, change_fen=result.change_fen))

    def show_welcome_on_display(self) -> None:
        """Between sales (the checkout closed): the welcome."""
        if self.settings.display and self.is_running:  # (not while the app closes: no worker starts then)
            self.show_on_display(pole.welcome_bytes)

    def show_on_display(self, frame: Callable[..., bytes]) -> None:
        """Build the frame here (``frame(protocol, encoding=…, labels=…)``) and send it from a worker thread.

        Only the newest frame matters: it waits in a one-place mailbox, and one worker at a time sends — a worker
        that finds another sending leaves its frame to that one — so a slow display holds at most one thread and
        the frames never arrive out of order. A fault is one notification, then nothing more until the display
        answers again or DISPLAY_QUIET_SECONDS have passed."""
        labels = pole.Labels(total=_("TOTAL"), paid=_("PAID"), change=_("CHANGE"), welcome=_("WELCOME"))
        try:
            data = frame(self.settings.display_protocol, encoding=self.settings.display_encoding, labels=labels)
        except (ValueError, LookupError) as exc:  # an unknown protocol or encoding in the configuration
            self.display_fault(str(exc))
            return
        self.display_frames.append(data)
        self.drive_display()

    @work(thread=True, group="display", exit_on_error=False)
    def drive_display(self) -> None:
        while self.display_frames:
            if not self.display_sending.acquire(blocking=False):
                return  # the worker sending now sends this frame after its own
            try:
                while self.display_frames:
                    try:
                        data = self.display_frames.popleft()
                    except IndexError:
                        break
                    self.send_to_display(data)
            finally:
                self.display_sending.release()

    def send_to_display(self, data: bytes) -> None:
        try:
            pole.send(self.settings.display, data, **parse_serial(self.settings.display_serial))
        except (pole.DisplayError, ValueError) as exc:  # ValueError: bad display_serial in the configuration
            if time.monotonic() >= self.display_quiet_until:
                self.call_from_thread(self.display_fault, str(exc))
        else:
            self.display_quiet_until = 0.0

    def display_fault(self, error: str) -> None:
        now = time.monotonic()
        if now < self.display_quiet_until:
            return
        self.display_quiet_until = now + DISPLAY_QUIET_SECONDS
        self.notify(_("Sales go on without the customer display: {error}").format(error=error), severity="warning",
                    timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one error path: any failed worker becomes one clear notification, never a traceback."""
        notify_worker_error(self, event)


def create_app(settings: Settings) -> MmsApp:
    """Build the app from settings: used by ``mms``, ``mms demo`` and the tests alike."""
    set_language(settings.lang)
    set_waits(settings.lock_wait_seconds, settings.statement_timeout_seconds)
    set_uid_byte_order(settings.uid_byte_order)
    clock.serve_store(settings.store)  # the desk's "now" and "today": its store's own zone, when it keeps one
    init_database(settings.database)
    return MmsApp(settings)
