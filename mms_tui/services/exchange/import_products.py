"""The products of ``mms import``: each row a product or a service of the catalogue, created or updated by its
code.
"""

from __future__ import annotations

from collections.abc import Callable

from mms_tui.i18n import _
from mms_tui.models import Product, ServiceItem
from mms_tui.services.base.text import normalise_query
from mms_tui.services.catalogue.categories import ensure_categories
from mms_tui.services.catalogue.items import check_duration, clean_barcode, clean_code, clean_name
from mms_tui.services.exchange.fields import PRODUCT_REQUIRED, header_key
from mms_tui.services.exchange.import_cells import (
    MAX_CELL,
    CellError,
    clean_count_cell,
    clean_money_cell,
    domain_cell,
    too_long,
    unescape,
)
from mms_tui.services.exchange.import_report import ImportCounts, ImportRejected, RowError
from mms_tui.services.exchange.sheets import Sheet, cell_text
from mms_tui.services.ledger.chain import record_states

_KINDS = {"product": "product", "商品": "product", "产品": "product", "goods": "product", "retail": "product",
          "service": "service", "服务": "service", "项目": "service", "服务项目": "service"}
_YES_NO = {"1": True, "y": True, "yes": True, "true": True, "是": True, "启用": True, "在售": True, "有效": True,
           "0": False, "n": False, "no": False, "false": False, "否": False, "停用": False, "停售": False,
           "下架": False, "无效": False}


def _kind(text: str) -> str:
    kind = _KINDS.get(header_key(text))
    if kind is None:
        raise CellError(_("kind must be product (商品) or service (服务)"))
    return kind


def _yes_no(text: str) -> bool:
    value = _YES_NO.get(header_key(text))
    if value is None:
        raise CellError(_("write yes/no (是/否)"))
    return value


def _duration(text: str) -> int:
    return domain_cell(check_duration)(clean_count_cell(text))  # type: ignore[return-value]


PRODUCT_CLEANERS: dict[str, Callable[[str], object]] = {
    "code": domain_cell(clean_code), "name": domain_cell(clean_name), "kind": _kind,
    "category": lambda t: normalise_query(t)[:50], "price": clean_money_cell, "barcode": domain_cell(clean_barcode),
    "duration_minutes": _duration, "active": _yes_no,
}


def import_products(sheet: Sheet, columns: dict[str, int], policy: str, counts: ImportCounts,
                     errors: list[RowError], *, write: bool = True) -> None:
    """Check every row; ``write``: and create or update the catalogue items (else only count what would be)."""
    seen_codes: dict[str, int] = {}
    created_here: set[str] = set()
    seen_barcodes: dict[str, int] = {}

    def error(line: int, field: str, value: str, reason: str) -> None:
        errors.append(RowError(line, sheet.headers[columns[field]] if field in columns else field, value, reason))

    for line, cells in sheet.rows:
        counts.rows += 1
        values: dict[str, object] = {}
        given: set[str] = set()  # fields with a cell, good or bad: a bad one is not also "required"
        bad = False
        for field_name, i in columns.items():
            text = unescape(cell_text(cells[i])) if i < len(cells) else ""
            if not text:
                continue
            given.add(field_name)
            if len(text) > MAX_CELL:
                error(line, field_name, text, too_long(MAX_CELL))
                bad = True
                continue
            try:
                values[field_name] = PRODUCT_CLEANERS[field_name](text)
            except CellError as exc:
                error(line, field_name, text, str(exc))
                bad = True
        for required in PRODUCT_REQUIRED:
            if required not in given:  # was a search through every error so far: quadratic in bad rows
                error(line, required, "", _("required"))
                bad = True
        if bad:
            continue
        code = str(values["code"])
        kind = str(values.get("kind", "service" if "duration_minutes" in values else "product"))
        model = ServiceItem if kind == "service" else Product
        other = Product if kind == "service" else ServiceItem
        barcode = values.get("barcode")
        existing = model.get_or_none(model.code == code)
        duplicate_reason = None
        if code in seen_codes:
            duplicate_reason = ("code", code, _("also on line {line}").format(line=seen_codes[code]))
        elif existing is not None:
            duplicate_reason = ("code", code, _("already in the catalogue ({name})").format(name=existing.name))
        if other.get_or_none(other.code == code) is not None:
            error(line, "code", code, _("already used by a {kind} in the catalogue").format(
                kind=_("service") if other is ServiceItem else _("product")))
            continue
        if barcode is not None:
            holder = (Product.get_or_none(Product.barcode == barcode)
                      or ServiceItem.get_or_none(ServiceItem.barcode == barcode))
            if barcode in seen_barcodes and seen_barcodes[barcode] != line and seen_codes.get(code) is None:
                error(line, "barcode", str(barcode), _("also on line {line}").format(line=seen_barcodes[barcode]))
                continue
            if holder is not None and holder.code != code:
                error(line, "barcode", str(barcode), _("already on {code} {name}").format(code=holder.code,
                                                                                        name=holder.name))
                continue
        if duplicate_reason is not None:
            if policy == "error":
                error(line, *duplicate_reason)
                continue
            if policy == "skip":
                counts.skipped += 1
                continue
        seen_codes.setdefault(code, line)
        if barcode is not None:
            seen_barcodes.setdefault(str(barcode), line)
        if errors:
            continue
        if write and values.get("category"):
            ensure_categories([str(values["category"])])  # a bulk load adds the categories it names
        data = {"name": values.get("name"), "category": values.get("category"), "price_fen": values.get("price"),
                "barcode": barcode, "active": values.get("active")}
        if kind == "service":
            data["duration_minutes"] = values.get("duration_minutes")
        data = {k: v for k, v in data.items() if v is not None}
        current = model.get_or_none(model.code == code)
        if current is None and code not in created_here:
            if write:
                made = model.create(code=code, **data)
                record_states(model._meta.table_name, [made.id])  # the price it was made with, on the chain
            created_here.add(code)
            counts.created += 1
        else:
            if write and current is not None:
                model.update(**data).where(model.id == current.id).execute()
                record_states(model._meta.table_name, [current.id])
            counts.updated += 1
    if errors:
        raise ImportRejected(errors, sheet.line_word)

