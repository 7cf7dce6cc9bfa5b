"""Rule evaluation (issue #6): a pure function of (member, cart, time, rules) → a priced cart that explains itself.

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
* **Points** are earned on what was paid with money (stored-value principal counts unless configured otherwise;
  bonus value and points only when configured), net of change, at most the bill; times the rate, the tier's
  multiplier, the day's (the best promotion day) and the lines' categories (weighted by what each line cost),
  rounded once for the sale by the configured rule. The order of the tenders never matters.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from mms_tui.i18n import _
from mms_tui.services.base.errors import InsufficientBalance, InvalidInput
from mms_tui.services.base.text import discount_label, format_money, plain_amount
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty.rules import Gift, Promotion, Rules, TopupBonusRule

#: tender names :func:`points_earned` understands: money, stored value (split by the rules' spending order, or
#: already split by the caller) and points
TENDER_NAMES = (*MONEY_TENDERS, "stored_value", "stored_value_principal", "stored_value_bonus", "points")
KINDS = ("product", "service")


# ------------------------------------------------------------------------------------------------ facts in


@dataclass(frozen=True)
class MemberFacts:
    """What the rules need to know about the member on the bill (built by the caller from the database)."""

    member_id: int
    tier_code: str | None = None
    tier_name: str = ""
    tier_discount_bp: int = 10_000  # Tier.discount_bp
    tier_points_pct: int = 100  # Tier.points_pct
    #: fixed member prices of the member's tier: (kind, item code) → price in fen (TierPrice)
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


@dataclass(frozen=True)
class CartLine:
    kind: str  # product | service
    code: str
    name: str
    category: str
    list_price_fen: int
    qty: int = 1
    item_id: int | None = None


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


@dataclass(frozen=True)
class PointsEarned:
    points: int
    base_fen: int  # what the points were earned on
    explanations: tuple[str, ...]


@dataclass(frozen=True)
class BirthdayBenefit:
    window_start: dt.date
    window_end: dt.date
    promotion: str | None
    gift: Gift | None
    #: the coupon the desk presents to price_cart when staff apply the benefit (one per member and birthday)
    coupon: CouponFacts | None
    explanation: str


@dataclass(frozen=True)
class DueFee:
    kind: str  # joining | annual | late
    amount_fen: int
    due_on: dt.date | None
    explanation: str
    #: annual: paying it covers the time before this day
    covers_until: dt.date | None = None


# ------------------------------------------------------------------------------------------------ pricing


def member_price(member: MemberFacts | None, line: CartLine, rules: Rules) -> tuple[int, str]:
    """One unit's member price and why: exactly the rule ``quote()`` applies, with the tier's per-category
    discount from the rules in place of ``Tier.discount_bp`` for that category."""
    if member is None:
        return line.list_price_fen, ""
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
        return (line.list_price_fen * bp + 5_000) // 10_000, f"{who} {discount_label(bp)}"
    return line.list_price_fen, ""


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
    store_code: str | None = None,
    coupons: Sequence[CouponFacts] = (),
) -> PricedCart:
    """The bill for ``cart`` at ``when`` in store ``store_code``, with every explanation. Without a store code,
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


def _closed_reason(promo: Promotion, member: MemberFacts | None, when: dt.datetime, store_code: str | None) -> str | None:
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
    if promo.stores and store_code not in promo.stores:
        return _("not at this store")
    if promo.per_member_limit:
        if member is None:
            return _("for members only")
        used = member.promotion_uses.get(promo.code, 0)
        if used >= promo.per_member_limit:
            return _("already used {n} of {limit} times").format(n=used, limit=promo.per_member_limit)
    return None


def _offers(member: MemberFacts | None, when: dt.datetime, rules: Rules, store_code: str | None,
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


# ------------------------------------------------------------------------------------------------ points


def split_stored_value(amount_fen: int, principal_fen: int, bonus_fen: int, rules: Rules) -> tuple[int, int]:
    """(principal, bonus) a stored-value payment takes, in the rules' spending order."""
    if amount_fen > principal_fen + bonus_fen:
        raise InsufficientBalance(_("Not enough stored value: has {have}, needs {need}.").format(
            have=format_money(principal_fen + bonus_fen), need=format_money(amount_fen)))
    if rules.topup.spend_order == "bonus_first":
        bonus = min(bonus_fen, amount_fen)
        return amount_fen - bonus, bonus
    principal = min(principal_fen, amount_fen)
    return principal, amount_fen - principal


def points_earned(priced: PricedCart, tenders: Sequence[tuple[str, int]], member: MemberFacts | None,
                  when: dt.datetime, rules: Rules) -> PointsEarned:
    """The points a sale earns when paid with ``tenders`` [(tender, fen), …]; the same in any order."""
    sums: dict[str, int] = defaultdict(int)
    for tender, amount in tenders:
        if tender not in TENDER_NAMES:
            raise InvalidInput(_("Unknown tender {tender!r}.").format(tender=tender))
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise InvalidInput(_("Each payment must be more than zero."))
        sums[tender] += amount
    if member is None:
        return PointsEarned(0, 0, ())
    p = rules.points
    principal, bonus = sums["stored_value_principal"], sums["stored_value_bonus"]
    if sums["stored_value"]:
        more_principal, more_bonus = split_stored_value(sums["stored_value"], member.principal_fen, member.bonus_fen,
                                                        rules)
        principal, bonus = principal + more_principal, bonus + more_bonus
    money = sum(sums[t] for t in MONEY_TENDERS)
    paid = money + principal + bonus + sums["points"]
    change = min(max(0, paid - priced.total_fen), sums["cash"])  # change comes out of the cash
    base = money - change
    base += principal if p.principal_earns else 0
    base += bonus if p.bonus_earns else 0
    base += sums["points"] if p.points_earn else 0
    base = max(0, min(base, priced.total_fen))
    weight_total = sum(line.net_fen for line in priced.lines)
    if base == 0 or weight_total == 0 or p.per_yuan_x100 == 0:
        return PointsEarned(0, base, ())
    category_pct = Fraction(sum(line.net_fen * p.category_pct(line.category) for line in priced.lines), weight_total)
    day = best_points_day(when, rules)
    day_pct = day[0] if day else 100
    exact = Fraction(base * p.per_yuan_x100 * member.tier_points_pct * day_pct) * category_pct / 100 ** 5
    points = _round(exact, p.rounding)
    explanations: list[str] = []
    if member.tier_points_pct != 100:
        explanations.append(_("{tier} points ×{multiplier}").format(
            tier=member.tier_name, multiplier=plain_amount(member.tier_points_pct)))
    if day is not None and day[0] != 100:
        explanations.append(_("Points ×{multiplier} {day}").format(multiplier=plain_amount(day[0]), day=day[1]))
    for category in dict.fromkeys(line.category for line in priced.lines if line.net_fen):
        if p.category_pct(category) != 100:
            explanations.append(_("{category} points ×{multiplier}").format(
                category=category, multiplier=plain_amount(p.category_pct(category))))
    return PointsEarned(points, base, tuple(explanations))


def best_points_day(when: dt.datetime | dt.date, rules: Rules) -> tuple[int, str] | None:
    """The promotion day in force (the highest multiplier; the first listed on a tie): (percent, name)."""
    day = _day(when)
    best: tuple[int, str] | None = None
    for d in rules.points.days:
        if d.applies(day) and (best is None or d.multiplier_pct > best[0]):
            best = (d.multiplier_pct, d.name)
    return best


def _round(value: Fraction, rule: str) -> int:
    n, d = value.numerator, value.denominator
    if rule == "ceil":
        return -(-n // d)
    if rule == "round":
        return (2 * n + d) // (2 * d)
    return n // d


def points_for_payment(amount_fen: int, bill_total_fen: int, rules: Rules) -> int:
    """How many points pay ``amount_fen`` of a bill of ``bill_total_fen``; refuses what the rules forbid."""
    p = rules.points
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise InvalidInput(_("Each payment must be more than zero."))
    if amount_fen * p.redeem_per_yuan % 100:
        raise InvalidInput(_("Points pay in steps of {step}.").format(step=format_money(points_step_fen(rules))))
    most = bill_total_fen * p.redeem_max_share_pct // 100
    if amount_fen > most:
        raise InvalidInput(_("Points may pay at most {share} of this bill ({amount}).").format(
            share=f"{p.redeem_max_share_pct}%", amount=format_money(most)))
    points = amount_fen * p.redeem_per_yuan // 100
    if points < p.redeem_min_points:
        raise InvalidInput(_("Points pay from {n} points at a time.").format(n=p.redeem_min_points))
    return points


def points_step_fen(rules: Rules) -> int:
    """The smallest amount a whole number of points pays (1 fen at 100 points per yuan, 10 fen at 10)."""
    import math

    return 100 // math.gcd(100, rules.points.redeem_per_yuan)


def max_points_payment(bill_total_fen: int, points_held: int, rules: Rules) -> int:
    """The most of a bill the member's points may pay now (0 when below the minimum): the desk's 'all points'."""
    p = rules.points
    step = points_step_fen(rules)
    most = min(bill_total_fen * p.redeem_max_share_pct // 100, points_held * 100 // p.redeem_per_yuan)
    most -= most % step
    if most <= 0 or most * p.redeem_per_yuan // 100 < p.redeem_min_points:
        return 0
    return most


def points_expire_on(earned_on: dt.date, rules: Rules) -> dt.date | None:
    """The day points earned on ``earned_on`` are no longer there (None: they never expire)."""
    months = rules.points.expire_months
    return add_months(earned_on, months) if months else None


def add_months(day: dt.date, months: int) -> dt.date:
    """31 January + 1 month → 28 (29) February: the last day when the month is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


# ------------------------------------------------------------------------------------------------ top-ups


def _day(when: dt.datetime | dt.date) -> dt.date:
    return when.date() if isinstance(when, dt.datetime) else when


def topup_rule(amount_fen: int, when: dt.datetime | dt.date, rules: Rules) -> TopupBonusRule | None:
    """The bonus rule a top-up reaches: the highest threshold among the rules valid that day (the larger bonus on
    a tie)."""
    day = _day(when)
    reached = [r for r in rules.topup.bonuses if r.valid_on(day) and amount_fen >= r.threshold_fen]
    return max(reached, key=lambda r: (r.threshold_fen, r.bonus_fen), default=None)


def topup_bonus(amount_fen: int, when: dt.datetime | dt.date, rules: Rules) -> tuple[int, str]:
    """(bonus in fen, '充1000送200') for a top-up of ``amount_fen``; (0, '') when no rule is reached."""
    rule = topup_rule(amount_fen, when, rules)
    if rule is None or rule.bonus_fen == 0:
        return 0, ""
    return rule.bonus_fen, _("Top up ¥{amount}, get ¥{bonus} free").format(
        amount=plain_amount(rule.threshold_fen), bonus=plain_amount(rule.bonus_fen))


def topup_tier(amount_fen: int, when: dt.datetime | dt.date, rules: Rules) -> str | None:
    """The tier a top-up of ``amount_fen`` gives (the rule with the highest threshold reached that gives one);
    the caller upgrades only when it is above the member's tier."""
    day = _day(when)
    reached = [r for r in rules.topup.bonuses if r.tier and r.valid_on(day) and amount_fen >= r.threshold_fen]
    best = max(reached, key=lambda r: r.threshold_fen, default=None)
    return best.tier if best is not None else None


# ------------------------------------------------------------------------------------------------ birthdays


def _birthday_in(birthday: dt.date, year: int) -> dt.date:
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return birthday.replace(year=year)


def birthday_window(birthday: dt.date | None, on: dt.date, rules: Rules) -> tuple[dt.date, dt.date] | None:
    """The birthday window (first and last day) that ``on`` falls in, or None. A week is Monday to Sunday."""
    if birthday is None:
        return None
    for year in (on.year - 1, on.year, on.year + 1):
        day = _birthday_in(birthday, year)
        if rules.birthday.window == "day":
            start = end = day
        elif rules.birthday.window == "week":
            start = day - dt.timedelta(days=day.isoweekday() - 1)
            end = start + dt.timedelta(days=6)
        else:
            start = day.replace(day=1)
            end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        if start <= on <= end:
            return start, end
    return None


def birthday_benefit(member: MemberFacts | None, when: dt.datetime | dt.date, rules: Rules) -> BirthdayBenefit | None:
    """What a member in their birthday window gets (shown on swipe, applied with one key), or None."""
    if member is None:
        return None
    window = birthday_window(member.birthday, _day(when), rules)
    if window is None:
        return None
    benefit = rules.tiers.benefit(member.tier_code)
    gift = rules.gift(benefit.birthday_gift if benefit is not None and benefit.birthday_gift else rules.birthday.gift)
    promo = rules.promotion(rules.birthday.promotion) if rules.birthday.promotion else None
    if gift is None and promo is None:
        return None
    start, end = window
    coupon = None
    parts: list[str] = []
    if promo is not None:
        # one birthday coupon per member and birthday: its number names both, so a second use is the same coupon
        coupon = CouponFacts(f"BDAY-{member.member_id}-{start.isoformat()}", promo.code, start, end)
        parts.append(promotion_label(promo))
    if gift is not None:
        parts.append(_("gift: {name}").format(name=gift.name))
    explanation = _("Birthday: {benefit}").format(benefit=", ".join(parts))
    return BirthdayBenefit(start, end, promo.code if promo else None, gift, coupon, explanation)


# ------------------------------------------------------------------------------------------------ fees


def due_fees(member: MemberFacts, when: dt.datetime | dt.date, rules: Rules) -> tuple[DueFee, ...]:
    """Fees the member owes on ``when``: the joining fee before their first card, the annual fee once due, and
    the late fee once it is more than the grace days late. Paying the annual fee covers the year from its due
    day; a member who stayed away longer pays one year, up to the next due day after today."""
    f = rules.fees
    today = _day(when)
    due: list[DueFee] = []
    if f.joining_fen and not member.joining_fee_paid and member.cards_issued == 0:
        due.append(DueFee("joining", f.joining_fen, today, _("Joining fee")))
    if f.annual_fen:
        due_on = member.annual_paid_until or member.joined_on or today
        if today >= due_on:
            covers = _next_due(due_on, today, member, f)
            due.append(DueFee("annual", f.annual_fen, due_on,
                              _("Annual fee (due {date})").format(date=due_on.isoformat()), covers))
            late_from = due_on + dt.timedelta(days=f.grace_days)
            if f.late_fen and today > late_from:
                due.append(DueFee("late", f.late_fen, late_from,
                                  _("Late fee ({days} days after the due date)").format(days=f.grace_days)))
    return tuple(due)


def _next_due(due_on: dt.date, today: dt.date, member: MemberFacts, f) -> dt.date:
    """The first due day after ``today``: an anniversary of joining, or the fixed date."""
    if f.annual_due == "fixed" and f.annual_due_date is not None:
        month, day = f.annual_due_date
        candidate = dt.date(today.year, month, day)
        return candidate if candidate > today else dt.date(today.year + 1, month, day)
    anchor = member.joined_on or due_on
    years = max(1, today.year - anchor.year)
    candidate = add_months(anchor, 12 * years)
    while candidate <= today:
        years += 1
        candidate = add_months(anchor, 12 * years)
    return candidate
