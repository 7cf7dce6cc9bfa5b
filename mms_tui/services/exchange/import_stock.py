"""A goods receipt (入库单), a return or a transfer read from a spreadsheet (CSV/TSV in UTF-8 or GB18030, or XLSX):
one line per product with its code or barcode, quantity and (a receipt) unit cost in yuan. Every bad row is named
before anything is written; the stock service then names every unknown code at once."""

from __future__ import annotations

from pathlib import Path

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput, LinesRejected
from mms_tui.services.base.text import parse_count, parse_yuan
from mms_tui.services.exchange.sheets import cell_text, open_sheet
from mms_tui.services.stock.common import StockLine

#: a column's accepted headers (lower case)
HEADERS = {
    "key": ("code", "barcode", "product", "商品编码", "编码", "条码", "商品条码"),
    "qty": ("qty", "quantity", "数量"),
    "cost": ("cost", "unit_cost", "unit cost", "进价", "单价", "成本"),
}
#: the most rows one file may hold
MAX_ROWS = 20_000


def read_stock_lines(path: str | Path, encoding: str = "auto", *, with_cost: bool = True) -> list[StockLine]:
    sheet = open_sheet(path, encoding)
    try:
        names = [h.strip().lower() for h in sheet.headers]
        columns: dict[str, int] = {}
        for field, accepted in HEADERS.items():
            found = next((i for i, h in enumerate(names) if h in accepted), None)
            if found is not None:
                columns[field] = found
        needed = ["key", "qty", *(["cost"] if with_cost else [])]
        missing = [HEADERS[f][0] for f in needed if f not in columns]
        if missing:
            raise InvalidInput(_("{path}: no column {columns} (headers: code or 条码, qty or 数量{cost}).").format(
                path=Path(path).name, columns=", ".join(missing), cost=_(", cost or 进价") if with_cost else ""))
        lines: list[StockLine] = []
        problems: list[str] = []
        for number, cells in sheet.rows:
            values = [cell_text(c) for c in cells]
            if not any(values):
                continue
            if len(lines) + len(problems) >= MAX_ROWS:
                raise InvalidInput(_("{path}: more than {n} rows.").format(path=Path(path).name, n=MAX_ROWS))
            cell = dict.fromkeys(columns, "") | {f: values[i] for f, i in columns.items() if i < len(values)}
            try:
                key = cell["key"]
                if not key:
                    raise InvalidInput(_("no code or barcode"))
                qty = parse_count(cell["qty"])
                if qty <= 0:
                    raise InvalidInput(_("the quantity must be more than 0"))
                cost = parse_yuan(cell["cost"]) if with_cost else 0
                if cost < 0:
                    raise InvalidInput(_("the cost cannot be negative"))
            except InvalidInput as exc:
                where = (_("row {n}") if sheet.line_word == "row" else _("line {n}")).format(n=number)
                problems.append(f"{where}: {str(exc).rstrip('.。')}")
                continue
            lines.append(StockLine(key, qty, cost))
    finally:
        sheet.close()
    if problems:
        raise LinesRejected(problems, _("Nothing was written."))
    if not lines:
        raise InvalidInput(_("{path} has no lines.").format(path=Path(path).name))
    return lines
