"""``mms``: the Click commands. Thin: parse options, call services, print rows. Errors are one line, exit 1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click
import peewee

from mms_tui import __version__
from mms_tui.db import DatabaseError, close_database, database_fault
from mms_tui.devices.protocols import PROTOCOLS
from mms_tui.i18n import _, ngettext, set_language
from mms_tui.output import format_option, write_rows
from mms_tui.services.base.errors import DomainError
from mms_tui.services.base.text import format_money
from mms_tui.settings import Settings, SettingsError, demo_database_path, load_settings


class MmsGroup(click.Group):
    """Turns every expected failure into one clear line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (DomainError, DatabaseError, SettingsError) as exc:
            raise click.ClickException(str(exc)) from None
        except peewee.DatabaseError as exc:  # a full disk, a read-only or missing file: said plainly
            raise click.ClickException(database_fault(exc) or _("Database error: {error}").format(error=exc)) from None
        finally:
            close_database()


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings)  # type: ignore[return-value]


def _open(settings: Settings) -> None:
    from mms_tui.services.ops.setup import open_store

    open_store(settings.database)


@click.group(cls=MmsGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="PATH|URL", help="SQLite file or postgresql:// URL. [env MMS_DB]")
@click.option("--store", metavar="CODE", help="Store this desk belongs to. [env MMS_STORE]")
@click.option("--lang", type=click.Choice(["zh", "zh_CN", "en"]), help="Language of the screens. [env MMS_LANG]")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Configuration file (TOML).")
@click.option("--card-reader", metavar="URL", help="Card reader: a pyserial URL. [env MMS_CARD_READER]")
@click.option("--reader-protocol", type=click.Choice(sorted(PROTOCOLS)), help="Card reader protocol.")
@click.option("--scanner", metavar="URL", help="Barcode scanner in serial mode: a pyserial URL. [env MMS_SCANNER]")
@click.option("--printer", metavar="URL", help="ESC/POS receipt printer: a pyserial URL. [env MMS_PRINTER]")
@click.version_option(__version__, prog_name="mms")
@click.pass_context
def cli(ctx: click.Context, db: str | None, store: str | None, lang: str | None, config_path: str | None,
        card_reader: str | None, reader_protocol: str | None, scanner: str | None, printer: str | None) -> None:
    """mms — the front desk for membership businesses (会员管理系统).

    Without a command, opens the front-desk screen on the configured database.
    """
    try:
        settings = load_settings(config_path=config_path, db=db, store=store, lang=lang, card_reader=card_reader,
                                 reader_protocol=reader_protocol, scanner=scanner, printer=printer)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    set_language(settings.lang)
    from mms_tui.db import set_waits

    set_waits(settings.lock_wait_seconds, settings.statement_timeout_seconds)
    ctx.obj = settings
    if ctx.invoked_subcommand is None:
        _open(settings)
        _run_tui(settings)


def staff_options(recorded: str):
    """``--staff CODE`` (checked with that staff member's PIN, asked on the terminal or read from standard input
    with ``--pin-stdin``) and ``--pin-stdin``, for every command that changes money, rules or staff."""
    def decorate(fn):
        fn = click.option("--pin-stdin", "pin_stdin", is_flag=True,
                          help="Read the --staff member's PIN from the first line of standard input.")(fn)
        return click.option("--staff", "staff_code", metavar="CODE",
                            help=recorded + " Their PIN is asked (or --pin-stdin); without --staff: the trusted "
                                            "account, recorded as the first admin.")(fn)
    return decorate


def _run_tui(settings: Settings) -> None:
    from mms_tui.app import create_app

    close_database()  # the app opens its own connections, one per worker thread
    create_app(settings).run()


@cli.command()
@click.option("--admin-code", default="admin", show_default=True, help="Staff code of the first admin.")
@click.option("--admin-name", default="", help="Name of the first admin (default: the code).")
@click.option("--admin-pin", help="PIN of the first admin (4–8 digits); asked for when not given.")
@click.option("--store-code", default="HQ", show_default=True, help="Code of the first store.")
@click.option("--store-name", default="总店", show_default=True, help="Name of the first store.")
@click.pass_context
def init(ctx: click.Context, admin_code: str, admin_name: str, admin_pin: str | None, store_code: str,
         store_name: str) -> None:
    """Create or upgrade the database schema and create the first admin."""
    from mms_tui.models.migrations import current_version
    from mms_tui.services.ops.setup import connect, initialise, needs_admin
    from mms_tui.services.staff.accounts import check_pin

    settings = _settings(ctx)
    if admin_pin is not None:
        check_pin(admin_pin)  # a bad PIN is refused before the database file is even made
    connect(settings.database)
    if admin_pin is None and (current_version() == 0 or needs_admin()):
        if not sys.stdin.isatty():
            raise click.ClickException(_("No admin exists yet: give --admin-pin (4–8 digits)."))
        admin_pin = click.prompt(_("PIN for admin {code}").format(code=admin_code), hide_input=True,
                                 confirmation_prompt=True)
    result = initialise(store_code=store_code, store_name=store_name, admin_code=admin_code,
                        admin_name=admin_name, admin_pin=admin_pin)
    if result.applied:
        click.echo(_("Schema at version {v} (applied {n}).").format(v=result.version, n=", ".join(map(str, result.applied))))
    else:
        click.echo(_("Schema already at version {v}.").format(v=result.version))
    if result.admin_created:
        click.echo(_("Created admin {code}.").format(code=admin_code))
    click.echo(_("Database: {where}").format(where=settings.database))


@cli.command()
@click.option("--members", default=200, show_default=True, type=click.IntRange(1, 100_000),
              help="How many members to invent.")
@click.option("--no-tui", is_flag=True, help="Only build the database; do not open the screen.")
@click.option("--fresh", is_flag=True, help="Throw away an existing demo database and build a new one.")
@click.pass_context
def demo(ctx: click.Context, members: int, no_tui: bool, fresh: bool) -> None:
    """Build a demo database (its own file) with members and months of history, and open the desk on it."""
    from mms_tui.models.migrations import current_version
    from mms_tui.services.ops.demo import is_seeded, seed_demo
    from mms_tui.services.ops.setup import connect

    settings = _settings(ctx)
    target = settings.db or str(demo_database_path())
    settings = settings.with_overrides(db=target)
    if fresh:
        if "://" in target:
            raise click.ClickException(_("--fresh only removes a demo SQLite file, not a server database."))
        for suffix in ("", "-wal", "-shm"):
            Path(target + suffix).unlink(missing_ok=True)
    connect(target)
    if current_version() and is_seeded():
        click.echo(_("Using the demo database at {where} (--fresh builds a new one).").format(where=target), err=True)
    elif current_version() and _has_members():
        raise click.ClickException(
            _("{where} already holds data that is not a demo; give another --db.").format(where=target)
        )
    else:
        click.echo(_("Building a demo database at {where} …").format(where=target), err=True)
        result = _seed_with_progress(seed_demo, members)
        click.echo(
            _("{members} members, {cards} cards, {sales} sales, {visits} check-ins. Log in as {code}, PIN {pin}.")
            .format(members=result.members, cards=result.cards, sales=result.sales, visits=result.visits,
                    code=result.admin_code, pin=result.admin_pin),
            err=True,
        )
    if not no_tui:
        _run_tui(settings)


def _has_members() -> bool:
    from mms_tui.models import Member

    return Member.select().exists()


def _seed_with_progress(seed, members: int):
    if not sys.stderr.isatty():
        return seed(members)
    with click.progressbar(length=members, label=_("Members"), file=sys.stderr) as bar:
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            bar.update(n - done)
            done = n

        return seed(members, progress=tick)


@cli.command()
@format_option("plain")
@click.pass_context
def info(ctx: click.Context, fmt: str) -> None:
    """Version, database location, schema version and counts."""
    from mms_tui.services.ops.setup import connect
    from mms_tui.services.ops.setup import info as database_info

    settings = _settings(ctx)
    connect(settings.database)
    facts = database_info()
    rows = [
        ("version", __version__),
        ("database", facts.location),
        ("schema", f"{facts.schema_version} / {facts.latest_version}"),
        ("config", settings.config_path),
        ("store", settings.store),
        ("stores", facts.stores),
        ("staff", facts.staff),
        ("members", facts.members),
        ("cards", facts.cards),
        ("transactions", facts.transactions),
    ]
    write_rows(({"key": k, "value": v} for k, v in rows), fmt)


@cli.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="At most this many.")
@format_option()
@click.pass_context
def lookup(ctx: click.Context, query: str, limit: int, fmt: str) -> None:
    """Find members as the desk search does: card no, phone or its last 4, name, pinyin initials."""
    from mms_tui.services.members.lookup import lookup as find

    _open(_settings(ctx))
    hits = find(query, limit)
    if not hits:
        raise click.ClickException(_("No member matches {query!r}.").format(query=query))
    write_rows(_hit_rows(hits, machine=fmt in ("csv", "json", "jsonl")), fmt)


def _hit_rows(hits, machine: bool) -> Iterator[dict]:
    for hit in hits:
        cards = "; ".join(
            f"{c.card_no} {c.type_name}" + ("" if c.status == "active" else f" [{c.status}]") for c in hit.cards
        )
        yield {
            "id": hit.member_id,
            "name": hit.name,
            "phone": hit.phone_masked,
            "tier": hit.tier,
            "match": hit.match,
            "stored_value": hit.stored_value_fen if machine else format_money(hit.stored_value_fen),
            "points": hit.points,
            "cards": cards,
        }


@cli.command()
@click.option("--anchor", "anchor", is_flag=True,
              help="Print the head of every hash chain as JSON, to keep somewhere else (after the checks pass).")
@click.option("--against", "against", type=click.File("r", encoding="utf-8"), default=None,
              help="Also prove heads kept earlier (the JSON --anchor printed) still stand: nothing rewritten or cut "
                   "off since.")
@click.pass_context
def check(ctx: click.Context, anchor: bool, against) -> None:
    """Prove the books: every transaction sums to zero, every card cache equals its entries, every hash chain
    verifies, audited accounts and rules are as recorded. Exit 1 if not."""
    import json as _json

    from mms_tui.services.ledger.chain import heads
    from mms_tui.services.ledger.check import check_anchors, check_ledger

    kept = None
    if against is not None:
        try:
            kept = _json.load(against)
            if not isinstance(kept, dict):
                raise ValueError
        except ValueError:
            raise click.ClickException(_("{file} is not the JSON 'mms check --anchor' prints.").format(
                file=against.name)) from None
    _open(_settings(ctx))
    problems = check_ledger()
    if kept is not None:
        problems += check_anchors(kept)
    for problem in problems:
        click.echo(str(problem), err=anchor)
    if problems:
        raise click.ClickException(_("{n} problem(s) found.").format(n=len(problems)))
    if anchor:
        click.echo(_json.dumps(heads(), indent=2, sort_keys=True))
        return
    click.echo(_("OK: the ledger balances, every card matches its entries and every hash chain holds."))


@cli.command("import")
@click.argument("what", type=click.Choice(["members", "products"]))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--encoding", default="auto", show_default=True,
              help="auto (UTF-8 with or without BOM, UTF-16 with BOM, else GB18030) or any codec name, e.g. gbk.")
@click.option("--map", "mapping", multiple=True, metavar="'HEADER=field'",
              help="Read a column under another header, e.g. --map '会员电话=phone'. Repeatable.")
@click.option("--on-duplicate", type=click.Choice(["error", "skip", "update"]), default="error", show_default=True,
              help="A phone or card number already known: list it as an error, skip the row, or update.")
@click.option("--dry-run", is_flag=True, help="Check every row and report, but write nothing.")
@click.option("--sheet", metavar="NAME", help="Worksheet of an .xlsx file (default: the first).")
@staff_options("Staff (a manager) recorded on the import.")
@click.pass_context
def import_(ctx: click.Context, what: str, file: str, encoding: str, mapping: tuple[str, ...], on_duplicate: str,
            dry_run: bool, sheet: str | None, staff_code: str | None, pin_stdin: bool) -> None:
    """Import members (with cards and opening balances) or products from CSV or XLSX, all or nothing.

    Headers in Chinese or English (姓名/name, 手机/phone, 卡号/card_no, 余额/balance, 赠送余额/bonus,
    积分/points, 剩余次数/visits, 有效期/valid_until, 生日/birthday, 性别/gender, 等级/tier, 卡类型/card_type,
    备注/notes …). Every bad row is listed on stderr and nothing is written."""
    from mms_tui.services.exchange.importing import ImportRejected, import_file, iter_errors

    settings = _settings(ctx)
    _open(settings)
    staff = _command_staff(staff_code, pin_stdin)
    try:
        result = _with_progress(lambda progress: import_file(
            what, file, staff=staff, store=settings.store, encoding=encoding, mapping=mapping,
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


def _with_progress(run):
    """A progress bar on stderr while ``run(progress)`` works, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return run(None)
    with click.progressbar(length=1, label=_("Reading"), file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        return run(progress)


def _import_summary(result) -> str:
    verb = _("Checked (dry run, nothing written)") if result.dry_run else _("Imported")
    if result.what == "products":
        return _("{verb}: {rows} rows; {created} products created, {updated} updated, {skipped} skipped.").format(
            verb=verb, rows=result.rows, created=result.created, updated=result.updated, skipped=result.skipped)
    return _("{verb}: {rows} rows; {created} members created, {updated} updated, {skipped} skipped; {cards} cards "
             "created, {cards_updated} updated; opening balances {principal} stored value, {bonus} bonus, "
             "{points} points, {visits} visits; encoding {encoding}.").format(
        verb=verb, rows=result.rows, created=result.created, updated=result.updated, skipped=result.skipped,
        cards=result.cards_created, cards_updated=result.cards_updated, principal=format_money(result.principal_fen),
        bonus=format_money(result.bonus_fen), points=result.points, visits=result.visits, encoding=result.encoding)


@cli.command()
@click.argument("name", required=False)
@click.option("--list", "show_list", is_flag=True, help="List the reports, one line each.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: 30 days before --to).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today).")
@click.option("--store", "store_code", metavar="CODE", help="Only this store.")
@click.option("--by", type=click.Choice(["day", "week", "month"]), default="day", show_default=True,
              help="Period of a row, where the report has one.")
@format_option()
@click.pass_context
def report(ctx: click.Context, name: str | None, show_list: bool, start, end, store_code: str | None, by: str,
           fmt: str) -> None:
    """Reports for the owner and the accountant (mms report --list shows them). Money columns are fen in
    csv/json, yuan in tables."""
    from mms_tui.output import for_people
    from mms_tui.services.reports.catalogue import REPORTS, run_report

    if show_list or not name:
        write_rows(({"report": key, "what": _(text)} for key, (text, _fn) in REPORTS.items()), fmt)
        return
    _open(_settings(ctx))
    rows = run_report(name, start.date() if start else None, end.date() if end else None, store_code, by)
    if not write_rows(for_people(rows, fmt), fmt):
        click.echo(_("Nothing in this period."), err=True)


@cli.command()
@click.argument("what", type=click.Choice(["members", "cards", "ledger", "sales", "member"]))
@click.argument("target", metavar="FILE|-|PHONE")
@click.argument("member_file", metavar="[FILE|-]", required=False)
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "json", "xlsx"]),
              help="File format (default: from FILE's suffix .xlsx/.jsonl/.json, else csv).")
@click.option("--encoding", type=click.Choice(["utf-8-sig", "utf-8", "gb18030"]),
              help="Text encoding (default: utf-8-sig for csv, so Excel reads Chinese; utf-8 for JSON).")
@click.option("--store", "store_code", metavar="CODE",
              help="Only this store: members' home store, cards bound to it, its ledger and sales.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (ledger, sales).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day, inclusive (ledger, sales).")
@click.pass_context
def export(ctx: click.Context, what: str, target: str, member_file: str | None, fmt: str | None,
           encoding: str | None, store_code: str | None, start, end) -> None:
    """Export members, cards, the ledger or sales to FILE (or - for stdout), streamed and replaced only when
    complete; or one member's full data as JSON: mms export member PHONE [FILE|-]. Members' money is yuan
    (imports back with mms import members); ledger and sales money is fen."""
    import contextlib
    import os

    from mms_tui.services.base.text import normalise_phone
    from mms_tui.services.exchange.export import export_member, export_table

    if what == "member" and (store_code or start or end):
        raise click.ClickException(_("--store, --from and --to do not apply to one member's data."))
    if what != "member" and member_file is not None:
        raise click.ClickException(
            _("mms export {what} takes one FILE (or -), not also {extra!r}.").format(what=what, extra=member_file))
    _open(_settings(ctx))
    stdout = sys.stdout.buffer  # bytes: the export chooses its own encoding (BOM, GB18030)
    try:
        if what == "member":
            result = export_member(target, member_file or "-", fmt=fmt, encoding=encoding, stdout=stdout)
            message = _("Exported the data of member {phone} to {where}.")
        else:
            result = export_table(what, target, fmt=fmt, encoding=encoding, store=store_code,
                                  start=start.date() if start else None, end=end.date() if end else None,
                                  stdout=stdout)
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


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_context
def backup(ctx: click.Context, file: str, force: bool) -> None:
    """A consistent copy of the database while desks keep working, verified before it is kept."""
    from mms_tui.services.ops.backup import backup as make_backup

    _open(_settings(ctx))
    result = make_backup(file, overwrite=force)
    click.echo(_("Backup written to {path} ({size} bytes, schema {v}); integrity and ledger checks passed.").format(
        path=result.path, size=result.bytes, v=result.schema_version))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def restore(ctx: click.Context, file: str, yes: bool) -> None:
    """Replace the database with a verified backup (asks first)."""
    from mms_tui.services.ops.backup import restore as restore_backup

    settings = _settings(ctx)
    _open(settings)
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(_("Restoring replaces every record: give --yes to confirm."))
        click.confirm(_("Replace the database {db} with the backup {file}?").format(db=settings.database, file=file),
                      abort=True)
    result = restore_backup(file)
    click.echo(_("Restored {path} (schema {v}).").format(path=result.path, v=result.schema_version))


@cli.group()
def cards() -> None:
    """Member cards: print their barcodes for card printers and label sheets."""


@cards.command("print")
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--member", "phones", multiple=True, metavar="PHONE", help="Cards of the member with this phone. Repeatable.")
@click.option("--card", "card_nos", multiple=True, metavar="CARD_NO", help="This card. Repeatable.")
@click.option("--issued-since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD", help="Only cards issued on or after this day.")
@click.option("--issued-until", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD", help="Only cards issued on or before this day.")
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
@click.option("--format", "fmt", type=click.Choice(["svg", "png"]), default="svg", show_default=True,
              help="File format: SVG (vector, any size) or PNG at 300 dpi.")
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
    from mms_tui.services.exchange.barcodes import (
        parse_grid,
        select_cards,
        select_products,
        summary,
        write_label_files,
        write_sheets,
    )

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
    _open(_settings(ctx))
    if products:
        selection = select_products(product_codes, include_inactive=include_inactive, complete_ean=complete_ean,
                                    skip_invalid=skip_invalid)
    else:
        selection = select_cards(phones=phones, card_nos=card_nos, type_codes=type_codes, all_cards=all_cards,
                                 issued_since=issued_since.date() if issued_since else None,
                                 issued_until=issued_until.date() if issued_until else None,
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


@cli.group()
def rules() -> None:
    """Loyalty rules as one TOML or JSON document: points, top-up bonuses, tiers, promotions, birthdays, fees.

    \b
    mms rules export rules.toml        # the rules in force (the defaults until a manager saves some)
    mms rules import rules.toml        # check everything, list every problem, then save all or nothing
    """


@rules.command("export")
@click.argument("file", default="-", metavar="[FILE|-]")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]),
              help="File format (default: json for a .json FILE, else toml).")
@click.pass_context
def rules_export(ctx: click.Context, file: str, fmt: str | None) -> None:
    """Write the rules in force to FILE (whole or not at all), or to standard output."""
    from mms_tui.services.loyalty.rules import format_for, load_rules, rules_to_text, write_rules_file

    _open(_settings(ctx))
    current = load_rules()
    if file == "-":
        click.echo(rules_to_text(current, format_for("-", fmt)), nl=False)
        return
    used = write_rules_file(current, file, fmt)
    click.echo(_("Wrote the rules to {file} ({fmt}).").format(file=file, fmt=used), err=True)


@rules.command("import")
@click.argument("file", metavar="FILE|-")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]),
              help="File format (default: from FILE's suffix, else json when it starts with '{', else toml).")
@click.option("--dry-run", is_flag=True, help="Check everything and report, but save nothing.")
@staff_options("Manager or admin recorded on the change.")
@click.pass_context
def rules_import(ctx: click.Context, file: str, fmt: str | None, dry_run: bool, staff_code: str | None,
                 pin_stdin: bool) -> None:
    """Replace the rules in force with FILE, all or nothing: every problem is listed (with its place, such as
    promotions[2].percent) and nothing is saved unless there are none. Needs a manager."""
    from mms_tui.services.base.errors import RulesInvalid
    from mms_tui.services.loyalty.rules import document_from_text, read_rules_file, save_rules

    if file == "-" and pin_stdin:
        raise click.ClickException(_("Standard input cannot hold both the rules and the PIN: give the rules a file."))
    _open(_settings(ctx))
    staff = _command_staff(staff_code, pin_stdin)
    try:
        if file == "-":
            where = _("standard input")
            document = document_from_text(sys.stdin.read(), fmt, source=where)
        else:
            where = file
            document = read_rules_file(file, fmt)
        saved = save_rules(document, staff, dry_run=dry_run)
    except RulesInvalid as exc:
        for problem in exc.errors:
            click.echo(problem, err=True)
        n = len(exc.errors)
        raise click.ClickException(ngettext("{n} problem in {file}; nothing was changed.",
                                            "{n} problems in {file}; nothing was changed.", n).format(n=n, file=where)) from None
    verb = _("Checked (dry run, nothing saved)") if dry_run else _("Saved")
    click.echo(_("{verb}: {promotions} promotions, {bonuses} top-up bonuses, {days} points days, {gifts} gifts, "
                 "{levels} tier benefits.").format(
        verb=verb, promotions=len(saved.promotions), bonuses=len(saved.topup.bonuses), days=len(saved.points.days),
        gifts=len(saved.points.gifts), levels=len(saved.tiers.levels)))


def _command_staff(staff_code: str | None, pin_stdin: bool = False):
    """The staff member a command acts as (services.staff.command_staff decides; this only gets the PIN)."""
    from mms_tui.services.staff.accounts import command_staff

    pin = None
    if staff_code:
        if pin_stdin:
            pin = sys.stdin.readline().strip()
        elif sys.stdin.isatty():
            pin = click.prompt(_("PIN of {code}").format(code=staff_code), hide_input=True, default="",
                               show_default=False)
    return command_staff(staff_code, pin)


def _as_of_day(as_of) -> object:
    return as_of.date() if as_of is not None else None


@cli.group("points")
def points_group() -> None:
    """Points: expire what is due, oldest first (mms points expire, daily from cron).

    \b
    mms points expire                    # today, as the rules' points.expire_months say
    mms points expire --as-of 2025-01-01 --dry-run
    """


@points_group.command("expire")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Expire what is due on this day (default: today).")
@click.option("--dry-run", is_flag=True, help="List what would expire; write nothing.")
@staff_options("Staff recorded on the expiry.")
@format_option()
@click.pass_context
def points_expire(ctx: click.Context, as_of, dry_run: bool, staff_code: str | None, pin_stdin: bool,
                  fmt: str) -> None:
    """Expire the points whose day has come, first in first out: one ledger transaction of kind expire per card.
    Running it again for the same day changes nothing. Standard output: the cards and points; the summary goes
    to standard error."""
    from mms_tui.services.loyalty.points import expire_points
    from mms_tui.services.loyalty.rules import load_rules

    settings = _settings(ctx)
    _open(settings)
    rules = load_rules()
    if not rules.points.expire_months:
        click.echo(_("Points never expire under the rules in force (points.expire_months = 0); nothing to do."),
                   err=True)
        return
    staff = _command_staff(staff_code, pin_stdin)
    run = expire_points(_as_of_day(as_of), staff=staff, store=settings.store, dry_run=dry_run, rules=rules)
    write_rows(({"card_no": c.card_no, "member_id": c.member_id, "points": c.points, "txid": c.txid or ""}
                for c in run.cards), fmt)
    if dry_run:
        message = _("Dry run, nothing written: {points} points would expire on {cards} cards as of {date}.")
    else:
        message = _("Expired {points} points on {cards} cards as of {date}.")
    click.echo(message.format(points=run.points, cards=len(run.cards), date=run.as_of.isoformat()), err=True)


@cli.group("tiers")
def tiers_group() -> None:
    """Member tiers: keep, downgrade and catch-up upgrades (mms tiers review, daily from cron)."""


@tiers_group.command("review")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Review as of this day (default: today).")
@click.option("--dry-run", is_flag=True, help="List the changes; write nothing.")
@staff_options("Staff recorded on the changes.")
@format_option()
@click.pass_context
def tiers_review(ctx: click.Context, as_of, dry_run: bool, staff_code: str | None, pin_stdin: bool,
                 fmt: str) -> None:
    """Review every member's tier on the rules' basis (spend, points or visits in the rolling window): move up
    whoever qualifies; with tiers.downgrade, a member below their tier's keep level keeps it for grace_months
    (the grace is recorded), then moves down. Running it again for the same day changes nothing."""
    from mms_tui.output import MACHINE_FORMATS
    from mms_tui.services.loyalty.tiers import describe, review_tiers

    _open(_settings(ctx))
    staff = _command_staff(staff_code, pin_stdin)
    review = review_tiers(_as_of_day(as_of), staff=staff, dry_run=dry_run)
    machine = fmt in MACHINE_FORMATS
    write_rows(({"member_id": c.member_id, "name": c.name, "phone": c.phone, "action": c.action,
                 "from": c.from_tier, "to": c.to_tier,
                 "value": c.value if machine else describe(review.basis, c.value),
                 "threshold": c.threshold if machine else describe(review.basis, c.threshold),
                 "grace_since": c.grace_since or "", "grace_until": c.grace_until or ""}
                for c in review.changes), fmt)
    verb = _("Dry run, nothing written") if dry_run else _("Reviewed")
    click.echo(_("{verb} as of {date} (basis {basis}): {up} up, {down} down, {grace} graces started, {ended} graces "
                 "ended.").format(verb=verb, date=review.as_of.isoformat(), basis=review.basis,
                                  up=review.count("up"), down=review.count("down"), grace=review.count("grace"),
                                  ended=review.count("grace_end")), err=True)


@cli.group("coupons")
def coupons_group() -> None:
    """Coupons of the rules' promotions: issue them by hand, by rule or in bulk, and list them.

    \b
    mms coupons issue --member 13800138000 --promotion SPRING --valid-days 14
    mms coupons issue --segment at_risk --promotion COMEBACK
    mms coupons issue --winback 90              # promotion WINBACK unless --promotion
    mms coupons issue --birthday                # the rules' birthday.promotion
    mms coupons list --member 13800138000 --unused
    """


def _coupon_rows(coupons, with_status: bool = False):
    for c in coupons:
        row = {"code": c.code, "promotion": c.promotion, "member": c.member_name, "phone": c.phone,
               "reason": c.reason, "valid_from": c.valid_from or "", "valid_until": c.valid_until or ""}
        if with_status:
            row.update({"issued_at": c.issued_at or "", "used_at": c.used_at or "", "status": c.status})
        yield row


@coupons_group.command("issue")
@click.option("--member", "phone", metavar="PHONE", help="By hand: one coupon for this member (needs --promotion).")
@click.option("--segment", metavar="NAME",
              help="In bulk: every member of this segment of the segments report (at_risk, lost, loyal, …); one "
                   "coupon of the promotion per member, ever.")
@click.option("--winback", "winback_days", type=click.IntRange(1, 3650), metavar="DAYS",
              help="Members away at least DAYS days; one coupon per absence.")
@click.option("--birthday", is_flag=True, help="Members in their birthday window: the rules' birthday promotion.")
@click.option("--promotion", metavar="CODE", help="The promotion (a coupon promotion of the rules in force).")
@click.option("--valid-days", type=click.IntRange(1, 3650), metavar="N",
              help="Days the coupon is valid from today (default 30; never beyond the promotion's end).")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Issue as of this day (default: today).")
@click.option("--dry-run", is_flag=True, help="List who would get a coupon; write nothing.")
@staff_options("Manager or admin recorded as the issuer.")
@format_option()
@click.pass_context
def coupons_issue(ctx: click.Context, phone: str | None, segment: str | None, winback_days: int | None,
                  birthday: bool, promotion: str | None, valid_days: int | None, as_of, dry_run: bool,
                  staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """Issue coupons: to one member (--member), a segment (--segment), members away (--winback) or in their
    birthday window (--birthday). Bulk ways are safe to run again: nobody gets a second coupon of the same
    campaign. Standard output: the coupons; the summary goes to standard error."""
    from mms_tui.services.base.text import normalise_phone
    from mms_tui.services.loyalty import coupons as service

    modes = [name for name, given in (("--member", phone), ("--segment", segment), ("--winback", winback_days),
                                      ("--birthday", birthday)) if given]
    if len(modes) != 1:
        raise click.ClickException(_("Say who gets coupons: one of --member, --segment, --winback or --birthday."))
    if (phone or segment) and not promotion:
        raise click.ClickException(_("{option} needs --promotion CODE.").format(option=modes[0]))
    if birthday and (promotion or valid_days):
        raise click.ClickException(_("--birthday issues the rules' birthday promotion, valid through the birthday "
                                     "window; --promotion and --valid-days do not apply."))
    if phone and dry_run:
        raise click.ClickException(_("--dry-run applies to --segment, --winback and --birthday."))
    _open(_settings(ctx))
    staff = _command_staff(staff_code, pin_stdin)
    day = _as_of_day(as_of)
    if phone:
        issued = service.issue_coupon(normalise_phone(phone), str(promotion), staff, valid_days=valid_days, on=day)
        run = service.IssueRun("manual", issued.promotion, False, [issued])
    elif segment:
        run = service.issue_for_segment(segment, str(promotion), staff, valid_days=valid_days, on=day,
                                        dry_run=dry_run)
    elif winback_days:
        run = service.issue_winback(winback_days, staff, promotion=promotion, valid_days=valid_days, on=day,
                                    dry_run=dry_run)
    else:
        run = service.issue_birthday_coupons(staff, on=day, dry_run=dry_run)
    write_rows(_coupon_rows(run.coupons), fmt)
    if dry_run:
        message = _("Dry run, nothing written: {n} coupons of {promotion} would be issued; {already} members "
                    "already have one.")
    else:
        message = _("Issued {n} coupons of {promotion}; {already} members already had one.")
    click.echo(message.format(n=len(run.coupons), promotion=run.promotion, already=run.already), err=True)


@coupons_group.command("list")
@click.option("--member", "phone", metavar="PHONE", help="Only this member's coupons.")
@click.option("--unused", is_flag=True, help="Only coupons not used yet (expired ones included; see status).")
@click.option("--promotion", metavar="CODE", help="Only coupons of this promotion.")
@format_option()
@click.pass_context
def coupons_list(ctx: click.Context, phone: str | None, unused: bool, promotion: str | None, fmt: str) -> None:
    """Coupons, newest first, with their status (unused, used, expired, not yet valid)."""
    from mms_tui.services.base.text import normalise_phone
    from mms_tui.services.loyalty.coupons import list_coupons

    _open(_settings(ctx))
    found = list_coupons(normalise_phone(phone) if phone else None, unused=unused, promotion=promotion)
    if not write_rows(_coupon_rows(found, with_status=True), fmt):
        click.echo(_("No coupons."), err=True)


@cli.group("family")
def family_group() -> None:
    """Families (家庭): members who share a visit package of a transferable card type.

    \b
    mms family show 13800138000              # the member's family, its first member marked
    mms family join 13900139000 13800138000  # put the first in the second one's family
    mms family leave 13900139000
    """




def _family_rows(member: str):
    from mms_tui.services.members.family import family_members

    for f in family_members(member):
        yield {"name": f.name, "phone": f.phone_masked, "first": _("yes") if f.head else ""}


@family_group.command("show")
@click.argument("member", metavar="PHONE|CARD")
@format_option()
@click.pass_context
def family_show(ctx: click.Context, member: str, fmt: str) -> None:
    """The family of the member with this phone or card number, its first member marked."""
    from mms_tui.services.members.profile import find_member

    _open(_settings(ctx))
    found = find_member(member)
    if not write_rows(_family_rows(found.phone), fmt):
        click.echo(_("{name} is not in a family.").format(name=found.name), err=True)


@family_group.command("join")
@click.argument("member", metavar="PHONE|CARD")
@click.argument("family_of", metavar="PHONE|CARD")
@staff_options("Staff recorded on the change.")
@format_option()
@click.pass_context
def family_join(ctx: click.Context, member: str, family_of: str, staff_code: str | None, pin_stdin: bool,
                fmt: str) -> None:
    """Put MEMBER in the family of FAMILY_OF (who starts one when in none), leaving any family MEMBER was in."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.family import set_family
    from mms_tui.services.members.profile import find_member

    _open(_settings(ctx))
    result = set_family(member, family_of, _command_staff(staff_code, pin_stdin), new_txid())
    write_rows(_family_rows(find_member(result.member_id).phone), fmt)


@family_group.command("leave")
@click.argument("member", metavar="PHONE|CARD")
@staff_options("Staff recorded on the change.")
@click.pass_context
def family_leave(ctx: click.Context, member: str, staff_code: str | None, pin_stdin: bool) -> None:
    """Take MEMBER out of their family (a family left with one member is no family)."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.family import set_family
    from mms_tui.services.members.profile import find_member

    _open(_settings(ctx))
    set_family(member, None, _command_staff(staff_code, pin_stdin), new_txid())
    click.echo(_("{name} has left the family.").format(name=find_member(member).name))


@cli.group("members")
def members_group() -> None:
    """Members: erase one member's personal data (a PIPL request)."""


@members_group.command("erase")
@click.argument("phone", metavar="PHONE")
@click.option("--reason", required=True, help="The request this answers (kept in the audit).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@staff_options("Manager or admin recorded on the erasure.")
@click.pass_context
def members_erase(ctx: click.Context, phone: str, reason: str, yes: bool, staff_code: str | None,
                  pin_stdin: bool) -> None:
    """Erase the personal data of the member with PHONE (name, phone, birthday, gender, notes, and their copies in
    the audit and stored results), keeping the shop's books: sales, visits, cards and the ledger stay, so mms check
    and every report's totals are unchanged. The audit records that it happened, by whom and why."""
    from mms_tui.services.ledger.operations import new_txid
    from mms_tui.services.members.privacy import erase_member

    _open(_settings(ctx))
    staff = _command_staff(staff_code, pin_stdin)
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(_("Erasure cannot be undone: confirm with --yes."))
        click.confirm(_("Erase the personal data of {phone}? This cannot be undone.").format(phone=phone),
                      abort=True)
    result = erase_member(phone, staff, reason, new_txid())
    click.echo(_("Erased member {id}: {events} audit events and {results} stored results cleaned.").format(
        id=result.member_id, events=result.events_scrubbed, results=result.results_scrubbed))


@cli.group()
def devices() -> None:
    """Card readers, scanners and printers: tools for setting them up."""


@devices.command()
@click.argument("url")
@click.option("--protocol", "-p", type=click.Choice(sorted(PROTOCOLS)), default="line", show_default=True,
              help="How the device frames its reads.")
@click.option("--serial", "serial_spec", default="9600 8N1", show_default=True,
              help="Serial speed and frame, e.g. '9600 8N1'.")
@click.option("--count", type=int, default=0, help="Stop after this many reads (0: run until Ctrl+C).")
@click.option("--seconds", type=float, default=0, help="Stop after this long (0: run until Ctrl+C).")
def watch(url: str, protocol: str, serial_spec: str, count: int, seconds: float) -> None:
    """Print decoded reads and frame errors live, for installing a reader (e.g. mms devices watch
    /dev/ttyUSB0 -p rdm6300, or rfc2217://counter-pc:4000)."""
    import queue
    import time

    from mms_tui.devices.reader import SerialReader, parse_serial

    try:
        settings = parse_serial(serial_spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--serial") from None
    events: queue.Queue = queue.Queue()
    reader = SerialReader(url, protocol, lambda r: events.put(("read", r)), lambda s: events.put(("status", s)),
                          **settings)
    click.echo(_("Watching {url} ({protocol}); Ctrl+C stops.").format(url=url, protocol=protocol), err=True)
    reader.start()
    reads, errors = 0, 0
    deadline = time.monotonic() + seconds if seconds else None
    try:
        while not (count and reads >= count):
            timeout = 0.5 if deadline is None else max(0.0, deadline - time.monotonic())
            if deadline is not None and timeout == 0:
                break
            try:
                kind, item = events.get(timeout=min(timeout, 0.5))
            except queue.Empty:
                continue
            stamp = time.strftime("%H:%M:%S")
            if kind == "read":
                reads += 1
                extra = f" {item.symbology}" if item.symbology else ""
                click.echo(f"{stamp} {item.kind} {item.value}{extra}")
            elif item.errors > errors:
                errors = item.errors
                click.echo(f"{stamp} frame error: {item.last_error}", err=True)
            else:
                click.echo(f"{stamp} {item.state}" + (f": {item.last_error}" if item.last_error else ""), err=True)
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()
    click.echo(_("{reads} reads, {errors} frame errors.").format(reads=reads, errors=reader.parser.errors), err=True)


def main() -> None:
    cli(prog_name="mms")
