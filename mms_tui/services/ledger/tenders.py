"""Tenders: the ways a bill, a top-up or a card is paid, named once (:class:`Tender`), with their labels.

Money tenders (:data:`MONEY_TENDERS`) bring money in at the till and are what a shift counts; stored value and
points pay from a member's card. Stored rows, ledger accounts (``tender.cash``) and files use the values.
"""

from __future__ import annotations

from enum import StrEnum

from mms_tui.i18n import N_, _


class Tender(StrEnum):
    """A way to pay. The order is the order tenders are shown in: reports' columns, the shift's count."""

    CASH = "cash"
    BANK_CARD = "bank_card"
    WECHAT = "wechat"
    ALIPAY = "alipay"
    STORED_VALUE = "stored_value"
    POINTS = "points"

    @property
    def is_money(self) -> bool:
        """Money at the till (cash, bank card, WeChat, Alipay), not value held on a member's card."""
        return self not in (Tender.STORED_VALUE, Tender.POINTS)

    @property
    def label(self) -> str:
        """The tender's name in the desk's language."""
        return _(TENDER_LABELS[self])


#: the money tenders, in order
MONEY_TENDERS: tuple[Tender, ...] = tuple(t for t in Tender if t.is_money)

#: how the desk, receipts and reports name each tender (marked for translation; shown through :func:`tender_label`)
TENDER_LABELS = {Tender.CASH: N_("Cash"), Tender.BANK_CARD: N_("Bank card"), Tender.WECHAT: N_("WeChat"),
                 Tender.ALIPAY: N_("Alipay"), Tender.STORED_VALUE: N_("Stored value"), Tender.POINTS: N_("Points")}


def is_tender(value: object) -> bool:
    """Whether ``value`` names a tender (as requests and files name them: ``"cash"``)."""
    return isinstance(value, str) and value in _VALUES


_VALUES = frozenset(t.value for t in Tender)


def tender_label(tender: str) -> str:
    """The label of a tender named as stored (a value that is no tender is shown as it is)."""
    try:
        return Tender(tender).label
    except ValueError:
        return tender


def money_tender_choices() -> list[tuple[str, str]]:
    """(label, tender) of every money tender, for a choice on screen."""
    return [(t.label, t.value) for t in MONEY_TENDERS]


def money_paid_for_sale(sale_id: int) -> int:
    """What of a sale counts as money spend: money tenders plus stored-value principal (not bonus, not points)."""
    from mms_tui.models import Payment

    total = 0
    for payment in Payment.select().where(Payment.sale == sale_id):
        if payment.tender in MONEY_TENDERS:
            total += payment.amount_fen
        elif payment.tender == "stored_value":
            total += payment.principal_fen
    return total


def share_of_part(original: int, before: int, now: int, of: int) -> int:
    """What a refund of ``now`` (of ``of``, the line's whole money; ``before`` already refunded) takes back of a row
    that earned ``original``: floor(original × (before+now) / of) − floor(original × before / of). The refunds of
    a line never add up to more than ``original``, and reach it exactly when the whole line is refunded."""
    if of <= 0:
        return original if before == 0 else 0
    upto = min(before + now, of)
    return original * upto // of - original * min(before, of) // of
