"""A member's record: register, edit (contact details and preferences too) and find a member, and read their
personal data (an audited read).

Names, genders and birthdays are cleaned here once; a member gets the default tier unless one is named.

Every operation here is idempotent by txid (see :mod:`mms_tui.services.ledger.operations`); those that move value post
balanced ledger entries in the same database transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from mms_tui.i18n import _
from mms_tui.models import Member, PriceLevel, Staff, Store, Tier
from mms_tui.services.base.errors import DuplicatePhone, InvalidInput, NotFound, UnknownMember
from mms_tui.services.base.resolve import find_card, resolve_member, resolve_store, today
from mms_tui.services.base.text import normalise_phone, normalise_query, parse_date, pinyin_keys
from mms_tui.services.catalogue.prices import find_level
from mms_tui.services.ledger.operations import audit, record_audit, run_operation
from mms_tui.services.staff.permissions import require

_GENDERS = {"": "", "f": "F", "female": "F", "女": "F", "m": "M", "male": "M", "男": "M"}


@dataclass(frozen=True)
class MemberResult:
    txid: str
    member_id: int
    name: str
    phone: str
    tier_code: str


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


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def clean_email(email: str | None) -> str:
    """An email address as a person types it (folded, lower case), or "" for none."""
    text = normalise_query(email or "").lower()
    if text and (len(text) > 254 or not _EMAIL.fullmatch(text)):
        raise InvalidInput(_("Email: {value} is not an email address.").format(value=text[:60]))
    return text


def clean_text(value: object, what: str, most: int) -> str:
    """Free text of a member's record (an address, preferences): folded, at most ``most`` characters."""
    text = normalise_query(str(value or ""))
    if len(text) > most:
        raise InvalidInput(_("{what}: at most {most} characters.").format(what=what, most=most))
    return text


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
    """Edit name, phone, gender, birthday, tier, notes, address, email, preferences or price level (a manager's
    decision: the prices a member pays; '' takes it off); the old values go into the audit trail."""
    member = resolve_member(member)
    allowed = {"name", "phone", "gender", "birthday", "tier", "notes", "address", "email", "preferences",
               "price_level"}
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
        if clean["tier"] != member.tier.code:
            require(staff, "tiers.edit")  # a tier is a discount: giving one by hand is a manager's decision
    if "notes" in changes:
        clean["notes"] = str(changes["notes"])
    if "address" in changes:
        clean["address"] = clean_text(changes["address"], _("Address"), 200)
    if "email" in changes:
        clean["email"] = clean_email(changes["email"])  # type: ignore[arg-type]
    if "preferences" in changes:
        clean["preferences"] = clean_text(changes["preferences"], _("Preferences"), 500)
    if "price_level" in changes:
        require(staff, "catalogue.edit")
        code = str(changes["price_level"] or "").strip()
        clean["price_level"] = find_level(code).code if code else ""
    store = resolve_store(None, staff)

    def body(tx) -> MemberResult:
        current = Member.get_by_id(member.id)
        if "phone" in clean and clean["phone"] != current.phone and Member.get_or_none(
            Member.phone == clean["phone"]
        ):
            raise DuplicatePhone(_("Phone {phone} already belongs to a member.").format(phone=clean["phone"]))
        before = {k: str(getattr(current, k if k not in ("tier", "price_level") else f"{k}_id")) for k in clean}
        if "price_level" in clean:
            before["price_level"] = current.price_level.code if current.price_level_id else ""
        update: dict = {}
        for key, value in clean.items():
            if key == "tier":
                update[Member.tier] = Tier.get(Tier.code == value)
            elif key == "price_level":
                update[Member.price_level] = PriceLevel.get(PriceLevel.code == value) if value else None
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
