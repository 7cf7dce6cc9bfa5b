"""Tiers (等级): a member moves up automatically when cumulative money spend reaches a tier's threshold.

Only money counts as spend (cash, bank card, wallets, stored-value principal): bonus value and points are gifts.
Downgrades are not automatic; a refund lowers the spend but keeps the tier (a member is never demoted at the desk).
"""

from __future__ import annotations

from dataclasses import dataclass

from mms_tui.models import Member, Staff, Store, Tier
from mms_tui.services.ledger import audit


@dataclass(frozen=True)
class TierProgress:
    tier_code: str
    tier_name: str
    total_spend_fen: int
    next_code: str | None
    next_name: str | None
    next_spend_fen: int | None  # spend still needed to reach the next tier


def tier_for_spend(total_spend_fen: int) -> Tier | None:
    return (
        Tier.select()
        .where(Tier.upgrade_spend_fen <= total_spend_fen)
        .order_by(Tier.rank.desc(), Tier.upgrade_spend_fen.desc())
        .first()
    )


def apply_spend(member_id: int, money_fen: int, *, staff: Staff | None = None, store: Store | None = None,
                txid: str | None = None) -> str:
    """Add ``money_fen`` (may be negative, for refunds) to the member's spend; upgrade if a threshold is passed.

    Runs inside the caller's write transaction; an upgrade leaves a ``member.tier_up`` audit event (the tiers
    report counts them). Returns the member's tier code afterwards.
    """
    if money_fen:
        Member.update(total_spend_fen=Member.total_spend_fen + money_fen).where(Member.id == member_id).execute()
    member = Member.select(Member, Tier).join(Tier).where(Member.id == member_id).get()
    target = tier_for_spend(member.total_spend_fen)
    if target is not None and target.rank > member.tier.rank:
        Member.update(tier=target.id).where(Member.id == member_id).execute()
        audit("member.tier_up", f"member:{member_id}", staff=staff, store=store, txid=txid,
              payload={"from": member.tier.code, "to": target.code, "spend_fen": member.total_spend_fen})
        return target.code
    return member.tier.code


def progress(member: Member) -> TierProgress:
    """Where the member stands and what is left to reach the next tier (for the member screen)."""
    tier = member.tier
    nxt = (
        Tier.select()
        .where((Tier.rank > tier.rank) & (Tier.upgrade_spend_fen > 0))
        .order_by(Tier.rank)
        .first()
    )
    return TierProgress(
        tier.code, tier.name, member.total_spend_fen,
        nxt.code if nxt else None, nxt.name if nxt else None,
        max(0, nxt.upgrade_spend_fen - member.total_spend_fen) if nxt else None,
    )
