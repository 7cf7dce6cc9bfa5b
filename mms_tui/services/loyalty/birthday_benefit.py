"""The birthday benefit (issue #6) as a pure function of the member and the rules: the window a day falls in,
and the promotion (as a coupon) and gift a member gets in it."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.services.loyalty.dates import day_of
from mms_tui.services.loyalty.pricing import CouponFacts, MemberFacts, promotion_label
from mms_tui.services.loyalty.rules import Gift, Rules


@dataclass(frozen=True)
class BirthdayBenefit:
    window_start: dt.date
    window_end: dt.date
    promotion: str | None
    gift: Gift | None
    #: the coupon the desk presents to price_cart when staff apply the benefit (one per member and birthday)
    coupon: CouponFacts | None
    explanation: str


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
    window = birthday_window(member.birthday, day_of(when), rules)
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
