"""退款 / 冲正: a new transaction that undoes another, entry by entry. Nothing is ever edited or deleted.

* Refundable: top-ups, checkouts, check-ins and card issues. Registrations, freezes and replacements are undone by
  their own opposite operation, not by a reversal.
* A transaction is reversed at most once: ``Transaction.reverses`` is unique, so even two managers pressing refund
  at the same moment on two terminals produce one reversal.
* The reversal negates every entry of the original. Balance floors still hold: a top-up whose value was already
  spent, or a sale whose earned points were already redeemed, cannot be reversed (the message says what is missing).
* A refunded checkout returns exactly what was paid, per tender (stored value to principal and bonus as it was
  taken, points to the card they came from, money to its tender), takes back the points it earned, and lowers the
  member's cumulative spend. A reversed check-in gives the visit back. A refunded card issue cancels the card.
* Refunds need a manager (or admin).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Card, Entry, Payment, Sale, Staff, Store, Transaction, Visit
from mms_tui.services.common import resolve_store
from mms_tui.services.errors import AlreadyReversed, InvalidInput, NotFound, NotRefundable
from mms_tui.services.ledger import MONEY_TENDERS, Posting, audit, post, run_operation
from mms_tui.services.staff import require_role
from mms_tui.services.tiers import apply_spend

REFUNDABLE_KINDS = ("topup", "checkout", "checkin", "issue")


@dataclass(frozen=True)
class RefundResult:
    txid: str
    reversed_txid: str
    kind: str
    member_id: int | None
    money_returned_fen: int  # paid back out through money tenders (cash, bank card, wallets)
    entries: int


def money_paid_for_sale(sale_id: int) -> int:
    """What of a sale counts as money spend: money tenders plus stored-value principal (not bonus, not points)."""
    total = 0
    for payment in Payment.select().where(Payment.sale == sale_id):
        if payment.tender in MONEY_TENDERS:
            total += payment.amount_fen
        elif payment.tender == "stored_value":
            total += payment.principal_fen
    return total


def refund(original_txid: str, staff: Staff, reason: str, txid: str, *, store: Store | str | None = None) -> RefundResult:
    require_role(staff, "manager")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("A refund needs a reason."))
    original = Transaction.get_or_none(Transaction.txid == (original_txid or "").strip())
    if original is None:
        raise NotFound(_("No operation {txid}.").format(txid=original_txid))
    if original.kind not in REFUNDABLE_KINDS:
        raise NotRefundable(
            _("A {kind} operation cannot be refunded; only top-ups, sales, check-ins and card issues can.").format(
                kind=original.kind
            )
        )
    store_obj = resolve_store(store, staff)
    request = {"reverses": original.txid, "reason": reason}

    def body(tx) -> RefundResult:
        if Transaction.get_or_none(Transaction.reverses == original.id) is not None:
            raise AlreadyReversed(_("Operation {txid} was already refunded.").format(txid=original.txid))
        Transaction.update(reverses=original.id).where(Transaction.id == tx.id).execute()
        entries = list(Entry.select().where(Entry.transaction == original.id))
        post(tx, [Posting(e.account, e.unit, -e.amount, e.card_id) for e in entries])
        money = -sum(e.amount for e in entries if e.account.startswith("tender."))
        if original.kind == "checkout":
            sale = Sale.get(Sale.transaction == original.id)
            Sale.update(status="refunded").where(Sale.id == sale.id).execute()
            if sale.member_id is not None:
                apply_spend(sale.member_id, -money_paid_for_sale(sale.id))
        elif original.kind == "checkin":
            Visit.update(status="reversed").where(Visit.transaction == original.id).execute()
        elif original.kind == "issue":
            card_id = json.loads(original.result_json)["card_id"]
            Card.update(status="cancelled").where(Card.id == card_id).execute()
        audit("ledger.refund", f"tx:{original.txid}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"reverses": original.txid, "kind": original.kind, "reason": reason})
        return RefundResult(tx.txid, original.txid, original.kind, original.member_id, money, len(entries))

    return run_operation(txid=txid, kind="refund", request=request, staff=staff, store=store_obj,
                         member=original.member_id, body=body, result_type=RefundResult, note=reason)

