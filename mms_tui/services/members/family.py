"""Families (家庭) and the visits they share.

* A family is named by its first member (``Member.family`` points at them, themselves included). When that member
  leaves, the next oldest names it; a family left with one member is dissolved.
* **Transfer** (转让): visits of a package whose card type is ``transferable`` move to another member of the same
  family, onto their active card of the same type, or onto a new card of that type issued to them in the same
  transaction (no charge; it ends when the giving card ends). The visits then end when the receiving card ends.

Every operation here is idempotent by txid (see :mod:`mms_tui.services.ledger.operations`); those that move value post
balanced ledger entries in the same database transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee

from mms_tui.i18n import _
from mms_tui.models import Card, Member, Staff, Store
from mms_tui.services.base.errors import InvalidInput, WrongCardKind
from mms_tui.services.base.resolve import ensure_usable, resolve_card, resolve_member, resolve_store, today
from mms_tui.services.base.text import mask_phone
from mms_tui.services.ledger.operations import audit, card_posting, post, run_operation
from mms_tui.services.members.cards import generate_card_no
from mms_tui.services.members.passes import settle_freeze
from mms_tui.services.members.profile import find_member


@dataclass(frozen=True)
class TransferResult:
    txid: str
    visits: int
    from_card_no: str
    from_visits_left: int
    to_member_id: int
    to_member_name: str
    to_card_no: str
    to_visits_left: int
    #: the receiving member had no card of the type: this one was issued to them
    card_issued: bool


def transfer_visits(
    card: Card | int | str,
    to_member: Member | int | str,
    visits: int,
    staff: Staff,
    txid: str,
    *,
    store: Store | str | None = None,
    on: dt.date | None = None,
) -> TransferResult:
    """转让: move ``visits`` of a transferable visit package to another member of the holder's family (see the
    module for where they land). Refused across families, for other card types, beyond the visits left."""
    card = resolve_card(card)
    receiver = resolve_member(to_member)
    store_obj = resolve_store(store, staff)
    day = on or today()
    if not isinstance(visits, int) or isinstance(visits, bool) or visits <= 0:
        raise InvalidInput(_("Visits to transfer must be a whole number more than zero."))
    request = {"card": card.id, "to": receiver.id, "visits": visits, "on": day}

    def body(tx) -> TransferResult:
        current = settle_freeze(Card.get_by_id(card.id), day, staff=staff, store=store_obj, txid=tx.txid)
        ctype = current.card_type
        if ctype.kind != "visits":
            raise WrongCardKind(_("Card {card} ({type}) is not a visit package; only visits are transferred.").format(
                card=current.card_no, type=ctype.name))
        if not ctype.transferable:
            raise InvalidInput(_("Visits of {type} cannot be transferred to another member.").format(type=ctype.name))
        ensure_usable(current, day, at=store_obj)
        giver = Member.get_by_id(current.member_id)
        taker = Member.get_by_id(receiver.id)
        if taker.id == giver.id:
            raise InvalidInput(_("Card {card} already belongs to {name}.").format(card=current.card_no, name=giver.name))
        if giver.family_id is None or giver.family_id != taker.family_id:
            raise InvalidInput(_("{giver} and {taker} are not in the same family; visits move only within a "
                                 "family.").format(giver=giver.name, taker=taker.name))
        target = (
            Card.select().where((Card.member == taker.id) & (Card.card_type == ctype.id) & (Card.status == "active")
                                & (Card.valid_until.is_null() | (Card.valid_until >= day)))
            .order_by(Card.id).first()
        )
        issued = target is None
        if target is None:
            target = Card.create(card_no=generate_card_no(), member=taker, card_type=ctype,
                                 valid_until=current.valid_until, store=store_obj)
        post(tx, [card_posting(current.id, "card.visits", -visits), card_posting(target.id, "card.visits", visits)])
        audit("card.transfer", f"card:{current.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"visits": visits, "to_member": taker.id, "to_card": target.id, "card_issued": issued})
        after_from, after_to = Card.get_by_id(current.id), Card.get_by_id(target.id)
        return TransferResult(tx.txid, visits, after_from.card_no, after_from.visits_left, taker.id, taker.name,
                              after_to.card_no, after_to.visits_left, issued)

    return run_operation(txid=txid, kind="transfer", request=request, staff=staff, store=store_obj,
                         member=card.member_id, body=body, result_type=TransferResult)


# --- families --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyMember:
    member_id: int
    name: str
    phone_masked: str
    #: the family is named by this member (its first)
    head: bool


@dataclass(frozen=True)
class FamilyResult:
    txid: str
    member_id: int
    family_id: int | None
    members: list[str]


def family_members(member: Member | int | str) -> list[FamilyMember]:
    """The member's family, the member included, first member first; empty when they are in none."""
    m = resolve_member(member)
    if m.family_id is None:
        return []
    return [FamilyMember(f.id, f.name, mask_phone(f.phone), f.id == m.family_id)
            for f in Member.select().where(Member.family == m.family_id)
            .order_by(peewee.Case(None, [(Member.id == m.family_id, 0)], 1), Member.id)]


def _rename_family(family_id: int, leaving: int) -> None:
    """``leaving`` goes: the next oldest member names the family; a family of one is no family."""
    rest = [m.id for m in Member.select(Member.id).where((Member.family == family_id) & (Member.id != leaving))
            .order_by(Member.id)]
    if len(rest) == 1:
        Member.update(family=None).where(Member.id == rest[0]).execute()
    elif rest and family_id == leaving:
        Member.update(family=rest[0]).where(Member.id.in_(rest)).execute()


def set_family(member: Member | int | str, family_of: Member | int | str | None, staff: Staff, txid: str
               ) -> FamilyResult:
    """Put ``member`` in the family of ``family_of`` (who starts one when in none), or with None take them out
    of theirs. No value moves; it is recorded and audited like any change."""
    m = find_member(member)
    other = find_member(family_of) if family_of is not None else None
    store = resolve_store(None, staff)
    if other is not None and other.id == m.id:
        raise InvalidInput(_("Choose another member to share a family with {name}.").format(name=m.name))
    request = {"member": m.id, "family_of": other.id if other is not None else None}

    def body(tx) -> FamilyResult:
        current = Member.get_by_id(m.id)
        before = current.family_id
        if other is None:
            if before is None:
                raise InvalidInput(_("{name} is not in a family.").format(name=current.name))
            _rename_family(before, current.id)
            Member.update(family=None).where(Member.id == current.id).execute()
        else:
            host = Member.get_by_id(other.id)
            if host.family_id is not None and host.family_id == before:
                raise InvalidInput(_("{name} is already in this family.").format(name=current.name))
            if before is not None:
                _rename_family(before, current.id)
                host = Member.get_by_id(other.id)  # leaving may have renamed the host's family
            family = host.family_id or host.id
            Member.update(family=family).where(Member.id.in_([host.id, current.id])).execute()
        after = Member.get_by_id(m.id).family_id
        audit("member.family", f"member:{m.id}", staff=staff, store=store, txid=tx.txid,
              payload={"before": before, "after": after})
        return FamilyResult(tx.txid, m.id, after, [f.name for f in family_members(m.id)])

    return run_operation(txid=txid, kind="family", request=request, staff=staff, store=store, member=m,
                         body=body, result_type=FamilyResult)
