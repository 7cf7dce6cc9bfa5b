"""The customer pole display (客显): what the customer sees while the cashier scans and takes the money.

Pure functions turn what to show — a line of the bill and the running total, the sale paid (total, paid, change),
a welcome — into the bytes of one of two command sets, and :func:`send` writes them over pyserial. No member
logic: the app says what to show.

``cd5220`` — the 2 × 20 character VFD/LCD displays (CD5220 and the many that copy its "standard mode"). Every frame
starts with ``CLR`` (0x0C: clear the screen and leave string mode, the one command such a display takes in any
mode), then ``ESC Q A`` + the upper line + ``CR`` and ``ESC Q B`` + the lower line + ``CR``. Each line is padded
with spaces to exactly 20 columns, so nothing of the frame before stays behind. The welcome frame also sends
``ESC @`` (initialise) after the ``CLR``, so a display that was switched on mid-sale starts clean. A line holds a
label on the left and an amount on the right; the amount is never cut, the label gives way.

Text goes out in ``encoding`` (``ascii`` by default: most VFDs have no Chinese font). The columns of a line are
counted as the bytes each character takes in that encoding (a display's cells are its bytes: one for ASCII, two
for a GB18030 character). A name that the display cannot show is not sent as ``?`` marks: its full-width forms
are folded first (ＡＢ → AB), and a name that still does not encode is replaced by the item's code, or by ``ITEM``
when the code does not encode either. Labels (TOTAL, CHANGE, …) in another language fall back to the English
ones the same way.

``escq`` — the single-number LED price displays common in China (LED8N and alike): ``ESC s n`` lights one lamp
(``0`` none, ``1`` 单价 price, ``2`` 总计 total, ``3`` 收款 paid, ``4`` 找零 change) and ``ESC Q A`` + digits +
``CR`` shows the number: at most 8 digits, each decimal point and a leading minus in addition. A line of the bill
shows the running total (总计): the one number the customer checks while the bill grows. The sale paid shows the
change (找零) when there is any, otherwise what was paid (收款). An amount with more digits than the display has
drops trailing zero decimals when that keeps it exact (12345678.00 → 12345678); one that still does not fit shows
as dashes: a wrong number is never shown. The welcome frame is ``ESC @`` and ``ESC s 0``.

Amounts are integer fen throughout and are written as yuan with two decimals, without currency sign or thousands
separators (neither display can show ``¥``; the LED one has no comma): 123450 → ``1234.50``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import serial

PROTOCOLS = ("cd5220", "escq")
#: columns of a line on a CD5220-style display
WIDTH = 20
#: digits of an ESC Q A price display (decimal points and a minus come on top)
ESCQ_DIGITS = 8

ESC = b"\x1b"
CLR = b"\x0c"
CR = b"\x0d"
INIT = ESC + b"@"
UPPER_LINE = ESC + b"QA"
LOWER_LINE = ESC + b"QB"
ESCQ_SHOW = ESC + b"QA"
#: ``ESC s n``: the lamps of an escq display
LAMP_OFF, LAMP_PRICE, LAMP_TOTAL, LAMP_PAID, LAMP_CHANGE = (ESC + b"s" + bytes([c]) for c in b"01234")


class DisplayError(Exception):
    """The customer display cannot be reached or did not take the data; the message says which."""


@dataclass(frozen=True)
class Labels:
    """The words on a text display, in the desk's language; each one the display cannot show falls back to the
    English default."""

    total: str = "TOTAL"
    paid: str = "PAID"
    change: str = "CHANGE"
    welcome: str = "WELCOME"


ENGLISH = Labels()


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals: 123450 → '1234.50', 5 → '0.05', -600 → '-6.00'."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def columns(text: str, encoding: str) -> int:
    """How many cells of the display ``text`` takes: the bytes it is sent as."""
    return len(text.encode(encoding))


def shown(text: str, encoding: str) -> str | None:
    """``text`` as the display can show it (control characters as spaces, full-width forms folded), or None."""
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    for candidate in (text, unicodedata.normalize("NFKC", text)):
        try:
            candidate.encode(encoding)
        except UnicodeEncodeError:
            continue
        return candidate
    return None


def item_label(name: str, code: str, qty: int, encoding: str) -> str:
    """The item as a text display shows it: its name, else its code, else ITEM; '3x ' before it for a quantity."""
    label = shown(name, encoding) or shown(code, encoding) or "ITEM"
    return f"{qty}x {label}" if qty != 1 else label


def cut(text: str, width: int, encoding: str) -> str:
    """The longest start of ``text`` that fits ``width`` columns (a wide character never split)."""
    out, used = [], 0
    for ch in text:
        w = columns(ch, encoding)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def line(left: str, right: str = "", *, encoding: str = "ascii", width: int = WIDTH) -> str:
    """One display line of exactly ``width`` columns: ``left`` at the start, ``right`` (an amount) at the end with
    at least one space between. The amount is never cut; the label is (an amount too wide for the line is shown
    as asterisks, never as a shorter, wrong number)."""
    if columns(right, encoding) > width:
        right = "*" * width
    room = width - columns(right, encoding) - (1 if right else 0)
    left = cut(left, max(room, 0), encoding)
    gap = width - columns(left, encoding) - columns(right, encoding)
    return left + " " * gap + right


def centred(text: str, *, encoding: str = "ascii", width: int = WIDTH) -> str:
    text = cut(text, width, encoding)
    spare = width - columns(text, encoding)
    return " " * (spare // 2) + text + " " * (spare - spare // 2)


def _label(word: str, english: str, encoding: str) -> str:
    return shown(word, encoding) or english


def _two_lines(upper: str, lower: str, encoding: str, *, init: bool = False) -> bytes:
    return (CLR + (INIT if init else b"") + UPPER_LINE + upper.encode(encoding) + CR
            + LOWER_LINE + lower.encode(encoding) + CR)


def escq_number(fen: int, digits: int = ESCQ_DIGITS) -> str:
    """The amount as a price display shows it: '1234.50'; exact with fewer decimals, or dashes, when it has more
    digits than the display."""
    text = yuan(fen)
    while sum(c.isdigit() for c in text) > digits and text.endswith("0") and "." in text:
        text = text[:-1].removesuffix(".")
    if sum(c.isdigit() for c in text) > digits:
        return "-" * digits
    return text


def _escq(lamp: bytes, fen: int) -> bytes:
    return lamp + ESCQ_SHOW + escq_number(fen).encode("ascii") + CR


def _check(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown customer display protocol {protocol!r}: one of {', '.join(PROTOCOLS)}")


def item_bytes(protocol: str, *, name: str, code: str, qty: int, amount_fen: int, total_fen: int,
               encoding: str = "ascii", labels: Labels = ENGLISH) -> bytes:
    """A line of the bill (its quantity and amount) and the bill's running total."""
    _check(protocol)
    if protocol == "escq":
        return _escq(LAMP_TOTAL, total_fen)
    upper = line(item_label(name, code, qty, encoding), yuan(amount_fen), encoding=encoding)
    lower = line(_label(labels.total, ENGLISH.total, encoding), yuan(total_fen), encoding=encoding)
    return _two_lines(upper, lower, encoding)


def payment_bytes(protocol: str, *, total_fen: int, paid_fen: int, change_fen: int, encoding: str = "ascii",
                  labels: Labels = ENGLISH) -> bytes:
    """The sale paid: the total above, the change below (or what was paid, when there is no change)."""
    _check(protocol)
    if protocol == "escq":
        return _escq(LAMP_CHANGE, change_fen) if change_fen else _escq(LAMP_PAID, paid_fen)
    upper = line(_label(labels.total, ENGLISH.total, encoding), yuan(total_fen), encoding=encoding)
    if change_fen:
        lower = line(_label(labels.change, ENGLISH.change, encoding), yuan(change_fen), encoding=encoding)
    else:
        lower = line(_label(labels.paid, ENGLISH.paid, encoding), yuan(paid_fen), encoding=encoding)
    return _two_lines(upper, lower, encoding)


def welcome_bytes(protocol: str, *, encoding: str = "ascii", labels: Labels = ENGLISH) -> bytes:
    """Between sales: the display initialised, a welcome (cd5220) or dark lamps (escq)."""
    _check(protocol)
    if protocol == "escq":
        return INIT + LAMP_OFF
    upper = centred(_label(labels.welcome, ENGLISH.welcome, encoding), encoding=encoding)
    return _two_lines(upper, " " * WIDTH, encoding, init=True)


def send(url: str, data: bytes, *, timeout: float = 0.5, **serial_settings: object) -> None:
    """Write ``data`` to the display at a pyserial URL, giving up after ``timeout`` seconds; a clear DisplayError
    if it cannot."""
    try:
        port = serial.serial_for_url(url, timeout=timeout, write_timeout=timeout, **serial_settings)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DisplayError(f"cannot open customer display {url}: {exc}") from None
    try:
        port.write(data)
        port.flush()
    except (serial.SerialException, OSError) as exc:
        raise DisplayError(f"customer display {url} did not take the data: {exc}") from None
    finally:
        port.close()
