"""A company's batch top-up (企业批量充值) read from a spreadsheet (CSV/TSV in UTF-8 or GB18030, or XLSX): one line
per card with the card number or the member's phone, the amount in yuan and, optionally, a bonus in yuan (empty:
the loyalty rules' bonus). Every bad row is named before anything is posted; posting is
:mod:`mms_tui.services.money.topup_batch`."""

from __future__ import annotations

from pathlib import Path

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput, LinesRejected
from mms_tui.services.base.text import parse_yuan
from mms_tui.services.exchange.sheets import cell_text, open_sheet
from mms_tui.services.money.topup_batch import MAX_LINES, BatchLine

#: a column's accepted headers (lower case)
HEADERS = {
    "key": ("card", "card_no", "phone", "member", "卡号", "会员卡号", "手机", "手机号", "会员"),
    "amount": ("amount", "topup", "金额", "充值金额", "充值"),
    "bonus": ("bonus", "赠送", "赠送金额"),
}


def read_batch_lines(path: str | Path, encoding: str = "auto") -> list[BatchLine]:
    """The file's lines, each with its row number; every unreadable row named at once (InvalidInput)."""
    name = Path(path).name
    sheet = open_sheet(path, encoding)
    try:
        names = [h.strip().lower() for h in sheet.headers]
        columns = {field: found for field, accepted in HEADERS.items()
                   if (found := next((i for i, h in enumerate(names) if h in accepted), None)) is not None}
        if "key" not in columns or "amount" not in columns:
            raise InvalidInput(_("{path}: needs a card (or phone) column and an amount column (headers: card or 卡号, "
                                 "phone or 手机号, amount or 金额; bonus or 赠送 if the file gives the bonus).").format(
                path=name))
        lines: list[BatchLine] = []
        problems: list[str] = []
        for number, cells in sheet.rows:
            values = [cell_text(c) for c in cells]
            if not any(v.strip() for v in values):
                continue
            if len(lines) + len(problems) >= MAX_LINES:
                raise InvalidInput(_("{path}: more than {n} rows.").format(path=name, n=MAX_LINES))
            cell = {f: values[i].strip() if i < len(values) else "" for f, i in columns.items()}
            where = (_("row {n}") if sheet.line_word == "row" else _("line {n}")).format(n=number)
            try:
                if not cell["key"]:
                    raise InvalidInput(_("no card number or phone"))
                amount = parse_yuan(cell["amount"])
                bonus = parse_yuan(cell["bonus"]) if cell.get("bonus") else None
            except InvalidInput as exc:
                problems.append(f"{where}: {str(exc).rstrip('.。')}")
                continue
            lines.append(BatchLine(number, cell["key"], amount, bonus))
    finally:
        sheet.close()
    if problems:
        raise LinesRejected(problems, _("Nothing was posted."))
    if not lines:
        raise InvalidInput(_("{path} has no lines.").format(path=name))
    return lines
