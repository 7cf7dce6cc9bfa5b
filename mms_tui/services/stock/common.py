"""What every stock operation checks first: the products a list of codes or barcodes names (every unknown one named
at once), whole positive quantities, and that the staff member looks after the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Product, Staff, StockLevel, Store
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.base.resolve import resolve_store
from mms_tui.services.base.text import normalise_card_no
from mms_tui.services.staff.permissions import in_store_scope, require

#: the most of one product one line may move
MAX_QTY = 1_000_000_000
#: the most one unit may cost (¥1,000,000)
MAX_UNIT_COST_FEN = 100_000_000


@dataclass(frozen=True)
class StockLine:
    """One line of a receipt, a return, a transfer or an adjustment as typed, scanned or read from a file: a
    product code or barcode, a quantity in its base unit, and (a receipt) its unit cost."""

    key: str
    qty: int
    unit_cost_fen: int = 0


def whole_qty(qty: object, what: str, *, allow_zero: bool = False, signed: bool = False) -> int:
    """A quantity in a product's base unit: a whole number (never a fraction), above zero."""
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise InvalidInput(_("{what}: the quantity must be a whole number of the product's unit, not {value!r}.")
                           .format(what=what, value=qty))
    if signed:
        if qty == 0 or abs(qty) > MAX_QTY:
            raise InvalidInput(_("{what}: the quantity must be a whole number other than 0, up to {most}.").format(
                what=what, most=MAX_QTY))
        return qty
    if qty < 0 or (qty == 0 and not allow_zero) or qty > MAX_QTY:
        raise InvalidInput(_("{what}: the quantity must be a whole number from {least} to {most}, not {value}.")
                           .format(what=what, least=0 if allow_zero else 1, most=MAX_QTY, value=qty))
    return qty


def check_cost(cost_fen: object, what: str) -> int:
    if isinstance(cost_fen, bool) or not isinstance(cost_fen, int) or not 0 <= cost_fen <= MAX_UNIT_COST_FEN:
        raise InvalidInput(_("{what}: the unit cost must be from ¥0 to ¥1,000,000.").format(what=what))
    return cost_fen


def products_by_key(keys: Iterable[str]) -> dict[str, Product]:
    """Key (code or barcode, as typed or scanned) → product; every key that names no product is listed in one
    message and nothing else happens."""
    wanted = {normalise_card_no(str(k or "")): str(k) for k in keys}
    wanted.pop("", None)
    found: dict[str, Product] = {}
    if wanted:
        keys_ = list(wanted)
        for chunk in (keys_[i:i + 400] for i in range(0, len(keys_), 400)):
            for p in Product.select().where(Product.code.in_(chunk) | Product.barcode.in_(chunk)):
                for key in (p.code, p.barcode):
                    if key in wanted and key not in found:
                        found[key] = p
    unknown = [wanted[k] for k in wanted if k not in found]
    if unknown:
        raise NotFound(_("No product has the code or barcode {keys}; nothing was written.").format(
            keys=", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")))
    return found


def product_of(key: str) -> Product:
    if not normalise_card_no(str(key or "")):
        raise InvalidInput(_("A product code or barcode is needed."))
    return next(iter(products_by_key([key]).values()))


def key_of(key: str) -> str:
    return normalise_card_no(str(key or ""))


def store_for(staff: Staff, store: Store | int | str | None, permission: str, *, writing: bool = True) -> Store:
    """The store an operation works on, refused unless ``staff`` has ``permission`` and looks after it."""
    require(staff, permission)
    store_obj = resolve_store(store, staff, writing=writing)
    if store_obj.kind != "store":
        raise InvalidInput(_("{code} is a {kind}, not a store: stock is kept at stores.").format(
            code=store_obj.code, kind=store_obj.kind))
    if not in_store_scope(staff, store_obj.id) and staff.store_id is not None:
        raise PermissionDenied(_("{name} does not look after store {code}.").format(name=staff.name,
                                                                                  code=store_obj.code))
    return store_obj


def stocked(store_id: int, product_ids: Sequence[int]) -> set[int]:
    return {p for (p,) in StockLevel.select(StockLevel.product).where(
        (StockLevel.store == store_id) & StockLevel.product.in_(list(product_ids))).tuples()}


def require_stocked(store: Store, products: Sequence[Product]) -> None:
    """Refuse, naming them, products never stocked at the store (a return, a transfer out, a count)."""
    have = stocked(store.id, [p.id for p in products])
    missing = [p.code for p in products if p.id not in have]
    if missing:
        raise InvalidInput(_("Not stocked at {store}: {codes}; nothing was written.").format(
            store=store.code, codes=", ".join(missing[:20])))


def merge_lines(lines: Iterable[StockLine], found: dict[str, Product], what: str) -> list[tuple[Product, int, int]]:
    """(product, qty, unit cost) per product, the same product's lines added together (a scanned receipt scans a
    product once per unit); one product at two costs is refused."""
    merged: dict[int, list] = {}
    for line in lines:
        product = found[key_of(line.key)]
        qty = whole_qty(line.qty, f"{what} {product.code}")
        cost = check_cost(line.unit_cost_fen, f"{what} {product.code}")
        if product.id in merged:
            if merged[product.id][2] != cost:
                raise InvalidInput(_("{code} is on the {what} twice at different costs.").format(
                    code=product.code, what=what))
            merged[product.id][1] += qty
            whole_qty(merged[product.id][1], f"{what} {product.code}")
        else:
            merged[product.id] = [product, qty, cost]
    return [tuple(x) for x in merged.values()]  # type: ignore[misc]
