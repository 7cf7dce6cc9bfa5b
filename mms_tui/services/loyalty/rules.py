"""Loyalty rules as data (issue #6): the document a manager edits, validated, stored and read back.

The rules are one document with sections ``points``, ``topup``, ``tiers``, ``promotions``, ``birthday`` and
``fees``. Managers write it as TOML or JSON (``mms rules export`` / ``mms rules import``); both give the same plain
dict, which :func:`parse_rules` turns into frozen dataclasses and :func:`rules_to_dict` writes back
(``parse_rules(rules_to_dict(r)) == r``). :mod:`mms_tui.services.loyalty.pricing` evaluates them without a database.

How a manager writes values, and what they become inside:

* **money** is yuan, as a string or a number: ``"300"``, ``"0.5"``, ``"¥1,000"`` → integer fen, parsed exactly by
  :func:`~mms_tui.services.base.text.parse_money` (a float a TOML file gives, ``0.5``, is read from its shortest
  decimal form, never through float arithmetic); written back as a string of yuan;
* **multipliers** (``2``, ``"1.5"``) → percent (200, 150), as ``Tier.points_pct`` counts them;
* **percent off** (``20``, ``"12.5"``) → basis points; a tier's per-category discount is kept as the price paid in
  basis points like ``Tier.discount_bp`` (10 % off → 9000, shown as 9折);
* **weekdays** are 1 (Monday, 周一) to 7 (Sunday, 周日); **dates** ``2024-06-01``; **hours** ``"14:00-17:00"``
  (the end is not included; ``"22:00-02:00"`` runs past midnight).

Every problem is reported as one line naming its place in the document, lists counted from 1 as a person counts
the ``[[promotions]]`` blocks in a file: ``promotions[2].percent: must be between 1 and 99``. Unknown settings are
problems too (a misspelt key would otherwise be silently ignored). All problems are collected and raised together
as :class:`~mms_tui.services.base.errors.RulesInvalid`.

What the tier table already holds stays there: ``Tier.discount_bp``, ``Tier.points_pct`` and
``Tier.upgrade_spend_fen``. The ``tiers`` section adds what the table has no column for.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Config, Product, ServiceItem, Staff, Store, Tier
from mms_tui.services.base.config import CONFIG_DEFAULTS
from mms_tui.services.base.errors import InvalidInput, RulesInvalid
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.base.text import parse_date, parse_money, plain_amount, shown
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import require

#: the document format this program reads and writes
VERSION = 1
#: the ``Config`` key the current rules are stored under, as JSON
CONFIG_KEY = "loyalty_rules"

ROUNDINGS = ("floor", "round", "ceil")
SPEND_ORDERS = ("principal_first", "bonus_first")
TIER_BASES = ("spend", "points", "visits")
PROMOTION_KINDS = ("amount", "percent", "threshold", "free_item", "buy_n_get_1")
STACKING = ("exclusive", "stackable")
BIRTHDAY_WINDOWS = ("day", "week", "month")
ANNUAL_DUE = ("anniversary", "fixed")
FORMATS = ("toml", "json")


# ------------------------------------------------------------------------------------------------ the document


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


@dataclass(frozen=True)
class PointsRules:
    #: points per yuan paid with money, in hundredths (100 = 1 point per yuan, 50 = 1 point per ¥2)
    per_yuan_x100: int = CONFIG_DEFAULTS["points_per_yuan"] * 100
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
    """What one tier gets beyond its row in the tier table."""

    tier: str
    #: category → price paid in basis points, instead of ``Tier.discount_bp`` for that category (10000: none)
    category_discounts: tuple[tuple[str, int], ...] = ()
    #: the upgrade threshold when the basis is points or visits (with spend it is ``Tier.upgrade_spend_fen``)
    upgrade_at: int | None = None
    #: what keeps the tier at a review, in the basis's unit (fen, points or visits); None: its upgrade threshold
    keep_at: int | None = None
    #: a gift code from the points catalogue, instead of the birthday section's gift
    birthday_gift: str | None = None

    def discount_bp(self, category: str) -> int | None:
        return dict(self.category_discounts).get(category)


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
    levels: tuple[TierBenefit, ...] = ()

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
class Rules:
    version: int = VERSION
    points: PointsRules = field(default_factory=PointsRules)
    topup: TopupRules = field(default_factory=TopupRules)
    tiers: TierRules = field(default_factory=TierRules)
    promotions: tuple[Promotion, ...] = ()
    birthday: BirthdayRules = field(default_factory=BirthdayRules)
    fees: FeeRules = field(default_factory=FeeRules)

    def promotion(self, code: str) -> Promotion | None:
        return next((p for p in self.promotions if p.code == code), None)

    def gift(self, code: str | None) -> Gift | None:
        return next((g for g in self.points.gifts if g.code == code), None)


def default_rules() -> Rules:
    """Today's behaviour: 1 point per yuan paid with money (principal counts), 100 points pay ¥1, 充500送50 …
    充3000送900 principal first, tiers by lifetime spend and never down, no promotions, birthday gifts or fees."""
    return Rules()


# ------------------------------------------------------------------------------------------------ reading values


class _Reader:
    """Collects every problem with its path, and hands back a harmless value so reading can go on."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def problem(self, path: str, message: str) -> None:
        if len(path) > 80:  # a key of a megabyte is named, not echoed
            path = path[:79] + "…"
        self.errors.append(f"{path}: {message}" if path else message)

    def table(self, value: Any, path: str, known: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            self.problem(path, _("must be a table of settings"))
            return {}
        for key in value:
            if key not in known:
                self.problem(f"{path}.{key}" if path else str(key),
                             _("unknown setting (known: {known})").format(known=", ".join(known)))
        for key in required:
            if key not in value:
                self.problem(f"{path}.{key}" if path else key, _("is required"))
        return dict(value)

    def items(self, value: Any, path: str) -> list[tuple[str, Any]]:
        """A list's entries with their paths, counted from 1."""
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            self.problem(path, _("must be a list"))
            return []
        return [(f"{path}[{i}]", v) for i, v in enumerate(value, start=1)]

    def money(self, value: Any, path: str, *, positive: bool = False) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.problem(path, _("must be an amount in yuan, such as \"300\" or \"0.5\""))
            return 0
        text = repr(value) if isinstance(value, float) else str(value)
        try:
            fen = parse_money(text)
        except InvalidInput:
            self.problem(path, _("{value} is not an amount in yuan (at most 2 decimals)").format(value=shown(value)))
            return 0
        if fen < 0 or (positive and fen == 0):
            self.problem(path, _("must be more than zero") if positive else _("cannot be negative"))
            return 0
        return fen

    def whole(self, value: Any, path: str, lo: int, hi: int) -> int:
        if isinstance(value, str) and re.fullmatch(r"\d{1,9}", value.strip()):
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, _("must be a whole number from {lo} to {hi}").format(lo=lo, hi=hi))
            return lo
        if not lo <= value <= hi:
            self.problem(path, _("must be between {lo} and {hi}").format(lo=lo, hi=hi))
            return lo
        return value

    def hundredths(self, value: Any, path: str, lo: int, hi: int, what: str) -> int:
        """'1.5' → 150, 2 → 200, '×2' → 200: a number with at most two decimals, exactly; bounds in hundredths."""
        text = ""
        if isinstance(value, float):
            text = repr(value)  # the shortest decimal that is this float: 1.5 → '1.5', exactly what was written
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif isinstance(value, str):
            text = value.strip().lstrip("×xX*").strip()
        match = re.fullmatch(r"(\d{1,7})(?:\.(\d{1,2})0*)?", text)
        if match is None:
            self.problem(path, _("must be {what} with at most 2 decimals, such as 2 or \"1.5\"").format(what=what))
            return lo
        number = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
        if not lo <= number <= hi:
            self.problem(path, _("must be between {lo} and {hi}").format(lo=_plain(lo), hi=_plain(hi)))
            return lo
        return number

    def flag(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.problem(path, _("must be true or false"))
            return False
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            self.problem(path, _("must be one of {choices}, not {value}").format(
                choices=", ".join(choices), value=shown(value)))
            return choices[0]
        return value

    def text(self, value: Any, path: str, *, max_len: int = 50, required: bool = True) -> str:
        if not isinstance(value, str):
            self.problem(path, _("must be text"))
            return ""
        value = " ".join(value.split())
        if required and not value:
            self.problem(path, _("cannot be empty"))
        elif len(value) > max_len:
            self.problem(path, _("is longer than {n} characters").format(n=max_len))
        return value

    def code(self, value: Any, path: str) -> str:
        code = self.text(value, path, max_len=32)
        if code and any(ch.isspace() for ch in code):
            self.problem(path, _("a code has no spaces"))
        return code

    def texts(self, value: Any, path: str, *, codes: bool = False) -> tuple[str, ...]:
        out: dict[str, None] = {}  # in the order given; a set's speed for "listed twice"
        for item_path, item in self.items(value, path):
            one = self.code(item, item_path) if codes else self.text(item, item_path)
            if one in out:
                self.problem(item_path, _("{value} is listed twice").format(value=shown(one)))
            elif one:
                out[one] = None
        return tuple(out)

    def date(self, value: Any, path: str) -> dt.date | None:
        if isinstance(value, bool) or not isinstance(value, str | dt.date):
            self.problem(path, _("must be a date such as 2024-06-01"))
            return None
        try:
            return parse_date(value)
        except InvalidInput:
            self.problem(path, _("{value} is not a date such as 2024-06-01").format(value=shown(value)))
            return None

    def weekdays(self, value: Any, path: str) -> tuple[int, ...]:
        out: list[int] = []
        for item_path, item in self.items(value, path):
            day = self.whole(item, item_path, 1, 7)
            if day in out:
                self.problem(item_path, _("day {day} is listed twice").format(day=day))
            else:
                out.append(day)
        return tuple(out)

    def hours(self, value: Any, path: str) -> tuple[int, int] | None:
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value) if isinstance(value, str) else None
        if match is None:
            self.problem(path, _("must be a time range such as \"14:00-17:00\""))
            return None
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            self.problem(path, _("{value} is not a time of day").format(value=shown(value)))
            return None
        start, end = h1 * 60 + m1, (h2 * 60 + m2) % (24 * 60)
        if start == end:
            self.problem(path, _("starts and ends at the same time"))
            return None
        return start, end

    def month_day(self, value: Any, path: str) -> tuple[int, int] | None:
        match = re.fullmatch(r"\s*(\d{1,2})-(\d{1,2})\s*", value) if isinstance(value, str) else None
        if match is None:
            self.problem(path, _("must be a month and day such as \"01-01\""))
            return None
        month, day = int(match.group(1)), int(match.group(2))
        try:
            dt.date(2023, month, day)  # a year without 29 February: the fee must fall due every year
        except ValueError:
            self.problem(path, _("{value} is not a day that comes every year").format(value=shown(value)))
            return None
        return month, day


def _plain(hundredths: int) -> str:
    """150 → '1.5', 200 → '2'."""
    return plain_amount(hundredths)


def _number(hundredths: int) -> int | str:
    """How a multiplier or percent is written back: 2 for a whole number, '1.5' otherwise."""
    return hundredths // 100 if hundredths % 100 == 0 else _plain(hundredths)


# ------------------------------------------------------------------------------------------------ parsing


_TOP = ("version", "points", "topup", "tiers", "promotions", "birthday", "fees")


def parse_rules(data: Mapping[str, Any]) -> Rules:
    """The rules in a document (the dict TOML or JSON gives). Sections left out keep their defaults.

    Raises :class:`RulesInvalid` listing every problem, each naming its path."""
    rules, problems = _parse(data)
    if problems:
        raise RulesInvalid(problems)
    return rules


def _parse(data: Mapping[str, Any]) -> tuple[Rules, list[str]]:
    """The rules as far as they could be read, and every problem found on the way."""
    r = _Reader()
    top = r.table(data, "", _TOP)
    version = VERSION
    if "version" in top:
        version = r.whole(top["version"], "version", 1, VERSION)
    points = _parse_points(r, top.get("points"))
    topup = _parse_topup(r, top.get("topup"))
    tiers = _parse_tiers(r, top.get("tiers"))
    promotions = _parse_promotions(r, top.get("promotions"))
    birthday = _parse_birthday(r, top.get("birthday"))
    fees = _parse_fees(r, top.get("fees"))
    rules = Rules(version, points, topup, tiers, promotions, birthday, fees)
    _cross_check(r, rules)
    return rules, r.errors


def _set(r: _Reader, table: dict, key: str, path: str, read: Callable[[Any, str], Any], default: Any) -> Any:
    return read(table[key], f"{path}.{key}") if key in table else default


def _parse_points(r: _Reader, value: Any) -> PointsRules:
    d = PointsRules()
    path = "points"
    t = r.table(value, path, ("per_yuan", "principal_earns", "bonus_earns", "points_earn", "rounding",
                              "expire_months", "redeem_per_yuan", "redeem_min_points", "redeem_max_share",
                              "category_multipliers", "days", "gifts"))
    multipliers: list[tuple[str, int]] = []
    raw = t.get("category_multipliers")
    if raw is not None:
        if not isinstance(raw, Mapping):
            r.problem(f"{path}.category_multipliers", _("must be a table: category = multiplier"))
        else:
            for category, pct in raw.items():
                multipliers.append((str(category), r.hundredths(
                    pct, f"{path}.category_multipliers.{category}", 0, 10_000, _("a multiplier"))))
    days: list[PointsDay] = []
    for day_path, raw_day in r.items(t.get("days"), f"{path}.days"):
        dd = r.table(raw_day, day_path, ("name", "multiplier", "weekdays", "dates"), ("name", "multiplier"))
        weekdays = r.weekdays(dd.get("weekdays"), f"{day_path}.weekdays")
        dates = tuple(x for p, v in r.items(dd.get("dates"), f"{day_path}.dates") if (x := r.date(v, p)))
        if "weekdays" not in dd and "dates" not in dd:
            r.problem(day_path, _("say which days: weekdays (1 = Monday … 7 = Sunday) or dates"))
        days.append(PointsDay(
            _set(r, dd, "name", day_path, lambda v, p: r.text(v, p, max_len=20), ""),
            _set(r, dd, "multiplier", day_path, lambda v, p: r.hundredths(v, p, 0, 10_000, _("a multiplier")), 100),
            weekdays, dates))
    gifts: list[Gift] = []
    gift_codes: set[str] = set()
    for gift_path, raw_gift in r.items(t.get("gifts"), f"{path}.gifts"):
        gd = r.table(raw_gift, gift_path, ("code", "name", "points"), ("code", "name", "points"))
        gift = Gift(_set(r, gd, "code", gift_path, r.code, ""), _set(r, gd, "name", gift_path, r.text, ""),
                    _set(r, gd, "points", gift_path, lambda v, p: r.whole(v, p, 1, 100_000_000), 1))
        if gift.code in gift_codes:
            r.problem(f"{gift_path}.code", _("gift {code} is listed twice").format(code=gift.code))
        elif gift.code:
            gift_codes.add(gift.code)
        gifts.append(gift)
    return PointsRules(
        per_yuan_x100=_set(r, t, "per_yuan", path, lambda v, p: r.hundredths(v, p, 0, 100_000, _("a number")),
                           d.per_yuan_x100),
        principal_earns=_set(r, t, "principal_earns", path, r.flag, d.principal_earns),
        bonus_earns=_set(r, t, "bonus_earns", path, r.flag, d.bonus_earns),
        points_earn=_set(r, t, "points_earn", path, r.flag, d.points_earn),
        rounding=_set(r, t, "rounding", path, lambda v, p: r.choice(v, p, ROUNDINGS), d.rounding),
        expire_months=_set(r, t, "expire_months", path, lambda v, p: r.whole(v, p, 0, 120), d.expire_months),
        redeem_per_yuan=_set(r, t, "redeem_per_yuan", path, lambda v, p: r.whole(v, p, 1, 100_000),
                             d.redeem_per_yuan),
        redeem_min_points=_set(r, t, "redeem_min_points", path, lambda v, p: r.whole(v, p, 0, 100_000_000),
                               d.redeem_min_points),
        redeem_max_share_pct=_set(r, t, "redeem_max_share", path, lambda v, p: r.whole(v, p, 0, 100),
                                  d.redeem_max_share_pct),
        category_multipliers=tuple(multipliers) if raw is not None else d.category_multipliers,
        days=tuple(days),
        gifts=tuple(gifts),
    )


def _parse_topup(r: _Reader, value: Any) -> TopupRules:
    d = TopupRules()
    path = "topup"
    t = r.table(value, path, ("spend_order", "bonuses"))
    bonuses = d.bonuses
    if "bonuses" in t:
        parsed: list[TopupBonusRule] = []
        for rule_path, raw in r.items(t["bonuses"], f"{path}.bonuses"):
            bd = r.table(raw, rule_path, ("threshold", "bonus", "tier", "valid_from", "valid_until"),
                         ("threshold", "bonus"))
            rule = TopupBonusRule(
                _set(r, bd, "threshold", rule_path, lambda v, p: r.money(v, p, positive=True), 0),
                _set(r, bd, "bonus", rule_path, r.money, 0),
                _set(r, bd, "tier", rule_path, r.code, None),
                _set(r, bd, "valid_from", rule_path, r.date, None),
                _set(r, bd, "valid_until", rule_path, r.date, None),
            )
            _check_window(r, rule_path, rule.valid_from, rule.valid_until)
            parsed.append(rule)
        bonuses = tuple(parsed)
    return TopupRules(_set(r, t, "spend_order", path, lambda v, p: r.choice(v, p, SPEND_ORDERS), d.spend_order),
                      bonuses)


def _check_window(r: _Reader, path: str, start: dt.date | None, end: dt.date | None) -> None:
    if start is not None and end is not None and end < start:
        r.problem(f"{path}.valid_until", _("is before valid_from"))


def _parse_tiers(r: _Reader, value: Any) -> TierRules:
    d = TierRules()
    path = "tiers"
    t = r.table(value, path, ("basis", "window_months", "downgrade", "grace_months", "levels"))
    basis = _set(r, t, "basis", path, lambda v, p: r.choice(v, p, TIER_BASES), d.basis)
    levels: list[TierBenefit] = []
    tiers_named: set[str] = set()
    for level_path, raw in r.items(t.get("levels"), f"{path}.levels"):
        ld = r.table(raw, level_path, ("tier", "category_discounts", "upgrade_at", "keep_at", "birthday_gift"),
                     ("tier",))
        tier = _set(r, ld, "tier", level_path, r.code, "")
        if tier in tiers_named:
            r.problem(f"{level_path}.tier", _("tier {code} is listed twice").format(code=tier))
        elif tier:
            tiers_named.add(tier)
        discounts: list[tuple[str, int]] = []
        raw_discounts = ld.get("category_discounts")
        if raw_discounts is not None:
            if not isinstance(raw_discounts, Mapping):
                r.problem(f"{level_path}.category_discounts", _("must be a table: category = percent off"))
            else:
                for category, off in raw_discounts.items():
                    off_bp = r.hundredths(off, f"{level_path}.category_discounts.{category}", 0, 10_000,
                                          _("a percent off"))
                    discounts.append((str(category), 10_000 - off_bp))
        upgrade_at = None
        if "upgrade_at" in ld:
            if basis == "spend":
                r.problem(f"{level_path}.upgrade_at", _("with basis spend, a tier's upgrade spend is set on the "
                                                        "tier itself"))
            else:
                upgrade_at = r.whole(ld["upgrade_at"], f"{level_path}.upgrade_at", 0, 1_000_000_000)
        keep_at = None
        if "keep_at" in ld:
            keep_at = (r.money(ld["keep_at"], f"{level_path}.keep_at") if basis == "spend"
                       else r.whole(ld["keep_at"], f"{level_path}.keep_at", 0, 1_000_000_000))
        levels.append(TierBenefit(tier, tuple(discounts), upgrade_at, keep_at,
                                  _set(r, ld, "birthday_gift", level_path, r.code, None)))
    return TierRules(
        basis=basis,
        window_months=_set(r, t, "window_months", path, lambda v, p: r.whole(v, p, 0, 120), d.window_months),
        downgrade=_set(r, t, "downgrade", path, r.flag, d.downgrade),
        grace_months=_set(r, t, "grace_months", path, lambda v, p: r.whole(v, p, 0, 120), d.grace_months),
        levels=tuple(levels),
    )


#: which settings each kind of promotion needs, and which it may have besides the common ones
_PROMO_REQUIRED = {
    "amount": ("amount",),
    "percent": ("percent",),
    "threshold": ("threshold", "amount"),
    "free_item": ("item",),
    "buy_n_get_1": ("buy",),
}
_PROMO_OPTIONAL = {"threshold": ("repeat",), "free_item": ("threshold",)}
_PROMO_KIND_KEYS = ("amount", "percent", "threshold", "repeat", "item", "buy")
_PROMO_COMMON = ("code", "kind", "name", "auto", "stacking", "valid_from", "valid_until", "weekdays", "hours",
                 "stores", "categories", "items", "per_member_limit")


def _parse_promotions(r: _Reader, value: Any) -> tuple[Promotion, ...]:
    promotions: list[Promotion] = []
    codes: set[str] = set()  # checking "listed twice" against a list made 32,000 promotions take 25 s
    for path, raw in r.items(value, "promotions"):
        pd = r.table(raw, path, _PROMO_COMMON + _PROMO_KIND_KEYS, ("code", "kind", "auto"))
        kind = r.choice(pd["kind"], f"{path}.kind", PROMOTION_KINDS) if "kind" in pd else "amount"
        # the settings of a kind are checked only once the kind is known (a wrong kind is one problem, not five)
        allowed: tuple[str, ...] = ()
        if pd.get("kind") in PROMOTION_KINDS:
            allowed = _PROMO_REQUIRED[kind] + _PROMO_OPTIONAL.get(kind, ())
            for key in _PROMO_KIND_KEYS:
                if key in pd and key not in allowed:
                    r.problem(f"{path}.{key}", _("does not apply to a promotion of kind {kind}").format(kind=kind))
                elif key in _PROMO_REQUIRED[kind] and key not in pd:
                    r.problem(f"{path}.{key}", _("is required for a promotion of kind {kind}").format(kind=kind))
        code = _set(r, pd, "code", path, r.code, "")
        if code in codes:
            r.problem(f"{path}.code", _("promotion {code} is listed twice").format(code=code))
        elif code:
            codes.add(code)
        promo = Promotion(
            code=code,
            kind=kind,
            auto=_set(r, pd, "auto", path, r.flag, False),
            name=_set(r, pd, "name", path, lambda v, p: r.text(v, p, max_len=20), ""),
            amount_fen=_set(r, pd, "amount", path, lambda v, p: r.money(v, p, positive=True), 0)
            if "amount" in allowed else 0,
            threshold_fen=_set(r, pd, "threshold", path, lambda v, p: r.money(v, p, positive=True), 0)
            if "threshold" in allowed else 0,
            repeat=_set(r, pd, "repeat", path, r.flag, False) if "repeat" in allowed else False,
            percent_bp=_set(r, pd, "percent", path, lambda v, p: r.hundredths(v, p, 100, 9_900, _("a percent")), 0)
            if "percent" in allowed else 0,
            item=_set(r, pd, "item", path, r.code, None) if "item" in allowed else None,
            buy=_set(r, pd, "buy", path, lambda v, p: r.whole(v, p, 1, 99), 0) if "buy" in allowed else 0,
            stacking=_set(r, pd, "stacking", path, lambda v, p: r.choice(v, p, STACKING), "exclusive"),
            valid_from=_set(r, pd, "valid_from", path, r.date, None),
            valid_until=_set(r, pd, "valid_until", path, r.date, None),
            weekdays=r.weekdays(pd.get("weekdays"), f"{path}.weekdays"),
            hours=_set(r, pd, "hours", path, r.hours, None),
            stores=r.texts(pd.get("stores"), f"{path}.stores", codes=True),
            categories=r.texts(pd.get("categories"), f"{path}.categories"),
            items=r.texts(pd.get("items"), f"{path}.items", codes=True),
            per_member_limit=_set(r, pd, "per_member_limit", path, lambda v, p: r.whole(v, p, 0, 10_000), 0),
        )
        _check_window(r, path, promo.valid_from, promo.valid_until)
        if kind == "threshold" and promo.amount_fen > promo.threshold_fen > 0:
            r.problem(f"{path}.amount", _("is more than the threshold ({threshold})").format(
                threshold=plain_amount(promo.threshold_fen)))
        promotions.append(promo)
    return tuple(promotions)


def _parse_birthday(r: _Reader, value: Any) -> BirthdayRules:
    d = BirthdayRules()
    path = "birthday"
    t = r.table(value, path, ("window", "promotion", "gift"))
    return BirthdayRules(_set(r, t, "window", path, lambda v, p: r.choice(v, p, BIRTHDAY_WINDOWS), d.window),
                         _set(r, t, "promotion", path, r.code, None), _set(r, t, "gift", path, r.code, None))


def _parse_fees(r: _Reader, value: Any) -> FeeRules:
    d = FeeRules()
    path = "fees"
    t = r.table(value, path, ("joining", "annual", "annual_due", "annual_due_date", "grace_days", "late_fee"))
    due = _set(r, t, "annual_due", path, lambda v, p: r.choice(v, p, ANNUAL_DUE), d.annual_due)
    due_date = _set(r, t, "annual_due_date", path, r.month_day, None)
    if due == "fixed" and "annual_due_date" not in t:
        r.problem(f"{path}.annual_due_date", _("is required when annual_due is fixed (such as \"01-01\")"))
    if due != "fixed" and "annual_due_date" in t:
        r.problem(f"{path}.annual_due_date", _("applies only when annual_due is fixed"))
        due_date = None
    return FeeRules(
        joining_fen=_set(r, t, "joining", path, r.money, 0),
        annual_fen=_set(r, t, "annual", path, r.money, 0),
        annual_due=due,
        annual_due_date=due_date,
        grace_days=_set(r, t, "grace_days", path, lambda v, p: r.whole(v, p, 0, 366), 0),
        late_fen=_set(r, t, "late_fee", path, r.money, 0),
    )


def _cross_check(r: _Reader, rules: Rules) -> None:
    """What one section says about another: codes that must exist in the same document."""
    gifts = {g.code for g in rules.points.gifts}
    if rules.birthday.gift is not None and rules.birthday.gift not in gifts:
        r.problem("birthday.gift", _("no gift {code} in points.gifts").format(code=rules.birthday.gift))
    for i, level in enumerate(rules.tiers.levels, start=1):
        if level.birthday_gift is not None and level.birthday_gift not in gifts:
            r.problem(f"tiers.levels[{i}].birthday_gift",
                      _("no gift {code} in points.gifts").format(code=level.birthday_gift))
    if rules.birthday.promotion is not None:
        promo = rules.promotion(rules.birthday.promotion)
        if promo is None:
            r.problem("birthday.promotion", _("no promotion {code}").format(code=rules.birthday.promotion))
        elif promo.auto:
            r.problem("birthday.promotion", _("promotion {code} applies to everyone (auto = true); a birthday "
                                              "promotion needs auto = false").format(code=promo.code))


# ------------------------------------------------------------------------------------------------ writing


def rules_to_dict(rules: Rules) -> dict[str, Any]:
    """The document as plain values (strings, whole numbers, booleans, lists, tables): what TOML and JSON hold.

    Money is a string of yuan; absent optional values are left out (TOML has no null)."""
    p = rules.points
    points: dict[str, Any] = {
        "per_yuan": _number(p.per_yuan_x100),
        "principal_earns": p.principal_earns,
        "bonus_earns": p.bonus_earns,
        "points_earn": p.points_earn,
        "rounding": p.rounding,
        "expire_months": p.expire_months,
        "redeem_per_yuan": p.redeem_per_yuan,
        "redeem_min_points": p.redeem_min_points,
        "redeem_max_share": p.redeem_max_share_pct,
        "category_multipliers": {c: _number(m) for c, m in p.category_multipliers},
        "days": [_drop_none({"name": d.name, "multiplier": _number(d.multiplier_pct),
                             "weekdays": list(d.weekdays) or None,
                             "dates": [x.isoformat() for x in d.dates] or None}) for d in p.days],
        "gifts": [{"code": g.code, "name": g.name, "points": g.points} for g in p.gifts],
    }
    topup = {
        "spend_order": rules.topup.spend_order,
        "bonuses": [_drop_none({"threshold": plain_amount(b.threshold_fen), "bonus": plain_amount(b.bonus_fen),
                                "tier": b.tier, "valid_from": _iso(b.valid_from), "valid_until": _iso(b.valid_until)})
                    for b in rules.topup.bonuses],
    }
    t = rules.tiers
    tiers = {
        "basis": t.basis, "window_months": t.window_months, "downgrade": t.downgrade, "grace_months": t.grace_months,
        "levels": [_drop_none({
            "tier": level.tier,
            "category_discounts": {c: _number(10_000 - bp) for c, bp in level.category_discounts} or None,
            "upgrade_at": level.upgrade_at,
            "keep_at": (plain_amount(level.keep_at) if t.basis == "spend" else level.keep_at)
            if level.keep_at is not None else None,
            "birthday_gift": level.birthday_gift,
        }) for level in t.levels],
    }
    b = rules.birthday
    f = rules.fees
    fees = _drop_none({
        "joining": plain_amount(f.joining_fen), "annual": plain_amount(f.annual_fen), "annual_due": f.annual_due,
        "annual_due_date": f"{f.annual_due_date[0]:02d}-{f.annual_due_date[1]:02d}" if f.annual_due_date else None,
        "grace_days": f.grace_days, "late_fee": plain_amount(f.late_fen),
    })
    return {
        "version": rules.version,
        "points": points,
        "topup": topup,
        "tiers": tiers,
        "promotions": [_promotion_dict(x) for x in rules.promotions],
        "birthday": _drop_none({"window": b.window, "promotion": b.promotion, "gift": b.gift}),
        "fees": fees,
    }


def _promotion_dict(p: Promotion) -> dict[str, Any]:
    out: dict[str, Any] = {"code": p.code, "kind": p.kind, "auto": p.auto}
    if p.name:
        out["name"] = p.name
    if p.kind in ("amount", "threshold"):
        if p.kind == "threshold":
            out["threshold"] = plain_amount(p.threshold_fen)
        out["amount"] = plain_amount(p.amount_fen)
        if p.repeat:
            out["repeat"] = True
    elif p.kind == "percent":
        out["percent"] = _number(p.percent_bp)
    elif p.kind == "free_item":
        out["item"] = p.item
        if p.threshold_fen:
            out["threshold"] = plain_amount(p.threshold_fen)
    else:
        out["buy"] = p.buy
    out["stacking"] = p.stacking
    optional = {
        "valid_from": _iso(p.valid_from),
        "valid_until": _iso(p.valid_until),
        "weekdays": list(p.weekdays) or None,
        "hours": f"{_hhmm(p.hours[0])}-{_hhmm(p.hours[1])}" if p.hours else None,
        "stores": list(p.stores) or None,
        "categories": list(p.categories) or None,
        "items": list(p.items) or None,
        "per_member_limit": p.per_member_limit or None,
    }
    out.update(_drop_none(optional))
    return out


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# ------------------------------------------------------------------------------------------------ files


_TOML_HEADER = (
    "# mms loyalty rules (会员规则). Money in yuan; weekdays 1 = Monday … 7 = Sunday.\n"
    "# Edit, then load with: mms rules import FILE\n\n"
)


def rules_to_text(rules: Rules, fmt: str = "toml") -> str:
    """The document as a TOML or JSON file's text."""
    import tomli_w

    data = rules_to_dict(rules)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt != "toml":
        raise InvalidInput(_("Rules are written as toml or json, not {fmt!r}.").format(fmt=fmt))
    return _TOML_HEADER + tomli_w.dumps(data)


def document_from_text(text: str, fmt: str | None = None, *, source: str = "") -> dict[str, Any]:
    """The plain document in a TOML or JSON text (``fmt`` None: JSON when it starts with ``{``, else TOML)."""
    text = text.removeprefix("\ufeff")
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "toml"
    where = f"{source}: " if source else ""
    if fmt not in FORMATS:
        raise InvalidInput(_("Rules are read from toml or json, not {fmt!r}.").format(fmt=fmt))
    try:
        if fmt == "json":
            data = json.loads(text)
            if not isinstance(data, dict):
                raise InvalidInput(_("{where}the rules must be a JSON object").format(where=where))
        else:
            data = tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(_("{where}not valid JSON: {error}").format(where=where, error=exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(_("{where}not valid TOML: {error}").format(where=where, error=exc)) from None
    except RecursionError:  # [[[[…]]]] a hundred thousand deep: no rules document nests more than a few levels
        raise InvalidInput(_("{where}nested too deeply to be a rules document").format(where=where)) from None
    if not data:
        # an empty file (or only comments) would silently put every rule back to its default
        raise InvalidInput(_("{where}there are no rules in it; to go back to the defaults on purpose, import a "
                             "document that says only version = 1").format(where=where))
    return data


def rules_from_text(text: str, fmt: str | None = None, *, source: str = "") -> Rules:
    """The rules in a TOML or JSON text; :class:`RulesInvalid` lists every problem."""
    return parse_rules(document_from_text(text, fmt, source=source))


def format_for(path: str, fmt: str | None = None) -> str:
    """The format asked for, else the one a file name says (``.json``), else TOML."""
    if fmt is not None:
        return fmt
    return "json" if str(path).lower().endswith(".json") else "toml"


def read_rules_file(path: str | Path, fmt: str | None = None) -> dict[str, Any]:
    """The plain document in a rules file as a manager saved it (UTF-8, with or without BOM); TOML unless it is
    ``.json`` or starts with ``{``. :func:`save_rules` validates it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(_("Cannot read {file}: {error}").format(file=path, error=exc.strerror or exc)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(_("{file} is not UTF-8 text (byte {offset}); save it as UTF-8.").format(
            file=path, offset=exc.start)) from None
    if fmt is None and path.suffix.lower() in (".json", ".toml"):
        fmt = path.suffix.lower()[1:]
    return document_from_text(text, fmt, source=str(path))


def write_rules_file(rules: Rules, path: str | Path, fmt: str | None = None) -> str:
    """Write the document to ``path`` whole or not at all, private, as every file mms writes
    (:func:`mms_tui.services.base.files.write_file`); returns the format used."""
    from mms_tui.services.base.files import write_file

    fmt = format_for(str(path), fmt)
    write_file(path, rules_to_text(rules, fmt).encode("utf-8"))
    return fmt


# ------------------------------------------------------------------------------------------------ storage


#: the last document read and what it parsed to: (stored text, rules). Rules are immutable, so every caller may
#: share one; keyed by the exact text, so a change saved by any process is parsed the next time it is read.
_parsed: tuple[str, Rules] | None = None


def load_rules() -> Rules:
    """The rules in force: the saved document, or the defaults when none was saved.

    One keyed read of the ``Config`` row every time (so a document saved at another desk is in force at once,
    and a checkout reads it inside its own write transaction); parsed again only when its text changed."""
    global _parsed
    rows = fetch_rows('SELECT "value" FROM "config" WHERE "key" = ?', (CONFIG_KEY,))
    if not rows:
        return default_rules()
    text = rows[0][0]
    cached = _parsed
    if cached is not None and cached[0] == text:
        return cached[1]
    try:
        rules = parse_rules(json.loads(text))
    except (RulesInvalid, json.JSONDecodeError) as exc:
        raise InvalidInput(_("The saved loyalty rules cannot be read ({error}); import them again with "
                             "mms rules import.").format(error=exc)) from None
    _parsed = (text, rules)
    return rules


def check_references(rules: Rules) -> list[str]:
    """Problems with what the document names in the database: tiers, stores, products and services."""
    problems: list[str] = []
    tiers = {t.code: t for t in Tier.select()}
    stores = {s.code for s in Store.select(Store.code)}
    items = {c for (c,) in Product.select(Product.code).tuples()} | {
        c for (c,) in ServiceItem.select(ServiceItem.code).tuples()}

    def tier(path: str, code: str | None) -> None:
        if code is not None and code not in tiers:
            problems.append(f"{path}: " + _("no tier {code} (tiers: {known})").format(
                code=code, known=", ".join(sorted(tiers))))

    for i, b in enumerate(rules.topup.bonuses, start=1):
        tier(f"topup.bonuses[{i}].tier", b.tier)
    for i, level in enumerate(rules.tiers.levels, start=1):
        tier(f"tiers.levels[{i}].tier", level.tier)
    if rules.tiers.basis != "spend":
        named = {level.tier: level for level in rules.tiers.levels}
        for code, row in sorted(tiers.items(), key=lambda kv: kv[1].rank):
            level = named.get(code)
            if row.rank > 0 and (level is None or level.upgrade_at is None):
                problems.append("tiers.levels: " + _("tier {code} needs upgrade_at when the basis is {basis}").format(
                    code=code, basis=rules.tiers.basis))
    for i, p in enumerate(rules.promotions, start=1):
        for j, store in enumerate(p.stores, start=1):
            if store not in stores:
                problems.append(f"promotions[{i}].stores[{j}]: " + _("no store {code}").format(code=store))
        for j, code in enumerate(p.items, start=1):
            if code not in items:
                problems.append(f"promotions[{i}].items[{j}]: " + _("no product or service {code}").format(code=code))
        if p.item is not None and p.item not in items:
            problems.append(f"promotions[{i}].item: " + _("no product or service {code}").format(code=p.item))
    return problems


def save_rules(rules: Rules | Mapping[str, Any], staff: Staff, *, dry_run: bool = False) -> Rules:
    """Validate (the document and what it names in the database) and make it the rules in force.

    A manager's decision: cashiers are refused. Nothing is written unless everything is valid (``dry_run``: check
    only); the change leaves a ``rules.save`` audit event with the new document."""
    require(staff, "rules.edit")
    problems: list[str] = []
    if not isinstance(rules, Rules):
        rules, problems = _parse(rules)
    problems += check_references(rules)
    if problems:
        raise RulesInvalid(problems)
    if dry_run:
        return rules
    document = rules_to_dict(rules)
    text = json.dumps(document, ensure_ascii=False)
    with write_transaction():
        before = Config.get_or_none(Config.key == CONFIG_KEY)
        Config.insert(key=CONFIG_KEY, value=text).on_conflict(
            conflict_target=[Config.key], update={Config.value: text}).execute()
        audit("rules.save", "config:" + CONFIG_KEY, staff=staff, store=None,
              payload={"rules": document, "replaced": before is not None})
    return rules
