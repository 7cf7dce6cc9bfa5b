"""进销存 at the desk (F8, then F3): the store's stock, receiving goods by scanning (入库), counting by scanning (盘点).

* :class:`StockScreen` lists every product counted at the desk's store with on hand, value and threshold, the low
  ones marked; typing or scanning narrows it. F2 receives goods, F3 counts.
* :class:`ReceiveScreen`: each scan adds one unit of the product (``12*CODE`` typed adds 12), at the store's last
  cost until F4 changes the line's quantity or cost; F10 takes them all in as one receipt (txid made when the
  screen opened: a double F10 never receives twice), with the supplier and delivery note typed at the top.
* :class:`CountScreen` opens the store's count sheet (or goes on with the open one); each scan counts one more and
  is saved at once (a desk closed mid-count loses nothing); F4 sets a line's count and reason; F10 posts the
  variances after a yes, with a manager's PIN when a cashier counted; F9 cancels the sheet.

Every rule, quantity check and permission is the stock services'; these screens send what was typed or scanned.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Header, Input, Label

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.common import (
    SavingNotice,
    Swiped,
    WorkerErrors,
    error_message,
    in_connection,
    typed_character,
)
from mms_tui.screens.dialog import ConfirmScreen, field_row
from mms_tui.services.base.errors import DomainError, InvalidInput
from mms_tui.services.base.text import fit, format_money, parse_count, parse_yuan, plain_amount
from mms_tui.services.ledger.operations import new_txid
from mms_tui.services.stock.common import StockLine
from mms_tui.services.stock.counts import CountSheet, count_item, count_sheet, open_count, post_count
from mms_tui.services.stock.queries import levels
from mms_tui.services.stock.receiving import ReceiptResult, item_for_receipt, receive
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

#: the base units, for the catalog (a product's unit is shown translated)
_UNITS = (N_("pcs"), N_("ml"), N_("g"))


def split_qty(text: str) -> tuple[int, str]:
    """'12*WATER' → (12, 'WATER'); 'WATER' → (1, 'WATER')."""
    head, sep, tail = text.partition("*")
    if sep and head.strip().isdigit():
        return int(head.strip()), tail.strip()
    return 1, text.strip()


class _ScanScreen(WorkerErrors, Screen[None]):
    """What the receiving and counting screens share: a scan box that keeps the keyboard, a table, a status line."""

    def say(self, message: str, *, error: bool = False) -> None:
        status = self.query_one(".stock-status", Label)
        status.update(message)
        status.set_class(error, "error")

    def on_swiped(self, event: Swiped) -> None:
        """A barcode scanned on a serial scanner is one unit of that product, never a member's card."""
        if event.read.kind not in ("barcode", "wedge"):
            return
        event.stop()
        self.scanned(*split_qty(event.read.value))  # a fast typist's '12*CODE' comes as a wedge burst too

    def scanned(self, qty: int, key: str) -> None:
        raise NotImplementedError

    @on(Input.Submitted, "#scan")
    def scan_entered(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        if text:
            qty, key = split_qty(text)
            self.scanned(qty, key)

    def on_screen_suspend(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = False

    def on_screen_resume(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = True
        self.query_one("#scan", Input).focus()

    def lay_out(self, title: str, table_id: str, columns: tuple[tuple[str, int], ...]) -> None:
        """The title with the desk's store, the table's columns (labels untranslated), the scan box's keyboard."""
        self.title = _(title).format(store=self.app.settings.store or "")
        table = self.query_one(table_id, DataTable)
        for label, width in columns:
            table.add_column(_(label), width=width)
        self.query_one("#scan", Input).focus()

    def highlighted_row(self, table_id: str, count: int) -> int | None:
        table = self.query_one(table_id, DataTable)
        return min(table.cursor_row, count - 1) if count else None


# --- the list ----------------------------------------------------------------------------------------------------


class StockScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="stock.back"),
        Binding("f2", "receive", N_("Receive goods"), id="stock.receive"),
        Binding("f3", "count", N_("Count stock"), id="stock.count"),
        Binding("f5", "reload", N_("Refresh"), id="stock.reload"),
    ]
    COLUMNS = ((N_("Code"), 12), (N_("Name"), 18), (N_("Unit"), 4), (N_("On hand"), 9), (N_("Value"), 11),
               (N_("Low at"), 7), ("", 4))

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=_("Type or scan to filter · F2 receive · F3 count"), id="stock-filter",
                    select_on_focus=False)
        yield Table(id="stock-table", cursor_type="row", zebra_stripes=True)
        yield Label("", id="stock-list-status", classes="stock-status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("Stock · {store}").format(store=self.app.settings.store or "")
        table = self.query_one("#stock-table", DataTable)
        for label, width in self.COLUMNS:
            table.add_column(_(label) if label else "", width=width)
        self.query_one("#stock-filter", Input).focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="stock-load", exit_on_error=False)
    async def load(self) -> None:
        try:
            rows = await asyncio.to_thread(in_connection, lambda: list(levels(store=self.app.settings.store)))
        except Exception as exc:
            self.query_one("#stock-list-status", Label).update(error_message(exc))
            return
        self.rows = rows
        self.show()

    def show(self) -> None:
        needles = self.query_one("#stock-filter", Input).value.lower().split()
        shown = [r for r in self.rows
                 if all(n in f"{r['code']} {r['name']} {r['category']}".lower() for n in needles)]
        table = self.query_one("#stock-table", DataTable)
        table.clear()
        for r in shown:
            table.add_row(fit(r["code"], 12), fit(r["name"], 18), _(r["unit"]), str(r["on_hand"]),
                          format_money(r["value_fen"]), "" if r["low_at"] is None else str(r["low_at"]),
                          _("low") if r["low"] else "")
        low = sum(1 for r in self.rows if r["low"])
        self.query_one("#stock-list-status", Label).update(
            _("{shown} of {total} products · {low} low · value {value}").format(
                shown=len(shown), total=len(self.rows), low=low,
                value=format_money(sum(r["value_fen"] for r in self.rows))))

    @on(Input.Changed, "#stock-filter")
    def filtered(self) -> None:
        self.show()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#stock-filter", Input)
        char = typed_character(event)
        if box.has_focus or char is None:
            return
        event.stop()
        box.value += char
        box.focus()

    def on_swiped(self, event: Swiped) -> None:
        event.stop()
        box = self.query_one("#stock-filter", Input)
        box.value = event.read.value
        box.focus()

    def on_screen_suspend(self) -> None:
        self.query_one("#stock-filter", Input).cursor_blink = False

    def on_screen_resume(self) -> None:
        self.query_one("#stock-filter", Input).cursor_blink = True
        self.load()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_receive(self) -> None:
        self.app.push_screen(ReceiveScreen())

    def action_count(self) -> None:
        self.app.push_screen(CountScreen())


# --- receiving (入库) ---------------------------------------------------------------------------------------------


@dataclass
class _ReceiptLine:
    code: str
    name: str
    unit: str
    qty: int
    cost_fen: int


class ReceiveScreen(_ScanScreen):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="receive.back"),
        Binding("f3", "supplier", N_("Supplier"), id="receive.supplier"),
        Binding("f4", "edit_line", N_("Qty & cost"), id="receive.edit"),
        Binding("delete", "remove_line", N_("Remove line"), id="receive.remove"),
        Binding("f10", "save", N_("Receive"), id="receive.save", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[_ReceiptLine] = []
        self.txid = new_txid()
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="receive-head"):
            yield Input(placeholder=_("F3 supplier code (optional)"), id="supplier", compact=True)
            yield Input(placeholder=_("Delivery note no."), id="reference", compact=True)
        yield Input(placeholder=_("Scan or type a code + Enter (12*CODE: 12 of it)"), id="scan")
        yield Table(id="receive-lines", cursor_type="row", zebra_stripes=True)
        yield Label("", id="receive-total")
        yield Label("", id="receive-status", classes="stock-status")
        yield Footer()

    def on_mount(self) -> None:
        self.lay_out(N_("Receive goods · {store}"), "#receive-lines", (
            (N_("Code"), 14), (N_("Name"), 22), (N_("Qty"), 8), (N_("Unit cost"), 10), (N_("Value"), 12)))
        self.show()

    def show(self, cursor: int | None = None) -> None:
        table = self.query_one("#receive-lines", DataTable)
        table.clear()
        for line in self.lines:
            table.add_row(fit(line.code, 14), fit(line.name, 22), f"{line.qty} {_(line.unit)}",
                          format_money(line.cost_fen), format_money(line.qty * line.cost_fen))
        if cursor is not None and self.lines:
            table.move_cursor(row=cursor)
        self.query_one("#receive-total", Label).update(_("{lines} lines · {qty} units · {value}").format(
            lines=len(self.lines), qty=sum(x.qty for x in self.lines),
            value=format_money(sum(x.qty * x.cost_fen for x in self.lines))))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit_line", "remove_line", "save"):
            return bool(self.lines) or None
        return True

    def scanned(self, qty: int, key: str) -> None:
        self.find(qty, key)

    @work(exclusive=False, group="receive-find", exit_on_error=False)
    async def find(self, qty: int, key: str) -> None:
        try:
            item = await asyncio.to_thread(in_connection, item_for_receipt, key, self.app.settings.store)
        except Exception as exc:
            self.say(error_message(exc), error=True)
            self.app.bell()
            return
        for i, line in enumerate(self.lines):
            if line.code == item.code:
                line.qty += qty
                self.show(i)
                break
        else:
            self.lines.append(_ReceiptLine(item.code, item.name, item.unit, qty, item.last_cost_fen))
            self.show(len(self.lines) - 1)
        self.say(_("{code} {name}: {qty} on this receipt (on hand {on_hand}).").format(
            code=item.code, name=item.name, qty=next(x.qty for x in self.lines if x.code == item.code),
            on_hand=item.on_hand))

    def action_edit_line(self) -> None:
        row = self.highlighted_row("#receive-lines", len(self.lines))
        if row is None:
            return
        line = self.lines[row]

        def edited(values: tuple[int, int | None, str] | None) -> None:
            if values is not None:
                line.qty, cost, _reason = values
                line.cost_fen = cost if cost is not None else line.cost_fen
                self.show(row)

        self.app.push_screen(StockLineDialog(f"{line.code} {line.name}", line.qty, cost_fen=line.cost_fen), edited)

    def action_remove_line(self) -> None:
        row = self.highlighted_row("#receive-lines", len(self.lines))
        if row is not None:
            del self.lines[row]
            self.show(max(0, row - 1))

    def action_supplier(self) -> None:
        self.query_one("#supplier", Input).focus()

    @on(Input.Submitted, "#supplier, #reference")
    def head_entered(self, event: Input.Submitted) -> None:
        if event.input.id == "supplier":
            self.query_one("#reference", Input).focus()
        else:
            self.query_one("#scan", Input).focus()

    def action_save(self) -> None:
        if self.busy or not self.lines:
            return
        typed = self.query_one("#scan", Input).value.strip()
        if typed:
            self.say(_("{text!r} is typed but not entered: Enter adds it, or clear it.").format(text=typed),
                     error=True)
            return
        self.busy = True
        supplier = self.query_one("#supplier", Input).value.strip() or None
        reference = self.query_one("#reference", Input).value.strip()
        lines = [StockLine(x.code, x.qty, x.cost_fen) for x in self.lines]
        self.submit(lines, supplier, reference)

    @work(exclusive=True, group="receive-save", exit_on_error=False)
    async def submit(self, lines: list[StockLine], supplier: str | None, reference: str) -> None:
        notice = SavingNotice(self)
        try:
            result: ReceiptResult = await asyncio.to_thread(
                in_connection, receive, self.app.staff, lines, self.txid, store=self.app.settings.store,
                supplier=supplier, reference=reference)
        except Exception as exc:
            self.busy = False
            self.say("✗ " + error_message(exc), error=True)
            return
        finally:
            notice.done()
        self.busy = False
        self.lines = []
        self.txid = new_txid()  # the next receipt is another operation
        self.show()
        self.say(_("✓ Received {qty} units worth {value}.").format(qty=result.qty,
                                                                   value=format_money(result.value_fen)))

    def action_back(self) -> None:
        if not self.lines:
            self.dismiss(None)
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen(_("Leave without receiving?"), [
            _("{n} lines scanned here are not saved.").format(n=len(self.lines))], warning=True), answered)


# --- counting (盘点) ----------------------------------------------------------------------------------------------


class CountScreen(_ScanScreen):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="count.back"),
        Binding("f4", "set_line", N_("Set count"), id="count.set"),
        Binding("f9", "cancel_sheet", N_("Cancel sheet"), id="count.cancel"),
        Binding("f10", "post", N_("Post"), id="count.post", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.count_id: int | None = None
        self.sheet: CountSheet | None = None
        self.txid = new_txid()
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=_("Scan or type a code + Enter: one more counted (5*CODE: 5 more)"), id="scan")
        yield Table(id="count-lines", cursor_type="row", zebra_stripes=True)
        yield Label("", id="count-summary")
        yield Label("", id="count-status", classes="stock-status")
        yield Footer()

    def on_mount(self) -> None:
        self.lay_out(N_("Count stock · {store}"), "#count-lines", (
            (N_("Code"), 14), (N_("Name"), 22), (N_("On hand"), 8), (N_("Counted"), 8), (N_("Variance"), 8)))
        self.start()

    @work(exclusive=True, group="count-load", exit_on_error=False)
    async def start(self) -> None:
        def opened() -> CountSheet:
            return count_sheet(open_count(self.app.staff, store=self.app.settings.store))

        try:
            sheet = await asyncio.to_thread(in_connection, opened)
        except Exception as exc:
            self.say(error_message(exc), error=True)
            return
        self.count_id = sheet.id
        self.show(sheet)

    def show(self, sheet: CountSheet, code: str | None = None) -> None:
        self.sheet = sheet
        table = self.query_one("#count-lines", DataTable)
        table.clear()
        for line in sheet.lines:
            table.add_row(fit(line.code, 14), fit(line.name, 22), str(line.on_hand),
                          "" if line.counted is None else str(line.counted),
                          "" if line.variance is None else f"{line.variance:+d}" if line.variance else "0")
        codes = [x.code for x in sheet.lines]
        if code in codes:
            table.move_cursor(row=codes.index(code))
        off = sum(1 for x in sheet.lines if x.variance)
        self.query_one("#count-summary", Label).update(
            _("Sheet {id} · opened {when} by {who} · {counted} of {total} counted · {off} differ").format(
                id=sheet.id, when=sheet.opened_at[5:], who=sheet.opened_by, counted=sheet.counted,
                total=len(sheet.lines), off=off))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "set_line":
            return bool(self.sheet and self.sheet.lines) or None
        if action == "post":
            return bool(self.sheet and self.sheet.counted) or None
        if action == "cancel_sheet":
            return self.sheet is not None or None
        return True

    def scanned(self, qty: int, key: str) -> None:
        if self.count_id is not None:
            self.count(key, qty, True, None)

    @work(exclusive=False, group="count-item", exit_on_error=False)
    async def count(self, key: str, qty: int, add: bool, reason: str | None) -> None:
        count_id = self.count_id

        def counted():
            line = count_item(self.app.staff, count_id, key, qty, add=add, reason=reason)
            return line, count_sheet(count_id)

        try:
            line, sheet = await asyncio.to_thread(in_connection, counted)
        except Exception as exc:
            self.say(error_message(exc), error=True)
            self.app.bell()
            return
        self.show(sheet, line.code)
        self.say(_("{code} {name}: counted {counted} (on hand {on_hand}).").format(
            code=line.code, name=line.name, counted=line.counted, on_hand=line.on_hand))

    def action_set_line(self) -> None:
        if self.sheet is None:
            return
        row = self.highlighted_row("#count-lines", len(self.sheet.lines))
        if row is None:
            return
        line = self.sheet.lines[row]

        def edited(values: tuple[int, int | None, str] | None) -> None:
            if values is not None:
                self.count(line.code, values[0], False, values[2])

        self.app.push_screen(StockLineDialog(f"{line.code} {line.name}", line.counted or 0, reason=line.reason,
                                             allow_zero=True), edited)

    def action_post(self) -> None:
        sheet = self.sheet
        if sheet is None or self.busy or not sheet.counted:
            return
        differ = [x for x in sheet.lines if x.variance]
        details = [f"{x.code} {x.name}: {x.on_hand} → {x.counted} ({x.variance:+d})" for x in differ[:6]]
        if len(differ) > 6:
            details.append(_("… and {n} more").format(n=len(differ) - 6))
        uncounted = len(sheet.lines) - sheet.counted
        if uncounted:
            details.append(_("{n} products not counted stay as they are.").format(n=uncounted))

        def answered(yes: bool | None) -> None:
            if yes:
                self.approve_then_post()

        self.app.push_screen(ConfirmScreen(_("Post the count: {n} variances?").format(n=len(differ)),
                                           details or [_("Everything counted matches.")]), answered)

    def approve_then_post(self) -> None:
        from mms_tui.screens.pin import ManagerPinScreen
        from mms_tui.services.staff.permissions import may

        if may(self.app.staff, "stock.approve"):
            self.submit(None)
            return

        def approved(manager: Staff | None) -> None:
            if manager is not None:
                self.submit(manager)

        self.app.push_screen(ManagerPinScreen(_("Post the stock count"), "stock.approve"), approved)

    @work(exclusive=True, group="count-post", exit_on_error=False)
    async def submit(self, approver: Staff | None) -> None:
        self.busy = True
        notice = SavingNotice(self)
        try:
            result = await asyncio.to_thread(in_connection, post_count, self.app.staff, self.count_id, self.txid,
                                             approver=approver)
        except Exception as exc:
            self.busy = False
            self.say("✗ " + error_message(exc), error=True)
            return
        finally:
            notice.done()
        self.busy = False
        self.notify(_("Count {id} posted: {n} variances, {value}.").format(
            id=result.count_id, n=len(result.variances), value=format_money(result.value_fen)))
        self.dismiss(None)

    def action_cancel_sheet(self) -> None:
        if self.count_id is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.cancel_sheet()

        self.app.push_screen(ConfirmScreen(_("Cancel count sheet {id}?").format(id=self.count_id), [
            _("What was counted on it is dropped; stock stays as it is.")], warning=True), answered)

    @work(exclusive=True, group="count-post", exit_on_error=False)
    async def cancel_sheet(self) -> None:
        from mms_tui.services.stock.counts import cancel_count

        try:
            await asyncio.to_thread(in_connection, cancel_count, self.app.staff, self.count_id)
        except Exception as exc:
            self.say(error_message(exc), error=True)
            return
        self.notify(_("Count sheet {id} cancelled.").format(id=self.count_id))
        self.dismiss(None)

    def action_back(self) -> None:
        """The sheet stays open: what was counted is saved, the count goes on later."""
        self.dismiss(None)


# --- a line's quantity (and cost, or reason) ---------------------------------------------------------------------


class StockLineDialog(WorkerErrors, ModalScreen[tuple[int, int | None, str] | None]):
    """A line's quantity, and its unit cost (receiving) or the reason it differs (counting). Returns (qty, cost or
    None, reason), or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="stock_line.cancel"),
        Binding("f10", "confirm", N_("Confirm"), id="stock_line.confirm", priority=True),
    ]

    def __init__(self, what: str, qty: int, *, cost_fen: int | None = None, reason: str | None = None,
                 allow_zero: bool = False) -> None:
        super().__init__()
        self.what = what
        self.qty = qty
        self.cost_fen = cost_fen
        self.reason = reason
        self.allow_zero = allow_zero

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.what, classes="dialog-title")
            error = Label("", id="stock-line-error", classes="error")
            error.display = False
            yield error
            yield field_row(_("Quantity"), Input(str(self.qty), id="line-qty"))
            if self.cost_fen is not None:
                yield field_row(_("Unit cost (¥)"), Input(plain_amount(self.cost_fen), id="line-cost"))
            if self.reason is not None:
                yield field_row(_("Reason"), Input(self.reason, id="line-reason", placeholder=_("破损, 过期…")))
            yield Label(_("F10 to confirm, Esc to cancel"), classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#line-qty", Input).focus()

    def read(self) -> tuple[int, int | None, str]:
        qty = parse_count(self.query_one("#line-qty", Input).value)
        if qty == 0 and not self.allow_zero:
            raise InvalidInput(_("The quantity must be more than 0."))
        cost = None
        if self.cost_fen is not None:
            cost = parse_yuan(self.query_one("#line-cost", Input).value or "0")
            if cost < 0:
                raise InvalidInput(_("The cost cannot be negative."))
        reason = self.query_one("#line-reason", Input).value.strip() if self.reason is not None else ""
        return qty, cost, reason

    def action_confirm(self) -> None:
        try:
            values = self.read()
        except DomainError as exc:
            label = self.query_one("#stock-line-error", Label)
            label.update(str(exc))
            label.display = True
            return
        self.dismiss(values)

    @on(Input.Submitted)
    def next_field(self) -> None:
        self.focus_next()

    def action_cancel(self) -> None:
        self.dismiss(None)
