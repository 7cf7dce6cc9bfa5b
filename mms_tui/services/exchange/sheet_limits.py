"""How much a spreadsheet sent from outside may hold, and the check that holds a workbook to it.

Files come from outside: a small file must not take the machine. A CSV line, and a stretch of a workbook's XML
without markup, are at most :data:`MAX_LINE_BYTES`; a workbook part that inflates more than a hundredfold, an XML
entity (the "billion laughs"), a comment or CDATA section, more XML elements in one row than a full row has, a
row numbered beyond a spreadsheet's last or out of order — each refuses the file with one short message, before
openpyxl parses anything (:func:`check_workbook`). The readers in :mod:`.sheets` hold CSV to the same limits.
"""

from __future__ import annotations

import codecs
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import clip, shown

#: a spreadsheet's own limits (Excel's): a file beyond them is not a table of members or products
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
#: the longest CSV line, and the longest stretch of a workbook's XML without markup (a cell's text, whitespace,
#: one tag): a cell holds at most 32,767 characters, a few hundred kilobytes at the most
MAX_LINE_BYTES = 1 << 20
#: one CSV row running over several lines (cells with line breaks in them), all its lines together
MAX_RECORD_BYTES = 4 << 20
#: XML elements in one worksheet row (or one shared string, or a part that has neither): a full row of 16,384
#: cells has about a hundred thousand; each element costs openpyxl a few hundred bytes
MAX_ELEMENTS_PER_ROW = 250_000
#: a workbook part bigger than this may inflate at most MAX_INFLATE times (Apache POI's zip-bomb rule): deflate
#: makes a gigabyte of one character about a megabyte
INFLATE_GRACE_BYTES = 8 << 20
MAX_INFLATE = 100


def megabytes(n: int) -> str:
    """A limit as a message names it."""
    return f"{n >> 20} MB"


class _Refused(Exception):
    """A workbook part that is not what spreadsheets are made of; says what it has, in a few words."""


#: the start of a worksheet row or a shared string, with the namespace prefix some writers use (``<x:row``)
_UNIT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|si)(?=[\s/>])")
_ROW_NUMBER = re.compile(rb"""\sr\s*=\s*["']\s*([^"']*?)\s*["']""")
#: a DTD declaration (<!DOCTYPE, <!ENTITY …), where entity bombs live; OPC forbids them in a package's XML
_DTD = re.compile(rb"<!(?!--|\[CDATA\[)")


def _more_text_than_allowed() -> _Refused:
    return _Refused(_("has more than {size} of text without markup").format(size=megabytes(MAX_LINE_BYTES)))


class _PartScan:
    """One XML part of a workbook, fed in chunks and never held whole: refuses what would make openpyxl (or the
    XML parser under it) take unbounded memory or time, and rows it would drop without a word.

    Fast where the file is ordinary: the bytes are searched in C (``find``, ``count``, a regular expression for
    row starts); only a stretch longer than :data:`MAX_LINE_BYTES` is split to find its longest run."""

    def __init__(self) -> None:
        self.carry = b""  # from the last '<' fed: a tag (and its text) that may go on in the next chunk
        self.elements = 0  # since the current row (or shared string) began
        self.row = 0  # the last row number seen

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk if self.carry else chunk
        cut = data.rfind(b"<")
        if cut <= 0:
            if len(data) > MAX_LINE_BYTES:
                raise _more_text_than_allowed()
            self.carry = data
            return
        self.carry = data[cut:]
        self._scan(data[:cut])

    def close(self) -> None:
        if self.carry:
            self._scan(self.carry)
            self.carry = b""

    def _scan(self, data: bytes) -> None:
        """``data`` ends just before a '<' (or where the part ends): every tag in it is whole."""
        if _DTD.search(data):
            raise _Refused(_("has an XML document type (DTD), which spreadsheets never have"))
        start = 0
        for unit in _UNIT.finditer(data):
            self._span(data, start, unit.start())
            self.elements = 0
            if unit.group(1) == b"row":
                self._row_number(data, unit.end())
            start = unit.start()
        self._span(data, start, len(data))

    def _span(self, data: bytes, start: int, end: int) -> None:
        if end <= start:
            return
        self.elements += data.count(b"<", start, end)
        if self.elements > MAX_ELEMENTS_PER_ROW:
            raise _Refused(_("has more than {n:,} XML elements in one row").format(n=MAX_ELEMENTS_PER_ROW))
        if end - start > MAX_LINE_BYTES and max(map(len, data[start:end].split(b"<"))) > MAX_LINE_BYTES:
            raise _more_text_than_allowed()

    def _row_number(self, data: bytes, at: int) -> None:
        end = data.find(b">", at)
        number = _ROW_NUMBER.search(data, at, end if end >= 0 else len(data))
        if number is None:
            row = self.row + 1  # a row without a number follows the one before
        else:
            try:
                row = int(float(number.group(1)))
            except (ValueError, OverflowError):
                raise _Refused(_("has a row numbered {n}").format(n=shown(number.group(1).decode("latin-1")))) from None
        if row > MAX_ROWS:
            raise _Refused(_("has a row numbered {n:,}, beyond a spreadsheet's last ({most:,})").format(
                n=row, most=MAX_ROWS))
        if row <= self.row:  # openpyxl drops such a row without a word
            raise _Refused(_("has row {n} after row {before}: rows out of order").format(n=row, before=self.row))
        self.row = row


def _xml_encoding(head: bytes) -> str | None:
    """How a part that starts so is encoded when it is XML (what openpyxl may parse), None for a picture or other
    binary part. OPC allows UTF-8 and UTF-16."""
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    if head[:2] == b"<\x00":
        return "utf-16-le"
    if head[:2] == b"\x00<":
        return "utf-16-be"
    if head.removeprefix(codecs.BOM_UTF8)[:1] in (b"<", b" ", b"\t", b"\r", b"\n"):
        return "utf-8"
    return None


def _scan_part(stream: BinaryIO) -> None:
    head = stream.read(4)
    encoding = _xml_encoding(head)
    if encoding is None:
        return
    scan = _PartScan()
    decoder = codecs.getincrementaldecoder(encoding)() if encoding != "utf-8" else None
    chunk = head
    while chunk:
        if decoder is not None:  # UTF-16 is scanned as the UTF-8 it would be: the limits are about text
            chunk = decoder.decode(chunk).encode("utf-8")
        scan.feed(chunk)
        chunk = stream.read(MAX_LINE_BYTES)
    scan.close()


#: workbooks already checked, by what identifies their file: an import reads the header, then the rows
_checked: dict[tuple, None] = {}


def check_workbook(path: Path) -> None:
    """Refuse an .xlsx whose parts would take openpyxl unbounded memory or time, or lose rows (see
    :class:`_PartScan`), before anything parses it. Each XML part is inflated once, a megabyte at a time."""
    stat = path.stat()
    key = (os.path.realpath(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key in _checked:
        return
    part = ""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                part = info.filename
                if info.is_dir():
                    continue
                if info.file_size > INFLATE_GRACE_BYTES and info.file_size > MAX_INFLATE * max(info.compress_size, 1):
                    raise _Refused(_("unpacks from {packed} to {size} bytes, more than {most} times: a zip bomb").format(
                        packed=f"{info.compress_size:,}", size=f"{info.file_size:,}", most=MAX_INFLATE))
                with archive.open(info) as stream:
                    _scan_part(stream)
    except _Refused as why:
        raise InvalidInput(_("{path} is refused: its part {part} {why}. Nothing was imported; open it in Excel or "
                             "WPS and save it again, or save it as CSV.").format(
            path=path.name, part=clip(part, 60), why=why)) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise unreadable_workbook(path, exc) from None
    if len(_checked) > 16:
        _checked.clear()
    _checked[key] = None


def unreadable_workbook(path: Path, exc: BaseException) -> InvalidInput:
    """The one line for a workbook that zipfile or openpyxl cannot read, whatever they raised."""
    error = clip(str(exc).strip("'\""), 120) or type(exc).__name__
    return InvalidInput(_("{path} is not a readable .xlsx workbook: {error}").format(path=path.name, error=error))

