"""The manager's area (F10 at the desk, 管理): a menu of what a manager keeps — staff, stores, card types, products
and services, the loyalty rules, tiers, categories, price levels and price lists — and one list screen each, and the batch top-up, built on :class:`ManageListScreen`.

A list shows every row of its kind (disabled ones too, marked), narrowed by whatever is typed, wherever the focus
is; F3 adds, Enter or F4 edits the highlighted row, F6 disables or enables it after a yes/no question, Esc goes
back. Forms are :class:`~mms_tui.screens.manage_form.ManageForm` (an :class:`~mms_tui.screens.dialog.OperationDialog`): the service refuses
with a sentence naming the field, shown on top of the form with everything typed kept. Every call passes the
manager who opened the area (the cashier's desk asked for their code and PIN): every change is recorded under
them, and every permission and store scope is the services' to check.

Each kind (``manage_staff``, ``manage_stores``, ``manage_catalogue``, ``manage_pricing``) states only its columns, its form and its
service calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.common import Swiped, WorkerErrors, error_message, in_connection, typed_character
from mms_tui.screens.dialog import ConfirmScreen, MenuScreen
from mms_tui.screens.manage_form import ManageForm
from mms_tui.services.base.text import fit
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

# --- the list ------------------------------------------------------------------------------------------------------


class ManageListScreen(WorkerErrors, Screen[None]):
    """One kind's rows. A kind states :meth:`fetch`, :attr:`COLUMNS`, :meth:`cells`, :meth:`form` and
    :meth:`set_active_call`; :meth:`key` and :meth:`is_active` read a row's ``code`` and ``active``."""

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="manage.back"),
        Binding("f3", "add", N_("Add"), id="manage.add"),
        Binding("f4", "edit", N_("Edit"), id="manage.edit"),
        Binding("f6", "set_active(False)", N_("Disable"), id="manage.disable"),
        Binding("f6", "set_active(True)", N_("Enable"), id="manage.enable"),
        Binding("up", "cursor('up')", show=False),
        Binding("down", "cursor('down')", show=False),
        Binding("pageup", "cursor('page_up')", show=False),
        Binding("pagedown", "cursor('page_down')", show=False),
    ]
    #: the screen's title (untranslated: shown through ``_``)
    TITLE = ""
    #: (label, width) of each column (labels untranslated)
    COLUMNS: Sequence[tuple[str, int]] = ()

    def __init__(self, manager: Staff) -> None:
        super().__init__()
        self.manager = manager
        self.rows: list[Any] = []
        self.shown: list[Any] = []

    # what a kind states ---------------------------------------------------------------------------------------

    def fetch(self) -> list[Any]:
        """Every row (on a worker's connection)."""
        raise NotImplementedError

    def cells(self, row: Any) -> Iterable[str]:
        raise NotImplementedError

    def form(self, row: Any | None) -> ManageForm:
        raise NotImplementedError

    def set_active_call(self, row: Any, active: bool) -> Callable[[], object]:
        raise NotImplementedError

    def key(self, row: Any) -> str:
        return str(row.code)

    def is_active(self, row: Any) -> bool:
        return bool(row.active)

    def describe(self, row: Any) -> str:
        """The row as a question names it."""
        return f"{row.code} {row.name}"

    def haystack(self, row: Any) -> str:
        """What typing filters on (any case)."""
        return " ".join(self.cells(row))

    def state(self, row: Any) -> str:
        return "" if self.is_active(row) else _("disabled")

    # the screen -----------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=_("Type to filter · F3 add · Enter edit"), id="manage-filter",
                    select_on_focus=False)
        yield Table(id="manage-table", cursor_type="row", zebra_stripes=True)
        yield Label("", id="manage-status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = _(self.TITLE)
        self.sub_title = _("Manager's area · {name}").format(name=self.manager.name)
        table = self.query_one("#manage-table", DataTable)
        for label, width in self.COLUMNS:
            table.add_column(_(label), width=width)
        self.query_one("#manage-filter", Input).focus()
        self.load()

    @work(exclusive=True, group="manage-load", exit_on_error=False)
    async def load(self, keep: str | None = None, said: str = "") -> None:
        try:
            rows = await asyncio.to_thread(in_connection, self.fetch)
        except Exception as exc:
            self.say(error_message(exc), error=True)
            return
        self.rows = rows
        self.show(keep)
        if said:
            self.say(said)

    def matches(self, row: Any, needles: list[str]) -> bool:
        haystack = self.haystack(row).lower()
        return all(needle in haystack for needle in needles)

    def show(self, keep: str | None = None) -> None:
        """The rows the filter lets through, the cursor on ``keep`` (else on the row it was on)."""
        table = self.query_one("#manage-table", DataTable)
        if keep is None and self.current() is not None:
            keep = self.key(self.current())
        needles = self.query_one("#manage-filter", Input).value.lower().split()
        self.shown = [row for row in self.rows if self.matches(row, needles)]
        table.clear()
        widths = [width for _label, width in self.COLUMNS]
        for row in self.shown:
            table.add_row(*(fit(cell, width) for cell, width in zip(self.cells(row), widths, strict=False)),
                          key=self.key(row))
        keys = [self.key(row) for row in self.shown]
        if keep in keys:
            table.move_cursor(row=keys.index(keep))
        self.say(_("{shown} of {total}").format(shown=len(self.shown), total=len(self.rows)))
        self.refresh_bindings()

    def say(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#manage-status", Label)
        status.update(message)
        status.set_class(error, "error")

    def current(self) -> Any | None:
        """The highlighted row, or None (nothing listed, or before the list is drawn)."""
        tables = self.query("#manage-table")
        if not self.shown or not tables:
            return None
        row = tables.first(DataTable).cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    @on(Input.Changed, "#manage-filter")
    def filtered(self) -> None:
        self.show()

    def on_key(self, event: events.Key) -> None:
        """Typing always filters, wherever the focus was (the list, after a click)."""
        box = self.query_one("#manage-filter", Input)
        char = typed_character(event)
        if box.has_focus or char is None:
            return
        event.stop()
        event.prevent_default()
        box.value += char
        box.cursor_position = len(box.value)
        box.focus()

    def on_screen_suspend(self) -> None:
        """Under a form or a question the filter's cursor stands still: nothing blinks behind a dialog (and a
        picture of one is the same each time)."""
        self.query_one("#manage-filter", Input).cursor_blink = False

    def on_screen_resume(self) -> None:
        self.query_one("#manage-filter", Input).cursor_blink = True

    def on_swiped(self, event: Swiped) -> None:
        """A card swiped or a barcode scanned here finds its row (a staff card, a product), never opens a member
        over the manager's area."""
        event.stop()
        box = self.query_one("#manage-filter", Input)
        box.value = event.read.value
        box.cursor_position = len(box.value)
        box.focus()

    def action_cursor(self, where: str) -> None:
        getattr(self.query_one("#manage-table", DataTable), f"action_cursor_{where}")()

    @on(DataTable.RowHighlighted, "#manage-table")
    def highlighted(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        row = self.current()
        if action == "set_active":
            return row is not None and self.is_active(row) != parameters[0]
        if action in ("edit",) or action in self.ROW_ACTIONS:
            return row is not None or None
        return True

    #: the kind's own actions that need a highlighted row (greyed without one)
    ROW_ACTIONS: tuple[str, ...] = ()

    # acting ---------------------------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_add(self) -> None:
        self.app.push_screen(self.form(None), self.saved)

    def action_edit(self) -> None:
        row = self.current()
        if row is not None:
            self.app.push_screen(self.form(row), self.saved)

    @on(Input.Submitted, "#manage-filter")
    def submitted(self) -> None:
        self.action_edit()

    @on(DataTable.RowSelected, "#manage-table")
    def selected(self) -> None:
        self.action_edit()

    def saved(self, key: str | None) -> None:
        self.query_one("#manage-filter", Input).focus()
        if key is not None:
            self.load(key, _("Saved: {code}").format(code=key))

    def action_set_active(self, active: bool) -> None:
        row = self.current()
        if row is None or self.is_active(row) == active:
            return
        question = (_("Enable {what}?") if active else _("Disable {what}?")).format(what=self.describe(row))
        done = (_("Enabled: {code}") if active else _("Disabled: {code}")).format(code=self.key(row))
        self.confirm_then(question, self.set_active_call(row, active), self.key(row),
                          details=[] if active else [_("Its history stays; it can be enabled again.")], done=done)

    def confirm_then(self, question: str, call: Callable[[], object], key: str, *, details: Iterable[str] = (),
                     done: str = "") -> None:
        """Ask first (F10/Y yes, Esc/N no); on yes run ``call`` and reload with the cursor on ``key``."""
        def answered(yes: bool | None) -> None:
            self.query_one("#manage-filter", Input).focus()
            if yes:
                self.change(call, key, done or _("Saved: {code}").format(code=key))

        self.app.push_screen(ConfirmScreen(question, details, warning=True), answered)

    @work(exclusive=True, group="manage-change", exit_on_error=False)
    async def change(self, call: Callable[[], object], key: str, done: str) -> None:
        try:
            await asyncio.to_thread(in_connection, call)
        except Exception as exc:
            message = error_message(exc)
            self.say(message, error=True)
            self.notify(message, severity="error", timeout=6)
            return
        self.load(key, done)


# --- the area ------------------------------------------------------------------------------------------------------

#: what the manager's area offers: (choice, key, label)
AREA = (("staff", "1", N_("Staff")), ("stores", "2", N_("Stores")), ("card_types", "3", N_("Card types")),
        ("items", "4", N_("Products & services")), ("rules", "5", N_("Loyalty rules")), ("tiers", "6", N_("Tiers")),
        ("categories", "7", N_("Categories")), ("price_levels", "8", N_("Price levels")),
        ("prices", "9", N_("Price lists")), ("member_fields", "0", N_("Member fields")),
        ("batch_topup", "b", N_("Batch top-up")))


def area_screen(choice: str, manager: Staff) -> Screen:
    from mms_tui.screens.manage_catalogue import CardTypesScreen, ItemsScreen
    from mms_tui.screens.manage_pricing import (
        CategoriesScreen,
        MemberFieldsScreen,
        PriceLevelsScreen,
        PricesScreen,
        TiersScreen,
    )
    from mms_tui.screens.manage_staff import StaffListScreen
    from mms_tui.screens.manage_stores import StoresScreen
    from mms_tui.screens.settings import RulesScreen
    from mms_tui.screens.topup_batch import BatchTopUpScreen

    screens: dict[str, Callable[[Staff], Screen]] = {
        "staff": StaffListScreen, "stores": StoresScreen, "card_types": CardTypesScreen, "items": ItemsScreen,
        "rules": RulesScreen, "tiers": TiersScreen, "categories": CategoriesScreen,
        "price_levels": PriceLevelsScreen, "prices": PricesScreen, "member_fields": MemberFieldsScreen,
        "batch_topup": BatchTopUpScreen}
    return screens[choice](manager)


def open_area(app, manager: Staff, done: Callable[[], None]) -> None:
    """The area's menu; each screen chosen comes back to it, Esc on it leaves (``done``)."""
    def chosen(choice: str | None) -> None:
        if choice is None:
            done()
        else:
            app.push_screen(area_screen(choice, manager), lambda _result: open_area(app, manager, done))

    title = _("Manager's area · {name}").format(name=manager.name)
    app.push_screen(MenuScreen(title, [(choice, key, _(label)) for choice, key, label in AREA]), chosen)
