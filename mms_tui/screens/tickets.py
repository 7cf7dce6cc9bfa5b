"""Service tickets at the desk (客户服务, services/messages/tickets.py): a member's question, complaint or request
recorded from the member screen (Ctrl+K), which then shows it until it is closed; the open tickets worked from
Today (F4): answered, noted, closed, assigned."""

from __future__ import annotations

import asyncio
from functools import partial

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Select, Static

from mms_tui.i18n import N_, _
from mms_tui.screens.common import WorkerErrors, error_message, in_connection
from mms_tui.screens.dialog import OperationDialog, field_row
from mms_tui.services.base.text import fit
from mms_tui.services.members.view import TICKET_KIND_NAMES
from mms_tui.services.messages.tickets import (
    TicketLine,
    add_note,
    assign,
    close_ticket,
    history,
    open_ticket,
    tickets,
)
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table


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


class TicketsScreen(WorkerErrors, Screen[None]):
    """客户服务 at the desk (F4 on Today): the open tickets, soonest due first, the highlighted one's history under
    them; answer the member (sent through the outbox), add a note, close, or — a manager — assign it."""

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="tickets.back"),
        Binding("f2", "answer", N_("Answer"), id="tickets.answer"),
        Binding("f3", "note", N_("Note"), id="tickets.note"),
        Binding("f4", "close_ticket", N_("Close"), id="tickets.close"),
        Binding("f6", "assign", N_("Assign"), id="tickets.assign"),
        Binding("f5", "reload", N_("Refresh"), id="tickets.reload", show=False),
    ]
    COLUMNS = (("#", 3), (N_("Due"), 12), (N_("Kind"), 9), (N_("Member"), 10), (N_("Subject"), 24),
               (N_("Staff"), 6))

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[TicketLine] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Table(id="tickets-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="ticket-history")
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("Service tickets")
        table = self.query_one("#tickets-table", DataTable)
        for label, width in self.COLUMNS:
            table.add_column(_(label), width=width)
        table.focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="tickets-load", exit_on_error=False)
    async def load(self) -> None:
        try:
            lines = await asyncio.to_thread(in_connection, tickets)
        except Exception as exc:
            self.query_one("#ticket-history", Static).update(escape(error_message(exc)))
            return
        self.lines = lines
        table = self.query_one("#tickets-table", DataTable)
        row = table.cursor_row
        table.clear()
        for t in lines:
            table.add_row(str(t.id), f"{t.due_at:%m-%d %H:%M}" + ("!" if t.overdue else ""),
                          _(TICKET_KIND_NAMES[t.kind]), fit(t.member_name, 10), fit(t.subject, 24), t.assigned_to)
        if lines:
            table.move_cursor(row=min(row, len(lines) - 1))
        else:
            self.query_one("#ticket-history", Static).update(_("No open tickets."))

    def chosen(self) -> TicketLine | None:
        if not self.lines:
            return None
        return self.lines[min(self.query_one("#tickets-table", DataTable).cursor_row, len(self.lines) - 1)]

    @on(DataTable.RowHighlighted, "#tickets-table")
    def highlighted(self) -> None:
        t = self.chosen()
        if t is not None:
            self.show_history(t.id)

    @work(exclusive=True, group="ticket-history", exit_on_error=False)
    async def show_history(self, ticket_id: int) -> None:
        try:
            _line, notes = await asyncio.to_thread(in_connection, history, ticket_id)
        except Exception as exc:
            self.query_one("#ticket-history", Static).update(escape(error_message(exc)))
            return
        kinds = {"member": _("member"), "note": _("note"), "answer": _("answer"), "event": ""}
        states = {"queued": _("waiting"), "sending": _("sending"), "sent": _("sent"), "failed": _("failed"),
                  "unknown": _("unknown"), "skipped": _("not sent")}
        text = "\n".join(f"{n.at:%m-%d %H:%M} {n.staff or '':<4} {kinds[n.kind]}"
                         f"{' (' + states[n.message_state] + ')' if n.message_state else ''} {n.text}".replace("  ", " ")
                         for n in notes[-8:])
        self.query_one("#ticket-history", Static).update(escape(text))

    def _step(self, kind: str) -> None:
        t = self.chosen()
        if t is not None:
            self.app.push_screen(TicketStepDialog(t, kind, self.app.staff), self.after_step)

    def after_step(self, line: str | None) -> None:
        if line:
            self.notify(line)
        self.load()

    def action_answer(self) -> None:
        self._step("answer")

    def action_note(self) -> None:
        self._step("note")

    def action_close_ticket(self) -> None:
        self._step("close")

    def action_assign(self) -> None:
        self._step("assign")

    def action_back(self) -> None:
        self.dismiss(None)


class TicketStepDialog(OperationDialog):
    """One step on a ticket: an answer to the member, a note, the close (with how it was resolved) or an
    assignment (a staff code)."""

    HEADINGS = {"answer": N_("Answer {name} about #{id}"), "note": N_("Note on #{id}"),
                "close": N_("Close #{id}"), "assign": N_("Assign #{id}")}
    LABELS = {"answer": N_("Answer"), "note": N_("Note"), "close": N_("How it was resolved"),
              "assign": N_("Staff code")}

    def __init__(self, ticket: TicketLine, kind: str, staff) -> None:
        super().__init__()
        self.ticket = ticket
        self.kind = kind
        self.staff = staff

    def heading(self) -> str:
        title = _(self.HEADINGS[self.kind]).format(name=self.ticket.member_name, id=self.ticket.id)
        return f"{title}: {self.ticket.subject}"

    def fields(self):
        hint = _("sent to the member by their channel") if self.kind == "answer" else ""
        yield field_row(_(self.LABELS[self.kind]), Input(id="step-text", max_length=2000, placeholder=hint))

    def on_mount(self) -> None:
        self.query_one("#step-text", Input).focus()

    def operation(self):
        text = self.query_one("#step-text", Input).value
        if self.kind == "close":
            return partial(close_ticket, self.staff, self.ticket.id, text)
        if self.kind == "assign":
            return partial(assign, self.staff, self.ticket.id, text.strip())
        return partial(add_note, self.staff, self.ticket.id, text, answer=self.kind == "answer")

    def succeeded(self, result: object) -> str:
        return {"answer": _("✓ Answer queued for {name}."), "note": _("✓ Note added."),
                "close": _("✓ Ticket #{id} closed."), "assign": _("✓ Ticket #{id} assigned.")}[self.kind].format(
            name=self.ticket.member_name, id=self.ticket.id)
