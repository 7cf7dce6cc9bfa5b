"""Categories (类别) as a managed list (issue #17): what an item's category may name, so 美发 and 美发 服务 and
"meifa" do not split one category's sales, discounts and points three ways.

An item's category is the category's name (the loyalty rules name categories the same way: per-category discounts,
points multipliers, promotions). A manager adds, renames, disables and enables categories; adding or editing an
item refuses a category not on the list (or disabled) with a line saying how to add it; a spreadsheet import of
products adds the categories it names, as the bulk load it is. A rename moves every item with it and is refused
while the loyalty rules name the old name (they would silently stop applying).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.models import Category, Product, ServiceItem, Staff
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.base.sql import fetch_rows
from mms_tui.services.base.text import normalise_query
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import require


@dataclass(frozen=True)
class CategoryInfo:
    name: str
    active: bool
    products: int
    services: int


def clean_name(text: str) -> str:
    name = normalise_query(text or "")
    if not name:
        raise InvalidInput(_("Category: required."))
    if len(name) > 50:
        raise InvalidInput(_("Category: longer than 50 characters."))
    return name


def _counts(model: type[Product] | type[ServiceItem]) -> Counter[str]:
    return Counter(dict(model.select(model.category, peewee.fn.COUNT(model.id)).group_by(model.category).tuples()))


def list_categories(*, inactive: bool = True) -> list[CategoryInfo]:
    """The categories by name, with how many products and services are in each."""
    products, services = _counts(Product), _counts(ServiceItem)
    query = Category.select().order_by(Category.name)
    if not inactive:
        query = query.where(Category.active == True)  # noqa: E712 - peewee builds SQL from ==
    return [CategoryInfo(c.name, c.active, products[c.name], services[c.name]) for c in query]


def _info(name: str) -> CategoryInfo:
    return next(c for c in list_categories() if c.name == name)


def find_category(name: str) -> Category:
    found = Category.get_or_none(Category.name == normalise_query(name or ""))
    if found is None:
        raise NotFound(_("No category {name}.").format(name=name))
    return found


def check_category(text: str) -> str:
    """An item's category as typed: '' (none), or the name of an active category on the list."""
    name = normalise_query(text or "")
    if not name:
        return ""
    if len(name) > 50:
        raise InvalidInput(_("Category: longer than 50 characters."))
    found = Category.get_or_none(Category.name == name)
    if found is None:
        raise InvalidInput(_("Category: {name} is not on the list (add it first: mms categories add {name}).")
                           .format(name=name))
    if not found.active:
        raise InvalidInput(_("Category: {name} is disabled.").format(name=name))
    return name


def ensure_categories(names: Iterable[str]) -> list[str]:
    """The categories an import names that the list lacks, added (inside the import's transaction)."""
    have = {c for (c,) in Category.select(Category.name).tuples()}
    made = sorted({n for n in names if n and n not in have})
    for name in made:
        Category.create(name=name)
    return made


def add_category(staff: Staff, name: str) -> CategoryInfo:
    require(staff, "catalogue.edit")
    name = clean_name(name)
    with write_transaction():
        if Category.get_or_none(Category.name == name) is not None:
            raise InvalidInput(_("Category: {name} is already on the list.").format(name=name))
        made = Category.create(name=name)
        audit("category.add", f"category:{made.id}", staff=staff, store=None,
              payload={"before": None, "after": {"name": name, "active": True}})
        return _info(name)


def _named_by_rules(name: str) -> list[str]:
    """Where the saved loyalty rules name the category (read from the stored document as
    ``rules_to_dict`` writes it: the loyalty package sits above this one)."""
    rows = fetch_rows('SELECT "value" FROM "config" WHERE "key" = ?', ("loyalty_rules",))
    try:
        document = json.loads(rows[0][0]) if rows else {}
    except ValueError:
        return []
    places = []
    if name in ((document.get("points") or {}).get("category_multipliers") or {}):
        places.append("points.category_multipliers")
    for i, level in enumerate((document.get("tiers") or {}).get("levels") or [], start=1):
        if name in (level.get("category_discounts") or {}):
            places.append(f"tiers.levels[{i}].category_discounts")
    for i, promo in enumerate(document.get("promotions") or [], start=1):
        if name in (promo.get("categories") or []):
            places.append(f"promotions[{i}].categories")
    return places


def rename_category(staff: Staff, name: str, new_name: str) -> CategoryInfo:
    """Rename a category and every item in it, in one change."""
    require(staff, "catalogue.edit")
    new_name = clean_name(new_name)
    with write_transaction():
        found = find_category(name)
        if new_name == found.name:
            return _info(found.name)
        if Category.get_or_none(Category.name == new_name) is not None:
            raise InvalidInput(_("Category: {name} is already on the list.").format(name=new_name))
        places = _named_by_rules(found.name)
        if places:
            raise InvalidInput(_("Category: the loyalty rules name {name} ({places}); change them first.").format(
                name=found.name, places=", ".join(places)))
        Category.update(name=new_name).where(Category.id == found.id).execute()
        moved = 0
        for model in (Product, ServiceItem):
            moved += model.update(category=new_name).where(model.category == found.name).execute()
        audit("category.rename", f"category:{found.id}", staff=staff, store=None,
              payload={"before": {"name": found.name}, "after": {"name": new_name}, "items": moved})
        return _info(new_name)


def set_category_active(staff: Staff, name: str, active: bool) -> CategoryInfo:
    """Disable a category (no item may be put in it any more; its items keep it) or enable it again."""
    require(staff, "catalogue.edit")
    with write_transaction():
        found = find_category(name)
        if found.active != active:
            Category.update(active=active).where(Category.id == found.id).execute()
            audit("category.enable" if active else "category.disable", f"category:{found.id}", staff=staff,
                  store=None, payload={"before": {"active": found.active}, "after": {"active": active}})
        return _info(found.name)
