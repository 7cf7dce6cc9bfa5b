"""ESC/POS receipts over serial (python-escpos builds the commands; pyserial carries them). No member logic:
it prints the text lines it is given.

Chinese printers take GB18030 (GBK) text after ``FS &`` (Chinese character mode); others take a code page the
printer supports (``encoding`` is configurable; characters it cannot encode print as ``?`` rather than failing).
"""

from __future__ import annotations

import serial

CHINESE_ENCODINGS = ("gb18030", "gbk", "gb2312")
FS_CHINESE_MODE = b"\x1c\x26"
FS_CHINESE_MODE_OFF = b"\x1c\x2e"


class PrinterError(Exception):
    """The printer cannot be reached or refused the data; the message says which."""


def receipt_bytes(lines: list[str], *, title: str = "", encoding: str = "gb18030", kick_drawer: bool = False,
                  cut: bool = True) -> bytes:
    """The ESC/POS byte stream for a receipt: initialise, a bold centred title, the lines, feed and cut."""
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
