"""Tiers kept by a manager (issue #17): ``mms tiers list|add|edit`` and the manager's area.

A tier is two things kept in two places that never overlap: its row in the tier table (code, name, rank: what a
member's record points at and the order tiers rise in) and its level in the loyalty rules document (what it
gives and what it takes: the discount, the points multiplier, the upgrade and keep thresholds, per-category
discounts, the birthday gift). Adding or editing a tier writes both in one transaction: the row with an audited
``tier.add``/``tier.edit`` event (before → after, every term included) and its state on the chain, and the
rules as a ``rules.save`` — validated as a whole, so a tier the rules' basis cannot reach (points or visits with no
threshold) is refused with the rules' own message and nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any

import peewee

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Member, Staff, Tier
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.base.text import format_money, parse_yuan, plain_amount
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.ledger.operations import audit
from mms_tui.services.loyalty.rules import Rules, TierBenefit
from mms_tui.services.loyalty.rules_store import load_rules, store_rules
from mms_tui.services.staff.permissions import require

#: what :func:`edit_tier` may change (a code never changes: members, rules and history name it)
EDITABLE = ("name", "rank", "price_bp", "points_pct", "upgrade_at", "keep_at")


@dataclass(frozen=True)
class TierInfo:
    code: str
    name: str
    rank: int
    members: int
    #: price paid in basis points (9000 = 9折)
    price_bp: int
    #: points multiplier in percent (150 = ×1.5)
    points_pct: int
    #: thresholds in the basis's unit (fen with spend); None: given by hand only / its upgrade threshold
    upgrade_at: int | None
    keep_at: int | None
    basis: str
    #: category → price paid in basis points (set in the rules document)
    category_discounts: tuple[tuple[str, int], ...] = ()

    def threshold_text(self, value: int | None) -> str:
        """A threshold as a person reads it: ¥5,000.00, 300 points, 12 visits; '' for none."""
        if value is None:
            return ""
        if self.basis == "spend":
            return format_money(value)
        return (_("{n} points") if self.basis == "points" else _("{n} visits")).format(n=value)


def _info(tier: Tier, rules: Rules, members: int) -> TierInfo:
    level = rules.tiers.benefit(tier.code) or TierBenefit(tier.code)
    return TierInfo(tier.code, tier.name, tier.rank, members, level.price_bp, level.points_pct, level.upgrade_at,
                    level.keep_at, rules.tiers.basis, level.category_discounts)


def _member_counts() -> dict[int, int]:
    return dict(Member.select(Member.tier, peewee.fn.COUNT(Member.id)).group_by(Member.tier).tuples())


def list_tiers() -> list[TierInfo]:
    """Every tier, lowest first, with what it gives and takes and how many members hold it."""
    rules = load_rules()
    counts = _member_counts()
    return [_info(t, rules, counts.get(t.id, 0)) for t in Tier.select().order_by(Tier.rank, Tier.id)]


def find_tier(code: str) -> Tier:
    tier = Tier.get_or_none(Tier.code == (code or "").strip().upper())
    if tier is None:
        known = ", ".join(c for (c,) in Tier.select(Tier.code).order_by(Tier.rank).tuples())
        raise NotFound(_("No tier {code} (tiers: {known}).").format(code=code, known=known))
    return tier


def parse_threshold(text: str, basis: str | None = None) -> int:
    """A threshold typed by a manager in the rules' basis: yuan with spend ("5000", "¥1,000.50"), a whole number
    of points or visits otherwise."""
    basis = basis or load_rules().tiers.basis
    text = (text or "").strip()
    if basis == "spend":
        return parse_yuan(text)
    if not re.fullmatch(r"\d{1,9}", text):
        raise InvalidInput(_("{value!r} is not a whole number of {unit}.").format(
            value=text, unit=_("points") if basis == "points" else _("visits")))
    return int(text)


def terms_from_text(*, pays: str | None = None, points: str | None = None, upgrade_at: str | None = None,
                    keep_at: str | None = None) -> dict[str, int | None]:
    """What a manager typed for a tier (percent paid, a multiplier, thresholds in the rules' basis; 'none' or ''
    for no threshold), as :func:`add_tier`/:func:`edit_tier` take it; a bad value is refused naming its field."""

    def named(field: str, read):
        try:
            return read()
        except InvalidInput as exc:
            raise InvalidInput(_("{field}: {reason}").format(field=field, reason=exc)) from None

    given: dict[str, int | None] = {}
    if pays is not None:
        given["price_bp"] = named(_("Pays"), lambda: parse_yuan(pays.strip().removesuffix("%")))
    if points is not None:
        given["points_pct"] = named(_("Points multiplier"), lambda: parse_yuan(points.strip().lstrip("×xX")))
    for key, field, text in (("upgrade_at", _("Upgrade at"), upgrade_at), ("keep_at", _("Keep at"), keep_at)):
        if text is not None:
            given[key] = (None if text.strip().lower() in ("", "none")
                          else named(field, lambda text=text: parse_threshold(text)))
    return given


def _checked(code: str, name: str, rank: Any, price_bp: Any, points_pct: Any, upgrade_at: Any,
             keep_at: Any) -> tuple[str, str, int]:
    code = (code or "").strip().upper()
    if not code:
        raise InvalidInput(_("Code: required."))
    if len(code) > 20 or any(ch.isspace() for ch in code):
        raise InvalidInput(_("Code: at most 20 characters, no spaces."))
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Name: required."))
    if len(name) > 50:
        raise InvalidInput(_("Name: longer than 50 characters."))

    def whole(value: Any, lo: int, hi: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi

    if not whole(rank, 0, 999):
        raise InvalidInput(_("Rank: a whole number from 0 (the lowest tier) to 999."))
    if not whole(price_bp, 0, 10_000):
        raise InvalidInput(_("Pays: a percent of the price from 0 to 100 (90 = 9折)."))
    if not whole(points_pct, 0, 10_000):
        raise InvalidInput(_("Points multiplier: from 0 to 100 (1.5 = half as many points again)."))
    for label, value in ((_("Upgrade at"), upgrade_at), (_("Keep at"), keep_at)):
        if value is not None and not whole(value, 0, 10**15):
            raise InvalidInput(_("{field}: cannot be negative.").format(field=label))
    return code, name, rank


def _rank_free(rank: int, but: int | None = None) -> None:
    other = Tier.get_or_none((Tier.rank == rank) & (Tier.id != (but or 0)))
    if other is not None:
        raise InvalidInput(_("Rank: {rank} is already {tier}'s; tiers rise one rank after another.").format(
            rank=rank, tier=other.code))


def _with_level(rules: Rules, level: TierBenefit) -> Rules:
    """The rules with ``level`` in place of the tier's level (added at the end when it had none; left out when it
    gives and takes nothing at all)."""
    empty = TierBenefit(level.tier)
    levels = [lv for lv in rules.tiers.levels if lv.tier != level.tier]
    if level != empty:
        at = next((i for i, lv in enumerate(rules.tiers.levels) if lv.tier == level.tier), len(levels))
        levels.insert(at, level)
    return replace(rules, tiers=replace(rules.tiers, levels=tuple(levels)))


def _record(action: str, tier: Tier, staff: Staff, before: TierInfo | None, rules: Rules) -> TierInfo:
    after = _info(tier, rules, Member.select().where(Member.tier == tier.id).count())
    audit(action, f"tier:{tier.id}", staff=staff, store=None,
          payload={"before": asdict(before) if before else None, "after": asdict(after)})
    record_states("tier", [tier.id], staff=staff)
    return after


def add_tier(staff: Staff, code: str, name: str, rank: int, *, price_bp: int = 10_000, points_pct: int = 100,
             upgrade_at: int | None = None, keep_at: int | None = None) -> TierInfo:
    """A new tier. Needs a manager; a code or a rank taken is refused, as are rules that would not hold."""
    require(staff, "tiers.edit")
    code, name, rank = _checked(code, name, rank, price_bp, points_pct, upgrade_at, keep_at)
    with write_transaction():
        if Tier.get_or_none(Tier.code == code) is not None:
            raise InvalidInput(_("Code: {code} is already a tier.").format(code=code))
        _rank_free(rank)
        tier = Tier.create(code=code, name=name, rank=rank)
        rules = load_rules()
        level = TierBenefit(code, upgrade_at=upgrade_at, keep_at=keep_at, price_bp=price_bp, points_pct=points_pct)
        rules = store_rules(_with_level(rules, level), staff, why=f"tier.add {code}")
        return _record("tier.add", tier, staff, None, rules)


def edit_tier(staff: Staff, code: str, **changes: Any) -> TierInfo:
    """Change some of :data:`EDITABLE`; ``upgrade_at``/``keep_at`` None clears a threshold (the tier is then given
    by hand only / kept at its upgrade threshold). Needs a manager; nothing is written unless all of it holds."""
    require(staff, "tiers.edit")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(_("Cannot change {fields}.").format(fields=", ".join(unknown)))
    with write_transaction():
        tier = find_tier(code)
        rules = load_rules()
        before = _info(tier, rules, Member.select().where(Member.tier == tier.id).count())
        after = replace(before, **changes)
        if after == before:
            return before
        _checked(after.code, after.name, after.rank, after.price_bp, after.points_pct, after.upgrade_at,
                 after.keep_at)
        if after.rank != before.rank:
            _rank_free(after.rank, tier.id)
        name = " ".join(after.name.split())
        Tier.update(name=name, rank=after.rank).where(Tier.id == tier.id).execute()
        level = replace(rules.tiers.benefit(tier.code) or TierBenefit(tier.code), price_bp=after.price_bp,
                        points_pct=after.points_pct, upgrade_at=after.upgrade_at, keep_at=after.keep_at)
        if level != (rules.tiers.benefit(tier.code) or TierBenefit(tier.code)):
            rules = store_rules(_with_level(rules, level), staff, why=f"tier.edit {tier.code}")
        return _record("tier.edit", Tier.get_by_id(tier.id), staff, before, rules)


def describe_terms(info: TierInfo) -> dict[str, str]:
    """A tier's terms as the desk and the command line show them."""
    from mms_tui.services.base.text import discount_label

    return {"pays": discount_label(info.price_bp) if info.price_bp < 10_000 else "",
            "points": f"×{plain_amount(info.points_pct)}" if info.points_pct != 100 else "",
            "upgrade_at": info.threshold_text(info.upgrade_at), "keep_at": info.threshold_text(info.keep_at)}
