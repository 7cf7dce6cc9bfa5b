"""Paying a bill: the tenders a checkout is given, and :func:`allocate_tenders`, which decides — without reading
or writing anything — what each tender pays, the change, and what paid the goods once the fees were paid.

The checkout (:mod:`mms_tui.services.money.checkout`) finds the cards the tenders take from, inside its
transaction, and records the :class:`Payment` this returns: its postings, its ``Payment`` rows, its points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.services.base.errors import InsufficientBalance, InvalidInput
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger.operations import Posting, card_posting
from mms_tui.services.ledger.tenders import MONEY_TENDERS, Tender
from mms_tui.services.loyalty import spending
from mms_tui.services.loyalty.rules import Rules


@dataclass(frozen=True)
class TenderRequest:
    tender: str
    amount_fen: int
    card: str | int | None = None  # stored value / points: which card (default: the member's)


def as_tender(tender: TenderRequest | tuple) -> TenderRequest:
    return tender if isinstance(tender, TenderRequest) else TenderRequest(*tender)


@dataclass(frozen=True)
class TenderCard:
    """The card a stored-value or points tender takes from, with the balances read inside the checkout."""

    id: int
    card_no: str
    principal_fen: int = 0
    bonus_fen: int = 0


@dataclass(frozen=True)
class PaymentLine:
    """One tender's part of a bill, as the sale records it (a ``Payment`` row, and a line of the sale's result)."""

    tender: str
    amount_fen: int
    card: int | None = None
    principal_fen: int = 0  # stored value: of the principal
    bonus_fen: int = 0  # stored value: of the bonus value
    points: int = 0  # points: how many

    def as_dict(self) -> dict:
        """The line as the sale's result keeps it (refunds and receipts read it back)."""
        line: dict = {"tender": str(self.tender), "amount_fen": self.amount_fen, "card": self.card}
        if self.tender == Tender.STORED_VALUE:
            line |= {"principal_fen": self.principal_fen, "bonus_fen": self.bonus_fen}
        elif self.tender == Tender.POINTS:
            line["points"] = self.points
        return line

    def postings(self) -> list[Posting]:
        if self.tender == Tender.STORED_VALUE:
            return [card_posting(self.card, "card.principal", -self.principal_fen),
                    card_posting(self.card, "card.bonus", -self.bonus_fen)]
        if self.tender == Tender.POINTS:
            return [card_posting(self.card, "card.points", -self.points), Posting("points.redeemed", "pt", self.points),
                    Posting("expense.points", "fen", -self.amount_fen)]
        return [Posting(f"tender.{self.tender}", "fen", -self.amount_fen)]


@dataclass(frozen=True)
class Payment:
    """How a bill is paid: each tender's part, the change, and what paid the goods once the fees were paid."""

    lines: tuple[PaymentLine, ...]
    change_fen: int
    points_fen: int  # the part paid with points
    points_redeemed: int
    stored_value_card: int | None  # the last stored-value card paid from (earned points go there, lacking a points card)
    #: what paid the goods: money tenders net of change, stored-value principal and bonus, after the fees took theirs
    goods_money_fen: dict[str, int]
    goods_principal_fen: int
    goods_bonus_fen: int

    @property
    def spend_fen(self) -> int:
        """What the member spent on goods, as tiers count it: money and stored-value principal."""
        return sum(self.goods_money_fen.values()) + self.goods_principal_fen

    def earning(self) -> list[tuple[str, int]]:
        """(tender, amount) of what paid the goods, as
        :func:`~mms_tui.services.loyalty.earning.points_earned` weighs it."""
        earning = [(tender, amount) for tender, amount in self.goods_money_fen.items() if amount > 0]
        earning += [(name, amount) for name, amount in (("stored_value_principal", self.goods_principal_fen),
                                                        ("stored_value_bonus", self.goods_bonus_fen),
                                                        ("points", self.points_fen)) if amount > 0]
        return earning

    def postings(self) -> list[Posting]:
        return [posting for line in self.lines for posting in line.postings()]


def allocate_tenders(tenders: Sequence[TenderRequest], card_for: Callable[[TenderRequest], TenderCard], *,
                     goods_fen: int, fees_fen: int, rules: Rules) -> Payment:
    """Pay a bill of ``goods_fen`` goods and ``fees_fen`` fees with ``tenders``, or refuse with one message.

    ``card_for`` gives the card a stored-value or points tender takes from (or refuses it); it is asked in the
    tenders' order, once each tender's amount has passed, so the first thing wrong is what is said. Apart from it,
    nothing is read or written.

    * The tenders must cover the bill; only cash may exceed it (the difference is change, given from the cash
      tenders in order).
    * Stored value pays principal and bonus in the rules' spending order (``topup.spend_order``), never more than a
      card holds (several tenders from one card share what it holds).
    * Points pay at ``points.redeem_per_yuan``, in whole points, within ``redeem_min_points`` and
      ``redeem_max_share`` of the goods; they never pay fees.
    * The fees are paid first by money (cash, bank card, WeChat, Alipay), then stored-value principal, then bonus
      value; the rest paid the goods (what earns points and counts as tier spend).
    """
    total = goods_fen + fees_fen
    paid = sum(t.amount_fen for t in tenders)
    cash = sum(t.amount_fen for t in tenders if t.tender == Tender.CASH)
    if paid < total:
        raise InsufficientBalance(
            _("Payments cover {paid} of {total}.").format(paid=format_money(paid), total=format_money(total)))
    change = paid - total
    if change > cash:
        raise InvalidInput(_("Only cash can be more than the bill (change is given in cash)."))
    points_fen = sum(t.amount_fen for t in tenders if t.tender == Tender.POINTS)
    if points_fen:
        _check_points_share(points_fen, goods_fen, fees_fen, rules)

    lines: list[PaymentLine] = []
    money: dict[str, int] = {}
    principal_paid = bonus_paid = points_redeemed = 0
    change_left = change
    stored_value_card: int | None = None
    left_on: dict[int, list[int]] = {}  # card id -> [principal, bonus] not yet spent by these tenders
    for t in tenders:
        if t.tender in MONEY_TENDERS:
            amount = t.amount_fen
            if t.tender == Tender.CASH and change_left:
                given = min(change_left, amount)
                amount -= given
                change_left -= given
            if amount == 0:
                continue
            money[t.tender] = money.get(t.tender, 0) + amount
            lines.append(PaymentLine(t.tender, amount))
        elif t.tender == Tender.STORED_VALUE:
            card = card_for(t)
            left = left_on.setdefault(card.id, [card.principal_fen, card.bonus_fen])
            if t.amount_fen > left[0] + left[1]:
                raise InsufficientBalance(
                    _("Not enough stored value on card {card}: has {have}, needs {need}.").format(
                        card=card.card_no, have=format_money(left[0] + left[1]), need=format_money(t.amount_fen)))
            principal, bonus = spending.split_stored_value(t.amount_fen, left[0], left[1], rules)
            left[0] -= principal
            left[1] -= bonus
            principal_paid += principal
            bonus_paid += bonus
            stored_value_card = card.id
            lines.append(PaymentLine(t.tender, t.amount_fen, card.id, principal_fen=principal, bonus_fen=bonus))
        else:  # points
            n = spending.points_for_payment(t.amount_fen, goods_fen, rules)
            card = card_for(t)
            points_redeemed += n
            lines.append(PaymentLine(t.tender, t.amount_fen, card.id, points=n))

    goods_money, goods_principal, goods_bonus = _take_fees(fees_fen, money, principal_paid, bonus_paid)
    return Payment(tuple(lines), change, points_fen, points_redeemed, stored_value_card, goods_money,
                   goods_principal, goods_bonus)


def _take_fees(fees_fen: int, money: dict[str, int], principal: int, bonus: int) -> tuple[dict[str, int], int, int]:
    """The tenders that paid the goods, once the fees were paid: money first, then principal, then bonus."""
    left = fees_fen
    goods_money = {}
    for tender in MONEY_TENDERS:
        take = min(left, money.get(tender, 0))
        goods_money[tender] = money.get(tender, 0) - take
        left -= take
    take = min(left, principal)
    principal, left = principal - take, left - take
    take = min(left, bonus)
    return goods_money, principal, bonus - take


def _check_points_share(points_fen: int, goods_fen: int, fees_fen: int, rules: Rules) -> None:
    if goods_fen == 0 and fees_fen:
        raise InvalidInput(_("Points cannot pay fees."))
    if fees_fen and points_fen > goods_fen:
        raise InvalidInput(_("Points pay for goods and services, not fees: at most {amount} of this bill.").format(
            amount=format_money(goods_fen)))
    spending.points_for_payment(points_fen, goods_fen, rules)  # the share of the bill, for all points tenders
