"""Card types a manager keeps: what a card of each type costs and entitles (卡类型), added, edited, disabled.

Each kind has its own terms, and a type carries exactly those: a visit package (次卡) its visits, a discount card
(折扣卡) what it pays in basis points of the list price, a period pass (月卡/季卡/年卡) its days (and may start at
its first check-in), a visit package may be transferable within a family. A type is sold at every store, or only
at the stores (and regions) it names; a type that names stores may also bind its cards to them (``bound``): such
a card is used — checked in, paid with, topped up — only there, and a desk elsewhere says where it may be used.
A change of terms applies to cards issued after it (binding: to every card of the type, at once); the kind of a
type never changes. A type once issued is disabled, not deleted. Every change is
one audited event (before → after) and the type's state goes on the chain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import CARD_KINDS, CardType, CardTypeStore, Staff, Store
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.resolve import within_nodes
from mms_tui.services.base.text import normalise_card_no, normalise_query
from mms_tui.services.catalogue.items import check_price
from mms_tui.services.ledger.chain import record_states
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import require

#: the longest validity, pass or freeze limit a type may have, in days (ten years)
MAX_DAYS = 3_650


@dataclass(frozen=True)
class CardTypeTerms:
    """A card type as the back office shows and edits it (price in fen, discount in basis points paid)."""

    code: str
    name: str
    kind: str
    price_fen: int = 0
    validity_days: int | None = None
    visits: int = 0
    discount_bp: int = 10_000
    period_days: int | None = None
    transferable: bool = False
    start_on_first_use: bool = False
    max_freeze_days: int | None = None
    active: bool = True
    #: the codes of the stores (or regions: their stores) it is sold at; none: every store
    stores: tuple[str, ...] = ()
    #: its cards are used only at ``stores`` (and below the regions there), not across the chain
    bound: bool = False


#: what :func:`edit_card_type` may change
EDITABLE = ("name", "price_fen", "validity_days", "visits", "discount_bp", "period_days", "transferable",
            "start_on_first_use", "max_freeze_days", "stores", "bound")
#: the terms kept in the card type's own row
COLUMNS = tuple(name for name in EDITABLE if name != "stores")


def _terms(row: CardType) -> CardTypeTerms:
    stores = tuple(code for (code,) in Store.select(Store.code).join(CardTypeStore)
                   .where(CardTypeStore.card_type == row.id).order_by(Store.code).tuples())
    return CardTypeTerms(row.code, row.name, row.kind, int(row.price_fen), row.validity_days, int(row.visits),
                         int(row.discount_bp), row.period_days, bool(row.transferable), bool(row.start_on_first_use),
                         row.max_freeze_days, bool(row.active), stores, bool(row.bound))


def _store_codes(codes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Store codes named for a card type: each must be a store (or region) of the tree."""
    wanted = sorted({normalise_card_no(c).upper() for c in codes if normalise_card_no(c)})
    known = {code for (code,) in Store.select(Store.code).where(Store.code.in_(wanted)).tuples()}
    missing = [c for c in wanted if c not in known]
    if missing:
        raise InvalidInput(_("Stores: no store {code}.").format(code=", ".join(missing)))
    return tuple(wanted)


def _set_stores(row: CardType, codes: tuple[str, ...]) -> None:
    CardTypeStore.delete().where(CardTypeStore.card_type == row.id).execute()
    if codes:
        CardTypeStore.insert_many([{"card_type": row.id, "store": store.id}
                                   for store in Store.select().where(Store.code.in_(codes))]).execute()


def sold_at(card_type: CardType, store: Store) -> bool:
    """Whether a card of this type may be issued at ``store``: everywhere unless the type names stores, then at
    those stores and at the stores below a region it names."""
    return within_nodes({store_id for (store_id,) in CardTypeStore.select(CardTypeStore.store)
                         .where(CardTypeStore.card_type == card_type.id).tuples()}, store)


def _days(value: int | None, what: str, *, zero: bool = False) -> int | None:
    if value is None:
        return None
    low = 0 if zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_DAYS:
        raise InvalidInput(_("{what}: a number of days from {low} to {most}.").format(what=what, low=low,
                                                                                      most=MAX_DAYS))
    return value


def checked(terms: CardTypeTerms) -> CardTypeTerms:
    """The terms cleaned, or one clear message naming the first that does not fit its kind."""
    code = normalise_card_no(terms.code).upper()
    name = normalise_query(terms.name)
    if not code or len(code) > 20:
        raise InvalidInput(_("Code: required, at most 20 characters."))
    if not name or len(name) > 50:
        raise InvalidInput(_("Name: required, at most 50 characters."))
    if terms.kind not in CARD_KINDS:
        raise InvalidInput(_("Kind must be one of {kinds}, not {value!r}.").format(kinds=", ".join(CARD_KINDS),
                                                                                  value=terms.kind))
    kind = terms.kind
    visits = terms.visits
    if kind == "visits" and (not isinstance(visits, int) or not 1 <= visits <= 10_000):
        raise InvalidInput(_("Visits: a visit package holds from 1 to 10000 visits."))
    if kind != "visits" and visits:
        raise InvalidInput(_("Visits: only a visit package has them."))
    discount = terms.discount_bp
    if kind == "discount" and (not isinstance(discount, int) or not 1 <= discount < 10_000):
        raise InvalidInput(_("Discount: a discount card pays from 0.01% to 99.99% of the price."))
    if kind != "discount" and discount != 10_000:
        raise InvalidInput(_("Discount: only a discount card has one."))
    period = _days(terms.period_days, _("Period"))
    if kind == "period" and period is None:
        raise InvalidInput(_("Period: a period pass needs its number of days."))
    if kind != "period" and period is not None:
        raise InvalidInput(_("Period: only a period pass has one."))
    if terms.start_on_first_use and kind != "period":
        raise InvalidInput(_("Start on first use: only a period pass may."))
    if terms.transferable and kind != "visits":
        raise InvalidInput(_("Transferable: only a visit package may be."))
    stores = _store_codes(terms.stores)
    if terms.bound and not stores:
        raise InvalidInput(_("Bound to its stores: name the stores its cards are used at."))
    return replace(terms, code=code, name=name, price_fen=check_price(terms.price_fen),
                   validity_days=_days(terms.validity_days, _("Validity")),
                   max_freeze_days=_days(terms.max_freeze_days, _("Freeze limit"), zero=True),
                   stores=stores, bound=bool(terms.bound))


def find_card_type(code: str) -> CardType:
    row = CardType.get_or_none(CardType.code == normalise_card_no(code or "").upper())
    if row is None:
        raise InvalidInput(_("No card type has the code {code}.").format(code=code))
    return row


def list_card_types(*, inactive: bool = False) -> list[CardTypeTerms]:
    query = CardType.select().order_by(CardType.kind, CardType.code)
    if not inactive:
        query = query.where(CardType.active == True)  # noqa: E712 - peewee builds SQL from ==
    return [_terms(row) for row in query]


def _record(row: CardType, action: str, staff: Staff, before: CardTypeTerms | None) -> CardTypeTerms:
    after = _terms(row)
    audit(action, f"card_type:{row.id}", staff=staff, store=None,
          payload={"before": asdict(before) if before else None, "after": asdict(after)})
    record_states("card_type", [row.id], staff=staff)
    return after


def add_card_type(staff: Staff, terms: CardTypeTerms) -> CardTypeTerms:
    """A new card type, sold from now on. Needs a manager."""
    require(staff, "catalogue.edit")
    clean = checked(replace(terms, active=True))
    with write_transaction():
        if CardType.get_or_none(CardType.code == clean.code) is not None:
            raise InvalidInput(_("Code: {code} is already a card type.").format(code=clean.code))
        row = CardType.create(**{k: v for k, v in asdict(clean).items() if k != "stores"})
        _set_stores(row, clean.stores)
        return _record(row, "card_type.add", staff, None)


def edit_card_type(staff: Staff, code: str, **changes: Any) -> CardTypeTerms:
    """Change some of :data:`EDITABLE` (for cards issued from now on). Needs a manager; nothing is written unless
    the type's terms as changed fit its kind."""
    require(staff, "catalogue.edit")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(_("Cannot change {fields}.").format(fields=", ".join(unknown)))
    with write_transaction():
        row = find_card_type(code)
        before = _terms(row)
        after = checked(replace(before, **changes))
        if after == before:
            return before
        values = {k: v for k, v in asdict(after).items() if k in COLUMNS}
        CardType.update(**values).where(CardType.id == row.id).execute()
        if after.stores != before.stores:
            _set_stores(row, after.stores)
        return _record(CardType.get_by_id(row.id), "card_type.edit", staff, before)


def set_card_type_active(staff: Staff, code: str, active: bool) -> CardTypeTerms:
    """Stop selling a card type (its cards keep working) or sell it again. Needs a manager."""
    require(staff, "catalogue.edit")
    with write_transaction():
        row = find_card_type(code)
        before = _terms(row)
        if row.active == active:
            return before
        CardType.update(active=active).where(CardType.id == row.id).execute()
        return _record(CardType.get_by_id(row.id), "card_type.enable" if active else "card_type.disable", staff,
                       before)

