"""Exports for the back office: members, cards, the ledger and sales as CSV, JSON lines, JSON or XLSX, and one
member's complete data for a data-access request.

Three promises shape this module:

* **It streams.** Rows come from keyset-paged queries (``WHERE id > last ORDER BY id LIMIT n``), so a million
  members never sit in memory — not in Python, and not in the PostgreSQL client either, which would otherwise
  fetch a whole result set before the first row. Every ``*_rows`` function is a generator.
* **A file is whole or absent, plain and private.** Output goes to a temporary file beside the target and is
  renamed into place only after the last row is written and synced; a bad option, a full disk or Ctrl+C leaves no
  half-written file. A target that is a symbolic link, a device, a pipe or a folder is refused; the file is 0600
  (:mod:`mms_tui.services.base.files`). ``-`` streams to standard output, which may be redirected into a pipe.
* **Spreadsheets cannot be turned against their reader.** In CSV and XLSX a text cell that starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a CR gets a leading ``'`` so Excel shows it instead of running it as a formula
  (OWASP "CSV injection"). JSON is data for programs and is written as stored.

The member file uses exactly the columns of :data:`mms_tui.services.exchange.fields.MEMBER_COLUMNS`, with money as exact
yuan strings, so an export imports again with ``mms import members``. The accounting exports (ledger, sales) keep
money as integer fen, like the machine formats of ``mms report``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import peewee

from mms_tui.i18n import _
from mms_tui.models import (
    TENDERS,
    AuditEvent,
    Card,
    CardType,
    Entry,
    Member,
    Payment,
    Sale,
    SaleLine,
    Staff,
    Store,
    Tier,
    Transaction,
    Visit,
    now,
)
from mms_tui.services.base.errors import DomainError, InvalidInput, UnknownMember
from mms_tui.services.base.files import atomic_file, atomic_path
from mms_tui.services.base.resolve import checked_day, resolve_store
from mms_tui.services.base.text import normalise_phone
from mms_tui.services.exchange.fields import MEMBER_COLUMNS

Row = dict[str, Any]

#: what ``mms export`` can write
EXPORT_FORMATS = ("csv", "jsonl", "json", "xlsx")
#: text encodings offered; utf-8-sig (UTF-8 with a BOM) is what makes Excel read Chinese in a CSV correctly
ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")
#: rows fetched per query; bounds memory whatever the table size
PAGE_SIZE = 2000
#: rows in one Excel worksheet (header included); longer exports continue on another sheet
XLSX_MAX_ROWS = 1_048_576
#: first characters that make a spreadsheet treat a text cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CARD_COLUMNS = (
    "card_no", "reader_uid", "barcode", "card_type", "kind", "status", "member_phone", "member_name",
    "principal_fen", "bonus_fen", "points", "visits_left", "valid_from", "valid_until", "store", "issued_at",
)
LEDGER_COLUMNS = (
    "txid", "kind", "created_at", "store", "staff", "member_phone", "account", "card_no", "unit", "amount",
    "reverses",
)
SALE_COLUMNS = (
    "txid", "created_at", "store", "staff", "member_phone", "subtotal_fen", "discount_fen", "total_fen",
    "change_fen", "points_earned", "status", *(f"{tender}_fen" for tender in TENDERS), "lines",
)


@dataclass(frozen=True)
class ExportResult:
    rows: int
    target: str  # the file written, or "-" for standard output
    fmt: str


# --- values ------------------------------------------------------------------------------------------------------


def yuan(fen: int) -> str:
    """123450 → '1234.50': exact, from integers, in the form the member import parses back to the same fen."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def escape_formula(value: Any) -> Any:
    """'=HYPERLINK(…)' → "'=HYPERLINK(…)": a spreadsheet shows the text instead of evaluating it. Only text is
    touched; numbers are numbers (a negative amount is not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def _moment(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return str(value)[:19]


def format_for(target: str, fmt: str | None = None) -> str:
    """The format asked for, else the one FILE's suffix names (.xlsx, .jsonl, .json), else CSV."""
    if fmt:
        if fmt not in EXPORT_FORMATS:
            raise InvalidInput(_("Format must be one of {formats}, not {value!r}.").format(
                formats=", ".join(EXPORT_FORMATS), value=fmt))
        return fmt
    suffix = Path(target).suffix.lower() if target != "-" else ""
    return {".xlsx": "xlsx", ".jsonl": "jsonl", ".json": "json"}.get(suffix, "csv")


# --- paging ------------------------------------------------------------------------------------------------------


def _pages(make_query: Callable[[int], peewee.Query], page_size: int) -> Iterator[list[tuple]]:
    """Keyset pages of tuples whose first column is the increasing id ``make_query(last_id)`` continues after.
    No read transaction stays open between pages, so desks keep writing while a big export runs."""
    last = 0
    while True:
        page = list(make_query(last).limit(page_size).tuples())
        if not page:
            return
        yield page
        if len(page) < page_size:
            return
        last = page[-1][0]


@dataclass(frozen=True)
class _Period:
    start: dt.datetime | None
    end: dt.datetime | None  # exclusive: the day after the last day
    store_id: int | None


def _period(start: dt.date | None, end: dt.date | None, store: str | None) -> _Period:
    checked_day(start)
    checked_day(end)
    if start and end and start > end:
        raise InvalidInput(_("The period starts after it ends ({start} > {end}).").format(start=start, end=end))
    return _Period(
        dt.datetime.combine(start, dt.time()) if start else None,
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time()) if end else None,
        resolve_store(store).id if store else None,
    )


def _in_period(query: peewee.Query, moment: peewee.Field, store: peewee.Field, p: _Period) -> peewee.Query:
    """``query`` narrowed to the period's days (inclusive) and store; successive ``where`` calls are ANDed."""
    if p.start is not None:
        query = query.where(moment >= p.start)
    if p.end is not None:
        query = query.where(moment < p.end)
    if p.store_id is not None:
        query = query.where(store == p.store_id)
    return query


# --- members -----------------------------------------------------------------------------------------------------


def member_rows(store: str | None = None, *, page_size: int = PAGE_SIZE) -> Iterator[Row]:
    """One row per card (a member without a card: one row, card columns empty), keys = MEMBER_COLUMNS."""
    store_id = resolve_store(store).id if store else None
    return _member_rows(store_id, page_size)


def _member_rows(store_id: int | None, page_size: int) -> Iterator[Row]:
    def members(last: int) -> peewee.Query:
        query = (
            Member.select(Member.id, Member.name, Member.phone, Member.gender, Member.birthday, Tier.code,
                          Member.notes, Member.created_at, Store.code)
            .join(Tier, on=(Member.tier == Tier.id))
            .switch(Member).join(Store, peewee.JOIN.LEFT_OUTER, on=(Member.home_store == Store.id))
            .where(Member.id > last)
            .order_by(Member.id)
        )
        return query.where(Member.home_store == store_id) if store_id is not None else query

    no_card = dict.fromkeys(MEMBER_COLUMNS[MEMBER_COLUMNS.index("card_no"):])
    for page in _pages(members, page_size):
        cards: dict[int, list[tuple]] = defaultdict(list)
        query = (
            Card.select(Card.member, Card.card_no, CardType.code, Card.status, Card.principal_fen, Card.bonus_fen,
                        Card.points, Card.visits_left, Card.valid_from, Card.valid_until, Card.reader_uid,
                        Card.barcode)
            .join(CardType)
            .where(Card.member.in_([m[0] for m in page]))
            .order_by(Card.member, Card.id)
            .tuples()
        )
        for card in query:
            cards[card[0]].append(card)
        for member_id, name, phone, gender, birthday, tier, notes, created, home in page:
            person = {"name": name, "phone": phone, "gender": gender or "", "birthday": _date(birthday),
                      "tier": tier, "notes": notes or "", "joined": _date(created), "store": home or ""}
            if not cards[member_id]:
                yield {**person, **no_card}
            for (_m, card_no, ctype, status, principal, bonus, points, visits, valid_from, valid_until, uid,
                 barcode) in cards.pop(member_id, ()):
                yield {**person, "card_no": card_no, "card_type": ctype, "status": status,
                       "balance": yuan(principal), "bonus": yuan(bonus), "points": int(points),
                       "visits": int(visits), "valid_from": _date(valid_from), "valid_until": _date(valid_until),
                       "reader_uid": uid, "barcode": barcode}


# --- cards -------------------------------------------------------------------------------------------------------


def card_rows(store: str | None = None, *, page_size: int = PAGE_SIZE) -> Iterator[Row]:
    """One row per card with its member and cached balances (money in fen). ``store``: cards bound to it."""
    store_id = resolve_store(store).id if store else None
    return _card_rows(store_id, page_size)


def _card_rows(store_id: int | None, page_size: int) -> Iterator[Row]:
    def cards(last: int) -> peewee.Query:
        query = (
            Card.select(Card.id, Card.card_no, Card.reader_uid, Card.barcode, CardType.code, CardType.kind,
                        Card.status, Member.phone, Member.name, Card.principal_fen, Card.bonus_fen, Card.points,
                        Card.visits_left, Card.valid_from, Card.valid_until, Store.code, Card.issued_at)
            .join(CardType)
            .switch(Card).join(Member)
            .switch(Card).join(Store, peewee.JOIN.LEFT_OUTER, on=(Card.store == Store.id))
            .where(Card.id > last)
            .order_by(Card.id)
        )
        return query.where(Card.store == store_id) if store_id is not None else query

    for page in _pages(cards, page_size):
        for (_id, card_no, uid, barcode, ctype, kind, status, phone, name, principal, bonus, points, visits,
             valid_from, valid_until, store, issued) in page:
            yield {"card_no": card_no, "reader_uid": uid, "barcode": barcode, "card_type": ctype, "kind": kind,
                   "status": status, "member_phone": phone, "member_name": name, "principal_fen": int(principal),
                   "bonus_fen": int(bonus), "points": int(points), "visits_left": int(visits),
                   "valid_from": _date(valid_from), "valid_until": _date(valid_until), "store": store,
                   "issued_at": _moment(issued)}


# --- ledger ------------------------------------------------------------------------------------------------------


def ledger_rows(start: dt.date | None = None, end: dt.date | None = None, store: str | None = None, *,
                page_size: int = PAGE_SIZE) -> Iterator[Row]:
    """One row per entry, signed, in integer units (fen, pt, visit). Paged by transaction, so every transaction
    arrives whole and its entries of each unit sum to zero in the file as in the books."""
    return _ledger_rows(_period(start, end, store), page_size)


def _ledger_rows(p: _Period, page_size: int) -> Iterator[Row]:
    Original = Transaction.alias()

    def transactions(last: int) -> peewee.Query:
        query = (
            Transaction.select(Transaction.id, Transaction.txid, Transaction.kind, Transaction.created_at,
                               Store.code, Staff.code, Member.phone, Original.txid)
            .join(Store, on=(Transaction.store == Store.id))
            .switch(Transaction).join(Staff, on=(Transaction.staff == Staff.id))
            .switch(Transaction).join(Member, peewee.JOIN.LEFT_OUTER, on=(Transaction.member == Member.id))
            .switch(Transaction).join(Original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == Original.id))
            .where(Transaction.id > last)
            .order_by(Transaction.id)
        )
        return _in_period(query, Transaction.created_at, Transaction.store, p)

    for page in _pages(transactions, page_size):
        entries: dict[int, list[tuple]] = defaultdict(list)
        query = (
            Entry.select(Entry.transaction, Entry.account, Card.card_no, Entry.unit, Entry.amount)
            .join(Card, peewee.JOIN.LEFT_OUTER, on=(Entry.card == Card.id))
            .where(Entry.transaction.in_([t[0] for t in page]))
            .order_by(Entry.transaction, Entry.id)
            .tuples()
        )
        for entry in query:
            entries[entry[0]].append(entry)
        for tx_id, txid, kind, created, store, staff, phone, reverses in page:
            for _tx, account, card_no, unit, amount in entries.pop(tx_id, ()):
                yield {"txid": txid, "kind": kind, "created_at": _moment(created), "store": store, "staff": staff,
                       "member_phone": phone, "account": account, "card_no": card_no, "unit": unit,
                       "amount": int(amount), "reverses": reverses}


# --- sales -------------------------------------------------------------------------------------------------------


def sale_rows(start: dt.date | None = None, end: dt.date | None = None, store: str | None = None, *,
              page_size: int = PAGE_SIZE) -> Iterator[Row]:
    """One row per sale: totals in fen, what each tender paid, and the lines as text ('精剪×1; 矿泉水×2')."""
    return _sale_rows(_period(start, end, store), page_size)


def _sale_rows(p: _Period, page_size: int) -> Iterator[Row]:
    def sales(last: int) -> peewee.Query:
        query = (
            Sale.select(Sale.id, Transaction.txid, Transaction.created_at, Store.code, Staff.code, Member.phone,
                        Sale.subtotal_fen, Sale.discount_fen, Sale.total_fen, Sale.change_fen, Sale.points_earned,
                        Sale.status)
            .join(Transaction, on=(Sale.transaction == Transaction.id))
            .switch(Sale).join(Store, on=(Sale.store == Store.id))
            .switch(Sale).join(Staff, on=(Sale.staff == Staff.id))
            .switch(Sale).join(Member, peewee.JOIN.LEFT_OUTER, on=(Sale.member == Member.id))
            .where(Sale.id > last)
            .order_by(Sale.id)
        )
        return _in_period(query, Transaction.created_at, Sale.store, p)

    for page in _pages(sales, page_size):
        ids = [s[0] for s in page]
        lines: dict[int, list[str]] = defaultdict(list)
        for sale_id, name, qty in (
            SaleLine.select(SaleLine.sale, SaleLine.name, SaleLine.qty)
            .where(SaleLine.sale.in_(ids)).order_by(SaleLine.sale, SaleLine.id).tuples()
        ):
            lines[sale_id].append(f"{name}×{qty}")
        paid: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TENDERS, 0))
        for sale_id, tender, amount in (
            Payment.select(Payment.sale, Payment.tender, Payment.amount_fen).where(Payment.sale.in_(ids)).tuples()
        ):
            paid[sale_id][tender] = paid[sale_id].get(tender, 0) + int(amount)
        for (sale_id, txid, created, store, staff, phone, subtotal, discount, total, change, points,
             status) in page:
            tenders = paid[sale_id]
            yield {"txid": txid, "created_at": _moment(created), "store": store, "staff": staff,
                   "member_phone": phone, "subtotal_fen": int(subtotal), "discount_fen": int(discount),
                   "total_fen": int(total), "change_fen": int(change), "points_earned": int(points),
                   "status": status, **{f"{t}_fen": tenders.get(t, 0) for t in TENDERS},
                   "lines": "; ".join(lines.pop(sale_id, ()))}
            paid.pop(sale_id, None)


#: export name → (columns, whether --from/--to apply)
TABLES: dict[str, tuple[tuple[str, ...], bool]] = {
    "members": (MEMBER_COLUMNS, False),
    "cards": (CARD_COLUMNS, False),
    "ledger": (LEDGER_COLUMNS, True),
    "sales": (SALE_COLUMNS, True),
}


def table_rows(name: str, *, start: dt.date | None = None, end: dt.date | None = None, store: str | None = None,
               page_size: int = PAGE_SIZE) -> Iterator[Row]:
    """The rows of one export, as a generator. Arguments are checked now, before any file is opened."""
    if name not in TABLES:
        raise InvalidInput(_("Cannot export {name!r}; choose one of {names}.").format(
            name=name, names=", ".join([*TABLES, "member"])))
    if (start or end) and not TABLES[name][1]:
        raise InvalidInput(_("--from and --to apply to the ledger and sales exports only."))
    if name == "members":
        return member_rows(store, page_size=page_size)
    if name == "cards":
        return card_rows(store, page_size=page_size)
    if name == "ledger":
        return ledger_rows(start, end, store, page_size=page_size)
    return sale_rows(start, end, store, page_size=page_size)


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


def write_xlsx(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...], path: Path, title: str) -> int:
    """A write-only workbook (rows go to disk as they come). Text cells are forced to be text, so nothing —
    not even an escaped formula or '#N/A' — is read as a formula or an error value. An export longer than
    Excel's row limit continues on a second sheet with the header repeated."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)

    def new_sheet(number: int):
        sheet = workbook.create_sheet(title=title if number == 1 else f"{title} ({number})")
        sheet.append(list(columns))
        return sheet

    def cell(sheet, value: Any):
        if isinstance(value, str):
            text = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", escape_formula(value)))
            text.data_type = "s"
            return text
        return value

    sheets = 1
    sheet = new_sheet(sheets)
    in_sheet = 1
    count = 0
    try:
        for row in rows:
            if in_sheet >= XLSX_MAX_ROWS:
                sheets += 1
                sheet = new_sheet(sheets)
                in_sheet = 1
            sheet.append([cell(sheet, row[c]) for c in columns])
            in_sheet += 1
            count += 1
    except BaseException:
        for open_sheet in workbook.worksheets:  # finish openpyxl's row writers now, not in a later GC pass
            with contextlib.suppress(Exception):
                open_sheet.close()
        raise
    workbook.save(path)
    return count


# --- files -------------------------------------------------------------------------------------------------------


def _cannot_write(target: str, exc: OSError) -> DomainError:
    where = _("standard output") if target == "-" else target
    return DomainError(_("Cannot write {target}: {error}.").format(target=where, error=exc.strerror or exc))


def _write(target: str, stdout: IO[bytes] | None, write: Callable[[IO[bytes]], int]) -> int:
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
        raise _cannot_write(target, exc) from None


def _encoding_for(fmt: str, encoding: str | None) -> str:
    if encoding is not None and encoding not in ENCODINGS:
        raise InvalidInput(_("Encoding must be one of {encodings}, not {value!r}.").format(
            encodings=", ".join(ENCODINGS), value=encoding))
    if fmt == "xlsx":
        if encoding:
            raise InvalidInput(_("--encoding applies to csv, jsonl and json; an XLSX file has no text encoding."))
        return ""
    if encoding:
        return encoding
    return "utf-8-sig" if fmt == "csv" else "utf-8"  # JSON is UTF-8 without a BOM (RFC 8259)


def export_table(name: str, target: str, *, fmt: str | None = None, encoding: str | None = None,
                 store: str | None = None, start: dt.date | None = None, end: dt.date | None = None,
                 stdout: IO[bytes] | None = None, page_size: int = PAGE_SIZE) -> ExportResult:
    """Write one export to ``target`` (a path, or '-' for ``stdout``), streaming; every option is checked before
    anything is written, and a failure leaves no partial file."""
    fmt = format_for(target, fmt)
    text_encoding = _encoding_for(fmt, encoding)
    if fmt == "xlsx" and target == "-":
        raise InvalidInput(_("XLSX needs a FILE, not '-': a workbook cannot be streamed to standard output."))
    columns = TABLES[name][0] if name in TABLES else ()
    rows = table_rows(name, start=start, end=end, store=store, page_size=page_size)
    if name in PERSONAL_TABLES:
        record_export(f"export.{name}", "members", {"target": target, "format": fmt, "store": store})
    if fmt == "xlsx":
        try:
            with atomic_path(target) as temporary:
                count = write_xlsx(rows, columns, temporary, name)
        except OSError as exc:
            raise _cannot_write(target, exc) from None
        return ExportResult(count, target, fmt)
    writer = {"csv": write_csv, "jsonl": write_jsonl, "json": write_json}[fmt]
    count = _write(target, stdout, lambda out: writer(rows, columns, out, text_encoding))
    return ExportResult(count, target, fmt)


#: exports that hold a person's data (names, phones, birthdays): each is recorded in the audit before it is written
PERSONAL_TABLES = ("members", "cards")


def record_export(action: str, subject: str, details: dict[str, Any]) -> None:
    """Who took personal data out, and where to: an audit event written before the data (PIPL). The command line
    is the trusted account; the operating-system user who ran it is recorded. A database that cannot record it
    (read-only) refuses the export, rather than let it leave unrecorded."""
    import getpass

    from mms_tui.db import database_fault
    from mms_tui.services.ledger.operations import record_audit

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    try:
        record_audit(action, subject, staff=None, store=None, payload={**details, "os_user": user})
    except Exception as exc:
        fault = database_fault(exc)
        if fault is None:
            raise
        raise DomainError(_("Personal data is exported only when the export can be recorded: {fault}").format(
            fault=fault)) from None


# --- one member --------------------------------------------------------------------------------------------------


def member_document(phone: str) -> dict[str, Any]:
    """Everything stored about one member — profile, cards, transactions with entries, sales with lines and
    payments, check-ins, audit events — for a data-access request. One member's history is small enough to
    build in memory."""
    number = normalise_phone(phone)
    member = Member.get_or_none(Member.phone == number)
    if member is None:
        raise UnknownMember(_("No member has the phone number {phone}.").format(phone=number))
    stores = dict(Store.select(Store.id, Store.code).tuples())
    staff = dict(Staff.select(Staff.id, Staff.code).tuples())
    cards = list(Card.select(Card, CardType).join(CardType).where(Card.member == member.id).order_by(Card.id))
    card_ids = [c.id for c in cards]
    card_nos = {c.id: c.card_no for c in cards}
    replaced = {c.id: c.card_no for c in Card.select(Card.id, Card.card_no).where(
        Card.id.in_([c.replaced_by_id for c in cards if c.replaced_by_id]))} if cards else {}

    touching = Transaction.member == member.id
    if card_ids:
        touching |= Transaction.id.in_(Entry.select(Entry.transaction).where(Entry.card.in_(card_ids)))
    Original = Transaction.alias()
    txs = list(
        Transaction.select(Transaction, Original.txid.alias("reverses_txid"))
        .join(Original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == Original.id))
        .where(touching).order_by(Transaction.id).objects()
    )
    entries: dict[int, list[Row]] = defaultdict(list)
    if txs:
        for tx_id, account, card_no, unit, amount in (
            Entry.select(Entry.transaction, Entry.account, Card.card_no, Entry.unit, Entry.amount)
            .join(Card, peewee.JOIN.LEFT_OUTER, on=(Entry.card == Card.id))
            .where(Entry.transaction.in_([t.id for t in txs])).order_by(Entry.id).tuples()
        ):
            entries[tx_id].append({"account": account, "card_no": card_no, "unit": unit, "amount": int(amount)})

    sales = list(Sale.select(Sale, Transaction.txid.alias("txid")).join(Transaction)
                 .where(Sale.member == member.id).order_by(Sale.id).objects())
    sale_ids = [s.id for s in sales]
    lines: dict[int, list[Row]] = defaultdict(list)
    payments: dict[int, list[Row]] = defaultdict(list)
    if sale_ids:
        for line in SaleLine.select().where(SaleLine.sale.in_(sale_ids)).order_by(SaleLine.id):
            lines[line.sale_id].append({
                "code": line.code, "name": line.name, "category": line.category, "qty": line.qty,
                "list_price_fen": line.list_price_fen, "unit_price_fen": line.unit_price_fen,
                "line_total_fen": line.line_total_fen, "discount_reason": line.discount_reason})
        pay_cards = Card.alias()
        for pay in (Payment.select(Payment, pay_cards.card_no.alias("card_no"))
                    .join(pay_cards, peewee.JOIN.LEFT_OUTER, on=(Payment.card == pay_cards.id))
                    .where(Payment.sale.in_(sale_ids)).order_by(Payment.id).objects()):
            payments[pay.sale_id].append({
                "tender": pay.tender, "amount_fen": pay.amount_fen, "card_no": pay.card_no,
                "principal_fen": pay.principal_fen, "bonus_fen": pay.bonus_fen, "points": pay.points})

    visits = list(Visit.select(Visit, Transaction.txid.alias("txid")).join(Transaction)
                  .where(Visit.member == member.id).order_by(Visit.id).objects())

    subjects = [f"member:{member.id}", *(f"card:{i}" for i in card_ids)]
    about = AuditEvent.subject.in_(subjects)
    if txs:
        about |= AuditEvent.txid.in_([t.txid for t in txs])
    events = AuditEvent.select().where(about).order_by(AuditEvent.id)

    def payload(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            return text

    return {
        "exported_at": _moment(now()),
        "member": {
            "name": member.name, "phone": member.phone, "gender": member.gender, "birthday": _date(member.birthday),
            "tier": member.tier.code, "tier_name": member.tier.name, "notes": member.notes,
            "status": member.status, "home_store": stores.get(member.home_store_id),
            "total_spend_fen": member.total_spend_fen, "joined": _moment(member.created_at),
        },
        "cards": [{
            "card_no": c.card_no, "reader_uid": c.reader_uid, "barcode": c.barcode, "card_type": c.card_type.code,
            "card_type_name": c.card_type.name, "kind": c.card_type.kind, "status": c.status,
            "principal_fen": c.principal_fen, "bonus_fen": c.bonus_fen, "points": c.points,
            "visits_left": c.visits_left, "valid_from": _date(c.valid_from), "valid_until": _date(c.valid_until),
            "frozen_since": _date(c.frozen_since), "frozen_days_total": c.frozen_days_total,
            "store": stores.get(c.store_id), "replaced_by": replaced.get(c.replaced_by_id),
            "issued_at": _moment(c.issued_at),
        } for c in cards],
        "transactions": [{
            "txid": t.txid, "kind": t.kind, "created_at": _moment(t.created_at), "store": stores.get(t.store_id),
            "staff": staff.get(t.staff_id), "reverses": t.reverses_txid, "note": t.note, "entries": entries[t.id],
        } for t in txs],
        "sales": [{
            "txid": s.txid, "created_at": _moment(s.created_at), "store": stores.get(s.store_id),
            "staff": staff.get(s.staff_id), "subtotal_fen": s.subtotal_fen, "discount_fen": s.discount_fen,
            "total_fen": s.total_fen, "change_fen": s.change_fen, "points_earned": s.points_earned,
            "status": s.status, "lines": lines[s.id], "payments": payments[s.id],
        } for s in sales],
        "visits": [{
            "txid": v.txid, "created_at": _moment(v.created_at), "card_no": card_nos.get(v.card_id),
            "store": stores.get(v.store_id), "staff": staff.get(v.staff_id), "status": v.status,
        } for v in visits],
        "audit": [{
            "created_at": _moment(e.created_at), "action": e.action, "subject": e.subject,
            "staff": staff.get(e.staff_id), "store": stores.get(e.store_id), "txid": e.txid,
            "payload": payload(e.payload),
        } for e in events],
    }


def export_member(phone: str, target: str = "-", *, fmt: str | None = None, encoding: str | None = None,
                  stdout: IO[bytes] | None = None) -> ExportResult:
    """One member's data as a pretty JSON document (the answer to a data-access request)."""
    if fmt not in (None, "json"):
        raise InvalidInput(_("One member's data is exported as JSON only."))
    text_encoding = _encoding_for("json", encoding)
    document = member_document(phone)
    member = Member.get(Member.phone == normalise_phone(phone))
    record_export("export.member", f"member:{member.id}", {"target": target})
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"

    def write(out: IO[bytes]) -> int:
        out.write(body.encode(text_encoding))
        return 1

    _write(target, stdout, write)
    return ExportResult(1, target, "json")
