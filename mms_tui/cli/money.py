"""Money in from the back office: ``mms topup batch`` (企业批量充值, a company paying for many members' cards)."""

from __future__ import annotations

import click

from mms_tui.cli.common import acting_staff, confirm, open_database, readable, settings_of
from mms_tui.cli.options import (
    dry_run_option,
    file_argument,
    format_option,
    read_encoding_option,
    staff_options,
    store_option,
    yes_option,
)
from mms_tui.cli.output import for_people, write_rows
from mms_tui.i18n import _
from mms_tui.services.ledger.tenders import MONEY_TENDERS


@click.group("topup")
def topup_group() -> None:
    """Top-ups from the back office: a company's batch for many members' cards (企业批量充值).

    \b
    mms topup batch staff.xlsx --reference TR20261206 --dry-run     # who, how much, which bonus rule
    mms topup batch staff.xlsx --reference TR20261206 --staff m01   # a manager posts it, all or nothing
    """


def _rows(rows):
    return ({"line": r.line, "card_no": r.card_no, "member": r.member, "phone": r.phone, "amount_fen": r.amount_fen,
             "bonus_fen": r.bonus_fen, "rule": r.rule, "tier": r.tier, "txid": r.txid} for r in rows)


@topup_group.command("batch")
@file_argument(stdin=True)
@click.option("--reference", required=True, metavar="REF",
              help="The company's transfer, invoice or contract number: one batch per reference; the same "
                   "reference again changes nothing.")
@click.option("--tender", default="bank_card", show_default=True,
              type=click.Choice([t.value for t in MONEY_TENDERS]), help="How the company paid.")
@read_encoding_option()
@dry_run_option("Show every line with its bonus and tier; post nothing (needs no PIN).")
@click.option("--again", is_flag=True, help="Post lines that were posted before under another reference (the "
                                            "company really paid twice).")
@yes_option()
@store_option("The store the top-ups are made at (default: the desk's store, else that of --staff).")
@staff_options("Manager who approves and posts the batch.")
@format_option()
@click.pass_context
def batch(ctx: click.Context, file: str, reference: str, tender: str, encoding: str, dry_run: bool, again: bool,
          yes: bool, store_code: str | None, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Top up many members' stored-value cards from FILE (CSV in UTF-8 or GB18030, or XLSX): a column card or
    卡号 (or phone / 手机号, when the member holds one stored-value card), amount or 金额 in yuan, and optionally
    bonus or 赠送 (empty: the loyalty rules' bonus, as at the desk); - reads it from standard input. Every bad line is named and nothing is
    posted; otherwise the lines are shown, and a manager posts them all as ordinary top-ups in one go (each in
    the top-ups report, refundable at the desk), or none. Standard output: the lines; the summary goes to
    standard error."""
    from mms_tui.services.exchange.import_topups import read_batch_lines
    from mms_tui.services.money.topup_batch import batch_summary, post_batch, preview_batch, refuse_repeats

    settings = settings_of(ctx)
    open_database(settings)
    store = store_code or settings.store
    with readable(file, pin_stdin) as path:
        lines = read_batch_lines(path, encoding)
    if dry_run:
        preview = preview_batch(lines, reference, tender, store=store)
        write_rows(for_people(_rows(preview.rows), fmt), fmt)
        if preview.posted_on is not None and preview.posted_same:
            click.echo(_("Batch {reference} was posted on {day}: posting it again changes nothing.").format(
                reference=preview.reference, day=preview.posted_on), err=True)
        elif preview.posted_on is not None:
            click.echo(_("Batch {reference} was posted on {day} with other lines: posting this file under it "
                         "would be refused.").format(reference=preview.reference, day=preview.posted_on), err=True)
        for ref, day in preview.same_lines_as:
            click.echo(_("The same lines were posted as batch {reference} on {day}.").format(reference=ref, day=day),
                       err=True)
        click.echo(_("Dry run, nothing posted: {summary}.").format(summary=batch_summary(preview)), err=True)
        return
    staff = acting_staff(staff_code, pin_stdin)
    preview = preview_batch(lines, reference, tender, store=store, staff=staff)
    refuse_repeats(preview, again)
    write_rows(for_people(_rows(preview.rows), fmt), fmt)
    if preview.posted_on is not None:
        click.echo(_("Batch {reference} was already posted on {day}; nothing changed ({summary}).").format(
            reference=preview.reference, day=preview.posted_on, summary=batch_summary(preview)), err=True)
        return
    confirm(yes, _("Post {summary} as batch {reference}?").format(summary=batch_summary(preview),
                                                                 reference=preview.reference),
            _("Posting a batch asks first: give --yes (after a --dry-run) to post it without a terminal."))
    done = post_batch(lines, reference, tender, staff, store=store, again=again)
    click.echo(_("Posted batch {reference}: {summary}.").format(reference=done.reference,
                                                               summary=batch_summary(done)), err=True)
