"""The receipt of a sale as plain text lines: the desk's preview, and what a printer prints (see devices)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Card, Member, Sale, Store, Transaction
from mms_tui.services.base.errors import NotFound
from mms_tui.services.base.text import display_width, fit, format_money, wrap
from mms_tui.services.ledger.tenders import tender_label
from mms_tui.services.money.checkout import CheckoutResult


def receipt_lines(result: CheckoutResult, *, store_name: str = "", staff_name: str = "",
                  member_name: str = "", width: int = 32) -> list[str]:
    """The receipt in lines of at most ``width`` columns (a CJK character takes two): a name too long for its line
    is cut with an ellipsis, explanations wrap."""
    def row(left: str, right: str) -> str:
        return fit(left, width - len(right) - 1, pad=True) + " " + right

    lines = [store_name.center(width).rstrip()] if store_name else []
    lines.append("-" * width)
    for line in result.lines:  # each line after its own promotions; the cart discounts follow
        lines.append(row(f"{line['name']} ×{line['qty']}", format_money(line["line_total_fen"])))
        reasons = line.get("explanations", [line["discount_reason"]] if line["discount_reason"] else [])
        lines += [f"  {part}" for reason in reasons for part in wrap(reason, width - 2)]
    for discount in result.cart_discounts:  # 满300减50: what came off the bill as a whole
        lines.append(row(discount["explanation"], "-" + format_money(discount["amount_fen"])))
    lines.append("-" * width)
    if result.discount_fen:
        lines.append(row(_("Subtotal"), format_money(result.subtotal_fen)))
        lines.append(row(_("Discount"), "-" + format_money(result.discount_fen)))
    lines.append(row(_("Total"), format_money(result.total_fen)))
    change_left = result.change_fen
    for payment in result.payments:
        amount = payment["amount_fen"]
        if payment["tender"] == "cash" and change_left:  # show the cash handed over; the change follows
            amount, change_left = amount + change_left, 0
        label = tender_label(payment["tender"])
        if payment["tender"] == "points" and payment.get("points"):
            label = _("{label} ({points} pts)").format(label=label, points=payment["points"])
        lines.append(row(label, format_money(amount)))
    if result.change_fen:
        lines.append(row(_("Change"), format_money(result.change_fen)))
    if result.coupons:
        lines += wrap(_("Coupons used: {codes}").format(codes=", ".join(result.coupons)), width)
    if result.points_earned:
        lines.append(row(_("Points earned"), str(result.points_earned)))
        lines += [f"  {part}" for text in result.points_explanations for part in wrap(text, width - 2)]
    if member_name:
        lines.append(fit(_("Member: {name}").format(name=member_name), width))
    if staff_name:
        lines.append(fit(_("Staff: {name}").format(name=staff_name), width))
    lines.append(f"txid {result.txid[:16]}")
    return lines


def store_header_lines(store: Store, width: int = 32) -> list[str]:
    """What a store prints at the top of its receipts, under its name: its receipt header (a few lines the
    manager wrote), then its address and phone, each centred and wrapped to ``width`` columns."""
    texts = [*store.receipt_header.splitlines(), store.address,
             _("Tel {phone}").format(phone=store.phone) if store.phone else ""]
    return [part.center(width - display_width(part) + len(part)).rstrip()
            for text in texts if text.strip() for part in wrap(text.strip(), width)]


@dataclass(frozen=True)
class Receipt:
    title: str
    lines: list[str]
    cash: bool  # a cash tender was taken: open the drawer


def sale_receipt(txid: str, *, width: int = 32) -> Receipt:
    """The receipt of a past sale, by its txid: for the print after checkout and for any reprint.

    Balances are the member's as they stand when printed (right after checkout: the balances after the sale).
    """
    tx = Transaction.get_or_none((Transaction.txid == txid) & (Transaction.kind == "checkout"))
    if tx is None:
        raise NotFound(_("No sale {txid}.").format(txid=txid))
    result = CheckoutResult(**json.loads(tx.result_json))
    member = Member.get_or_none(Member.id == result.member_id) if result.member_id else None
    lines = [*store_header_lines(tx.store, width), str(tx.created_at)[:16]]
    lines += receipt_lines(result, staff_name=tx.staff.name, member_name=member.name if member else "", width=width)
    if member is not None:
        for card in Card.select().where((Card.member == member.id) & (Card.status == "active")).order_by(Card.id):
            if card.principal_fen or card.bonus_fen:
                lines.append(_("Balance {card}: {value}").format(
                    card=card.card_no[-4:], value=format_money(card.principal_fen + card.bonus_fen)))
            if card.points:
                lines.append(_("Points {card}: {points}").format(card=card.card_no[-4:], points=card.points))
    refunded = Sale.get(Sale.transaction == tx.id).status == "refunded"
    if refunded:
        lines.append(_("*** REFUNDED ***"))
    return Receipt(tx.store.name, lines, any(p["tender"] == "cash" for p in result.payments))
