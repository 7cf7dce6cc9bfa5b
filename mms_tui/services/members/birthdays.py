"""The birthday benefit.

In the member's birthday window (loyalty rules: day, week or month) one key gives it, at most once per member and
window: the rules' gift from the points catalogue is a ledger transaction of kind ``birthday`` with no money and no
points; an item a free-item birthday promotion gives without a spend is a sale of it at no charge through the checkout
with the birthday coupon (``BDAY-<member>-<window start>``), which that sale uses up; a birthday promotion that takes
money off a bill (a discount, 满减) puts that coupon on the member's account, and the checkout applies it.

Giving it is idempotent by txid, and a second gift in the same window is refused (:class:`AlreadyGiven`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mms_tui.db import is_sqlite
from mms_tui.i18n import _
from mms_tui.models import Coupon, Member, Product, ServiceItem, Staff, Store, Transaction
from mms_tui.services.base.errors import DamagedRecord, DomainError, InvalidInput
from mms_tui.services.base.resolve import resolve_member, resolve_store, today
from mms_tui.services.base.text import format_money
from mms_tui.services.ledger import results
from mms_tui.services.ledger.operations import audit, run_operation
from mms_tui.services.loyalty.birthday_benefit import birthday_benefit, birthday_window
from mms_tui.services.loyalty.pricing import MemberFacts, promotion_label
from mms_tui.services.loyalty.rules import Rules
from mms_tui.services.loyalty.rules_store import load_rules
from mms_tui.services.stock.sales import take_gift

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
        try:
            result = results.load(tx.result, of=tx.txid)
        except DamagedRecord:  # its window unreadable: a gift given within this window's days counts as given
            if start <= dt.date.fromisoformat(str(tx.local_day)[:10]) <= end:
                return tx
            continue
        if "window_start" not in result:
            continue  # the one being written now
        if dt.date.fromisoformat(result["window_start"]) <= end and dt.date.fromisoformat(result["window_end"]) >= start:
            return tx
    return None


def birthday_offer(member: Member | int | str, day: dt.date | None = None, rules: Rules | None = None,
                   facts: MemberFacts | None = None) -> BirthdayOffer | None:
    """The birthday benefit of the loyalty rules for a member in their birthday window on ``day`` (None: not in
    it, or the rules give none), with what of it was given already. ``facts``: the member's, when at hand."""
    from mms_tui.services.money.holder import member_facts

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
        take_gift(tx, store, offer.gift_code)  # a gift that is a product leaves the shelf
        audit("member.birthday_gift", f"member:{m.id}", staff=staff, store=store, txid=tx.txid,
              payload={"window": [offer.window_start, offer.window_end], "gift": offer.gift_code})
        return _GiftRecord(tx.txid, m.id, offer.window_start, offer.window_end, str(offer.gift_code),
                           str(offer.gift_name))

    return run_operation(txid=txid, kind="birthday", request={"member": m.id, "on": day}, staff=staff, store=store,
                         member=m, body=body, result_type=_GiftRecord)
