"""The formats an export is written in: CSV, JSON lines, JSON and XLSX writers, and where they write (a file
replaced whole, or standard output).

* **A file is whole or absent, plain and private.** Output goes to a temporary file beside the target and is
  renamed into place only after the last row is written and synced; a bad option, a full disk or Ctrl+C leaves no
  half-written file. A target that is a symbolic link, a device, a pipe or a folder is refused; the file is 0600
  (:mod:`mms_tui.services.base.files`). ``-`` streams to standard output, which may be redirected into a pipe.
* **Spreadsheets cannot be turned against their reader.** In CSV and XLSX a text cell that starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a CR gets a leading ``'`` so Excel shows it instead of running it as a formula
  (OWASP "CSV injection"). JSON is data for programs and is written as stored.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from mms_tui.i18n import _
from mms_tui.services.base.errors import DomainError, InvalidInput
from mms_tui.services.base.files import atomic_file

#: what ``mms export`` can write
EXPORT_FORMATS = ("csv", "jsonl", "json", "xlsx")
#: text encodings offered; utf-8-sig (UTF-8 with a BOM) is what makes Excel read Chinese in a CSV correctly
ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")
#: rows in one Excel worksheet (header included); longer exports continue on another sheet
XLSX_MAX_ROWS = 1_048_576
#: first characters that make a spreadsheet treat a text cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: Any) -> Any:
    """'=HYPERLINK(…)' → "'=HYPERLINK(…)": a spreadsheet shows the text instead of evaluating it. Only text is
    touched; numbers are numbers (a negative amount is not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def format_for(target: str, fmt: str | None = None) -> str:
    """The format asked for, else the one FILE's suffix names (.xlsx, .jsonl, .json), else CSV."""
    if fmt:
        if fmt not in EXPORT_FORMATS:
            raise InvalidInput(_("Format must be one of {formats}, not {value!r}.").format(
                formats=", ".join(EXPORT_FORMATS), value=fmt))
        return fmt
    suffix = Path(target).suffix.lower() if target != "-" else ""
    return {".xlsx": "xlsx", ".jsonl": "jsonl", ".json": "json"}.get(suffix, "csv")


# --- writers -----------------------------------------------------------------------------------------------------


def _text_stream(out: IO[bytes], encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(out, encoding=encoding, newline="", write_through=False)


@contextlib.contextmanager
def _as_text(out: IO[bytes], encoding: str) -> Iterator[io.TextIOWrapper]:
    """Text over a byte stream that leaves the stream open afterwards (it may be stdout)."""
    text = _text_stream(out, encoding)
    try:
        yield text
        text.flush()
    finally:
        text.detach()


def write_csv(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...], out: IO[bytes],
              encoding: str = "utf-8-sig") -> int:
    """A header row, then one line per row, escaped against formula injection. Excel's dialect (CRLF)."""
    count = 0
    with _as_text(out, encoding) as text:
        writer = csv.writer(text)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([escape_formula(row[c]) for c in columns])
            count += 1
    return count


def write_jsonl(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...], out: IO[bytes],
                encoding: str = "utf-8") -> int:
    count = 0
    with _as_text(out, encoding) as text:
        for row in rows:
            text.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False, default=str) + "\n")
            count += 1
    return count


def write_json(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...], out: IO[bytes],
               encoding: str = "utf-8") -> int:
    """One JSON array, written object by object (never built as a list)."""
    count = 0
    with _as_text(out, encoding) as text:
        text.write("[")
        for row in rows:
            text.write(("," if count else "") + "\n  "
                       + json.dumps({c: row[c] for c in columns}, ensure_ascii=False, default=str))
            count += 1
        text.write("\n]\n" if count else "]\n")
    return count


def write_xlsx(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...], path: Path, title: str, *,
               totals: bool = False, member_file: bool = False) -> int:
    """A write-only workbook (rows go to disk as they come), laid out for a person (:mod:`.sheet_style`): headers
    in the desk's language, money in yuan with a ¥ format, dates as dates, widths from the first rows, the header
    frozen with filters; ``totals``: a last row adding up the report's counts and money. Text cells are forced
    to be text, so nothing — not even an escaped formula or '#N/A' — is read as a formula or an error value. An
    export longer than Excel's row limit continues on a second sheet with the header repeated."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from mms_tui.services.exchange import sheet_style

    iterator = iter(rows)
    sample = list(itertools.islice(iterator, sheet_style.SAMPLE_ROWS))
    kinds = sheet_style.column_kinds(columns, sample)
    formats = {c: sheet_style.number_format(kinds[c]) for c in columns}
    headers = [sheet_style.header_label(c, member_file=member_file) for c in columns]
    widths = [sheet_style.display_width(h, "plain") for h in headers]
    for row in sample:
        for i, c in enumerate(columns):
            widths[i] = max(widths[i], sheet_style.display_width(sheet_style.typed(row[c], kinds[c]), kinds[c]))
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    sheets_made: list = []

    def new_sheet(number: int):
        sheet = workbook.create_sheet(title=title if number == 1 else f"{title} ({number})")
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(width + 2, sheet_style.MAX_WIDTH)
        sheet.freeze_panes = "A2"
        header_cells = []
        for text in headers:
            header = WriteOnlyCell(sheet, value=text)
            header.font = bold
            header_cells.append(header)
        sheet.append(header_cells)
        sheets_made.append(sheet)
        return sheet

    def cell(sheet, column: str, value: Any):
        if isinstance(value, str):
            value = sheet_style.typed(value, kinds[column])
            if isinstance(value, str):
                text = ILLEGAL_CHARACTERS_RE.sub("", escape_formula(value))
                if text not in ERROR_CODES:  # (an escaped formula starts with "'": only '#N/A' & co. need care)
                    return text
                forced = WriteOnlyCell(sheet, value=text)
                forced.data_type = "s"
                return forced
        elif kinds[column] == "fen":
            value = sheet_style.typed(value, "fen")
        if formats[column] is None or value is None:
            return value
        formatted = WriteOnlyCell(sheet, value=value)
        formatted.number_format = formats[column]
        return formatted

    sums: dict[str, Any] = {c: 0 for c in columns}
    sheets = 1
    sheet = new_sheet(sheets)
    in_sheet = 1
    count = 0
    try:
        for row in itertools.chain(sample, iterator):
            if in_sheet >= XLSX_MAX_ROWS - (1 if totals else 0):
                sheets += 1
                sheet = new_sheet(sheets)
                in_sheet = 1
            sheet.append([cell(sheet, c, row[c]) for c in columns])
            if totals:
                for c in columns:
                    value = row[c]
                    if c in sums and isinstance(value, int) and not isinstance(value, bool):
                        sums[c] += value
                    elif value not in (None, ""):
                        sums.pop(c, None)
            in_sheet += 1
            count += 1
        last_data_row = in_sheet  # (the header is row 1)
        if totals and count and columns:
            label, *added = sheet_style.totals_of(columns, kinds, sums)
            first = WriteOnlyCell(sheet, value=label)
            first.font = bold
            sheet.append([first, *(cell(sheet, c, v) if v is not None else None
                                   for c, v in zip(columns[1:], added, strict=True))])
        for made in sheets_made:  # filters over each sheet's header and rows (not the totals)
            end = last_data_row if made is sheet else XLSX_MAX_ROWS - (1 if totals else 0)
            made.auto_filter.ref = f"A1:{get_column_letter(max(len(columns), 1))}{end}"
    except BaseException:
        for open_sheet in workbook.worksheets:  # finish openpyxl's row writers now, not in a later GC pass
            with contextlib.suppress(Exception):
                open_sheet.close()
        raise
    workbook.save(path)
    return count


# --- files -------------------------------------------------------------------------------------------------------


def cannot_write(target: str, exc: OSError) -> DomainError:
    """The one line for a write that failed (a full disk, a folder that is not there, permissions)."""
    where = _("standard output") if target == "-" else target
    return DomainError(_("Cannot write {target}: {error}.").format(target=where, error=exc.strerror or exc))


def write_target(target: str, stdout: IO[bytes] | None, write: Callable[[IO[bytes]], int]) -> int:
    """Run ``write`` on ``target`` replaced whole (:func:`~mms_tui.services.base.files.atomic_file`), or on
    ``stdout`` for '-'; returns what ``write`` returns (the rows written)."""
    try:
        if target == "-":
            if stdout is None:
                raise InvalidInput(_("Writing to '-' needs standard output."))
            count = write(stdout)
            stdout.flush()
            return count
        with atomic_file(target) as out:
            return write(out)
    except OSError as exc:
        if target == "-" and isinstance(exc, BrokenPipeError):
            raise  # the reader of the pipe (`| head`) stopped reading: not a failure; the CLI stops quietly
        raise cannot_write(target, exc) from None


def text_encoding_for(fmt: str, encoding: str | None, *, stream: bool = False) -> str:
    """The text encoding a format is written in: the one asked for, checked, else the format's own — a CSV file
    UTF-8 with a BOM (Excel then reads Chinese), but CSV on standard output (``stream``) plain UTF-8, what the
    next program in a pipe expects."""
    if encoding is not None and encoding not in ENCODINGS:
        raise InvalidInput(_("Encoding must be one of {encodings}, not {value!r}.").format(
            encodings=", ".join(ENCODINGS), value=encoding))
    if fmt == "xlsx":
        if encoding:
            raise InvalidInput(_("--encoding applies to csv, jsonl and json; an XLSX file has no text encoding."))
        return ""
    if encoding:
        return encoding
    return "utf-8-sig" if fmt == "csv" and not stream else "utf-8"  # JSON is UTF-8 without a BOM (RFC 8259)


