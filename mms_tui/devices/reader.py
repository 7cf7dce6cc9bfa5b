"""A reader in a thread: open a pyserial URL, read with a timeout, parse, de-duplicate, call back. Never raises.

URLs are anything pyserial opens: ``/dev/ttyUSB0``, ``rfc2217://counter-pc:4000`` (ser2net on the counter PC while
staff work over SSH), ``socket://host:port``, ``loop://``, ``hwgrep://VID:PID``. On unplug (or any I/O error) the
status becomes "disconnected", the port is reopened with backoff, and the status returns to "connected".
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import serial

from mms_tui.devices.protocols import Read, make_parser

log = logging.getLogger(__name__)

#: a card still on the reader repeats its frame; the same value again within this gap is the same presentation
HOLD_GAP_SECONDS = 0.8


#: reader states, marked for the catalog so the screens can show them translated
STATES = ("connecting", "connected", "disconnected", "stopped")


#: what a device is at the counter: the desk's title names it
ROLES = ("reader", "scanner")


@dataclass(frozen=True)
class ReaderStatus:
    url: str
    protocol: str
    state: str  # one of STATES
    reads: int
    errors: int
    reads_per_minute: int
    last_error: str
    role: str = "reader"  # one of ROLES


def parse_serial(spec: str) -> dict:
    """'9600 8N1' (or '115200,7E2') → pyserial settings. Raises ValueError with the reason."""
    parts = spec.replace(",", " ").split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) not in (3, 4):
        raise ValueError(f"serial settings look like '9600 8N1', not {spec!r}")
    frame = parts[1].upper()
    bits, parity, stop = frame[0], frame[1], frame[2:]
    if bits not in "5678" or parity not in "NEOMS" or stop not in ("1", "2", "15"):
        raise ValueError(f"serial frame must be like 8N1, 7E1 or 8N2, not {parts[1]!r}")
    return {"baudrate": int(parts[0]), "bytesize": int(bits), "parity": parity,
            "stopbits": 1.5 if stop == "15" else int(stop)}


class Deduplicator:
    """One read per presentation: the same value again before ``gap`` seconds of silence is dropped."""

    def __init__(self, gap: float = HOLD_GAP_SECONDS) -> None:
        self.gap = gap
        self.last_value: str | None = None
        self.last_seen = 0.0

    def accept(self, read: Read, now: float) -> bool:
        same = read.value == self.last_value and now - self.last_seen < self.gap
        self.last_value, self.last_seen = read.value, now
        return not same


class SerialReader:
    def __init__(
        self,
        url: str,
        protocol: str,
        on_read: Callable[[Read], None],
        on_status: Callable[[ReaderStatus], None] | None = None,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        read_timeout: float = 0.1,
        max_backoff: float = 5.0,
        role: str = "reader",
        byte_order: str = "normal",
    ) -> None:
        self.url = url
        self.protocol = protocol
        self.role = role
        # ValueError for an unknown protocol or byte order, before any thread starts
        self.parser = make_parser(protocol, byte_order)
        self.on_read = on_read
        self.on_status = on_status
        self.serial_settings = {"baudrate": baudrate, "bytesize": bytesize, "parity": parity, "stopbits": stopbits,
                                "timeout": read_timeout}
        self.max_backoff = max_backoff
        self.state = "connecting"
        self.reads = 0
        self.last_error = ""
        self.recent: deque[float] = deque(maxlen=1000)
        self.dedupe = Deduplicator()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reader {url}", daemon=True)

    # --- control -------------------------------------------------------------------------------------------

    def start(self) -> SerialReader:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._set_state("stopped")

    def status(self) -> ReaderStatus:
        now = time.monotonic()
        per_minute = sum(1 for t in self.recent if now - t < 60)
        return ReaderStatus(self.url, self.protocol, self.state, self.reads, self.parser.errors, per_minute,
                            self.last_error or self.parser.last_error, self.role)

    # --- the thread ----------------------------------------------------------------------------------------

    def _set_state(self, state: str, error: str = "") -> None:
        changed = state != self.state or (error and error != self.last_error)
        self.state = state
        if error:
            self.last_error = error
        elif state == "connected":  # the error that cut the last connection is over
            self.last_error = ""
            self.parser.last_error = ""
        if changed:
            self._report()

    def _report(self) -> None:
        if self.on_status is None:
            return
        try:
            self.on_status(self.status())
        except Exception:  # a broken callback must not kill the reader
            log.exception("reader status callback failed")

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.url, **self.serial_settings)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._set_state("disconnected", str(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.2
            self._set_state("connected")
            try:
                self._pump(port)
            except (serial.SerialException, OSError) as exc:
                self._set_state("disconnected", str(exc))
            finally:
                with contextlib.suppress(Exception):
                    port.close()
            if not self._stop.is_set():
                self._stop.wait(backoff)

    def _pump(self, port: serial.SerialBase) -> None:
        while not self._stop.is_set():
            data = port.read(max(1, getattr(port, "in_waiting", 0) or 1))
            if not data:
                continue
            errors = self.parser.errors
            found = self.parser.feed(data)
            if self.parser.errors != errors and self.on_status is not None:
                self._report()
            for read in found:
                now = time.monotonic()
                # a card left on the reader repeats its frame: one presentation; a product scanned twice is two
                if read.kind == "card" and not self.dedupe.accept(read, now):
                    continue
                self.reads += 1
                self.recent.append(now)
                try:
                    self.on_read(read)
                except Exception:
                    log.exception("reader callback failed")
                self._report()  # the reads per minute the desk's title shows
