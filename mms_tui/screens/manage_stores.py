"""Stores in the manager's area: the chain's tree (总部 → 区域 → 门店), each node under its parent. The same calls as
``mms stores add|edit|move|close``: adding, renaming, moving and closing are an admin's; a manager may change the
address, phone and receipt header of their own stores (the service decides, and says so)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.binding import Binding
from textual.widgets import Input, Select

from mms_tui.i18n import N_, _
from mms_tui.models import STORE_KINDS, Staff
from mms_tui.screens.dialog import field_row
from mms_tui.screens.manage import ManageListScreen
from mms_tui.screens.manage_form import ManageForm, changed
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.staff.stores import (
    KIND_NAMES,
    StoreInfo,
    add_store,
    close_store,
    edit_store,
    list_stores,
    move_store,
)


def store_choices(stores: Iterable[StoreInfo]) -> list[tuple[str, str]]:
    """Open stores as a Select lists them: indented by their depth in the tree."""
    return [("· " * s.depth + f"{s.code} {s.name}", s.code) for s in stores if s.closed_at is None]


def _header_typed(header: str) -> str:
    """A receipt header on one line of a form: its line breaks as \\n, which the service reads back."""
    return header.replace("\n", "\\n")


class StoreForm(ManageForm):
    def __init__(self, manager: Staff, row: StoreInfo | None, stores: list[StoreInfo]) -> None:
        super().__init__(manager, row)
        self.stores = stores

    def heading(self) -> str:
        if self.row is None:
            return _("New store")
        return _("Store {code} {name}").format(code=self.row.code, name=self.row.name)

    def fields(self):
        row: StoreInfo | None = self.row
        if row is None:
            yield field_row(_("Store code"), Input(id="new-code", max_length=20, placeholder=_("letters and digits")))
        yield field_row(_("Name"), Input(row.name if row else "", id="name", max_length=100))
        yield field_row(_("Kind"), Select([(_(KIND_NAMES[k]), k) for k in STORE_KINDS], id="kind",
                                          allow_blank=False, value=row.kind if row else "store"))
        if row is None:
            choices = store_choices(self.stores)
            yield field_row(_("Under"), Select(choices, id="parent", prompt=_("(none: a new root)"),
                                               value=choices[0][1] if choices else Select.NULL))
        yield field_row(_("Address"), Input(row.address if row else "", id="address", max_length=200))
        yield field_row(_("Phone"), Input(row.phone if row else "", id="phone", max_length=30))
        yield field_row(_("Receipt header"), Input(_header_typed(row.receipt_header) if row else "",
                                                   id="header", placeholder=_("\\n starts a new line")))
        yield field_row(_("Time zone"), Input(row.time_zone if row else "", id="zone", max_length=64,
                                              placeholder=_("empty: the chain's")))

    def operation(self):
        values = {"name": self.text("name"), "kind": self.choice("kind") or "store", "address": self.text("address"),
                  "phone": self.text("phone"), "receipt_header": self.text("header"), "time_zone": self.text("zone")}
        if self.row is None:
            return partial(add_store, self.text("new-code"), values.pop("name"), self.manager,
                           parent=self.choice("parent"), **values)
        row: StoreInfo = self.row
        before = {"name": row.name, "kind": row.kind, "address": row.address, "phone": row.phone,
                  "receipt_header": _header_typed(row.receipt_header), "time_zone": row.time_zone}
        changes = changed(before, values)
        if not changes:
            raise InvalidInput(_("Nothing changed."))
        return partial(edit_store, row.code, self.manager, **changes)


class MoveStoreForm(ManageForm):
    """A store, with every store below it, under another node (or made a root)."""

    def __init__(self, manager: Staff, row: StoreInfo, stores: list[StoreInfo]) -> None:
        super().__init__(manager, row)
        self.stores = stores

    def heading(self) -> str:
        return _("Move {code} {name}, with the stores below it").format(code=self.row.code, name=self.row.name)

    def fields(self):
        yield field_row(_("Under"), Select(store_choices(self.stores), id="parent", prompt=_("(none: a root)"),
                                           value=self.row.parent or Select.NULL))

    def operation(self):
        return partial(move_store, self.row.code, self.choice("parent"), self.manager)


class StoresScreen(ManageListScreen):
    TITLE = N_("Stores")
    COLUMNS = ((N_("Code"), 12), (N_("Name"), 14), (N_("Kind"), 6), (N_("Phone"), 13), (N_("Address"), 11),
               (N_("State"), 8))
    BINDINGS = [
        Binding("f6", "close_store", N_("Close store"), id="manage.close_store"),
        Binding("f7", "move", N_("Move"), id="manage.move"),
    ]
    ROW_ACTIONS = ("move", "close_store")

    def fetch(self) -> list[StoreInfo]:
        return list_stores(include_closed=True)

    def cells(self, row: StoreInfo) -> Iterable[str]:
        closed = _("closed") if row.closed_at else ""
        return ("· " * row.depth + row.code, row.name, _(KIND_NAMES[row.kind]), row.phone, row.address, closed)

    def is_active(self, row: StoreInfo) -> bool:
        return row.closed_at is None

    def form(self, row: StoreInfo | None) -> StoreForm:
        return StoreForm(self.manager, row, self.rows)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "set_active":
            return False  # a store is closed (F6), never disabled; it does not open again
        if action in self.ROW_ACTIONS:
            row = self.current()
            return (row is not None and row.closed_at is None) or None
        return super().check_action(action, parameters)

    def action_move(self) -> None:
        row = self.current()
        if row is not None:
            self.app.push_screen(MoveStoreForm(self.manager, row, self.rows), self.saved)

    def action_close_store(self) -> None:
        row = self.current()
        if row is not None and row.closed_at is None:
            self.confirm_then(_("Close {what}?").format(what=self.describe(row)),
                              partial(close_store, row.code, self.manager), row.code,
                              details=[_("It takes no new operation from now on; its history stays in every "
                                         "report. A closed store does not open again.")])
