"""The forms of the manager's area: an :class:`~mms_tui.screens.dialog.OperationDialog` that returns the code of the
row it added or changed, and the reading of what a person types into one (amounts in yuan, counts), refused with
the field's name; every other check is the services'."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Label, Select

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.dialog import OperationDialog
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import parse_yuan

# --- reading a form: the numbers a person types, refused with the field's name -----------------------------------


def yuan(text: str, field: str, *, blank: int | None = 0) -> int | None:
    """An amount typed in yuan, in fen (``blank`` when nothing is typed)."""
    if not text.strip():
        return blank
    try:
        return parse_yuan(text)
    except InvalidInput as exc:
        raise InvalidInput(_("{field}: {reason}").format(field=field, reason=exc)) from None


def whole_number(text: str, field: str) -> int | None:
    """A count typed (visits, days, minutes), or None when nothing is typed."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(_("{field}: a whole number, not {value!r}.").format(field=field, value=text[:20]))
    return int(text)


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What an edit form changed: the services are asked to change only that (a manager may edit a store's
    phone, say, but not its name, even to the name it has)."""
    return {key: value for key, value in after.items() if before.get(key) != value}


class ManageForm(OperationDialog):
    """A form of the manager's area. Returns the code of the row added or changed (the list keeps its cursor on
    it), or None when cancelled. ``row`` given: edit it."""

    HINT = N_("F10 to save, Esc to cancel")

    def __init__(self, manager: Staff, row: Any = None) -> None:
        super().__init__()
        self.manager = manager
        self.row = row

    def on_mount(self) -> None:
        for widget in self.query("Input, Select"):
            if not widget.disabled:
                widget.focus()
                break

    def text(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    def choice(self, field_id: str) -> str | None:
        value = self.query_one(f"#{field_id}", Select).value
        return value if isinstance(value, str) else None

    def succeeded(self, result: object) -> str:
        return str(getattr(result, "code", result))

    def failed(self, message: str) -> None:
        super().failed(message)
        self.query_one("#dialog-error", Label).scroll_visible()
