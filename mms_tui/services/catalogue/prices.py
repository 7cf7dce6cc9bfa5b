"""Price lists (价格体系, issue #17): an item's price on a list — a tier's, a named price level's (零售价, 会员价,
经销商价, 二级经销商价 …), or the store's own retail price — chain-wide or for one store or region.

**Which price a bill uses** (:func:`prices_for`, then :func:`~mms_tui.services.loyalty.pricing.member_price`):

* a member given a price level pays that level's price for an item on it: it *replaces* the tier's price and
  discount for that item (a dealer sees and pays the dealer price); an item not on the level's list is priced as
  for any member of their tier;
* for every list, the price set for the store itself beats one set for a region above it, which beats the chain's
  (set for no store): the nearest wins;
* a store's retail price (the list with no tier and no level) replaces the catalogue price there, for everyone;
* promotions apply after, on whatever price this gives; the bill names the list each price came from.

Every change is one ``price.set`` (or ``price.remove``) audited event with the price before and after, and the row's
state on the chain. Changing a price needs ``catalogue.edit`` (a manager); a store's or region's price needs the
store in the manager's scope. Price levels are kept here too (:func:`add_level`, :func:`edit_level`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import peewee

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import ItemPrice, Member, PriceLevel, Staff, Store, Tier
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.base.resolve import up_the_tree
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.catalogue.items import find
from mms_tui.services.ledger.chain import record_gone, record_states
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import in_store_scope, require
from mms_tui.services.staff.stores import find_store

#: the list code of a store's own retail price (no tier, no level)
RETAIL = ""


# ------------------------------------------------------------------------------------------------ price levels


@dataclass(frozen=True)
class LevelInfo:
    code: str
    name: str
    active: bool
    members: int
    prices: int


def list_levels(*, inactive: bool = True) -> list[LevelInfo]:
    members = dict(Member.select(Member.price_level, peewee.fn.COUNT(Member.id))
                   .where(Member.price_level.is_null(False)).group_by(Member.price_level).tuples())
    prices = dict(ItemPrice.select(ItemPrice.price_level, peewee.fn.COUNT(ItemPrice.id))
                  .where(ItemPrice.price_level.is_null(False)).group_by(ItemPrice.price_level).tuples())
    query = PriceLevel.select().order_by(PriceLevel.code)
    if not inactive:
        query = query.where(PriceLevel.active == True)  # noqa: E712 - peewee builds SQL from ==
    return [LevelInfo(lv.code, lv.name, lv.active, members.get(lv.id, 0), prices.get(lv.id, 0)) for lv in query]


def find_level(code: str) -> PriceLevel:
    level = PriceLevel.get_or_none(PriceLevel.code == (code or "").strip().upper())
    if level is None:
        known = ", ".join(c for (c,) in PriceLevel.select(PriceLevel.code).order_by(PriceLevel.code).tuples())
        raise NotFound(_("No price level {code} (levels: {known}).").format(code=code, known=known or "-"))
    return level


def _level_info(level: PriceLevel) -> LevelInfo:
    return next(i for i in list_levels() if i.code == level.code)


def _clean_level(code: str, name: str) -> tuple[str, str]:
    code = (code or "").strip().upper()
    if not code or len(code) > 20 or any(ch.isspace() for ch in code):
        raise InvalidInput(_("Code: 1 to 20 characters, no spaces."))
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Name: required."))
    if len(name) > 50:
        raise InvalidInput(_("Name: longer than 50 characters."))
    return code, name


def add_level(staff: Staff, code: str, name: str) -> LevelInfo:
    """A new price level (经销商价 …). Its code may not be a tier's: a price list names one or the other."""
    require(staff, "catalogue.edit")
    code, name = _clean_level(code, name)
    with write_transaction():
        if PriceLevel.get_or_none(PriceLevel.code == code) is not None:
            raise InvalidInput(_("Code: {code} is already a price level.").format(code=code))
        if Tier.get_or_none(Tier.code == code) is not None:
            raise InvalidInput(_("Code: {code} is a tier's; a price level needs a code of its own.").format(code=code))
        level = PriceLevel.create(code=code, name=name)
        audit("price_level.add", f"price_level:{level.id}", staff=staff, store=None,
              payload={"before": None, "after": {"code": code, "name": name, "active": True}})
        return _level_info(level)


def edit_level(staff: Staff, code: str, *, name: str | None = None, active: bool | None = None) -> LevelInfo:
    """Rename a price level, or stop (and start again) giving its prices: a disabled level's members pay as
    members of their tier until it is enabled again."""
    require(staff, "catalogue.edit")
    with write_transaction():
        level = find_level(code)
        before = {"code": level.code, "name": level.name, "active": level.active}
        after = dict(before)
        if name is not None:
            after["name"] = _clean_level(level.code, name)[1]
        if active is not None:
            after["active"] = bool(active)
        if after == before:
            return _level_info(level)
        PriceLevel.update(name=after["name"], active=after["active"]).where(PriceLevel.id == level.id).execute()
        audit("price_level.edit", f"price_level:{level.id}", staff=staff, store=None,
              payload={"before": before, "after": after})
        return _level_info(PriceLevel.get_by_id(level.id))


# ------------------------------------------------------------------------------------------------ prices


@dataclass(frozen=True)
class PriceRow:
    item: str
    kind: str  # product | service
    name: str
    list: str  # a tier's or a level's code; '' for the store's retail price
    list_name: str
    store: str  # '' for the chain
    price_fen: int
    list_price_fen: int  # the catalogue's price, for comparison


def _list_of(code: str | None) -> tuple[Tier | None, PriceLevel | None]:
    """The tier or the level a list code names ('' or None: retail)."""
    code = (code or "").strip().upper()
    if not code or code in ("RETAIL", "零售", "零售价"):
        return None, None
    tier = Tier.get_or_none(Tier.code == code)
    if tier is not None:
        return tier, None
    level = PriceLevel.get_or_none(PriceLevel.code == code)
    if level is not None:
        return None, level
    tiers = [c for (c,) in Tier.select(Tier.code).order_by(Tier.rank).tuples()]
    levels = [c for (c,) in PriceLevel.select(PriceLevel.code).order_by(PriceLevel.code).tuples()]
    raise NotFound(_("List: no tier or price level {code} (tiers: {tiers}; levels: {levels}).").format(
        code=code, tiers=", ".join(tiers), levels=", ".join(levels) or "-"))


def price_key(kind: str, item_id: int, tier_id: int | None, level_id: int | None, store_id: int | None) -> str:
    """One price per item, list and store: the unique key (NULLs never collide in a unique index)."""
    lst = f"t{tier_id}" if tier_id else f"l{level_id}" if level_id else "r"
    return f"{kind[0]}{item_id}:{lst}:s{store_id or 0}"


_ROWS_SQL = (
    'SELECT "ip"."id", COALESCE("p"."code", "s"."code"), CASE WHEN "ip"."product_id" IS NULL THEN \'service\' '
    'ELSE \'product\' END, COALESCE("p"."name", "s"."name"), COALESCE("t"."code", "l"."code", \'\'), '
    'COALESCE("t"."name", "l"."name", \'\'), COALESCE("st"."code", \'\'), "ip"."price_fen", '
    'COALESCE("p"."price_fen", "s"."price_fen") '
    'FROM "item_price" AS "ip" LEFT JOIN "product" AS "p" ON "p"."id" = "ip"."product_id" '
    'LEFT JOIN "service_item" AS "s" ON "s"."id" = "ip"."service_id" '
    'LEFT JOIN "tier" AS "t" ON "t"."id" = "ip"."tier_id" '
    'LEFT JOIN "price_level" AS "l" ON "l"."id" = "ip"."price_level_id" '
    'LEFT JOIN "store" AS "st" ON "st"."id" = "ip"."store_id"'
)


def _rows(where: str = "", params: Iterable[object] = ()) -> list[tuple[int, PriceRow]]:
    rows = fetch_rows(_ROWS_SQL + where, tuple(params))
    out = [(int(r[0]), PriceRow(r[1], r[2], r[3], r[4], r[5], r[6], int(r[7]), int(r[8]))) for r in rows]
    return sorted(out, key=lambda x: (x[1].item, x[1].list, x[1].store))


def list_prices(*, list_code: str | None = None, store: str | None = None, item: str | None = None) -> list[PriceRow]:
    """The prices set, by item, list and store; ``list_code`` a tier's or level's code ('' for store retail
    prices), ``store`` a store's code, ``item`` an item's code."""
    rows = [row for _id, row in _rows()]
    if list_code is not None:
        wanted = (list_code or "").strip().upper()
        if wanted in ("RETAIL", "零售", "零售价"):
            wanted = ""
        if wanted:
            _list_of(wanted)  # an unknown list is named, not an empty answer
        rows = [r for r in rows if r.list == wanted]
    if store is not None:
        code = find_store(store).code
        rows = [r for r in rows if r.store == code]
    if item is not None:
        code = find((item or "").strip())[1].code
        rows = [r for r in rows if r.item == code]
    return rows


def _state(row_id: int) -> PriceRow | None:
    found = _rows(' WHERE "ip"."id" = ?', (row_id,))
    return found[0][1] if found else None


def set_price(staff: Staff, item: str, price_fen: int | None, *, list_code: str | None = RETAIL,
              store: str | Store | None = None) -> PriceRow | None:
    """Set (or, with ``price_fen`` None, remove) an item's price on a list, chain-wide or for one store or region.
    A retail price needs a store (the chain's retail price is the catalogue's own: ``mms products edit``)."""
    require(staff, "catalogue.edit")
    if price_fen is not None and (not isinstance(price_fen, int) or isinstance(price_fen, bool) or price_fen < 0):
        raise InvalidInput(_("Price: cannot be negative."))
    with write_transaction():
        kind, row = find((item or "").strip())
        tier, level = _list_of(list_code)
        place: Store | None = find_store(store) if store not in (None, "") else None
        if place is not None and place.closed_at is not None:
            raise InvalidInput(_("Store: {code} is closed.").format(code=place.code))
        if tier is None and level is None and place is None:
            raise InvalidInput(_("Store: a retail price is set per store; the chain's is the item's own price "
                                 "(mms products edit)."))
        if place is not None and not in_store_scope(staff, place.id):
            raise PermissionDenied(_("Store: {code} is not one of yours.").format(code=place.code))
        key = price_key(kind, row.id, tier.id if tier else None, level.id if level else None,
                        place.id if place else None)
        current = ItemPrice.get_or_none(ItemPrice.key == key)
        before = _state(current.id) if current is not None else None
        if price_fen is None:
            if current is None:
                return None
            ItemPrice.delete().where(ItemPrice.id == current.id).execute()
            audit("price.remove", f"item_price:{current.id}", staff=staff, store=place,
                  payload={"before": asdict(before) if before else None, "after": None})
            record_gone("item_price", current.id, staff=staff, store=place)
            return None
        if current is not None and current.price_fen == price_fen:
            return before
        if current is None:
            current = ItemPrice.create(key=key, product=row.id if kind == "product" else None,
                                       service=row.id if kind == "service" else None, tier=tier, price_level=level,
                                       store=place, price_fen=price_fen)
        else:
            ItemPrice.update(price_fen=price_fen).where(ItemPrice.id == current.id).execute()
        after = _state(current.id)
        audit("price.set", f"item_price:{current.id}", staff=staff, store=place,
              payload={"before": asdict(before) if before else None, "after": asdict(after) if after else None})
        record_states("item_price", [current.id], staff=staff, store=place)
        return after


# ------------------------------------------------------------------------------------------------ for a bill


@dataclass(frozen=True)
class BillPrices:
    """The prices a bill at one store uses, nearest store first: (kind, item code) → (price in fen, list name)."""

    retail: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    tier: dict[tuple[str, str], int] = field(default_factory=dict)
    level: dict[tuple[str, str], int] = field(default_factory=dict)
    level_name: str = ""


def prices_for(store_id: int | None, tier_id: int | None = None, level_id: int | None = None) -> BillPrices:
    """What :func:`~mms_tui.services.loyalty.pricing.member_price` needs for a bill at ``store_id``: the store's
    retail prices (for everyone), the tier's prices and the price level's (an inactive level gives none).

    One statement on the hot path (a shop with no store prices never reads its store tree)."""
    lists = ['"ip"."tier_id" IS NULL AND "ip"."price_level_id" IS NULL AND "ip"."store_id" IS NOT NULL']
    params: list[object] = []
    if tier_id is not None:
        lists.append('"ip"."tier_id" = ?')
        params.append(tier_id)
    if level_id is not None:
        lists.append('"ip"."price_level_id" = ? AND "pl"."active" = ?')
        params += [level_id, True]
    sql = ('SELECT CASE WHEN "ip"."product_id" IS NULL THEN \'service\' ELSE \'product\' END, '
           'COALESCE("p"."code", "s"."code"), "ip"."tier_id", "ip"."price_level_id", "ip"."store_id", '
           '"ip"."price_fen", "pl"."name" FROM "item_price" AS "ip" '
           'LEFT JOIN "product" AS "p" ON "p"."id" = "ip"."product_id" '
           'LEFT JOIN "service_item" AS "s" ON "s"."id" = "ip"."service_id" '
           'LEFT JOIN "price_level" AS "pl" ON "pl"."id" = "ip"."price_level_id" '
           'WHERE (' + ") OR (".join(lists) + ")")
    rows = fetch_rows(sql, tuple(params))
    nearness: dict[int | None, int] = {None: 0}
    names: dict[int, str] = {}
    if any(row[4] is not None for row in rows):  # prices for some stores: which of them are this store's
        names = dict(fetch_rows('SELECT "id", "name" FROM "store"'))
        path = [*up_the_tree(store_id), None]  # the store, the regions above it, then the chain's prices
        nearness = {s: i for i, s in enumerate(path)}
    best: dict[tuple[str, str, str], tuple[int, int, int | None]] = {}
    level_name = ""
    for kind, code, t_id, l_id, s_id, price, l_name in rows:
        if s_id not in nearness:
            continue  # another branch's price
        which = "tier" if t_id is not None else "level" if l_id is not None else "retail"
        level_name = l_name or level_name
        slot = (which, kind, code)
        if slot not in best or nearness[s_id] < best[slot][0]:
            best[slot] = (nearness[s_id], int(price), s_id)
    out = BillPrices(level_name=level_name)
    for (which, kind, code), (_near, price, s_id) in best.items():
        if which == "retail":
            out.retail[(kind, code)] = (price, _("{store} price").format(store=names.get(s_id, "")))
        elif which == "tier":
            out.tier[(kind, code)] = price
        else:
            out.level[(kind, code)] = price
    return out
