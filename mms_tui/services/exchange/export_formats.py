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
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
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
#: characters XML 1.0 cannot hold (the C0 controls but tab, LF and CR): left out of a workbook's text
_ILLEGAL_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
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
    """A workbook written as the rows come (XlsxWriter's constant-memory mode: each row goes to disk once the next
    begins), laid out for a person (:mod:`.sheet_style`): headers in the desk's language, money in yuan with a ¥
    format, dates as dates, widths from the first rows, the header frozen with filters; ``totals``: a last row
    adding up the report's counts and money. Text is always written as text — never read as a formula, a number or
    an error value — and escaped like CSV besides. An export longer than Excel's row limit continues on a second
    sheet with the header repeated."""
    import datetime as dt

    import xlsxwriter
    from xlsxwriter.exceptions import FileCreateError

    from mms_tui.services.exchange import sheet_style

    iterator = iter(rows)
    sample = list(itertools.islice(iterator, sheet_style.SAMPLE_ROWS))
    kinds = sheet_style.column_kinds(columns, sample)
    headers = [sheet_style.header_label(c, member_file=member_file) for c in columns]
    widths = [sheet_style.display_width(h, "plain") for h in headers]
    for row in sample:
        for i, c in enumerate(columns):
            widths[i] = max(widths[i], sheet_style.display_width(sheet_style.typed(row[c], kinds[c]), kinds[c]))
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                               "strings_to_formulas": False, "strings_to_urls": False})
    bold = workbook.add_format({"bold": True})
    shown = {kind: workbook.add_format({"num_format": number_format})
             for kind in set(kinds.values()) if (number_format := sheet_style.number_format(kind))}
    formats = [shown.get(kinds[c]) for c in columns]
    last_column = max(len(columns), 1) - 1
    per_sheet = XLSX_MAX_ROWS - (1 if totals else 0)  # rows of a sheet, its header included

    def new_sheet(number: int):
        sheet = workbook.add_worksheet(title if number == 1 else f"{title} ({number})")
        for i, width in enumerate(widths):
            sheet.set_column(i, i, min(width + 2, sheet_style.MAX_WIDTH))
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, headers, bold)
        return sheet

    def put(sheet, r: int, i: int, value: Any, kind: str) -> None:
        if isinstance(value, str):
            value = sheet_style.typed(value, kind)
            if isinstance(value, str):
                if value:
                    sheet.write_string(r, i, _ILLEGAL_IN_XML.sub("", escape_formula(value)))
                return
        elif kind == "fen":
            value = sheet_style.typed(value, "fen")
        if value is None:
            return
        if isinstance(value, bool):
            sheet.write_boolean(r, i, value)
        elif isinstance(value, dt.date):  # a date, or a date and time (datetime is a date)
            sheet.write_datetime(r, i, value, formats[i])
        elif isinstance(value, int | float | Decimal):
            sheet.write_number(r, i, value, formats[i])
        else:
            sheet.write_string(r, i, _ILLEGAL_IN_XML.sub("", escape_formula(str(value))))

    sums: dict[str, Any] = {c: 0 for c in columns}
    sheets = 1
    sheet = new_sheet(sheets)
    r = 1  # the next row of this sheet (the header is row 0)
    count = 0
    try:
        for row in itertools.chain(sample, iterator):
            if r >= per_sheet:
                sheet.autofilter(0, 0, r - 1, last_column)
                sheets += 1
                sheet = new_sheet(sheets)
                r = 1
            for i, c in enumerate(columns):
                put(sheet, r, i, row[c], kinds[c])
            if totals:
                for c in columns:
                    value = row[c]
                    if c in sums and isinstance(value, int) and not isinstance(value, bool):
                        sums[c] += value
                    elif value not in (None, ""):
                        sums.pop(c, None)
            r += 1
            count += 1
        sheet.autofilter(0, 0, r - 1, last_column)  # over the header and the rows (not the totals)
        if totals and count and columns:
            label, *added = sheet_style.totals_of(columns, kinds, sums)
            sheet.write_string(r, 0, label, bold)
            for i, value in enumerate(added, start=1):
                if value is not None:
                    put(sheet, r, i, value, kinds[columns[i]])
    except BaseException:
        with contextlib.suppress(Exception):
            workbook.close()  # its temporary files go now; the caller drops the half-written file
        raise
    try:
        workbook.close()
    except FileCreateError as exc:  # XlsxWriter wraps the OSError (a full disk, a folder gone): hand it on as one
        error = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
        raise error from None
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


