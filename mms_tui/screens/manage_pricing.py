"""Tiers, categories, price levels, price lists and the shop's own member fields in the manager's area: the same
calls as ``mms tiers``, ``mms categories``, ``mms prices`` and ``mms members fields``. A tier's terms are saved in the loyalty rules by its service; a price is
taken off its list with F8 after a question (nothing to disable: a price is there or not)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial

from textual.binding import Binding
from textual.widgets import Input, Select

from mms_tui.i18n import N_, _
from mms_tui.screens.dialog import field_row
from mms_tui.screens.manage import ManageListScreen
from mms_tui.screens.manage_form import ManageForm, changed, whole_number, yuan
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import format_money, plain_amount
from mms_tui.services.catalogue.categories import (
    CategoryInfo,
    add_category,
    list_categories,
    rename_category,
    set_category_active,
)
from mms_tui.services.catalogue.prices import (
    LevelInfo,
    PriceRow,
    add_level,
    edit_level,
    list_levels,
    list_prices,
    set_price,
)
from mms_tui.services.loyalty.tier_admin import TierInfo, add_tier, describe_terms, edit_tier, list_tiers
from mms_tui.services.members.attributes import (
    FieldDefinition,
    define_field,
    field_definitions,
    rename_field,
    set_field_active,
)


def _threshold(text: str, field: str, basis: str) -> int | None:
    """A threshold typed in the rules' basis (yuan with spend, else a whole number); empty: none."""
    if not text.strip():
        return None
    return yuan(text, field) if basis == "spend" else whole_number(text, field)


def _shown_threshold(value: int | None, basis: str) -> str:
    if value is None:
        return ""
    return plain_amount(value) if basis == "spend" else str(value)


# --- tiers -----------------------------------------------------------------------------------------------------------


class TierForm(ManageForm):
    """Add a tier or edit one (its code stays): name, rank, what its members pay, their points multiplier, and
    the thresholds to reach and keep it in the rules' basis."""

    def __init__(self, manager, row: TierInfo | None = None, basis: str = "spend") -> None:
        super().__init__(manager, row)
        self.basis = row.basis if row is not None else basis

    def heading(self) -> str:
        if self.row is None:
            return _("New tier")
        return _("Tier {code} {name}").format(code=self.row.code, name=self.row.name)

    def unit(self) -> str:
        return {"spend": _("yuan spent"), "points": _("points earned"), "visits": _("visits")}[self.basis]

    def fields(self):
        row: TierInfo | None = self.row
        if row is None:
            yield field_row(_("Code"), Input(id="new-code", max_length=20))
        yield field_row(_("Name"), Input(row.name if row else "", id="name", max_length=50))
        yield field_row(_("Rank"), Input(str(row.rank) if row else "", id="rank", placeholder=_("0 is the lowest")))
        yield field_row(_("Pays (%)"), Input(plain_amount(row.price_bp) if row else "100", id="pays",
                                             placeholder=_("90 = 9折")))
        yield field_row(_("Points ×"), Input(plain_amount(row.points_pct) if row else "1", id="points",
                                             placeholder=_("1.5 = half as many again")))
        yield field_row(_("Upgrade at"), Input(_shown_threshold(row.upgrade_at, self.basis) if row else "",
                                               id="upgrade", placeholder=self.unit() + _("; empty: by hand only")))
        yield field_row(_("Keep at"), Input(_shown_threshold(row.keep_at, self.basis) if row else "", id="keep",
                                            placeholder=self.unit() + _("; empty: its upgrade threshold")))

    def operation(self):
        rank = whole_number(self.text("rank"), _("Rank"))
        if rank is None:
            raise InvalidInput(_("Rank: required."))
        values = {"name": self.text("name"), "rank": rank,
                  "price_bp": yuan(self.text("pays"), _("Pays"), blank=10_000),
                  "points_pct": yuan(self.text("points"), _("Points multiplier"), blank=100),
                  "upgrade_at": _threshold(self.text("upgrade"), _("Upgrade at"), self.basis),
                  "keep_at": _threshold(self.text("keep"), _("Keep at"), self.basis)}
        if self.row is None:
            return partial(add_tier, self.manager, self.text("new-code"), values.pop("name"), values.pop("rank"),
                           **values)
        row: TierInfo = self.row
        before = {"name": row.name, "rank": row.rank, "price_bp": row.price_bp, "points_pct": row.points_pct,
                  "upgrade_at": row.upgrade_at, "keep_at": row.keep_at}
        changes = changed(before, values)
        if not changes:
            raise InvalidInput(_("Nothing changed."))
        return partial(edit_tier, self.manager, row.code, **changes)


class TiersScreen(ManageListScreen):
    """Tiers, lowest first. No disable: a tier members hold stays; a tier no one should reach loses its
    threshold."""

    TITLE = N_("Tiers")
    COLUMNS = ((N_("Rank"), 4), (N_("Code"), 8), (N_("Name"), 12), (N_("Pays"), 9), (N_("Points"), 6),
               (N_("Upgrade at"), 13), (N_("Members"), 7))

    def fetch(self) -> list[TierInfo]:
        return list_tiers()

    def cells(self, row: TierInfo) -> Iterable[str]:
        terms = describe_terms(row)
        return (str(row.rank), row.code, row.name, terms["pays"], terms["points"], terms["upgrade_at"],
                str(row.members))

    def is_active(self, row: TierInfo) -> bool:
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "set_active":
            return False
        return super().check_action(action, parameters)

    def form(self, row: TierInfo | None) -> TierForm:
        return TierForm(self.manager, row, self.rows[0].basis if self.rows else "spend")

    def set_active_call(self, row, active):  # pragma: no cover - tiers are never disabled (check_action)
        raise InvalidInput(_("A tier is not disabled; take its threshold away instead."))


# --- categories ------------------------------------------------------------------------------------------------------


class CategoryForm(ManageForm):
    """Add a category, or rename one (its items move with it)."""

    def heading(self) -> str:
        return _("New category") if self.row is None else _("Category {name}").format(name=self.row.name)

    def fields(self):
        yield field_row(_("Name"), Input(self.row.name if self.row else "", id="name", max_length=50))

    def operation(self):
        if self.row is None:
            return partial(add_category, self.manager, self.text("name"))
        return partial(rename_category, self.manager, self.row.name, self.text("name"))

    def succeeded(self, result: object) -> str:
        return str(getattr(result, "name", result))


class CategoriesScreen(ManageListScreen):
    TITLE = N_("Categories")
    COLUMNS = ((N_("Name"), 24), (N_("Products"), 9), (N_("Service items"), 13), (N_("State"), 10))

    def fetch(self) -> list[CategoryInfo]:
        return list_categories()

    def key(self, row: CategoryInfo) -> str:
        return row.name

    def describe(self, row: CategoryInfo) -> str:
        return row.name

    def cells(self, row: CategoryInfo) -> Iterable[str]:
        return (row.name, str(row.products), str(row.services), self.state(row))

    def form(self, row: CategoryInfo | None) -> CategoryForm:
        return CategoryForm(self.manager, row)

    def set_active_call(self, row: CategoryInfo, active: bool):
        return partial(set_category_active, self.manager, row.name, active)


# --- price levels ----------------------------------------------------------------------------------------------------


class LevelForm(ManageForm):
    """Add a price level, or rename one."""

    def heading(self) -> str:
        if self.row is None:
            return _("New price level")
        return _("Price level {code} {name}").format(code=self.row.code, name=self.row.name)

    def fields(self):
        if self.row is None:
            yield field_row(_("Code"), Input(id="new-code", max_length=20, placeholder=_("e.g. DEALER")))
        yield field_row(_("Name"), Input(self.row.name if self.row else "", id="name", max_length=50,
                                         placeholder=_("e.g. 经销商价")))

    def operation(self):
        if self.row is None:
            return partial(add_level, self.manager, self.text("new-code"), self.text("name"))
        if self.text("name") == self.row.name:
            raise InvalidInput(_("Nothing changed."))
        return partial(edit_level, self.manager, self.row.code, name=self.text("name"))


class PriceLevelsScreen(ManageListScreen):
    TITLE = N_("Price levels")
    COLUMNS = ((N_("Code"), 12), (N_("Name"), 20), (N_("Members"), 8), (N_("Prices"), 8), (N_("State"), 10))

    def fetch(self) -> list[LevelInfo]:
        return list_levels()

    def cells(self, row: LevelInfo) -> Iterable[str]:
        return (row.code, row.name, str(row.members), str(row.prices), self.state(row))

    def form(self, row: LevelInfo | None) -> LevelForm:
        return LevelForm(self.manager, row)

    def set_active_call(self, row: LevelInfo, active: bool):
        return partial(edit_level, self.manager, row.code, active=active)


# --- prices ----------------------------------------------------------------------------------------------------------


def price_key(row: PriceRow) -> str:
    """A price's place as a person reads it: SHAMPOO · GOLD · BR1 (retail: R)."""
    return " · ".join(part for part in (row.item, row.list or "R", row.store) if part)


class PriceForm(ManageForm):
    """Set an item's price on a list (a tier's or a price level's code, or empty for a store's own retail
    price), chain-wide or for one store; editing changes the price only."""

    def heading(self) -> str:
        if self.row is None:
            return _("New price")
        row: PriceRow = self.row
        return _("{item} {name} · {list}").format(item=row.item, name=row.name, list=row.list_name or _("retail"))

    def fields(self):
        row: PriceRow | None = self.row
        if row is None:
            yield field_row(_("Item"), Input(id="item", max_length=32, placeholder=_("product or service code")))
            yield field_row(_("List"), Input(id="list", max_length=20,
                                             placeholder=_("tier or price level code; empty: retail")))
            yield field_row(_("Store"), Input(id="store", max_length=20, placeholder=_("empty: every store")))
        yield field_row(_("Price (yuan)"), Input(plain_amount(row.price_fen) if row else "", id="price"))

    def operation(self):
        price = yuan(self.text("price"), _("Price"), blank=None)
        if price is None:
            raise InvalidInput(_("Price: required."))
        if self.row is None:
            item, lst, store = self.text("item"), self.text("list"), self.text("store")
        else:
            row: PriceRow = self.row
            if price == row.price_fen:
                raise InvalidInput(_("Nothing changed."))
            item, lst, store = row.item, row.list, row.store
        return partial(set_price, self.manager, item, price, list_code=lst, store=store or None)

    def succeeded(self, result: object) -> str:
        return price_key(result) if isinstance(result, PriceRow) else str(result)


class PricesScreen(ManageListScreen):
    """Every price set on a list; F8 takes one off (after a question)."""

    BINDINGS = [Binding("f8", "remove", N_("Remove"), id="manage.remove")]
    ROW_ACTIONS = ("remove",)
    TITLE = N_("Price lists")
    COLUMNS = ((N_("Item"), 9), (N_("Name"), 12), (N_("List"), 12), (N_("Store"), 8), (N_("Price"), 10),
               (N_("List price"), 10))

    def fetch(self) -> list[PriceRow]:
        return list_prices()

    def key(self, row: PriceRow) -> str:
        return price_key(row)

    def describe(self, row: PriceRow) -> str:
        return f"{row.item} {row.name} · {row.list_name or _('retail')}" + (f" · {row.store}" if row.store else "")

    def cells(self, row: PriceRow) -> Iterable[str]:
        return (row.item, row.name, row.list_name or _("retail"), row.store or _("chain"),
                format_money(row.price_fen), format_money(row.list_price_fen))

    def is_active(self, row: PriceRow) -> bool:
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "set_active":
            return False
        return super().check_action(action, parameters)

    def form(self, row: PriceRow | None) -> PriceForm:
        return PriceForm(self.manager, row)

    def set_active_call(self, row, active):  # pragma: no cover - prices are removed, not disabled
        raise InvalidInput(_("Take the price off its list instead."))

    def action_remove(self) -> None:
        row: PriceRow | None = self.current()
        if row is None:
            return
        call = partial(set_price, self.manager, row.item, None, list_code=row.list, store=row.store or None)
        self.confirm_then(_("Take {what} off its list?").format(what=self.describe(row)), call, price_key(row),
                          details=[_("The item is then priced as if it had never been on it.")],
                          done=_("Removed: {code}").format(code=row.item))


# --- the shop's own member fields --------------------------------------------------------------------------------------


FIELD_KIND_NAMES = {"text": N_("text"), "number": N_("number"), "date": N_("date"), "choice": N_("choice")}


class MemberFieldForm(ManageForm):
    """Define a member field (code, name, kind, a choice field's choices), or rename one."""

    def heading(self) -> str:
        if self.row is None:
            return _("New member field")
        return _("Member field {code} {name}").format(code=self.row.code, name=self.row.name)

    def fields(self):
        row: FieldDefinition | None = self.row
        if row is None:
            yield field_row(_("Code"), Input(id="new-code", max_length=20, placeholder=_("e.g. GOAL")))
        yield field_row(_("Name"), Input(row.name if row else "", id="name", max_length=50,
                                         placeholder=_("e.g. 健身目标")))
        if row is None:
            yield field_row(_("Kind"), Select([(_(FIELD_KIND_NAMES[k]), k) for k in FIELD_KIND_NAMES], id="kind",
                                              allow_blank=False, value="text"))
            yield field_row(_("Choices"), Input(id="choices", placeholder=_("a choice field's, with commas")))

    def operation(self):
        if self.row is None:
            choices = [c for c in re.split(r"[,，]", self.text("choices")) if c.strip()]
            return partial(define_field, self.manager, self.text("new-code"), self.text("name"),
                           self.choice("kind") or "text", choices)
        if self.text("name") == self.row.name:
            raise InvalidInput(_("Nothing changed."))
        return partial(rename_field, self.manager, self.row.code, self.text("name"))


class MemberFieldsScreen(ManageListScreen):
    TITLE = N_("Member fields")
    COLUMNS = ((N_("Code"), 8), (N_("Name"), 14), (N_("Kind"), 7), (N_("Choices"), 22), (N_("State"), 9))

    def fetch(self) -> list[FieldDefinition]:
        return field_definitions(inactive=True)

    def cells(self, row: FieldDefinition) -> Iterable[str]:
        return (row.code, row.name, _(FIELD_KIND_NAMES[row.kind]), " / ".join(row.choices), self.state(row))

    def form(self, row: FieldDefinition | None) -> MemberFieldForm:
        return MemberFieldForm(self.manager, row)

    def set_active_call(self, row: FieldDefinition, active: bool):
        return partial(set_field_active, self.manager, row.code, active)
