"""``mms import``: members with their cards and opening balances, and products, from a spreadsheet.

The rules an operator can rely on:

* **All or nothing.** The whole file is one write transaction. Every bad row is listed (line, column, value,
  reason) and then nothing is written; ``dry_run`` checks everything the same way and writes nothing.
* **One row = a member and at most one card.** Rows with the same phone are the same member holding several
  cards; their member columns must agree where both are filled.
* **Duplicates** — a phone already in the database, a card number (or reader UID, or barcode) already in use, a
  card or member repeated in the file — follow ``on_duplicate``: ``error`` (the default: listed as bad rows),
  ``skip`` (the row is left out and counted) or ``update`` (the member's filled columns replace what is stored;
  a card of the same member gets the file's balances).
* **Opening balances are ledger entries.** Stored value, bonus value, points and visits arrive as one ledger
  transaction of kind ``import`` (card accounts against ``opening.*``), so ``mms check`` holds afterwards and
  the liability report includes them; an update of a balance posts the difference.
* **Idempotent.** The operation's txid is made from the file's contents and the options: importing the same
  file again returns the first result and changes nothing.

Fast on big files: rows are cleaned in Python and written in batches with prepared statements and explicit ids
(:func:`mms_tui.db.bulk_insert`), with no query per row when the database has no members or cards yet.

This module is the entry point (:func:`import_file`); the cells are cleaned in :mod:`.import_cells`, member rows
validated and written in :mod:`.import_members` (a big first load in :mod:`.import_pipeline`), products in
:mod:`.import_products`, and bad rows reported with :mod:`.import_report`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from mms_tui.db import database
from mms_tui.i18n import _
from mms_tui.models import Staff, Store, Transaction
from mms_tui.services.base.config import announced_writer
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.base.resolve import resolve_store
from mms_tui.services.exchange.fields import (
    MEMBER_FIELDS,
    MEMBER_REQUIRED,
    PRICE_FIELDS,
    PRICE_REQUIRED,
    PRODUCT_FIELDS,
    PRODUCT_REQUIRED,
    map_columns,
    parse_mapping,
)
from mms_tui.services.exchange.import_members import MemberImport, ProgressRelay
from mms_tui.services.exchange.import_pipeline import is_big_first_load, run_member_import
from mms_tui.services.exchange.import_prices import import_prices
from mms_tui.services.exchange.import_products import import_products
from mms_tui.services.exchange.import_report import ImportCounts, ImportRejected
from mms_tui.services.exchange.sheets import Progress, file_digest, open_sheet
from mms_tui.services.ledger import results
from mms_tui.services.ledger.operations import audit, run_operation
from mms_tui.services.staff.accounts import staff_or_first_admin
from mms_tui.services.staff.permissions import require

ON_DUPLICATE = ("error", "skip", "update")


@dataclass(frozen=True)
class ImportResult:
    txid: str
    what: str  # members | products
    encoding: str
    rows: int
    created: int  # members (or products) created
    updated: int
    skipped: int
    cards_created: int
    cards_updated: int
    principal_fen: int  # opening balances posted (net of updates)
    bonus_fen: int
    points: int
    visits: int
    ignored_columns: list[str]
    dry_run: bool = False
    already_imported: bool = False


def _check_rows(what: str, path: Path, encoding: str, sheet: str | None, columns: dict[str, int], on_duplicate: str,
                staff: Staff, store: Store, progress: Progress | None) -> tuple[ImportCounts, str]:
    """Read, clean and place every row the way the import will, writing nothing and holding no write lock: what
    the import would do (its counts), or ImportRejected with every bad row."""
    relay = ProgressRelay(progress) if progress is not None else None
    data = open_sheet(path, encoding, sheet, relay)
    try:
        with database.atomic():  # one consistent read of what is already there (SQLite: a shared lock only)
            if what == "members":
                run = MemberImport(data, columns, on_duplicate, staff, store, None, progress, relay)
                run.plan_rows()
                if run.errors:
                    raise ImportRejected(run.errors, data.line_word)
                counts = run.counts
            elif what == "prices":
                counts = ImportCounts()
                import_prices(data, columns, counts, [], staff, write=False)
            else:
                counts = ImportCounts()
                import_products(data, columns, on_duplicate, counts, [], write=False)
        return counts, data.settled_encoding()
    finally:
        data.close()


def import_file(
    what: str,
    path: str | Path,
    *,
    staff: Staff | str | None = None,
    store: Store | str | None = None,
    encoding: str = "auto",
    mapping: list[str] | tuple[str, ...] = (),
    on_duplicate: str = "error",
    dry_run: bool = False,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``members``, ``products`` or ``prices`` from a CSV/TSV/XLSX file, all or nothing (see the module
    doc)."""
    if what not in ("members", "products", "prices"):
        raise InvalidInput(_("Import members, products or prices, not {what!r}.").format(what=what))
    if on_duplicate not in ON_DUPLICATE:
        raise InvalidInput(_("--on-duplicate must be error, skip or update."))
    fields = {"members": MEMBER_FIELDS, "products": PRODUCT_FIELDS, "prices": PRICE_FIELDS}[what]
    required = {"members": MEMBER_REQUIRED, "products": PRODUCT_REQUIRED, "prices": PRICE_REQUIRED}[what]
    parsed_map = parse_mapping(list(mapping), fields)
    path = Path(path)
    staff_obj = staff_or_first_admin(staff)
    if not dry_run:  # members with opening balances, products with prices: a manager's decision
        require(staff_obj, "import")
    store_obj = _import_store(store, staff_obj)
    # read the header now: a wrong file or a missing column is one clear error before anything is locked
    probe = open_sheet(path, encoding, sheet)
    try:
        columns, ignored = map_columns(probe.headers, fields, parsed_map, required)
        has_rows = next(probe.rows, None) is not None  # reads up to the first row that is not blank
    finally:
        probe.close()
    if not has_rows:  # an import of nothing would still write its transaction and say "Imported"
        raise InvalidInput(_("{path} has a header but no rows; nothing was imported.").format(path=path.name))
    request = {"what": what, "sha256": file_digest(path), "encoding": encoding, "map": sorted(parsed_map.items()),
               "on_duplicate": on_duplicate, "sheet": sheet}
    txid = "import-" + hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:40]
    previous = Transaction.get_or_none(Transaction.txid == txid)
    if previous is not None:
        result = ImportResult(**results.load(previous.result, of=previous.txid))
        return dataclasses.replace(result, already_imported=True, dry_run=dry_run)

    big_first_load = what == "members" and is_big_first_load(path)
    if dry_run or not big_first_load:
        # check every row first, in a plain read transaction: a bad file is refused, and a dry run answers,
        # with no write lock ever taken (the big first load checks in its forked reader, beside the writer)
        try:
            counts, settled = _check_rows(what, path, encoding, sheet, columns, on_duplicate, staff_obj, store_obj,
                                          progress if dry_run else None)
        except ImportRejected as rejected:
            rejected.ignored_columns = ignored
            raise
        if dry_run:
            return ImportResult(
                txid=txid, what=what, encoding=settled, rows=counts.rows, created=counts.created,
                updated=counts.updated, skipped=counts.skipped, cards_created=counts.cards_created,
                cards_updated=counts.cards_updated, principal_fen=counts.principal, bonus_fen=counts.bonus,
                points=counts.points, visits=counts.visits, ignored_columns=ignored, dry_run=True)

    def body(tx: Transaction) -> ImportResult:
        relay = ProgressRelay(progress) if progress is not None else None
        data = open_sheet(path, encoding, sheet, relay)
        counts = ImportCounts()
        try:
            if what == "members":
                run = MemberImport(data, columns, on_duplicate, staff_obj, store_obj, tx, progress, relay)
                run_member_import(run)
                counts = run.counts
            elif what == "prices":
                import_prices(data, columns, counts, [], staff_obj)
            else:
                import_products(data, columns, on_duplicate, counts, [])
        finally:
            data.close()
        result = ImportResult(
            txid=tx.txid, what=what, encoding=data.settled_encoding(), rows=counts.rows, created=counts.created,
            updated=counts.updated, skipped=counts.skipped, cards_created=counts.cards_created,
            cards_updated=counts.cards_updated, principal_fen=counts.principal, bonus_fen=counts.bonus,
            points=counts.points, visits=counts.visits, ignored_columns=ignored, dry_run=dry_run,
        )
        audit(f"import.{what}", f"file:{path.name}"[:64], staff=staff_obj, store=store_obj, txid=tx.txid,
              payload={"file": str(path), **{k: v for k, v in dataclasses.asdict(result).items() if k != "txid"}})
        return result

    try:
        with announced_writer(_("an import of {file}").format(file=path.name), staff_obj):
            return run_operation(txid=txid, kind="import", request=request, staff=staff_obj, store=store_obj,
                                 member=None, body=body, result_type=ImportResult, note=path.name[:200])
    except ImportRejected as rejected:
        rejected.ignored_columns = ignored
        raise


def _import_store(store: Store | str | None, staff: Staff) -> Store:
    try:
        return resolve_store(store, staff, writing=True)
    except NotFound:
        return resolve_store(None, staff, writing=True)
