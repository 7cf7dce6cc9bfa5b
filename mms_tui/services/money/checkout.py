"""结账: price a cart by the loyalty rules, take split tenders, earn points, all in one transaction.

There is one way to price: :func:`mms_tui.services.loyalty.pricing.price_cart` on the rules in force
(:func:`~mms_tui.services.loyalty.rules_store.load_rules`). The checkout gathers what it needs from the database — the
member (:mod:`~mms_tui.services.money.holder`), the cart (:mod:`~mms_tui.services.money.items`), the coupons shown
(:mod:`~mms_tui.services.loyalty.redeem`), the fees due (:mod:`~mms_tui.services.money.fees`) — has the tenders
allocated (:func:`~mms_tui.services.money.payment.allocate_tenders`) and records what it decided.

It is the desk's busiest write, so it reads little and builds no SQL: the member with tier and cards in one
statement, the whole cart in one, the tier prices in one, the rules as one keyed read (parsed again only when
they change), all written out (:func:`~mms_tui.services.base.sql.run_sql`). A quote reads them outside any
transaction; the checkout reads them again inside its write transaction, where they decide money, and writes the
sale once everything it records is known (``tests/test_checkout_speed.py`` keeps the count of statements).

The rules the desk explains to members (coupons, fees and tenders: see the modules named above):

* **Prices** are the member price of each line (tier price, tier or 折扣卡 discount), then the promotions: the
  automatic ones apply by themselves, the others need a coupon (see :mod:`~mms_tui.services.loyalty.pricing`). Each
  ``SaleLine`` keeps its explanations ("金卡会员 9折; 满300减50") and, as ``line_total_fen``, what the line brought
  in after its share of the cart discounts, so turnover by category and refunds are exact; the cart discounts
  themselves, with their explanations, are in the sale's result (receipt and history print them).
* **Per-member limits** count the promotions applied by the member's earlier paid (not refunded) sales, as each
  sale's result records them.
* **Points earned** are :func:`~mms_tui.services.loyalty.earning.points_earned` on what paid the goods (money net of
  change, stored-value principal; bonus value and points only when the rules say so). They go to the member's
  points card, else the stored-value card used, else any active card.
* **Tier upgrade** is immediate: the money part of the goods (money tenders net of change, stored-value principal)
  is added to the member's spend by :func:`~mms_tui.services.loyalty.tiers.apply_spend` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from mms_tui.i18n import _
from mms_tui.models import Member, Sale, SaleLine, Staff, Store, Transaction, now
from mms_tui.models import Payment as PaymentRow
from mms_tui.services.base.config import limits, require_within_limit
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import resolve_member, resolve_store, store_path
from mms_tui.services.base.sql import insert_model, insert_rows
from mms_tui.services.base.text import normalise_card_no
from mms_tui.services.ledger.operations import Posting, audit, card_posting, post, run_operation
from mms_tui.services.ledger.tenders import Tender, is_tender
from mms_tui.services.loyalty import earning, pricing, spending
from mms_tui.services.loyalty.pricing import MemberFacts, PricedCart, PricedLine
from mms_tui.services.loyalty.redeem import (
    CouponStatus,
    ShownCoupons,
    coupon_statuses,
    own_coupons,
    shown_coupons,
    use_coupons,
)
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.tiers import apply_spend
from mms_tui.services.messages.outbox import balance_changed
from mms_tui.services.money import commissions
from mms_tui.services.money.fees import FeeLine, collect_fees, fee_line_dict, fees_on_bill
from mms_tui.services.money.holder import (
    Holder,
    bill_prices,
    facts_of,
    load_holder,
    lock_member,
    points_source,
    points_target,
    tender_card,
)
from mms_tui.services.money.items import LineRequest, as_line, at_store_prices, cart_lines
from mms_tui.services.money.payment import TenderRequest, allocate_tenders, as_tender
from mms_tui.services.stock.sales import take_for_sale

#: what SaleLine.discount_reason holds at most
_REASON_MAX = 100


@dataclass(frozen=True)
class Quote:
    lines: list[PricedLine]
    cart_discounts: list[pricing.CartDiscount]
    fees: list[FeeLine]  # on the bill
    fees_due: list[FeeLine]  # all that are due, on the bill or not
    coupons: list[CouponStatus]
    subtotal_fen: int  # goods at list prices, plus fees
    discount_fen: int
    total_fen: int  # goods after discounts, plus fees
    goods_total_fen: int
    #: points: the card they pay from, what it holds, the most of this bill they may pay, the rate
    points_card_no: str | None = None
    points_held: int = 0
    points_max_fen: int = 0
    points_redeem_per_yuan: int = 100
    points_step_fen: int = 1

    def points_for(self, amount_fen: int) -> int:
        """How many points pay ``amount_fen`` (the desk shows it next to the points tender)."""
        return amount_fen * self.points_redeem_per_yuan // 100


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
    #: {promotion, coupon, amount_fen, explanation} of each cart discount (满300减50)
    cart_discounts: list[dict] = field(default_factory=list)
    #: every promotion applied (line and cart), for receipts and the per-member limits
    promotions: list[dict] = field(default_factory=list)
    coupons: list[str] = field(default_factory=list)
    #: {kind, code, amount_fen, paid_until_before, paid_until_after} of each fee collected
    fees: list[dict] = field(default_factory=list)
    points_explanations: list[str] = field(default_factory=list)
    #: what this sale added to the member's tier spend (a refund takes exactly this back)
    spend_fen: int | None = None
    #: products a store that allows negative stock let go below zero (services/stock/sales.py)
    stock_warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ quote


@dataclass
class _Bill:
    member: Member | None
    holder: Holder | None  # the member with tier and cards, as read for this bill
    facts: MemberFacts | None
    store: Store
    rules: Rules
    when: dt.datetime
    priced: PricedCart
    fees: list[FeeLine]
    fees_due: list[FeeLine]
    shown: ShownCoupons
    coupons: list[CouponStatus]

    @property
    def fees_fen(self) -> int:
        return sum(f.amount_fen for f in self.fees)

    @property
    def total_fen(self) -> int:
        return self.priced.total_fen + self.fees_fen


_EMPTY = PricedCart((), (), (), (), 0, 0, 0, 0)


def _bill(member: Holder | Member | None, lines: Sequence[LineRequest], coupons: Iterable[str],
          member_coupons: bool, fees: Iterable[str], store: Store, when: dt.datetime, rules: Rules) -> _Bill:
    """Price the bill. ``member``: as already read (a quote), or a member to read now, after the cart (a checkout,
    inside its write transaction)."""
    cart = cart_lines(lines)
    holder = member if isinstance(member, Holder) or member is None else load_holder(member)
    prices = bill_prices(holder, store.id)  # the price lists at this store: retail, the tier's, the level's
    cart = at_store_prices(cart, prices.retail)
    facts = facts_of(holder, rules, prices, store) if holder is not None else None
    member_obj = holder.member if holder is not None else None
    on_bill, due = fees_on_bill(facts, when, rules, fees)
    if not cart and not on_bill:
        raise InvalidInput(_("The bill has no lines."))
    shown = shown_coupons(coupons, member_obj, facts, store, when, rules, member_coupons)
    priced = pricing.price_cart(facts, cart, when, rules, store_path(store), shown.facts) if cart else _EMPTY
    return _Bill(member_obj, holder, facts, store, rules, when, priced, on_bill, due, shown,
                 coupon_statuses(priced, shown, rules))


def quote(
    member: Member | int | str | None,
    lines: Iterable[LineRequest | tuple | str],
    *,
    coupons: Iterable[str] = (),
    member_coupons: bool = True,
    fees: Iterable[str] = (),
    store: Store | str | None = None,
    staff: Staff | None = None,
    when: dt.datetime | None = None,
) -> Quote:
    """Price a bill without saving anything: what the checkout screen shows before confirm.

    ``coupons``: codes shown; ``member_coupons``: also offer the member's own; ``fees``: fee kinds on the bill."""
    holder = load_holder(member) if member is not None else None
    store_obj = resolve_store(store, staff)
    rules = load_rules()
    bill = _bill(holder, [as_line(x) for x in lines], coupons, member_coupons, fees, store_obj, when or now(),
                 rules)
    priced = bill.priced
    card = points_source(holder.cards) if holder is not None else None
    held = card.points if card is not None else 0
    return Quote(
        lines=list(priced.lines), cart_discounts=list(priced.cart_discounts), fees=bill.fees, fees_due=bill.fees_due,
        coupons=bill.coupons, subtotal_fen=priced.subtotal_fen + bill.fees_fen, discount_fen=priced.discount_fen,
        total_fen=bill.total_fen, goods_total_fen=priced.total_fen,
        points_card_no=card.card_no if card is not None else None, points_held=held,
        points_max_fen=spending.max_points_payment(priced.total_fen, held, rules) if held else 0,
        points_redeem_per_yuan=rules.points.redeem_per_yuan, points_step_fen=spending.points_step_fen(rules),
    )


@dataclass(frozen=True)
class Offers:
    """What the desk offers a member as a checkout opens: their own coupons and the fees that are due."""

    coupons: list[CouponStatus]
    fees_due: list[FeeLine]


def checkout_offers(member: Member | int | str, *, store: Store | str | None = None, staff: Staff | None = None,
                    when: dt.datetime | None = None) -> Offers:
    holder = load_holder(member)
    store_obj = resolve_store(store, staff)
    rules = load_rules()
    when = when or now()
    facts = facts_of(holder, rules, store=store_obj)
    statuses = []
    for row in own_coupons(holder.member, store_obj, when.date(), rules):
        promo = rules.promotion(row.promotion)
        statuses.append(CouponStatus(row.code, row.promotion, pricing.promotion_label(promo) if promo else row.code,
                                     True, False, 0, ""))
    return Offers(statuses, fees_on_bill(facts, when, rules, ())[1])


def _line_reason(line: PricedLine, priced: PricedCart, rules: Rules) -> str:
    """A line's explanations, and the cart discounts that took a share of it."""
    parts = list(line.explanations)
    if line.net_fen < line.line_total_fen:
        for d in priced.cart_discounts:
            promo = rules.promotion(d.promotion)
            if (promo is None or promo.covers(line.code, line.category)) and d.explanation not in parts:
                parts.append(d.explanation)
    reason = "; ".join(parts)
    return reason if len(reason) <= _REASON_MAX else reason[: _REASON_MAX - 1] + "…"


def _line_dict(line: PricedLine, reason: str) -> dict:
    return {"kind": line.kind, "item_id": line.item_id, "code": line.code, "name": line.name,
            "category": line.category, "qty": line.qty, "list_price_fen": line.list_price_fen,
            "unit_price_fen": line.unit_price_fen, "line_total_fen": line.line_total_fen,
            "discount_reason": reason, "explanations": list(line.explanations), "net_fen": line.net_fen}


def checkout(
    member: Member | int | str | None,
    lines: Iterable[LineRequest | tuple | str],
    tenders: Iterable[TenderRequest | tuple],
    staff: Staff,
    txid: str,
    *,
    store: Store | str | None = None,
    coupons: Iterable[str] = (),
    member_coupons: bool = True,
    fees: Iterable[str] = (),
    performers: Mapping[str, Sequence] | None = None,
    approver: Staff | None = None,
) -> CheckoutResult:
    """Sell ``lines`` (and ``fees``, by kind) to ``member`` (None: a walk-in), paid with ``tenders``.

    ``coupons`` are the codes shown; ``member_coupons`` also offers the member's own unused coupons.
    ``performers``: item code → [(staff code, share in basis points), …] — a service line's 主理 first, then its
    助理; a product line's one salesperson — credited with the line's commission
    (:mod:`~mms_tui.services.money.commissions`); ``approver``: the manager who allowed a performer not set up for
    the service."""
    member_obj = resolve_member(member) if member is not None else None
    line_reqs = [as_line(x) for x in lines]
    tender_reqs = [as_tender(x) for x in tenders]
    coupon_codes = [normalise_card_no(str(c or "")) for c in coupons]
    coupon_codes = [c for c in dict.fromkeys(coupon_codes) if c]
    fee_kinds = list(dict.fromkeys(fees))
    store_obj = resolve_store(store, staff)
    for t in tender_reqs:
        if not is_tender(t.tender):
            raise InvalidInput(_("Unknown tender {tender!r}.").format(tender=t.tender))
        if not isinstance(t.amount_fen, int) or isinstance(t.amount_fen, bool) or t.amount_fen <= 0:
            raise InvalidInput(_("Each payment must be more than zero."))
        if not Tender(t.tender).is_money and member_obj is None:
            raise InvalidInput(_("Stored value and points need a member on the bill."))
    request: dict = {
        "member": member_obj.id if member_obj else None,
        "lines": [asdict(x) for x in line_reqs],
        "tenders": [asdict(x) for x in tender_reqs],
    }
    if coupon_codes:
        request["coupons"] = coupon_codes
    if not member_coupons:
        request["member_coupons"] = False
    if fee_kinds:
        request["fees"] = fee_kinds
    credits: dict[str, list[commissions.CheckedCredit]] = {}
    if performers:
        named = {code: v for code, v in performers.items() if v}
        kinds = commissions.item_kinds({*named, *(x.code for x in line_reqs)})
        on_bill = {kinds[x.code][2] for x in line_reqs}
        credits = commissions.check_credits(named, {c: k for c, k in kinds.items() if k[2] in on_bill},
                                            approver=approver)
        if Transaction.get_or_none(Transaction.txid == txid) is None:  # (a retry answers as the first time did)
            commissions.require_clocked_in(credits, store_obj.id, approver=approver)
        request["performers"] = {code: [[c.code, c.share_bp] for c in v] for code, v in sorted(credits.items())}

    def body(tx: Transaction) -> CheckoutResult:
        ceiling = limits()["operation_fen"]  # (here, after the txid: a retry answers without reading settings)
        for t in tender_reqs:
            require_within_limit(t.amount_fen, _("A payment"), ceiling)
        rules = load_rules()
        when = tx.created_at
        if member_obj is not None:
            lock_member(member_obj.id)
        bill = _bill(member_obj, line_reqs, coupon_codes, member_coupons, fee_kinds, store_obj, when, rules)
        holder = bill.holder  # read inside this transaction: the balances spent from below
        priced = bill.priced
        total = bill.total_fen
        payment = allocate_tenders(tender_reqs, lambda t: tender_card(holder, t, store_obj), goods_fen=priced.total_fen,
                                   fees_fen=bill.fees_fen, rules=rules)

        line_dicts = [_line_dict(p, _line_reason(p, priced, rules)) for p in priced.lines]
        line_dicts += [fee_line_dict(f) for f in bill.fees]
        used_coupons = [a.coupon for a in priced.applied if a.coupon is not None]
        use_coupons(used_coupons, bill.shown, member_obj, tx)

        postings: list[Posting] = [Posting("revenue.sales", "fen", priced.total_fen),
                                   Posting("revenue.fees", "fen", bill.fees_fen), *payment.postings()]
        payments = [line.as_dict() for line in payment.lines]
        spend = payment.spend_fen
        earned = 0
        explanations: tuple[str, ...] = ()
        tier_code = None
        if member_obj is not None:
            outcome = earning.points_earned(priced, payment.earning(), bill.facts, when, rules)
            earned, explanations = outcome.points, outcome.explanations
            used = next((c for c in holder.cards if c.id == payment.stored_value_card), None)
            target = points_target(holder.cards, used) if earned else None
            if target is None:
                earned, explanations = 0, ()
            else:
                postings += [card_posting(target.id, "card.points", earned), Posting("points.issued", "pt", -earned)]
        post(tx, postings)
        # the sale is written once everything it records is known (its points too: no second write)
        sale = insert_model(Sale, transaction=tx, member=member_obj, store=store_obj, staff=staff,
                            subtotal_fen=priced.subtotal_fen + bill.fees_fen, discount_fen=priced.discount_fen,
                            total_fen=total, change_fen=payment.change_fen, points_earned=earned)
        insert_rows(SaleLine, [
            {"sale": sale.id, "product": d["item_id"] if d["kind"] == "product" else None,
             "service": d["item_id"] if d["kind"] == "service" else None, "code": d["code"], "name": d["name"][:100],
             "category": d["category"], "qty": d["qty"], "list_price_fen": d["list_price_fen"],
             "unit_price_fen": d["unit_price_fen"], "line_total_fen": d["net_fen"],
             "discount_reason": d["discount_reason"]}
            for d in line_dicts
        ])
        insert_rows(PaymentRow, [
            {"sale": sale.id, "tender": str(p.tender), "amount_fen": p.amount_fen, "card": p.card,
             "principal_fen": p.principal_fen, "bonus_fen": p.bonus_fen, "points": p.points}
            for p in payment.lines
        ])
        stock_warnings = take_for_sale(tx, store_obj, sale.id, line_dicts)
        commissions.record_sale(tx, sale.id, store_obj.id, rules.commissions, line_dicts, payment.lines,
                                member_obj is not None, credits)
        fee_records = collect_fees(bill.fees, member_obj, tx.txid)
        if member_obj is not None:
            tier_code = apply_spend(member_obj.id, spend, staff=staff, store=store_obj, txid=tx.txid, rules=rules)
            paid = sum(p.principal_fen + p.bonus_fen for p in payment.lines if p.card == payment.stored_value_card)
            balance_changed(tx.txid, member_obj.id, member_obj.name, payment.stored_value_card, "spend", paid,
                            store_obj, when, rules)
        audit("sale.checkout", f"sale:{sale.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"member": member_obj.id if member_obj else None, "total_fen": total, "payments": payments,
                       "coupons": used_coupons, "fees": fee_records,
                       **({"performers": request["performers"]} if credits else {}),
                       **({"approved_by": approver.code} if credits and approver is not None else {})})
        return CheckoutResult(
            txid=tx.txid, sale_id=sale.id, member_id=member_obj.id if member_obj else None,
            subtotal_fen=priced.subtotal_fen + bill.fees_fen, discount_fen=priced.discount_fen, total_fen=total,
            change_fen=payment.change_fen, points_earned=earned, points_redeemed=payment.points_redeemed,
            tier_code=tier_code,
            lines=line_dicts, payments=payments,
            cart_discounts=[asdict(d) for d in priced.cart_discounts],
            promotions=[asdict(a) for a in priced.applied],
            coupons=used_coupons, fees=fee_records, points_explanations=list(explanations),
            spend_fen=spend if member_obj is not None else 0, stock_warnings=stock_warnings,
        )

    return run_operation(txid=txid, kind="checkout", request=request, staff=staff, store=store_obj,
                         member=member_obj, body=body, result_type=CheckoutResult)
