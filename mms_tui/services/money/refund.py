"""退款 / 冲正: a new transaction that undoes another. Nothing is ever edited or deleted.

* Refundable: top-ups, checkouts, check-ins and card issues. Registrations, freezes and replacements are undone by
  their own opposite operation, not by a reversal.
* A transaction is reversed at most once: ``Transaction.reverses`` is unique, so even two managers pressing refund
  at the same moment on two terminals produce one reversal.
* **A sale** is undone entry by entry, so it returns exactly what was paid, per tender: money to its tender,
  stored value to the principal and bonus it was taken from, points to the card they came from. It takes back the
  points the sale earned; when the member has spent them since (or they expired), the refund is refused and says
  how many are missing: a refund never leaves points below zero, and never gives back money for points that
  were used. It lowers the member's tier spend by what the sale added (the tier itself stays: nobody is demoted
  at the desk), reopens the coupons the sale used (they can be used again while their dates allow; the
  per-member limits no longer count the refunded sale), makes a joining fee it collected owed again, and moves
  the annual fee's paid-until back to where it was — refused when the annual fee was paid again since, or its
  paid-until moved otherwise (refund the later payment first).
* **A top-up** returns its principal through its tender, and takes back the bonus given with it that is still on
  the card: when part of the card's bonus value was spent since, only what is left (up to this top-up's bonus)
  is removed — the spent bonus counts as this top-up's first. It is refused when the principal is no longer all
  on the card. ``mms check`` knows this one partial reversal.
* A reversed check-in gives the visit back. A refunded card issue cancels the card. A refunded gift for points
  gives the points back; a gift that was a coupon (积分兑换现金券) withdraws the coupon (marked used by the
  refund), and is refused once the coupon was used (refund that sale first).
* Commissions the operation earned are taken back by negative rows (services/money/commissions.py); the goods it
  took off the shelf go back on it, at the value they left with (services/stock/sales.py).
* Refunds need a manager (or admin): the manager works the desk, or approves what the cashier at the desk asks
  (``approver``); the refund then belongs to the cashier's operations (their shift's drawer pays it out) and the
  audit names who approved it. Every refund has a reason, kept on the reversing transaction and in the audit.
* **Where the money goes**: money paid with a money tender goes back through the same tender by default; a
  ``to_tender`` sends all of it through another (paid by WeChat, handed back in cash). Stored value and points
  always go back to the card they came from.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from mms_tui.i18n import _
from mms_tui.models import (
    Booking,
    Card,
    ClassBooking,
    Coupon,
    Entry,
    Member,
    Sale,
    SaleLine,
    Staff,
    Store,
    Transaction,
    Visit,
)
from mms_tui.services.base.errors import (
    AlreadyReversed,
    InsufficientBalance,
    InvalidInput,
    NotFound,
    NotRefundable,
)
from mms_tui.services.base.resolve import refuse_closed, resolve_store
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger import results
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.ledger.operations import Posting, audit, check_postings, post, run_operation
from mms_tui.services.ledger.tenders import MONEY_TENDERS, money_paid_for_sale, share_of_part
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.tiers import apply_spend
from mms_tui.services.messages.outbox import balance_changed
from mms_tui.services.money.commissions import allocate
from mms_tui.services.money.commissions import reverse as reverse_commissions
from mms_tui.services.payments.charge import (
    booked_attempts,
    code_refundable,
    refund_asked,
    refund_by_code,
    refunded_by_code,
)
from mms_tui.services.staff.permissions import require
from mms_tui.services.stock.sales import put_back

REFUNDABLE_KINDS = ("topup", "checkout", "checkin", "issue", "gift")
#: the kind of a partial refund's transaction (部分退款): money given back off a sale that stays sold
PART_KIND = "refund_part"


@dataclass(frozen=True)
class RefundResult:
    txid: str
    reversed_txid: str
    kind: str
    member_id: int | None
    money_returned_fen: int  # paid back out through money tenders (cash, bank card, wallets)
    entries: int
    #: a top-up's bonus value that was spent before the refund and so stays spent
    bonus_kept_fen: int = 0
    coupons_reopened: list[str] = field(default_factory=list)
    #: money paid back per tender ({"cash": 8800}), and value put back on cards (stored value, points, visits)
    paid_out: dict[str, int] = field(default_factory=dict)
    to_cards: dict[str, int] = field(default_factory=dict)
    #: of ``paid_out``, what a payment code's provider gave back to the customer itself ({"wechat": 8800}): the
    #: desk hands over only the rest
    by_provider: dict[str, int] = field(default_factory=dict)
    #: a partial refund's terms (:func:`refund_part`; empty for a whole refund): amount_fen, from_tenders (the
    #: sale's tenders the money came back from), by_code_fen, sales_fen and fees_fen (off each revenue), points
    #: (card id → points taken back), spend_fen (off the member's tier spend), categories (category → fen)
    part: dict = field(default_factory=dict)


def _ensure_points_there(postings: list[Posting]) -> None:
    """Refuse, naming what is missing, a sale's refund that would take back points no longer on a card."""
    net: dict[int, int] = defaultdict(int)
    for p in postings:
        if p.account == "card.points" and p.card_id is not None:
            net[p.card_id] += p.amount
    for card_id, delta in net.items():
        card = Card.get_by_id(card_id)
        if card.points + delta < 0:
            raise InsufficientBalance(_(
                "This sale earned {earned} points on card {card}, which has only {have} left (spent or expired "
                "since); the refund would take back points that are gone, so nothing was refunded."
            ).format(earned=-delta, card=card.card_no, have=card.points))


def _top_up_reversal(entries: list[Entry]) -> tuple[list[Posting], int]:
    """The principal and its tender undone exactly; the bonus only as far as it is still on the card."""
    postings: list[Posting] = []
    kept = 0
    principal = next((e for e in entries if e.account == "card.principal"), None)
    if principal is not None:
        card = Card.get_by_id(principal.card_id)
        if card.principal_fen < principal.amount:
            raise InsufficientBalance(_(
                "This top-up of {amount} cannot be refunded: card {card} holds only {have} of principal (the rest "
                "was spent)."
            ).format(amount=format_money(principal.amount), card=card.card_no, have=format_money(card.principal_fen)))
    for e in entries:
        if e.account in ("card.bonus", "expense.bonus"):
            continue
        postings.append(Posting(e.account, e.unit, -e.amount, e.card_id))
    bonus = next((e for e in entries if e.account == "card.bonus"), None)
    if bonus is not None and bonus.amount > 0:
        removed = min(bonus.amount, Card.get_by_id(bonus.card_id).bonus_fen)
        kept = bonus.amount - removed
        if removed:
            postings += [Posting("card.bonus", "fen", -removed, bonus.card_id),
                         Posting("expense.bonus", "fen", removed)]
    return postings, kept


def _reverse_fees(result: dict, sale: Sale, *, check_only: bool = False) -> None:
    """Move the annual fee's paid-until back, only while this sale's payment is the last one and nothing else
    moved it since (``check_only``: refuse as it would, changing nothing)."""
    for fee in result.get("fees", []):
        if check_only and fee.get("kind") == "booking":
            continue
        if fee.get("kind") == "booking":
            for key, model in (("bookings", Booking), ("class_bookings", ClassBooking)):
                if fee.get(key):
                    model.update(fee_txid=None).where(model.id.in_(fee[key])).execute()
                    record_states(model._meta.table_name, fee[key])
            continue
        if fee.get("kind") != "annual" or sale.member_id is None:
            continue
        after = dt.date.fromisoformat(fee["paid_until_after"]) if fee.get("paid_until_after") else None
        before = dt.date.fromisoformat(fee["paid_until_before"]) if fee.get("paid_until_before") else None
        current = Member.get_by_id(sale.member_id).fees_paid_until
        later = (SaleLine.select().join(Sale)
                 .where((Sale.member == sale.member_id) & (Sale.status == "paid") & (Sale.id > sale.id)
                        & (SaleLine.code == fee["code"])).exists())
        if later or current != after:
            raise NotRefundable(_(
                "The annual fee was paid again or changed since this sale (paid until {date}); refund the later "
                "payment first."
            ).format(date=current.isoformat() if current else "-"))
        if check_only:
            continue
        Member.update(fees_paid_until=before).where(Member.id == sale.member_id).execute()


@dataclass(frozen=True)
class RefundPreview:
    """What a refund would do, for the confirmation a cashier reads before it is made."""

    txid: str
    kind: str
    paid_with: dict[str, int]  # money tenders of the original and their amounts
    to_cards: dict[str, int]  # what goes back on cards: principal_fen, bonus_fen, points, visits
    refundable: bool
    reason_not: str = ""
    #: of ``paid_with``, what payment codes paid, that their providers give back ({"wechat": 8800})
    by_code: dict[str, int] = field(default_factory=dict)
    #: a sale's money that can still be given back in part (:func:`refund_part`); 0 for anything else
    part_left_fen: int = 0
    #: what earlier partial refunds of it gave back
    parts_fen: int = 0


def refund_preview(original_txid: str) -> RefundPreview:
    """The money terms of refunding ``original_txid``, read without changing anything."""
    original = Transaction.get_or_none(Transaction.txid == (original_txid or "").strip())
    if original is None:
        raise NotFound(_("No operation {txid}.").format(txid=original_txid))
    _stored_result(original)  # a damaged record is said before the dialog offers to refund it
    entries = list(Entry.select().where(Entry.transaction == original.id))
    parts = parts_of(original.txid, original.member_id) if original.kind == "checkout" else []
    if parts:
        rest = _rest_after_parts(entries, parts)
        paid = {p.account.removeprefix("tender."): p.amount for p in rest
                if p.account.startswith("tender.") and p.account.removeprefix("tender.") in MONEY_TENDERS}
        moved = [(p.account, p.card_id, p.amount) for p in rest]
    else:
        paid = {e.account.removeprefix("tender."): -e.amount for e in entries
                if e.account.startswith("tender.") and e.account.removeprefix("tender.") in MONEY_TENDERS and e.amount}
        moved = [(e.account, e.card_id, -e.amount) for e in entries]
    cards: dict[str, int] = defaultdict(int)
    for account, card_id, amount in moved:
        if card_id is not None:
            cards[_CARD_PARTS[account]] += amount
    reason = ""
    if original.kind not in REFUNDABLE_KINDS:
        reason = _("A {kind} operation cannot be refunded.").format(kind=original.kind)
    elif Transaction.get_or_none(Transaction.reverses == original.id) is not None:
        reason = _("Operation {txid} was already refunded.").format(txid=original.txid)
    parts_fen = sum(p["part"]["amount_fen"] for p in parts)
    return RefundPreview(original.txid, original.kind, paid,
                         {k: v for k, v in cards.items() if v}, not reason, reason, code_refundable(original.txid),
                         part_left(original, parts) if original.kind == "checkout" and not reason else 0, parts_fen)


def _stored_result(original: Transaction) -> dict:
    """The stored result a whole refund of ``original`` reads (a sale's, a card issue's, a gift's; {} for the
    other kinds): read before anything is asked of a payment code's provider, so a damaged one refuses the refund
    while nothing has moved anywhere."""
    if original.kind in ("checkout", "issue", "gift"):
        return results.load(original.result, of=original.txid)
    return {}


def _withdraw_gift_coupon(original: Transaction, tx: Transaction) -> str | None:
    """A gift for points that was a coupon: the coupon is marked used by this refund, so it can no longer pay;
    refused when a sale used it first. Its code, or None for a gift that was no coupon."""
    code = results.load(original.result, of=original.txid).get("coupon_code")
    if not code:
        return None
    changed = Coupon.update(used_at=tx.created_at, transaction=tx.id).where(
        (Coupon.code == code) & Coupon.used_at.is_null()).execute()
    if changed != 1:
        used = Coupon.get_or_none(Coupon.code == code)
        raise NotRefundable(_("Coupon {code}, bought with these points, was used on {date}: refund that sale "
                              "first.").format(code=code, date=str(used.used_at)[:16] if used else "?"))
    return code


_CARD_PARTS = {"card.principal": "principal_fen", "card.bonus": "bonus_fen", "card.points": "points",
               "card.visits": "visits"}


def _code_due(original: Transaction, refund_txid: str) -> int:
    """What a whole refund of ``original`` gives back through payment codes' providers: for each provider, what its
    codes paid and was not refunded through it, at most what the refund pays back through that tender (a part paid
    out in cash came off it)."""
    back: dict[str, int] = defaultdict(int)
    for p in _whole_sale_reversal(original):
        if p.account.startswith("tender."):
            back[p.account.removeprefix("tender.")] += p.amount
    return sum(min(fen, max(back.get(provider, 0), 0))
               for provider, fen in code_refundable(original.txid, but=refund_txid).items())


def _asked(original_txid: str, staff: Staff, approver: Staff | None, reason: str, to_tender: str | None,
           txid: str) -> tuple[str, Transaction]:
    """What every refund checks first: who may, a reason, the tender asked for, the operation it refunds."""
    require(approver or staff, "refund")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("A refund needs a reason."))
    if to_tender is not None and to_tender not in MONEY_TENDERS:
        raise InvalidInput(_("Money goes back as one of {tenders}, not {value!r}.").format(
            tenders=", ".join(MONEY_TENDERS), value=to_tender))
    if to_tender is not None and refund_asked(txid) and Transaction.get_or_none(Transaction.txid == txid) is None:
        raise InvalidInput(_("This refund was already asked of the payment code's provider: ask it again the way it "
                             "was paid (it is not given twice), or start a new refund."))
    original = Transaction.get_or_none(Transaction.txid == (original_txid or "").strip())
    if original is None:
        raise NotFound(_("No operation {txid}.").format(txid=original_txid))
    return reason, original


def refund(original_txid: str, staff: Staff, reason: str, txid: str, *, store: Store | str | None = None,
           approver: Staff | None = None, to_tender: str | None = None,
           payments: Mapping[str, object] | None = None) -> RefundResult:
    """Undo ``original_txid`` (see the module's rules). ``staff`` works the desk; a cashier needs a manager's
    ``approver``. ``to_tender`` pays all the money back through that tender instead of the original ones. What a
    payment code paid (WeChat Pay, Alipay) goes back through its provider first (``payments``: the desk's
    ``[payments]`` settings), keyed by this refund's txid, and only then is the refund booked."""
    reason, original = _asked(original_txid, staff, approver, reason, to_tender, txid)
    if original.kind not in REFUNDABLE_KINDS:
        raise NotRefundable(
            _("A {kind} operation cannot be refunded; only top-ups, sales, check-ins, card issues and gifts "
              "for points can.").format(
                kind=original.kind
            )
        )
    stored_result = _stored_result(original)
    store_obj = resolve_store(store, staff)
    request = {"reverses": original.txid, "reason": reason, "to_tender": to_tender}
    if to_tender is None and booked_attempts(original.txid):
        done = Transaction.get_or_none(Transaction.reverses == original.id)
        if done is not None and done.txid != txid:
            raise AlreadyReversed(_("Operation {txid} was already refunded.").format(txid=original.txid))
        due = _code_due(original, txid) if done is None else 0
        if due:  # what would refuse the booking is asked first: the money must not go back for nothing
            refuse_closed(store_obj)
            if original.kind == "topup":
                postings = _top_up_reversal(list(Entry.select().where(Entry.transaction == original.id)))[0]
            else:
                postings = _whole_sale_reversal(original)
            if original.kind == "checkout":
                _ensure_points_there(postings)
                _reverse_fees(stored_result, Sale.get(Sale.transaction == original.id), check_only=True)
            check_postings(postings)  # stored value spent since, a card that would go over its ceiling
            refund_by_code(original.txid, txid, staff, reason, payments if payments is not None else {},
                           amount_fen=due)

    def body(tx) -> RefundResult:
        if Transaction.get_or_none(Transaction.reverses == original.id) is not None:
            raise AlreadyReversed(_("Operation {txid} was already refunded.").format(txid=original.txid))
        Transaction.update(reverses=original.id).where(Transaction.id == tx.id).execute()
        withdrawn = _withdraw_gift_coupon(original, tx) if original.kind == "gift" else None
        entries = list(Entry.select().where(Entry.transaction == original.id).order_by(Entry.id))
        kept = 0
        reopened: list[str] = []
        parts = parts_of(original.txid, original.member_id) if original.kind == "checkout" else []
        if original.kind == "topup":
            postings, kept = _top_up_reversal(entries)
        else:
            postings = _whole_sale_reversal(original, entries, parts)
        if original.kind == "checkout":
            _ensure_points_there(postings)
        if to_tender is not None:  # all the money back through one tender
            postings = [Posting(f"tender.{to_tender}", p.unit, p.amount, p.card_id)
                        if p.account.removeprefix("tender.") in MONEY_TENDERS and p.account.startswith("tender.")
                        else p for p in postings]
        post(tx, postings)
        commission_back = reverse_commissions(tx, original.id)
        stock_back = put_back(tx, original.id)
        money = sum(p.amount for p in postings if p.account.startswith("tender."))
        paid_out: dict[str, int] = defaultdict(int)
        to_cards: dict[str, int] = defaultdict(int)
        for p in postings:
            if p.account.startswith("tender.") and p.amount:
                paid_out[p.account.removeprefix("tender.")] += p.amount
            elif p.card_id is not None and p.amount:
                to_cards[_CARD_PARTS[p.account]] += p.amount
        if original.kind == "checkout":
            sale = Sale.get(Sale.transaction == original.id)
            result = stored_result
            Sale.update(status="refunded").where(Sale.id == sale.id).execute()
            _reverse_fees(result, sale)
            reopened = [c for (c,) in Coupon.select(Coupon.code).where(Coupon.transaction == original.id)
                        .order_by(Coupon.code).tuples()]
            Coupon.update(used_at=None, transaction=None).where(Coupon.transaction == original.id).execute()
            if sale.member_id is not None:
                spend = result.get("spend_fen")
                spend = spend if spend is not None else money_paid_for_sale(sale.id)
                apply_spend(sale.member_id, -(spend - sum(p["part"]["spend_fen"] for p in parts)))
        elif original.kind == "checkin":
            Visit.update(status="reversed").where(Visit.transaction == original.id).execute()
        elif original.kind == "issue":
            card_id = stored_result["card_id"]
            Card.update(status="cancelled").where(Card.id == card_id).execute()
        stored: dict[int, int] = defaultdict(int)  # stored value moved on each card: 消费提醒 to those who asked
        for p in postings:
            if p.account in ("card.principal", "card.bonus") and p.card_id is not None:
                stored[p.card_id] += p.amount
        for card_id, moved in stored.items():
            if moved and original.member_id is not None:
                balance_changed(tx.txid, original.member_id, Member.get_by_id(original.member_id).name, card_id,
                                "refund", abs(moved), store_obj, tx.created_at, load_rules())
        audit("ledger.refund", f"tx:{original.txid}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"reverses": original.txid, "kind": original.kind, "reason": reason, "bonus_kept_fen": kept,
                       "coupons_reopened": reopened, **({"coupon_withdrawn": withdrawn} if withdrawn else {}),
                       "approved_by": approver.code if approver else None,
                       "paid_out": dict(paid_out), "to_tender": to_tender,
                       **({"commission_back_fen": commission_back} if commission_back else {}),
                       **({"stock_back": stock_back} if stock_back else {})})
        return RefundResult(tx.txid, original.txid, original.kind, original.member_id, money, len(postings),
                            kept, reopened, {k: v for k, v in paid_out.items() if v},
                            {k: v for k, v in to_cards.items() if v}, refunded_by_code(tx.txid))

    return run_operation(txid=txid, kind="refund", request=request, staff=staff, store=store_obj,
                         member=original.member_id, body=body, result_type=RefundResult, note=reason)


# --- partial refunds (部分退款) ------------------------------------------------------------------------------------


def parts_of(original_txid: str, member_id: int | None) -> list[dict]:
    """The partial refunds of the sale ``original_txid`` (its member's, or a walk-in's), oldest first: each one's
    stored result (``part`` holds its terms)."""
    found = []
    for part_txid, result in (Transaction.select(Transaction.txid, Transaction.result)
                              .where((Transaction.kind == PART_KIND) & (Transaction.member == member_id if member_id
                                                                         else Transaction.member.is_null()))
                              .order_by(Transaction.id).tuples()):
        stored = results.load(result, of=part_txid)
        if stored.get("reversed_txid") == original_txid:
            found.append(stored)
    return found


def _money_paid(entries: list[Entry]) -> dict[str, int]:
    """What a transaction took in through each money tender."""
    paid: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.account.startswith("tender.") and e.account.removeprefix("tender.") in MONEY_TENDERS:
            paid[e.account.removeprefix("tender.")] -= e.amount
    return {t: fen for t, fen in paid.items() if fen}


def _whole_sale_reversal(original: Transaction, entries: list[Entry] | None = None,
                         parts: list[dict] | None = None) -> list[Posting]:
    """The postings undoing ``original`` whole: each entry negated — for a sale refunded in part before, only what
    the parts left (:func:`_rest_after_parts`)."""
    entries = list(Entry.select().where(Entry.transaction == original.id).order_by(Entry.id)) \
        if entries is None else entries
    if parts is None:
        parts = parts_of(original.txid, original.member_id) if original.kind == "checkout" else []
    if parts:  # what the partial refunds gave back is not given again
        return _rest_after_parts(entries, parts)
    return [Posting(e.account, e.unit, -e.amount, e.card_id) for e in entries]


def _rest_after_parts(entries: list[Entry], parts: list[dict]) -> list[Posting]:
    """A whole refund of a sale after partial ones: what is left to undo of each of its entries — the money per
    tender less what the parts gave back from it (whatever tender they paid it out through), the rest less what
    the parts' own entries moved."""
    rest: dict[tuple[str, str, int | None], int] = defaultdict(int)
    money = {f"tender.{t}" for t in MONEY_TENDERS}
    for e in entries:
        if e.account not in money:
            rest[(e.account, e.unit, e.card_id)] -= e.amount
    for e in Entry.select().join(Transaction).where(Transaction.txid.in_([p["txid"] for p in parts])):
        if e.account not in money:
            rest[(e.account, e.unit, e.card_id)] -= e.amount
    taken = _taken_before(parts)
    for tender, fen in _money_paid(entries).items():
        rest[(f"tender.{tender}", "fen", None)] += fen - taken.get(tender, 0)
    return [Posting(account, unit, amount, card_id) for (account, unit, card_id), amount in rest.items() if amount]


def _taken_before(parts: list[dict]) -> dict[str, int]:
    taken: dict[str, int] = defaultdict(int)
    for part in parts:
        for tender, fen in part["part"]["from_tenders"].items():
            taken[tender] += fen
    return taken


@dataclass(frozen=True)
class PartTerms:
    """What a partial refund of ``amount_fen`` gives back and takes back (see :func:`refund_part`)."""

    amount_fen: int
    from_tenders: dict[str, int]
    by_code_fen: int
    sales_fen: int
    fees_fen: int
    points: dict[int, int]  # card id → points taken back
    spend_fen: int
    lines: dict[int, tuple[int, int, int]]  # line id → (refunded before, now, line's money): for commissions
    categories: dict[str, int]


def part_left(original: Transaction, parts: list[dict] | None = None) -> int:
    """Of a sale, the money (paid through money tenders) not yet given back in part."""
    entries = list(Entry.select().where(Entry.transaction == original.id))
    parts = parts_of(original.txid, original.member_id) if parts is None else parts
    return sum(_money_paid(entries).values()) - sum(p["part"]["amount_fen"] for p in parts)


def part_terms(original: Transaction, amount_fen: int, refund_txid: str) -> PartTerms:
    """The terms of giving back ``amount_fen`` of the sale ``original`` now, after its earlier partial refunds:
    the money comes back from what payment codes paid first (their providers give it back), then from the other
    money tenders in their order; revenue, points earned, tier spend and each line (for commissions and the
    categories) give back their share of it — cumulatively, so the parts of a sale never add up to more than it."""
    entries = list(Entry.select().where(Entry.transaction == original.id))
    parts = parts_of(original.txid, original.member_id)
    paid = _money_paid(entries)
    money = sum(paid.values())
    before = sum(p["part"]["amount_fen"] for p in parts)
    if amount_fen > money - before:
        raise InvalidInput(_(
            "Only {left} of this sale's money is left to give back in part (stored value and points go back only "
            "with a whole refund)."
        ).format(left=format_money(max(money - before, 0))))
    left = {t: fen - _taken_before(parts).get(t, 0) for t, fen in paid.items()}
    order: list[tuple[str, bool, int]] = []  # (tender, paid by code, fen that can come back from it)
    for provider, fen in code_refundable(original.txid, but=refund_txid).items():
        by_code = min(fen, left.get(provider, 0))
        if by_code > 0:
            order.append((provider, True, by_code))
            left[provider] -= by_code
    order += [(t.value, False, left[t.value]) for t in MONEY_TENDERS if left.get(t.value, 0) > 0]
    from_tenders: dict[str, int] = defaultdict(int)
    by_code_fen, due = 0, amount_fen
    for tender, coded, fen in order:
        share = min(due, fen)
        if share <= 0:
            break
        from_tenders[tender] += share
        by_code_fen += share if coded else 0
        due -= share
    revenue = [sum(e.amount for e in entries if e.account == account) for account in ("revenue.sales", "revenue.fees")]
    earlier = allocate(before, revenue)
    upto = allocate(before + amount_fen, revenue)
    sale = Sale.get(Sale.transaction == original.id)
    result = results.load(original.result, of=original.txid)
    spend = result.get("spend_fen")
    spend = money_paid_for_sale(sale.id) if spend is None else spend
    of = max(spend, money)
    points = {e.card_id: share_of_part(e.amount, before, amount_fen, of) for e in entries
              if e.account == "card.points" and e.card_id is not None and e.amount > 0}
    sale_lines = list(SaleLine.select(SaleLine.id, SaleLine.category, SaleLine.line_total_fen)
                      .where(SaleLine.sale == sale.id).order_by(SaleLine.id))
    weights = [max(line.line_total_fen, 0) for line in sale_lines]
    line_before = allocate(before, weights)
    line_upto = allocate(before + amount_fen, weights)
    lines, categories = {}, defaultdict(int)
    for line, was, now in zip(sale_lines, line_before, line_upto, strict=True):
        if now - was:
            lines[line.id] = (was, now - was, line.line_total_fen)
            categories[line.category or ""] += now - was
    return PartTerms(amount_fen, dict(from_tenders), by_code_fen, upto[0] - earlier[0], upto[1] - earlier[1],
                     {c: p for c, p in points.items() if p}, share_of_part(spend, before, amount_fen, of), lines,
                     dict(categories))


def _ensure_points_for(points: Mapping[int, int]) -> None:
    for card_id, taken in points.items():
        card = Card.get_by_id(card_id)
        if card.points < taken:
            raise InsufficientBalance(_(
                "This part of the sale earned {earned} points on card {card}, which has only {have} left (spent or "
                "expired since); nothing was refunded."
            ).format(earned=taken, card=card.card_no, have=card.points))


def refund_part(original_txid: str, amount_fen: int, staff: Staff, reason: str, txid: str, *,
                store: Store | str | None = None, approver: Staff | None = None, to_tender: str | None = None,
                payments: Mapping[str, object] | None = None) -> RefundResult:
    """部分退款: give back ``amount_fen`` of a sale's money, the sale staying sold (its goods, coupons, fees and
    stored value are not touched: a return of goods is a whole refund). The money comes back as
    :func:`part_terms` says — what a payment code paid through its provider first, keyed by this txid — or all
    through ``to_tender``; the sale's revenue, the points it earned (refused when they are no longer on the card),
    the member's tier spend and the commissions of its lines give back their share. Several partial refunds may
    follow one another up to the sale's money; a whole refund afterwards gives back only the rest. Like a whole
    refund: a manager (or a cashier with a manager's ``approver``), a reason, once per txid."""
    reason, original = _asked(original_txid, staff, approver, reason, to_tender, txid)
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidInput(_("A partial refund gives back a positive amount."))
    if original.kind != "checkout":
        raise NotRefundable(_("Only a sale is refunded in part; a {kind} operation is refunded whole.").format(
            kind=original.kind))
    store_obj = resolve_store(store, staff)
    request = {"part_of": original.txid, "amount_fen": amount_fen, "reason": reason, "to_tender": to_tender}

    def refuse_done() -> None:
        if Transaction.get_or_none(Transaction.reverses == original.id) is not None:
            raise AlreadyReversed(_("Operation {txid} was already refunded.").format(txid=original.txid))

    if Transaction.get_or_none(Transaction.txid == txid) is None:  # a retry of a booked one only answers
        refuse_done()
        terms = part_terms(original, amount_fen, txid)
        if to_tender is None and terms.by_code_fen:  # the provider first; what would refuse the booking before it
            refuse_closed(store_obj)
            _ensure_points_for(terms.points)
            refund_by_code(original.txid, txid, staff, reason, payments if payments is not None else {},
                           amount_fen=terms.by_code_fen)

    def body(tx) -> RefundResult:
        refuse_done()
        terms = part_terms(original, amount_fen, tx.txid)
        _ensure_points_for(terms.points)
        postings = [Posting(f"tender.{to_tender or tender}", "fen", fen) for tender, fen in terms.from_tenders.items()]
        postings += [Posting("revenue.sales", "fen", -terms.sales_fen), Posting("revenue.fees", "fen", -terms.fees_fen)]
        for card_id, points in terms.points.items():
            postings += [Posting("card.points", "pt", -points, card_id), Posting("points.issued", "pt", points)]
        post(tx, postings)
        commission_back = reverse_commissions(tx, original.id, terms.lines)
        if original.member_id is not None and terms.spend_fen:
            apply_spend(original.member_id, -terms.spend_fen)
        paid_out: dict[str, int] = defaultdict(int)
        for p in postings:
            if p.account.startswith("tender."):
                paid_out[p.account.removeprefix("tender.")] += p.amount
        part = {"amount_fen": amount_fen, "from_tenders": terms.from_tenders, "by_code_fen": terms.by_code_fen,
                "sales_fen": terms.sales_fen, "fees_fen": terms.fees_fen,
                "points": {str(c): p for c, p in terms.points.items()}, "spend_fen": terms.spend_fen,
                "categories": terms.categories}
        audit("ledger.refund_part", f"tx:{original.txid}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"part_of": original.txid, "amount_fen": amount_fen, "reason": reason,
                       "approved_by": approver.code if approver else None, "paid_out": dict(paid_out),
                       "to_tender": to_tender, **({"commission_back_fen": commission_back} if commission_back else {})})
        points_back = sum(terms.points.values())
        return RefundResult(tx.txid, original.txid, original.kind, original.member_id, amount_fen,
                            len([p for p in postings if p.amount]), paid_out=dict(paid_out),
                            to_cards={"points": -points_back} if points_back else {},
                            by_provider=refunded_by_code(tx.txid), part=part)

    return run_operation(txid=txid, kind=PART_KIND, request=request, staff=staff, store=store_obj,
                         member=original.member_id, body=body, result_type=RefundResult, note=reason)
