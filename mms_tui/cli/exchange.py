"""Data in and out: ``mms import`` (members and products from the old system), ``mms export`` (tables and one
member's data) and ``mms cards print`` (barcodes of cards and products)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mms_tui.cli.common import acting_staff, open_database, readable, settings_of, with_progress
from mms_tui.cli.options import (
    DAY,
    dry_run_option,
    file_argument,
    file_format_option,
    period_options,
    staff_options,
    store_option,
    viewer_options,
    write_encoding_option,
)
from mms_tui.i18n import _
from mms_tui.services.base.text import format_money


@click.command("import")
@click.argument("what", type=click.Choice(["members", "products", "prices"]))
@file_argument(stdin=True)
@click.option("--encoding", default="auto", show_default=True,
              help="auto (UTF-8 with or without BOM, UTF-16 with BOM, else GB18030) or any codec name, e.g. gbk.")
@click.option("--map", "mapping", multiple=True, metavar="'HEADER=field'",
              help="Read a column under another header, e.g. --map '会员电话=phone'. Repeatable.")
@click.option("--on-duplicate", type=click.Choice(["error", "skip", "update"]), default="error", show_default=True,
              help="A phone or card number already known: list it as an error, skip the row, or update.")
@dry_run_option("Check every row and report, but write nothing.")
@click.option("--sheet", metavar="NAME", help="Worksheet of an .xlsx file (default: the first).")
@staff_options("Staff (a manager) recorded on the import.")
@click.pass_context
def import_(ctx: click.Context, what: str, file: str, encoding: str, mapping: tuple[str, ...], on_duplicate: str,
            dry_run: bool, sheet: str | None, staff_code: str | None, pin_stdin: bool) -> None:
    """Import members (with cards and opening balances), products or price lists from CSV or XLSX, all or nothing.

    Headers in Chinese or English (姓名/name, 手机/phone, 卡号/card_no, 余额/balance, 赠送余额/bonus,
    积分/points, 剩余次数/visits, 有效期/valid_until, 生日/birthday, 性别/gender, 等级/tier, 卡类型/card_type,
    备注/notes …). Every bad row is listed on stderr and nothing is written. FILE - reads standard input."""
    from mms_tui.services.exchange.import_report import ImportRejected, iter_errors
    from mms_tui.services.exchange.importing import import_file

    settings = settings_of(ctx)
    open_database(settings)
    staff = acting_staff(staff_code, pin_stdin)
    try:
        with readable(file, pin_stdin) as path:
            result = with_progress(lambda progress: import_file(
                what, path, staff=staff, store=settings.store, encoding=encoding, mapping=mapping,
                on_duplicate=on_duplicate, dry_run=dry_run, sheet=sheet, progress=progress))
    except ImportRejected as exc:
        _say_ignored(exc.ignored_columns)
        for line in iter_errors(exc):
            click.echo(line, err=True)
        raise click.ClickException(str(exc)) from None
    _say_ignored(result.ignored_columns)
    if result.already_imported:
        click.echo(_("This file was already imported with these options (operation {txid}); nothing was changed.")
                   .format(txid=result.txid), err=True)
    click.echo(_import_summary(result))


def _say_ignored(columns: list[str]) -> None:
    if columns:
        click.echo(_("Ignored columns (no field; use --map): {columns}").format(columns=", ".join(columns)), err=True)


def _import_summary(result) -> str:
    verb = _("Checked (dry run, nothing written)") if result.dry_run else _("Imported")
    if result.what == "prices":
        return _("{verb}: {rows} rows; {created} prices set, {updated} changed, {skipped} unchanged.").format(
            verb=verb, rows=result.rows, created=result.created, updated=result.updated, skipped=result.skipped)
    if result.what == "products":
        return _("{verb}: {rows} rows; {created} products created, {updated} updated, {skipped} skipped.").format(
            verb=verb, rows=result.rows, created=result.created, updated=result.updated, skipped=result.skipped)
    return _("{verb}: {rows} rows; {created} members created, {updated} updated, {skipped} skipped; {cards} cards "
             "created, {cards_updated} updated; opening balances {principal} stored value, {bonus} bonus, "
             "{points} points, {visits} visits; encoding {encoding}.").format(
        verb=verb, rows=result.rows, created=result.created, updated=result.updated, skipped=result.skipped,
        cards=result.cards_created, cards_updated=result.cards_updated, principal=format_money(result.principal_fen),
        bonus=format_money(result.bonus_fen), points=result.points, visits=result.visits, encoding=result.encoding)


@click.command()
@click.argument("what", type=click.Choice(["members", "cards", "ledger", "sales", "prices", "member"]))
@click.argument("target", metavar="FILE|-|PHONE")
@click.argument("member_file", metavar="[FILE|-]", required=False)
@file_format_option(["csv", "jsonl", "json", "xlsx"],
                    help="File format (default: from FILE's suffix .xlsx/.jsonl/.json, else csv).")
@write_encoding_option("Text encoding (default: utf-8-sig for a csv FILE, so Excel reads Chinese; utf-8 on "
                       "standard output and for JSON).")
@store_option("Only this store (a region or HQ: with the stores below it): members' home store, cards bound to it, "
              "its ledger and sales.")
@period_options("First day (ledger, sales).", "Last day, inclusive (ledger, sales).")
@viewer_options("a manager exports only their own store and the stores below it (of a member's data: any member).")
@click.pass_context
def export(ctx: click.Context, what: str, target: str, member_file: str | None, fmt: str | None,
           encoding: str | None, store_code: str | None, start, end, viewer_code: str | None,
           pin_stdin: bool) -> None:
    """Export members, cards, the ledger, sales or price lists to FILE (or - for stdout), streamed and replaced only when
    complete; or one member's full data as JSON: mms export member PHONE [FILE|-]. Members' money is yuan
    (imports back with mms import members); ledger and sales money is fen. At a terminal, a progress bar on
    standard error shows how far a table has come."""
    import contextlib
    import os

    from mms_tui.services.base.text import normalise_phone
    from mms_tui.services.exchange.export import export_table
    from mms_tui.services.exchange.member_document import export_member

    if what == "member" and (store_code or start or end):
        raise click.ClickException(_("--store, --from and --to do not apply to one member's data."))
    if what != "member" and member_file is not None:
        raise click.ClickException(
            _("mms export {what} takes one FILE (or -), not also {extra!r}.").format(what=what, extra=member_file))
    open_database(settings_of(ctx))
    viewer = acting_staff(viewer_code, pin_stdin) if viewer_code else None
    stdout = sys.stdout.buffer  # bytes: the export chooses its own encoding (BOM, GB18030)
    try:
        if what == "member":
            result = export_member(target, member_file or "-", fmt=fmt, encoding=encoding, stdout=stdout,
                                   viewer=viewer)
            message = _("Exported the data of member {phone} to {where}.")
        else:
            result = with_progress(lambda progress: export_table(
                what, target, fmt=fmt, encoding=encoding, store=store_code, start=start, end=end, stdout=stdout,
                viewer=viewer, progress=None if target == "-" and sys.stdout.isatty() else progress), label=_("Writing"))
            message = _("Exported {n} rows to {where}.")
    except BrokenPipeError:
        # `mms export … - | head`: the reader has gone; stop quietly like other Unix tools (Python's advice:
        # point stdout at devnull so the interpreter's final flush does not complain).
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        ctx.exit(1)
    where = _("standard output") if result.target == "-" else result.target
    phone = normalise_phone(target) if what == "member" else ""
    click.echo(message.format(n=result.rows, phone=phone, where=where), err=True)


@click.group("cards")
def cards_group() -> None:
    """Member cards: print their barcodes for card printers and label sheets."""


@cards_group.command("print")
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--member", "phones", multiple=True, metavar="PHONE", help="Cards of the member with this phone. Repeatable.")
@click.option("--card", "card_nos", multiple=True, metavar="CARD_NO", help="This card. Repeatable.")
@click.option("--issued-since", type=DAY, metavar="YYYY-MM-DD", help="Only cards issued on or after this day.")
@click.option("--issued-until", type=DAY, metavar="YYYY-MM-DD", help="Only cards issued on or before this day.")
@click.option("--type", "type_codes", multiple=True, metavar="CODE", help="Only cards of this card type. Repeatable.")
@click.option("--all-cards", is_flag=True, help="Every card (nothing is printed without some selection).")
@click.option("--include-inactive", is_flag=True,
              help="Also lost, cancelled and expired cards; with --products, inactive products.")
@click.option("--products", is_flag=True,
              help="Product labels instead: EAN-13/EAN-8 (UPC-A) of the product's barcode, else Code 128 of its code.")
@click.option("--code", "product_codes", multiple=True, metavar="CODE",
              help="With --products: only this product (code or barcode). Repeatable; default: all active products.")
@click.option("--complete-ean", is_flag=True,
              help="With --products: 12- and 7-digit barcodes lack their check digit; add it (EAN-13/EAN-8).")
@click.option("--skip-invalid", is_flag=True,
              help="With --products: leave out a product whose EAN check digit is wrong (a warning each) instead of "
                   "stopping.")
@file_format_option(["svg", "png"], default="svg", help="File format: SVG (vector, any size) or PNG at 300 dpi.")
@click.option("--sheet", is_flag=True,
              help="A4 pages of labels (sheet-001.svg, …) with name, barcode and number, instead of one file each.")
@click.option("--grid", default="3x8", show_default=True, metavar="COLSxROWS", help="With --sheet: labels per page.")
@click.option("--font", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --sheet: font file for names (default: the first Chinese font installed).")
@click.pass_context
def print_cards(ctx: click.Context, outdir: Path, phones: tuple[str, ...], card_nos: tuple[str, ...], issued_since,
                issued_until, type_codes: tuple[str, ...], all_cards: bool, include_inactive: bool, products: bool,
                product_codes: tuple[str, ...], complete_ean: bool, skip_invalid: bool, fmt: str, sheet: bool,
                grid: str, font: str | None) -> None:
    """Barcodes of member cards (Code 128 of the card number) or of products (--products), as SVG or PNG files
    in OUTDIR: one file per card, named after its card number, or with --sheet A4 pages to print at 100 %.

    Say which cards: --member and --card pick cards; --issued-since, --issued-until and --type narrow them (alone,
    they choose among all cards); --all-cards takes every card. Lost, cancelled and expired cards are left out
    unless --include-inactive. OUTDIR is created when missing; files of the same name are replaced.

    Standard output: the written files, one path per line. Warnings and the summary go to standard error.

    \b
    mms cards print new-cards/ --issued-since 2024-06-01 --sheet --format png
    mms cards print card-files/ --member 13800138000 --card 000123
    mms cards print shelf/ --products --sheet
    """
    from mms_tui.services.exchange.barcode_labels import select_cards, select_products
    from mms_tui.services.exchange.barcode_render import parse_grid, summary, write_label_files, write_sheets

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT

    card_options = ("phones", "card_nos", "issued_since", "issued_until", "type_codes", "all_cards")
    if products and any(given(name) for name in card_options):
        raise click.ClickException(_("--products prints products; --member, --card, --issued-since, "
                                     "--issued-until, --type and --all-cards choose member cards."))
    if not products and any(given(name) for name in ("product_codes", "complete_ean", "skip_invalid")):
        raise click.ClickException(_("--code, --complete-ean and --skip-invalid apply with --products only."))
    if not products and not any(given(name) for name in card_options):
        raise click.ClickException(_("Say which cards to print: --member, --card, --issued-since, --issued-until, "
                                     "--type, or --all-cards for every card."))
    if not sheet and (given("grid") or given("font")):
        raise click.ClickException(_("--grid and --font apply with --sheet only."))
    columns_rows = parse_grid(grid)
    open_database(settings_of(ctx))
    if products:
        selection = select_products(product_codes, include_inactive=include_inactive, complete_ean=complete_ean,
                                    skip_invalid=skip_invalid)
    else:
        selection = select_cards(phones=phones, card_nos=card_nos, type_codes=type_codes, all_cards=all_cards,
                                 issued_since=issued_since, issued_until=issued_until,
                                 include_inactive=include_inactive)
    if sheet:
        result = write_sheets(selection.labels, outdir, fmt, grid=columns_rows, font=font)
    else:
        result = write_label_files(selection.labels, outdir, fmt)
    for line in [*selection.warnings, *result.warnings]:
        click.echo(line, err=True)
    for path in result.paths:
        click.echo(str(path))
    click.echo(summary(result, outdir), err=True)
