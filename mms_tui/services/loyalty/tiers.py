"""Tiers (等级): members move up the moment they qualify, and are reviewed for keep or downgrade.

**What qualifies** is the rules' ``tiers.basis`` counted over the rolling window of ``tiers.window_months`` months
up to and including the day (0: since joining):

* ``spend`` — money spent: money tenders and stored-value principal of paid sales (bonus value and points are
  gifts). Since joining it is ``Member.total_spend_fen``.
* ``points`` — points earned: the ``points.issued`` entries of the member's transactions (a refund's reversal
  counts on the day of the sale it undoes).
* ``visits`` — check-ins not reversed.

Thresholds are the rules' ``tiers.levels[].upgrade_at`` in the basis's unit (yuan, points, visits).

The lowest tier needs nothing; a higher tier without a threshold (0, or no ``upgrade_at``) is never reached by
qualifying (a manager gives it by hand) and never reviewed down.

**Up, at once**: :func:`apply_spend` (checkout and refunds call it) and :func:`upgrade_if_qualified` (check-in and
anything else that adds to the basis calls it, inside its write transaction) move a member up to the highest tier
whose threshold the count reaches; a top-up of a rule's amount gives that rule's tier through :func:`raise_tier`.
None of them ever moves anyone down. Each step up leaves a ``member.tier_up`` audit event.

**Keep or down**, ``mms tiers review`` (:func:`review_tiers`, daily from cron): a member whose count is below
their tier's keep level (``keep_at``, else the upgrade threshold; never above it, so nobody who would qualify
today is moved down) keeps the tier for ``grace_months``. The grace is recorded, not derived: the first review
that finds the member below writes a ``member.tier_grace`` audit event with the day (``since``); the review on or
after ``since + grace_months`` moves them down (``member.tier_down``) to the highest lower tier whose keep level
the count meets. Back above the keep level at a review ends the grace (``member.tier_grace_end``); a grace also
ends with any change of tier. With ``downgrade = false`` (the default) reviews only move members up. Every
review is idempotent: the same day twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import peewee

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import AuditEvent, Entry, Member, Payment, Sale, Staff, Store, Tier, Transaction, Visit
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import checked_day, resolve_member, today
from mms_tui.services.base.sql import fetch_rows, run_sql
from mms_tui.services.base.text import format_money, mask_phone
from mms_tui.services.ledger.operations import audit
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty.dates import add_months
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_store import load_rules

#: the audit events that start or end a grace (their latest one per member says whether a grace is running)
TIER_EVENTS = ("member.tier_up", "member.tier_down", "member.tier_grace", "member.tier_grace_end")


@dataclass(frozen=True)
class TierLevel:
    """One tier with its thresholds in the basis's unit (fen, points or visits)."""

    id: int
    code: str
    name: str
    rank: int
    upgrade_at: int | None  # None: not reached by qualifying
    keep_at: int  # what keeps it at a review (0: always kept)


def tier_levels(rules: Rules) -> list[TierLevel]:
    """Every tier, lowest first, with its upgrade and keep levels under ``rules``."""
    tiers = fetch_rows('SELECT "id", "code", "name", "rank" FROM "tier" ORDER BY "rank", "id"')
    levels: list[TierLevel] = []
    for i, (tier_id, code, name, rank) in enumerate(tiers):
        benefit = rules.tiers.benefit(code)
        if i == 0:
            upgrade: int | None = 0
        else:
            upgrade = benefit.upgrade_at if benefit is not None and benefit.upgrade_at else None
        keep = benefit.keep_at if benefit is not None and benefit.keep_at is not None else upgrade
        if keep is None:
            keep = 0
        if upgrade is not None:
            keep = min(keep, upgrade)
        levels.append(TierLevel(tier_id, code, name, rank, upgrade, keep))
    return levels


def qualifying_level(levels: Iterable[TierLevel], value: int) -> TierLevel | None:
    """The highest tier whose upgrade threshold ``value`` reaches."""
    reached = [lv for lv in levels if lv.upgrade_at is not None and lv.upgrade_at <= value]
    return max(reached, key=lambda lv: (lv.rank, lv.upgrade_at or 0), default=None)


# ------------------------------------------------------------------------------------------------ counting


def window(on: dt.date, rules: Rules) -> tuple[dt.datetime | None, dt.datetime]:
    """The moments the basis is counted between: from the window's first day (None: since joining) up to the end
    of ``on``."""
    end = dt.datetime.combine(on + dt.timedelta(days=1), dt.time())
    months = rules.tiers.window_months
    return (dt.datetime.combine(add_months(on, -months), dt.time()) if months else None), end


def qualifications(on: dt.date, rules: Rules, member_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Member id → the count of the rules' basis in the window ending on ``on`` (members with none are left
    out). One grouped query, for one member or all of them."""
    start, end = window(on, rules)
    ids = list(member_ids) if member_ids is not None else None
    basis = rules.tiers.basis
    if basis == "spend" and start is None:
        sql = 'SELECT "id", "total_spend_fen" FROM "member" WHERE "total_spend_fen" != 0'
        if ids is not None:
            if not ids:
                return {}
            sql += ' AND "id" IN (' + ", ".join("?" for _i in ids) + ")"
        return {m: int(v) for m, v in fetch_rows(sql, ids or ())}
    if basis == "spend":
        money = peewee.Case(None, [(Payment.tender.in_(MONEY_TENDERS), Payment.amount_fen),
                                   (Payment.tender == "stored_value", Payment.principal_fen)], 0)
        query = (Payment.select(Sale.member, peewee.fn.SUM(money)).join(Sale)
                 .where(Sale.member.is_null(False) & (Sale.status == "paid") & (Sale.created_at >= start)
                        & (Sale.created_at < end))
                 .group_by(Sale.member))
        if ids is not None:
            query = query.where(Sale.member.in_(ids))
    elif basis == "points":
        original = Transaction.alias()
        dated = peewee.fn.COALESCE(original.created_at, Transaction.created_at)
        stored = Transaction.created_at.db_value  # a function's operand is not converted as a field's is (UTC)
        query = (Entry.select(Transaction.member, 0 - peewee.fn.SUM(Entry.amount))  # points.issued is −earned
                 .join(Transaction, on=(Entry.transaction == Transaction.id))
                 .join(original, peewee.JOIN.LEFT_OUTER, on=(Transaction.reverses == original.id))
                 .where((Entry.account == "points.issued") & Transaction.member.is_null(False)
                        & (dated < stored(end)))
                 .group_by(Transaction.member))
        if start is not None:
            query = query.where(dated >= stored(start))
        if ids is not None:
            query = query.where(Transaction.member.in_(ids))
    elif basis == "visits":
        query = (Visit.select(Visit.member, peewee.fn.COUNT(Visit.id))
                 .where((Visit.status == "ok") & (Visit.created_at < end)).group_by(Visit.member))
        if start is not None:
            query = query.where(Visit.created_at >= start)
        if ids is not None:
            query = query.where(Visit.member.in_(ids))
    else:  # pragma: no cover - the rules refuse any other basis
        raise InvalidInput(_("Unknown tier basis {basis!r}.").format(basis=basis))
    return {m: int(v or 0) for m, v in query.tuples()}


def qualification(member_id: int, on: dt.date | None = None, rules: Rules | None = None) -> int:
    """One member's count of the basis (fen, points or visits) in the window ending on ``on`` (today)."""
    rules = rules or load_rules()
    return qualifications(on or today(), rules, [member_id]).get(member_id, 0)


def describe(basis: str, value: int) -> str:
    """A count in its unit, for people: '¥3,000.00', '1200 points', '15 visits'."""
    if basis == "spend":
        return format_money(value)
    if basis == "points":
        return _("{n} points").format(n=value)
    return _("{n} visits").format(n=value)


# ------------------------------------------------------------------------------------------------ up at once


def raise_tier(member_id: int, tier_code: str, *, staff: Staff | None = None, store: Store | None = None,
               txid: str | None = None, reason: str = "qualified", detail: dict | None = None) -> str:
    """Move the member up to ``tier_code`` when it ranks above their tier (never down); inside the caller's write
    transaction, with a ``member.tier_up`` audit event. Returns the member's tier code afterwards."""
    member = Member.select(Member, Tier).join(Tier).where(Member.id == member_id).get()
    target = Tier.get_or_none(Tier.code == tier_code)
    if target is None or target.rank <= member.tier.rank:
        return member.tier.code
    Member.update(tier=target.id).where(Member.id == member_id).execute()
    audit("member.tier_up", f"member:{member_id}", staff=staff, store=store, txid=txid,
          payload={"from": member.tier.code, "to": target.code, "reason": reason,
                   "spend_fen": member.total_spend_fen, **(detail or {})})
    return target.code


def upgrade_if_qualified(member_id: int, *, staff: Staff | None = None, store: Store | None = None,
                         txid: str | None = None, on: dt.date | None = None, rules: Rules | None = None) -> str:
    """Move the member up to the highest tier their count of the basis reaches today; never down.

    Call it inside the write transaction that added to the basis, after the change is written (a check-in after
    its Visit row, a sale after its entries). Returns the member's tier code afterwards."""
    rules = rules or load_rules()
    on = on or today()
    value = qualification(member_id, on, rules)
    target = qualifying_level(tier_levels(rules), value)
    (code, rank), = fetch_rows('SELECT "t"."code", "t"."rank" FROM "member" AS "m" JOIN "tier" AS "t" '
                               'ON "t"."id" = "m"."tier_id" WHERE "m"."id" = ?', (member_id,))
    if target is None or target.rank <= rank:
        return code  # nothing to raise (raise_tier would read the same and return it)
    return raise_tier(member_id, target.code, staff=staff, store=store, txid=txid,
                      detail={"basis": rules.tiers.basis, "value": value, "threshold": target.upgrade_at})


def apply_spend(member_id: int, money_fen: int, *, staff: Staff | None = None, store: Store | None = None,
                txid: str | None = None, rules: Rules | None = None) -> str:
    """Add ``money_fen`` (negative for refunds) to the member's lifetime spend, then move them up if they now
    qualify on the rules' basis (:func:`upgrade_if_qualified`). Runs inside the caller's write transaction.
    Returns the member's tier code afterwards."""
    if money_fen:
        run_sql('UPDATE "member" SET "total_spend_fen" = "total_spend_fen" + ? WHERE "id" = ?', (money_fen, member_id))
    return upgrade_if_qualified(member_id, staff=staff, store=store, txid=txid, rules=rules)


# ------------------------------------------------------------------------------------------------ graces


@dataclass(frozen=True)
class Grace:
    tier: str
    since: dt.date


def open_graces(member_ids: Iterable[int] | None = None) -> dict[int, Grace]:
    """Member id → the grace running for them: their latest tier event (up, down, grace, grace end, or an edit
    that set the tier by hand) is a ``member.tier_grace``. The caller checks it is for the tier held now."""
    query = (AuditEvent.select(AuditEvent.subject, AuditEvent.action, AuditEvent.payload)
             .where(AuditEvent.action.in_((*TIER_EVENTS, "member.update"))).order_by(AuditEvent.id))
    if member_ids is not None:
        query = query.where(AuditEvent.subject.in_([f"member:{m}" for m in member_ids]))
    latest: dict[str, tuple[str, str]] = {}
    for subject, action, payload in query.tuples().iterator():
        if action == "member.update" and "tier" not in json.loads(payload).get("after", {}):
            continue  # an edit of the name or phone: the grace goes on
        latest[subject] = (action, payload)
    graces: dict[int, Grace] = {}
    for subject, (action, payload) in latest.items():
        if action == "member.tier_grace" and subject.startswith("member:"):
            data = json.loads(payload)
            graces[int(subject.split(":", 1)[1])] = Grace(data["tier"], dt.date.fromisoformat(data["since"]))
    return graces


# ------------------------------------------------------------------------------------------------ the member screen


@dataclass(frozen=True)
class TierProgress:
    tier_code: str
    tier_name: str
    total_spend_fen: int
    next_code: str | None
    next_name: str | None
    next_spend_fen: int | None  # spend still needed to reach the next tier (basis spend; else None)
    basis: str = "spend"
    value: int = 0  # the count of the basis in the window (fen, points or visits)
    next_needed: int | None = None  # what is still needed for the next tier, in the basis's unit
    keep_needed: int = 0  # what is still needed to keep this tier at the next review
    grace_until: str | None = None  # ISO day: below the keep level, the tier is kept until then
    window_start: str | None = None  # ISO day the window starts (None: since joining)

    @property
    def explanation(self) -> str:
        """'¥1,200.00 more to 金卡会员' / '300 points more to …' / '3 visits more to …' ('' at the top)."""
        if self.next_name is None or self.next_needed is None:
            return ""
        if self.basis == "spend":
            return _("{amount} more to {tier}").format(amount=format_money(self.next_needed), tier=self.next_name)
        if self.basis == "points":
            return _("{n} points more to {tier}").format(n=self.next_needed, tier=self.next_name)
        return _("{n} visits more to {tier}").format(n=self.next_needed, tier=self.next_name)

    @property
    def keep_explanation(self) -> str:
        """'Keeps 金卡会员 until 2025-06-01 (¥500.00 short)' while a grace runs, else ''."""
        if self.grace_until is None:
            return ""
        short = describe(self.basis, self.keep_needed)
        return _("Keeps {tier} until {date} ({short} short)").format(tier=self.tier_name, date=self.grace_until,
                                                                      short=short)


def progress(member: Member | int | str, on: dt.date | None = None, rules: Rules | None = None) -> TierProgress:
    """Where the member stands on the rules' basis, what is left to reach the next tier and to keep this one."""
    rules = rules or load_rules()
    on = on or today()
    m = resolve_member(member) if not isinstance(member, Member) else member
    levels = tier_levels(rules)
    current = next((lv for lv in levels if lv.id == m.tier_id), None)
    if current is None:  # pragma: no cover - a member's tier always exists (foreign key)
        raise InvalidInput(_("Unknown tier of member {member}.").format(member=m.id))
    value = qualification(m.id, on, rules)
    nxt = next((lv for lv in levels if lv.rank > current.rank and lv.upgrade_at), None)
    needed = max(0, nxt.upgrade_at - value) if nxt is not None and nxt.upgrade_at is not None else None
    grace = open_graces([m.id]).get(m.id)
    grace_until = None
    if rules.tiers.downgrade and grace is not None and grace.tier == current.code and value < current.keep_at:
        grace_until = add_months(grace.since, rules.tiers.grace_months).isoformat()
    start, _end = window(on, rules)
    return TierProgress(
        current.code, current.name, m.total_spend_fen,
        nxt.code if nxt else None, nxt.name if nxt else None,
        needed if rules.tiers.basis == "spend" else None,
        rules.tiers.basis, value, needed, max(0, current.keep_at - value), grace_until,
        start.date().isoformat() if start else None,
    )


# ------------------------------------------------------------------------------------------------ the review


@dataclass(frozen=True)
class TierChange:
    member_id: int
    name: str
    phone: str  # masked
    action: str  # up | down | grace | grace_end
    from_tier: str
    to_tier: str
    value: int
    threshold: int  # the level compared with: the upgrade threshold going up, the keep level otherwise
    grace_since: str | None = None  # ISO days of the grace: started (grace, down), runs out (grace, down)
    grace_until: str | None = None


@dataclass(frozen=True)
class TierReview:
    as_of: dt.date
    dry_run: bool
    basis: str
    changes: list[TierChange] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


def review_tiers(as_of: dt.date | None = None, *, staff: Staff | None = None, store: Store | None = None,
                 dry_run: bool = False, rules: Rules | None = None) -> TierReview:
    """``mms tiers review``: move up whoever qualifies, start, end or run out graces, move down whoever's grace is
    over (see the module's rules). Each change is its own short write with its audit event."""
    as_of = checked_day(as_of) or today()
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise InvalidInput(_("The as-of day must be a date."))
    rules = rules or load_rules()
    t = rules.tiers
    levels = tier_levels(rules)
    by_id = {lv.id: lv for lv in levels}
    values = qualifications(as_of, rules)
    graces = open_graces()
    review = TierReview(as_of, dry_run, t.basis)
    decided: list[tuple[TierChange, int]] = []  # decided while reading, written after (no write under a read)
    members = Member.select(Member.id, Member.name, Member.phone, Member.tier).order_by(Member.id).tuples()
    for member_id, name, phone, tier_id in members.iterator():
        current = by_id[tier_id]
        value = values.get(member_id, 0)
        grace = graces.get(member_id)
        grace = grace if grace is not None and grace.tier == current.code else None
        up = qualifying_level(levels, value)
        change: TierChange | None = None
        if up is not None and up.rank > current.rank:
            change = TierChange(member_id, name, mask_phone(phone), "up", current.code, up.code, value,
                                up.upgrade_at or 0)
        elif value >= current.keep_at:
            if grace is not None:
                change = TierChange(member_id, name, mask_phone(phone), "grace_end", current.code, current.code,
                                    value, current.keep_at)
        elif t.downgrade:
            lower = [lv for lv in levels if lv.rank < current.rank and lv.keep_at <= value]
            target = max(lower, key=lambda lv: (lv.rank, lv.keep_at), default=levels[0])
            since = grace.since if grace is not None else as_of
            until = add_months(since, t.grace_months)
            if until <= as_of:
                change = TierChange(member_id, name, mask_phone(phone), "down", current.code, target.code, value,
                                    current.keep_at, since.isoformat() if t.grace_months else None,
                                    until.isoformat() if t.grace_months else None)
            elif grace is None:
                change = TierChange(member_id, name, mask_phone(phone), "grace", current.code, current.code, value,
                                    current.keep_at, since.isoformat(), until.isoformat())
        if change is not None:
            decided.append((change, tier_id))
    for change, tier_id in decided:
        if dry_run or _write_change(change, tier_id, as_of, rules, staff, store):
            review.changes.append(change)
    return review


def _write_change(change: TierChange, tier_id: int, as_of: dt.date, rules: Rules, staff: Staff | None,
                  store: Store | None) -> bool:
    """Write one review decision, unless the member changed since it was taken (then leave it to the next run)."""
    subject = f"member:{change.member_id}"
    basis = rules.tiers.basis
    with write_transaction():
        if Member.select(Member.tier).where(Member.id == change.member_id).scalar() != tier_id:
            return False
        grace = open_graces([change.member_id]).get(change.member_id)
        if change.action == "grace":
            if grace is not None and grace.tier == change.from_tier:
                return False
            audit("member.tier_grace", subject, staff=staff, store=store,
                  payload={"tier": change.from_tier, "since": change.grace_since, "until": change.grace_until,
                           "basis": basis, "value": change.value, "keep_at": change.threshold})
        elif change.action == "grace_end":
            if grace is None or grace.tier != change.from_tier:
                return False
            audit("member.tier_grace_end", subject, staff=staff, store=store,
                  payload={"tier": change.from_tier, "on": as_of.isoformat(), "basis": basis, "value": change.value,
                           "keep_at": change.threshold})
        else:
            to = Tier.get(Tier.code == change.to_tier)
            Member.update(tier=to.id).where(Member.id == change.member_id).execute()
            action = "member.tier_up" if change.action == "up" else "member.tier_down"
            audit(action, subject, staff=staff, store=store,
                  payload={"from": change.from_tier, "to": change.to_tier, "reason": "review", "basis": basis,
                           "value": change.value, "threshold": change.threshold, "as_of": as_of.isoformat(),
                           "grace_since": change.grace_since, "grace_until": change.grace_until})
    return True
