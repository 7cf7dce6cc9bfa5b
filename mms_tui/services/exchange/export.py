"""Exports for the back office: members, cards, the ledger and sales as CSV, JSON lines, JSON or XLSX, and one
member's complete data for a data-access request.

This module writes one export (:func:`export_table`) and records personal data as it leaves
(:func:`record_export`). What each export yields is in :mod:`.export_rows` (streamed, never held whole), the formats
in :mod:`.export_formats` (a file whole or absent, plain and private; spreadsheets that cannot be turned against
their reader), one member's data in :mod:`.member_document`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import IO, Any

from mms_tui.i18n import _
from mms_tui.models import Staff
from mms_tui.services.base.errors import DomainError, InvalidInput
from mms_tui.services.base.files import atomic_path
from mms_tui.services.exchange.export_formats import (
    cannot_write,
    format_for,
    text_encoding_for,
    write_csv,
    write_json,
    write_jsonl,
    write_target,
    write_xlsx,
)
from mms_tui.services.exchange.export_rows import PAGE_SIZE, TABLES, Progress, table_rows
from mms_tui.services.staff.permissions import require, scoped_node


@dataclass(frozen=True)
class ExportResult:
    rows: int
    target: str  # the file written, or "-" for standard output
    fmt: str


def export_table(name: str, target: str, *, fmt: str | None = None, encoding: str | None = None,
                 store: str | None = None, start: dt.date | None = None, end: dt.date | None = None,
                 stdout: IO[bytes] | None = None, page_size: int = PAGE_SIZE, viewer: Staff | None = None,
                 progress: Progress | None = None) -> ExportResult:
    """Write one export to ``target`` (a path, or '-' for ``stdout``), streaming; every option is checked before
    anything is written, and a failure leaves no partial file. ``store``: that store, or a region or HQ with the
    stores below it. ``viewer``: the staff member asking (None: the trusted account at the machine), held to
    their own subtree of the stores. ``progress(done, total)``: how far the rows have come, for a progress bar."""
    if viewer is not None:
        require(viewer, "export")
        store = scoped_node(viewer, store)
    fmt = format_for(target, fmt)
    text_encoding = text_encoding_for(fmt, encoding, stream=target == "-")
    if fmt == "xlsx" and target == "-":
        raise InvalidInput(_("XLSX needs a FILE, not '-': a workbook cannot be streamed to standard output."))
    columns = TABLES[name][0] if name in TABLES else ()
    rows = table_rows(name, start=start, end=end, store=store, page_size=page_size, progress=progress)
    if name in PERSONAL_TABLES:
        record_export(f"export.{name}", "members", {"target": target, "format": fmt, "store": store}, viewer)
    if fmt == "xlsx":
        try:
            with atomic_path(target) as temporary:
                count = write_xlsx(rows, columns, temporary, name, member_file=name == "members")
        except OSError as exc:
            raise cannot_write(target, exc) from None
        return ExportResult(count, target, fmt)
    writer = {"csv": write_csv, "jsonl": write_jsonl, "json": write_json}[fmt]
    count = write_target(target, stdout, lambda out: writer(rows, columns, out, text_encoding))
    return ExportResult(count, target, fmt)


def export_rows(rows, target: str, title: str, *, fmt: str | None = None, encoding: str | None = None,
                stdout: IO[bytes] | None = None) -> ExportResult:
    """A report's rows into FILE — an XLSX workbook, CSV (UTF-8 with BOM, for Excel, unless ``encoding`` says
    otherwise), JSON or JSON lines, by ``fmt`` or by FILE's suffix — written whole or not at all; or, with
    ``stdout``, to it when FILE is '-' (CSV then plain UTF-8 unless asked). Machine values (money in fen)."""
    fmt = format_for(target, fmt)
    text_encoding = text_encoding_for(fmt, encoding, stream=target == "-")
    if target == "-" and (stdout is None or fmt == "xlsx"):
        raise InvalidInput(_("--output needs a FILE; without it the report goes to standard output."))
    iterator = iter(rows)
    first = next(iterator, None)
    columns = tuple(first) if first is not None else ()
    every = itertools.chain([first], iterator) if first is not None else iter(())
    if fmt == "xlsx":
        try:
            with atomic_path(target) as temporary:
                count = write_xlsx(every, columns, temporary, title[:31], totals=True)
        except OSError as exc:
            raise cannot_write(target, exc) from None
        return ExportResult(count, target, fmt)
    writer = {"csv": write_csv, "jsonl": write_jsonl, "json": write_json}[fmt]
    count = write_target(target, stdout, lambda out: writer(every, columns, out, text_encoding))
    return ExportResult(count, target, fmt)


#: exports that hold a person's data (names, phones, birthdays): each is recorded in the audit before it is written
PERSONAL_TABLES = ("members", "cards")


def record_export(action: str, subject: str, details: dict[str, Any], viewer: Staff | None = None) -> None:
    """Who took personal data out, and where to: an audit event written before the data (PIPL). The command line
    is the trusted account (or the staff member it runs as); the operating-system user who ran it is recorded. A
    database that cannot record it (read-only) refuses the export, rather than let it leave unrecorded."""
    import getpass

    from mms_tui.db import database_fault
    from mms_tui.services.ledger.operations import record_audit

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    try:
        record_audit(action, subject, staff=viewer, store=None, payload={**details, "os_user": user})
    except Exception as exc:
        fault = database_fault(exc)
        if fault is None:
            raise
        raise DomainError(_("Personal data is exported only when the export can be recorded: {fault}").format(
            fault=fault)) from None


