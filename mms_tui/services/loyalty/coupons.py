"""优惠券发放: coupons of the rules' promotions, given to members by hand, by rule and in bulk.

A coupon stands for one promotion of the loyalty rules in force (``auto = false``: it applies only with a coupon)
and is used at most once (the checkout that redeems it sets ``used_at``; see :mod:`mms_tui.services.loyalty.redeem`).
Issuing moves no value, so it is not a ledger transaction; each coupon leaves a ``coupon.issue`` audit event.

How coupons are issued, and what makes each way safe to run again:

* **By hand** (:func:`issue_coupon`, ``mms coupons issue --member PHONE --promotion CODE``): a manager gives one
  coupon; every call is one more coupon.
* **New member** (:func:`issue_for_new_member`, for the registration flows): the promotion coded
  ``WELCOME`` when the rules have one; one per member, ever.
* **Birthday** (:func:`issue_birthday_coupon`, ``--birthday``): the rules' ``birthday.promotion``, valid through
  the member's birthday window, numbered ``BDAY-<member id>-<window start>`` exactly as
  :func:`birthday_benefit` names it, so the desk's one-key birthday benefit and the issued coupon are the
  same coupon: one per member and birthday.
* **Win-back** (:func:`issue_winback`, ``--winback DAYS``): members not seen (no paid sale, no check-in; never:
  since joining) for at least DAYS days get the ``WINBACK`` promotion (or the one named); one per absence: none
  for a member who got a win-back coupon after they were last seen.
* **Segment** (:func:`issue_for_segment`, ``--segment at_risk``): every active member the segments report puts
  in the segment (:func:`mms_tui.services.reports.catalogue.segment_of`, the same rule) gets one coupon. The promotion is
  the campaign: a member gets at most one bulk coupon of a promotion, so running it again issues nothing new; a
  new campaign is a new promotion code in the rules.

Numbers are hard to guess: a prefix from the promotion's code, then 8 characters drawn by :mod:`secrets` from 31
that cannot be mistaken for each other (no 0/O, 1/I/L): ``SUMMER-7KQ9-M4TD`` (31⁸ ≈ 8.5 × 10¹¹ per promotion).
A coupon is valid from its day of issue (or the promotion's start) for ``valid_days`` (default 30), never beyond
the promotion's own end; an ended promotion issues nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import peewee

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Coupon, Member, Sale, Staff, Store, Tier, Visit
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import (
    Stores,
    as_date,
    at_stores,
    checked_day,
    days_at_stores,
    resolve_member,
    today,
)
from mms_tui.services.base.text import mask_phone
from mms_tui.services.ledger.operations import audit
from mms_tui.services.loyalty.birthday_benefit import birthday_benefit
from mms_tui.services.loyalty.pricing import MemberFacts
from mms_tui.services.loyalty.prompts import PROMPT_SEGMENTS, members_prompted
from mms_tui.services.loyalty.rules import Promotion, Rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.segments import SEGMENTS, segment_of
from mms_tui.services.staff.permissions import require

#: the characters of a coupon's random part: no 0/O, 1/I/L
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RANDOM_LENGTH = 8
#: the promotions the rules-driven issues use when the rules have them (by code)
NEW_MEMBER_PROMOTION = "WELCOME"
WINBACK_PROMOTION = "WINBACK"
DEFAULT_VALID_DAYS = 30
REASONS = ("manual", "new_member", "birthday", "winback", "bulk")


@dataclass(frozen=True)
class CouponInfo:
    id: int  # 0: not issued (a dry run)
    code: str  # '' in a dry run
    promotion: str
    member_id: int | None
    member_name: str
    phone: str  # masked
    reason: str
    issued_at: str | None
    valid_from: str | None
    valid_until: str | None
    used_at: str | None
    status: str  # unused | used | expired | not yet valid | to issue


@dataclass(frozen=True)
class IssueRun:
    reason: str
    promotion: str
    dry_run: bool
    coupons: list[CouponInfo] = field(default_factory=list)  # issued now (dry run: would be)
    already: int = 0  # members passed over because they already hold one


# ------------------------------------------------------------------------------------------------ codes, checks


def coupon_code(promotion: str) -> str:
    """A new, hard-to-guess number for a coupon of ``promotion``: 'SUMMER-7KQ9-M4TD'."""
    prefix = re.sub(r"[^A-Z0-9]", "", promotion.upper())[:12] or "C"
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{prefix}-{body[:4]}-{body[4:]}"


def coupon_promotion(code: str, rules: Rules, on: dt.date) -> Promotion:
    """The promotion a coupon may be issued for: in the rules in force, applied with a coupon, not ended."""
    promo = rules.promotion(code)
    if promo is None:
        known = ", ".join(p.code for p in rules.promotions if not p.auto) or _("none")
        raise InvalidInput(_("No promotion {code} in the rules in force (coupon promotions: {known}).").format(
            code=code, known=known))
    if promo.auto:
        raise InvalidInput(_("Promotion {code} applies to everyone without a coupon (auto = true).").format(
            code=code))
    if promo.valid_until is not None and promo.valid_until < on:
        raise InvalidInput(_("Promotion {code} ended on {date}.").format(code=code, date=promo.valid_until))
    return promo


def _validity(promo: Promotion, on: dt.date, valid_days: int | None) -> tuple[dt.date, dt.date | None]:
    if valid_days is not None and (not isinstance(valid_days, int) or isinstance(valid_days, bool)
                                   or not 1 <= valid_days <= 3650):
        raise InvalidInput(_("Valid days must be a whole number from 1 to 3650."))
    start = max(on, promo.valid_from) if promo.valid_from is not None else on
    end = on + dt.timedelta(days=(valid_days or DEFAULT_VALID_DAYS) - 1)
    if promo.valid_until is not None:
        end = min(end, promo.valid_until)
    if end < start:
        raise InvalidInput(_("Promotion {code} ends before the coupon could start ({date}).").format(
            code=promo.code, date=start))
    return start, end


def _status(coupon: Coupon, on: dt.date) -> str:
    if coupon.used_at is not None:
        return "used"
    if coupon.valid_until is not None and coupon.valid_until < on:
        return "expired"
    if coupon.valid_from is not None and coupon.valid_from > on:
        return "not yet valid"
    return "unused"


def _info(coupon: Coupon, member: Member | None, on: dt.date) -> CouponInfo:
    def iso(value: object) -> str | None:
        return str(value)[:19] if value is not None else None

    return CouponInfo(coupon.id, coupon.code, coupon.promotion, coupon.member_id, member.name if member else "",
                      mask_phone(member.phone) if member else "", coupon.reason, iso(coupon.issued_at),
                      iso(coupon.valid_from), iso(coupon.valid_until), iso(coupon.used_at), _status(coupon, on))


def _planned(member: Member, promo: Promotion, reason: str, start: dt.date, end: dt.date | None,
             code: str = "") -> CouponInfo:
    return CouponInfo(0, code, promo.code, member.id, member.name, mask_phone(member.phone), reason, None,
                      start.isoformat(), end.isoformat() if end else None, None, "to issue")


def _create(member: Member, promo: Promotion, reason: str, staff: Staff | None, store: Store | None,
            start: dt.date, end: dt.date | None, code: str | None = None, txid: str | None = None) -> Coupon:
    """Insert one coupon with its audit event; runs inside the caller's write transaction."""
    for _attempt in range(5):
        number = code or coupon_code(promo.code)
        if not Coupon.select().where(Coupon.code == number).exists():
            break
        if code is not None:
            raise InvalidInput(_("Coupon {code} already exists.").format(code=code))
    else:  # pragma: no cover - 31^8 numbers per promotion
        raise InvalidInput(_("Could not find a free coupon number; try again."))
    coupon = Coupon.create(code=number, promotion=promo.code, member=member.id, reason=reason, issued_by=staff,
                           valid_from=start, valid_until=end, store=None)
    audit("coupon.issue", f"coupon:{coupon.id}", staff=staff, store=store, txid=txid,
          payload={"code": number, "promotion": promo.code, "member": member.id, "reason": reason,
                   "valid_from": start.isoformat(), "valid_until": end.isoformat() if end else None})
    return coupon


# ------------------------------------------------------------------------------------------------ one member


def issue_coupon(member: Member | int | str, promotion: str, staff: Staff, *, valid_days: int | None = None,
                 on: dt.date | None = None, store: Store | None = None, rules: Rules | None = None) -> CouponInfo:
    """By hand: one more coupon of ``promotion`` for a member (a manager's decision)."""
    require(staff, "coupons.issue")
    on = checked_day(on) or today()
    rules = rules or load_rules()
    promo = coupon_promotion((promotion or "").strip(), rules, on)
    start, end = _validity(promo, on, valid_days)
    m = resolve_member(member)
    with write_transaction():
        coupon = _create(m, promo, "manual", staff, store, start, end)
    return _info(coupon, m, on)


def issue_for_points(member: Member, promotion: str, valid_days: int | None, staff: Staff, store: Store | None,
                     on: dt.date, rules: Rules, txid: str) -> Coupon:
    """积分兑换现金券: a coupon of ``promotion`` bought with points (``points.redeem_gift``), inside that gift's
    transaction; its reason is ``points``. No permission beyond the desk's: the points pay for it."""
    promo = coupon_promotion(promotion, rules, on)
    start, end = _validity(promo, on, valid_days)
    return _create(member, promo, "points", staff, store, start, end, txid=txid)


def issue_for_new_member(member: Member | int, staff: Staff | None, *, on: dt.date | None = None,
                         store: Store | None = None, rules: Rules | None = None) -> CouponInfo | None:
    """The welcome coupon (promotion ``WELCOME`` in the rules) for a member who just registered; None when the
    rules have no such promotion. One per member: a second call returns the first coupon. Safe inside the
    registration's own write transaction."""
    on = checked_day(on) or today()
    rules = rules or load_rules()
    promo = rules.promotion(NEW_MEMBER_PROMOTION)
    if promo is None or promo.auto or (promo.valid_until is not None and promo.valid_until < on):
        return None
    m = resolve_member(member)
    start, end = _validity(promo, on, None)
    with write_transaction():
        existing = Coupon.get_or_none((Coupon.member == m.id) & (Coupon.reason == "new_member"))
        coupon = existing or _create(m, promo, "new_member", staff, store, start, end)
    return _info(coupon, m, on)


def _birthday_coupon_for(member: Member, tier_code: str | None, on: dt.date, rules: Rules):
    benefit = birthday_benefit(MemberFacts(member.id, tier_code=tier_code, birthday=member.birthday), on, rules)
    if benefit is None or benefit.coupon is None:
        return None
    promo = rules.promotion(benefit.coupon.promotion)
    if promo is None or promo.auto:
        return None
    return benefit.coupon, promo


def issue_birthday_coupon(member: Member | int | str, staff: Staff | None, *, on: dt.date | None = None,
                          store: Store | None = None, rules: Rules | None = None) -> CouponInfo | None:
    """The birthday coupon of a member in their birthday window on ``on`` (None: not in it, or the rules give no
    birthday promotion). One per member and birthday: a second call returns the first coupon."""
    on = checked_day(on) or today()
    rules = rules or load_rules()
    m = resolve_member(member)
    tier_code = Tier.select(Tier.code).where(Tier.id == m.tier_id).scalar()
    found = _birthday_coupon_for(m, tier_code, on, rules)
    if found is None:
        return None
    facts, promo = found
    with write_transaction():
        coupon = Coupon.get_or_none(Coupon.code == facts.code) or _create(
            m, promo, "birthday", staff, store, facts.valid_from, facts.valid_until, code=facts.code)
    return _info(coupon, m, on)


# ------------------------------------------------------------------------------------------------ in bulk


def _active_members(ids: Iterable[int] | None = None) -> peewee.ModelSelect:
    query = Member.select().where(Member.status == "active").order_by(Member.id)
    if ids is not None:
        query = query.where(Member.id.in_(list(ids)))
    return query


def _issue_each(members: list[Member], promo: Promotion, reason: str, staff: Staff | None, store: Store | None,
                on: dt.date, valid_days: int | None, dry_run: bool, holds: peewee.Expression | None) -> IssueRun:
    """One coupon for each member, skipping those for whom ``holds`` (a Coupon condition) finds one already;
    each member its own short write (a long bulk run never holds the desks up)."""
    start, end = _validity(promo, on, valid_days)
    coupons: list[CouponInfo] = []
    already = 0
    for member in members:
        if dry_run:
            if holds is not None and Coupon.select().where((Coupon.member == member.id) & holds).exists():
                already += 1
            else:
                coupons.append(_planned(member, promo, reason, start, end))
            continue
        with write_transaction():
            if holds is not None and Coupon.select().where((Coupon.member == member.id) & holds).exists():
                already += 1
                continue
            coupon = _create(member, promo, reason, staff, store, start, end)
        coupons.append(_info(coupon, member, on))
    return IssueRun(reason, promo.code, dry_run, coupons, already)


def members_in_segment(segment: str, on: dt.date, rules: Rules | None = None) -> list[int]:
    """Ids of the members the segments report counts in ``segment`` on day ``on`` (same data, same rule, the
    thresholds of ``rules``, default those in force)."""
    if segment in PROMPT_SEGMENTS:  # from the members' own patterns (顾客消费提醒)
        return members_prompted(segment, on)
    if segment not in SEGMENTS:
        raise InvalidInput(_("No segment {name!r} (segments: {known}).").format(
            name=segment, known=", ".join(SEGMENTS + PROMPT_SEGMENTS)))
    end = dt.datetime.combine(on + dt.timedelta(days=1), dt.time())
    terms = (rules or load_rules()).segments

    def since(days: int) -> dt.datetime:
        return dt.datetime.combine(on - dt.timedelta(days=days), dt.time())

    sales = {
        member: (last, int(count), int(spend or 0))
        for member, last, count, spend in Sale.select(
            Sale.member, peewee.fn.MAX(Sale.created_at), peewee.fn.COUNT(Sale.id), peewee.fn.SUM(Sale.total_fen))
        .where(Sale.member.is_null(False) & (Sale.status == "paid") & (Sale.created_at >= since(365))
               & (Sale.created_at < end))
        .group_by(Sale.member).tuples()
    }
    visits = dict(
        Visit.select(Visit.member, peewee.fn.MAX(Visit.created_at))
        .where((Visit.status == "ok") & (Visit.created_at >= since(terms.lost_days)) & (Visit.created_at < end))
        .group_by(Visit.member).tuples()
    )
    recent = on - dt.timedelta(days=terms.lost_days)
    found: list[int] = []
    for member_id, created in Member.select(Member.id, Member.created_at).where(Member.created_at < end).tuples():
        last_sale, count, spend = sales.get(member_id, (None, 0, 0))
        days = [as_date(x) for x in (last_sale, visits.get(member_id)) if x is not None]
        last = max(days, default=None)
        if last is not None and last < recent:
            last = None  # not seen in lost_days: the report counts them as lost (or new)
        if segment_of(as_date(created), last, count, spend, on, terms) == segment:
            found.append(member_id)
    return found


def issue_for_segment(segment: str, promotion: str, staff: Staff, *, valid_days: int | None = None,
                      on: dt.date | None = None, store: Store | None = None, dry_run: bool = False,
                      rules: Rules | None = None) -> IssueRun:
    """``--segment at_risk``: one coupon of ``promotion`` for every active member in the segment on ``on``, except
    members who already hold a bulk coupon of it (the promotion is the campaign)."""
    require(staff, "coupons.issue")
    on = checked_day(on) or today()
    rules = rules or load_rules()
    promo = coupon_promotion((promotion or "").strip(), rules, on)
    _validity(promo, on, valid_days)
    members = list(_active_members(members_in_segment(segment, on, rules)))
    holds = (Coupon.promotion == promo.code) & (Coupon.reason == "bulk")
    return _issue_each(members, promo, "bulk", staff, store, on, valid_days, dry_run, holds)


def issue_winback(days: int, staff: Staff, *, promotion: str | None = None, valid_days: int | None = None,
                  on: dt.date | None = None, store: Store | None = None, dry_run: bool = False,
                  rules: Rules | None = None) -> IssueRun:
    """``--winback DAYS``: a coupon of ``promotion`` (default ``WINBACK``) for every active member away at least
    ``days`` days on ``on`` who has had no win-back coupon since they were last seen."""
    require(staff, "coupons.issue")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        raise InvalidInput(_("Days away must be a whole number from 1 to 3650."))
    on = checked_day(on) or today()
    rules = rules or load_rules()
    promo = coupon_promotion((promotion or WINBACK_PROMOTION).strip(), rules, on)
    start, coupon_end = _validity(promo, on, valid_days)
    end = dt.datetime.combine(on + dt.timedelta(days=1), dt.time())
    cutoff = dt.datetime.combine(on - dt.timedelta(days=days - 1), dt.time())  # last seen before this: away ≥ days
    last_sale = dict(Sale.select(Sale.member, peewee.fn.MAX(Sale.created_at))
                     .where(Sale.member.is_null(False) & (Sale.status == "paid") & (Sale.created_at < end))
                     .group_by(Sale.member).tuples())
    last_visit = dict(Visit.select(Visit.member, peewee.fn.MAX(Visit.created_at))
                      .where((Visit.status == "ok") & (Visit.created_at < end)).group_by(Visit.member).tuples())
    away: list[tuple[Member, dt.datetime]] = []
    for member in _active_members().where(Member.created_at < cutoff):
        seen = [_moment(x) for x in (last_sale.get(member.id), last_visit.get(member.id)) if x is not None]
        last = max(seen, default=_moment(member.created_at))
        if last < cutoff:
            away.append((member, last))
    run_coupons: list[CouponInfo] = []
    already = 0
    for member, last in away:
        holds = (Coupon.reason == "winback") & (Coupon.issued_at >= last)
        if dry_run:
            if Coupon.select().where((Coupon.member == member.id) & holds).exists():
                already += 1
            else:
                run_coupons.append(_planned(member, promo, "winback", start, coupon_end))
            continue
        with write_transaction():
            if Coupon.select().where((Coupon.member == member.id) & holds).exists():
                already += 1
                continue
            coupon = _create(member, promo, "winback", staff, store, start, coupon_end)
        run_coupons.append(_info(coupon, member, on))
    return IssueRun("winback", promo.code, dry_run, run_coupons, already)


def _moment(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value)[:19])


def issue_birthday_coupons(staff: Staff | None, *, on: dt.date | None = None, store: Store | None = None,
                           dry_run: bool = False, rules: Rules | None = None) -> IssueRun:
    """``--birthday``: the birthday coupon for every active member in their birthday window on ``on`` (None:
    today — each member's home store's own today, whichever zone this process runs in); members who hold this
    birthday's coupon already are passed over."""
    on = checked_day(on)
    days: list[tuple[dt.date, Stores]] = [(on, None)] if on is not None else days_at_stores()
    rules = rules or load_rules()
    code = rules.birthday.promotion
    if code is None:
        raise InvalidInput(_("The rules in force give no birthday promotion (birthday.promotion)."))
    due = []
    for day, stores in days:
        promo = coupon_promotion(code, rules, day)
        query = (Member.select(Member, Tier.code.alias("tier_code")).join(Tier)
                 .where((Member.status == "active") & Member.birthday.is_null(False)).order_by(Member.id))
        if (home := at_stores(Member.home_store, stores)) is not None:
            query = query.where(home)
        due += [(member, found[0], day, promo) for member in query.objects()
                if (found := _birthday_coupon_for(member, member.tier_code, day, rules)) is not None]
    run_coupons: list[CouponInfo] = []
    already = 0
    for member, facts, day, promo in due:  # each member on their own store's day
        if dry_run:
            if Coupon.select().where(Coupon.code == facts.code).exists():
                already += 1
            else:
                run_coupons.append(_planned(member, promo, "birthday", facts.valid_from, facts.valid_until,
                                            facts.code))
            continue
        with write_transaction():
            if Coupon.select().where(Coupon.code == facts.code).exists():
                already += 1
                continue
            coupon = _create(member, promo, "birthday", staff, store, facts.valid_from, facts.valid_until,
                             code=facts.code)
        run_coupons.append(_info(coupon, member, day))
    return IssueRun("birthday", coupon_promotion(code, rules, days[-1][0]).code, dry_run, run_coupons, already)


# ------------------------------------------------------------------------------------------------ the back office


def list_coupons(member: Member | int | str | None = None, *, unused: bool = False, promotion: str | None = None,
                 on: dt.date | None = None) -> Iterable[CouponInfo]:
    """Coupons, newest first: one member's (by phone or id) or everyone's; ``unused``: not yet used (expired ones
    included: their status says so)."""
    on = checked_day(on) or today()
    query = (Coupon.select(Coupon, Member).join(Member, peewee.JOIN.LEFT_OUTER, on=(Coupon.member == Member.id))
             .order_by(Coupon.issued_at.desc(), Coupon.id.desc()))
    if member is not None:
        query = query.where(Coupon.member == resolve_member(member).id)
    if unused:
        query = query.where(Coupon.used_at.is_null())
    if promotion:
        query = query.where(Coupon.promotion == promotion)
    for coupon in query.iterator():
        yield _info(coupon, coupon.member if coupon.member_id is not None else None, on)
