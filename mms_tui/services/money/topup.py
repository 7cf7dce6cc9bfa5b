"""充值: money in onto a stored-value card, with bonus value kept apart from the principal.

The bonus and any tier a top-up gives come from the loyalty rules in force (``topup.bonuses``; evaluated by
:func:`mms_tui.services.loyalty.topup_bonus.topup_bonus`): among the rules valid on the day, the highest threshold the amount
reaches gives its bonus ("充1000送200"), and the highest threshold reached that names a tier moves the member up
to it at once (never down). The desk shows :func:`topup_offer` while the amount is typed; a manager may give a
different bonus, which :func:`top_up` records as given.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Card, Member, Staff, Store, Tier
from mms_tui.services.base.config import require_positive, require_within_limit
from mms_tui.services.base.errors import InvalidInput, WrongCardKind
from mms_tui.services.base.resolve import ensure_usable, resolve_card, resolve_store, today
from mms_tui.services.ledger.operations import Posting, audit, card_posting, post, run_operation
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.loyalty.tiers import raise_tier
from mms_tui.services.loyalty.topup_bonus import topup_bonus, topup_tier
from mms_tui.services.messages.outbox import balance_changed
from mms_tui.services.money import commissions
from mms_tui.services.staff.permissions import require


@dataclass(frozen=True)
class TopUpOffer:
    """What a top-up of an amount gets under the rules on a day."""

    amount_fen: int
    bonus_fen: int
    explanation: str  # 'Top up ¥1000, get ¥200 free' (充1000送200); '' when no rule is reached
    tier_code: str | None = None  # the tier this amount gives (the member moves up only if it is higher)
    tier_name: str | None = None

    @property
    def text(self) -> str:
        """Everything the desk shows under the amount, in one line."""
        parts = [self.explanation] if self.explanation else []
        if self.tier_name:
            parts.append(_("upgrade to {tier}").format(tier=self.tier_name))
        return "; ".join(parts)


def topup_offer(amount_fen: int, when: dt.date | dt.datetime | None = None, rules: Rules | None = None) -> TopUpOffer:
    """The bonus and tier a top-up of ``amount_fen`` gets on ``when`` (today) under the rules in force."""
    rules = rules or load_rules()
    when = when or today()
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        return TopUpOffer(0, 0, "")
    bonus, explanation = topup_bonus(amount_fen, when, rules)
    tier_code = topup_tier(amount_fen, when, rules)
    tier = Tier.get_or_none(Tier.code == tier_code) if tier_code else None
    return TopUpOffer(amount_fen, bonus, explanation, tier.code if tier else None, tier.name if tier else None)


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
    #: the member's tier afterwards, and whether this top-up moved them up to it
    tier_code: str | None = None
    tier_up: bool = False
    explanation: str = ""
    tier_name: str | None = None  # the rule the bonus came from, when it is the rule's bonus


def top_up(
    card: Card | int | str,
    amount_fen: int,
    bonus_fen: int | None,
    tender: str,
    staff: Staff,
    txid: str,
    *,
    store: Store | str | None = None,
    salesperson: str | None = None,
    note: str = "",
) -> TopUpResult:
    """Principal ``amount_fen`` paid with ``tender``; ``bonus_fen`` is the business's gift (充1000送200): None takes
    it from the rules in force; a number is what staff gave (only a manager may give other than the rules'). A rule's
    tier for this amount moves the member up in the same transaction. ``note`` is kept on the transaction (a
    batch's reference: services/money/topup_batch.py)."""
    require_positive(amount_fen, _("The top-up amount"))
    if bonus_fen is not None and (not isinstance(bonus_fen, int) or isinstance(bonus_fen, bool) or bonus_fen < 0):
        raise InvalidInput(_("The bonus cannot be negative."))
    if bonus_fen:
        require_within_limit(bonus_fen, _("The bonus"))
    if tender not in MONEY_TENDERS:
        raise InvalidInput(
            _("Tender must be one of {tenders}, not {value!r}.").format(tenders=", ".join(MONEY_TENDERS), value=tender)
        )
    card = resolve_card(card)
    store_obj = resolve_store(store, staff)
    request = {"card": card.id, "amount": amount_fen, "bonus": bonus_fen, "tender": tender}
    seller = commissions.check_salesperson(salesperson)  # 提成 on the principal (services/money/commissions.py)
    if seller is not None:
        request["salesperson"] = seller.code

    def body(tx) -> TopUpResult:
        current = Card.get_by_id(card.id)
        if current.card_type.kind != "stored_value":
            raise WrongCardKind(_("Card {card} is not a stored-value card.").format(card=current.card_no))
        ensure_usable(current, at=store_obj)
        offer = topup_offer(amount_fen)
        bonus = offer.bonus_fen if bonus_fen is None else bonus_fen
        if bonus != offer.bonus_fen:  # the rules' bonus is anyone's to give; another one is a manager's decision
            require(staff, "topup.bonus")
        post(tx, [
            card_posting(current.id, "card.principal", amount_fen),
            Posting(f"tender.{tender}", "fen", -amount_fen),
            card_posting(current.id, "card.bonus", bonus),
            Posting("expense.bonus", "fen", -bonus),
        ])
        before = Member.select(Tier.code).join(Tier).where(Member.id == current.member_id).scalar()
        tier_code = before
        if offer.tier_code:
            tier_code = raise_tier(current.member_id, offer.tier_code, staff=staff, store=store_obj, txid=tx.txid,
                                   reason="topup", detail={"amount_fen": amount_fen})
        if seller is not None:
            commissions.record(tx, store_obj.id, load_rules().commissions, [(commissions.LineFacts(
                "topup", current.card_type.code, "", True, 1, amount_fen), None, [seller])])
        after = Card.get_by_id(card.id)
        balance_changed(tx.txid, current.member_id, current.member.name, current.id, "topup", amount_fen + bonus,
                        store_obj, tx.created_at, load_rules())
        explanation = offer.explanation if bonus == offer.bonus_fen and bonus else ""
        audit("card.top_up", f"card:{card.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"amount_fen": amount_fen, "bonus_fen": bonus, "tender": tender,
                       "rule_bonus_fen": offer.bonus_fen})
        return TopUpResult(tx.txid, after.id, after.card_no, after.member_id, amount_fen, bonus, tender,
                           after.principal_fen, after.bonus_fen, tier_code, tier_code != before, explanation,
                           Tier.get(Tier.code == tier_code).name)

    return run_operation(txid=txid, kind="topup", request=request, staff=staff, store=store_obj,
                         member=card.member_id, body=body, result_type=TopUpResult, note=note)
