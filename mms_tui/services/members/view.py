"""What the desk screens show: a member at a glance, a member's history, the day at this store.

Read-only views assembled in a few indexed queries; the screens only render them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import peewee

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import N_, _
from mms_tui.models import Card, Entry, Member, Sale, Staff, Store, Tier, Transaction, Visit
from mms_tui.services.base.errors import CardElsewhere, DamagedRecord
from mms_tui.services.base.resolve import ensure_used_here, resolve_member, resolve_store, today
from mms_tui.services.base.text import format_money, mask_phone
from mms_tui.services.ledger import results
from mms_tui.services.ledger.operations import audit
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty.birthday_benefit import birthday_window
from mms_tui.services.loyalty.fees_due import due_fees
from mms_tui.services.loyalty.pricing import MemberFacts
from mms_tui.services.loyalty.prompts import Prompt, member_prompts
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.tiers import TierProgress, progress
from mms_tui.services.members.birthdays import BirthdayOffer, birthday_offer
from mms_tui.services.members.cards import member_cards
from mms_tui.services.members.family import FamilyMember, family_members
from mms_tui.services.members.lookup import CardSummary, card_summary
from mms_tui.services.members.passes import freeze_ends_on
from mms_tui.services.messages.tickets import open_tickets_of
from mms_tui.services.money.refund import REFUNDABLE_KINDS

#: alerts: a pass this close to its end, a stored value this low, a member this long away
EXPIRY_WARNING_DAYS = 7
LOW_BALANCE_FEN = 5_000
AWAY_DAYS = 30


@dataclass(frozen=True)
class RecentItem:
    when: str
    what: str
    amount: str


@dataclass(frozen=True)
class FeeDue:
    kind: str  # joining | annual | late
    amount_fen: int
    explanation: str


@dataclass(frozen=True)
class MemberView:
    member_id: int
    name: str
    phone_masked: str
    gender: str
    birthday: str | None
    notes: str
    tier: TierProgress
    cards: list[CardSummary]
    alerts: list[str]
    last_seen: str | None
    recent_visits: list[RecentItem] = field(default_factory=list)
    recent_sales: list[RecentItem] = field(default_factory=list)
    #: the birthday benefit while the member is in their birthday window (given or not yet)
    birthday_offer: BirthdayOffer | None = None
    #: fees the member owes today (collected at checkout)
    fees_due: list[FeeDue] = field(default_factory=list)
    #: the member's family, themselves included (empty: none)
    family: list[FamilyMember] = field(default_factory=list)
    #: the price level the member buys at (经销商价), '' for none: the desk says so before a sale
    price_level: str = ""
    #: what the member's own history suggests now (顾客消费提醒), put-away ones left out
    prompts: list[Prompt] = field(default_factory=list)

    @property
    def stored_value_fen(self) -> int:
        return sum(c.principal_fen + c.bonus_fen for c in self.cards if c.status == "active")

    @property
    def fees_due_fen(self) -> int:
        return sum(f.amount_fen for f in self.fees_due)


#: how the birthday alert names the window the loyalty rules set
_WINDOW_ALERTS = {"day": N_("Birthday today ({date})"), "week": N_("Birthday this week ({date})"),
                  "month": N_("Birthday this month ({date})")}


def _fees_due(facts: MemberFacts, day: dt.date, rules: Rules) -> list[FeeDue]:
    """The fees :func:`due_fees` finds, on the facts the checkout collects them by."""
    return [FeeDue(f.kind, f.amount_fen, f.explanation) for f in due_fees(facts, day, rules)]


def _card_as_seen(card: Card, day: dt.date) -> CardSummary:
    """A frozen card whose freeze ran out its yearly days is shown as it is now: active, its end moved on."""
    summary = card_summary(card)
    ends = freeze_ends_on(card)
    if ends is None or ends > day or card.frozen_since is None:
        return summary
    until = card.valid_until + dt.timedelta(days=(ends - card.frozen_since).days) if card.valid_until else None
    return dataclasses.replace(summary, status="active", valid_until=until.isoformat() if until else None)


#: what a service ticket is, as the desk says it
TICKET_KIND_NAMES = {"question": N_("question"), "complaint": N_("complaint"), "request": N_("request")}


def member_view(member: Member | int | str, *, on: dt.date | None = None) -> MemberView:
    """Everything the member screen shows, with alerts worked out for ``on`` (today)."""
    from mms_tui.services.money.holder import member_facts

    day = on or today()
    rules = load_rules()
    m = resolve_member(member)
    m = Member.select(Member, Tier).join(Tier).where(Member.id == m.id).get()
    owned = member_cards(m)
    cards = [_card_as_seen(c, day) for c in owned]
    last_visit = Visit.select(peewee.fn.MAX(Visit.created_at)).where(Visit.member == m.id).scalar()
    last_sale = Sale.select(peewee.fn.MAX(Sale.created_at)).where(Sale.member == m.id).scalar()
    seen = max((x for x in (last_visit, last_sale) if x is not None), default=None)
    if isinstance(seen, str):
        seen = dt.datetime.fromisoformat(seen)
    alerts: list[str] = []
    facts = member_facts(m, rules)
    served = clock.served_store()
    here = Store.get_or_none(Store.code == served) if served and any(c.card_type.bound for c in owned) else None
    offer = birthday_offer(m, day, rules, facts)
    if offer is None and birthday_window(m.birthday, day, rules) is not None:
        alerts.append(_(_WINDOW_ALERTS[rules.birthday.window]).format(date=m.birthday.strftime("%m-%d")))
    for card, c in zip(owned, cards, strict=True):
        if c.status == "frozen":
            ends = freeze_ends_on(card)
            if ends is not None:
                alerts.append(_("{card} frozen since {since}; the freeze ends by itself on {date}").format(
                    card=c.type_name, since=card.frozen_since, date=ends))
        if c.status != "active":
            continue
        if card.card_type.bound and here is not None:
            try:
                ensure_used_here(card, here)
            except CardElsewhere as exc:  # a swipe at a store the card is not used at says so as it opens
                alerts.append(str(exc))
        if c.valid_until:
            left = (dt.date.fromisoformat(c.valid_until) - day).days
            if 0 <= left <= EXPIRY_WARNING_DAYS:
                alerts.append(_("{card} ends in {n} days ({date})").format(card=c.type_name, n=left, date=c.valid_until))
        if c.kind == "stored_value" and c.principal_fen + c.bonus_fen < LOW_BALANCE_FEN:
            alerts.append(_("Low balance on {card}: {value}").format(
                card=c.card_no, value=format_money(c.principal_fen + c.bonus_fen)))
        if c.kind == "visits" and c.visits_left <= 2:
            alerts.append(_("Only {n} visits left on {card}").format(n=c.visits_left, card=c.card_no))
    if seen is not None and (day - seen.date()).days >= AWAY_DAYS:
        alerts.append(_("Not seen for {n} days").format(n=(day - seen.date()).days))
    for t in open_tickets_of(m.id)[:2]:  # 客户服务: what the member is waiting for an answer on
        alerts.append(_("Open {kind} #{id}: {subject} — due {due}").format(
            kind=_(TICKET_KIND_NAMES[t.kind]), id=t.id, subject=t.subject, due=f"{t.due_at:%m-%d %H:%M}")
            + (" " + _("(overdue)") if t.overdue else ""))
    visits = [
        RecentItem(str(v.created_at)[:16], v.store.name + ("" if v.status == "ok" else f" ({_('reversed')})"), "")
        for v in Visit.select(Visit, Store).join(Store).where(Visit.member == m.id)
        .order_by(Visit.created_at.desc(), Visit.id.desc()).limit(5)
    ]
    sales = [
        RecentItem(str(s.created_at)[:16], ", ".join(line.name for line in s.lines)
                   + ("" if s.status == "paid" else f" ({_('refunded')})"), format_money(s.total_fen))
        for s in Sale.select().where(Sale.member == m.id).order_by(Sale.created_at.desc(), Sale.id.desc()).limit(5)
    ]
    return MemberView(m.id, m.name, mask_phone(m.phone), m.gender, m.birthday.isoformat() if m.birthday else None,
                      m.notes, progress(m, day, rules), cards, alerts, str(seen)[:16] if seen else None, visits, sales,
                      offer, _fees_due(facts, day, rules), family_members(m),
                      m.price_level.name if m.price_level_id is not None else "", member_prompts(m.id, day))


def reveal_phone(member: Member | int, staff: Staff) -> str:
    """The full phone number, shown only when staff ask for it; every look is audited."""
    m = resolve_member(member)
    with write_transaction():
        audit("member.reveal_phone", f"member:{m.id}", staff=staff, store=resolve_store(None, staff))
    return m.phone


# --- history ---------------------------------------------------------------------------------------------------

KIND_LABELS = {
    "topup": N_("Top-up"),
    "checkout": N_("Sale"),
    "checkin": N_("Check-in"),
    "issue": N_("Card issued"),
    "refund": N_("Refund"),
    "refund_part": N_("Partial refund"),
    "replace": N_("Card replaced"),
    "lost": N_("Card lost"),
    "freeze": N_("Frozen"),
    "unfreeze": N_("Unfrozen"),
    "register": N_("Registered"),
    "member.update": N_("Details edited"),
    "import": N_("Imported balance"),
    "renew": N_("Pass renewed"),
    "transfer": N_("Visits transferred"),
    "birthday": N_("Birthday gift"),
    "family": N_("Family changed"),
    "expire": N_("Points expired"),
    "gift": N_("Gift for points"),
}


@dataclass(frozen=True)
class HistoryRow:
    txid: str
    when: str
    kind: str
    label: str
    staff: str
    money_fen: int  # + into the member's cards / − out of them (stored value)
    points: int
    visits: int
    detail: str
    refundable: bool
    refunded: bool


def member_history(member: Member | int, limit: int = 200) -> list[HistoryRow]:
    """The member's ledger, newest first, one row per operation: theirs, and those that moved value on their
    cards without naming them (an import's opening balances, which are one transaction for a whole file)."""
    m = resolve_member(member)
    card_ids = {card_id for (card_id,) in Card.select(Card.id).where(Card.member == m.id).tuples()}

    def newest(where: peewee.Expression) -> list[Transaction]:
        return list(
            Transaction.select(Transaction, Staff).join(Staff).where(where)
            .order_by(Transaction.created_at.desc(), Transaction.id.desc()).limit(limit)
        )

    txs = newest(Transaction.member == m.id)
    if card_ids:  # two indexed queries, not one OR that would scan every transaction
        on_cards = Entry.select(Entry.transaction).where(Entry.card.in_(list(card_ids)))
        own = {t.id for t in txs}
        # visits a family member moved onto this member's card are theirs too
        theirs = Transaction.member.is_null() | (Transaction.kind == "transfer")
        txs += [t for t in newest(Transaction.id.in_(on_cards) & theirs) if t.id not in own]
        txs = sorted(txs, key=lambda t: (t.created_at, t.id), reverse=True)[:limit]
    ids = [t.id for t in txs]
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if ids:
        for tx_id, account, card_id, amount in (
            Entry.select(Entry.transaction, Entry.account, Entry.card, Entry.amount)
            .where(Entry.transaction.in_(ids)).tuples()
        ):
            if card_id is None or card_id in card_ids:  # another member's card in the same import: not theirs
                sums[tx_id][account] += amount
    reversed_ids = {
        t.reverses_id for t in Transaction.select(Transaction.reverses).where(Transaction.reverses.in_(ids))
    } if ids else set()
    rows = []
    for t in txs:
        s = sums[t.id]
        money = s["card.principal"] + s["card.bonus"]
        try:
            detail = _history_detail(t, s)
        except DamagedRecord:  # the row is still shown, saying so; every other row reads as ever
            detail = _("(record damaged)")
        rows.append(HistoryRow(
            t.txid, str(t.created_at)[:16], t.kind, _(KIND_LABELS.get(t.kind, t.kind)), t.staff.name, money,
            s["card.points"], s["card.visits"], detail,
            t.kind in REFUNDABLE_KINDS and t.id not in reversed_ids, t.id in reversed_ids,
        ))
    return rows


def _history_detail(t: Transaction, s: dict[str, int]) -> str:
    """What a history row says of its operation, from its stored result where there is one."""
    detail = t.note
    if t.kind == "checkout":
        result = results.load(t.result, of=t.txid)
        detail = ", ".join(f"{line['name']}×{line['qty']}" for line in result.get("lines", []))
        detail += "  " + format_money(result.get("total_fen", 0))
    elif t.kind == "birthday":
        result = results.load(t.result, of=t.txid)
        detail = ", ".join(x for x in (result.get("gift_name"), result.get("item_name")) if x)
    elif t.kind == "gift":
        detail = results.load(t.result, of=t.txid).get("gift_name", "")
    elif t.kind == "transfer":
        result = results.load(t.result, of=t.txid)
        detail = _("{n} visits {source} → {target} ({name})").format(
            n=result.get("visits", 0), source=result.get("from_card_no", ""),
            target=result.get("to_card_no", ""), name=result.get("to_member_name", ""))
    elif t.kind == "topup":
        detail = format_money(-sum(s.get(f"tender.{t}", 0) for t in MONEY_TENDERS))
    elif t.kind == "refund_part":  # the money given back, and why
        detail = f"{format_money(sum(s.get(f'tender.{x}', 0) for x in MONEY_TENDERS))}  {t.note}"
    return detail
