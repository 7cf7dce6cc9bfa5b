"""企业批量充值 in the manager's area (F10, then B): a company pays for many members' stored-value cards at once.

The manager names the file (CSV or XLSX on this machine: a card or phone column, an amount and optionally a
bonus), the batch's reference (the company's transfer or invoice number) and how the company paid. F5 reads and
checks it: every line with whose card, how much, the bonus and the rule it comes from, the tier it gives — or
every bad line named at once. F10 posts what was shown, after a yes (and a second, louder yes when the same lines
were posted under another reference: a company billed twice is the mistake to stop). The lines posted are the
ones previewed, even if the file changes in between; a second F10, or the same batch again, posts nothing twice
(the services make each line's txid from the reference).

Reading, checking, the bonus, the permission (``topup.batch``) and the posting are
:mod:`mms_tui.services.money.topup_batch`'s; this screen sends what was typed and shows what came back.
"""

from __future__ import annotations

import asyncio
import os

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static

from mms_tui.i18n import N_, _
from mms_tui.models import Staff
from mms_tui.screens.common import SavingNotice, Swiped, WorkerErrors, error_message, in_connection
from mms_tui.screens.dialog import ConfirmScreen
from mms_tui.services.base.errors import LinesRejected
from mms_tui.services.base.text import fit, format_money
from mms_tui.services.exchange.import_topups import read_batch_lines
from mms_tui.services.ledger.tenders import money_tender_choices, tender_label
from mms_tui.services.money.topup_batch import (
    BatchLine,
    BatchPreview,
    BatchResult,
    batch_summary,
    post_batch,
    preview_batch,
    refuse_repeats,
)
from mms_tui.widgets.footer import Footer
from mms_tui.widgets.table import Table

#: (label, width) of the table's columns (labels untranslated)
COLUMNS = ((N_("Line"), 4), (N_("Card"), 12), (N_("Member"), 6), (N_("Amount"), 10), (N_("Bonus"), 9),
           (N_("Rule · tier"), 23))


def _read_and_check(path: str, reference: str, tender: str, store: str | None,
                    staff: Staff) -> tuple[list[BatchLine], BatchPreview]:
    lines = read_batch_lines(os.path.expanduser(path))
    return lines, preview_batch(lines, reference, tender, store=store, staff=staff)


class BatchTopUpScreen(WorkerErrors, Screen[None]):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="batch.back"),
        Binding("f5", "preview", N_("Read & check"), id="batch.preview"),
        Binding("f10", "post", N_("Post"), id="batch.post", priority=True),
    ]

    def __init__(self, manager: Staff) -> None:
        super().__init__()
        self.manager = manager
        self.lines: list[BatchLine] = []
        self.preview: BatchPreview | None = None
        self.posted: BatchResult | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=_("File on this machine (CSV or XLSX): card or phone, amount, bonus"),
                    id="batch-file", compact=True)
        with Horizontal(id="batch-head"):
            yield Input(placeholder=_("Reference (transfer or invoice no.)"), id="batch-reference", compact=True)
            yield Select(money_tender_choices(), id="batch-tender", value="bank_card", allow_blank=False,
                         compact=True)
        yield Table(id="batch-lines", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="batch-problems"):
            yield Static("", id="batch-problem-list")
        yield Label("", id="batch-summary")
        yield Label("", id="batch-status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("Batch top-up")
        self.sub_title = _("Manager's area · {name}").format(name=self.manager.name)
        table = self.query_one("#batch-lines", DataTable)
        for label, width in COLUMNS:
            table.add_column(_(label), width=width)
        self.query_one("#batch-file", Input).focus()
        self.say(_("Name the file and the reference; F5 reads and checks every line."))

    # what is shown --------------------------------------------------------------------------------------------

    def say(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#batch-status", Label)
        status.update(message)
        status.set_class(error, "error")

    def show(self, rows, summary: str, problems: list[str] | None = None) -> None:
        """The lines checked (or posted) and their summary; or, with ``problems``, every bad line one a line where
        the lines would be."""
        self.query_one("#batch-problems").display = bool(problems)
        self.query_one("#batch-problem-list", Static).update("\n".join(problems or ()))
        table = self.query_one("#batch-lines", DataTable)
        table.display = not problems
        table.clear()
        for row in rows:
            why = " · ".join(part for part in (row.rule, row.tier) if part)
            table.add_row(str(row.line), fit(row.card_no, 12), fit(row.member, 6), format_money(row.amount_fen),
                          format_money(row.bonus_fen), fit(why, 23))
        self.query_one("#batch-summary", Label).update(summary)
        self.refresh_bindings()

    def forget(self) -> None:
        """What was checked no longer holds (the file, reference or tender changed): F5 again before F10."""
        if self.preview is None and self.posted is None:
            return
        self.preview = None
        self.posted = None
        self.lines = []
        self.show((), "")
        self.say(_("Changed: F5 reads and checks the batch again."))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "post":
            ready = self.preview is not None and self.preview.posted_on is None
            return (ready and self.posted is None and not self.busy) or None
        return True

    def on_swiped(self, event: Swiped) -> None:
        """A card swiped here never opens a member over the manager's area; a burst of keys that ended with Enter
        (a path pasted, a reader that types) is what was typed into the box with the focus, then Enter."""
        event.stop()
        box = self.focused
        if isinstance(box, Input) and box.id in ("batch-file", "batch-reference"):
            box.value = event.read.value
            box.cursor_position = len(box.value)
            if box.id == "batch-file":
                self.file_entered()
            else:
                self.reference_entered()

    @on(Input.Changed, "#batch-file, #batch-reference")
    @on(Select.Changed, "#batch-tender")
    def changed(self) -> None:
        self.forget()

    @on(Input.Submitted, "#batch-file")
    def file_entered(self) -> None:
        self.query_one("#batch-reference", Input).focus()

    @on(Input.Submitted, "#batch-reference")
    def reference_entered(self) -> None:
        self.action_preview()

    # reading and checking -------------------------------------------------------------------------------------

    def _typed(self) -> tuple[str, str, str]:
        return (self.query_one("#batch-file", Input).value.strip(),
                self.query_one("#batch-reference", Input).value.strip(),
                str(self.query_one("#batch-tender", Select).value))

    def action_preview(self) -> None:
        path, reference, tender = self._typed()
        if not path:
            self.say(_("Name the file first."), error=True)
            self.query_one("#batch-file", Input).focus()
            return
        if not reference:
            self.say(_("Give the batch its reference: the company's transfer or invoice number."), error=True)
            self.query_one("#batch-reference", Input).focus()
            return
        self.check(path, reference, tender)

    @work(exclusive=True, group="batch-check", exit_on_error=False)
    async def check(self, path: str, reference: str, tender: str) -> None:
        self.say(_("Reading {file}…").format(file=os.path.basename(path)))
        try:
            lines, preview = await asyncio.to_thread(in_connection, _read_and_check, path, reference, tender,
                                                     self.app.settings.store, self.manager)
        except LinesRejected as exc:  # every bad line listed, where the lines would be
            self.preview = None
            self.show((), "", exc.problems)
            self.say("✗ " + _("{n} bad lines: nothing was posted. Correct the file, then F5.").format(
                n=len(exc.problems)), error=True)
            return
        except Exception as exc:
            self.preview = None
            self.show((), "")
            self.say("✗ " + error_message(exc), error=True)
            return
        if self._typed() != (path, reference, tender):  # typed over while it was read: that is no longer it
            return
        self.lines, self.preview, self.posted = lines, preview, None
        self.show(preview.rows, _("{summary} · {tender} · batch {reference}").format(
            summary=batch_summary(preview), tender=tender_label(preview.tender), reference=preview.reference))
        if preview.posted_on is not None and preview.posted_same:
            self.say(_("Batch {reference} was posted on {day}: posting it again changes nothing.").format(
                reference=preview.reference, day=preview.posted_on))
        elif preview.posted_on is not None:
            self.preview = None
            self.say("✗ " + _("Batch {reference} was posted on {day} with other lines: give this file its own "
                              "reference.").format(reference=preview.reference, day=preview.posted_on), error=True)
        elif preview.same_lines_as:
            earlier = ", ".join(f"{ref} ({day})" for ref, day in preview.same_lines_as)
            self.say(_("! The same lines were posted as batch {earlier}: F10 asks twice.").format(earlier=earlier),
                     error=True)
        else:
            self.say(_("Checked: every line is good. F10 posts them all, or none."))
        self.refresh_bindings()
        self.query_one("#batch-lines", DataTable).focus()

    # posting --------------------------------------------------------------------------------------------------

    def action_post(self) -> None:
        preview = self.preview
        if preview is None or self.posted is not None or self.busy:
            return
        question = _("Post {summary} as batch {reference}?").format(summary=batch_summary(preview),
                                                                   reference=preview.reference)
        details = [_("Each line becomes a top-up on its card, in the top-ups report; all of them or none.")]

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            if preview.same_lines_as and preview.posted_on is None:
                earlier = ", ".join(f"{ref} ({day})" for ref, day in preview.same_lines_as)
                self.app.push_screen(ConfirmScreen(
                    _("These same lines were posted as batch {earlier}. Did the company really pay twice?").format(
                        earlier=earlier),
                    [_("Yes posts them again under {reference}.").format(reference=preview.reference)],
                    warning=True), lambda again: self.submit(preview, True) if again else None)
                return
            self.submit(preview, False)

        self.app.push_screen(ConfirmScreen(question, details, warning=bool(preview.same_lines_as)), answered)

    @work(exclusive=True, group="batch-post", exit_on_error=False)
    async def submit(self, preview: BatchPreview, again: bool) -> None:
        if self.busy or self.preview is not preview:
            return
        self.busy = True
        self.refresh_bindings()
        notice = SavingNotice(self)
        try:
            def post() -> BatchResult:
                refuse_repeats(preview, again)
                return post_batch(self.lines, preview.reference, preview.tender, self.manager,
                                  store=self.app.settings.store, again=again)

            done = await asyncio.to_thread(in_connection, post)
        except Exception as exc:
            self.say("✗ " + error_message(exc), error=True)
            return
        finally:
            notice.done()
            self.busy = False
            self.refresh_bindings()
        self.posted = done
        self.show(done.rows, _("{summary} · {tender} · batch {reference}").format(
            summary=batch_summary(done), tender=tender_label(preview.tender), reference=done.reference))
        if done.posted:
            self.say(_("✓ Posted batch {reference}: {summary}.").format(reference=done.reference,
                                                                       summary=batch_summary(done)))
        else:
            self.say(_("Batch {reference} was already posted; nothing changed.").format(reference=done.reference))
        self.refresh_bindings()

    def action_back(self) -> None:
        if self.preview is None or self.posted is not None:
            self.dismiss(None)
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen(_("Leave without posting?"), [
            _("The batch checked here is not posted.")], warning=True), answered)
