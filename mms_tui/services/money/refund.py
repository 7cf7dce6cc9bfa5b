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
import json
from collections import defaultdict
from dataclasses import dataclass, field

from mms_tui.i18n import _
from mms_tui.models import (
    Booking,
    Card,
    ClassBooking,
    Coupon,
    Entry,
    Member,
    Payment,
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
from mms_tui.services.base.resolve import resolve_store
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.ledger.operations import Posting, audit, post, run_operation
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.tiers import apply_spend
from mms_tui.services.messages.outbox import balance_changed
from mms_tui.services.money.commissions import reverse as reverse_commissions
from mms_tui.services.staff.permissions import require
from mms_tui.services.stock.sales import put_back

REFUNDABLE_KINDS = ("topup", "checkout", "checkin", "issue", "gift")


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


def money_paid_for_sale(sale_id: int) -> int:
    """What of a sale counts as money spend: money tenders plus stored-value principal (not bonus, not points)."""
    total = 0
    for payment in Payment.select().where(Payment.sale == sale_id):
        if payment.tender in MONEY_TENDERS:
            total += payment.amount_fen
        elif payment.tender == "stored_value":
            total += payment.principal_fen
    return total


def _ensure_points_there(entries: list[Entry]) -> None:
    """Refuse, naming what is missing, a sale's refund that would take back points no longer on a card."""
    net: dict[int, int] = defaultdict(int)
    for e in entries:
        if e.account == "card.points" and e.card_id is not None:
            net[e.card_id] -= e.amount
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


def _reverse_fees(result: dict, sale: Sale) -> None:
    """Move the annual fee's paid-until back, only while this sale's payment is the last one and nothing else
    moved it since."""
    for fee in result.get("fees", []):
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


def refund_preview(original_txid: str) -> RefundPreview:
    """The money terms of refunding ``original_txid``, read without changing anything."""
    original = Transaction.get_or_none(Transaction.txid == (original_txid or "").strip())
    if original is None:
        raise NotFound(_("No operation {txid}.").format(txid=original_txid))
    entries = list(Entry.select().where(Entry.transaction == original.id))
    paid = {e.account.removeprefix("tender."): -e.amount for e in entries
            if e.account.startswith("tender.") and e.account.removeprefix("tender.") in MONEY_TENDERS and e.amount}
    cards: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.card_id is not None:
            cards[_CARD_PARTS[e.account]] -= e.amount
    reason = ""
    if original.kind not in REFUNDABLE_KINDS:
        reason = _("A {kind} operation cannot be refunded.").format(kind=original.kind)
    elif Transaction.get_or_none(Transaction.reverses == original.id) is not None:
        reason = _("Operation {txid} was already refunded.").format(txid=original.txid)
    return RefundPreview(original.txid, original.kind, paid,
                         {k: v for k, v in cards.items() if v}, not reason, reason)


def _withdraw_gift_coupon(original: Transaction, tx: Transaction) -> str | None:
    """A gift for points that was a coupon: the coupon is marked used by this refund, so it can no longer pay;
    refused when a sale used it first. Its code, or None for a gift that was no coupon."""
    code = json.loads(original.result_json or "{}").get("coupon_code")
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


def refund(original_txid: str, staff: Staff, reason: str, txid: str, *, store: Store | str | None = None,
           approver: Staff | None = None, to_tender: str | None = None) -> RefundResult:
    """Undo ``original_txid`` (see the module's rules). ``staff`` works the desk; a cashier needs a manager's
    ``approver``. ``to_tender`` pays all the money back through that tender instead of the original ones."""
    require(approver or staff, "refund")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("A refund needs a reason."))
    if to_tender is not None and to_tender not in MONEY_TENDERS:
        raise InvalidInput(_("Money goes back as one of {tenders}, not {value!r}.").format(
            tenders=", ".join(MONEY_TENDERS), value=to_tender))
    original = Transaction.get_or_none(Transaction.txid == (original_txid or "").strip())
    if original is None:
        raise NotFound(_("No operation {txid}.").format(txid=original_txid))
    if original.kind not in REFUNDABLE_KINDS:
        raise NotRefundable(
            _("A {kind} operation cannot be refunded; only top-ups, sales, check-ins, card issues and gifts "
              "for points can.").format(
                kind=original.kind
            )
        )
    store_obj = resolve_store(store, staff)
    request = {"reverses": original.txid, "reason": reason, "to_tender": to_tender}

    def body(tx) -> RefundResult:
        if Transaction.get_or_none(Transaction.reverses == original.id) is not None:
            raise AlreadyReversed(_("Operation {txid} was already refunded.").format(txid=original.txid))
        Transaction.update(reverses=original.id).where(Transaction.id == tx.id).execute()
        withdrawn = _withdraw_gift_coupon(original, tx) if original.kind == "gift" else None
        entries = list(Entry.select().where(Entry.transaction == original.id).order_by(Entry.id))
        kept = 0
        reopened: list[str] = []
        if original.kind == "topup":
            postings, kept = _top_up_reversal(entries)
        else:
            postings = [Posting(e.account, e.unit, -e.amount, e.card_id) for e in entries]
        if original.kind == "checkout":
            _ensure_points_there(entries)
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
            result = json.loads(original.result_json or "{}")
            Sale.update(status="refunded").where(Sale.id == sale.id).execute()
            _reverse_fees(result, sale)
            reopened = [c for (c,) in Coupon.select(Coupon.code).where(Coupon.transaction == original.id)
                        .order_by(Coupon.code).tuples()]
            Coupon.update(used_at=None, transaction=None).where(Coupon.transaction == original.id).execute()
            if sale.member_id is not None:
                spend = result.get("spend_fen")
                apply_spend(sale.member_id, -(spend if spend is not None else money_paid_for_sale(sale.id)))
        elif original.kind == "checkin":
            Visit.update(status="reversed").where(Visit.transaction == original.id).execute()
        elif original.kind == "issue":
            card_id = json.loads(original.result_json)["card_id"]
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
                            {k: v for k, v in to_cards.items() if v})

    return run_operation(txid=txid, kind="refund", request=request, staff=staff, store=store_obj,
                         member=original.member_id, body=body, result_type=RefundResult, note=reason)
