"""充值: money in onto a stored-value card, with bonus value kept apart from the principal."""

from __future__ import annotations

from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Card, Staff, Store
from mms_tui.services.common import ensure_usable, require_positive, resolve_card, resolve_store
from mms_tui.services.errors import InvalidInput, WrongCardKind
from mms_tui.services.ledger import MONEY_TENDERS, Posting, audit, card_posting, post, run_operation


@dataclass(frozen=True)
class TopUpResult:
    txid: str
    card_id: int
    card_no: str
    member_id: int
    amount_fen: int
    bonus_fen: int
    tender: str
    principal_after: int
    bonus_after: int


def top_up(
    card: Card | int | str,
    amount_fen: int,
    bonus_fen: int,
    tender: str,
    staff: Staff,
    txid: str,
    *,
    store: Store | str | None = None,
) -> TopUpResult:
    """Principal ``amount_fen`` paid with ``tender``; ``bonus_fen`` is the business's gift (充1000送200)."""
    require_positive(amount_fen, _("The top-up amount"))
    if not isinstance(bonus_fen, int) or isinstance(bonus_fen, bool) or bonus_fen < 0:
        raise InvalidInput(_("The bonus cannot be negative."))
    if tender not in MONEY_TENDERS:
        raise InvalidInput(
            _("Tender must be one of {tenders}, not {value!r}.").format(tenders=", ".join(MONEY_TENDERS), value=tender)
        )
    card = resolve_card(card)
    store_obj = resolve_store(store, staff)
    request = {"card": card.id, "amount": amount_fen, "bonus": bonus_fen, "tender": tender}

    def body(tx) -> TopUpResult:
        current = Card.get_by_id(card.id)
        if current.card_type.kind != "stored_value":
            raise WrongCardKind(_("Card {card} is not a stored-value card.").format(card=current.card_no))
        ensure_usable(current)
        post(tx, [
            card_posting(current.id, "card.principal", amount_fen),
            Posting(f"tender.{tender}", "fen", -amount_fen),
            card_posting(current.id, "card.bonus", bonus_fen),
            Posting("expense.bonus", "fen", -bonus_fen),
        ])
        after = Card.get_by_id(card.id)
        audit("card.top_up", f"card:{card.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"amount_fen": amount_fen, "bonus_fen": bonus_fen, "tender": tender})
        return TopUpResult(tx.txid, after.id, after.card_no, after.member_id, amount_fen, bonus_fen, tender,
                           after.principal_fen, after.bonus_fen)

    return run_operation(txid=txid, kind="topup", request=request, staff=staff, store=store_obj,
                         member=card.member_id, body=body, result_type=TopUpResult)
