"""结账: price a cart for a member, take split tenders, earn points, all in one transaction.

Rules (documented here because the desk explains them to members):

* **Price per line**: a fixed tier price for the item if one is set, otherwise the better of the member's tier
  discount and any active 折扣卡 they hold. Each unit price is rounded half up to the fen; the line reason says
  which rule applied ("金卡 9折").
* **Stored value** pays from principal first, then from bonus value.
* **Points** pay at ``point_value_fen`` fen per point (default 1 fen: 100 points = ¥1); the amount must be a whole
  number of points.
* **Points earned**: ``points_per_yuan`` per yuan paid with money — cash, bank card, WeChat, Alipay and stored-value
  principal; never on bonus value or points — times the tier's multiplier, rounded down.
* **Cash** may exceed what is left to pay; the difference is change. No other tender may overpay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from mms_tui.i18n import _
from mms_tui.models import (
    Card,
    CardType,
    Member,
    Payment,
    Product,
    Sale,
    SaleLine,
    ServiceItem,
    Staff,
    Store,
    Tier,
    TierPrice,
)
from mms_tui.services.common import ensure_usable, get_config, resolve_card, resolve_member, resolve_store
from mms_tui.services.errors import InsufficientBalance, InvalidInput, UnknownItem, WrongCardKind
from mms_tui.services.ledger import MONEY_TENDERS, Posting, audit, card_posting, post, run_operation
from mms_tui.services.text import discount_label, format_money, normalise_card_no
from mms_tui.services.tiers import apply_spend

TENDERS = ("stored_value", "points", *MONEY_TENDERS)


@dataclass(frozen=True)
class LineRequest:
    code: str  # item code or barcode
    qty: int = 1


@dataclass(frozen=True)
class TenderRequest:
    tender: str
    amount_fen: int
    card: str | int | None = None  # stored value / points: which card (default: the member's)


@dataclass(frozen=True)
class PricedLine:
    kind: str  # product | service
    item_id: int
    code: str
    name: str
    category: str
    qty: int
    list_price_fen: int
    unit_price_fen: int
    line_total_fen: int
    discount_reason: str


@dataclass(frozen=True)
class Quote:
    lines: list[PricedLine]
    subtotal_fen: int
    discount_fen: int
    total_fen: int


@dataclass(frozen=True)
class CheckoutResult:
    txid: str
    sale_id: int
    member_id: int | None
    subtotal_fen: int
    discount_fen: int
    total_fen: int
    change_fen: int
    points_earned: int
    points_redeemed: int
    tier_code: str | None
    lines: list[dict]
    payments: list[dict]


def _as_line(line: LineRequest | tuple | str) -> LineRequest:
    if isinstance(line, LineRequest):
        return line
    if isinstance(line, str):
        return LineRequest(line, 1)
    return LineRequest(*line)


def _as_tender(tender: TenderRequest | tuple) -> TenderRequest:
    return tender if isinstance(tender, TenderRequest) else TenderRequest(*tender)


def find_item(code: str) -> tuple[str, Product | ServiceItem]:
    """A product or service by code or barcode."""
    key = normalise_card_no(code)
    for kind, model in (("service", ServiceItem), ("product", Product)):
        item = model.get_or_none(((model.code == key) | (model.barcode == key)) & (model.active == True))  # noqa: E712
        if item is not None:
            return kind, item
    raise UnknownItem(_("No product or service with code {code}.").format(code=code))


def _discount_card_bp(member: Member | None) -> int:
    if member is None:
        return 10000
    best = (
        Card.select(Card, CardType)
        .join(CardType)
        .where((Card.member == member.id) & (Card.status == "active") & (CardType.kind == "discount"))
        .order_by(CardType.discount_bp)
        .first()
    )
    return best.card_type.discount_bp if best is not None else 10000


def quote(member: Member | int | str | None, lines: Iterable[LineRequest | tuple | str]) -> Quote:
    """Price a cart without saving anything: what the checkout screen shows before confirm."""
    member_obj = resolve_member(member) if member is not None else None
    tier: Tier | None = member_obj.tier if member_obj is not None else None
    card_bp = _discount_card_bp(member_obj)
    priced: list[PricedLine] = []
    for raw in lines:
        line = _as_line(raw)
        if not isinstance(line.qty, int) or isinstance(line.qty, bool) or line.qty <= 0 or line.qty > 9999:
            raise InvalidInput(_("Quantity must be a whole number from 1 to 9999."))
        kind, item = find_item(line.code)
        unit, reason = item.price_fen, ""
        fixed = None
        if tier is not None:
            field = TierPrice.product if kind == "product" else TierPrice.service
            fixed = TierPrice.get_or_none((TierPrice.tier == tier.id) & (field == item.id))
        if fixed is not None and fixed.price_fen < unit:
            unit, reason = fixed.price_fen, _("{tier} price").format(tier=tier.name)
        else:
            tier_bp = tier.discount_bp if tier is not None else 10000
            bp = min(tier_bp, card_bp)
            if bp < 10000:
                unit = (item.price_fen * bp + 5000) // 10000
                who = tier.name if bp == tier_bp else _("Discount card")
                reason = f"{who} {discount_label(bp)}"
        priced.append(PricedLine(kind, item.id, item.code, item.name, item.category, line.qty, item.price_fen,
                                 unit, unit * line.qty, reason))
    if not priced:
        raise InvalidInput(_("The bill has no lines."))
    subtotal = sum(p.list_price_fen * p.qty for p in priced)
    total = sum(p.line_total_fen for p in priced)
    return Quote(priced, subtotal, subtotal - total, total)


def _member_card(member: Member, kinds: Sequence[str], require_points: bool = False) -> Card | None:
    query = (
        Card.select(Card, CardType).join(CardType)
        .where((Card.member == member.id) & (Card.status == "active") & (CardType.kind.in_(kinds)))
    )
    if require_points:
        query = query.where(Card.points > 0)
    return query.order_by(Card.id).first()


def points_card(member: Member, used: Card | None = None) -> Card | None:
    """Where earned points go: the member's points card, else the stored-value card used, else any active card."""
    return _member_card(member, ["points"]) or used or _member_card(
        member, ["stored_value", "discount", "visits", "period"]
    )


def checkout(
    member: Member | int | str | None,
    lines: Iterable[LineRequest | tuple | str],
    tenders: Iterable[TenderRequest | tuple],
    staff: Staff,
    txid: str,
    *,
    store: Store | str | None = None,
) -> CheckoutResult:
    member_obj = resolve_member(member) if member is not None else None
    line_reqs = [_as_line(x) for x in lines]
    tender_reqs = [_as_tender(x) for x in tenders]
    store_obj = resolve_store(store, staff)
    for t in tender_reqs:
        if t.tender not in TENDERS:
            raise InvalidInput(_("Unknown tender {tender!r}.").format(tender=t.tender))
        if not isinstance(t.amount_fen, int) or isinstance(t.amount_fen, bool) or t.amount_fen <= 0:
            raise InvalidInput(_("Each payment must be more than zero."))
        if t.tender in ("stored_value", "points") and member_obj is None:
            raise InvalidInput(_("Stored value and points need a member on the bill."))
    request = {
        "member": member_obj.id if member_obj else None,
        "lines": [asdict(x) for x in line_reqs],
        "tenders": [asdict(x) for x in tender_reqs],
    }

    def body(tx) -> CheckoutResult:
        priced = quote(member_obj, line_reqs)
        total = priced.total_fen
        paid = sum(t.amount_fen for t in tender_reqs)
        cash = sum(t.amount_fen for t in tender_reqs if t.tender == "cash")
        if paid < total:
            raise InsufficientBalance(
                _("Payments cover {paid} of {total}.").format(paid=format_money(paid), total=format_money(total))
            )
        change = paid - total
        if change > cash:
            raise InvalidInput(_("Only cash can be more than the bill (change is given in cash)."))
        sale = Sale.create(transaction=tx, member=member_obj, store=store_obj, staff=staff,
                           subtotal_fen=priced.subtotal_fen, discount_fen=priced.discount_fen, total_fen=total,
                           change_fen=change)
        SaleLine.insert_many([
            {"sale": sale.id, "product": p.item_id if p.kind == "product" else None,
             "service": p.item_id if p.kind == "service" else None, "code": p.code, "name": p.name,
             "category": p.category, "qty": p.qty, "list_price_fen": p.list_price_fen,
             "unit_price_fen": p.unit_price_fen, "line_total_fen": p.line_total_fen,
             "discount_reason": p.discount_reason}
            for p in priced.lines
        ]).execute()

        postings: list[Posting] = [Posting("revenue.sales", "fen", total)]
        payments: list[dict] = []
        money_paid = 0
        points_redeemed = 0
        change_left = change
        used_sv_card: Card | None = None
        for t in tender_reqs:
            if t.tender in MONEY_TENDERS:
                amount = t.amount_fen
                if t.tender == "cash" and change_left:
                    given = min(change_left, amount)
                    amount -= given
                    change_left -= given
                if amount == 0:
                    continue
                postings.append(Posting(f"tender.{t.tender}", "fen", -amount))
                money_paid += amount
                payments.append({"tender": t.tender, "amount_fen": amount, "card": None})
            elif t.tender == "stored_value":
                card = _tender_card(member_obj, t, ["stored_value"])
                principal = min(card.principal_fen, t.amount_fen)
                bonus = t.amount_fen - principal
                if bonus > card.bonus_fen:
                    raise InsufficientBalance(
                        _("Not enough stored value on card {card}: has {have}, needs {need}.").format(
                            card=card.card_no, have=format_money(card.principal_fen + card.bonus_fen),
                            need=format_money(t.amount_fen))
                    )
                postings += [card_posting(card.id, "card.principal", -principal),
                             card_posting(card.id, "card.bonus", -bonus)]
                money_paid += principal
                used_sv_card = card
                payments.append({"tender": "stored_value", "amount_fen": t.amount_fen, "card": card.id,
                                 "principal_fen": principal, "bonus_fen": bonus})
            else:  # points
                rate = int(get_config("point_value_fen"))
                if t.amount_fen % rate:
                    raise InvalidInput(_("Points pay in steps of {step}.").format(step=format_money(rate)))
                n = t.amount_fen // rate
                card = _tender_card(member_obj, t, ["points", "stored_value", "discount", "visits", "period"],
                                    require_points=True)
                postings += [card_posting(card.id, "card.points", -n), Posting("points.redeemed", "pt", n),
                             Posting("expense.points", "fen", -t.amount_fen)]
                points_redeemed += n
                payments.append({"tender": "points", "amount_fen": t.amount_fen, "card": card.id, "points": n})

        earned = 0
        tier_code = None
        if member_obj is not None:
            current = Member.get_by_id(member_obj.id)
            earned = (money_paid * int(get_config("points_per_yuan")) * current.tier.points_pct) // 10000
            target = points_card(current, used_sv_card) if earned else None
            if target is None:
                earned = 0
            else:
                postings += [card_posting(target.id, "card.points", earned), Posting("points.issued", "pt", -earned)]
        post(tx, postings)
        Payment.insert_many([
            {"sale": sale.id, "tender": p["tender"], "amount_fen": p["amount_fen"], "card": p["card"],
             "principal_fen": p.get("principal_fen", 0), "bonus_fen": p.get("bonus_fen", 0),
             "points": p.get("points", 0)}
            for p in payments
        ]).execute()
        if member_obj is not None:
            tier_code = apply_spend(member_obj.id, money_paid, staff=staff, store=store_obj, txid=tx.txid)
        Sale.update(points_earned=earned).where(Sale.id == sale.id).execute()
        audit("sale.checkout", f"sale:{sale.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"member": member_obj.id if member_obj else None, "total_fen": total, "payments": payments})
        return CheckoutResult(
            txid=tx.txid, sale_id=sale.id, member_id=member_obj.id if member_obj else None,
            subtotal_fen=priced.subtotal_fen, discount_fen=priced.discount_fen, total_fen=total,
            change_fen=change, points_earned=earned, points_redeemed=points_redeemed, tier_code=tier_code,
            lines=[asdict(p) for p in priced.lines], payments=payments,
        )

    return run_operation(txid=txid, kind="checkout", request=request, staff=staff, store=store_obj,
                         member=member_obj, body=body, result_type=CheckoutResult)


def _tender_card(member: Member, t: TenderRequest, kinds: list[str], require_points: bool = False) -> Card:
    if t.card is not None:
        card = resolve_card(t.card)
        if card.member_id != member.id:
            raise InvalidInput(_("Card {card} belongs to another member.").format(card=card.card_no))
    else:
        card = _member_card(member, kinds, require_points=require_points)
        if card is None:
            if t.tender == "points":
                raise InsufficientBalance(_("{name} has no points to pay with.").format(name=member.name))
            raise WrongCardKind(_("{name} has no usable stored-value card.").format(name=member.name))
    if t.tender == "stored_value" and card.card_type.kind != "stored_value":
        raise WrongCardKind(_("Card {card} is not a stored-value card.").format(card=card.card_no))
    ensure_usable(card)
    return card


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
