"""Reading the rules document (the plain dict TOML or JSON gives) into
:class:`~mms_tui.services.loyalty.rules.Rules`, every problem named by its place.

How a manager writes values, and what they become inside:

* **money** is yuan, as a string or a number: ``"300"``, ``"0.5"``, ``"¥1,000"`` → integer fen, parsed exactly by
  :func:`~mms_tui.services.base.text.parse_yuan` (a float a TOML file gives, ``0.5``, is read from its shortest
  decimal form, never through float arithmetic); written back as a string of yuan;
* **multipliers** (``2``, ``"1.5"``) → percent (200, 150);
* **percent off** (``20``, ``"12.5"``) → basis points; a tier's discount (and per-category discount) is kept as
  the price paid in basis points (10 % off → 9000, shown as 9折);
* **weekdays** are 1 (Monday, 周一) to 7 (Sunday, 周日); **dates** ``2024-06-01``; **hours** ``"14:00-17:00"``
  (the end is not included; ``"22:00-02:00"`` runs past midnight).

Every problem is reported as one line naming its place in the document, lists counted from 1 as a person counts
the ``[[promotions]]`` blocks in a file: ``promotions[2].percent: must be between 1 and 99``. Unknown settings are
problems too (a misspelt key would otherwise be silently ignored). All problems are collected and raised together
as :class:`~mms_tui.services.base.errors.RulesInvalid`.

A little over 500 lines, kept whole: the section parsers and the value reader (``_Reader``) they all share are one
piece of work, and nothing else reads values this way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput, RulesInvalid
from mms_tui.services.base.text import parse_date, parse_yuan, plain_amount, shown
from mms_tui.services.loyalty.rules import (
    ANNUAL_DUE,
    BIRTHDAY_WINDOWS,
    PROMOTION_KINDS,
    ROUNDINGS,
    SPEND_ORDERS,
    STACKING,
    TIER_BASES,
    VERSION,
    BirthdayRules,
    FeeRules,
    Gift,
    PointsDay,
    PointsRules,
    Promotion,
    Rules,
    TierBenefit,
    TierRules,
    TopupBonusRule,
    TopupRules,
)
from mms_tui.services.loyalty.rules_bookings import parse_bookings
from mms_tui.services.loyalty.rules_commissions import parse_commissions
from mms_tui.services.loyalty.rules_messages import parse_messages
from mms_tui.services.loyalty.rules_segments import parse_segments

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
            fen = parse_yuan(text)
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


# ------------------------------------------------------------------------------------------------ parsing


_TOP = ("version", "points", "topup", "tiers", "promotions", "birthday", "fees", "commissions", "bookings",
        "messages", "segments")


def parse_rules(data: Mapping[str, Any]) -> Rules:
    """The rules in a document (the dict TOML or JSON gives). Sections left out keep their defaults.

    Raises :class:`RulesInvalid` listing every problem, each naming its path."""
    rules, problems = parse_with_problems(data)
    if problems:
        raise RulesInvalid(problems)
    return rules


def parse_with_problems(data: Mapping[str, Any]) -> tuple[Rules, list[str]]:
    """The rules as far as they could be read, and every problem found on the way
    (:func:`~mms_tui.services.loyalty.rules_store.save_rules` adds those of the database before it raises)."""
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
    commissions = parse_commissions(r, top.get("commissions"))
    bookings = parse_bookings(r, top.get("bookings"))
    messages = parse_messages(r, top.get("messages"))
    segments = parse_segments(r, top.get("segments"))
    rules = Rules(version, points, topup, tiers, promotions, birthday, fees, commissions, bookings, messages,
                  segments)
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
        gd = r.table(raw_gift, gift_path, ("code", "name", "points", "coupon", "valid_days"),
                     ("code", "name", "points"))
        gift = Gift(_set(r, gd, "code", gift_path, r.code, ""), _set(r, gd, "name", gift_path, r.text, ""),
                    _set(r, gd, "points", gift_path, lambda v, p: r.whole(v, p, 1, 100_000_000), 1),
                    _set(r, gd, "coupon", gift_path, r.code, None),
                    _set(r, gd, "valid_days", gift_path, lambda v, p: r.whole(v, p, 1, 3650), None))
        if gift.valid_days is not None and gift.coupon is None:
            r.problem(f"{gift_path}.valid_days", _("only a gift that is a coupon has valid days"))
        if gift.code in gift_codes:
            r.problem(f"{gift_path}.code", _("gift {code} is listed twice").format(code=gift.code))
        elif gift.code:
            gift_codes.add(gift.code)
        gifts.append(gift)
    return PointsRules(
        earn_per_yuan_x100=_set(r, t, "per_yuan", path,
                                lambda v, p: r.hundredths(v, p, 0, 100_000, _("a number")), d.earn_per_yuan_x100),
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
        ld = r.table(raw, level_path, ("tier", "discount", "points_multiplier", "category_discounts", "upgrade_at",
                                        "keep_at", "birthday_gift"),
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
            upgrade_at = (r.money(ld["upgrade_at"], f"{level_path}.upgrade_at") if basis == "spend"
                          else r.whole(ld["upgrade_at"], f"{level_path}.upgrade_at", 0, 1_000_000_000))
        price_bp = 10_000
        if "discount" in ld:
            price_bp = 10_000 - r.hundredths(ld["discount"], f"{level_path}.discount", 0, 10_000, _("a percent off"))
        points_pct = 100
        if "points_multiplier" in ld:
            points_pct = r.hundredths(ld["points_multiplier"], f"{level_path}.points_multiplier", 0, 10_000,
                                      _("a multiplier"))
        keep_at = None
        if "keep_at" in ld:
            keep_at = (r.money(ld["keep_at"], f"{level_path}.keep_at") if basis == "spend"
                       else r.whole(ld["keep_at"], f"{level_path}.keep_at", 0, 1_000_000_000))
        levels.append(TierBenefit(tier, tuple(discounts), upgrade_at, keep_at,
                                  _set(r, ld, "birthday_gift", level_path, r.code, None), price_bp, points_pct))
    return TierRules(
        basis=basis,
        window_months=_set(r, t, "window_months", path, lambda v, p: r.whole(v, p, 0, 120), d.window_months),
        downgrade=_set(r, t, "downgrade", path, r.flag, d.downgrade),
        grace_months=_set(r, t, "grace_months", path, lambda v, p: r.whole(v, p, 0, 120), d.grace_months),
        # left out: the default tiers' default terms, which are in yuan spent (no default counts points or visits)
        levels=tuple(levels) if "levels" in t else (d.levels if basis == "spend" else ()),
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
    for i, gift in enumerate(rules.points.gifts, start=1):
        if gift.coupon is None:
            continue
        promo = rules.promotion(gift.coupon)
        if promo is None:
            r.problem(f"points.gifts[{i}].coupon", _("no promotion {code}").format(code=gift.coupon))
        elif promo.auto:
            r.problem(f"points.gifts[{i}].coupon", _("promotion {code} applies to everyone (auto = true); a coupon "
                                                     "for points needs auto = false").format(code=promo.code))
        if gift.code == rules.birthday.gift or any(level.birthday_gift == gift.code for level in rules.tiers.levels):
            r.problem(f"points.gifts[{i}]", _("gift {code} is a coupon: a birthday gives a coupon by "
                                              "birthday.promotion").format(code=gift.code))
    if rules.birthday.promotion is not None:
        promo = rules.promotion(rules.birthday.promotion)
        if promo is None:
            r.problem("birthday.promotion", _("no promotion {code}").format(code=rules.birthday.promotion))
        elif promo.auto:
            r.problem("birthday.promotion", _("promotion {code} applies to everyone (auto = true); a birthday "
                                              "promotion needs auto = false").format(code=promo.code))
