"""Staff in the manager's area: who logs in where, and the performers (技师/教练) who serve members. The same calls
as ``mms staff add|edit|disable|enable|reset-pin``; a manager sees and changes the staff of their own stores only
(the service decides, and says so)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.binding import Binding
from textual.widgets import Input, Select

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.common import Swiped
from mms_tui.screens.dialog import field_row
from mms_tui.screens.manage import ManageListScreen
from mms_tui.screens.manage_form import ManageForm, changed
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.staff.admin import (
    PERFORMER,
    StaffRow,
    add_staff,
    edit_staff,
    list_staff,
    reset_pin,
    set_staff_active,
)
from mms_tui.services.staff.permissions import ROLE_NAMES
from mms_tui.services.staff.stores import StoreInfo, list_stores

ROLES = {**ROLE_NAMES, PERFORMER: N_("performer")}


def role_name(role: str) -> str:
    return _(ROLES.get(role, role))


def _staff_and_stores(by: Staff) -> tuple[list[StaffRow], list[StoreInfo]]:
    return list_staff(by), list_stores(include_closed=False)


class StaffForm(ManageForm):
    """Add a staff member (code, name, role, store, PIN…) or edit one (the PIN is F7's on the list)."""

    def __init__(self, manager: Staff, row: StaffRow | None, stores: list[StoreInfo]) -> None:
        super().__init__(manager, row)
        self.stores = stores

    def heading(self) -> str:
        if self.row is None:
            return _("New staff member")
        return _("Staff member {code} {name}").format(code=self.row.code, name=self.row.name)

    def fields(self):
        row: StaffRow | None = self.row
        if row is None:
            yield field_row(_("Staff code"), Input(id="new-code", max_length=20))
        yield field_row(_("Name"), Input(row.name if row else "", id="name", max_length=50))
        roles = [(role_name(role), role) for role in ROLES]
        performer = row is not None and row.role == PERFORMER
        yield field_row(_("Role"), Select(roles, id="role", allow_blank=False,
                                          value=row.role if row else "cashier", disabled=performer))
        stores = [("· " * s.depth + f"{s.code} {s.name}", s.code) for s in self.stores]
        current = row.store if row else (self.manager_store() or "")
        if current and current not in {code for _label, code in stores}:
            stores.append((current, current))  # a closed store a staff member still belongs to
        yield field_row(_("Store"), Select(stores, id="store", prompt=_("(none: an admin)"), value=current or
                                           Select.NULL))
        if row is None:
            yield field_row(_("PIN"), Input(id="pin", password=True, restrict=r"\d*", max_length=8,
                                            placeholder=_("4–8 digits; none for a performer")))
        yield field_row(_("Staff card"), Input(row.card_no if row else "", id="card",
                                               placeholder=_("swipe, or type (optional)")))
        yield field_row(_("Level"), Input(row.level if row else "", id="level",
                                          placeholder=_("e.g. 技师, 高级 (optional)")))
        yield field_row(_("Services"), Input(",".join(row.services) if row else "", id="services",
                                             placeholder=_("service codes: HAIR,SPA (optional)")))

    def manager_store(self) -> str | None:
        return next((s.code for s in self.stores if s.id == self.manager.store_id), None)

    def on_swiped(self, event: Swiped) -> None:
        """A staff card swiped on the form is its number."""
        event.stop()
        self.query_one("#card", Input).value = event.read.value

    def operation(self):
        role = self.choice("role") or "cashier"
        store = self.choice("store") or ""
        services = [code.strip().upper() for code in self.text("services").replace("，", ",").split(",")
                    if code.strip()]
        values = {"name": self.text("name"), "role": role, "store": store, "card_no": self.text("card").strip(),
                  "level": self.text("level").strip(), "services": services}
        by = self.manager
        if self.row is None:
            code, pin = self.text("new-code"), self.text("pin")
            performer = role == PERFORMER
            return partial(add_staff, code, values["name"], by=by, role="cashier" if performer else role,
                           store=store or None, pin=None if performer or not pin else pin, card_no=values["card_no"] or None,
                           performer=performer, level=values["level"] or None, services=services)
        row: StaffRow = self.row
        before = {"name": row.name, "role": row.role, "store": row.store, "card_no": row.card_no,
                  "level": row.level, "services": list(row.services)}
        changes = changed(before, values)
        if row.role == PERFORMER:
            changes.pop("role", None)
        elif changes.get("role") == PERFORMER:
            raise InvalidInput(_("Role: a staff member who logs in does not become a performer; add one."))
        if not changes:
            raise InvalidInput(_("Nothing changed."))
        return partial(edit_staff, row.code, by=by, **changes)


class ResetPinForm(ManageForm):
    """A temporary PIN for a staff member (typed twice); it opens no desk until its owner replaces it."""

    def heading(self) -> str:
        return _("Reset the PIN of {code} {name}").format(code=self.row.code, name=self.row.name)

    def fields(self):
        for field_id, label in (("pin", _("Temporary PIN")), ("pin-again", _("Again"))):
            yield field_row(label, Input(id=field_id, password=True, restrict=r"\d*", max_length=8,
                                         placeholder=_("4–8 digits")))

    def operation(self):
        pin = self.text("pin")
        if pin != self.text("pin-again"):
            raise InvalidInput(_("The two PINs differ: type the new PIN twice."))
        return partial(reset_pin, self.row.code, pin, by=self.manager)


class StaffListScreen(ManageListScreen):
    TITLE = N_("Staff")
    COLUMNS = ((N_("Code"), 7), (N_("Name"), 13), (N_("Role"), 8), (N_("Store"), 9), (N_("Level"), 4),
               (N_("Last login"), 11), (N_("State"), 9))
    BINDINGS = [Binding("f7", "reset_pin", N_("Reset PIN"), id="manage.reset_pin")]
    ROW_ACTIONS = ("reset_pin",)

    def __init__(self, manager: Staff) -> None:
        super().__init__(manager)
        self.stores: list[StoreInfo] = []

    def fetch(self) -> list[StaffRow]:
        rows, self.stores = _staff_and_stores(self.manager)
        return rows

    def cells(self, row: StaffRow) -> Iterable[str]:
        state = self.state(row) or (_("new PIN due") if row.must_change_pin else "")
        return (row.code, row.name, role_name(row.role), row.store, row.level,
                row.last_login_at.strftime("%m-%d %H:%M") if row.last_login_at else "", state)

    def haystack(self, row: StaffRow) -> str:
        return " ".join((*self.cells(row), row.card_no, *row.services))  # a staff card swiped finds its holder

    def form(self, row: StaffRow | None) -> StaffForm:
        return StaffForm(self.manager, row, self.stores)

    def set_active_call(self, row: StaffRow, active: bool):
        return partial(set_staff_active, row.code, active, by=self.manager)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reset_pin":
            row = self.current()
            return (row is not None and row.role != PERFORMER) or None
        return super().check_action(action, parameters)

    def action_reset_pin(self) -> None:
        row = self.current()
        if row is not None and row.role != PERFORMER:
            self.app.push_screen(ResetPinForm(self.manager, row), self.saved)
