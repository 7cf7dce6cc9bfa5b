"""提成: who performed or sold each line, and what they earn on it, by the ``commissions`` rules (issue #20).

**Who.** A service line names its performers — 主理 (the first, ``lead``) and 助理 (``assistant``) — with shares in
basis points that add up to exactly 10000 (100 %). A product line, a top-up or a card sold credits one salesperson
(``sales``) with 10000. A performer who is not linked to the service (``mms staff add --services``) needs a manager's
approval; an unknown staff code, or shares that do not add up, refuse the whole operation (nothing is written).

**Which rule.** The first matching rule of the rules document's ``commissions`` section, most specific first
(:attr:`~mms_tui.services.loyalty.rules.CommissionRule.specificity`): a rule naming the item (or card type) before
one naming its category, before one naming only the kind (service, product, topup, card); at the same level a rule
naming the staff member's level before one for any level, and one for members (or walk-ins) only before one for
anyone; then document order. No rule matching: the row is kept with amount 0 (who performed still counts: the desk
offers a member's usual stylist first).

**The base** is the line's money after every discount (``SaleLine.line_total_fen``) less its share of what the bill
paid with points and with stored-value bonus value — the business's own gifts — unless the rule includes them.
Those two are spread over the bill's lines in proportion to their money, and each line's figures over its staff by
their shares, always by :func:`split` (cumulative floor: the parts add up exactly). A percent rule pays
``floor(base × rate)`` of each staff member's base; a fixed rule pays its amount per unit, split by the shares.
A top-up's base is its principal (never the bonus); a card's, its price.

**Refunds** add negative rows, one per row they take back (``reverses``). The part taken back of a row is
:func:`refund_part`: the cumulative floor of the original over the refunded fraction of its line, so partial refunds
never add up to more than the original and a line refunded in full gives back exactly what it earned.

Rows are written in the operation's own transaction and never changed; each names its rule and the digest of the
commissions section it came from (:func:`rules_version`), so later rule changes leave them as they were.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.models import Commission, Punch, Staff, StaffService, Transaction
from mms_tui.services.base.errors import DomainError, InvalidInput, NotFound
from mms_tui.services.base.sql import fetch_rows, insert_rows
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger.tenders import share_of_part as refund_part
from mms_tui.services.loyalty.rules import CommissionRule, CommissionRules
from mms_tui.services.loyalty.rules_commissions import commissions_to_dict
from mms_tui.services.staff.permissions import may

FULL = 10_000  # basis points: 100 %


class PerformerNotAllowed(DomainError):
    """A performer credited with a service they are not set up to perform: a manager may allow it."""


# ------------------------------------------------------------------------------------------------ pure arithmetic


def split(total: int, shares: Sequence[int]) -> list[int]:
    """``total`` in parts by ``shares`` (basis points adding up to 10000), exactly: each part is the cumulative
    floor, so the parts add up to ``total`` and each is within one fen of ``total × share``."""
    parts, cum, before = [], 0, 0
    for share in shares:
        cum += share
        upto = total * cum // FULL
        parts.append(upto - before)
        before = upto
    return parts


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` over ``weights`` in proportion, exactly (cumulative floor); all to nothing when they weigh 0."""
    whole = sum(weights)
    if whole <= 0:
        return [0 for _w in weights]
    parts, cum, before = [], 0, 0
    for w in weights:
        cum += w
        upto = total * cum // whole
        parts.append(upto - before)
        before = upto
    return parts


def shares_of(count: int) -> list[int]:
    """Equal shares for ``count`` staff, exact: the first takes what does not divide."""
    if count <= 0:
        return []
    each = FULL // count
    return [FULL - each * (count - 1)] + [each] * (count - 1)


# ------------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class LineFacts:
    """What a rule looks at on one line (a sale line, a top-up, a card sold)."""

    kind: str  # service | product | topup | card
    code: str = ""  # item code, or card type code for topup/card
    category: str = ""
    member: bool = True
    units: int = 1
    money_fen: int = 0  # after discounts
    points_fen: int = 0  # the line's share of what points paid
    bonus_fen: int = 0  # the line's share of what stored-value bonus paid


def _matches(rule: CommissionRule, line: LineFacts, level: str | None) -> bool:
    if rule.kind != line.kind:
        return False
    if rule.customer != "any" and rule.customer != ("member" if line.member else "walk_in"):
        return False
    if rule.levels and (level or "") not in rule.levels:
        return False
    if rule.items or rule.card_types:
        return line.code in rule.items or line.code in rule.card_types
    if rule.categories:
        return line.category in rule.categories
    return True


@lru_cache(maxsize=32)
def _ordered(section: CommissionRules) -> tuple[tuple[int, CommissionRule], ...]:
    numbered = list(enumerate(section.rules, start=1))
    return tuple(sorted(numbered, key=lambda ir: (tuple(-x for x in ir[1].specificity), ir[0])))


def match_rule(section: CommissionRules, line: LineFacts, level: str | None) -> tuple[int, CommissionRule] | None:
    """The rule that decides (its place, counted from 1, and the rule), or None."""
    return next(((i, r) for i, r in _ordered(section) if _matches(r, line, level)), None)


@lru_cache(maxsize=32)
def rules_version(section: CommissionRules) -> str:
    """A short digest of the commissions section, recorded on every row it decided."""
    text = json.dumps(commissions_to_dict(section), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Credit:
    """A staff member credited on a line, with their share (basis points) and role."""

    staff: str
    share_bp: int = FULL
    role: str = "lead"
    level: str | None = None


@dataclass(frozen=True)
class Award:
    staff: str
    role: str
    share_bp: int
    base_fen: int
    rate_bp: int
    fixed_fen: int
    units: int
    amount_fen: int
    rule: str  # "commissions.rules[2] HAIR" or ""


def evaluate_line(section: CommissionRules, line: LineFacts, credits: Sequence[Credit]) -> list[Award]:
    """Each credited staff member's base and commission on ``line`` (see the module's rules)."""
    shares = [c.share_bp for c in credits]
    money = split(line.money_fen, shares)
    points = split(line.points_fen, shares)
    bonus = split(line.bonus_fen, shares)
    awards = []
    for i, credit in enumerate(credits):
        found = match_rule(section, line, credit.level)
        rule = found[1] if found else None
        base = money[i]
        if rule is None or not rule.include_points:
            base -= points[i]
        if rule is None or not rule.include_bonus:
            base -= bonus[i]
        base = max(0, base)
        rate = fixed = amount = 0
        if rule is not None and rule.amount_fen:
            fixed = rule.amount_fen
            amount = split(fixed * line.units, shares)[i]
        elif rule is not None:
            rate = rule.percent_bp
            amount = base * rate // FULL
        ref = f"commissions.rules[{found[0]}] {rule.code}" if found and rule else ""
        awards.append(Award(credit.staff, credit.role, credit.share_bp, base, rate, fixed, line.units, amount, ref))
    return awards


# ------------------------------------------------------------------------------------------------ who: checked


@dataclass(frozen=True)
class CheckedCredit:
    staff_id: int
    code: str
    name: str
    level: str | None
    share_bp: int
    role: str


def _staff_by_code(codes: Iterable[str]) -> dict[str, Staff]:
    wanted = sorted({c for c in codes})
    found = {s.code: s for s in Staff.select().where(Staff.code.in_(wanted))} if wanted else {}
    for code in wanted:
        if code not in found or not found[code].active:
            raise NotFound(_("No staff member {code}: nothing was sold.").format(code=code))
    return found


def _as_pairs(value: Sequence[tuple[str, int] | Credit | str]) -> list[tuple[str, int]]:
    pairs = []
    for v in value:
        if isinstance(v, Credit):
            pairs.append((v.staff, v.share_bp))
        elif isinstance(v, str):
            pairs.append((v, FULL if len(value) == 1 else 0))
        else:
            pairs.append((str(v[0]), v[1]))
    return pairs


def check_credits(performers: Mapping[str, Sequence], kinds: Mapping[str, tuple[str, int, str]], *,
                  approver: Staff | None = None) -> dict[str, list[CheckedCredit]]:
    """The staff credited per item (keyed by the item's own code), checked: ``kinds`` maps each code on the bill
    to (kind, item id, item code) (:func:`item_kinds`).

    Refused with one message, before anything is written: a code not on the bill, an unknown or disabled staff
    code, shares that are not whole basis points adding up to 100 %, a staff member named twice on a line, more
    than one salesperson on a product line; a performer not set up for the service unless ``approver`` may allow
    it (:class:`PerformerNotAllowed` says who and what, for the desk to ask a manager)."""
    pairs = {code: _as_pairs(v) for code, v in performers.items() if v}
    if not pairs:
        return {}
    staff = _staff_by_code(c for v in pairs.values() for c, _s in v)
    allowed: set[tuple[int, int]] = set()
    service_ids = [kinds[c][1] for c in pairs if c in kinds and kinds[c][0] == "service"]
    if service_ids:
        allowed = set(StaffService.select(StaffService.staff, StaffService.service)
                      .where(StaffService.service.in_(service_ids)).tuples())
    out: dict[str, list[CheckedCredit]] = {}
    for code, credits in pairs.items():
        if code not in kinds:
            raise InvalidInput(_("{code} is not on the bill: only its lines can be credited.").format(code=code))
        kind, item_id, item_code = kinds[code]
        for _c, share in credits:
            if not isinstance(share, int) or isinstance(share, bool) or not 0 < share <= FULL:
                raise InvalidInput(_("Line {code}: each share is a whole number of basis points from 1 to 10000 "
                                     "(100 %).").format(code=code))
        total = sum(s for _c, s in credits)
        if total != FULL:
            raise InvalidInput(_("Line {code}: the shares add up to {percent} %, not 100 %.").format(
                code=code, percent=f"{total / 100:g}"))
        if len({c for c, _s in credits}) != len(credits):
            raise InvalidInput(_("Line {code}: a staff member is named twice.").format(code=code))
        if kind != "service" and len(credits) != 1:
            raise InvalidInput(_("Line {code}: a product is credited to one salesperson.").format(code=code))
        rows = []
        for i, (staff_code, share) in enumerate(credits):
            s = staff[staff_code]
            role = "sales" if kind != "service" else ("lead" if i == 0 else "assistant")
            if kind == "service" and (s.id, item_id) not in allowed and not (
                    approver is not None and may(approver, "commissions.allow")):
                raise PerformerNotAllowed(_("{name} ({code}) does not perform {item}; a manager may allow it.")
                                          .format(name=s.name, code=s.code, item=code))
            rows.append(CheckedCredit(s.id, s.code, s.name, s.level, share, role))
        out[item_code] = rows
    return out


def require_clocked_in(credits: Mapping[str, Sequence[CheckedCredit]], store_id: int, *,
                       approver: Staff | None = None) -> None:
    """A service's performer who has not clocked in today, at a store where staff clock in (someone has, today),
    is a warning a manager may allow (:class:`PerformerNotAllowed`); a shop that keeps no attendance is never
    asked."""
    if approver is not None and may(approver, "commissions.allow"):
        return
    performers = {c.staff_id: c for rows in credits.values() for c in rows if c.role != "sales"}
    if not performers:
        return
    from mms_tui.services.staff.attendance import clocked_in_since

    today = dt.datetime.combine(clock.today(), dt.time())
    if not Punch.select().where((Punch.store == store_id) & (Punch.at >= today)
                                & (Punch.at < today + dt.timedelta(days=1))).exists():
        return
    for staff_id, c in performers.items():
        if clocked_in_since(Staff.get_by_id(staff_id)) is None:
            raise PerformerNotAllowed(_("{name} ({code}) has not clocked in today; a manager may allow it.").format(
                name=c.name, code=c.code))


def check_salesperson(code: str | None) -> CheckedCredit | None:
    """A top-up's or a card's salesperson, checked (None: nobody credited)."""
    if not code:
        return None
    s = _staff_by_code([code])[code]
    return CheckedCredit(s.id, s.code, s.name, s.level, FULL, "sales")


# ------------------------------------------------------------------------------------------------ recording


def record(tx: Transaction, store_id: int, section: CommissionRules, items: Sequence[tuple[LineFacts, int | None,
           Sequence[CheckedCredit]]], *, sale_id: int | None = None) -> list[Award]:
    """Write the rows of an operation: for each (facts, sale line id, credited staff). Inside its transaction."""
    version = rules_version(section) if section.rules else ""
    rows, awards = [], []
    for facts, line_id, credits in items:
        found = evaluate_line(section, facts, [Credit(c.code, c.share_bp, c.role, c.level) for c in credits])
        for credit, award in zip(credits, found, strict=True):
            rows.append({"transaction": tx.id, "sale": sale_id, "line": line_id, "staff": credit.staff_id,
                         "store": store_id, "created_at": tx.created_at, "role": award.role,
                         "share_bp": award.share_bp, "base_fen": award.base_fen, "rate_bp": award.rate_bp,
                         "fixed_fen": award.fixed_fen, "units": award.units, "amount_fen": award.amount_fen,
                         "rule": award.rule[:80], "rules_version": version if award.rule else "", "reverses": None})
            awards.append(award)
    insert_rows(Commission, rows)
    return awards


def sale_line_facts(lines: Sequence[dict], payments: Iterable, member: bool) -> list[LineFacts]:
    """Each bill line's facts (``lines``: the checkout's line dicts, fees included; ``payments``: its payment
    lines): the points and bonus the bill was paid with spread over the lines by their money."""
    payments = list(payments)
    points = sum(p.amount_fen for p in payments if str(p.tender) == "points")
    bonus = sum(p.bonus_fen for p in payments)
    money = [max(0, int(d.get("net_fen", d.get("line_total_fen", 0)))) for d in lines]
    points_parts, bonus_parts = allocate(points, money), allocate(bonus, money)
    return [LineFacts(d["kind"], d["code"], d.get("category", ""), member, int(d.get("qty", 1)), money[i],
                      points_parts[i], bonus_parts[i]) for i, d in enumerate(lines)]


def record_sale(tx: Transaction, sale_id: int, store_id: int, section: CommissionRules, line_dicts: Sequence[dict],
                payments: Iterable, member: bool, credits: Mapping[str, Sequence[CheckedCredit]]) -> None:
    """The rows of a checkout's lines that credit staff."""
    if not credits:
        return
    facts = sale_line_facts(line_dicts, payments, member)
    ids = fetch_rows('SELECT "id" FROM "sale_line" WHERE "sale_id" = ? ORDER BY "id"', (sale_id,))
    items = [(f, line_id, credits[f.code]) for f, (line_id,) in zip(facts, ids, strict=True)
             if f.kind in ("service", "product") and f.code in credits]
    record(tx, store_id, section, items, sale_id=sale_id)


def reverse(refund_tx: Transaction, original_tx_id: int,
            line_refunds: Mapping[int, tuple[int, int, int]] | None = None) -> int:
    """Negative rows taking back the commissions of ``original_tx_id``: all that is left of each row (a full
    refund), or for ``line_refunds`` {line id: (refunded before, refunded now, line's money)} the part
    :func:`refund_part` says. Returns the fen taken back."""
    originals = list(Commission.select().where((Commission.transaction == original_tx_id)
                                               & Commission.reverses.is_null()).order_by(Commission.id))
    if not originals:
        return 0
    taken_base: Counter[int] = Counter()
    taken_amount: Counter[int] = Counter()
    for row in Commission.select(Commission.reverses, Commission.base_fen, Commission.amount_fen).where(
            Commission.reverses.in_([c.id for c in originals])).tuples():
        taken_base[row[0]] -= row[1]
        taken_amount[row[0]] -= row[2]
    rows, total = [], 0
    for c in originals:
        if line_refunds is None:
            base, amount = c.base_fen - taken_base[c.id], c.amount_fen - taken_amount[c.id]
        elif c.line_id in line_refunds:
            before, now_, of = line_refunds[c.line_id]
            base, amount = refund_part(c.base_fen, before, now_, of), refund_part(c.amount_fen, before, now_, of)
        else:
            continue
        if not base and not amount:
            continue
        rows.append({"transaction": refund_tx.id, "sale": c.sale_id, "line": c.line_id, "staff": c.staff_id,
                     "store": refund_tx.store_id, "created_at": refund_tx.created_at, "role": c.role,
                     "share_bp": c.share_bp, "base_fen": -base, "rate_bp": c.rate_bp, "fixed_fen": c.fixed_fen,
                     "units": c.units, "amount_fen": -amount, "rule": c.rule, "rules_version": c.rules_version,
                     "reverses": c.id})
        total += amount
    insert_rows(Commission, rows)
    return total


# ------------------------------------------------------------------------------------------------ the desk


@dataclass(frozen=True)
class PerformerChoice:
    code: str
    name: str
    level: str
    usual: bool  # the staff member who most often performed for this member
    allowed: bool  # set up to perform this service (products: anyone)


def performer_choices(member_id: int | None, item_code: str, *, me: Staff | None = None) -> list[PerformerChoice]:
    """Whom the desk offers for a line: for a service, the member's usual stylist first, then the performers set up
    for it (by code); for a product, the staff at the desk first, then every active staff member."""
    from mms_tui.services.money.items import find_item

    kind, item = find_item(item_code)
    active = {s.id: s for s in Staff.select().where(Staff.active == True).order_by(Staff.code)}  # noqa: E712
    if kind != "service":
        order = sorted(active.values(), key=lambda s: (me is None or s.id != me.id, s.code))
        return [PerformerChoice(s.code, s.name, s.level or "", False, True) for s in order]
    allowed_ids = {sid for (sid,) in StaffService.select(StaffService.staff)
                   .where(StaffService.service == item.id).tuples()}
    usual_id = None
    if member_id is not None:
        rows = fetch_rows(
            'SELECT "c"."staff_id", COUNT(*) AS "n", MAX("c"."id") FROM "commission" AS "c" '
            'JOIN "sale" AS "s" ON "s"."id" = "c"."sale_id" WHERE "s"."member_id" = ? AND "c"."role" = ? '
            'AND "c"."reverses_id" IS NULL GROUP BY "c"."staff_id" ORDER BY "n" DESC, 3 DESC LIMIT 1',
            (member_id, "lead"))
        usual_id = rows[0][0] if rows and rows[0][0] in active else None
    out = []
    if usual_id is not None:
        s = active[usual_id]
        out.append(PerformerChoice(s.code, s.name, s.level or "", True, usual_id in allowed_ids))
    for s in active.values():
        if s.id in allowed_ids and s.id != usual_id:
            out.append(PerformerChoice(s.code, s.name, s.level or "", False, True))
    return out


def item_kinds(codes: Iterable[str]) -> dict[str, tuple[str, int, str]]:
    """Code → (kind, item id, the item's own code) of the items ``codes`` name as the till finds them (code or
    barcode)."""
    from mms_tui.services.money.items import find_item

    out: dict[str, tuple[str, int, str]] = {}
    for code in codes:
        kind, item = find_item(code)
        out[code] = (kind, item.id, item.code)
    return out


@dataclass(frozen=True)
class SettlementLine:
    time: str
    item: str
    role: str
    share_bp: int
    base_fen: int
    amount_fen: int


@dataclass(frozen=True)
class Settlement:
    """日结: one staff member's commissions of one day, as the desk shows them to that staff member only."""

    staff_code: str
    staff_name: str
    day: dt.date
    lines: list[SettlementLine]
    base_fen: int
    amount_fen: int


def day_settlement(viewer: Staff, day: dt.date | None = None) -> Settlement:
    """The logged-in staff member's own commission rows of ``day`` (default today), refunds included (negative):
    there is no argument to ask for anyone else's."""
    from mms_tui.clock import today

    day = day or today()
    start = dt.datetime.combine(day, dt.time())
    end = start + dt.timedelta(days=1)
    lines = []
    query = (Commission.select(Commission, Transaction.txid).join(Transaction)
             .where((Commission.staff == viewer.id) & (Commission.created_at >= start) & (Commission.created_at < end))
             .order_by(Commission.id))
    names: dict[int, str] = {}
    line_ids = [c.line_id for c in query if c.line_id]
    if line_ids:
        names = {i: n for i, n in fetch_rows(
            'SELECT "id", "name" FROM "sale_line" WHERE "id" IN (' + ", ".join("?" for _i in line_ids) + ")",
            line_ids)}
    for c in query:
        item = names.get(c.line_id, "") if c.line_id else _("top-up / card")
        lines.append(SettlementLine(c.created_at.strftime("%H:%M"), item, c.role, c.share_bp, c.base_fen,
                                    c.amount_fen))
    return Settlement(viewer.code, viewer.name, day, lines, sum(x.base_fen for x in lines),
                      sum(x.amount_fen for x in lines))


def settlement_text(s: Settlement) -> list[str]:
    """The settlement as lines of text (for a printer)."""
    out = [f"{s.staff_name} ({s.staff_code}) {s.day.isoformat()}"]
    for x in s.lines:
        out.append(f"{x.time} {x.item} {x.share_bp / 100:g}% {format_money(x.base_fen)} {format_money(x.amount_fen)}")
    out.append(_("Total {amount}").format(amount=format_money(s.amount_fen)))
    return out

