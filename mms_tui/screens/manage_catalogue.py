"""Card types, and products and services, in the manager's area: the same calls as ``mms cardtypes`` and
``mms products`` (prices in yuan, a discount card's share in percent paid). A card type's form shows only the terms
its kind has; the services check them and name the one that does not fit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from functools import partial

from textual import on
from textual.widgets import Input, Select

from mms_tui.i18n import N_, _
from mms_tui.models import CARD_KINDS
from mms_tui.screens.dialog import field_row
from mms_tui.screens.manage import ManageListScreen
from mms_tui.screens.manage_form import ManageForm, changed, whole_number, yuan
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import format_money, plain_amount
from mms_tui.services.catalogue.card_types import (
    EDITABLE,
    CardTypeTerms,
    add_card_type,
    edit_card_type,
    list_card_types,
    set_card_type_active,
)
from mms_tui.services.catalogue.items import KINDS, Item, add_item, edit_item, list_items, set_active

CARD_KIND_NAMES = {"stored_value": N_("stored-value card"), "points": N_("points card"),
                   "discount": N_("discount card"), "visits": N_("visit package"), "period": N_("period pass")}
ITEM_KIND_NAMES = {"product": N_("product"), "service": N_("service")}
YES_NO = ((N_("no"), "no"), (N_("yes"), "yes"))


def _days(value: int | None) -> str:
    return "" if value is None else str(value)


def _yes_no(field_id: str, value: bool):
    return Select([(_(label), key) for label, key in YES_NO], id=field_id, allow_blank=False,
                  value="yes" if value else "no")


# --- card types ----------------------------------------------------------------------------------------------------


class CardTypeForm(ManageForm):
    """Add a card type or edit one (its kind stays); the terms shown are those of the kind chosen."""

    #: the rows only one kind has
    ONLY = {"visits": ("visits", "transferable"), "discount": ("pays",), "period": ("period", "first-use")}

    def heading(self) -> str:
        if self.row is None:
            return _("New card type")
        return _("Card type {code} {name}").format(code=self.row.code, name=self.row.name)

    def fields(self):
        row: CardTypeTerms = self.row or CardTypeTerms("", "", "stored_value")
        if self.row is None:
            yield field_row(_("Code"), Input(id="new-code", max_length=20))
        yield field_row(_("Name"), Input(row.name, id="name", max_length=50))
        yield field_row(_("Kind"), Select([(_(CARD_KIND_NAMES[k]), k) for k in CARD_KINDS], id="kind",
                                          allow_blank=False, value=row.kind, disabled=self.row is not None))
        yield field_row(_("Price (yuan)"), Input(plain_amount(row.price_fen), id="price"))
        yield self.only("visits", _("Visits"), Input(str(row.visits or ""), id="visits"))
        yield self.only("transferable", _("Transferable"), _yes_no("transferable", row.transferable))
        yield self.only("pays", _("Pays (%)"), Input(plain_amount(row.discount_bp) if row.kind == "discount"
                                                     else "", id="pays", placeholder=_("88 = 88折")))
        yield self.only("period", _("Period (days)"), Input(_days(row.period_days), id="period"))
        yield self.only("first-use", _("Starts"), Select(
            [(_("when sold"), "no"), (_("at its first check-in"), "yes")], id="first-use", allow_blank=False,
            value="yes" if row.start_on_first_use else "no"))
        yield field_row(_("Valid (days)"), Input(_days(row.validity_days), id="validity",
                                                 placeholder=_("empty: no end")))
        yield field_row(_("Freeze (days)"), Input(_days(row.max_freeze_days), id="freeze",
                                                  placeholder=_("a year's most; empty: no limit")))
        yield field_row(_("Stores"), Input(",".join(row.stores), id="stores",
                                           placeholder=_("codes; empty: every store")))
        yield field_row(_("Used at"), Select([(_("every store"), "no"), (_("only these stores"), "yes")],
                                             id="bound", allow_blank=False, value="yes" if row.bound else "no"))

    def only(self, name: str, label: str, widget):
        row = field_row(label, widget)
        row.add_class(f"only-{name}")
        return row

    def on_mount(self) -> None:
        super().on_mount()
        self.show_terms()

    @on(Select.Changed, "#kind")
    def show_terms(self) -> None:
        kind = self.choice("kind")
        for owner, names in self.ONLY.items():
            for name in names:
                for row in self.query(f".only-{name}"):
                    row.display = kind == owner

    def terms(self) -> CardTypeTerms:
        kind = self.choice("kind") or "stored_value"
        pays = self.text("pays").strip().removesuffix("%")
        return CardTypeTerms(
            code=self.text("new-code") if self.row is None else self.row.code, name=self.text("name"), kind=kind,
            price_fen=yuan(self.text("price"), _("Price")),
            validity_days=whole_number(self.text("validity"), _("Validity")),
            visits=(whole_number(self.text("visits"), _("Visits")) or 0) if kind == "visits" else 0,
            discount_bp=(yuan(pays, _("Discount"), blank=None) or 0) if kind == "discount" else 10_000,
            period_days=whole_number(self.text("period"), _("Period")) if kind == "period" else None,
            transferable=kind == "visits" and self.choice("transferable") == "yes",
            start_on_first_use=kind == "period" and self.choice("first-use") == "yes",
            max_freeze_days=whole_number(self.text("freeze"), _("Freeze limit")),
            stores=tuple(c.strip() for c in self.text("stores").replace("，", ",").split(",") if c.strip()),
            bound=self.choice("bound") == "yes")

    def operation(self):
        terms = self.terms()
        if self.row is None:
            return partial(add_card_type, self.manager, terms)
        before, after = asdict(self.row), asdict(terms)
        changes = changed({k: before[k] for k in EDITABLE}, {k: after[k] for k in EDITABLE})
        if "stores" in changes and tuple(sorted(c.upper() for c in terms.stores)) == self.row.stores:
            del changes["stores"]
        if not changes:
            raise InvalidInput(_("Nothing changed."))
        return partial(edit_card_type, self.manager, self.row.code, **changes)


def card_type_terms(row: CardTypeTerms) -> str:
    """What a card of the type holds, in a few characters."""
    if row.kind == "visits":
        return _("{n} visits").format(n=row.visits)
    if row.kind == "discount":
        return _("pays {percent}%").format(percent=plain_amount(row.discount_bp))
    if row.kind == "period":
        return _("{n} days").format(n=row.period_days)
    return ""


class CardTypesScreen(ManageListScreen):
    TITLE = N_("Card types")
    COLUMNS = ((N_("Code"), 6), (N_("Name"), 11), (N_("Kind"), 13), (N_("Price"), 10), (N_("Holds"), 9),
               (N_("Valid"), 5), (N_("State"), 8))

    def fetch(self) -> list[CardTypeTerms]:
        return list_card_types(inactive=True)

    def cells(self, row: CardTypeTerms) -> Iterable[str]:
        return (row.code, row.name, _(CARD_KIND_NAMES.get(row.kind, row.kind)), format_money(row.price_fen),
                card_type_terms(row), _days(row.validity_days), self.state(row))

    def form(self, row: CardTypeTerms | None) -> CardTypeForm:
        return CardTypeForm(self.manager, row)

    def set_active_call(self, row: CardTypeTerms, active: bool):
        return partial(set_card_type_active, self.manager, row.code, active)


# --- products and services -------------------------------------------------------------------------------------------


class ItemForm(ManageForm):
    """Add a product or a service, or edit one (its kind and code stay)."""

    def heading(self) -> str:
        if self.row is None:
            return _("New product or service")
        return _("{kind} {code} {name}").format(kind=_(ITEM_KIND_NAMES[self.row.kind]), code=self.row.code,
                                                name=self.row.name)

    def fields(self):
        row: Item | None = self.row
        if row is None:
            yield field_row(_("Kind"), Select([(_(ITEM_KIND_NAMES[k]), k) for k in KINDS], id="kind",
                                              allow_blank=False, value="product"))
            yield field_row(_("Code"), Input(id="new-code", max_length=32))
        yield field_row(_("Name"), Input(row.name if row else "", id="name", max_length=100))
        yield field_row(_("Category"), Input(row.category if row else "", id="category", max_length=50))
        yield field_row(_("Price (yuan)"), Input(plain_amount(row.price_fen) if row else "", id="price"))
        yield field_row(_("Barcode"), Input((row.barcode or "") if row else "", id="barcode",
                                            placeholder=_("scan, or type (optional)")))
        duration = field_row(_("Minutes"), Input(_days(row.duration_minutes) if row else "", id="duration",
                                                 placeholder=_("how long the service takes (optional)")))
        duration.add_class("only-service")
        yield duration

    def on_mount(self) -> None:
        super().on_mount()
        self.show_duration()

    def kind(self) -> str:
        return self.row.kind if self.row is not None else (self.choice("kind") or "product")

    @on(Select.Changed, "#kind")
    def show_duration(self) -> None:
        for row in self.query(".only-service"):
            row.display = self.kind() == "service"

    def on_swiped(self, event) -> None:
        """A barcode scanned on the form is the item's barcode."""
        event.stop()
        self.query_one("#barcode", Input).value = event.read.value

    def operation(self):
        kind = self.kind()
        if not self.text("price").strip():
            raise InvalidInput(_("Price: required."))
        values = {"name": self.text("name"), "category": self.text("category"),
                  "price_fen": yuan(self.text("price"), _("Price")), "barcode": self.text("barcode").strip()}
        duration = whole_number(self.text("duration"), _("Duration")) if kind == "service" else None
        if self.row is None:
            return partial(add_item, self.manager, kind, self.text("new-code"), values.pop("name"),
                           values.pop("price_fen"), category=values["category"],
                           barcode=values["barcode"] or None, duration_minutes=duration)
        row: Item = self.row
        if kind == "service":
            values["duration_minutes"] = duration
        before = {"name": row.name, "category": row.category, "price_fen": row.price_fen,
                  "barcode": row.barcode or "", "duration_minutes": row.duration_minutes}
        changes = changed(before, values)
        if not changes:
            raise InvalidInput(_("Nothing changed."))
        return partial(edit_item, self.manager, row.code, **changes)


class ItemsScreen(ManageListScreen):
    TITLE = N_("Products & services")
    COLUMNS = ((N_("Kind"), 7), (N_("Code"), 9), (N_("Name"), 16), (N_("Price"), 10), (N_("Barcode"), 13),
               (N_("State"), 8))

    def fetch(self) -> list[Item]:
        return list_items(inactive=True)

    def key(self, row: Item) -> str:
        return row.code

    def cells(self, row: Item) -> Iterable[str]:
        return (_(ITEM_KIND_NAMES[row.kind]), row.code, row.name, format_money(row.price_fen), row.barcode or "",
                self.state(row))

    def haystack(self, row: Item) -> str:
        return " ".join((*self.cells(row), row.category))  # the category filters, though no column shows it

    def form(self, row: Item | None) -> ItemForm:
        return ItemForm(self.manager, row)

    def set_active_call(self, row: Item, active: bool):
        return partial(set_active, self.manager, row.code, active)
