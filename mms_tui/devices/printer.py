"""ESC/POS receipts over serial (python-escpos builds the commands; pyserial carries them). No member logic:
it prints the text lines it is given.

Chinese printers take GB18030 (GBK) text after ``FS &`` (Chinese character mode); others take a code page the
printer supports (``encoding`` is configurable; characters it cannot encode print as ``?`` rather than failing — the
receipt service gives it only text the encoding has). A receipt may end with a QR code, drawn by the printer itself
from ``GS ( k`` commands (model 2), so it stays sharp at any dot density and costs a few bytes, not an image.
"""

from __future__ import annotations

import serial

CHINESE_ENCODINGS = ("gb18030", "gbk", "gb2312", "cp936")
FS_CHINESE_MODE = b"\x1c\x26"
FS_CHINESE_MODE_OFF = b"\x1c\x2e"
GS_QR = b"\x1d\x28\x6b"  # GS ( k: the 2D code functions, cn 49 (0x31) = QR code
QR_ERROR_LEVELS = {"L": 48, "M": 49, "Q": 50, "H": 51}
ALIGN_CENTER, ALIGN_LEFT = b"\x1ba\x01", b"\x1ba\x00"


class PrinterError(Exception):
    """The printer cannot be reached or refused the data; the message says which."""


def _qr_function(fn: int, params: bytes) -> bytes:
    """GS ( k pL pH cn fn params: pL + 256·pH counts the bytes after pH (cn, fn and the parameters)."""
    size = len(params) + 2
    if size > 0xFFFF:
        raise ValueError("QR code data too long")
    return GS_QR + bytes((size & 0xFF, size >> 8, 0x31, fn)) + params


def qr_code_bytes(data: str, *, module: int = 6, error: str = "M") -> bytes:
    """A QR code (model 2) of ``data`` in ESC/POS: select the model, the module size in dots (1–16), the error
    correction level, store the data, print it."""
    if not 1 <= module <= 16:
        raise ValueError(f"QR module size must be 1 to 16 dots, not {module}")
    payload = data.encode("ascii")  # a txid: plain ASCII, the same bytes in every code page
    return (_qr_function(0x41, b"\x32\x00")  # 165: model 2
            + _qr_function(0x43, bytes((module,)))  # 167: module size
            + _qr_function(0x45, bytes((QR_ERROR_LEVELS[error],)))  # 169: error correction
            + _qr_function(0x50, b"\x30" + payload)  # 180: store the data in the symbol area
            + _qr_function(0x51, b"\x30"))  # 181: print the symbol


def receipt_bytes(lines: list[str], *, title: str = "", encoding: str = "gb18030", kick_drawer: bool = False,
                  cut: bool = True, qr: str = "") -> bytes:
    """The ESC/POS byte stream for a receipt: initialise, a bold centred title, the lines, a centred QR code of
    ``qr`` when given, feed and cut."""
    # imported here, not at the top: python-escpos takes 0.17 s to load its printer profiles at every start-up
    from escpos.printer import Dummy

    printer = Dummy()
    printer.hw("INIT")
    chinese = encoding.lower() in CHINESE_ENCODINGS
    if chinese:
        printer._raw(FS_CHINESE_MODE)
    if title:
        printer.set(align="center", bold=True, double_height=True, double_width=False)
        printer._raw(title.encode(encoding, "replace") + b"\n")
        printer.set(align="left", bold=False, normal_textsize=True)
    for line in lines:
        printer._raw(line.encode(encoding, "replace") + b"\n")
    if chinese:
        printer._raw(FS_CHINESE_MODE_OFF)
    if qr:
        printer._raw(ALIGN_CENTER + qr_code_bytes(qr) + b"\n" + ALIGN_LEFT)
    if cut:
        printer.cut()
    if kick_drawer:
        printer.cashdraw(2)
    return printer.output


def send(url: str, data: bytes, *, timeout: float = 5.0, **serial_settings: object) -> None:
    """Write ``data`` to the printer at a pyserial URL; a clear PrinterError if it cannot."""
    try:
        port = serial.serial_for_url(url, timeout=timeout, write_timeout=timeout, **serial_settings)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PrinterError(f"cannot open printer {url}: {exc}") from None
    try:
        port.write(data)
        port.flush()
    except (serial.SerialException, OSError) as exc:
        raise PrinterError(f"printer {url} did not take the receipt: {exc}") from None
    finally:
        port.close()
