"""Coupons at the till: the codes shown on a bill, checked, offered, and used at most once.

Coupons come by code (typed or scanned) and, unless the caller says otherwise, from the member's own unused coupons
valid today at this store. A coupon code that cannot be used at all (unknown, used, another member's, another
store's, out of its dates, a promotion the rules no longer have) is refused with one message; one that does not fit
this bill ("¥12.00 more to get 满300减50") stays unused, with the reason. A coupon is used at most once: the sale
marks it used in its own write transaction with ``… WHERE used_at IS NULL``, so of two desks redeeming one coupon
exactly one succeeds, and a retry of the same txid returns the first result. A refund reopens the coupons its sale
used: they can be used again while their dates allow. A birthday benefit's coupon (``BDAY-<member>-<first day of
the window>``, see ``birthday_benefit``) becomes a ``Coupon`` row the first time it is used, so it too is
used once per birthday. Issuing coupons: :mod:`mms_tui.services.loyalty.coupons`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Coupon, Member, Store, Transaction
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.sql import columns, fetch_rows, row_model
from mms_tui.services.base.text import normalise_card_no
from mms_tui.services.loyalty import pricing
from mms_tui.services.loyalty.birthday_benefit import birthday_benefit
from mms_tui.services.loyalty.pricing import CouponFacts, MemberFacts, PricedCart
from mms_tui.services.loyalty.rules import Rules


@dataclass(frozen=True)
class CouponStatus:
    """A coupon shown on the bill: used now (with what it took off), or not, and why."""

    code: str
    promotion: str
    label: str
    own: bool  # one of the member's own, offered by itself
    applied: bool
    amount_fen: int
    reason: str


def _coupon_facts(row: Coupon) -> CouponFacts:
    return CouponFacts(row.code, row.promotion, row.valid_from, row.valid_until)


def _find_coupon(code: str) -> Coupon | None:
    found = Coupon.get_or_none(Coupon.code == code)
    if found is None and code.upper() != code:
        found = Coupon.get_or_none(Coupon.code == code.upper())
    return found


def _ensure_coupon_usable(row: Coupon, member: Member | None, store: Store, day: dt.date, rules: Rules) -> None:
    """Refuse, with one message, a coupon that cannot be used on any bill of this member here today."""
    code = row.code
    if row.used_at is not None:
        raise InvalidInput(_("Coupon {code} was already used on {date}.").format(
            code=code, date=str(row.used_at)[:16]))
    if row.member_id is not None and member is None:
        raise InvalidInput(_("Coupon {code} belongs to a member: open that member's bill to use it.").format(code=code))
    if row.member_id is not None and row.member_id != member.id:
        raise InvalidInput(_("Coupon {code} belongs to another member.").format(code=code))
    if row.store_id is not None and row.store_id != store.id:
        raise InvalidInput(_("Coupon {code} is valid only at {store}.").format(
            code=code, store=Store.get_by_id(row.store_id).name))
    if row.valid_from is not None and day < row.valid_from:
        raise InvalidInput(_("Coupon {code} is valid from {date}.").format(code=code, date=row.valid_from))
    if row.valid_until is not None and day > row.valid_until:
        raise InvalidInput(_("Coupon {code} expired on {date}.").format(code=code, date=row.valid_until))
    if rules.promotion(row.promotion) is None:
        raise InvalidInput(_("Coupon {code} is for promotion {promotion}, which the rules no longer have.").format(
            code=code, promotion=row.promotion))


def own_coupons(member: Member | int, store: Store, day: dt.date, rules: Rules) -> list[Coupon]:
    """The member's unused coupons that could be used here today: the ones the desk offers by itself."""
    member_id = member if isinstance(member, int) else member.id
    codes = [p.code for p in rules.promotions if not p.auto]
    if not codes:
        return []
    marks = ", ".join("?" for _c in codes)
    on = Coupon.valid_from.db_value(day)
    rows = fetch_rows(
        f'SELECT {columns(Coupon, "t")} FROM "coupon" AS "t" WHERE "t"."member_id" = ? AND "t"."used_at" IS NULL '
        f'AND "t"."promotion" IN ({marks}) AND ("t"."store_id" IS NULL OR "t"."store_id" = ?) '
        'AND ("t"."valid_from" IS NULL OR "t"."valid_from" <= ?) AND ("t"."valid_until" IS NULL OR "t"."valid_until" >= ?) '
        'ORDER BY ("t"."valid_until" IS NULL), "t"."valid_until", "t"."code" LIMIT 50',
        (member_id, *codes, store.id, on, on))
    return [row_model(Coupon, row) for row in rows]


def is_coupon_code(code: str) -> bool:
    """Whether a scanned or typed code is a coupon's (the checkout box then takes it as one)."""
    key = normalise_card_no(code or "")
    return bool(key) and (_find_coupon(key) is not None or key.upper().startswith("BDAY-"))


@dataclass
class ShownCoupons:
    facts: list[CouponFacts]
    rows: dict[str, Coupon | None]  # None: a birthday coupon not yet written
    own: set[str]


def shown_coupons(codes: Iterable[str], member: Member | None, facts: MemberFacts | None, store: Store,
                  when: dt.datetime, rules: Rules, include_own: bool) -> ShownCoupons:
    shown = ShownCoupons([], {}, set())
    day = when.date()
    birthday = birthday_benefit(facts, when, rules) if facts is not None else None
    for raw in codes:
        code = normalise_card_no(str(raw or ""))
        if not code:
            continue
        row = _find_coupon(code)
        if row is None:
            gift = birthday.coupon if birthday is not None else None
            if gift is None or gift.code.upper() != code.upper():
                raise InvalidInput(_("No coupon {code}.").format(code=code))
            if gift.code not in shown.rows:
                shown.facts.append(gift)
                shown.rows[gift.code] = None
            continue
        _ensure_coupon_usable(row, member, store, day, rules)
        if row.code not in shown.rows:
            shown.facts.append(_coupon_facts(row))
            shown.rows[row.code] = row
    if include_own and member is not None:
        for row in own_coupons(member, store, day, rules):
            if row.code not in shown.rows:
                shown.facts.append(_coupon_facts(row))
                shown.rows[row.code] = row
                shown.own.add(row.code)
    return shown


def coupon_statuses(priced: PricedCart, shown: ShownCoupons, rules: Rules) -> list[CouponStatus]:
    applied = {a.coupon: a for a in priced.applied if a.coupon is not None}
    skipped = {s.coupon: s for s in priced.skipped}
    statuses = []
    for fact in shown.facts:
        promo = rules.promotion(fact.promotion)
        label = pricing.promotion_label(promo) if promo is not None else fact.promotion
        used = applied.get(fact.code)
        reason = skipped[fact.code].reason if fact.code in skipped else ""
        statuses.append(CouponStatus(fact.code, fact.promotion, label, fact.code in shown.own, used is not None,
                                     used.amount_fen if used is not None else 0, reason))
    return statuses


def use_coupons(codes: Sequence[str], shown: ShownCoupons, member: Member | None, tx: Transaction) -> None:
    """Mark the coupons the sale used, each only if nobody used it first (``WHERE used_at IS NULL``)."""
    for code in codes:
        if shown.rows.get(code) is None and Coupon.get_or_none(Coupon.code == code) is None:
            fact = next(f for f in shown.facts if f.code == code)
            Coupon.create(code=code, promotion=fact.promotion, member=member, reason="birthday",
                          valid_from=fact.valid_from, valid_until=fact.valid_until, issued_by=tx.staff_id,
                          used_at=tx.created_at, transaction=tx.id)
            continue
        changed = Coupon.update(used_at=tx.created_at, transaction=tx.id).where(
            (Coupon.code == code) & Coupon.used_at.is_null()).execute()
        if changed != 1:
            raise InvalidInput(_("Coupon {code} was just used at another desk; nothing was charged.").format(
                code=code))
