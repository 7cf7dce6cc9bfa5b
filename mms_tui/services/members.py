"""Members and their cards: register, edit, issue a card, report lost, replace, freeze and unfreeze.

Every operation here is idempotent by txid (see :mod:`mms_tui.services.ledger`); those that move value post
balanced ledger entries in the same database transaction.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import peewee

from mms_tui.i18n import _
from mms_tui.models import Card, CardType, Member, Staff, Store, Tier
from mms_tui.services.common import ensure_usable, resolve_card, resolve_member, resolve_store, today
from mms_tui.services.errors import (
    CardLost,
    DomainError,
    DuplicateCardNo,
    DuplicatePhone,
    InvalidInput,
    NotFound,
    WrongCardKind,
)
from mms_tui.services.ledger import (
    CARD_ACCOUNTS,
    MONEY_TENDERS,
    Posting,
    audit,
    card_posting,
    post,
    run_operation,
)
from mms_tui.services.text import normalise_card_no, normalise_phone, normalise_query, parse_date, pinyin_keys

_GENDERS = {"": "", "f": "F", "female": "F", "女": "F", "m": "M", "male": "M", "男": "M"}


@dataclass(frozen=True)
class MemberResult:
    txid: str
    member_id: int
    name: str
    phone: str
    tier_code: str


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


# --- members -------------------------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    name = normalise_query(name)
    if not name:
        raise InvalidInput(_("A member needs a name."))
    if len(name) > 50:
        raise InvalidInput(_("A name is at most 50 characters."))
    return name


def clean_gender(gender: str | None) -> str:
    key = (gender or "").strip().lower()
    if key not in _GENDERS:
        raise InvalidInput(_("Gender must be F, M or empty, not {value!r}.").format(value=gender))
    return _GENDERS[key]


def clean_birthday(birthday: dt.date | str | None) -> dt.date | None:
    if birthday in (None, ""):
        return None
    if isinstance(birthday, str):
        try:
            birthday = parse_date(birthday)
        except InvalidInput:
            raise InvalidInput(_("Birthday must be a date like 1990-05-17, not {value!r}.").format(value=birthday)) from None
    if not isinstance(birthday, dt.date) or birthday > today() or birthday.year < 1900:
        raise InvalidInput(_("Birthday {value} is not a plausible date of birth.").format(value=birthday))
    return birthday


def default_tier() -> Tier:
    tier = Tier.select().order_by(Tier.rank, Tier.id).first()
    if tier is None:
        raise NotFound(_("No member tiers are set up; run 'mms init' first."))
    return tier


def _resolve_tier(tier: Tier | str | None) -> Tier:
    if tier is None or tier == "":
        return default_tier()
    if isinstance(tier, Tier):
        return tier
    found = Tier.get_or_none((Tier.code == tier) | (Tier.name == tier))
    if found is None:
        raise InvalidInput(_("Unknown tier {tier!r}.").format(tier=tier))
    return found


def register_member(
    name: str,
    phone: str,
    staff: Staff,
    txid: str,
    *,
    gender: str | None = "",
    birthday: dt.date | str | None = None,
    tier: Tier | str | None = None,
    notes: str = "",
    store: Store | str | None = None,
) -> MemberResult:
    """A new member; the phone is the natural key at the desk and must be unique."""
    name = clean_name(name)
    phone = normalise_phone(phone)
    gender = clean_gender(gender)
    birthday = clean_birthday(birthday)
    tier_obj = _resolve_tier(tier)
    store_obj = resolve_store(store, staff)
    request = {"name": name, "phone": phone, "gender": gender, "birthday": birthday, "tier": tier_obj.code,
               "notes": notes}

    def body(tx) -> MemberResult:
        if Member.get_or_none(Member.phone == phone) is not None:
            raise DuplicatePhone(_("Phone {phone} already belongs to a member.").format(phone=phone))
        full, initials = pinyin_keys(name)
        member = Member.create(
            name=name, phone=phone, phone_last4=phone[-4:], name_pinyin=full, name_initials=initials,
            gender=gender, birthday=birthday, tier=tier_obj, notes=notes, home_store=store_obj,
        )
        type(tx).update(member=member).where(type(tx).id == tx.id).execute()
        audit("member.register", f"member:{member.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"name": name, "phone": phone})
        return MemberResult(tx.txid, member.id, name, phone, tier_obj.code)

    return run_operation(txid=txid, kind="register", request=request, staff=staff, store=store_obj, member=None,
                         body=body, result_type=MemberResult)


def update_member(member: Member | int | str, staff: Staff, txid: str, **changes: object) -> MemberResult:
    """Edit name, phone, gender, birthday, tier or notes; the old values go into the audit trail."""
    member = resolve_member(member)
    allowed = {"name", "phone", "gender", "birthday", "tier", "notes"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(_("Cannot change {fields}.").format(fields=", ".join(sorted(unknown))))
    clean: dict[str, object] = {}
    if "name" in changes:
        clean["name"] = clean_name(str(changes["name"]))
    if "phone" in changes:
        clean["phone"] = normalise_phone(str(changes["phone"]))
    if "gender" in changes:
        clean["gender"] = clean_gender(changes["gender"])  # type: ignore[arg-type]
    if "birthday" in changes:
        clean["birthday"] = clean_birthday(changes["birthday"])  # type: ignore[arg-type]
    if "tier" in changes:
        clean["tier"] = _resolve_tier(changes["tier"]).code  # type: ignore[arg-type]
    if "notes" in changes:
        clean["notes"] = str(changes["notes"])
    store = resolve_store(None, staff)

    def body(tx) -> MemberResult:
        current = Member.get_by_id(member.id)
        if "phone" in clean and clean["phone"] != current.phone and Member.get_or_none(
            Member.phone == clean["phone"]
        ):
            raise DuplicatePhone(_("Phone {phone} already belongs to a member.").format(phone=clean["phone"]))
        before = {k: str(getattr(current, k if k != "tier" else "tier_id")) for k in clean}
        update: dict = {}
        for key, value in clean.items():
            if key == "tier":
                update[Member.tier] = Tier.get(Tier.code == value)
            else:
                update[getattr(Member, key)] = value
        if "name" in clean:
            full, initials = pinyin_keys(str(clean["name"]))
            update[Member.name_pinyin] = full
            update[Member.name_initials] = initials
        if "phone" in clean:
            update[Member.phone_last4] = str(clean["phone"])[-4:]
        if update:
            Member.update(update).where(Member.id == member.id).execute()
        audit("member.update", f"member:{member.id}", staff=staff, store=store, txid=tx.txid,
              payload={"before": before, "after": clean})
        after = Member.get_by_id(member.id)
        return MemberResult(tx.txid, after.id, after.name, after.phone, after.tier.code)

    return run_operation(txid=txid, kind="member.update", request={"member": member.id, **clean}, staff=staff,
                         store=store, member=member, body=body, result_type=MemberResult)


# --- cards ---------------------------------------------------------------------------------------------------


def _clean_card_key(value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    key = normalise_card_no(value)
    if not key or len(key) > 64:
        raise InvalidInput(_("{what} must be 1 to 64 characters.").format(what=what))
    return key


def _ensure_card_key_free(*keys: str | None) -> None:
    for key in keys:
        if key is None:
            continue
        clash = Card.get_or_none((Card.card_no == key) | (Card.reader_uid == key) | (Card.barcode == key))
        if clash is not None:
            raise DuplicateCardNo(_("Card number {card} is already in use.").format(card=key))


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
) -> CardResult:
    """Give a member a card of a type, taking its price with a money tender; packages get their visits."""
    member = resolve_member(member)
    ctype = resolve_card_type(card_type)
    store_obj = resolve_store(store, staff)
    card_no_clean = _clean_card_key(card_no, _("Card number"))
    reader_uid = _clean_card_key(reader_uid, _("Reader UID"))
    barcode = _clean_card_key(barcode, _("Barcode"))
    price = ctype.price_fen if price_fen is None else price_fen
    if not isinstance(price, int) or price < 0:
        raise InvalidInput(_("A card price cannot be negative."))
    tender = _money_tender(tender)
    start = on or today()
    request = {"member": member.id, "type": ctype.code, "card_no": card_no_clean, "uid": reader_uid,
               "barcode": barcode, "tender": tender, "price": price, "on": start}

    def body(tx) -> CardResult:
        number = card_no_clean or generate_card_no()
        _ensure_card_key_free(number, reader_uid, barcode)
        days = ctype.period_days if ctype.kind == "period" else ctype.validity_days
        valid_until = start + dt.timedelta(days=days - 1) if days else None
        card = Card.create(
            card_no=number, reader_uid=reader_uid, barcode=barcode, member=member, card_type=ctype,
            valid_from=start if ctype.kind == "period" else None, valid_until=valid_until, store=store_obj,
        )
        postings = [Posting(f"tender.{tender}", "fen", -price), Posting("revenue.cards", "fen", price)]
        if ctype.kind == "visits" and ctype.visits > 0:
            postings += [card_posting(card.id, "card.visits", ctype.visits), Posting("visits.issued", "visit", -ctype.visits)]
        post(tx, postings)
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
) -> CardResult:
    """补卡: the old card is blocked as lost and everything on it moves to a new card, in one transaction."""
    old = resolve_card(card)
    store = resolve_store(None, staff)
    number = _clean_card_key(new_card_no, _("Card number"))
    reader_uid = _clean_card_key(reader_uid, _("Reader UID"))
    barcode = _clean_card_key(barcode, _("Barcode"))
    request = {"card": old.id, "new": number, "uid": reader_uid, "barcode": barcode}

    def body(tx) -> CardResult:
        current = Card.get_by_id(old.id)
        if current.status in ("cancelled",) or current.replaced_by_id is not None:
            raise DomainError(_("Card {card} was already replaced or cancelled.").format(card=current.card_no))
        new_no = number or generate_card_no()
        _ensure_card_key_free(new_no, reader_uid, barcode)
        new = Card.create(
            card_no=new_no, reader_uid=reader_uid, barcode=barcode, member=current.member_id,
            card_type=current.card_type_id, status="frozen" if current.status == "frozen" else "active",
            valid_from=current.valid_from, valid_until=current.valid_until, frozen_since=current.frozen_since,
            frozen_days_total=current.frozen_days_total, store=store,
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


def freeze_card(card: Card | int | str, staff: Staff, txid: str, *, on: dt.date | None = None) -> CardResult:
    """冻结: pause a pass or package; while frozen it cannot be used, and its end date waits."""
    card = resolve_card(card)
    store = resolve_store(None, staff)
    day = on or today()

    def body(tx) -> CardResult:
        current = Card.get_by_id(card.id)
        if current.card_type.kind not in ("period", "visits"):
            raise WrongCardKind(_("Only passes and visit packages can be frozen."))
        ensure_usable(current, day)
        Card.update(status="frozen", frozen_since=day).where(Card.id == card.id).execute()
        audit("card.freeze", f"card:{card.id}", staff=staff, store=store, txid=tx.txid, payload={"on": day})
        return card_result(tx.txid, current)

    return run_operation(txid=txid, kind="freeze", request={"card": card.id, "on": day}, staff=staff, store=store,
                         member=card.member_id, body=body, result_type=CardResult)


def unfreeze_card(card: Card | int | str, staff: Staff, txid: str, *, on: dt.date | None = None) -> CardResult:
    """解冻: the end date moves on by the days the card was frozen."""
    card = resolve_card(card)
    store = resolve_store(None, staff)
    day = on or today()

    def body(tx) -> CardResult:
        current = Card.get_by_id(card.id)
        if current.status != "frozen":
            raise InvalidInput(_("Card {card} is not frozen.").format(card=current.card_no))
        since = current.frozen_since or day
        days = max((day - since).days, 0)
        update: dict = {Card.status: "active", Card.frozen_since: None,
                        Card.frozen_days_total: Card.frozen_days_total + days}
        if current.valid_until is not None:
            update[Card.valid_until] = current.valid_until + dt.timedelta(days=days)
        Card.update(update).where(Card.id == card.id).execute()
        audit("card.unfreeze", f"card:{card.id}", staff=staff, store=store, txid=tx.txid,
              payload={"on": day, "frozen_days": days})
        return card_result(tx.txid, current)

    return run_operation(txid=txid, kind="unfreeze", request={"card": card.id, "on": day}, staff=staff,
                         store=store, member=card.member_id, body=body, result_type=CardResult)


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


@dataclass(frozen=True)
class MemberDetails:
    member_id: int
    name: str
    phone: str
    gender: str
    birthday: str
    notes: str


def member_details(member: Member | int | str) -> MemberDetails:
    """The editable fields of a member, for the edit form."""
    m = resolve_member(member)
    return MemberDetails(m.id, m.name, m.phone, m.gender, m.birthday.isoformat() if m.birthday else "", m.notes)
