"""结账: price a cart by the loyalty rules, take split tenders, earn points, all in one transaction.

There is one way to price: :func:`mms_tui.services.loyalty.pricing.price_cart` on the rules in force
(:func:`~mms_tui.services.loyalty.rules.load_rules`). This module gathers what it needs from the database in one place
(:func:`member_facts`, :func:`cart_lines`, the coupons shown) and records what it decided.

It is the desk's busiest write, so it reads little and builds no SQL: the member with tier and cards in one
statement, the whole cart in one, the tier prices in one, the rules as one keyed read (parsed again only when
they change), all written out (:func:`~mms_tui.services.base.sql.run_sql`). A quote reads them outside any
transaction; the checkout reads them again inside its write transaction, where they decide money, and writes the
sale once everything it records is known (``tests/test_checkout_speed.py`` keeps the count of statements).

The rules the desk explains to members:

* **Prices** are the member price of each line (tier price, tier or 折扣卡 discount), then the promotions: the
  automatic ones apply by themselves, the others need a coupon (see :mod:`~mms_tui.services.loyalty.pricing`). Each
  ``SaleLine`` keeps its explanations ("金卡会员 9折; 满300减50") and, as ``line_total_fen``, what the line brought
  in after its share of the cart discounts, so turnover by category and refunds are exact; the cart discounts
  themselves, with their explanations, are in the sale's result (receipt and history print them).
* **Coupons** come by code (typed or scanned) and, unless the caller says otherwise, from the member's own unused
  coupons valid today at this store. A coupon code that cannot be used at all (unknown, used, another member's,
  another store's, out of its dates, a promotion the rules no longer have) is refused with one message; one that
  does not fit this bill ("¥12.00 more to get 满300减50") stays unused, with the reason. A coupon is used at most
  once: the sale marks it used in its own write transaction with ``… WHERE used_at IS NULL``, so of two desks
  redeeming one coupon exactly one succeeds, and a retry of the same txid returns the first result. A refund
  reopens the coupons its sale used: they can be used again while their dates allow. A birthday benefit's coupon
  (``BDAY-<member>-<first day of the window>``, see ``pricing.birthday_benefit``) becomes a ``Coupon`` row the
  first time it is used, so it too is used once per birthday.
* **Per-member limits** count the promotions applied by the member's earlier paid (not refunded) sales, as each
  sale's result records them.
* **Stored value** pays principal and bonus in the rules' spending order (``topup.spend_order``).
* **Points as a tender** pay at ``points.redeem_per_yuan`` points per yuan, in whole points, at least
  ``redeem_min_points`` per payment and at most ``redeem_max_share`` percent of the goods; they never pay fees.
* **Points earned** are :func:`~mms_tui.services.loyalty.pricing.points_earned` on what paid the goods (money net of
  change, stored-value principal; bonus value and points only when the rules say so).
* **Fees** (rules ``fees``, :func:`~mms_tui.services.loyalty.pricing.due_fees`) that are due can be put on the bill by
  kind; each is a sale line of a fee code in category 会费, at the amount due, never discounted:

  - ``FEE-JOIN``: the joining fee counts as paid while a paid (not refunded) sale of the member has this line. It
    is owed by a member who holds no card yet, and by one whose first card was issued while the rules charged a
    joining fee (the latest ``rules.save`` before that card's issue says so); members whose first card came
    earlier never owe it. :func:`member_facts` is where this is decided, for the desk and for ``due_fees`` alike.
  - ``FEE-ANNUAL``: moves ``Member.fees_paid_until`` to the day the payment covers (conditionally, so two desks
    cannot both collect one year); the sale's result keeps the day before, and its refund moves it back.
  - ``FEE-LATE``: comes with the annual fee when it is due, and is never paid alone.

  Fees earn no points and are no tier spend: of the tenders, the money pays them first (cash, bank card, WeChat,
  Alipay, then stored-value principal, then bonus value), the rest pays the goods.
* **Tier upgrade** is immediate: the money part of the goods (money tenders net of change, stored-value principal)
  is added to the member's spend by :func:`~mms_tui.services.loyalty.tiers.apply_spend` in the same transaction.
* **Cash** may exceed what is left to pay; the difference is change. No other tender may overpay.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from mms_tui.db import database, is_sqlite
from mms_tui.i18n import _
from mms_tui.models import (
    AuditEvent,
    Card,
    CardType,
    Coupon,
    Member,
    Payment,
    Product,
    Sale,
    SaleLine,
    ServiceItem,
    Staff,
    Store,
    Tier,
    Transaction,
    now,
)
from mms_tui.services.base.config import limits, require_within_limit
from mms_tui.services.base.errors import (
    DomainError,
    InsufficientBalance,
    InvalidInput,
    UnknownItem,
    UnknownMember,
    WrongCardKind,
)
from mms_tui.services.base.resolve import ensure_usable, resolve_card, resolve_member, resolve_store
from mms_tui.services.base.sql import columns, fetch_rows, insert_model, insert_rows, row_model
from mms_tui.services.base.text import format_money, normalise_card_no, parse_money
from mms_tui.services.ledger.operations import Posting, audit, card_posting, post, run_operation
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty import pricing
from mms_tui.services.loyalty.pricing import CartLine, CouponFacts, MemberFacts, PricedCart, PricedLine
from mms_tui.services.loyalty.rules import Rules, load_rules
from mms_tui.services.loyalty.tiers import apply_spend

TENDERS = ("stored_value", "points", *MONEY_TENDERS)

#: fee kind → the sale line code that records it (how the desk and ``due_fees`` agree a fee was paid)
FEE_CODES = {"joining": "FEE-JOIN", "annual": "FEE-ANNUAL", "late": "FEE-LATE"}
#: the category of fee lines (turnover shows fees as a column of their own)
FEE_CATEGORY = "会费"
#: what SaleLine.discount_reason holds at most
_REASON_MAX = 100


@dataclass(frozen=True)
class LineRequest:
    code: str  # item code or barcode
    qty: int = 1


@dataclass(frozen=True)
class TenderRequest:
    tender: str
    amount_fen: int
    card: str | int | None = None  # stored value / points: which card (default: the member's)


@dataclass(frozen=True)
class FeeLine:
    """A fee that is due, and on the bill when asked for."""

    kind: str  # joining | annual | late
    code: str
    name: str
    amount_fen: int
    due_on: dt.date | None
    covers_until: dt.date | None  # annual: paid up to this day afterwards


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


@dataclass(frozen=True)
class Quote:
    lines: list[PricedLine]
    cart_discounts: list[pricing.CartDiscount]
    fees: list[FeeLine]  # on the bill
    fees_due: list[FeeLine]  # all that are due, on the bill or not
    coupons: list[CouponStatus]
    subtotal_fen: int  # goods at list prices, plus fees
    discount_fen: int
    total_fen: int  # goods after discounts, plus fees
    goods_total_fen: int
    #: points: the card they pay from, what it holds, the most of this bill they may pay, the rate
    points_card_no: str | None = None
    points_held: int = 0
    points_max_fen: int = 0
    points_per_yuan: int = 100
    points_step_fen: int = 1

    def points_for(self, amount_fen: int) -> int:
        """How many points pay ``amount_fen`` (the desk shows it next to the points tender)."""
        return amount_fen * self.points_per_yuan // 100


@dataclass(frozen=True)
class CheckoutResult:
    txid: str
    sale_id: int
    member_id: int | None
    subtotal_fen: int
    discount_fen: int
    total_fen: int
    change_fen: int
    points_earned: int
    points_redeemed: int
    tier_code: str | None
    lines: list[dict]
    payments: list[dict]
    #: {promotion, coupon, amount_fen, explanation} of each cart discount (满300减50)
    cart_discounts: list[dict] = field(default_factory=list)
    #: every promotion applied (line and cart), for receipts and the per-member limits
    promotions: list[dict] = field(default_factory=list)
    coupons: list[str] = field(default_factory=list)
    #: {kind, code, amount_fen, paid_until_before, paid_until_after} of each fee collected
    fees: list[dict] = field(default_factory=list)
    points_explanations: list[str] = field(default_factory=list)
    #: what this sale added to the member's tier spend (a refund takes exactly this back)
    spend_fen: int | None = None


def _as_line(line: LineRequest | tuple | str) -> LineRequest:
    if isinstance(line, LineRequest):
        return line
    if isinstance(line, str):
        return LineRequest(line, 1)
    return LineRequest(*line)


def _as_tender(tender: TenderRequest | tuple) -> TenderRequest:
    return tender if isinstance(tender, TenderRequest) else TenderRequest(*tender)


# --- the reads a quote and a checkout make, written out (one statement each; see common.run_sql) ---------------

_ITEMS_SQL: dict[int, str] = {}


def _items_sql(keys: int) -> str:
    """Active services and products whose code or barcode is one of ``keys`` keys: services first."""
    sql = _ITEMS_SQL.get(keys)
    if sql is None:
        marks = ", ".join("?" for _k in range(keys))
        padding = len(ServiceItem._meta.sorted_fields) - len(Product._meta.sorted_fields)
        where = f'WHERE "t"."active" = ? AND ("t"."code" IN ({marks}) OR "t"."barcode" IN ({marks}))'
        sql = _ITEMS_SQL[keys] = (
            f'SELECT \'service\', {columns(ServiceItem, "t")} FROM "service_item" AS "t" {where} UNION ALL '
            f'SELECT \'product\', {columns(Product, "t")}{", NULL" * padding} FROM "product" AS "t" {where}'
        )
    return sql


def _find_items(keys: Sequence[str]) -> dict[str, tuple[str, Product | ServiceItem]]:
    """Key → (kind, item) for each key that is an active item's code or barcode, in one read: a service before a
    product, a code before a barcode (codes and barcodes are each unique within a table)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    rows = fetch_rows(_items_sql(len(wanted)), (True, *wanted, *wanted) * 2)
    found: dict[str, tuple[int, str, Product | ServiceItem]] = {}
    for row in rows:
        kind = row[0]
        item = row_model(ServiceItem if kind == "service" else Product, row, 1)
        first = 0 if kind == "service" else 2
        for key, order in ((item.code, first), (item.barcode, first + 1)):
            if key is not None and (key not in found or order < found[key][0]):
                found[key] = (order, kind, item)
    return {key: (kind, item) for key, (_order, kind, item) in found.items() if key in wanted}


def find_item(code: str) -> tuple[str, Product | ServiceItem]:
    """A product or service by code or barcode."""
    key = normalise_card_no(code)
    hit = _find_items([key]).get(key)
    if hit is None:
        raise UnknownItem(_("No product or service with code {code}.").format(code=code))
    return hit


# ------------------------------------------------------------------------------------------------ facts


def cart_lines(lines: Iterable[LineRequest | tuple | str]) -> list[CartLine]:
    """The cart as the rules see it: each line's item from the catalogue at its list price.

    One read for the whole cart; a line that is wrong is refused as if the lines were looked up one by one (the
    first wrong line, in order, says why)."""
    checked: list[tuple[LineRequest, str]] = []
    refusal: Exception | None = None
    for raw in lines:
        try:
            line = _as_line(raw)
            if not isinstance(line.qty, int) or isinstance(line.qty, bool) or line.qty <= 0 or line.qty > 9999:
                raise InvalidInput(_("Quantity must be a whole number from 1 to 9999."))
            checked.append((line, normalise_card_no(line.code)))
        except Exception as exc:  # raised below, after the lines before it were looked up
            refusal = exc
            break
    items = _find_items([key for _line, key in checked])
    cart: list[CartLine] = []
    for line, key in checked:
        hit = items.get(key)
        if hit is None:
            raise UnknownItem(_("No product or service with code {code}.").format(code=line.code))
        kind, item = hit
        cart.append(CartLine(kind, item.code, item.name, item.category, item.price_fen, line.qty, item.id))
    if refusal is not None:
        raise refusal
    return cart


@dataclass
class _Holder:
    """A member as a bill reads them: the row, their tier, and every card they hold with its type, by id."""

    member: Member
    tier: Tier
    cards: list[Card]


_HOLDER_SQL: dict[str, str] = {}


def _holder_sql(key: str) -> str:
    sql = _HOLDER_SQL.get(key)
    if sql is None:
        sql = _HOLDER_SQL[key] = (
            f'SELECT {columns(Member, "m")}, {columns(Tier, "t")}, {columns(Card, "c")}, {columns(CardType, "ct")} '
            'FROM "member" AS "m" JOIN "tier" AS "t" ON "t"."id" = "m"."tier_id" '
            'LEFT JOIN "card" AS "c" ON "c"."member_id" = "m"."id" '
            'LEFT JOIN "card_type" AS "ct" ON "ct"."id" = "c"."card_type_id" '
            f'WHERE "m"."{key}" = ? ORDER BY "c"."id"'
        )
    return sql


def _load_holder(member: Member | int | str) -> _Holder:
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
    holder = _Holder(row_model(Member, first), row_model(Tier, first, n_member), [])
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


def _first_card(cards: Iterable[Card], kinds: Sequence[str], require_points: bool = False) -> Card | None:
    """The member's active card of one of ``kinds`` with the lowest id (holding points, if asked)."""
    return next((c for c in cards if c.status == "active" and c.card_type.kind in kinds
                 and (not require_points or c.points > 0)), None)


def _discount_card_bp(cards: Iterable[Card]) -> int:
    """The best active 折扣卡's rate (basis points paid), 10000 without one."""
    return min((c.card_type.discount_bp for c in cards if c.status == "active" and c.card_type.kind == "discount"),
               default=10000)


_TIER_PRICES_SQL = (
    'SELECT \'product\', "p"."code", "tp"."price_fen" FROM "tier_price" AS "tp" '
    'JOIN "product" AS "p" ON "p"."id" = "tp"."product_id" WHERE "tp"."tier_id" = ? UNION ALL '
    'SELECT \'service\', "s"."code", "tp"."price_fen" FROM "tier_price" AS "tp" '
    'JOIN "service_item" AS "s" ON "s"."id" = "tp"."service_id" WHERE "tp"."tier_id" = ?'
)


def _tier_prices(tier: Tier) -> dict[tuple[str, str], int]:
    return {(kind, code): price for kind, code, price in fetch_rows(_TIER_PRICES_SQL, (tier.id, tier.id))}


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
        joining = parse_money(json.loads(saved.payload)["rules"].get("fees", {}).get("joining", "0"))
    except (ValueError, KeyError, TypeError, AttributeError, DomainError):
        return count
    return 0 if joining > 0 else count


def _lock_member(member_id: int) -> None:
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
    _lock_member(member_id)  # (a quote reads without waiting; a checkout has locked the member already)
    uses: dict[str, int] = {}
    query = (Transaction.select(Transaction.result_json).join(Sale, on=(Sale.transaction == Transaction.id))
             .where((Sale.member == member_id) & (Sale.status == "paid")).tuples())
    for (text,) in query.iterator():
        try:
            applied = {p["promotion"] for p in json.loads(text or "{}").get("promotions", [])}
        except (ValueError, TypeError, KeyError):
            continue
        for code in applied & limited:
            uses[code] = uses.get(code, 0) + 1
    return uses


def member_facts(member: Member | int | str, rules: Rules | None = None) -> MemberFacts:
    """Everything the rules need to know about a member, read from the database: the one place the desk, the
    checkout and the fees agree on."""
    holder = _load_holder(member)
    return _facts(holder, rules if rules is not None else load_rules())


def _facts(holder: _Holder, rules: Rules) -> MemberFacts:
    member, tier = holder.member, holder.tier
    joining = rules.fees.joining_fen > 0
    sv = _first_card(holder.cards, ("stored_value",))
    return MemberFacts(
        member_id=member.id,
        tier_code=tier.code,
        tier_name=tier.name,
        tier_discount_bp=tier.discount_bp,
        tier_points_pct=tier.points_pct,
        tier_prices=_tier_prices(tier),
        discount_card_bp=_discount_card_bp(holder.cards),
        birthday=member.birthday,
        joined_on=member.created_at.date() if isinstance(member.created_at, dt.datetime) else member.created_at,
        cards_issued=_cards_exempting_joining_fee(member.id) if joining else len(holder.cards),
        joining_fee_paid=_joining_fee_paid(member.id) if joining else False,
        annual_paid_until=member.fees_paid_until,
        promotion_uses=_promotion_uses(member.id, rules),
        principal_fen=sv.principal_fen if sv is not None else 0,
        bonus_fen=sv.bonus_fen if sv is not None else 0,
    )


# ------------------------------------------------------------------------------------------------ coupons


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
class _Shown:
    facts: list[CouponFacts]
    rows: dict[str, Coupon | None]  # None: a birthday coupon not yet written
    own: set[str]


def _shown_coupons(codes: Iterable[str], member: Member | None, facts: MemberFacts | None, store: Store,
                   when: dt.datetime, rules: Rules, include_own: bool) -> _Shown:
    shown = _Shown([], {}, set())
    day = when.date()
    birthday = pricing.birthday_benefit(facts, when, rules) if facts is not None else None
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


def _coupon_statuses(priced: PricedCart, shown: _Shown, rules: Rules) -> list[CouponStatus]:
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


def _use_coupons(codes: Sequence[str], shown: _Shown, member: Member | None, tx: Transaction) -> None:
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


# ------------------------------------------------------------------------------------------------ fees


def _fee_refusal(kind: str) -> str:
    return {
        "joining": _("The joining fee is not due."),
        "annual": _("The annual fee is not due."),
        "late": _("The late fee is not due."),
    }[kind]


def _fees(facts: MemberFacts | None, when: dt.datetime, rules: Rules, kinds: Iterable[str]
          ) -> tuple[list[FeeLine], list[FeeLine]]:
    """(fees on the bill, fees due) for the fee kinds asked for."""
    due = [FeeLine(f.kind, FEE_CODES[f.kind], f.explanation, f.amount_fen, f.due_on, f.covers_until)
           for f in pricing.due_fees(facts, when, rules)] if facts is not None else []
    wanted = list(dict.fromkeys(kinds))
    if not wanted:
        return [], due
    for kind in wanted:
        if kind not in FEE_CODES:
            raise InvalidInput(_("Unknown fee {kind!r} (joining, annual or late).").format(kind=kind))
    if facts is None:
        raise InvalidInput(_("Fees need a member on the bill."))
    due_kinds = {f.kind for f in due}
    for kind in wanted:
        if kind not in due_kinds:
            raise InvalidInput(_fee_refusal(kind))
    if "late" in wanted and "annual" not in wanted:
        raise InvalidInput(_("The late fee is paid together with the annual fee."))
    if "annual" in wanted and "late" in due_kinds:
        wanted.append("late")
    return [f for f in due if f.kind in wanted], due


# ------------------------------------------------------------------------------------------------ quote


@dataclass
class _Bill:
    member: Member | None
    holder: _Holder | None  # the member with tier and cards, as read for this bill
    facts: MemberFacts | None
    store: Store
    rules: Rules
    when: dt.datetime
    priced: PricedCart
    fees: list[FeeLine]
    fees_due: list[FeeLine]
    shown: _Shown
    coupons: list[CouponStatus]

    @property
    def fees_fen(self) -> int:
        return sum(f.amount_fen for f in self.fees)

    @property
    def total_fen(self) -> int:
        return self.priced.total_fen + self.fees_fen


_EMPTY = PricedCart((), (), (), (), 0, 0, 0, 0)


def _bill(member: _Holder | Member | None, lines: Sequence[LineRequest], coupons: Iterable[str],
          member_coupons: bool, fees: Iterable[str], store: Store, when: dt.datetime, rules: Rules) -> _Bill:
    """Price the bill. ``member``: as already read (a quote), or a member to read now, after the cart (a checkout,
    inside its write transaction)."""
    cart = cart_lines(lines)
    holder = member if isinstance(member, _Holder) or member is None else _load_holder(member)
    facts = _facts(holder, rules) if holder is not None else None
    member_obj = holder.member if holder is not None else None
    on_bill, due = _fees(facts, when, rules, fees)
    if not cart and not on_bill:
        raise InvalidInput(_("The bill has no lines."))
    shown = _shown_coupons(coupons, member_obj, facts, store, when, rules, member_coupons)
    priced = pricing.price_cart(facts, cart, when, rules, store.code, shown.facts) if cart else _EMPTY
    return _Bill(member_obj, holder, facts, store, rules, when, priced, on_bill, due, shown,
                 _coupon_statuses(priced, shown, rules))


def quote(
    member: Member | int | str | None,
    lines: Iterable[LineRequest | tuple | str],
    *,
    coupons: Iterable[str] = (),
    member_coupons: bool = True,
    fees: Iterable[str] = (),
    store: Store | str | None = None,
    staff: Staff | None = None,
    when: dt.datetime | None = None,
) -> Quote:
    """Price a bill without saving anything: what the checkout screen shows before confirm.

    ``coupons``: codes shown; ``member_coupons``: also offer the member's own; ``fees``: fee kinds on the bill."""
    holder = _load_holder(member) if member is not None else None
    store_obj = resolve_store(store, staff)
    rules = load_rules()
    bill = _bill(holder, [_as_line(x) for x in lines], coupons, member_coupons, fees, store_obj, when or now(),
                 rules)
    priced = bill.priced
    card = _first_card(holder.cards, TENDER_CARD_KINDS, require_points=True) if holder is not None else None
    held = card.points if card is not None else 0
    return Quote(
        lines=list(priced.lines), cart_discounts=list(priced.cart_discounts), fees=bill.fees, fees_due=bill.fees_due,
        coupons=bill.coupons, subtotal_fen=priced.subtotal_fen + bill.fees_fen, discount_fen=priced.discount_fen,
        total_fen=bill.total_fen, goods_total_fen=priced.total_fen,
        points_card_no=card.card_no if card is not None else None, points_held=held,
        points_max_fen=pricing.max_points_payment(priced.total_fen, held, rules) if held else 0,
        points_per_yuan=rules.points.redeem_per_yuan, points_step_fen=pricing.points_step_fen(rules),
    )


@dataclass(frozen=True)
class Offers:
    """What the desk offers a member as a checkout opens: their own coupons and the fees that are due."""

    coupons: list[CouponStatus]
    fees_due: list[FeeLine]


def checkout_offers(member: Member | int | str, *, store: Store | str | None = None, staff: Staff | None = None,
                    when: dt.datetime | None = None) -> Offers:
    holder = _load_holder(member)
    store_obj = resolve_store(store, staff)
    rules = load_rules()
    when = when or now()
    facts = _facts(holder, rules)
    statuses = []
    for row in own_coupons(holder.member, store_obj, when.date(), rules):
        promo = rules.promotion(row.promotion)
        statuses.append(CouponStatus(row.code, row.promotion, pricing.promotion_label(promo) if promo else row.code,
                                     True, False, 0, ""))
    return Offers(statuses, _fees(facts, when, rules, ())[1])


# ------------------------------------------------------------------------------------------------ checkout

#: cards a points tender may take points from (the member's first one holding any, unless a card is named)
TENDER_CARD_KINDS = ["points", "stored_value", "discount", "visits", "period"]


def points_card(member: Member | int, used: Card | None = None) -> Card | None:
    """Where earned points go: the member's points card, else the stored-value card used, else any active card."""
    return _points_target(_load_holder(member).cards, used)


def _points_target(cards: Sequence[Card], used: Card | None) -> Card | None:
    return _first_card(cards, ["points"]) or used or _first_card(cards, ["stored_value", "discount", "visits", "period"])


def _line_reason(line: PricedLine, priced: PricedCart, rules: Rules) -> str:
    """A line's explanations, and the cart discounts that took a share of it."""
    parts = list(line.explanations)
    if line.net_fen < line.line_total_fen:
        for d in priced.cart_discounts:
            promo = rules.promotion(d.promotion)
            if (promo is None or promo.covers(line.code, line.category)) and d.explanation not in parts:
                parts.append(d.explanation)
    reason = "; ".join(parts)
    return reason if len(reason) <= _REASON_MAX else reason[: _REASON_MAX - 1] + "…"


def _line_dict(line: PricedLine, reason: str) -> dict:
    return {"kind": line.kind, "item_id": line.item_id, "code": line.code, "name": line.name,
            "category": line.category, "qty": line.qty, "list_price_fen": line.list_price_fen,
            "unit_price_fen": line.unit_price_fen, "line_total_fen": line.line_total_fen,
            "discount_reason": reason, "explanations": list(line.explanations), "net_fen": line.net_fen}


def _fee_dict(fee: FeeLine) -> dict:
    return {"kind": "fee", "item_id": None, "code": fee.code, "name": fee.name, "category": FEE_CATEGORY, "qty": 1,
            "list_price_fen": fee.amount_fen, "unit_price_fen": fee.amount_fen, "line_total_fen": fee.amount_fen,
            "discount_reason": "", "explanations": [], "net_fen": fee.amount_fen}


def _take_fees(fees_fen: int, money: dict[str, int], principal: int, bonus: int) -> tuple[dict[str, int], int, int]:
    """The tenders that paid the goods, once the fees were paid: money first, then principal, then bonus."""
    left = fees_fen
    goods_money = {}
    for tender in MONEY_TENDERS:
        take = min(left, money.get(tender, 0))
        goods_money[tender] = money.get(tender, 0) - take
        left -= take
    take = min(left, principal)
    principal, left = principal - take, left - take
    take = min(left, bonus)
    return goods_money, principal, bonus - take


def checkout(
    member: Member | int | str | None,
    lines: Iterable[LineRequest | tuple | str],
    tenders: Iterable[TenderRequest | tuple],
    staff: Staff,
    txid: str,
    *,
    store: Store | str | None = None,
    coupons: Iterable[str] = (),
    member_coupons: bool = True,
    fees: Iterable[str] = (),
) -> CheckoutResult:
    """Sell ``lines`` (and ``fees``, by kind) to ``member`` (None: a walk-in), paid with ``tenders``.

    ``coupons`` are the codes shown; ``member_coupons`` also offers the member's own unused coupons."""
    member_obj = resolve_member(member) if member is not None else None
    line_reqs = [_as_line(x) for x in lines]
    tender_reqs = [_as_tender(x) for x in tenders]
    coupon_codes = [normalise_card_no(str(c or "")) for c in coupons]
    coupon_codes = [c for c in dict.fromkeys(coupon_codes) if c]
    fee_kinds = list(dict.fromkeys(fees))
    store_obj = resolve_store(store, staff)
    for t in tender_reqs:
        if t.tender not in TENDERS:
            raise InvalidInput(_("Unknown tender {tender!r}.").format(tender=t.tender))
        if not isinstance(t.amount_fen, int) or isinstance(t.amount_fen, bool) or t.amount_fen <= 0:
            raise InvalidInput(_("Each payment must be more than zero."))
        if t.tender in ("stored_value", "points") and member_obj is None:
            raise InvalidInput(_("Stored value and points need a member on the bill."))
    request: dict = {
        "member": member_obj.id if member_obj else None,
        "lines": [asdict(x) for x in line_reqs],
        "tenders": [asdict(x) for x in tender_reqs],
    }
    if coupon_codes:
        request["coupons"] = coupon_codes
    if not member_coupons:
        request["member_coupons"] = False
    if fee_kinds:
        request["fees"] = fee_kinds

    def body(tx: Transaction) -> CheckoutResult:
        ceiling = limits()["operation_fen"]  # (here, after the txid: a retry answers without reading settings)
        for t in tender_reqs:
            require_within_limit(t.amount_fen, _("A payment"), ceiling)
        rules = load_rules()
        when = tx.created_at
        if member_obj is not None:
            _lock_member(member_obj.id)
        bill = _bill(member_obj, line_reqs, coupon_codes, member_coupons, fee_kinds, store_obj, when, rules)
        holder = bill.holder  # read inside this transaction: the balances spent from below
        priced = bill.priced
        total = bill.total_fen
        paid = sum(t.amount_fen for t in tender_reqs)
        cash = sum(t.amount_fen for t in tender_reqs if t.tender == "cash")
        if paid < total:
            raise InsufficientBalance(
                _("Payments cover {paid} of {total}.").format(paid=format_money(paid), total=format_money(total))
            )
        change = paid - total
        if change > cash:
            raise InvalidInput(_("Only cash can be more than the bill (change is given in cash)."))
        points_fen = sum(t.amount_fen for t in tender_reqs if t.tender == "points")
        if points_fen:
            _check_points_share(points_fen, priced.total_fen, bill.fees_fen, rules)

        line_dicts = [_line_dict(p, _line_reason(p, priced, rules)) for p in priced.lines]
        line_dicts += [_fee_dict(f) for f in bill.fees]
        used_coupons = [a.coupon for a in priced.applied if a.coupon is not None]
        _use_coupons(used_coupons, bill.shown, member_obj, tx)

        postings: list[Posting] = [Posting("revenue.sales", "fen", priced.total_fen),
                                   Posting("revenue.fees", "fen", bill.fees_fen)]
        payments: list[dict] = []
        money: dict[str, int] = {}
        principal_paid = bonus_paid = points_redeemed = 0
        change_left = change
        used_sv_card: Card | None = None
        sv_left: dict[int, list[int]] = {}
        for t in tender_reqs:
            if t.tender in MONEY_TENDERS:
                amount = t.amount_fen
                if t.tender == "cash" and change_left:
                    given = min(change_left, amount)
                    amount -= given
                    change_left -= given
                if amount == 0:
                    continue
                postings.append(Posting(f"tender.{t.tender}", "fen", -amount))
                money[t.tender] = money.get(t.tender, 0) + amount
                payments.append({"tender": t.tender, "amount_fen": amount, "card": None})
            elif t.tender == "stored_value":
                card = _tender_card(holder, t, ["stored_value"])
                left = sv_left.setdefault(card.id, [card.principal_fen, card.bonus_fen])
                if t.amount_fen > left[0] + left[1]:
                    raise InsufficientBalance(
                        _("Not enough stored value on card {card}: has {have}, needs {need}.").format(
                            card=card.card_no, have=format_money(left[0] + left[1]), need=format_money(t.amount_fen))
                    )
                principal, bonus = pricing.split_stored_value(t.amount_fen, left[0], left[1], rules)
                left[0] -= principal
                left[1] -= bonus
                postings += [card_posting(card.id, "card.principal", -principal),
                             card_posting(card.id, "card.bonus", -bonus)]
                principal_paid += principal
                bonus_paid += bonus
                used_sv_card = card
                payments.append({"tender": "stored_value", "amount_fen": t.amount_fen, "card": card.id,
                                 "principal_fen": principal, "bonus_fen": bonus})
            else:  # points
                n = pricing.points_for_payment(t.amount_fen, priced.total_fen, rules)
                card = _tender_card(holder, t, TENDER_CARD_KINDS, require_points=True)
                postings += [card_posting(card.id, "card.points", -n), Posting("points.redeemed", "pt", n),
                             Posting("expense.points", "fen", -t.amount_fen)]
                points_redeemed += n
                payments.append({"tender": "points", "amount_fen": t.amount_fen, "card": card.id, "points": n})

        goods_money, goods_principal, goods_bonus = _take_fees(bill.fees_fen, money, principal_paid, bonus_paid)
        spend = sum(goods_money.values()) + goods_principal
        earned = 0
        explanations: tuple[str, ...] = ()
        tier_code = None
        if member_obj is not None:
            earning = [(tender, amount) for tender, amount in goods_money.items() if amount > 0]
            earning += [(name, amount) for name, amount in (("stored_value_principal", goods_principal),
                                                            ("stored_value_bonus", goods_bonus),
                                                            ("points", points_fen)) if amount > 0]
            outcome = pricing.points_earned(priced, earning, bill.facts, when, rules)
            earned, explanations = outcome.points, outcome.explanations
            target = _points_target(holder.cards, used_sv_card) if earned else None
            if target is None:
                earned, explanations = 0, ()
            else:
                postings += [card_posting(target.id, "card.points", earned), Posting("points.issued", "pt", -earned)]
        post(tx, postings)
        # the sale is written once everything it records is known (its points too: no second write)
        sale = insert_model(Sale, transaction=tx, member=member_obj, store=store_obj, staff=staff,
                            subtotal_fen=priced.subtotal_fen + bill.fees_fen, discount_fen=priced.discount_fen,
                            total_fen=total, change_fen=change, points_earned=earned)
        insert_rows(SaleLine, [
            {"sale": sale.id, "product": d["item_id"] if d["kind"] == "product" else None,
             "service": d["item_id"] if d["kind"] == "service" else None, "code": d["code"], "name": d["name"][:100],
             "category": d["category"], "qty": d["qty"], "list_price_fen": d["list_price_fen"],
             "unit_price_fen": d["unit_price_fen"], "line_total_fen": d["net_fen"],
             "discount_reason": d["discount_reason"]}
            for d in line_dicts
        ])
        insert_rows(Payment, [
            {"sale": sale.id, "tender": p["tender"], "amount_fen": p["amount_fen"], "card": p["card"],
             "principal_fen": p.get("principal_fen", 0), "bonus_fen": p.get("bonus_fen", 0),
             "points": p.get("points", 0)}
            for p in payments
        ])
        fee_records = _collect_fees(bill.fees, member_obj)
        if member_obj is not None:
            tier_code = apply_spend(member_obj.id, spend, staff=staff, store=store_obj, txid=tx.txid, rules=rules)
        audit("sale.checkout", f"sale:{sale.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"member": member_obj.id if member_obj else None, "total_fen": total, "payments": payments,
                       "coupons": used_coupons, "fees": fee_records})
        return CheckoutResult(
            txid=tx.txid, sale_id=sale.id, member_id=member_obj.id if member_obj else None,
            subtotal_fen=priced.subtotal_fen + bill.fees_fen, discount_fen=priced.discount_fen, total_fen=total,
            change_fen=change, points_earned=earned, points_redeemed=points_redeemed, tier_code=tier_code,
            lines=line_dicts, payments=payments,
            cart_discounts=[asdict(d) for d in priced.cart_discounts],
            promotions=[asdict(a) for a in priced.applied],
            coupons=used_coupons, fees=fee_records, points_explanations=list(explanations),
            spend_fen=spend if member_obj is not None else 0,
        )

    return run_operation(txid=txid, kind="checkout", request=request, staff=staff, store=store_obj,
                         member=member_obj, body=body, result_type=CheckoutResult)


def _check_points_share(points_fen: int, goods_fen: int, fees_fen: int, rules: Rules) -> None:
    if goods_fen == 0 and fees_fen:
        raise InvalidInput(_("Points cannot pay fees."))
    if fees_fen and points_fen > goods_fen:
        raise InvalidInput(_("Points pay for goods and services, not fees: at most {amount} of this bill.").format(
            amount=format_money(goods_fen)))
    pricing.points_for_payment(points_fen, goods_fen, rules)  # the share of the bill, for all points tenders


def _collect_fees(fees: Sequence[FeeLine], member: Member | None) -> list[dict]:
    """Record the fees paid; the annual fee moves the member's paid-until, only from the day it was read."""
    records = []
    for fee in fees:
        record: dict = {"kind": fee.kind, "code": fee.code, "amount_fen": fee.amount_fen}
        if fee.kind == "annual" and member is not None:
            before = Member.get_by_id(member.id).fees_paid_until
            changed = Member.update(fees_paid_until=fee.covers_until).where(
                (Member.id == member.id)
                & (Member.fees_paid_until.is_null() if before is None else (Member.fees_paid_until == before))
            ).execute()
            if changed != 1:
                raise InvalidInput(_("The annual fee was just paid at another desk; nothing was charged."))
            record["paid_until_before"] = before.isoformat() if before is not None else None
            record["paid_until_after"] = fee.covers_until.isoformat() if fee.covers_until is not None else None
        records.append(record)
    return records


def _held_card(holder: _Holder, ref: Card | int | str) -> Card:
    """The card a tender names, as :func:`resolve_card` finds it: from the member's cards read for this bill when
    it is one of them, else from the database."""
    if isinstance(ref, (Card, int)):
        ref_id = ref.id if isinstance(ref, Card) else ref
        found = next((c for c in holder.cards if c.id == ref_id), None)
    else:
        key = normalise_card_no(ref)
        found = next((c for c in holder.cards if key and c.card_no == key), None)  # card numbers are unique
    return found if found is not None else resolve_card(ref)


def _tender_card(holder: _Holder, t: TenderRequest, kinds: list[str], require_points: bool = False) -> Card:
    member = holder.member
    if t.card is not None:
        card = _held_card(holder, t.card)
        if card.member_id != member.id:
            raise InvalidInput(_("Card {card} belongs to another member.").format(card=card.card_no))
    else:
        card = _first_card(holder.cards, kinds, require_points=require_points)
        if card is None:
            if t.tender == "points":
                raise InsufficientBalance(_("{name} has no points to pay with.").format(name=member.name))
            raise WrongCardKind(_("{name} has no usable stored-value card.").format(name=member.name))
    if t.tender == "stored_value" and card.card_type.kind != "stored_value":
        raise WrongCardKind(_("Card {card} is not a stored-value card.").format(card=card.card_no))
    ensure_usable(card)
    return card


@dataclass(frozen=True)
class ItemHit:
    kind: str
    code: str
    name: str
    price_fen: int


def search_items(query: str, limit: int = 10) -> list[ItemHit]:
    """What the checkout code box finds: an exact code or barcode first, then names and codes containing it."""
    key = normalise_card_no(query)
    if not key:
        return []
    try:
        kind, item = find_item(key)
        return [ItemHit(kind, item.code, item.name, item.price_fen)]
    except UnknownItem:
        pass
    hits: list[ItemHit] = []
    for kind, model in (("service", ServiceItem), ("product", Product)):
        matches = model.select().where(
            (model.active == True) & (model.name.contains(key) | model.code.startswith(key.upper()))  # noqa: E712
        ).order_by(model.code).limit(limit)
        hits += [ItemHit(kind, m.code, m.name, m.price_fen) for m in matches]
    return hits[:limit]
