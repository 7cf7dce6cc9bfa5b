"""The price lists of ``mms prices import`` (``mms import prices``): each row an item's price on a list (a tier's or a
price level's code; empty for the store's own retail price), chain-wide or for the store named, set or changed.
All or nothing like every import; each bad row named with its column and why. ``mms prices export`` writes files
this reads back."""

from __future__ import annotations

from mms_tui.i18n import _
from mms_tui.models import ItemPrice, Staff
from mms_tui.services.base.errors import DomainError
from mms_tui.services.catalogue.items import find
from mms_tui.services.catalogue.prices import _list_of, price_key
from mms_tui.services.exchange.fields import PRICE_REQUIRED
from mms_tui.services.exchange.import_cells import MAX_CELL, CellError, clean_money_cell, too_long, unescape
from mms_tui.services.exchange.import_report import ImportCounts, ImportRejected, RowError
from mms_tui.services.exchange.sheets import Sheet, cell_text
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.staff.permissions import in_store_scope
from mms_tui.services.staff.stores import find_store


def import_prices(sheet: Sheet, columns: dict[str, int], counts: ImportCounts, errors: list[RowError],
                  staff: Staff, *, write: bool = True) -> None:
    """Check every row; ``write``: and set the prices (else only count what would be set)."""
    seen: dict[str, int] = {}

    def error(line: int, field: str, value: str, reason: str) -> None:
        errors.append(RowError(line, sheet.headers[columns[field]] if field in columns else field, value, reason))

    planned: list[tuple[str, dict]] = []
    for line, cells in sheet.rows:
        counts.rows += 1
        texts = {name: unescape(cell_text(cells[i])) if i < len(cells) else "" for name, i in columns.items()}
        bad = False
        for name, text in texts.items():
            if len(text) > MAX_CELL:
                error(line, name, text, too_long(MAX_CELL))
                bad = True
        for required in PRICE_REQUIRED:
            if not texts.get(required):
                error(line, required, "", _("required"))
                bad = True
        if bad:
            continue
        try:
            kind, item = find(texts["code"])
        except DomainError:
            error(line, "code", texts["code"], _("no product or service with this code"))
            continue
        try:
            tier, level = _list_of(texts.get("list", ""))
        except DomainError as exc:
            error(line, "list", texts.get("list", ""), str(exc).removeprefix(_("List: ")))
            continue
        store = None
        if texts.get("store"):
            try:
                store = find_store(texts["store"])
            except DomainError:
                error(line, "store", texts["store"], _("unknown store (add it first: mms stores add CODE NAME)"))
                continue
            if not in_store_scope(staff, store.id):
                error(line, "store", texts["store"], _("not one of your stores"))
                continue
        try:
            price = clean_money_cell(texts["price"])
        except CellError as exc:
            error(line, "price", texts["price"], str(exc))
            continue
        if tier is None and level is None and store is None:
            error(line, "store", "", _("a retail price is set per store (the chain's is the item's own price)"))
            continue
        key = price_key(kind, item.id, tier.id if tier else None, level.id if level else None,
                        store.id if store else None)
        if key in seen:
            error(line, "code", texts["code"], _("also on line {line}").format(line=seen[key]))
            continue
        seen[key] = line
        planned.append((key, {"product": item.id if kind == "product" else None,
                              "service": item.id if kind == "service" else None, "tier": tier, "price_level": level,
                              "store": store, "price_fen": price}))
    if errors:
        raise ImportRejected(errors, sheet.line_word)
    for key, values in planned:
        current = ItemPrice.get_or_none(ItemPrice.key == key)
        if current is None:
            counts.created += 1
            if write:
                made = ItemPrice.create(key=key, **values)
                record_states("item_price", [made.id], staff=staff)
        elif current.price_fen != values["price_fen"]:
            counts.updated += 1
            if write:
                ItemPrice.update(price_fen=values["price_fen"]).where(ItemPrice.id == current.id).execute()
                record_states("item_price", [current.id], staff=staff)
        else:
            counts.skipped += 1
