"""What every screen shares: running a service on a worker's own connection, the one error path, and the
messages devices and keyboard-wedge readers reach screens with.

The app imports this module and so do the screens; nothing here imports the app or a screen, so there is no cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual import events
from textual.message import Message
from textual.worker import Worker, WorkerState

from mms_tui.db import database, database_fault, is_transient
from mms_tui.devices.protocols import Read
from mms_tui.devices.reader import ReaderStatus
from mms_tui.i18n import _
from mms_tui.services.base.errors import DomainError
from mms_tui.services.members.lookup import lookup

T = TypeVar("T")


def in_connection(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run ``fn`` on this thread's own connection: on SQLite one the thread keeps open for its next call
    (``kept_connection`` in mms_tui/db.py), on PostgreSQL one opened for the call."""
    kept = getattr(database.obj, "kept_connection", None)
    with kept() if kept is not None else database.connection_context():
        return fn(*args, **kwargs)


def card_and_view(value: str, as_read: bool = False) -> tuple[list, object]:
    """A swipe's lookup, and the member's panel read with it in the same connection when the card is known
    (the member screen then shows it as it opens); a panel that fails to read is read again by the screen.
    ``as_read``: ``value`` is a serial reader's decoded UID (Read.is_uid)."""
    from mms_tui.services.members.view import member_view

    hits = lookup(value, 2, as_read=as_read)
    card_hits = [h for h in hits if h.match == "card"]
    if not card_hits:
        return hits, None
    try:
        return hits, member_view(card_hits[0].member_id)
    except Exception:  # the screen reads it again itself, and says what is wrong
        return hits, None


def error_message(error: BaseException) -> str:
    """What a cashier reads when something fails: the domain's own sentence, or one plain line (a save that gave
    up waiting for the write lock says for whom, when an import holds it)."""
    if isinstance(error, DomainError):
        return str(error)
    fault = database_fault(error)
    if fault is not None:
        if is_transient(error):
            writer = _writer()
            if writer is not None:
                return _("{what} (since {since}) is writing: nothing was saved. Try again when it is done.").format(
                    what=writer.get("what", "?"), since=writer.get("since", "?"))
        return fault
    return _("Something went wrong: {error}").format(error=error.__class__.__name__ + (f": {error}" if str(error) else ""))


def _writer() -> dict | None:
    from mms_tui.services.base.config import current_writer

    try:
        return in_connection(current_writer)
    except Exception:  # the note is a courtesy: the message without it still says what happened
        return None


class SavingNotice:
    """A save that has not answered after half a second is waiting for another writer: say so, and for whom."""

    def __init__(self, node) -> None:
        self.node = node
        self.timer = node.set_timer(0.5, self.show)

    def show(self) -> None:
        self.node.run_worker(self.tell, group="saving-notice", exit_on_error=False)

    async def tell(self) -> None:
        import asyncio

        writer = await asyncio.to_thread(_writer)
        if writer is not None:
            text = _("Saving… ({what}, since {since}, is writing)").format(what=writer.get("what", "?"),
                                                                         since=writer.get("since", "?"))
        else:
            text = _("Saving… (another desk is writing)")
        self.node.notify(text, timeout=4)

    def done(self) -> None:
        self.timer.stop()


def notify_worker_error(node, event: Worker.StateChanged) -> None:
    if event.state == WorkerState.ERROR and event.worker.error is not None:
        node.app.notify(error_message(event.worker.error), severity="error", timeout=6)


class WorkerErrors:
    """Mixed into every screen: the one error path. A worker that fails becomes one clear notification."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_worker_error(self, event)


class DeviceRead(Message):
    """A card swiped or a barcode scanned on a serial device (posted from the reader thread to the app)."""

    def __init__(self, read: Read) -> None:
        super().__init__()
        self.read = read


class DeviceStatus(Message):
    def __init__(self, status: ReaderStatus) -> None:
        super().__init__()
        self.status = status


class Swiped(Message):
    """A read — from a serial reader or scanner, or a keyboard-wedge reader's burst of keys (``read.kind`` is
    "wedge": a card or a barcode, nobody can tell which) — offered to the screen on top. A screen that takes it
    (a dialog asking for a card number, the checkout adding a product) handles it and stops it; otherwise it
    bubbles up to the app, which opens the member whose card it is."""

    def __init__(self, read: Read) -> None:
        super().__init__()
        self.read = read


def typed_character(event: events.Key) -> str | None:
    """The character a key press types (a digit, a letter, a CJK character…), or None for Enter, F-keys, Ctrl-keys."""
    char = event.character
    if char is None or len(char) != 1 or not char.isprintable() or event.key == "enter":
        return None
    return char


class TypingSearches:
    """Mixed into a screen about one member (the member, their history): what is typed there — a phone, a name,
    pinyin, a card number — goes back to the desk's search; it never acts on the member showing."""

    def on_key(self, event: events.Key) -> None:
        char = typed_character(event)
        if char is not None and char not in " ?":
            event.stop()
            event.prevent_default()
            self.app.search_at_desk(char)  # type: ignore[attr-defined]
