"""Loyalty rules as data (issue #6): the model of the document a manager edits, as frozen dataclasses.

The rules are one document with sections ``points``, ``topup``, ``tiers``, ``promotions``, ``birthday``,
``fees`` and ``commissions``. Managers write it as TOML or JSON (``mms rules export`` / ``mms rules import``); both give the same
plain dict, which :func:`~mms_tui.services.loyalty.rules_reader.parse_rules` turns into these dataclasses and
:func:`~mms_tui.services.loyalty.rules_files.rules_to_dict` writes back
(``parse_rules(rules_to_dict(r)) == r``). :mod:`~mms_tui.services.loyalty.rules_store` keeps the rules in
force in the database; :mod:`mms_tui.services.loyalty.pricing` and its siblings evaluate them without one.

A tier's row in the tier table is only its code, name and rank; everything a tier gives and takes — its
discount, points multiplier, upgrade and keep thresholds, per-category discounts, birthday gift — lives here, in
the ``tiers.levels`` of this document (issue #17: one place, never both; migration 12 moved the old columns in).
A document that leaves ``levels`` out gives the tiers ``mms init`` makes their default terms
(:data:`DEFAULT_TIER_LEVELS`); ``levels = []`` gives every tier nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mms_tui.services.base.config import CONFIG_DEFAULTS

#: the document format this program reads and writes
VERSION = 1

ROUNDINGS = ("floor", "round", "ceil")
SPEND_ORDERS = ("principal_first", "bonus_first")
TIER_BASES = ("spend", "points", "visits")
PROMOTION_KINDS = ("amount", "percent", "threshold", "free_item", "buy_n_get_1")
STACKING = ("exclusive", "stackable")
BIRTHDAY_WINDOWS = ("day", "week", "month")
ANNUAL_DUE = ("anniversary", "fixed")
#: what a commission rule pays on: a service line, a product line, a top-up, a card sold
COMMISSION_KINDS = ("service", "product", "topup", "card")
#: what a late cancellation or a no-show of a booking costs the member: nothing, one visit of their visit
#: package, or a fee put on their next bill
BOOKING_PENALTIES = ("nothing", "visit", "fee")
#: whom the sale was to: anyone, a member, a walk-in customer
COMMISSION_CUSTOMERS = ("any", "member", "walk_in")


@dataclass(frozen=True)
class PointsDay:
    """A promotion day for points: 会员日 every Wednesday ×2, or listed dates (双十一)."""

    name: str
    multiplier_pct: int  # 200 = ×2
    weekdays: tuple[int, ...] = ()  # 1 = Monday … 7 = Sunday
    dates: tuple[dt.date, ...] = ()

    def applies(self, day: dt.date) -> bool:
        return day.isoweekday() in self.weekdays or day in self.dates


@dataclass(frozen=True)
class Gift:
    """A gift in the points catalogue (积分兑换), also what a birthday benefit can give."""

    code: str
    name: str
    points: int
    #: 积分兑换现金券: the gift is a coupon of this promotion (applied with a coupon, not auto), issued to the member
    coupon: str | None = None
    #: days such a coupon stays valid from the day it is taken (None: the coupons' default, 30)
    valid_days: int | None = None


@dataclass(frozen=True)
class PointsRules:
    #: the earn rate: points per yuan paid with money, in hundredths (100 = 1 point per yuan, 50 = 1 point per
    #: ¥2); the document's ``per_yuan``. What points pay is ``redeem_per_yuan``
    earn_per_yuan_x100: int = CONFIG_DEFAULTS["points_per_yuan"] * 100
    #: whether the part paid from stored-value principal counts as money (it was money at the top-up)
    principal_earns: bool = True
    #: bonus value and points are the business's gifts: they earn only when a manager says so
    bonus_earns: bool = False
    points_earn: bool = False
    #: how a sale's fractional points end: floor (default), round (half up) or ceil
    rounding: str = "floor"
    #: months after which earned points expire, oldest first (``mms points expire``); 0 = never
    expire_months: int = 0
    #: points that pay ¥1 as a tender (default 100: a point is worth 1 fen)
    redeem_per_yuan: int = 100 // CONFIG_DEFAULTS["point_value_fen"]
    #: fewest points one payment may use (0: any number)
    redeem_min_points: int = 0
    #: most of a bill, in percent, that points may pay (100: all of it; 0: points never pay)
    redeem_max_share_pct: int = 100
    #: category → multiplier percent (零售 ×0.5 → 50; 0: the category earns nothing)
    category_multipliers: tuple[tuple[str, int], ...] = ()
    days: tuple[PointsDay, ...] = ()
    gifts: tuple[Gift, ...] = ()

    def category_pct(self, category: str) -> int:
        return dict(self.category_multipliers).get(category, 100)


@dataclass(frozen=True)
class TopupBonusRule:
    """充1000送200, optionally only between two dates, optionally also giving a tier."""

    threshold_fen: int
    bonus_fen: int
    tier: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class TopupRules:
    #: which part of stored value a payment takes first
    spend_order: str = "principal_first"
    bonuses: tuple[TopupBonusRule, ...] = tuple(
        TopupBonusRule(threshold, bonus) for threshold, bonus in CONFIG_DEFAULTS["topup_bonus_rules"]
    )


@dataclass(frozen=True)
class TierBenefit:
    """What one tier gives and what it takes to reach and keep it (a tier with no level here gives nothing and is
    never reached by qualifying)."""

    tier: str
    #: category → price paid in basis points, instead of ``discount`` for that category (10000: none)
    category_discounts: tuple[tuple[str, int], ...] = ()
    #: the upgrade threshold in the basis's unit: fen spent, points earned or visits; None: given by hand only
    upgrade_at: int | None = None
    #: what keeps the tier at a review, in the basis's unit (fen, points or visits); None: its upgrade threshold
    keep_at: int | None = None
    #: a gift code from the points catalogue, instead of the birthday section's gift
    birthday_gift: str | None = None
    #: price paid in basis points of the list price on everything: 10000 = full price, 9000 = 9折
    price_bp: int = 10_000
    #: points multiplier in percent: 100 = ×1, 150 = ×1.5
    points_pct: int = 100

    def discount_bp(self, category: str) -> int | None:
        return dict(self.category_discounts).get(category)


#: what the tiers ``mms init`` makes (普通/银卡/金卡/钻石会员: NORMAL, SILVER, GOLD, DIAMOND) give and take while
#: the rules leave ``tiers.levels`` out: 95折 ×1.2 from ¥1,000 spent, 9折 ×1.5 from ¥5,000, 85折 ×2 from ¥20,000
DEFAULT_TIER_LEVELS = (
    TierBenefit("SILVER", upgrade_at=100_000, price_bp=9500, points_pct=120),
    TierBenefit("GOLD", upgrade_at=500_000, price_bp=9000, points_pct=150),
    TierBenefit("DIAMOND", upgrade_at=2_000_000, price_bp=8500, points_pct=200),
)


@dataclass(frozen=True)
class TierRules:
    #: what moves a member up: cumulative money spend, points earned, or visits
    basis: str = "spend"
    #: a rolling window for the basis, in months; 0: since joining (today's rule)
    window_months: int = 0
    #: whether ``mms tiers review`` moves members down at all (today: never)
    downgrade: bool = False
    #: months a member below their tier's keep level keeps it before moving down
    grace_months: int = 0
    levels: tuple[TierBenefit, ...] = DEFAULT_TIER_LEVELS

    def benefit(self, tier_code: str | None) -> TierBenefit | None:
        return next((b for b in self.levels if b.tier == tier_code), None)


@dataclass(frozen=True)
class Promotion:
    """A coupon template (``auto = false``: applies with a coupon of this code) or an automatic promotion."""

    code: str
    kind: str  # amount | percent | threshold | free_item | buy_n_get_1
    auto: bool
    name: str = ""
    amount_fen: int = 0  # amount, threshold: what comes off
    threshold_fen: int = 0  # threshold: the spend that earns it; free_item: optional spend needed
    repeat: bool = False  # threshold: 每满300减50 (every full 300) instead of once
    percent_bp: int = 0  # percent: basis points off (2000 = 20 % off = 8折)
    item: str | None = None  # free_item: the product or service code given free (one unit)
    buy: int = 0  # buy_n_get_1: every buy+1 units of one item, one is free
    stacking: str = "exclusive"
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    weekdays: tuple[int, ...] = ()
    hours: tuple[int, int] | None = None  # minutes after midnight: start (included), end (not included)
    stores: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    per_member_limit: int = 0  # 0: no limit

    @property
    def line_level(self) -> bool:
        """Line promotions change line totals; the others are cart discounts."""
        return self.kind in ("percent", "free_item", "buy_n_get_1")

    def covers(self, code: str, category: str) -> bool:
        """Whether a line is among the items or categories this applies to (none named: every line)."""
        if not self.categories and not self.items:
            return True
        return code in self.items or category in self.categories

    def open_at(self, when: dt.datetime) -> bool:
        day = when.date()
        if self.valid_from is not None and day < self.valid_from:
            return False
        if self.valid_until is not None and day > self.valid_until:
            return False
        if self.weekdays and day.isoweekday() not in self.weekdays:
            return False
        if self.hours is not None:
            start, end = self.hours
            minute = when.hour * 60 + when.minute
            inside = start <= minute < end if start < end else (minute >= start or minute < end)
            if not inside:
                return False
        return True


@dataclass(frozen=True)
class BirthdayRules:
    #: the birthday itself, the Monday-to-Sunday week it falls in, or its month
    window: str = "week"
    #: a promotion (``auto = false``) the desk applies with one key while the member is in the window
    promotion: str | None = None
    #: a gift from the points catalogue given free in the window (a tier may name its own)
    gift: str | None = None


@dataclass(frozen=True)
class FeeRules:
    #: charged with a member's first card
    joining_fen: int = 0
    annual_fen: int = 0
    #: the annual fee falls due on the anniversary of joining, or every year on one date
    annual_due: str = "anniversary"
    annual_due_date: tuple[int, int] | None = None  # (month, day) when fixed
    grace_days: int = 0
    #: added once the annual fee is more than grace_days late
    late_fen: int = 0


@dataclass(frozen=True)
class CommissionRule:
    """提成: what a staff member earns on a line of ``kind``: a percent of the money paid for it (``percent_bp``)
    or a fixed amount per unit (``amount_fen``), split by the staff's shares. The base is the line's money after
    discounts; the part of the bill paid with points or with stored-value bonus value is left out unless
    ``include_points`` / ``include_bonus`` say otherwise (services/money/commissions.py)."""

    kind: str  # service | product | topup | card
    code: str = ""
    name: str = ""
    items: tuple[str, ...] = ()  # product or service codes
    categories: tuple[str, ...] = ()
    card_types: tuple[str, ...] = ()  # topup, card: the card type's code
    levels: tuple[str, ...] = ()  # the staff member's level (Staff.level)
    customer: str = "any"  # any | member | walk_in
    percent_bp: int = 0
    amount_fen: int = 0
    include_points: bool = False
    include_bonus: bool = False

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Most specific first: an item or card type named, then a category, then the kind alone; then a rule
        naming levels; then one for members or walk-ins only."""
        target = 2 if self.items or self.card_types else 1 if self.categories else 0
        return target, 1 if self.levels else 0, 1 if self.customer != "any" else 0


@dataclass(frozen=True)
class CommissionRules:
    rules: tuple[CommissionRule, ...] = ()


@dataclass(frozen=True)
class BookingRules:
    """预约: when a cancellation is late, and what a late cancellation and a no-show cost (services/bookings)."""

    late_cancel_hours: int = 12
    late_cancel: str = "nothing"  # nothing | visit | fee
    late_cancel_fee_fen: int = 0
    no_show: str = "nothing"
    no_show_fee_fen: int = 0
    #: a booking may be marked a no-show once this many minutes have passed since its start
    no_show_after_minutes: int = 15


@dataclass(frozen=True)
class MessageRules:
    """消息: which triggers send and when (services/messages; rules_messages.py reads and writes the section)."""

    balance: bool = True
    card_ending_days: int = 7
    points_expiring_days: int = 30
    birthday: bool = True
    coupon: bool = True
    booking_hours: int = 24
    quiet_hours: str = "21:00-08:00"
    retry_hours: int = 24
    results_days: int = 7


@dataclass(frozen=True)
class SegmentRules:
    """分群: the thresholds of the RFM segments (services/loyalty/segments.py; rules_segments.py reads and writes the
    section). Sales and spend are counted over the last 365 days; every "came in" limit is at most ``lost_days``."""

    new_days: int = 30
    big_spend_fen: int = 300_000
    big_spender_days: int = 60
    loyal_sales: int = 6
    loyal_days: int = 30
    returning_days: int = 60
    at_risk_sales: int = 2
    lost_days: int = 180


@dataclass(frozen=True)
class Rules:
    version: int = VERSION
    points: PointsRules = field(default_factory=PointsRules)
    topup: TopupRules = field(default_factory=TopupRules)
    tiers: TierRules = field(default_factory=TierRules)
    promotions: tuple[Promotion, ...] = ()
    birthday: BirthdayRules = field(default_factory=BirthdayRules)
    fees: FeeRules = field(default_factory=FeeRules)
    commissions: CommissionRules = field(default_factory=CommissionRules)
    bookings: BookingRules = field(default_factory=BookingRules)
    messages: MessageRules = field(default_factory=MessageRules)
    segments: SegmentRules = field(default_factory=SegmentRules)

    def promotion(self, code: str) -> Promotion | None:
        return next((p for p in self.promotions if p.code == code), None)

    def gift(self, code: str | None) -> Gift | None:
        return next((g for g in self.points.gifts if g.code == code), None)


def default_rules() -> Rules:
    """Today's behaviour: 1 point per yuan paid with money (principal counts), 100 points pay ¥1, 充500送50 …
    充3000送900 principal first, tiers by lifetime spend and never down, no promotions, birthday gifts or fees."""
    return Rules()
