"""Members and their cards: register, edit, issue a card, report lost, replace, freeze and unfreeze; renew a
pass, move visits within a family, and the birthday gift.

Every operation here is idempotent by txid (see :mod:`mms_tui.services.ledger.operations`); those that move value post
balanced ledger entries in the same database transaction.

Rules the desk explains (issue #6):

* **Period passes** (月卡/季卡/年卡) run ``period_days`` from the day they are bought, or, when the card type says
  ``start_on_first_use``, from the day of their first check-in: that check-in sets ``valid_from``/``valid_until``
  in its own transaction. Until then the pass has no dates; it cannot be frozen or renewed before it starts.
* **Freeze** (冻结) pauses a pass or package; unfreezing moves its end date on by the days it was frozen. A card
  type's ``max_freeze_days`` limits the days frozen per calendar year (each frozen day counts in its own year):
  a freeze is refused when none are left this year, and a freeze that uses up what is left **ends by itself** on
  the day the limit is reached — the card can be used again from that day and its end date moves on by the days
  counted, no more (the next check-in, freeze or unfreeze records it). ``max_freeze_days = 0``: never frozen.
* **Renewal** (续卡) is paid like a card issue (the card type's price, a money tender). A pass that has not ended
  yet, or is frozen, continues from its old end date; one that has ended starts again on the day of renewal.
* **Transfer** (转让): visits of a package whose card type is ``transferable`` move to another member of the same
  family, onto their active card of the same type, or onto a new card of that type issued to them in the same
  transaction (no charge; it ends when the giving card ends). The visits then end when the receiving card ends.
* **Family** (家庭): a family is named by its first member (``Member.family`` points at them, themselves included).
  When that member leaves, the next oldest names it; a family left with one member is dissolved.
* **Birthday benefit**: in the member's birthday window (loyalty rules: day, week or month) one key gives it, at
  most once per member and window: the rules' gift from the points catalogue is a ledger transaction of kind
  ``birthday`` with no money and no points; an item a free-item birthday promotion gives without a spend is a sale
  of it at no charge through the checkout with the birthday coupon (``BDAY-<member>-<window start>``), which that
  sale uses up; a birthday promotion that takes money off a bill (a discount, 满减) puts that coupon on the member's
  account, and the checkout applies it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from dataclasses import dataclass

import peewee

from mms_tui.db import is_sqlite
from mms_tui.i18n import _
from mms_tui.models import (
    Card,
    CardType,
    Coupon,
    Member,
    Product,
    ServiceItem,
    Staff,
    Store,
    Tier,
    Transaction,
)
from mms_tui.services.base.config import require_within_limit
from mms_tui.services.base.errors import (
    CardCancelled,
    CardLost,
    DomainError,
    DuplicateCardNo,
    DuplicatePhone,
    InvalidInput,
    NotFound,
    UnknownMember,
    WrongCardKind,
)
from mms_tui.services.base.resolve import (
    ensure_usable,
    find_card,
    resolve_card,
    resolve_member,
    resolve_store,
    today,
)
from mms_tui.services.base.text import (
    format_money,
    mask_phone,
    normalise_card_no,
    normalise_phone,
    normalise_query,
    parse_date,
    pinyin_keys,
)
from mms_tui.services.ledger.operations import (
    CARD_ACCOUNTS,
    Posting,
    audit,
    card_posting,
    post,
    record_audit,
    run_operation,
)
from mms_tui.services.ledger.tenders import MONEY_TENDERS
from mms_tui.services.loyalty.pricing import MemberFacts, birthday_benefit, birthday_window, promotion_label
from mms_tui.services.loyalty.rules import Rules, load_rules

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
        from mms_tui.services.loyalty.coupons import issue_for_new_member  # coupons builds on members

        issue_for_new_member(member, staff, store=store_obj)  # the rules' WELCOME coupon, if they have one
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
    if not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise InvalidInput(_("A card price cannot be negative."))
    require_within_limit(price, _("A card price"))
    tender = _money_tender(tender)
    start = on or today()
    request = {"member": member.id, "type": ctype.code, "card_no": card_no_clean, "uid": reader_uid,
               "barcode": barcode, "tender": tender, "price": price, "on": start}

    def body(tx) -> CardResult:
        number = card_no_clean or generate_card_no()
        _ensure_card_key_free(number, reader_uid, barcode)
        days = ctype.period_days if ctype.kind == "period" else ctype.validity_days
        valid_until = start + dt.timedelta(days=days - 1) if days else None
        valid_from = start if ctype.kind == "period" else None
        if ctype.kind == "period" and ctype.start_on_first_use:
            valid_from = valid_until = None  # the first check-in starts it
        card = Card.create(
            card_no=number, reader_uid=reader_uid, barcode=barcode, member=member, card_type=ctype,
            valid_from=valid_from, valid_until=valid_until, store=store_obj,
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


@dataclass(frozen=True)
class FreezeResult(CardResult):
    #: unfreeze: the days the freeze counted (what the end date moved on by)
    frozen_days: int = 0
    #: freeze: days of the yearly limit left when it began; None: the card type has no limit
    days_left: int | None = None
    #: freeze: the day it ends by itself when the limit runs out; None: only an unfreeze ends it
    ends_on: str | None = None


def freeze_span(since: dt.date, until: dt.date, limit: int | None, year: int | None, used: int
                ) -> tuple[dt.date, int | None, int]:
    """Walk a freeze's days from ``since`` (the first day frozen) up to ``until`` (the first day usable again)
    under a limit of ``limit`` days per calendar year, ``used`` of them already gone in ``year``. Each frozen day
    counts in its own year. Returns (end, year, used): ``end`` is ``until``, or the earlier day on which the
    limit ran out and the freeze ended by itself; the days counted are ``(end - since).days``."""
    day = since
    while day < until:
        if day.year != year:
            year, used = day.year, 0
        if limit is not None and used >= limit:
            break
        used += 1
        day += dt.timedelta(days=1)
    return day, year, used


def freeze_ends_on(card: Card) -> dt.date | None:
    """The day a frozen card's freeze ends by itself under its type's yearly limit (None: not frozen, or no
    limit). Read-only: the desk shows it, and a card past it is usable again."""
    limit = card.card_type.max_freeze_days
    if card.status != "frozen" or card.frozen_since is None or limit is None:
        return None
    horizon = card.frozen_since + dt.timedelta(days=2 * 366 + 1)
    end, _year, _used = freeze_span(card.frozen_since, horizon, limit, card.freeze_year, card.freeze_days_year)
    return end if end < horizon else None


def _end_freeze(card: Card, until: dt.date, *, staff: Staff, store: Store, txid: str, automatic: bool) -> int:
    """Unfreeze ``card`` as of ``until`` (or of the day its limit ended the freeze, if earlier): active again, the
    end date moved on by the days counted, the year's freeze days recorded. Inside the caller's transaction."""
    since = card.frozen_since or until
    end, year, used = freeze_span(since, until, card.card_type.max_freeze_days, card.freeze_year,
                                  card.freeze_days_year)
    days = (end - since).days
    update: dict = {Card.status: "active", Card.frozen_since: None, Card.frozen_days_total: Card.frozen_days_total + days,
                    Card.freeze_year: year, Card.freeze_days_year: used}
    if card.valid_until is not None:
        update[Card.valid_until] = card.valid_until + dt.timedelta(days=days)
    Card.update(update).where(Card.id == card.id).execute()
    audit("card.unfreeze", f"card:{card.id}", staff=staff, store=store, txid=txid,
          payload={"on": end, "frozen_days": days, "automatic": automatic})
    return days


def settle_freeze(card: Card, day: dt.date, *, staff: Staff, store: Store, txid: str) -> Card:
    """A freeze that reached its yearly limit by ``day`` ended by itself: record that now (inside the caller's
    write transaction) and return the card as it is afterwards; any other card comes back unchanged."""
    ends = freeze_ends_on(card)
    if ends is None or ends > day:
        return card
    _end_freeze(card, ends, staff=staff, store=store, txid=txid, automatic=True)
    return Card.get_by_id(card.id)


def _not_started(card: Card) -> bool:
    """A pass that starts on first use and has not been used yet."""
    ctype = card.card_type
    return ctype.kind == "period" and ctype.start_on_first_use and card.valid_from is None and card.valid_until is None


def freeze_card(card: Card | int | str, staff: Staff, txid: str, *, on: dt.date | None = None) -> FreezeResult:
    """冻结: pause a pass or package; while frozen it cannot be used, and its end date waits. Refused when the card
    type's yearly freeze days are used up; otherwise it ends by itself when they run out (see the module)."""
    card = resolve_card(card)
    store = resolve_store(None, staff)
    day = on or today()

    def body(tx) -> FreezeResult:
        current = settle_freeze(Card.get_by_id(card.id), day, staff=staff, store=store, txid=tx.txid)
        ctype = current.card_type
        if ctype.kind not in ("period", "visits"):
            raise WrongCardKind(_("Only passes and visit packages can be frozen."))
        ensure_usable(current, day)
        if _not_started(current):
            raise InvalidInput(_("Pass {card} has not started yet (it starts at its first check-in); there is "
                                 "nothing to freeze.").format(card=current.card_no))
        limit = ctype.max_freeze_days
        days_left = None
        if limit is not None:
            used = current.freeze_days_year if current.freeze_year == day.year else 0
            days_left = max(limit - used, 0)
            if limit == 0:
                raise InvalidInput(_("Cards of type {type} cannot be frozen.").format(type=ctype.name))
            if days_left == 0:
                raise InvalidInput(
                    _("Card {card} has used all {limit} freeze days of {year}; 0 days left. It can be frozen "
                      "again from {date}.").format(card=current.card_no, limit=limit, year=day.year,
                                                   date=dt.date(day.year + 1, 1, 1).isoformat()))
        Card.update(status="frozen", frozen_since=day).where(Card.id == card.id).execute()
        ends = freeze_ends_on(Card.get_by_id(card.id))
        audit("card.freeze", f"card:{card.id}", staff=staff, store=store, txid=tx.txid,
              payload={"on": day, "days_left": days_left, "ends_on": ends})
        return FreezeResult(**dataclasses.asdict(card_result(tx.txid, current)), days_left=days_left,
                            ends_on=ends.isoformat() if ends else None)

    return run_operation(txid=txid, kind="freeze", request={"card": card.id, "on": day}, staff=staff, store=store,
                         member=card.member_id, body=body, result_type=FreezeResult)


def unfreeze_card(card: Card | int | str, staff: Staff, txid: str, *, on: dt.date | None = None) -> FreezeResult:
    """解冻: the end date moves on by the days the card was frozen (no more than its yearly limit allowed)."""
    card = resolve_card(card)
    store = resolve_store(None, staff)
    day = on or today()

    def body(tx) -> FreezeResult:
        current = Card.get_by_id(card.id)
        if current.status != "frozen":
            raise InvalidInput(_("Card {card} is not frozen.").format(card=current.card_no))
        days = _end_freeze(current, day, staff=staff, store=store, txid=tx.txid, automatic=False)
        return FreezeResult(**dataclasses.asdict(card_result(tx.txid, current)), frozen_days=days)

    return run_operation(txid=txid, kind="unfreeze", request={"card": card.id, "on": day}, staff=staff,
                         store=store, member=card.member_id, body=body, result_type=FreezeResult)


# --- passes and packages: renewal, transfer within a family ---------------------------------------------------


def _renewed_dates(card: Card, day: dt.date) -> tuple[dt.date | None, dt.date]:
    """(valid_from, valid_until) of a pass renewed on ``day``; refuses what cannot be renewed, saying why."""
    ctype = card.card_type
    if ctype.kind != "period":
        raise WrongCardKind(_("Card {card} ({type}) is not a pass; only passes are renewed.").format(
            card=card.card_no, type=ctype.name))
    if card.status == "lost" or card.replaced_by_id is not None:
        raise CardLost(_("Card {card} is reported lost and blocked.").format(card=card.card_no))
    if card.status == "cancelled":
        raise CardCancelled(_("Card {card} was cancelled.").format(card=card.card_no))
    if _not_started(card):
        raise InvalidInput(_("Pass {card} has not started yet (it starts at its first check-in); renew it once "
                             "it runs.").format(card=card.card_no))
    if card.valid_until is None or not ctype.period_days:
        raise InvalidInput(_("Pass {card} has no end date to renew from.").format(card=card.card_no))
    period = dt.timedelta(days=ctype.period_days)
    if card.status == "frozen" or card.valid_until >= day:
        return card.valid_from, card.valid_until + period
    return day, day + period - dt.timedelta(days=1)


@dataclass(frozen=True)
class RenewalQuote:
    """What renewing a pass costs and gives, before anything is paid (the renewal dialog shows it)."""

    card_no: str
    type_name: str
    price_fen: int
    valid_until: str  # now (as the desk sees it: a freeze that ran out its days has ended)
    renewed_until: str


def renewal_quote(card: Card | int | str, *, on: dt.date | None = None) -> RenewalQuote:
    day = on or today()
    current = resolve_card(card)
    ends = freeze_ends_on(current)
    if ends is not None and ends <= day and current.frozen_since is not None:  # as settle_freeze will leave it
        current.status = "active"
        if current.valid_until is not None:
            current.valid_until += dt.timedelta(days=(ends - current.frozen_since).days)
    _from, until = _renewed_dates(current, day)
    return RenewalQuote(current.card_no, current.card_type.name, current.card_type.price_fen,
                        current.valid_until.isoformat() if current.valid_until else "", until.isoformat())


def renew_pass(
    card: Card | int | str,
    staff: Staff,
    txid: str,
    *,
    tender: str = "cash",
    price_fen: int | None = None,
    store: Store | str | None = None,
    on: dt.date | None = None,
) -> CardResult:
    """续卡: another period of a pass, paid like a card issue. Continues from the old end date while the pass has
    not ended (or is frozen: its end date is still to move); starts on ``on`` (today) once it has ended."""
    card = resolve_card(card)
    store_obj = resolve_store(store, staff)
    tender = _money_tender(tender)
    day = on or today()
    if price_fen is not None and (not isinstance(price_fen, int) or isinstance(price_fen, bool) or price_fen < 0):
        raise InvalidInput(_("A card price cannot be negative."))
    if price_fen is not None:
        require_within_limit(price_fen, _("A renewal price"))
    request = {"card": card.id, "tender": tender, "price": price_fen, "on": day}

    def body(tx) -> CardResult:
        current = settle_freeze(Card.get_by_id(card.id), day, staff=staff, store=store_obj, txid=tx.txid)
        ctype = current.card_type
        valid_from, valid_until = _renewed_dates(current, day)
        price = ctype.price_fen if price_fen is None else price_fen
        Card.update(valid_from=valid_from, valid_until=valid_until,
                    status="active" if current.status == "expired" else current.status).where(
            Card.id == current.id).execute()
        post(tx, [Posting(f"tender.{tender}", "fen", -price), Posting("revenue.cards", "fen", price)])
        audit("card.renew", f"card:{current.id}", staff=staff, store=store_obj, txid=tx.txid,
              payload={"from_until": current.valid_until, "valid_from": valid_from, "valid_until": valid_until,
                       "price_fen": price, "tender": tender})
        return card_result(tx.txid, current, price)

    return run_operation(txid=txid, kind="renew", request=request, staff=staff, store=store_obj,
                         member=card.member_id, body=body, result_type=CardResult)


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
        ensure_usable(current, day)
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


def find_member(key: Member | int | str) -> Member:
    """A member by id, full phone number, or one of their card numbers (what staff type or swipe)."""
    if isinstance(key, Member | int):
        return resolve_member(key)
    text = normalise_query(key)
    try:
        found = Member.get_or_none(Member.phone == normalise_phone(text))
    except InvalidInput:
        found = None
    if found is None:
        card = find_card(text)
        found = Member.get_by_id(card.member_id) if card is not None else None
    if found is None:
        raise UnknownMember(_("No member with phone or card {key}.").format(key=key))
    return found


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


# --- birthdays -------------------------------------------------------------------------------------------------


class AlreadyGiven(DomainError):
    code = "already_given"


@dataclass(frozen=True)
class BirthdayOffer:
    """What the member gets in their birthday window on a day, and what of it was given already."""

    window_start: str
    window_end: str
    explanation: str  # "Birthday: gift: 毛巾", "生日: 8折"
    gift_code: str | None  # from the points catalogue, handed over at the desk
    gift_name: str | None
    item_code: str | None  # a free item the birthday promotion gives without a spend: a sale at no charge
    item_name: str | None
    at_checkout: str | None  # a birthday promotion that takes money off a bill, by its label
    coupon: str | None  # the birthday promotion's coupon (BDAY-<member>-<window start>)
    gift_given_at: str | None = None
    gift_given_by: str | None = None
    coupon_issued_at: str | None = None
    coupon_used_at: str | None = None

    @property
    def to_give(self) -> bool:
        """Whether the birthday key still has something to do in this window."""
        return ((self.gift_code is not None and self.gift_given_at is None)
                or (self.item_code is not None and self.coupon_used_at is None)
                or (self.at_checkout is not None and self.coupon_issued_at is None and self.coupon_used_at is None))

    @property
    def given_at(self) -> str | None:
        """When the benefit was last handed over (gift given, free item or coupon used), if it was."""
        done = [x for x in (self.gift_given_at, self.coupon_used_at) if x]
        return max(done) if done else None


@dataclass(frozen=True)
class BirthdayGiftResult:
    member_id: int
    window_start: str
    window_end: str
    explanation: str
    gift_txid: str | None = None  # the birthday transaction that recorded the gift
    gift_name: str | None = None
    sale_txid: str | None = None  # the no-charge sale of the free item
    item_name: str | None = None
    coupon: str | None = None  # a birthday coupon now on the member's account, used at checkout
    coupon_label: str | None = None


@dataclass(frozen=True)
class _GiftRecord:
    """What the ``birthday`` transaction stores (and a retry returns)."""

    txid: str
    member_id: int
    window_start: str
    window_end: str
    gift_code: str
    gift_name: str


def _item_name(code: str) -> str:
    for model in (ServiceItem, Product):
        item = model.get_or_none(model.code == code)
        if item is not None:
            return item.name
    return code


def _gift_given(member_id: int, start: dt.date, end: dt.date) -> Transaction | None:
    """The birthday gift recorded for a window overlapping [start, end] (a member has one a year, so few)."""
    for tx in (Transaction.select(Transaction, Staff).join(Staff)
               .where((Transaction.member == member_id) & (Transaction.kind == "birthday"))
               .order_by(Transaction.id.desc())):
        result = json.loads(tx.result_json or "{}")
        if "window_start" not in result:
            continue  # the one being written now
        if dt.date.fromisoformat(result["window_start"]) <= end and dt.date.fromisoformat(result["window_end"]) >= start:
            return tx
    return None


def birthday_offer(member: Member | int | str, day: dt.date | None = None, rules: Rules | None = None,
                   facts: MemberFacts | None = None) -> BirthdayOffer | None:
    """The birthday benefit of the loyalty rules for a member in their birthday window on ``day`` (None: not in
    it, or the rules give none), with what of it was given already. ``facts``: the member's, when at hand."""
    from mms_tui.services.money.checkout import member_facts

    m = resolve_member(member)
    day = day or today()
    rules = rules or load_rules()
    if birthday_window(m.birthday, day, rules) is None:
        return None
    benefit = birthday_benefit(facts or member_facts(m, rules), day, rules)
    if benefit is None:
        return None
    item_code = item_name = at_checkout = None
    promo = rules.promotion(benefit.promotion) if benefit.promotion else None
    if promo is not None:
        if promo.kind == "free_item" and promo.item and not promo.threshold_fen:
            item_code, item_name = promo.item, _item_name(promo.item)
        else:
            at_checkout = promotion_label(promo)
    gift = _gift_given(m.id, benefit.window_start, benefit.window_end) if benefit.gift else None
    coupon = Coupon.get_or_none(Coupon.code == benefit.coupon.code) if benefit.coupon else None
    return BirthdayOffer(
        benefit.window_start.isoformat(), benefit.window_end.isoformat(), benefit.explanation,
        benefit.gift.code if benefit.gift else None, benefit.gift.name if benefit.gift else None,
        item_code, item_name, at_checkout, benefit.coupon.code if benefit.coupon else None,
        str(gift.created_at)[:16] if gift is not None else None, gift.staff.name if gift is not None else None,
        str(coupon.issued_at)[:16] if coupon is not None else None,
        str(coupon.used_at)[:16] if coupon is not None and coupon.used_at else None)


def _not_offered(m: Member, day: dt.date, rules: Rules) -> DomainError:
    if m.birthday is None:
        return InvalidInput(_("{name} has no birthday on file.").format(name=m.name))
    if birthday_window(m.birthday, day, rules) is None:
        return InvalidInput(_("{name}'s birthday ({date}) is not in this birthday window.").format(
            name=m.name, date=m.birthday.strftime("%m-%d")))
    return InvalidInput(_("The loyalty rules give no birthday benefit."))


def give_birthday_benefit(member: Member | int | str, staff: Staff, txid: str, *, store: Store | str | None = None,
                          on: dt.date | None = None) -> BirthdayGiftResult:
    """The birthday key: hand over what the member's birthday benefit gives, once per birthday window.

    * a gift from the points catalogue: a ``birthday`` transaction with no money and no points (``txid``);
    * a free item (a free-item birthday promotion needing no spend): a sale of it at no charge through the
      checkout with the birthday coupon, which that sale uses up (txid ``<txid>-item``);
    * a birthday promotion that takes money off a bill: its coupon goes on the member's account, and the checkout
      applies it.

    Pressing it again in the window says what was given, when and by whom; a retry of the same ``txid`` returns
    the first answer."""
    from mms_tui.services.loyalty.coupons import issue_birthday_coupon
    from mms_tui.services.money.checkout import checkout, quote

    m = resolve_member(member)
    store_obj = resolve_store(store, staff)
    day = on or today()
    rules = load_rules()
    offer = birthday_offer(m, day, rules)
    if offer is None:
        raise _not_offered(m, day, rules)
    sale_txid = f"{txid[:58]}-item"
    retry = Transaction.select().where(Transaction.txid.in_([txid, sale_txid])).exists()
    if not offer.to_give and not retry:
        raise AlreadyGiven(_("{name}'s birthday benefit for {start} – {end} was already given on {when}{by}.").format(
            name=m.name, start=offer.window_start, end=offer.window_end, when=offer.given_at or offer.coupon_issued_at,
            by=_(" by {staff}").format(staff=offer.gift_given_by) if offer.gift_given_by else ""))
    gift = None
    if offer.gift_code is not None and (offer.gift_given_at is None or retry):
        gift = _record_gift(m, offer, staff, store_obj, txid, day, rules)
    sale = None
    if offer.item_code is not None and offer.coupon is not None and (offer.coupon_used_at is None or retry):
        bill = quote(m, [offer.item_code], coupons=[offer.coupon], member_coupons=False, store=store_obj)
        if bill.total_fen:
            reason = next((c.reason for c in bill.coupons if c.code == offer.coupon and c.reason), "")
            raise InvalidInput(_("The birthday {item} cannot be given free here: {reason}").format(
                item=offer.item_name, reason=reason or format_money(bill.total_fen)))
        sale = checkout(m, [offer.item_code], [], staff, sale_txid, store=store_obj, coupons=[offer.coupon],
                        member_coupons=False)
    issued = None
    if offer.at_checkout is not None and offer.coupon_issued_at is None and offer.coupon_used_at is None:
        issued = issue_birthday_coupon(m, staff, on=day, store=store_obj, rules=rules)
    return BirthdayGiftResult(
        m.id, offer.window_start, offer.window_end, offer.explanation,
        gift.txid if gift else None, gift.gift_name if gift else None,
        sale.txid if sale else None, offer.item_name if sale else None,
        issued.code if issued else None, offer.at_checkout if issued else None)


def _record_gift(m: Member, offer: BirthdayOffer, staff: Staff, store: Store, txid: str, day: dt.date,
                 rules: Rules) -> _GiftRecord:
    def body(tx) -> _GiftRecord:
        if not is_sqlite():  # two desks at once: the second waits here, then finds the first one's gift
            Member.select(Member.id).where(Member.id == m.id).for_update().execute()
        given = _gift_given(m.id, dt.date.fromisoformat(offer.window_start), dt.date.fromisoformat(offer.window_end))
        if given is not None:
            raise AlreadyGiven(_("{name}'s birthday gift was already given on {when} by {staff}.").format(
                name=m.name, when=str(given.created_at)[:16], staff=given.staff.name))
        type(tx).update(note=offer.gift_name).where(type(tx).id == tx.id).execute()
        audit("member.birthday_gift", f"member:{m.id}", staff=staff, store=store, txid=tx.txid,
              payload={"window": [offer.window_start, offer.window_end], "gift": offer.gift_code})
        return _GiftRecord(tx.txid, m.id, offer.window_start, offer.window_end, str(offer.gift_code),
                           str(offer.gift_name))

    return run_operation(txid=txid, kind="birthday", request={"member": m.id, "on": day}, staff=staff, store=store,
                         member=m, body=body, result_type=_GiftRecord)


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


def member_details(member: Member | int | str, viewer: Staff | None = None) -> MemberDetails:
    """The editable fields of a member, for the edit form. The form shows the full phone and birthday, so a
    ``viewer`` looking is recorded (as the reveal of the phone on the member screen is)."""
    m = resolve_member(member)
    if viewer is not None:
        record_audit("member.view_details", f"member:{m.id}", staff=viewer, store=resolve_store(None, viewer))
    return MemberDetails(m.id, m.name, m.phone, m.gender, m.birthday.isoformat() if m.birthday else "", m.notes)
