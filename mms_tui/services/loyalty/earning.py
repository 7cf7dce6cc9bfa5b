"""Points earned (issue #6): a pure function of (priced cart, tenders, member, time, rules); and when they
expire.

Points are earned on what was paid with money (stored-value principal counts unless configured otherwise;
bonus value and points only when configured), net of change, at most the bill; times the earn rate, the tier's
multiplier, the day's (the best promotion day) and the lines' categories (weighted by what each line cost),
rounded once for the sale by the configured rule. The order of the tenders never matters.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import plain_amount
from mms_tui.services.ledger.tenders import MONEY_TENDERS, Tender
from mms_tui.services.loyalty.dates import add_months, day_of
from mms_tui.services.loyalty.pricing import MemberFacts, PricedCart
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.spending import split_stored_value

#: a stored-value payment the caller has already split into principal and bonus
STORED_VALUE_PARTS = ("stored_value_principal", "stored_value_bonus")
#: tender names :func:`points_earned` understands: money, stored value (split by the rules' spending order, or
#: already split by the caller) and points
EARNING_TENDERS = (*MONEY_TENDERS, Tender.STORED_VALUE, *STORED_VALUE_PARTS, Tender.POINTS)


@dataclass(frozen=True)
class PointsEarned:
    points: int
    base_fen: int  # what the points were earned on
    explanations: tuple[str, ...]


def points_earned(priced: PricedCart, tenders: Sequence[tuple[str, int]], member: MemberFacts | None,
                  when: dt.datetime, rules: Rules) -> PointsEarned:
    """The points a sale earns when paid with ``tenders`` [(tender, fen), …]; the same in any order."""
    sums: dict[str, int] = defaultdict(int)
    for tender, amount in tenders:
        if tender not in EARNING_TENDERS:
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
    if base == 0 or weight_total == 0 or p.earn_per_yuan_x100 == 0:
        return PointsEarned(0, base, ())
    category_pct = Fraction(sum(line.net_fen * p.category_pct(line.category) for line in priced.lines), weight_total)
    day = best_points_day(when, rules)
    day_pct = day[0] if day else 100
    exact = Fraction(base * p.earn_per_yuan_x100 * member.tier_points_pct * day_pct) * category_pct / 100 ** 5
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
    day = day_of(when)
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


def points_expire_on(earned_on: dt.date, rules: Rules) -> dt.date | None:
    """The day points earned on ``earned_on`` are no longer there (None: they never expire)."""
    months = rules.points.expire_months
    return add_months(earned_on, months) if months else None
