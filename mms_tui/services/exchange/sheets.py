"""Reading spreadsheets as people send them: CSV in whatever encoding Excel chose, or XLSX.

A file becomes a header row and a stream of ``(line, cells)`` pairs, read as it goes so a million-row file never
sits in memory. CSV is decoded line by line, so a byte that does not decode is named by its line and its offset
in the file:

* a UTF-8 byte-order mark means UTF-8; a UTF-16 one means UTF-16 (Excel's "Unicode text", tab-separated);
* otherwise ``auto`` decides at the first line that is not plain ASCII: UTF-8 if it decodes, else GB18030 (what
  Excel writes on Chinese Windows; a superset of GBK and GB2312), and holds every later line to that choice;
* the delimiter is whichever of comma, tab and semicolon the header line uses most.

XLSX cells arrive as Python values (numbers, dates); :func:`cell_text` turns them into the text a person saw. Every
row that is in a worksheet is read, whatever size its ``<dimension>`` declares (openpyxl's read-only mode believes
it, and dropped the rows beyond it).

Files come from outside: how much one may hold, and the check of a workbook before openpyxl parses anything, are in
:mod:`.sheet_limits`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.exchange.sheet_limits import (
    MAX_COLUMNS,
    MAX_LINE_BYTES,
    MAX_RECORD_BYTES,
    check_workbook,
    megabytes,
    unreadable_workbook,
)

Cells = list[object]
Progress = Callable[[int, int], None]  # (done, total) in bytes for CSV, rows for XLSX

csv.field_size_limit(MAX_LINE_BYTES)


@dataclass
class Sheet:
    """One table read from a file. ``encoding`` is settled once the rows have been read (``auto`` decides late)."""

    path: Path
    headers: list[str]
    rows: Iterator[tuple[int, Cells]]
    encoding: str
    close: Callable[[], None]  # releases the file; reading every row closes it too
    line_word: str = "line"  # what a person calls a row number in this kind of file
    _decoder: _LineDecoder | None = field(default=None, repr=False)

    def settled_encoding(self) -> str:
        if self._decoder is None:
            return self.encoding
        return self._decoder.encoding or "ascii"

    def read_elsewhere(self, encoding: str) -> None:
        """Another process (a forked reader) read the rows and settled ``encoding``: this copy's decoder read
        nothing, so its guess must not be reported."""
        self.encoding = encoding
        self._decoder = None


def file_digest(path: Path) -> str:
    """SHA-256 of the file: the same file imported twice is the same operation."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_encoding(encoding: str) -> str:
    if encoding == "auto":
        return encoding
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InvalidInput(_("Unknown encoding {encoding!r}.").format(encoding=encoding)) from None
    try:
        b"a".decode(name)  # not b"": Python decodes nothing without asking the codec
    except UnicodeError:  # a text codec that does not take this byte alone (utf-16): fine
        pass
    except LookupError:  # rot13, base64, zlib: codecs, but not of text
        raise InvalidInput(_("{encoding!r} is not a text encoding; name one such as utf-8, gbk or utf-16.").format(
            encoding=encoding)) from None
    return name


def open_sheet(path: str | Path, encoding: str = "auto", sheet: str | None = None,
               progress: Progress | None = None) -> Sheet:
    """Open a CSV/TSV or XLSX file; raises InvalidInput for a missing, empty or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(_("No file {path}.").format(path=path))
    suffix = path.suffix.lower()
    try:
        with path.open("rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        raise InvalidInput(_("Cannot read {path}: {error}.").format(path=path, error=exc.strerror or exc)) from None
    if suffix == ".xls" or magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidInput(_("{path} is an old Excel .xls workbook; save it as .xlsx or CSV first.").format(path=path))
    if suffix in (".xlsx", ".xlsm") or magic.startswith(b"PK\x03\x04"):
        return _open_xlsx(path, sheet, progress)
    return _open_csv(path, check_encoding(encoding), progress)


# --- CSV ---------------------------------------------------------------------------------------------------------


class _LineDecoder:
    """Bytes → text one line at a time, tracking the line number and the byte offset for error messages."""

    def __init__(self, path: Path, encoding: str, progress: Progress | None) -> None:
        self.path = path
        self.encoding: str | None = None if encoding == "auto" else encoding
        self.line = 0
        self.offset = 0
        self.progress = progress
        self.total = path.stat().st_size

        self.record_start = 0  # offset where the CSV row being read began (rows may run over several lines)

    def _fail(self, raw: bytes, exc: UnicodeError, encoding: str) -> InvalidInput:
        if not isinstance(exc, UnicodeDecodeError):  # punycode, undefined: codecs that fail without a place
            return InvalidInput(_("Line {line} of {path} does not decode as {encoding}; nothing was imported. Save "
                                  "the file as UTF-8, or name its encoding with --encoding.").format(
                line=self.line, path=self.path.name, encoding=encoding))
        bad = raw[exc.start:exc.start + 4].hex(" ")
        return InvalidInput(
            _("Line {line} of {path} does not decode as {encoding} at byte {offset} ({bytes}); nothing was "
              "imported. Save the file as UTF-8, or name its encoding with --encoding.").format(
                line=self.line, path=self.path.name, encoding=encoding, offset=self.offset + exc.start, bytes=bad)
        )

    def _too_long(self) -> InvalidInput:
        return InvalidInput(_("Line {line} of {path} is longer than {size}: not a row of a table; nothing was "
                              "imported.").format(line=self.line, path=self.path.name, size=megabytes(MAX_LINE_BYTES)))

    def _check_record(self) -> None:
        if self.offset - self.record_start > MAX_RECORD_BYTES:
            raise InvalidInput(_("The row that starts before line {line} of {path} runs over more than {size}: not "
                                 "a row of a table; nothing was imported.").format(
                line=self.line, path=self.path.name, size=megabytes(MAX_RECORD_BYTES)))

    def _decode(self, raw: bytes) -> str:
        if self.encoding is not None:
            try:
                return raw.decode(self.encoding)
            except UnicodeError as exc:
                raise self._fail(raw, exc, self.encoding) from None
        if raw.isascii():
            return raw.decode("ascii")
        try:
            text = raw.decode("utf-8")
            self.encoding = "utf-8"
            return text
        except UnicodeDecodeError as utf8_error:
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                raise self._fail(raw, utf8_error, "UTF-8 (or GB18030)") from None
            self.encoding = "gb18030"
            return text

    def lines(self, fh: BinaryIO) -> Iterator[str]:
        first = True
        # split at b"\n": never inside a UTF-8 or GB18030 character; a line is read only up to its limit, so a
        # 50 MB line is refused after one megabyte, not held
        for raw in iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b""):
            self.line += 1
            if len(raw) > MAX_LINE_BYTES:
                raise self._too_long()
            if first:
                first = False
                if raw.startswith(codecs.BOM_UTF8) and self.encoding in (None, "utf-8", "utf-8-sig"):
                    self.encoding = "utf-8"
                    self.offset += 3
                    raw = raw[3:]
            text = self._decode(raw)
            self.offset += len(raw)
            if self.offset - self.record_start > MAX_RECORD_BYTES:
                self._check_record()
            if self.progress is not None and self.line % 4096 == 0:
                self.progress(self.offset, self.total)
            yield text
        if self.progress is not None:
            self.progress(self.total, self.total)

    def utf16_lines(self, fh: BinaryIO) -> Iterator[str]:
        """Excel's "Unicode text", decoded a megabyte at a time (it was read whole: a 1 GB file took 3 GB)."""
        self.encoding = "utf-16"
        decoder = codecs.getincrementaldecoder("utf-16")()
        pending = ""  # decoded text after the last line break
        while True:
            raw = fh.read(MAX_LINE_BYTES)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                self.line += raw[:exc.start].decode("utf-16", errors="replace").count("\n") + 1
                raise self._fail(raw, exc, "UTF-16") from None
            self.offset += len(raw)
            pending += text
            lines = pending.split("\n")
            pending = lines.pop()
            for line in lines:
                self.line += 1
                self._check_record()
                yield line + "\n"
            if len(pending) * 2 > MAX_LINE_BYTES:
                self.line += 1
                raise self._too_long()
            if not raw:
                break
        if pending:
            self.line += 1
            yield pending


def _too_wide(path: Path, line: int, columns: int, line_word: str) -> InvalidInput:
    where = (_("Row {n} of {path}") if line_word == "row" else _("Line {n} of {path}")).format(n=line, path=path.name)
    return InvalidInput(_("{where} has {n} columns; a spreadsheet has at most {most:,}. Nothing was imported.").format(
        where=where, n=columns, most=MAX_COLUMNS))


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _open_csv(path: Path, encoding: str, progress: Progress | None) -> Sheet:
    decoder = _LineDecoder(path, encoding, progress)
    fh = path.open("rb")
    head = fh.read(2)
    fh.seek(0)
    utf16 = head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and encoding in ("auto", "utf-16")
    lines = decoder.utf16_lines(fh) if utf16 else decoder.lines(fh)
    try:
        first = next(lines, None)
        while first is not None and not first.strip():
            first = next(lines, None)
    except InvalidInput:
        fh.close()
        raise
    if first is None:
        fh.close()
        raise InvalidInput(_("{path} is empty.").format(path=path.name))
    header_line = decoder.line
    delimiter = _delimiter(first)
    try:
        headers = [h.strip().lstrip("\ufeff") for h in next(csv.reader([first], delimiter=delimiter))]
    except csv.Error as exc:  # a stray carriage return or NUL byte in the header line
        fh.close()
        raise InvalidInput(_("Line {line} of {path} is not valid CSV: {error}.").format(
            line=header_line, path=path.name, error=exc)) from None
    if len(headers) > MAX_COLUMNS:
        fh.close()
        raise _too_wide(path, header_line, len(headers), "line")

    def rows() -> Iterator[tuple[int, Cells]]:
        try:
            reader = csv.reader(lines, delimiter=delimiter)
            start = header_line
            while True:
                decoder.record_start = decoder.offset
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise InvalidInput(_("Line {line} of {path} is not valid CSV: {error}.").format(
                        line=decoder.line, path=path.name, error=exc)) from None
                line = start + 1
                start = header_line + reader.line_num
                if len(record) > MAX_COLUMNS:
                    raise _too_wide(path, line, len(record), "line")
                if any(cell.strip() for cell in record):
                    yield line, record  # type: ignore[misc]
        finally:
            fh.close()

    sheet = Sheet(path, headers, rows(), encoding, fh.close)
    sheet._decoder = decoder
    return sheet


# --- XLSX --------------------------------------------------------------------------------------------------------


def _open_xlsx(path: Path, sheet_name: str | None, progress: Progress | None) -> Sheet:
    import openpyxl

    check_workbook(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a broken workbook makes openpyxl raise nearly anything
        raise unreadable_workbook(path, exc) from None
    if sheet_name is not None and sheet_name not in book.sheetnames:
        book.close()
        raise InvalidInput(_("{path} has no sheet {sheet!r} (it has: {sheets}).").format(
            path=path.name, sheet=sheet_name, sheets=", ".join(book.sheetnames)))
    ws = book[sheet_name] if sheet_name else (book.worksheets or [None])[0]
    if not hasattr(ws, "reset_dimensions"):  # no worksheet at all, or a chart sheet
        book.close()
        raise InvalidInput(_("{path} has no table to read (no worksheet).").format(path=path.name))
    total = ws.max_row or 0  # as declared: only for the progress bar
    ws.reset_dimensions()  # read every row that is there, not only as many as <dimension> says

    def read() -> Iterator[tuple]:
        try:
            yield from ws.iter_rows(values_only=True)
        except Exception as exc:  # broken XML, a bad checksum, an entity: one line, no traceback
            raise unreadable_workbook(path, exc) from None

    values = read()
    number = 0
    headers: list[str] | None = None
    try:
        for row in values:
            number += 1
            if any(cell_text(c) for c in row):
                headers = [cell_text(c) for c in row]
                break
    except InvalidInput:
        book.close()
        raise
    if headers is None:
        book.close()
        raise InvalidInput(_("{path} is empty.").format(path=path.name))
    if len(headers) > MAX_COLUMNS:
        book.close()
        raise _too_wide(path, number, len(headers), "row")

    def rows() -> Iterator[tuple[int, Cells]]:
        line = number
        try:
            for row in values:
                line += 1
                if progress is not None and line % 4096 == 0:
                    progress(line, max(total, line))
                if any(c is not None and cell_text(c) for c in row):
                    yield line, list(row)
        finally:
            book.close()

    return Sheet(path, headers, rows(), "xlsx", book.close, line_word="row")


def cell_text(value: object) -> str:
    """What a person saw in the cell: 13800138000.0 → '13800138000', a date → '2024-01-02', None → ''."""
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()
