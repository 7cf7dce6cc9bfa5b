"""The receipt of a sale as plain text lines: the desk's preview, and what a printer prints (see devices)."""

from __future__ import annotations

from wcwidth import wcswidth

from mms_tui.i18n import _
from mms_tui.services.checkout import CheckoutResult
from mms_tui.services.text import format_money

TENDER_LABELS = {
    "stored_value": "储值 Stored value",
    "points": "积分 Points",
    "cash": "现金 Cash",
    "bank_card": "银行卡 Bank card",
    "wechat": "微信 WeChat",
    "alipay": "支付宝 Alipay",
}


def receipt_lines(result: CheckoutResult, *, store_name: str = "", staff_name: str = "",
                  member_name: str = "", width: int = 32) -> list[str]:
    def row(left: str, right: str) -> str:
        gap = max(1, width - max(wcswidth(left), 0) - len(right))
        return left + " " * gap + right

    lines = [store_name.center(width).rstrip()] if store_name else []
    lines.append("-" * width)
    for line in result.lines:
        lines.append(row(f"{line['name']} ×{line['qty']}", format_money(line["line_total_fen"])))
        if line["discount_reason"]:
            lines.append(f"  {line['discount_reason']}")
    lines.append("-" * width)
    if result.discount_fen:
        lines.append(row(_("Subtotal"), format_money(result.subtotal_fen)))
        lines.append(row(_("Discount"), "-" + format_money(result.discount_fen)))
    lines.append(row(_("Total"), format_money(result.total_fen)))
    for payment in result.payments:
        lines.append(row(TENDER_LABELS.get(payment["tender"], payment["tender"]), format_money(payment["amount_fen"])))
    if result.change_fen:
        lines.append(row(_("Change"), format_money(result.change_fen)))
    if result.points_earned:
        lines.append(row(_("Points earned"), str(result.points_earned)))
    if member_name:
        lines.append(_("Member: {name}").format(name=member_name))
    if staff_name:
        lines.append(_("Staff: {name}").format(name=staff_name))
    lines.append(f"txid {result.txid[:16]}")
    return lines
