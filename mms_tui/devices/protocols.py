"""Frame parsers: bytes in, typed reads out. Pure, incremental (``feed`` any split of the stream), never raising.

Every parser keeps what it has not yet understood, returns the reads completed by each ``feed``, and counts the
frames it had to drop (``errors``, with the last reason in ``last_error``). Each documents its byte format and its
resync rule: how it finds the next frame after garbage.

**One tag, one card, whichever reader read it.** A card read is its UID in one canonical form: upper-case hex of the
bits the reader carries, most significant first — 10 hex digits (40 bits) from an RDM6300 (an EM4100's version byte
and 4 tag bytes), 8 (32 bits) from a decimal USB reader or Wiegand-34, 6 (24 bits: facility and card number) from
Wiegand-26 or the "facility,card" printed on the tag, 8 or 14 from a Mifare reader (4- or 7-byte UID). A reader that
carries fewer bits carries the low ones, so two forms of one tag agree on their common tail (:func:`uid_matches`);
the card lookup matches on those bits and refuses a read that fits more than one card. :func:`canonical_uid` turns
what a person types or a keyboard-mode reader sends (a 10-digit decimal, "123,45678", hex) into the same form.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field

#: the protocols whose card reads are canonical UIDs (the line and magstripe protocols read text: card numbers)
UID_PROTOCOLS = frozenset({"rdm6300", "mifare", "decimal", "wiegand", "wiegand26", "wiegand34"})

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

    @property
    def is_uid(self) -> bool:
        """Whether ``value`` is a tag's canonical UID as the parser decoded it — to be looked up as it is, never
        guessed again as typed text would be (ten hex digits that are all decimal digits are no decimal number;
        a UID already in the tag's byte order is not reordered)."""
        return self.kind == "card" and self.protocol in UID_PROTOCOLS


def clean_text(text: str) -> str:
    """Full-width forms from a Chinese input method (０１２３) → ASCII; whitespace and control characters go."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if ch.isprintable() and not ch.isspace())


#: how a reader orders a UID's bytes when it prints them: "normal" (正码, as the tag sends them) or "reversed" (反码)
BYTE_ORDERS = ("normal", "reversed")
#: C0 control characters and DEL: framing bytes (NUL, STX, ETX …) some readers and scanners put around a line
CONTROL = bytes(range(0x20)) + b"\x7f"

_HEX_UID = re.compile(r"[0-9A-F]{6}|[0-9A-F]{8}|[0-9A-F]{10}|[0-9A-F]{14}")


def uid_hex(value: int, digits: int) -> str:
    return f"{value:0{digits}X}"


def _ordered(hex_uid: str, byte_order: str) -> str:
    """A 4- or 7-byte UID as the tag sends it, from a reader that printed its bytes in ``byte_order``."""
    if byte_order != "reversed":
        return hex_uid
    return bytes.fromhex(hex_uid)[::-1].hex().upper()


def canonical_uid(text: str, byte_order: str = "normal") -> str | None:
    """The canonical UID (upper-case hex, see the module) of what a person typed or a keyboard-mode reader sent, or
    None when it is no UID form: ``0455884110`` (10-digit decimal of 4 bytes: EM4100 as USB readers print it,
    Mifare 正码/反码 by ``byte_order``) → ``1B2C3D4E``; ``123,45678`` (EM4100's facility,card) → ``7BB26E``;
    hex of 6, 8, 10 or 14 digits (a 4- or 7-byte Mifare UID in ``byte_order``) → upper case."""
    value = clean_text(text).replace("，", ",")
    if m := re.fullmatch(r"(\d{1,3}),(\d{1,5})", value):
        facility, number = int(m.group(1)), int(m.group(2))
        return uid_hex(facility, 2) + uid_hex(number, 4) if facility <= 0xFF and number <= 0xFFFF else None
    if re.fullmatch(r"\d{10}", value):
        number = int(value)
        return _ordered(uid_hex(number, 8), byte_order) if number <= 0xFFFFFFFF else None
    upper = value.upper()
    if _HEX_UID.fullmatch(upper):
        return _ordered(upper, byte_order) if len(upper) in (8, 14) else upper
    return None


def uid_matches(read: str, stored: str) -> bool:
    """Whether two canonical UIDs can be the same tag: equal on the low bits both carry (their common tail), or
    the same text when either is not hex (a legacy value)."""
    if not (_HEX_UID.fullmatch(read) and _HEX_UID.fullmatch(stored)):
        return read == stored
    common = min(len(read), len(stored))
    return read[-common:] == stored[-common:]


class Parser:
    """Base: subclasses implement ``_parse`` over ``self.buffer`` and return the reads found."""

    name = "base"

    def __init__(self, byte_order: str = "normal") -> None:
        self.buffer = bytearray()
        self.errors = 0
        self.last_error = ""
        self.frames = 0
        self.byte_order = byte_order

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

    Framing bytes around a line (NUL, STX, ETX: control characters) are not part of it. Resync: a terminator ends
    every frame, so garbage costs at most one line. Empty lines are ignored; lines that are not UTF-8 are dropped
    and counted; a line longer than ``MAX_LINE`` bytes is dropped whole — up to its terminator, however late that
    comes, so its tail is never read as a line of its own.
    """

    name = "line"
    kind = "card"
    TERMINATOR = re.compile(rb"[\r\n]")

    def __init__(self, byte_order: str = "normal") -> None:
        super().__init__(byte_order)
        self.discarding = False  # inside an overlong line: drop until its terminator

    def _lines(self) -> list[str]:
        lines: list[str] = []
        while True:
            match = self.TERMINATOR.search(self.buffer)
            if match is None:
                if len(self.buffer) > MAX_LINE:
                    if not self.discarding:
                        self.error(f"line longer than {MAX_LINE} bytes without a terminator")
                    self.discarding = True
                    self.buffer.clear()
                return lines
            raw = bytes(self.buffer[: match.start()]).strip(CONTROL + b" ")
            del self.buffer[: match.end()]
            if self.discarding:  # the end of the overlong line
                self.discarding = False
                continue
            if not raw:
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
    """EM4100 (or a Mifare UID) as printed by USB readers: 10 decimal digits (4 bytes, zero-padded), then CR/LF.
    The read is the canonical 8 hex digits (``byte_order`` "reversed" for a reader that prints the bytes the other
    way round, 反码).

    Resync: per line. A line that is not exactly 10 digits of at most 32 bits (after full-width normalisation) is
    dropped and counted.
    """

    name = "decimal"

    def _parse(self) -> list[Read]:
        reads = []
        for line in self._lines():
            value = clean_text(line)
            if re.fullmatch(r"\d{10}", value) and int(value) <= 0xFFFFFFFF:
                reads.append(Read("card", _ordered(uid_hex(int(value), 8), self.byte_order), self.name))
            else:
                self.error(f"not a 10-digit card number: {value[:40]!r}")
        return reads


class MifareParser(LineParser):
    """13.56 MHz Mifare UID readers: the UID per line as 8 or 14 hex digits (a 4- or 7-byte UID), or as a decimal
    number (10 digits for 4 bytes, 15 to 17 for 7), in the reader's ``byte_order`` (正码 normal, 反码 reversed).
    The read is the UID in the order the tag sends it, as upper-case hex.

    Resync: per line; anything else is dropped and counted.
    """

    name = "mifare"

    def _parse(self) -> list[Read]:
        reads = []
        for line in self._lines():
            value = clean_text(line)
            uid = None
            if re.fullmatch(r"[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}", value):
                uid = value.upper()
            elif re.fullmatch(r"\d{10}", value) and int(value) <= 0xFFFFFFFF:
                uid = uid_hex(int(value), 8)
            elif re.fullmatch(r"\d{15,17}", value) and int(value) <= 0xFFFFFFFFFFFFFF:
                uid = uid_hex(int(value), 14)
            if uid is None:
                self.error(f"not a Mifare UID: {value[:40]!r}")
                continue
            reads.append(Read("card", _ordered(uid, self.byte_order), self.name))
        return reads


class Rdm6300Parser(Parser):
    """RDM6300 / EM4100 125 kHz at 9600 8N1: ``STX`` (0x02), 10 ASCII hex chars (version byte + 4 tag bytes),
    2 ASCII hex chars (XOR of the 5 data bytes), ``ETX`` (0x03) — 14 bytes. Hex may be upper or lower case. The read
    is the 10 hex digits (all 40 bits), upper case.

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
        return data.hex().upper()


def em4100_decimal(hex10: str) -> str:
    """'0A1B2C3D4E' (version + 4 tag bytes) → '0455884110': what a decimal USB reader prints for the tag."""
    return f"{int(hex10[2:], 16):010d}"


def wiegand_frame(data: int, bits: int) -> int:
    """The raw Wiegand frame of ``data`` (``bits`` - 2 bits): an even parity bit over the first half of the data
    first, an odd parity bit over the second half last (for simulators and tests)."""
    half = (bits - 2) // 2
    first, second = data >> half, data & ((1 << half) - 1)
    even = bin(first).count("1") % 2
    odd = 1 - bin(second).count("1") % 2
    return (even << (bits - 1)) | (data << 1) | odd


def wiegand_data(frame: int, bits: int) -> int | None:
    """The data of a raw ``bits``-bit Wiegand frame, or None when a parity bit is wrong."""
    data = (frame >> 1) & ((1 << (bits - 2)) - 1)
    return data if frame < (1 << bits) and wiegand_frame(data, bits) == frame else None


class WiegandParser(LineParser):
    """Wiegand through a serial converter, one card per line, in any of the forms converters send: the data as hex
    (6 digits for Wiegand-26: facility byte + 2-byte card number; 8 for Wiegand-34), or the whole raw frame with
    its two parity bits — as binary digits (26 or 34 of them) or as hex (7 or 9 digits) — whose parity is checked.
    The read is the data as upper-case hex (the tag's low 24 or 32 bits).

    Resync: per line; a line in no such form, or with a wrong parity bit, is dropped and counted.
    """

    name = "wiegand"
    BITS = 26

    def _parse(self) -> list[Read]:
        reads = []
        data_digits = (self.BITS - 2) // 4
        for line in self._lines():
            value = clean_text(line)
            data = None
            if re.fullmatch(rf"[01]{{{self.BITS}}}", value):
                data = wiegand_data(int(value, 2), self.BITS)
            elif re.fullmatch(rf"[0-9A-Fa-f]{{{data_digits + 1}}}", value):
                data = wiegand_data(int(value, 16), self.BITS)
            elif re.fullmatch(rf"[0-9A-Fa-f]{{{data_digits}}}", value):
                data = int(value, 16)
            else:
                self.error(f"not a Wiegand-{self.BITS} frame: {value[:40]!r}")
                continue
            if data is None:
                self.error(f"Wiegand-{self.BITS} parity error: {value[:40]!r}")
                continue
            reads.append(Read("card", uid_hex(data, data_digits), self.name))
        return reads


class Wiegand26Parser(WiegandParser):
    name = "wiegand26"
    BITS = 26


class Wiegand34Parser(WiegandParser):
    name = "wiegand34"
    BITS = 34


class MagstripeParser(Parser):
    """ISO 7813 magstripe tracks, as readers send them (optionally wrapped in STX … ETX, then CR/LF):

    * track 1: ``%B<PAN up to 19 digits>^<NAME>^<expiry, service code, data>?``
    * track 2: ``;<PAN>=<expiry, service code, data>?``, or ``;<number>?`` (a shop's own card: a number only)
    * ``%E?`` / ``;E?``: the reader could not read that track (counted as an error).
    * the same without sentinels, one track per line (a common reader setting): ``B<PAN>^NAME^…`` or
      ``<PAN>=<data>`` or a bare number of 1 to 19 digits.

    The value is the PAN (the card number), from track 2 when both are present, else track 1 (once the swipe's line
    end or ETX shows no track 2 follows). A swipe sending both tracks gives one read, however it is split. Track 2 holds digits and ``=`` only; track 1 printable ASCII. A reader that sends each
    track's LRC character after its end sentinel may send one that looks like a start sentinel: a track that does
    not parse is given up one byte at a time, so the real track behind such a byte is still read. Resync: text
    before a ``%`` or ``;`` start sentinel is read as a sentinel-less line, else noise; a track without its ``?``
    end sentinel within 120 bytes is dropped.
    """

    name = "magstripe"
    TRACK1 = re.compile(rb"%B(\d{1,19})\^([ -\x3e\x40-\x5d\x5f-\x7e]{0,26})\^([ -\x3e\x40-\x7e]*)\?")
    TRACK2 = re.compile(rb";(\d{1,19})(?:=[0-9=]*)?\?")
    BARE1 = re.compile(rb"B(\d{1,19})\^([ -\x5d\x5f-\x7e]{0,26})\^([ -\x7e]*)")
    BARE2 = re.compile(rb"(\d{1,19})(?:=[0-9=]*)?")
    LONGEST = 120

    def __init__(self, byte_order: str = "normal") -> None:
        super().__init__(byte_order)
        self.pending: str | None = None  # PAN from track 1, waiting for track 2 of the same swipe

    def _track1(self, pan: bytes) -> list[Read]:
        reads = [Read("card", self.pending, self.name)] if self.pending is not None else []
        self.pending = pan.decode()
        return reads

    def _track2(self, pan: bytes) -> list[Read]:
        self.pending = None
        return [Read("card", pan.decode(), self.name)]

    def _bare_lines(self, text: bytes) -> list[Read]:
        """Text outside sentinels, ended by CR/LF: each line a sentinel-less track, else noise. A line end (or ETX)
        after a track 1 ends its swipe: without a track 2 before it, the swipe gave track 1 only."""
        reads: list[Read] = []
        if self.pending is not None and re.search(rb"[\r\n\x03]", text):
            reads.append(Read("card", self.pending, self.name))
            self.pending = None
        for line in re.split(rb"[\r\n\x03]+", text):
            line = line.strip(CONTROL + b" ")
            if not line:
                continue
            if (m := self.BARE2.fullmatch(line)) is not None:
                reads += self._track2(m.group(1))
            elif (m := self.BARE1.fullmatch(line)) is not None:
                reads += self._track1(m.group(1))
            else:
                self.error("noise before a track")
        return reads

    def _parse(self) -> list[Read]:
        reads: list[Read] = []
        while True:
            starts = [i for i in (self.buffer.find(b"%"), self.buffer.find(b";")) if i >= 0]
            start = min(starts) if starts else len(self.buffer)
            before = bytes(self.buffer[:start])
            ended = max(before.rfind(b"\r"), before.rfind(b"\n"), before.rfind(b"\x03"))
            if starts:  # what stands before a track is over: read it now
                reads += self._bare_lines(before)
                del self.buffer[:start]
            else:  # keep an unfinished line for the rest of it
                reads += self._bare_lines(before[: ended + 1]) if ended >= 0 else []
                del self.buffer[: ended + 1]
                if len(self.buffer) > self.LONGEST:
                    self.error("line without a terminator")
                    self.buffer.clear()
                break
            end = self.buffer.find(b"?")
            if end < 0:
                if len(self.buffer) > self.LONGEST:
                    self.error("track without an end sentinel")
                    del self.buffer[:1]
                    continue
                break
            track = bytes(self.buffer[: end + 1])
            if track in (b"%E?", b";E?"):
                del self.buffer[: end + 1]
                self.error("the reader could not read a track")
                continue
            if (m := self.TRACK2.fullmatch(track)) is not None:
                del self.buffer[: end + 1]
                reads += self._track2(m.group(1))
            elif (m := self.TRACK1.fullmatch(track)) is not None:
                del self.buffer[: end + 1]
                reads += self._track1(m.group(1))
            else:  # perhaps an LRC byte that looks like a sentinel: try again one byte on
                self.error("malformed track")
                del self.buffer[:1]
        return reads


AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")


def gtin_ok(digits: str) -> bool:
    """An EAN-13, UPC-A or EAN-8 whose GS1 mod-10 check digit is right."""
    if not (digits.isascii() and digits.isdigit() and len(digits) in (8, 12, 13)):
        return False
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


class BarcodeParser(LineParser):
    """Barcodes from a scanner in serial mode: one code per line — ended by CR or LF, or framed STX … ETX — with
    an optional AIM symbology identifier (``]C0`` Code 128, ``]E0`` EAN-13, ``]E4`` EAN-8, ``]Q1`` QR …) first,
    after any framing byte. The identifier is stripped and kept in ``symbology``; an EAN/UPC (``]E0``, ``]E4``)
    must be digits with the right check digit, else it is dropped and counted (a misread). Resync: per line.
    """

    name = "barcode"
    kind = "barcode"
    TERMINATOR = re.compile(rb"[\r\n\x03]")

    def _parse(self) -> list[Read]:
        reads = []
        for line in self._lines():
            text = line.strip()
            symbology = ""
            if AIM.match(text):
                symbology, text = text[:3], text[3:]
            value = clean_text(text)
            if not value:
                self.error("empty barcode")
            elif symbology in ("]E0", "]E4") and not gtin_ok(value):
                self.error(f"{symbology} {value[:20]!r} is not an EAN with a right check digit")
            else:
                reads.append(Read("barcode", value, self.name, symbology))
        return reads


PROTOCOLS: dict[str, type[Parser]] = {
    "line": LineParser,
    "decimal": DecimalParser,
    "rdm6300": Rdm6300Parser,
    "mifare": MifareParser,
    "wiegand26": Wiegand26Parser,
    "wiegand34": Wiegand34Parser,
    "magstripe": MagstripeParser,
    "barcode": BarcodeParser,
}


def make_parser(protocol: str, byte_order: str = "normal") -> Parser:
    if byte_order not in BYTE_ORDERS:
        raise ValueError(f"unknown byte order {byte_order!r}; one of {', '.join(BYTE_ORDERS)}")
    try:
        return PROTOCOLS[protocol](byte_order)
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}") from None


def rdm6300_frame(hex10: str) -> bytes:
    """The 14-byte RDM6300 frame for a tag (for simulators and tests)."""
    data = bytes.fromhex(hex10)
    xor = 0
    for b in data:
        xor ^= b
    return bytes([STX]) + hex10.upper().encode() + f"{xor:02X}".encode() + bytes([ETX])
