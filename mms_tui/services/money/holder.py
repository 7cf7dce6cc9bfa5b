"""A member as a bill reads them — the row, the tier, every card with its type, in one statement — and what the
rules and the tenders need of them: the facts pricing decides on (:func:`member_facts`), the card a stored-value or
points tender takes from, where earned points go, and the lock that makes two desks serving one member wait.

The joining fee: it counts as paid while a paid (not refunded) sale of the member has a ``FEE-JOIN`` line. It is
owed by a member who holds no card yet, and by one whose first card was issued while the rules charged a joining
fee (the latest ``rules.save`` before that card's issue says so); members whose first card came earlier never owe
it. :func:`member_facts` is where this is decided, for the desk and for ``due_fees`` alike.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mms_tui.db import database, is_sqlite
from mms_tui.i18n import _
from mms_tui.models import AuditEvent, Card, CardType, Member, Sale, SaleLine, Store, Tier, Transaction
from mms_tui.services.base.errors import (
    CardElsewhere,
    DomainError,
    InsufficientBalance,
    InvalidInput,
    UnknownMember,
    WrongCardKind,
)
from mms_tui.services.base.resolve import ensure_usable, ensure_used_here, resolve_card
from mms_tui.services.base.sql import columns, fetch_rows, row_model
from mms_tui.services.base.text import normalise_card_no, parse_yuan
from mms_tui.services.catalogue.prices import BillPrices, prices_for
from mms_tui.services.ledger import results
from mms_tui.services.ledger.tenders import Tender
from mms_tui.services.loyalty.pricing import MemberFacts
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.money.fees import FEE_CODES
from mms_tui.services.money.payment import TenderCard, TenderRequest


@dataclass
class Holder:
    """A member as a bill reads them: the row, their tier, and every card they hold with its type, by id."""

    member: Member
    tier: Tier
    cards: list[Card]
    #: late-cancel and no-show fees of their bookings and class places not yet paid (read with the member)
    booking_fees_fen: int = 0


_HOLDER_SQL: dict[str, str] = {}
#: the booking fees a member owes, as a column of the holder's read (services/bookings; money/fees.py collects them)
_FEES_OWED = " + ".join(f'COALESCE((SELECT SUM("x"."fee_fen") FROM "{table}" AS "x" WHERE "x"."member_id" = "m"."id" '
                        'AND "x"."fee_fen" > 0 AND "x"."fee_txid" IS NULL), 0)' for table in ("booking", "class_booking"))


def _holder_sql(key: str) -> str:
    sql = _HOLDER_SQL.get(key)
    if sql is None:
        sql = _HOLDER_SQL[key] = (
            f'SELECT {columns(Member, "m")}, {columns(Tier, "t")}, {columns(Card, "c")}, {columns(CardType, "ct")}, '
            f'{_FEES_OWED} '
            'FROM "member" AS "m" JOIN "tier" AS "t" ON "t"."id" = "m"."tier_id" '
            'LEFT JOIN "card" AS "c" ON "c"."member_id" = "m"."id" '
            'LEFT JOIN "card_type" AS "ct" ON "ct"."id" = "c"."card_type_id" '
            f'WHERE "m"."{key}" = ? ORDER BY "c"."id"'
        )
    return sql


def load_holder(member: Member | int | str) -> Holder:
    """The member (by id, or by phone as :func:`resolve_member` finds them) with tier and cards, in one read."""
    if isinstance(member, Member):
        key, value = "id", member.id
    elif isinstance(member, int):
        key, value = "id", member
    else:
        key, value = "phone", member
    rows = fetch_rows(_holder_sql(key), (value,))
    if not rows:
        raise UnknownMember(_("Unknown member {member}.").format(member=member))
    n_member, n_tier, n_card = (len(m._meta.sorted_fields) for m in (Member, Tier, Card))
    first = rows[0]
    holder = Holder(row_model(Member, first), row_model(Tier, first, n_member), [], int(first[-1] or 0))
    holder.member.tier = holder.tier
    holder.member._dirty.clear()
    at_card = n_member + n_tier
    for row in rows:
        if row[at_card] is None:
            continue  # no cards
        card = row_model(Card, row, at_card)
        card.card_type = row_model(CardType, row, at_card + n_card)
        card._dirty.clear()
        holder.cards.append(card)
    return holder


def first_card(cards: Iterable[Card], kinds: Sequence[str], require_points: bool = False) -> Card | None:
    """The member's active card of one of ``kinds`` with the lowest id (holding points, if asked)."""
    return next((c for c in cards if c.status == "active" and c.card_type.kind in kinds
                 and (not require_points or c.points > 0)), None)


def _discount_card_bp(cards: Iterable[Card], store: Store | None = None) -> int:
    """The best active 折扣卡's rate (basis points paid) of those used at ``store``, 10000 without one."""
    return min((c.card_type.discount_bp for c in cards if c.status == "active" and c.card_type.kind == "discount"
                and _used_here(c, store)), default=10000)


def _used_here(card: Card, store: Store | None) -> bool:
    try:
        ensure_used_here(card, store)
    except CardElsewhere:
        return False
    return True


def _joining_fee_paid(member_id: int) -> bool:
    return (SaleLine.select().join(Sale)
            .where((Sale.member == member_id) & (Sale.status == "paid") & (SaleLine.code == FEE_CODES["joining"]))
            .exists())


def _cards_exempting_joining_fee(member_id: int) -> int:
    """The member's cards, as ``due_fees`` counts them for the joining fee: all of them when the first was issued
    while the rules charged no joining fee, none when it came under one (or when there is no card yet)."""
    cards = Card.select().where(Card.member == member_id)
    first = cards.order_by(Card.issued_at, Card.id).first()
    if first is None:
        return 0
    issued = AuditEvent.get_or_none((AuditEvent.subject == f"card:{first.id}") & (AuditEvent.action == "card.issue"))
    before = (AuditEvent.id < issued.id) if issued is not None else (AuditEvent.created_at <= first.issued_at)
    saved = (AuditEvent.select(AuditEvent.payload).where((AuditEvent.action == "rules.save") & before)
             .order_by(AuditEvent.id.desc()).first())
    count = cards.count()
    if saved is None:
        return count  # the defaults were in force: no joining fee
    try:
        joining = parse_yuan(str(json.loads(saved.payload)["rules"].get("fees", {}).get("joining", "0")))
    except (ValueError, KeyError, TypeError, AttributeError, DomainError):
        return count
    return 0 if joining > 0 else count


def lock_member(member_id: int) -> None:
    """Two desks serving one member at once: on PostgreSQL the second waits here until the first has committed,
    then reads the balances, the promotion uses and the coupons as the first left them (so the principal/bonus
    split and the per-member limits are decided on what is really there). SQLite's write lock does this already."""
    if not is_sqlite():
        database.execute_sql('SELECT "id" FROM "member" WHERE "id" = %s FOR NO KEY UPDATE', (member_id,))


def _promotion_uses(member_id: int, rules: Rules) -> dict[str, int]:
    """Promotion code → how many of the member's paid sales applied it (only promotions with a per-member limit)."""
    limited = {p.code for p in rules.promotions if p.per_member_limit}
    if not limited:
        return {}
    lock_member(member_id)  # (a quote reads without waiting; a checkout has locked the member already)
    uses: dict[str, int] = {}
    query = (Transaction.select(Transaction.result).join(Sale, on=(Sale.transaction == Transaction.id))
             .where((Sale.member == member_id) & (Sale.status == "paid")).tuples())
    for (stored,) in query.iterator():
        try:
            applied = {p["promotion"] for p in results.load(stored).get("promotions", [])}
        except (ValueError, TypeError, KeyError):
            continue
        for code in applied & limited:
            uses[code] = uses.get(code, 0) + 1
    return uses


def member_facts(member: Member | int | str, rules: Rules | None = None) -> MemberFacts:
    """Everything the rules need to know about a member, read from the database: the one place the desk, the
    checkout and the fees agree on."""
    holder = load_holder(member)
    return facts_of(holder, rules if rules is not None else load_rules())


def bill_prices(holder: Holder | None, store_id: int | None) -> BillPrices:
    """The price lists a bill at ``store_id`` reads for this member (None: a walk-in, retail prices only)."""
    if holder is None:
        return prices_for(store_id)
    return prices_for(store_id, holder.tier.id, holder.member.price_level_id)


def facts_of(holder: Holder, rules: Rules, prices: BillPrices | None = None, store: Store | None = None
             ) -> MemberFacts:
    """The member's facts; ``prices``: the lists at the bill's store (default: the chain's); at ``store``, a
    discount card bound elsewhere gives nothing."""
    member, tier = holder.member, holder.tier
    if prices is None:
        prices = bill_prices(holder, None)
    joining = rules.fees.joining_fen > 0
    sv = first_card(holder.cards, ("stored_value",))
    benefit = rules.tiers.benefit(tier.code)
    return MemberFacts(
        member_id=member.id,
        tier_code=tier.code,
        tier_name=tier.name,
        tier_discount_bp=benefit.price_bp if benefit is not None else 10_000,
        tier_points_pct=benefit.points_pct if benefit is not None else 100,
        tier_prices=prices.tier,
        level_name=prices.level_name,
        level_prices=prices.level,
        discount_card_bp=_discount_card_bp(holder.cards, store),
        birthday=member.birthday,
        joined_on=member.created_at.date() if isinstance(member.created_at, dt.datetime) else member.created_at,
        cards_issued=_cards_exempting_joining_fee(member.id) if joining else len(holder.cards),
        joining_fee_paid=_joining_fee_paid(member.id) if joining else False,
        annual_paid_until=member.fees_paid_until,
        promotion_uses=_promotion_uses(member.id, rules),
        principal_fen=sv.principal_fen if sv is not None else 0,
        bonus_fen=sv.bonus_fen if sv is not None else 0,
        booking_fees_fen=holder.booking_fees_fen,
    )


# ------------------------------------------------------------------------------------------------ tenders

#: cards a points tender may take points from (the member's first one holding any, unless a card is named)
POINTS_SOURCE_KINDS = ("points", "stored_value", "discount", "visits", "period")


def points_source(cards: Iterable[Card]) -> Card | None:
    """The card a points tender takes from unless it names one: the member's first active card holding points."""
    return first_card(cards, POINTS_SOURCE_KINDS, require_points=True)


def points_card(member: Member | int, used: Card | None = None) -> Card | None:
    """Where earned points go: the member's points card, else the stored-value card used, else any active card."""
    return points_target(load_holder(member).cards, used)


def points_target(cards: Sequence[Card], used: Card | None) -> Card | None:
    return first_card(cards, ["points"]) or used or first_card(cards, ["stored_value", "discount", "visits", "period"])


def _held_card(holder: Holder, ref: Card | int | str) -> Card:
    """The card a tender names, as :func:`resolve_card` finds it: from the member's cards read for this bill when
    it is one of them, else from the database."""
    if isinstance(ref, (Card, int)):
        ref_id = ref.id if isinstance(ref, Card) else ref
        found = next((c for c in holder.cards if c.id == ref_id), None)
    else:
        key = normalise_card_no(ref)
        found = next((c for c in holder.cards if key and c.card_no == key), None)  # card numbers are unique
    return found if found is not None else resolve_card(ref)


def tender_card(holder: Holder, t: TenderRequest, store: Store | None = None) -> TenderCard:
    """The card a stored-value or points tender takes from: the one it names, which must be the member's, else the
    member's first usable one (for points: the first holding points); at ``store``, a card bound elsewhere is
    refused."""
    member = holder.member
    if t.card is not None:
        card = _held_card(holder, t.card)
        if card.member_id != member.id:
            raise InvalidInput(_("Card {card} belongs to another member.").format(card=card.card_no))
    elif t.tender == Tender.POINTS:
        card = points_source(holder.cards)
        if card is None:
            raise InsufficientBalance(_("{name} has no points to pay with.").format(name=member.name))
    else:
        card = first_card(holder.cards, ["stored_value"])
        if card is None:
            raise WrongCardKind(_("{name} has no usable stored-value card.").format(name=member.name))
    if t.tender == Tender.STORED_VALUE and card.card_type.kind != "stored_value":
        raise WrongCardKind(_("Card {card} is not a stored-value card.").format(card=card.card_no))
    ensure_usable(card, at=store)
    return TenderCard(card.id, card.card_no, card.principal_fen, card.bonus_fen)
