"""A member's question, complaint or request recorded at the desk (Ctrl+K on the member screen): the member
screen then shows it until it is closed (services/messages/tickets.py; answered and closed with ``mms tickets``)."""

from __future__ import annotations

from functools import partial

from textual.widgets import Input, Select

from mms_tui.i18n import _
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.services.members.view import TICKET_KIND_NAMES
from mms_tui.services.messages.tickets import TicketLine, open_ticket


class TicketDialog(OperationDialog):
    """Returns the line saying the ticket was opened, or None."""

    def __init__(self, member_id: int, member_name: str, staff) -> None:
        super().__init__()
        self.member_id = member_id
        self.member_name = member_name
        self.staff = staff

    def heading(self) -> str:
        return _("Service ticket for {name}").format(name=self.member_name)

    def fields(self):
        yield field_row(_("Kind"), Select([(_(name), kind) for kind, name in TICKET_KIND_NAMES.items()],
                                          id="kind", allow_blank=False, value="question"))
        yield field_row(_("Subject"), Input(id="subject", max_length=200, placeholder=_("in a few words")))
        yield field_row(_("In their words"), Input(id="text", max_length=2000,
                                                   placeholder=_("what the member said or asks for")))

    def on_mount(self) -> None:
        self.query_one("#subject", Input).focus()

    def operation(self):
        kind = self.query_one("#kind", Select).value
        return partial(open_ticket, self.staff, self.member_id, kind if isinstance(kind, str) else "question",
                       self.query_one("#subject", Input).value, self.query_one("#text", Input).value)

    def succeeded(self, result: object) -> str:
        assert isinstance(result, TicketLine)
        return _("✓ Ticket #{id} opened, due {due}.").format(id=result.id, due=f"{result.due_at:%m-%d %H:%M}")
