"""Cards: issue one of a card type (paid with a money tender), report it lost, replace it, list a member's cards
and the card types on sale.

A card number or chip id belongs to one card; a lost card keeps its history and its replacement carries the value on.

Every operation here is idempotent by txid (see :mod:`mms_tui.services.ledger.operations`); those that move value post
balanced ledger entries in the same database transaction.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import peewee

from mms_tui.i18n import _
from mms_tui.models import Card, CardType, Member, Staff, Store
from mms_tui.services.base import resolve
from mms_tui.services.base.config import require_within_limit
from mms_tui.services.base.errors import AmbiguousCard, CardLost, DomainError, DuplicateCardNo, InvalidInput
from mms_tui.services.base.resolve import resolve_card, resolve_member, resolve_store, today
from mms_tui.services.base.text import normalise_card_no
from mms_tui.services.catalogue.card_types import sold_at
from mms_tui.services.ledger.operations import (
    CARD_ACCOUNTS,
    Posting,
    audit,
    card_posting,
    post,
    run_operation,
)
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.money import commissions


@dataclass(frozen=True)
class CardResult:
    txid: str
    card_id: int
    card_no: str
    member_id: int
    kind: str
    status: str
    principal_fen: int
    bonus_fen: int
    points: int
    visits_left: int
    valid_until: str | None
    price_fen: int = 0


def card_result(txid: str, card: Card, price_fen: int = 0) -> CardResult:
    card = Card.get_by_id(card.id)
    return CardResult(
        txid=txid,
        card_id=card.id,
        card_no=card.card_no,
        member_id=card.member_id,
        kind=card.card_type.kind,
        status=card.status,
        principal_fen=card.principal_fen,
        bonus_fen=card.bonus_fen,
        points=card.points,
        visits_left=card.visits_left,
        valid_until=card.valid_until.isoformat() if card.valid_until else None,
        price_fen=price_fen,
    )


# --- cards ---------------------------------------------------------------------------------------------------


def _clean_card_key(value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    key = normalise_card_no(value)
    if not key or len(key) > 64:
        raise InvalidInput(_("{what} must be 1 to 64 characters.").format(what=what))
    return key


def _clean_uid(value: str | None, as_read: bool = False) -> str | None:
    """A reader UID as typed, in its canonical form (devices/protocols.py) when it has one; ``as_read``: as a serial
    reader decoded it (Read.is_uid), canonical already — its form is not guessed again."""
    from mms_tui.devices.protocols import canonical_uid

    key = _clean_card_key(value, _("Reader UID"))
    if not key:
        return None
    return key.upper() if as_read else (canonical_uid(key, resolve.UID_BYTE_ORDER) or key)


def _ensure_card_key_free(*keys: str | None, uid: str | None = None) -> None:
    for key in keys:
        if key is None:
            continue
        clash = Card.get_or_none((Card.card_no == key) | (Card.reader_uid == key) | (Card.barcode == key))
        if clash is not None:
            raise DuplicateCardNo(_("Card number {card} is already in use.").format(card=key))
    if uid is not None:  # another card whose UID could be this tag's (a shorter or longer form of it)
        try:
            clash_uid = resolve.card_key(uid, as_read=True)  # (canonical already: _clean_uid)
        except AmbiguousCard:
            clash_uid = (0, 0, "")
        if clash_uid is not None:
            raise DuplicateCardNo(_("Reader UID {uid} is already in use (card {card}).").format(
                uid=uid, card=clash_uid[2] or "…"))


def generate_card_no() -> str:
    """A fresh 12-digit number for a virtual card (no physical card presented)."""
    rng = random.SystemRandom()
    while True:
        number = "8" + "".join(rng.choice("0123456789") for _ in range(11))
        if Card.get_or_none(Card.card_no == number) is None:
            return number


def resolve_card_type(card_type: CardType | str | int) -> CardType:
    if isinstance(card_type, CardType):
        return card_type
    found = (
        CardType.get_or_none(CardType.id == card_type)
        if isinstance(card_type, int)
        else CardType.get_or_none((CardType.code == card_type) | (CardType.name == card_type))
    )
    if found is None or not found.active:
        raise InvalidInput(_("Unknown card type {type!r}.").format(type=card_type))
    return found


def _money_tender(tender: str) -> str:
    if tender not in MONEY_TENDERS:
        raise InvalidInput(
            _("Tender must be one of {tenders}, not {value!r}.").format(tenders=", ".join(MONEY_TENDERS), value=tender)
        )
    return tender


def issue_card(
    member: Member | int | str,
    card_type: CardType | str | int,
    staff: Staff,
    txid: str,
    *,
    card_no: str | None = None,
    reader_uid: str | None = None,
    barcode: str | None = None,
    tender: str = "cash",
    price_fen: int | None = None,
    store: Store | str | None = None,
    on: dt.date | None = None,
    salesperson: str | None = None,
    uid_as_read: bool = False,
) -> CardResult:
    """Give a member a card of a type, taking its price with a money tender; packages get their visits.
    ``salesperson``: the staff code credited with the card's commission (services/money/commissions.py).
    ``uid_as_read``: ``reader_uid`` came from a serial reader's decoded read (Read.is_uid), kept as it is."""
    member = resolve_member(member)
    ctype = resolve_card_type(card_type)
    store_obj = resolve_store(store, staff)
    if not sold_at(ctype, store_obj):
        raise InvalidInput(_("Card type {type} is not sold at {store}.").format(type=ctype.code, store=store_obj.code))
    card_no_clean = _clean_card_key(card_no, _("Card number"))
    reader_uid = _clean_uid(reader_uid, uid_as_read)
    barcode = _clean_card_key(barcode, _("Barcode"))
    price = ctype.price_fen if price_fen is None else price_fen
    if not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise InvalidInput(_("A card price cannot be negative."))
    require_within_limit(price, _("A card price"))
    tender = _money_tender(tender)
    start = on or today()
    request = {"member": member.id, "type": ctype.code, "card_no": card_no_clean, "uid": reader_uid,
               "barcode": barcode, "tender": tender, "price": price, "on": start}
    seller = commissions.check_salesperson(salesperson)
    if seller is not None:
        request["salesperson"] = seller.code

    def body(tx) -> CardResult:
        number = card_no_clean or generate_card_no()
        _ensure_card_key_free(number, reader_uid, barcode, uid=reader_uid)
        days = ctype.period_days if ctype.kind == "period" else ctype.validity_days
        valid_until = start + dt.timedelta(days=days - 1) if days else None
        valid_from = start if ctype.kind == "period" else None
        if ctype.kind == "period" and ctype.start_on_first_use:
            valid_from = valid_until = None  # the first check-in starts it
        card = Card.create(
            card_no=number, reader_uid=reader_uid, uid_tail=resolve.uid_tail(reader_uid), barcode=barcode,
            member=member, card_type=ctype,
            valid_from=valid_from, valid_until=valid_until, store=store_obj,
        )
        postings = [Posting(f"tender.{tender}", "fen", -price), Posting("revenue.cards", "fen", price)]
        if ctype.kind == "visits" and ctype.visits > 0:
            postings += [card_posting(card.id, "card.visits", ctype.visits), Posting("visits.issued", "visit", -ctype.visits)]
        post(tx, postings)
        if seller is not None:
            commissions.record(tx, store_obj.id, load_rules().commissions, [(commissions.LineFacts(
                "card", ctype.code, "", True, 1, price), None, [seller])])
        audit("card.issue", f"card:{card.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"member": member.id, "type": ctype.code, "price_fen": price, "tender": tender})
        return card_result(tx.txid, card, price)

    return run_operation(txid=txid, kind="issue", request=request, staff=staff, store=store_obj, member=member,
                         body=body, result_type=CardResult)


def report_lost(card: Card | int | str, staff: Staff, txid: str) -> CardResult:
    """挂失: block the card at once; its value stays on it until it is replaced."""
    card = resolve_card(card)
    store = resolve_store(None, staff)

    def body(tx) -> CardResult:
        current = Card.get_by_id(card.id)
        if current.status == "lost":
            raise CardLost(_("Card {card} is already reported lost.").format(card=current.card_no))
        if current.status == "cancelled":
            raise DomainError(_("Card {card} was cancelled.").format(card=current.card_no))
        Card.update(status="lost").where(Card.id == card.id).execute()
        audit("card.lost", f"card:{card.id}", staff=staff, store=store, txid=tx.txid,
              payload={"previous_status": current.status})
        return card_result(tx.txid, current)

    return run_operation(txid=txid, kind="lost", request={"card": card.id}, staff=staff, store=store,
                         member=card.member_id, body=body, result_type=CardResult)


def replace_card(
    card: Card | int | str,
    new_card_no: str | None,
    staff: Staff,
    txid: str,
    *,
    reader_uid: str | None = None,
    barcode: str | None = None,
    uid_as_read: bool = False,
) -> CardResult:
    """补卡: the old card is blocked as lost and everything on it moves to a new card, in one transaction.
    ``uid_as_read``: as for :func:`issue_card`."""
    old = resolve_card(card)
    store = resolve_store(None, staff)
    number = _clean_card_key(new_card_no, _("Card number"))
    reader_uid = _clean_uid(reader_uid, uid_as_read)
    barcode = _clean_card_key(barcode, _("Barcode"))
    request = {"card": old.id, "new": number, "uid": reader_uid, "barcode": barcode}

    def body(tx) -> CardResult:
        current = Card.get_by_id(old.id)
        if current.status in ("cancelled",) or current.replaced_by_id is not None:
            raise DomainError(_("Card {card} was already replaced or cancelled.").format(card=current.card_no))
        new_no = number or generate_card_no()
        _ensure_card_key_free(new_no, reader_uid, barcode, uid=reader_uid)
        new = Card.create(
            card_no=new_no, reader_uid=reader_uid, uid_tail=resolve.uid_tail(reader_uid), barcode=barcode,
            member=current.member_id,
            card_type=current.card_type_id, status="frozen" if current.status == "frozen" else "active",
            valid_from=current.valid_from, valid_until=current.valid_until, frozen_since=current.frozen_since,
            frozen_days_total=current.frozen_days_total, freeze_year=current.freeze_year,
            freeze_days_year=current.freeze_days_year, store=store,
        )
        postings = []
        for account, (column, _unit) in CARD_ACCOUNTS.items():
            value = getattr(current, column)
            postings += [card_posting(current.id, account, -value), card_posting(new.id, account, value)]
        post(tx, postings)
        Card.update(status="lost", replaced_by=new.id).where(Card.id == current.id).execute()
        audit("card.replace", f"card:{current.id}", staff=staff, store=store, txid=tx.txid,
              payload={"new_card": new.id, "new_card_no": new_no})
        return card_result(tx.txid, new)

    return run_operation(txid=txid, kind="replace", request=request, staff=staff, store=store,
                         member=old.member_id, body=body, result_type=CardResult)


def member_cards(member: Member | int) -> list[Card]:
    member_id = member.id if isinstance(member, Member) else member
    return list(
        Card.select(Card, CardType)
        .join(CardType)
        .where(Card.member == member_id)
        .order_by(peewee.Case(None, [(Card.status == "active", 0)], 1), Card.id)
    )


@dataclass(frozen=True)
class CardTypeInfo:
    code: str
    name: str
    kind: str
    price_fen: int


def card_types() -> list[CardTypeInfo]:
    """The card types the desk may issue, in a stable order."""
    return [CardTypeInfo(t.code, t.name, t.kind, t.price_fen)
            for t in CardType.select().where(CardType.active == True).order_by(CardType.id)]  # noqa: E712
