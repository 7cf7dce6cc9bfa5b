"""积分过期: earned points expire first in, first out, after the rules' ``points.expire_months``.

How a card's points are dated (read from the ledger alone, so it needs no table of its own and every run gives
the same answer):

* Every entry that adds to ``card.points`` starts a **lot** dated by its transaction: points earned at checkout,
  opening points of an import, a manager's adjustment.
* Every entry that takes from ``card.points`` consumes lots **oldest first**: paying with points, gifts, an
  import that lowers a balance, a refund taking back the points a sale earned, and expiry itself. A refund
  takes back first what is left of the lot the refunded sale created (those are the very points it earned), then
  oldest first.
* A refund that gives points back (the sale had been paid with points) restores them with the dates they had
  when they were spent, so spending and refunding never makes points younger.
* Points moved between two cards of the same member in one transaction with no other points account (补卡, the
  replacement of a lost card) keep their dates on the new card.

A lot earned on day D is gone on ``earning.points_expire_on(D, rules)`` (12 months: the same day a year later);
:func:`expire_points` (``mms points expire``, daily from cron) turns what is left of every lot whose day has come
into one ledger transaction per card, kind ``expire``: ``card.points −N`` against ``points.expired +N`` (the
points-unit breakage account, beside ``points.issued`` and ``points.redeemed``). Its txid is
``expire-<card id>-<as-of day>``, and the lots it consumes are exactly the expired ones (they are the oldest), so
running it again for the same day, or any earlier one, changes nothing.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from mms_tui.i18n import _
from mms_tui.models import Card, Entry, Member, Staff, Store, Transaction
from mms_tui.services.base.errors import DomainError, InvalidInput
from mms_tui.services.base.resolve import (
    Stores,
    at_stores,
    checked_day,
    days_at_stores,
    resolve_card,
    resolve_store,
    today,
)
from mms_tui.services.ledger.operations import Posting, audit, card_posting, post, run_operation
from mms_tui.services.loyalty.coupons import issue_for_points
from mms_tui.services.loyalty.earning import points_expire_on
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.stock.sales import take_gift

#: the transaction kind of an expiry, and the points account expired points go to
EXPIRE_KIND = "expire"
EXPIRED_ACCOUNT = "points.expired"
#: members replayed together by a bulk run (one read of their cards' points entries)
CHUNK = 500


@dataclass
class _Lot:
    earned_on: dt.date
    points: int


@dataclass(frozen=True)
class PointsLot:
    """What is left of the points a card got on one day, and the day they are gone (None: never)."""

    card_id: int
    earned_on: dt.date
    expires_on: dt.date | None
    points: int


@dataclass(frozen=True)
class PointsExpiry:
    """The next expiry on a card: the desk says '200 points expire on 2025-03-01'."""

    card_id: int
    card_no: str
    points: int
    expires_on: dt.date

    @property
    def message(self) -> str:
        return _("{n} points expire on {date}").format(n=self.points, date=self.expires_on.isoformat())


@dataclass(frozen=True)
class ExpireResult:
    """One card's expiry transaction (stored as its result, so a retry answers the same)."""

    txid: str
    card_id: int
    card_no: str
    member_id: int
    points: int
    as_of: str
    points_after: int


@dataclass(frozen=True)
class CardExpiry:
    card_id: int
    card_no: str
    member_id: int
    points: int
    txid: str | None  # None in a dry run


@dataclass(frozen=True)
class ExpiryRun:
    as_of: dt.date
    dry_run: bool
    cards: list[CardExpiry] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(c.points for c in self.cards)


class _NothingDue(DomainError):
    """Inside the write transaction there was nothing left to expire (another run or a spend got there first)."""


# ------------------------------------------------------------------------------------------------ the replay


@dataclass(frozen=True)
class _Row:
    tx_id: int
    created_at: dt.datetime
    reverses_id: int | None
    card_id: int
    member_id: int
    amount: int


def _day(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.fromisoformat(str(value)).date()


class _Books:
    """The lots of a set of cards, built by replaying their ``card.points`` entries in transaction order."""

    def __init__(self) -> None:
        self.lots: dict[int, list[_Lot]] = defaultdict(list)
        #: points taken beyond the lots (only a ledger out of order can do that); later lots pay it first
        self.debt: dict[int, int] = defaultdict(int)
        #: (transaction, card) → the lots it started / the (day, points) it consumed, for its reversal
        self.created: dict[tuple[int, int], list[_Lot]] = {}
        self.consumed: dict[tuple[int, int], list[tuple[dt.date, int]]] = defaultdict(list)

    def take(self, card_id: int, points: int, prefer: Sequence[_Lot] = ()) -> list[tuple[dt.date, int]]:
        """Consume ``points``: first from ``prefer`` (what a refunded sale created), then oldest first."""
        lots = self.lots[card_id]
        taken: list[tuple[dt.date, int]] = []
        for lot in [*[x for x in prefer if x.points > 0], *lots]:
            if points == 0:
                break
            n = min(lot.points, points)
            if n:
                lot.points -= n
                points -= n
                taken.append((lot.earned_on, n))
        self.lots[card_id] = [x for x in lots if x.points > 0]
        self.debt[card_id] += points
        return taken

    def add(self, card_id: int, earned_on: dt.date, points: int) -> _Lot | None:
        paid = min(self.debt[card_id], points)
        self.debt[card_id] -= paid
        points -= paid
        if points <= 0:
            return None
        lot = _Lot(earned_on, points)
        bisect.insort(self.lots[card_id], lot, key=lambda x: x.earned_on)
        return lot

    def replay(self, rows: Iterable[_Row], transfers: set[int]) -> None:
        for tx_id, group in groupby(rows, key=lambda r: r.tx_id):
            entries = list(group)
            first = entries[0]
            day = _day(first.created_at)
            reverses = first.reverses_id
            pool: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)  # member → lots moved out, per member
            for r in (e for e in entries if e.amount < 0):
                prefer = self.created.get((reverses, r.card_id), ()) if reverses is not None else ()
                taken = self.take(r.card_id, -r.amount, prefer)
                self.consumed[(tx_id, r.card_id)] += taken
                pool[r.member_id] += taken
            for r in (e for e in entries if e.amount > 0):
                if reverses is not None:
                    source = self.consumed.pop((reverses, r.card_id), [])
                elif tx_id in transfers:
                    source = pool[r.member_id]
                else:
                    source = []
                source.sort()
                made: list[_Lot] = []
                left = r.amount
                while left and source:
                    earned_on, n = source[0]
                    use = min(n, left)
                    if use == n:
                        source.pop(0)
                    else:
                        source[0] = (earned_on, n - use)
                    left -= use
                    if (lot := self.add(r.card_id, earned_on, use)) is not None:
                        made.append(lot)
                if left and (lot := self.add(r.card_id, day, left)) is not None:
                    made.append(lot)
                self.created[(tx_id, r.card_id)] = made


def _books_for(card_ids: Sequence[int]) -> _Books:
    """Replay every ``card.points`` entry of these cards (with the members' other cards they share a
    transaction with, the caller passes all of a member's cards)."""
    books = _Books()
    if not card_ids:
        return books
    query = (
        Entry.select(Entry.transaction, Transaction.created_at, Transaction.reverses, Entry.card, Card.member,
                     Entry.amount)
        .join(Transaction, on=(Entry.transaction == Transaction.id))
        .switch(Entry).join(Card, on=(Entry.card == Card.id))
        .where(Entry.card.in_(list(card_ids)) & (Entry.account == "card.points"))
        .order_by(Transaction.created_at, Transaction.id, Entry.id)
        .tuples()
    )
    rows = [_Row(tx, created, reverses, card, member, int(amount))
            for tx, created, reverses, card, member, amount in query]
    signs: dict[int, set[bool]] = defaultdict(set)
    for r in rows:
        signs[r.tx_id].add(r.amount > 0)
    mixed = [tx for tx, s in signs.items() if len(s) == 2]
    transfers: set[int] = set()
    if mixed:
        counted = {tx for (tx,) in Entry.select(Entry.transaction).distinct().where(
            Entry.transaction.in_(mixed) & Entry.card.is_null() & (Entry.unit == "pt")).tuples()}
        transfers = set(mixed) - counted
    books.replay(rows, transfers)
    return books


def _member_card_ids(member_id: int) -> list[int]:
    return [c for (c,) in Card.select(Card.id).where(Card.member == member_id).tuples()]


def _due(lots: Sequence[_Lot], as_of: dt.date, rules: Rules) -> int:
    """Points of the lots whose expiry day is ``as_of`` or earlier."""
    total = 0
    for lot in lots:
        ends = points_expire_on(lot.earned_on, rules)
        if ends is None or ends > as_of:
            break  # lots are oldest first, and a later lot never expires earlier
        total += lot.points
    return total


# ------------------------------------------------------------------------------------------------ what the desk shows


def card_lots(card: Card | int | str, rules: Rules | None = None) -> list[PointsLot]:
    """What is left of each day's points on a card, oldest first, with the day each is gone."""
    rules = rules or load_rules()
    card_obj = resolve_card(card)
    books = _books_for(_member_card_ids(card_obj.member_id))
    by_day: dict[dt.date, int] = {}
    for lot in books.lots[card_obj.id]:
        by_day[lot.earned_on] = by_day.get(lot.earned_on, 0) + lot.points
    return [PointsLot(card_obj.id, day, points_expire_on(day, rules), points) for day, points in by_day.items()]


def next_points_expiry(card: Card | int | str, rules: Rules | None = None) -> PointsExpiry | None:
    """The points that go next on a card and the day they go (points whose day has come but that the nightly
    run has not yet taken count as going on that day); None when nothing on it ever expires."""
    rules = rules or load_rules()
    if not rules.points.expire_months:
        return None
    card_obj = resolve_card(card)
    lots = card_lots(card_obj, rules)
    if not lots:
        return None
    first = lots[0].expires_on
    assert first is not None
    points = sum(lot.points for lot in lots if lot.expires_on == first)
    return PointsExpiry(card_obj.id, card_obj.card_no, min(points, card_obj.points), first)


# ------------------------------------------------------------------------------------------------ expiring


def _expire_txid(card_id: int, as_of: dt.date) -> str:
    return f"expire-{card_id}-{as_of.isoformat()}"


def expire_card_points(card: Card | int | str, as_of: dt.date, staff: Staff, *, store: Store | str | None = None,
                       rules: Rules | None = None) -> ExpireResult | None:
    """Expire what is due on one card as of ``as_of``, in one transaction; None when nothing is due. The same card
    and day a second time returns the first result."""
    rules = rules or load_rules()
    card_obj = resolve_card(card)
    store_obj = resolve_store(store, staff)
    request = {"card": card_obj.id, "as_of": as_of.isoformat()}

    def body(tx: Transaction) -> ExpireResult:
        current = Card.get_by_id(card_obj.id)
        lots = _books_for(_member_card_ids(current.member_id)).lots[current.id]
        points = min(_due(lots, as_of, rules), current.points)
        if points <= 0:
            raise _NothingDue("nothing due")
        earned: list[list[object]] = []
        left = points
        for lot in lots:
            if left == 0:
                break
            n = min(lot.points, left)
            earned.append([lot.earned_on.isoformat(), n])
            left -= n
        post(tx, [card_posting(current.id, "card.points", -points), Posting(EXPIRED_ACCOUNT, "pt", points)])
        audit("points.expire", f"card:{current.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"points": points, "as_of": as_of.isoformat(), "earned": earned,
                       "expire_months": rules.points.expire_months})
        return ExpireResult(tx.txid, current.id, current.card_no, current.member_id, points, as_of.isoformat(),
                            current.points - points)

    try:
        return run_operation(txid=_expire_txid(card_obj.id, as_of), kind=EXPIRE_KIND, request=request, staff=staff,
                             store=store_obj, member=card_obj.member_id, body=body, result_type=ExpireResult,
                             note=_("points earned up to {date} expired").format(
                                 date=_last_earned_day(as_of, rules).isoformat()))
    except _NothingDue:
        return None


def _last_earned_day(as_of: dt.date, rules: Rules) -> dt.date:
    """The last earning day whose points are gone on ``as_of`` (for the note a member reads in their history)."""
    day = as_of - dt.timedelta(days=31 * rules.points.expire_months + 1)
    while (ends := points_expire_on(day + dt.timedelta(days=1), rules)) is not None and ends <= as_of:
        day += dt.timedelta(days=1)
    return day


def due_expiries(as_of: dt.date, rules: Rules | None = None, *, stores: Stores = None) -> list[CardExpiry]:
    """Every card with points due to expire on ``as_of`` (nothing is written); ``stores``: only the cards of
    members whose home is one of them (None: every card)."""
    rules = rules or load_rules()
    if not rules.points.expire_months:
        return []
    holders = Card.select(Card.member).distinct().where(Card.points > 0)
    if (home := at_stores(Member.home_store, stores)) is not None:
        holders = holders.join(Member).where(home)
    members = [m for (m,) in holders.order_by(Card.member).tuples()]
    due: list[CardExpiry] = []
    for start in range(0, len(members), CHUNK):
        chunk = members[start:start + CHUNK]
        cards = list(Card.select(Card.id, Card.card_no, Card.member, Card.points)
                     .where(Card.member.in_(chunk)).order_by(Card.id).tuples())
        books = _books_for([c[0] for c in cards])
        for card_id, card_no, member_id, held in cards:
            points = min(_due(books.lots[card_id], as_of, rules), held)
            if points > 0:
                due.append(CardExpiry(card_id, card_no, member_id, points, None))
    return due


def expire_points(as_of: dt.date | None = None, *, staff: Staff, store: Store | str | None = None,
                  dry_run: bool = False, rules: Rules | None = None) -> ExpiryRun:
    """``mms points expire``: expire every card's due points as of ``as_of`` (None: today — each member's home
    store's own today, whichever zone this process runs in), a transaction per card.

    Idempotent: a second run for the same day (or an earlier one) finds nothing due and writes nothing."""
    as_of = checked_day(as_of)
    if as_of is not None and (not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime)):
        raise InvalidInput(_("The as-of day must be a date."))
    days: list[tuple[dt.date, Stores]] = [(as_of, None)] if as_of is not None else days_at_stores()
    rules = rules or load_rules()
    due = [(day, card) for day, stores in days for card in due_expiries(day, rules, stores=stores)]
    last = max(day for day, _stores in days)  # the run's day: the latest of its stores'
    if dry_run:
        return ExpiryRun(last, True, [card for _day, card in due])
    done: list[CardExpiry] = []
    for day, card in due:
        result = expire_card_points(card.card_id, day, staff, store=store, rules=rules)
        if result is not None:
            done.append(CardExpiry(result.card_id, result.card_no, result.member_id, result.points, result.txid))
    return ExpiryRun(last, False, done)


# --- gifts from the points catalogue (积分兑换) ------------------------------------------------------------------


@dataclass(frozen=True)
class GiftResult:
    txid: str
    card_id: int
    card_no: str
    member_id: int
    gift_code: str
    gift_name: str
    points: int
    points_after: int
    #: a gift that is a coupon (积分兑换现金券): the coupon issued to the member, and its last day
    coupon_code: str | None = None
    coupon_valid_until: str | None = None


def gift_catalogue(rules: Rules | None = None) -> list:
    """The gifts a member can take for points, cheapest first (the rules' ``points.gifts``)."""
    rules = rules or load_rules()
    return sorted(rules.points.gifts, key=lambda g: (g.points, g.code))


def redeem_gift(card: Card | int | str, gift_code: str, staff: Staff, txid: str, *,
                store: Store | str | None = None) -> GiftResult:
    """Give a gift from the catalogue for its points, taken from ``card`` (oldest points first, like every
    spending). One ledger transaction of kind ``gift``: ``card.points −N`` against ``points.redeemed +N``; a
    refund gives the points back. A gift that is a coupon (积分兑换现金券, the gift's ``coupon``) issues one to the
    card's member in the same transaction; its refund withdraws the coupon, and is refused once it was used."""
    from mms_tui.services.base.resolve import ensure_usable

    rules = load_rules()
    gift = next((g for g in rules.points.gifts if g.code == (gift_code or "").strip().upper()), None)
    if gift is None:
        known = ", ".join(g.code for g in gift_catalogue(rules)) or "-"
        raise InvalidInput(_("No gift {code} in the points catalogue (gifts: {known}).").format(
            code=gift_code, known=known))
    card_obj = resolve_card(card)
    store_obj = resolve_store(store, staff)

    def body(tx: Transaction) -> GiftResult:
        current = Card.get_by_id(card_obj.id)
        ensure_usable(current, at=store_obj)
        post(tx, [card_posting(current.id, "card.points", -gift.points), Posting("points.redeemed", "pt", gift.points)])
        take_gift(tx, store_obj, gift.code)  # a gift that is a product leaves the shelf
        coupon = None
        if gift.coupon is not None:
            coupon = issue_for_points(current.member, gift.coupon, gift.valid_days, staff, store_obj,
                                      today(), rules, tx.txid)
        after = Card.get_by_id(current.id)
        audit("points.gift", f"card:{current.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"gift": gift.code, "name": gift.name, "points": gift.points,
                       **({"coupon": coupon.code} if coupon is not None else {})})
        return GiftResult(tx.txid, current.id, current.card_no, current.member_id, gift.code, gift.name, gift.points,
                          after.points, coupon.code if coupon else None,
                          coupon.valid_until.isoformat() if coupon and coupon.valid_until else None)

    return run_operation(txid=txid, kind="gift", request={"card": card_obj.id, "gift": gift.code,
                                                          "points": gift.points},
                         staff=staff, store=store_obj, member=card_obj.member_id, body=body, result_type=GiftResult)
