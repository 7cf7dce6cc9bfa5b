"""Frame parsers: bytes in, typed reads out. Pure, incremental (``feed`` any split of the stream), never raising.

Every parser keeps what it has not yet understood, returns the reads completed by each ``feed``, and counts the
frames it had to drop (``errors``, with the last reason in ``last_error``). Each documents its byte format and its
resync rule: how it finds the next frame after garbage.

Card UIDs are canonical so that the same EM4100 tag resolves to the same member whichever reader read it: the
10-digit zero-padded decimal of the 4 tag bytes, as USB "decimal" readers print it (RDM6300 frames are converted).
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field

MAX_LINE = 4096  # a line longer than this without a terminator is noise: dropped, counted

STX, ETX = 0x02, 0x03


@dataclass(frozen=True)
class Read:
    """One decoded read: a card presented or a barcode scanned."""

    kind: str  # "card" | "barcode"
    value: str  # canonical card UID, card number or barcode text
    protocol: str
    symbology: str = ""  # AIM identifier of a barcode, e.g. "]E0" (EAN-13)
    at: float = field(default_factory=time.time)


def clean_text(text: str) -> str:
    """Full-width forms from a Chinese input method (０１２３) → ASCII; whitespace and control characters go."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if ch.isprintable() and not ch.isspace())


class Parser:
    """Base: subclasses implement ``_parse`` over ``self.buffer`` and return the reads found."""

    name = "base"

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.errors = 0
        self.last_error = ""
        self.frames = 0

    def feed(self, data: bytes) -> list[Read]:
        self.buffer += data
        reads = self._parse()
        self.frames += len(reads)
        return reads

    def error(self, reason: str) -> None:
        self.errors += 1
        self.last_error = reason

    def _parse(self) -> list[Read]:  # pragma: no cover - abstract
        raise NotImplementedError


class LineParser(Parser):
    """Plain lines: ASCII/UTF-8 text ended by CR, LF or CRLF (generic USB-serial readers, scanners in serial mode).

    Resync: a terminator ends every frame, so garbage costs at most one line. Empty lines are ignored; lines that
    are not UTF-8, or longer than ``MAX_LINE`` bytes without a terminator, are dropped and counted.
    """

    name = "line"
    kind = "card"

    def _lines(self) -> list[str]:
        lines: list[str] = []
        while True:
            match = re.search(rb"[\r\n]", self.buffer)
            if match is None:
                if len(self.buffer) > MAX_LINE:
                    self.error(f"line longer than {MAX_LINE} bytes without a terminator")
                    self.buffer.clear()
                return lines
            raw = bytes(self.buffer[: match.start()])
            del self.buffer[: match.end()]
            if not raw.strip():
                continue
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                self.error("line is not UTF-8")

    def _parse(self) -> list[Read]:
        reads = []
        for line in self._lines():
            value = clean_text(line)
            if value:
                reads.append(self.read(value))
        return reads

    def read(self, value: str) -> Read:
        return Read(self.kind, value, self.name)


class DecimalParser(LineParser):
    """EM4100 as printed by USB readers: 10 decimal digits (the 4 tag bytes, zero-padded), then CR/LF.

    Resync: per line. A line that is not exactly 10 digits (after full-width normalisation) is dropped and counted.
    """

    name = "decimal"

    def _parse(self) -> list[Read]:
        reads = []
        for line in self._lines():
            value = clean_text(line)
            if re.fullmatch(r"\d{10}", value) and int(value) <= 0xFFFFFFFF:
                reads.append(Read("card", value, self.name))
            else:
                self.error(f"not a 10-digit card number: {value[:40]!r}")
        return reads


class Rdm6300Parser(Parser):
    """RDM6300 / EM4100 125 kHz at 9600 8N1: ``STX`` (0x02), 10 ASCII hex chars (version byte + 4 tag bytes),
    2 ASCII hex chars (XOR of the 5 data bytes), ``ETX`` (0x03) — 14 bytes. Hex may be upper or lower case.

    The reader repeats the frame while the tag stays in the field (the reader thread turns that into one read).
    Resync: bytes before an STX are noise; a frame that is malformed (non-hex, bad checksum, no ETX at byte 13,
    another STX inside) is counted and scanning resumes just after its STX, so a real frame that started inside
    garbage is still found.
    """

    name = "rdm6300"
    FRAME = 14

    def _parse(self) -> list[Read]:
        reads = []
        while True:
            start = self.buffer.find(STX)
            if start < 0:
                if self.buffer:
                    self.error("noise without STX")
                self.buffer.clear()
                return reads
            if start:
                self.error("noise before STX")
                del self.buffer[:start]
            if len(self.buffer) < self.FRAME:
                inner = self.buffer.find(STX, 1)
                if inner > 0:  # a new frame began before this one ended
                    self.error("STX inside a frame")
                    del self.buffer[:inner]
                    continue
                return reads
            frame = bytes(self.buffer[: self.FRAME])
            uid = self._decode(frame)
            if uid is None:  # resume at the next STX inside the bad frame, else after it (one error per frame)
                inner = self.buffer.find(STX, 1, self.FRAME)
                del self.buffer[: inner if inner > 0 else self.FRAME]
                continue
            del self.buffer[: self.FRAME]
            reads.append(Read("card", uid, self.name))

    def _decode(self, frame: bytes) -> str | None:
        if frame[13] != ETX:
            self.error("no ETX at byte 13")
            return None
        body = frame[1:13]
        if STX in body or ETX in body:
            self.error("STX/ETX inside a frame")
            return None
        try:
            data = bytes.fromhex(body[:10].decode("ascii"))
            checksum = bytes.fromhex(body[10:12].decode("ascii"))[0]
        except (UnicodeDecodeError, ValueError):
            self.error("frame is not hex")
            return None
        xor = 0
        for b in data:
            xor ^= b
        if xor != checksum:
            self.error(f"bad checksum {checksum:02X}, expected {xor:02X}")
            return None
        return f"{int.from_bytes(data[1:], 'big'):010d}"


def em4100_decimal(hex10: str) -> str:
    """'0A1B2C3D4E' (version + 4 tag bytes) → '0456932686': the canonical UID of an EM4100 tag."""
    return f"{int(hex10[2:], 16):010d}"


class Wiegand26Parser(LineParser):
    """Wiegand-26 through a serial converter: 6 hex chars per line — facility code (1 byte) + card number (2 bytes).

    Canonical value: facility as 3 digits + card number as 5 digits ("12345678" style printed on HID cards).
    Resync: per line; anything else is dropped and counted.
    """

    name = "wiegand26"

    def _parse(self) -> list[Read]:
        reads = []
        for line in self._lines():
            value = clean_text(line)
            if re.fullmatch(r"[0-9A-Fa-f]{6}", value):
                facility, number = int(value[:2], 16), int(value[2:], 16)
                reads.append(Read("card", f"{facility:03d}{number:05d}", self.name))
            else:
                self.error(f"not 6 hex characters: {value[:40]!r}")
        return reads


class MagstripeParser(Parser):
    """ISO 7813 magstripe tracks, as readers send them (optionally wrapped in STX … ETX, then CR/LF):

    * track 1: ``%B<PAN up to 19 digits>^<NAME>^<expiry, service code, data>?``
    * track 2: ``;<PAN>=<expiry, service code, data>?``
    * ``%E?`` / ``;E?``: the reader could not read that track (counted as an error).

    The value is the PAN (the card number), from track 2 when both are present, else track 1. A swipe sending both
    tracks gives one read. Resync: text before a ``%`` or ``;`` start sentinel is noise; a track without its ``?``
    end sentinel within 120 bytes is dropped.
    """

    name = "magstripe"
    TRACK1 = re.compile(rb"%B(\d{1,19})\^([^^?]{0,26})\^([^?]*)\?")
    TRACK2 = re.compile(rb";(\d{1,19})=([^?]*)\?")

    def __init__(self) -> None:
        super().__init__()
        self.pending: str | None = None  # PAN from track 1, waiting for track 2 of the same swipe

    def _parse(self) -> list[Read]:
        reads: list[Read] = []
        while True:
            starts = [i for i in (self.buffer.find(b"%"), self.buffer.find(b";")) if i >= 0]
            if not starts:
                if self.buffer.strip(b"\r\n\x02\x03 "):
                    self.error("noise without a start sentinel")
                self.buffer.clear()
                break
            start = min(starts)
            if self.buffer[:start].strip(b"\r\n\x02\x03 "):
                self.error("noise before a track")
            del self.buffer[:start]
            end = self.buffer.find(b"?")
            if end < 0:
                if len(self.buffer) > 120:
                    self.error("track without an end sentinel")
                    del self.buffer[:1]
                    continue
                break
            track = bytes(self.buffer[: end + 1])
            del self.buffer[: end + 1]
            if track in (b"%E?", b";E?"):
                self.error("the reader could not read a track")
                continue
            if (m := self.TRACK2.fullmatch(track)) is not None:
                self.pending = None
                reads.append(Read("card", m.group(1).decode(), self.name))
            elif (m := self.TRACK1.fullmatch(track)) is not None:
                if self.pending is not None:
                    reads.append(Read("card", self.pending, self.name))
                self.pending = m.group(1).decode()
            else:
                self.error("malformed track")
        if self.pending is not None and b";" not in self.buffer:
            # track 1 without a track 2 behind it: the swipe gave only track 1 (a split track 2 arriving later
            # gives the same PAN again, which the reader thread folds into this read)
            reads.append(Read("card", self.pending, self.name))
            self.pending = None
        return reads


AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")


class BarcodeParser(LineParser):
    """Barcodes from a scanner in serial mode: one code per line, optionally with an AIM symbology identifier
    (``]C0`` Code 128, ``]E0`` EAN-13, ``]Q1`` QR …) first. The identifier is stripped and kept in ``symbology``.
    Resync: per line.
    """

    name = "barcode"
    kind = "barcode"

    def _parse(self) -> list[Read]:
        reads = []
        for line in self._lines():
            text = line.strip()
            symbology = ""
            if AIM.match(text):
                symbology, text = text[:3], text[3:]
            value = clean_text(text)
            if value:
                reads.append(Read("barcode", value, self.name, symbology))
            else:
                self.error("empty barcode")
        return reads


PROTOCOLS: dict[str, type[Parser]] = {
    "line": LineParser,
    "decimal": DecimalParser,
    "rdm6300": Rdm6300Parser,
    "wiegand26": Wiegand26Parser,
    "magstripe": MagstripeParser,
    "barcode": BarcodeParser,
}


def make_parser(protocol: str) -> Parser:
    try:
        return PROTOCOLS[protocol]()
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}") from None


def rdm6300_frame(hex10: str) -> bytes:
    """The 14-byte RDM6300 frame for a tag (for simulators and tests)."""
    data = bytes.fromhex(hex10)
    xor = 0
    for b in data:
        xor ^= b
    return bytes([STX]) + hex10.upper().encode() + f"{xor:02X}".encode() + bytes([ETX])
