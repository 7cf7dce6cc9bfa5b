"""Pricing a cart (issue #6): a pure function of (member, cart, time, rules) → a priced cart that explains
itself.

Nothing here reads the database or the clock: the caller builds :class:`MemberFacts`, :class:`CartLine` and
:class:`CouponFacts` and passes the time, so every answer is repeatable and testable on its own. The rules the
counter explains:

* **Member price** per line, as :func:`mms_tui.services.money.checkout.quote` has always priced: a fixed tier price for
  the item when one is set and lower, otherwise the better of the tier's discount (or the tier's discount for the
  line's category, from the rules) and the member's 折扣卡; unit price rounded half up to the fen ("金卡会员 9折").
* **Promotions** then apply on member prices. Automatic ones apply by themselves while open (dates, weekdays,
  hours, store, per-member limit); the others need a coupon of their code. Line promotions first (free item,
  buy N get 1, percent off), then cart discounts (满减 threshold, fixed amount), each kind in document order.
  A threshold counts the lines it covers at member price, so another promotion never takes a threshold away.
* **Stacking**: all open *stackable* promotions apply together; an *exclusive* one applies alone. The customer
  gets whichever of these choices costs least (ties: the stackable set, then the exclusive listed first). A
  promotion applies at most once per bill, whatever number of coupons of its code is shown; a coupon at most once.
* No discount takes a line or the bill below zero; ``total = Σ line totals − cart discounts``.

The other rules are evaluated beside it, as pure functions of the same facts: points earned
(:mod:`~mms_tui.services.loyalty.earning`), what stored value and points pay
(:mod:`~mms_tui.services.loyalty.spending`), the top-up bonus (:mod:`~mms_tui.services.loyalty.topup_bonus`),
the birthday benefit (:mod:`~mms_tui.services.loyalty.birthday_benefit`) and the fees due
(:mod:`~mms_tui.services.loyalty.fees_due`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import discount_label, format_money, plain_amount
from mms_tui.services.loyalty.rules import Promotion, Rules

KINDS = ("product", "service")


# ------------------------------------------------------------------------------------------------ facts in


@dataclass(frozen=True)
class MemberFacts:
    """What the rules need to know about the member on the bill (built by the caller from the database)."""

    member_id: int
    tier_code: str | None = None
    tier_name: str = ""
    tier_discount_bp: int = 10_000  # the tier's discount from the rules (price paid, basis points)
    tier_points_pct: int = 100  # the tier's points multiplier from the rules (percent)
    #: fixed member prices of the member's tier at this store: (kind, item code) → price in fen (price lists)
    tier_prices: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: the best active 折扣卡 the member holds, in basis points paid (10000: none)
    discount_card_bp: int = 10_000
    birthday: dt.date | None = None
    joined_on: dt.date | None = None
    cards_issued: int = 0
    joining_fee_paid: bool = False
    #: the annual fee is paid for the time before this day; None: never paid
    annual_paid_until: dt.date | None = None
    #: promotion code → how many times this member has had it (per-member limits)
    promotion_uses: Mapping[str, int] = field(default_factory=dict)
    #: stored value the member holds, for splitting a stored-value tender by the spending order
    principal_fen: int = 0
    bonus_fen: int = 0
    #: the member's price level (经销商价 …) and its prices at this store; they replace the tier's for an item
    level_name: str = ""
    level_prices: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: late-cancellation and no-show fees of their bookings not yet paid (services/bookings)
    booking_fees_fen: int = 0


@dataclass(frozen=True)
class CartLine:
    kind: str  # product | service
    code: str
    name: str
    category: str
    list_price_fen: int
    qty: int = 1
    item_id: int | None = None
    #: the list the list price came from when it is not the catalogue's own (a store's retail price)
    list_source: str = ""


@dataclass(frozen=True)
class CouponFacts:
    """A coupon shown at the counter: its own number and the promotion (template) it was issued from."""

    code: str
    promotion: str
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


# ------------------------------------------------------------------------------------------------ results out


@dataclass(frozen=True)
class PricedLine:
    kind: str
    item_id: int | None
    code: str
    name: str
    category: str
    qty: int
    list_price_fen: int
    unit_price_fen: int  # member price of one unit
    line_total_fen: int  # after line promotions
    explanations: tuple[str, ...]  # member price first, then each line promotion
    net_fen: int  # after its share of the cart discounts (for refunds and points by category)

    @property
    def discount_reason(self) -> str:
        return "; ".join(self.explanations)


@dataclass(frozen=True)
class CartDiscount:
    promotion: str
    coupon: str | None
    amount_fen: int
    explanation: str


@dataclass(frozen=True)
class AppliedPromotion:
    promotion: str
    coupon: str | None
    amount_fen: int  # what it took off the bill
    explanation: str


@dataclass(frozen=True)
class SkippedCoupon:
    """A coupon shown but not used, and why (the counter tells the member)."""

    coupon: str
    promotion: str
    reason: str


@dataclass(frozen=True)
class PricedCart:
    lines: tuple[PricedLine, ...]
    cart_discounts: tuple[CartDiscount, ...]
    applied: tuple[AppliedPromotion, ...]
    skipped: tuple[SkippedCoupon, ...]
    subtotal_fen: int  # at list prices
    lines_total_fen: int  # Σ line totals
    discount_fen: int  # subtotal − total
    total_fen: int

    @property
    def explanations(self) -> tuple[str, ...]:
        """Everything that changed the price, once each, in order: what a receipt prints under the lines."""
        seen: dict[str, None] = {}
        for line in self.lines:
            seen.update(dict.fromkeys(line.explanations))
        seen.update(dict.fromkeys(d.explanation for d in self.cart_discounts))
        return tuple(seen)


# ------------------------------------------------------------------------------------------------ pricing


def member_price(member: MemberFacts | None, line: CartLine, rules: Rules) -> tuple[int, str]:
    """One unit's member price and why: the member's price level's price for the item when it has one (it
    replaces the tier's); else a fixed tier price when set and lower; else the better of the tier's discount (its
    per-category discount for the line's category) and the member's 折扣卡 — on the store's retail price when the
    store has its own."""
    source = line.list_source
    if member is None:
        return line.list_price_fen, source
    level = member.level_prices.get((line.kind, line.code))
    if level is not None:
        return level, member.level_name
    fixed = member.tier_prices.get((line.kind, line.code))
    if fixed is not None and fixed < line.list_price_fen:
        return fixed, _("{tier} price").format(tier=member.tier_name)
    tier_bp = member.tier_discount_bp
    benefit = rules.tiers.benefit(member.tier_code)
    if benefit is not None and benefit.discount_bp(line.category) is not None:
        tier_bp = benefit.discount_bp(line.category)
    bp = min(tier_bp, member.discount_card_bp)
    if bp < 10_000:
        who = member.tier_name if bp == tier_bp else _("Discount card")
        why = f"{who} {discount_label(bp)}"
        return (line.list_price_fen * bp + 5_000) // 10_000, f"{source} · {why}" if source else why
    return line.list_price_fen, source


def promotion_label(promo: Promotion, item_name: str | None = None) -> str:
    """How the counter names a promotion: '满300减50', '8折', '买2送1', or the manager's name before it."""
    if promo.kind == "percent":
        label = discount_label(10_000 - promo.percent_bp)
    elif promo.kind == "threshold":
        template = _("¥{amount} off every ¥{threshold}") if promo.repeat else _("¥{amount} off over ¥{threshold}")
        label = template.format(amount=plain_amount(promo.amount_fen), threshold=plain_amount(promo.threshold_fen))
    elif promo.kind == "amount":
        label = _("¥{amount} off").format(amount=plain_amount(promo.amount_fen))
    elif promo.kind == "free_item":
        item = item_name or promo.item or ""
        label = (_("Free {item} over ¥{threshold}").format(item=item, threshold=plain_amount(promo.threshold_fen))
                 if promo.threshold_fen else _("Free {item}").format(item=item))
    else:
        label = _("Buy {n} get 1 free").format(n=promo.buy)
    return f"{promo.name} {label}" if promo.name and promo.name != label else label


@dataclass
class _Line:
    """A line while promotions are tried on it."""

    unit: int
    qty: int
    total: int  # after line promotions
    free_units: int = 0
    cart_share: int = 0
    labels: list[str] = field(default_factory=list)

    @property
    def net(self) -> int:
        return self.total - self.cart_share


@dataclass(frozen=True)
class _Offer:
    promo: Promotion
    coupon: str | None
    order: int  # the promotion's place in the document


@dataclass
class _Outcome:
    lines: list[_Line]
    cart: list[CartDiscount]
    applied: list[AppliedPromotion]
    missed: dict[_Offer, str]  # offers tried that did not apply, and why

    @property
    def total(self) -> int:
        return sum(line.net for line in self.lines)


_KIND_ORDER = {"free_item": 0, "buy_n_get_1": 1, "percent": 2, "threshold": 3, "amount": 4}


def price_cart(
    member: MemberFacts | None,
    cart: Sequence[CartLine],
    when: dt.datetime,
    rules: Rules,
    store_code: str | Sequence[str] | None = None,
    coupons: Sequence[CouponFacts] = (),
) -> PricedCart:
    """The bill for ``cart`` at ``when`` in store ``store_code`` (or the codes of the store and the regions above
    it: a promotion naming a region applies at its stores), with every explanation. Without a store code,
    promotions bound to stores do not apply; ``member`` None is a walk-in (list prices, no per-member offers)."""
    if not cart:
        raise InvalidInput(_("The bill has no lines."))
    for line in cart:
        if not isinstance(line.qty, int) or isinstance(line.qty, bool) or line.qty <= 0 or line.qty > 9999:
            raise InvalidInput(_("Quantity must be a whole number from 1 to 9999."))
        if not isinstance(line.list_price_fen, int) or isinstance(line.list_price_fen, bool) or line.list_price_fen < 0:
            raise InvalidInput(_("A price must be a whole number of fen, not negative."))
        if line.kind not in KINDS:
            raise InvalidInput(_("A line is a product or a service, not {kind!r}.").format(kind=line.kind))
    prices = [member_price(member, line, rules) for line in cart]
    offers, skipped = _offers(member, when, rules, store_code, coupons)
    stack = [o for o in offers if o.promo.stacking == "stackable"]
    options = [stack] + [[o] for o in offers if o.promo.stacking == "exclusive"]
    outcomes = [_apply(option, cart, prices) for option in options]
    best_index = min(range(len(outcomes)), key=lambda i: (outcomes[i].total, i))
    best = outcomes[best_index]
    applied_offers = {(a.promotion, a.coupon) for a in best.applied}
    for i, option in enumerate(options):
        for offer in option:
            if offer.coupon is None or (offer.promo.code, offer.coupon) in applied_offers:
                continue
            if i == best_index or offer in outcomes[i].missed:
                reason = (best if i == best_index else outcomes[i]).missed[offer]
            else:
                winners = ", ".join(a.explanation for a in best.applied)
                reason = _("cannot be combined with {offer}").format(offer=winners)
            skipped.append(SkippedCoupon(offer.coupon, offer.promo.code, reason))
    lines = tuple(
        PricedLine(c.kind, c.item_id, c.code, c.name, c.category, c.qty, c.list_price_fen, unit, w.total,
                   tuple(x for x in (reason, *w.labels) if x), w.net)
        for c, (unit, reason), w in zip(cart, prices, best.lines, strict=True)
    )
    subtotal = sum(c.list_price_fen * c.qty for c in cart)
    lines_total = sum(line.line_total_fen for line in lines)
    total = lines_total - sum(d.amount_fen for d in best.cart)
    return PricedCart(lines, tuple(best.cart), tuple(best.applied), tuple(sorted(skipped, key=lambda s: s.coupon)),
                      subtotal, lines_total, subtotal - total, total)


def _closed_reason(promo: Promotion, member: MemberFacts | None, when: dt.datetime,
                   store_code: str | Sequence[str] | None) -> str | None:
    """Why the promotion cannot apply to this member, here and now (None: it can)."""
    day = when.date()
    if promo.valid_from is not None and day < promo.valid_from:
        return _("starts on {date}").format(date=promo.valid_from.isoformat())
    if promo.valid_until is not None and day > promo.valid_until:
        return _("ended on {date}").format(date=promo.valid_until.isoformat())
    if promo.weekdays and day.isoweekday() not in promo.weekdays:
        return _("not on this day of the week")
    if promo.hours is not None and not promo.open_at(when):
        start, end = promo.hours
        return _("only {start}-{end}").format(start=f"{start // 60:02d}:{start % 60:02d}",
                                             end=f"{end // 60:02d}:{end % 60:02d}")
    here = {store_code} if isinstance(store_code, str) else set(store_code or ())
    if promo.stores and not here & set(promo.stores):
        return _("not at this store")
    if promo.per_member_limit:
        if member is None:
            return _("for members only")
        used = member.promotion_uses.get(promo.code, 0)
        if used >= promo.per_member_limit:
            return _("already used {n} of {limit} times").format(n=used, limit=promo.per_member_limit)
    return None


def _offers(member: MemberFacts | None, when: dt.datetime, rules: Rules, store_code: str | Sequence[str] | None,
            coupons: Sequence[CouponFacts]) -> tuple[list[_Offer], list[SkippedCoupon]]:
    """Open automatic promotions, and the promotions the coupons shown stand for (at most one coupon each)."""
    order = {p.code: i for i, p in enumerate(rules.promotions)}
    offers = [_Offer(p, None, order[p.code]) for p in rules.promotions
              if p.auto and _closed_reason(p, member, when, store_code) is None]
    skipped: list[SkippedCoupon] = []
    seen: set[str] = set()
    taken: set[str] = set()
    day = when.date()
    for coupon in sorted(coupons, key=lambda c: (c.code, c.promotion, str(c.valid_from), str(c.valid_until))):
        if coupon.code in seen:
            continue  # the same coupon shown twice counts once
        seen.add(coupon.code)
        promo = rules.promotion(coupon.promotion)
        if promo is None:
            reason = _("no promotion {code}").format(code=coupon.promotion)
        elif promo.auto:
            reason = _("applies without a coupon")
        elif coupon.valid_from is not None and day < coupon.valid_from:
            reason = _("valid from {date}").format(date=coupon.valid_from.isoformat())
        elif coupon.valid_until is not None and day > coupon.valid_until:
            reason = _("expired on {date}").format(date=coupon.valid_until.isoformat())
        elif promo.code in taken:
            reason = _("one coupon of this kind per bill")
        else:
            reason = _closed_reason(promo, member, when, store_code)
        if reason is not None:
            skipped.append(SkippedCoupon(coupon.code, coupon.promotion, reason))
            continue
        taken.add(promo.code)
        offers.append(_Offer(promo, coupon.code, order[promo.code]))
    offers.sort(key=lambda o: (o.order, o.coupon or ""))
    return offers, skipped


def _apply(option: list[_Offer], cart: Sequence[CartLine], prices: list[tuple[int, str]]) -> _Outcome:
    lines = [_Line(unit, c.qty, unit * c.qty) for c, (unit, _reason) in zip(cart, prices, strict=True)]
    outcome = _Outcome(lines, [], [], {})
    member_totals = [line.total for line in lines]
    for offer in sorted(option, key=lambda o: (_KIND_ORDER[o.promo.kind], o.order, o.coupon or "")):
        promo = offer.promo
        covered = [i for i, c in enumerate(cart) if promo.covers(c.code, c.category)]
        base = sum(member_totals[i] for i in covered)
        label = promotion_label(promo, next((c.name for c in cart if c.code == promo.item), None))
        reason, off = None, 0
        if promo.kind == "free_item":
            target = next((i for i, c in enumerate(cart) if c.code == promo.item
                           and lines[i].free_units < lines[i].qty and lines[i].total > 0), None)
            if promo.threshold_fen and base < promo.threshold_fen:
                reason = _("{amount} more to get {offer}").format(
                    amount=format_money(promo.threshold_fen - base), offer=label)
            elif target is None:
                reason = _("{item} is not on the bill").format(item=promo.item)
            else:
                off = _take(lines[target], min(lines[target].unit, lines[target].total), label)
                lines[target].free_units += 1
        elif promo.kind == "buy_n_get_1":
            for i in covered:
                free = (lines[i].qty - lines[i].free_units) // (promo.buy + 1)
                if free:
                    off += _take(lines[i], min(free * lines[i].unit, lines[i].total), label)
                    lines[i].free_units += free
            if not off:
                reason = _("buy {n} of one item to get 1 free").format(n=promo.buy + 1)
        elif promo.kind == "percent":
            for i in covered:
                total = lines[i].total
                off += _take(lines[i], total - (total * (10_000 - promo.percent_bp) + 5_000) // 10_000, label)
            if not off:
                reason = _("nothing on the bill it applies to")
        else:  # cart discounts: threshold, amount
            if promo.kind == "threshold" and base < promo.threshold_fen:
                reason = _("{amount} more to get {offer}").format(
                    amount=format_money(promo.threshold_fen - base), offer=label)
            else:
                times = base // promo.threshold_fen if promo.kind == "threshold" and promo.repeat else 1
                off = _share_out([lines[i] for i in covered], promo.amount_fen * times)
                if off:
                    outcome.cart.append(CartDiscount(promo.code, offer.coupon, off, label))
                else:
                    reason = _("nothing on the bill it applies to")
        if reason is not None:
            outcome.missed[offer] = reason
        else:
            outcome.applied.append(AppliedPromotion(promo.code, offer.coupon, off, label))
    return outcome


def _take(line: _Line, off: int, label: str) -> int:
    """Take ``off`` (never more than is left) from a line's total; name the promotion on the line."""
    off = max(0, min(off, line.total - line.cart_share))
    if off:
        line.total -= off
        if label not in line.labels:
            line.labels.append(label)
    return off


def _share_out(lines: list[_Line], amount: int) -> int:
    """Spread a cart discount over the lines it covers in proportion to what is left on each (largest remainder,
    earlier line first on a tie), never more than is left. Returns what was taken."""
    left = sum(line.net for line in lines)
    amount = min(amount, left)
    if amount <= 0:
        return 0
    shares = [amount * line.net // left for line in lines]
    remainders = sorted(range(len(lines)), key=lambda i: (-(amount * lines[i].net % left), i))
    for i in remainders[: amount - sum(shares)]:
        shares[i] += 1
    for line, share in zip(lines, shares, strict=True):
        line.cart_share += share
    return amount
