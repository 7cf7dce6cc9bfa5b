"""The catalogue as the till reads it: an item by code or barcode, a whole cart's lines in one read, and what the
checkout's code box finds as it is typed in.

A code is a product's or a service's code or barcode; an active service comes before a product, a code before a
barcode. Quantities are whole numbers from 1 to 9999.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from mms_tui.i18n import _
from mms_tui.models import Product, ServiceItem
from mms_tui.services.base.errors import InvalidInput, UnknownItem
from mms_tui.services.base.sql import columns, fetch_rows, row_model
from mms_tui.services.base.text import normalise_card_no
from mms_tui.services.loyalty.pricing import CartLine


@dataclass(frozen=True)
class LineRequest:
    code: str  # item code or barcode
    qty: int = 1


def as_line(line: LineRequest | tuple | str) -> LineRequest:
    if isinstance(line, LineRequest):
        return line
    if isinstance(line, str):
        return LineRequest(line, 1)
    return LineRequest(*line)


# --- one statement each, written out (see base.sql.run_sql) --------------------------------------------------

_ITEMS_SQL: dict[int, str] = {}
#: the fields a product and a service share (id to active), before each one's own
_SHARED = len(ServiceItem._meta.sorted_fields) - 1


def _items_sql(keys: int) -> str:
    """Active services and products whose code or barcode is one of ``keys`` keys: services first."""
    sql = _ITEMS_SQL.get(keys)
    if sql is None:
        marks = ", ".join("?" for _k in range(keys))
        where = f'WHERE "t"."active" = ? AND ("t"."code" IN ({marks}) OR "t"."barcode" IN ({marks}))'
        # the columns the two share, then a service's own (duration) and a product's own (unit), NULL in the other
        shared = ", ".join(f'"t"."{f.column_name}"' for f in Product._meta.sorted_fields[:_SHARED])
        sql = _ITEMS_SQL[keys] = (
            f'SELECT \'service\', {columns(ServiceItem, "t")}, CAST(NULL AS VARCHAR(5)) '
            f'FROM "service_item" AS "t" {where} UNION ALL '
            f'SELECT \'product\', {shared}, CAST(NULL AS INTEGER), "t"."unit" FROM "product" AS "t" {where}'
        )
    return sql


def _find_items(keys: Sequence[str]) -> dict[str, tuple[str, Product | ServiceItem]]:
    """Key → (kind, item) for each key that is an active item's code or barcode, in one read: a service before a
    product, a code before a barcode (codes and barcodes are each unique within a table)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    rows = fetch_rows(_items_sql(len(wanted)), (True, *wanted, *wanted) * 2)
    found: dict[str, tuple[int, str, Product | ServiceItem]] = {}
    for row in rows:
        kind = row[0]
        item = (row_model(ServiceItem, row, 1) if kind == "service"
                else row_model(Product, (*row[:_SHARED + 1], *row[_SHARED + 2:]), 1))
        first = 0 if kind == "service" else 2
        for key, order in ((item.code, first), (item.barcode, first + 1)):
            if key is not None and (key not in found or order < found[key][0]):
                found[key] = (order, kind, item)
    return {key: (kind, item) for key, (_order, kind, item) in found.items() if key in wanted}


def find_item(code: str) -> tuple[str, Product | ServiceItem]:
    """A product or service by code or barcode."""
    key = normalise_card_no(code)
    hit = _find_items([key]).get(key)
    if hit is None:
        raise UnknownItem(_("No product or service with code {code}.").format(code=code))
    return hit


def cart_lines(lines: Iterable[LineRequest | tuple | str]) -> list[CartLine]:
    """The cart as the rules see it: each line's item from the catalogue at its list price.

    One read for the whole cart; a line that is wrong is refused as if the lines were looked up one by one (the
    first wrong line, in order, says why)."""
    checked: list[tuple[LineRequest, str]] = []
    refusal: Exception | None = None
    for raw in lines:
        try:
            line = as_line(raw)
            if not isinstance(line.qty, int) or isinstance(line.qty, bool) or line.qty <= 0 or line.qty > 9999:
                raise InvalidInput(_("Quantity must be a whole number from 1 to 9999."))
            checked.append((line, normalise_card_no(line.code)))
        except Exception as exc:  # raised below, after the lines before it were looked up
            refusal = exc
            break
    items = _find_items([key for _line, key in checked])
    cart: list[CartLine] = []
    for line, key in checked:
        hit = items.get(key)
        if hit is None:
            raise UnknownItem(_("No product or service with code {code}.").format(code=line.code))
        kind, item = hit
        cart.append(CartLine(kind, item.code, item.name, item.category, item.price_fen, line.qty, item.id))
    if refusal is not None:
        raise refusal
    return cart


def at_store_prices(cart: list[CartLine], retail: Mapping[tuple[str, str], tuple[int, str]]) -> list[CartLine]:
    """The cart at the store's own retail prices where it has them, each line naming that list."""
    out = []
    for line in cart:
        price = retail.get((line.kind, line.code))
        out.append(line if price is None else replace(line, list_price_fen=price[0], list_source=price[1]))
    return out


@dataclass(frozen=True)
class ItemHit:
    kind: str
    code: str
    name: str
    price_fen: int


def search_items(query: str, limit: int = 10) -> list[ItemHit]:
    """What the checkout code box finds: an exact code or barcode first, then names and codes containing it."""
    key = normalise_card_no(query)
    if not key:
        return []
    try:
        kind, item = find_item(key)
        return [ItemHit(kind, item.code, item.name, item.price_fen)]
    except UnknownItem:
        pass
    hits: list[ItemHit] = []
    for kind, model in (("service", ServiceItem), ("product", Product)):
        matches = model.select().where(
            (model.active == True) & (model.name.contains(key) | model.code.startswith(key.upper()))  # noqa: E712
        ).order_by(model.code).limit(limit)
        hits += [ItemHit(kind, m.code, m.name, m.price_fen) for m in matches]
    return hits[:limit]
