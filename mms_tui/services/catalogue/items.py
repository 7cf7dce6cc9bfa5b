"""What the desk sells, kept by a manager: products and services added, edited, disabled and enabled again.

A code is unique across products and services together (the desk finds an item by its code alone), and so is a
barcode; a barcode of 8, 12 or 13 digits must carry its right check digit (EAN-8, UPC-A, EAN-13), anything else
(a shop's own Code 128 labels) is kept as typed. An item once sold stays: it is disabled, not deleted, so its
history still names it. Every change is one audited event (before → after) and the item's state goes on the
tamper-evident chain (``ledger.chain.record_states``), as the catalogue import does.

The cleaning rules here are the import's too (``exchange.import_products``), so a file and a form accept the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Product, ServiceItem, Staff
from mms_tui.services.base.config import require_within_limit
from mms_tui.services.base.ean import validate_ean
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import normalise_card_no, normalise_query
from mms_tui.services.catalogue.categories import check_category
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import require

KINDS = ("product", "service")
#: the most a service may last, in minutes
MAX_DURATION = 24 * 60


@dataclass(frozen=True)
class Item:
    """One product or service as the back office lists it (price in fen)."""

    kind: str
    code: str
    name: str
    category: str
    price_fen: int
    barcode: str | None
    duration_minutes: int | None
    active: bool


def _model(kind: str) -> type[Product] | type[ServiceItem]:
    if kind not in KINDS:
        raise InvalidInput(_("Kind must be product or service, not {value!r}.").format(value=kind))
    return ServiceItem if kind == "service" else Product


def _item(kind: str, row: Product | ServiceItem) -> Item:
    return Item(kind, row.code, row.name, row.category, int(row.price_fen), row.barcode,
                getattr(row, "duration_minutes", None), bool(row.active))


# --- cleaning: what a form and a file both accept ----------------------------------------------------------------


def clean_code(text: str) -> str:
    code = normalise_card_no(text or "").upper()
    if not code:
        raise InvalidInput(_("Code: required."))
    if len(code) > 32:
        raise InvalidInput(_("Code: longer than 32 characters."))
    return code


def clean_name(text: str) -> str:
    name = normalise_query(text or "")
    if not name:
        raise InvalidInput(_("Name: required."))
    if len(name) > 100:
        raise InvalidInput(_("Name: longer than 100 characters."))
    return name


def clean_category(text: str) -> str:
    category = normalise_query(text or "")
    if len(category) > 50:
        raise InvalidInput(_("Category: longer than 50 characters."))
    return category


def clean_barcode(text: str) -> str:
    """A barcode as scanners read it; 8, 12 or 13 digits must carry the right check digit."""
    code = normalise_card_no(text or "")
    if not code:
        raise InvalidInput(_("Barcode: empty."))
    if len(code) > 64:
        raise InvalidInput(_("Barcode: longer than 64 characters."))
    if code.isascii() and code.isdigit() and len(code) in (8, 12, 13):
        try:
            validate_ean("0" + code if len(code) == 12 else code)  # a UPC-A is an EAN-13 with a leading 0
        except InvalidInput as exc:
            raise InvalidInput(_("Barcode: {reason}").format(reason=exc)) from None
    return code


def check_price(price_fen: int) -> int:
    if not isinstance(price_fen, int) or isinstance(price_fen, bool) or price_fen < 0:
        raise InvalidInput(_("Price: cannot be below zero."))
    return require_within_limit(price_fen, _("Price"))


def check_duration(minutes: int | None) -> int | None:
    if minutes is None:
        return None
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 < minutes <= MAX_DURATION:
        raise InvalidInput(_("Duration: a number of minutes from 1 to {most}.").format(most=MAX_DURATION))
    return minutes


# --- reading ---------------------------------------------------------------------------------------------------


def find(code: str) -> tuple[str, Product | ServiceItem]:
    """The item with this code, of either kind; one clear message when there is none."""
    key = clean_code(code)
    for kind in KINDS:
        model = _model(kind)
        row = model.get_or_none(model.code == key)
        if row is not None:
            return kind, row
    raise InvalidInput(_("No product or service has the code {code}.").format(code=key))


def list_items(kind: str | None = None, *, search: str = "", inactive: bool = False) -> list[Item]:
    """Products then services, by code; ``search`` matches the code, name, category or barcode (any case);
    disabled items only with ``inactive``."""
    found: list[Item] = []
    needle = normalise_query(search).lower()
    for each in ([kind] if kind else KINDS):
        model = _model(each)
        query = model.select().order_by(model.code)
        if not inactive:
            query = query.where(model.active == True)  # noqa: E712 - peewee builds SQL from ==
        if needle:  # (contains is a case-blind LIKE on both databases)
            query = query.where(model.code.contains(needle) | model.name.contains(needle)
                                | model.category.contains(needle) | model.barcode.contains(needle))
        found += [_item(each, row) for row in query]
    return found


# --- changing ----------------------------------------------------------------------------------------------------


def _taken(code: str | None = None, barcode: str | None = None, *, but: Product | ServiceItem | None = None) -> None:
    for model in (Product, ServiceItem):
        for field, value, what in ((model.code, code, _("Code")), (model.barcode, barcode, _("Barcode"))):
            if value is None:
                continue
            holder = model.get_or_none(field == value)
            if holder is not None and not (type(holder) is type(but) and holder.id == but.id):
                raise InvalidInput(_("{what}: {value} is already {code} {name}.").format(
                    what=what, value=value, code=holder.code, name=holder.name))


def _record(kind: str, row: Product | ServiceItem, action: str, staff: Staff, before: Item | None) -> Item:
    after = _item(kind, row)
    audit(action, f"{row._meta.table_name}:{row.id}", staff=staff, store=None,
          payload={"before": asdict(before) if before else None, "after": asdict(after)})
    record_states(row._meta.table_name, [row.id], staff=staff)  # the price and barcode on the chain
    return after


def add_item(staff: Staff, kind: str, code: str, name: str, price_fen: int, *, category: str = "",
             barcode: str | None = None, duration_minutes: int | None = None) -> Item:
    """A new product or service. Needs a manager."""
    require(staff, "catalogue.edit")
    model = _model(kind)
    values: dict[str, Any] = {"code": clean_code(code), "name": clean_name(name), "price_fen": check_price(price_fen),
                              "category": check_category(category),
                              "barcode": clean_barcode(barcode) if barcode else None}
    if kind == "service":
        values["duration_minutes"] = check_duration(duration_minutes)
    elif duration_minutes is not None:
        raise InvalidInput(_("Duration: only a service has one."))
    with write_transaction():
        _taken(values["code"], values["barcode"])
        row = model.create(**values)
        return _record(kind, row, "catalogue.add", staff, None)


#: what :func:`edit_item` may change
EDITABLE = ("name", "price_fen", "category", "barcode", "duration_minutes")


def edit_item(staff: Staff, code: str, **changes: Any) -> Item:
    """Change some of :data:`EDITABLE` of the item with ``code`` (``barcode=""`` takes the barcode off). Needs a
    manager; nothing is written unless every change is good."""
    require(staff, "catalogue.edit")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(_("Cannot change {fields}.").format(fields=", ".join(unknown)))
    with write_transaction():
        kind, row = find(code)
        before = _item(kind, row)
        values: dict[str, Any] = {}
        if "name" in changes:
            values["name"] = clean_name(changes["name"])
        if "price_fen" in changes:
            values["price_fen"] = check_price(changes["price_fen"])
        if "category" in changes:
            values["category"] = check_category(changes["category"])
        if "barcode" in changes:
            values["barcode"] = clean_barcode(changes["barcode"]) if changes["barcode"] else None
        if "duration_minutes" in changes:
            if kind != "service":
                raise InvalidInput(_("Duration: only a service has one."))
            values["duration_minutes"] = check_duration(changes["duration_minutes"])
        _taken(barcode=values.get("barcode"), but=row)
        if not values or all(getattr(row, k) == v for k, v in values.items()):
            return before
        type(row).update(**values).where(type(row).id == row.id).execute()
        return _record(kind, type(row).get_by_id(row.id), "catalogue.edit", staff, before)


def set_active(staff: Staff, code: str, active: bool) -> Item:
    """Disable an item (the desk no longer sells it; its history keeps its name) or enable it again. Needs a
    manager."""
    require(staff, "catalogue.edit")
    with write_transaction():
        kind, row = find(code)
        before = _item(kind, row)
        if row.active == active:
            return before
        type(row).update(active=active).where(type(row).id == row.id).execute()
        return _record(kind, type(row).get_by_id(row.id), "catalogue.enable" if active else "catalogue.disable",
                       staff, before)
