"""Keeping the books safe: ``mms check`` (prove the ledger and the hash chains), ``mms backup`` and
``mms restore``; moving them to another database: ``mms migrate-to``."""

from __future__ import annotations

import click

from mms_tui.cli.common import confirm, open_database, settings_of, with_progress
from mms_tui.cli.options import file_argument, yes_option
from mms_tui.i18n import _


@click.command()
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
    open_database(settings_of(ctx))
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


@click.command()
@file_argument()
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_context
def backup(ctx: click.Context, file: str, force: bool) -> None:
    """A consistent copy of the database while desks keep working, verified before it is kept."""
    from mms_tui.services.ops.backup import backup as make_backup

    open_database(settings_of(ctx))
    result = make_backup(file, overwrite=force)
    click.echo(_("Backup written to {path} ({size} bytes, schema {v}); integrity and ledger checks passed.").format(
        path=result.path, size=result.bytes, v=result.schema_version))


@click.command()
@file_argument()
@yes_option()
@click.pass_context
def restore(ctx: click.Context, file: str, yes: bool) -> None:
    """Replace the database with a verified backup (asks first)."""
    from mms_tui.services.ops.backup import restore as restore_backup

    settings = settings_of(ctx)
    open_database(settings)
    confirm(yes, _("Replace the database {db} with the backup {file}?").format(db=settings.database, file=file),
            refusal=_("Restoring replaces every record: give --yes to confirm."))
    result = restore_backup(file)
    click.echo(_("Restored {path} (schema {v}).").format(path=result.path, v=result.schema_version))


@click.command("migrate-to")
@click.argument("url", metavar="URL")
@click.pass_context
def migrate_to(ctx: click.Context, url: str) -> None:
    """Move the shop to another, empty database: postgresql://user:password@host/db, or a new SQLite file. Stop
    the desks first. Every row of every table is copied in one transaction (a failure writes nothing), then mms
    check runs on the copy; exit 1 if it does not pass."""
    from mms_tui.cli.output import write_rows
    from mms_tui.services.ops.migrate_to import migrate_to as move

    settings = settings_of(ctx)
    result = with_progress(lambda progress: move(settings.database, url, progress=progress))
    write_rows(({_("table"): table, _("rows"): rows} for table, rows in result.tables), "simple")
    click.echo(_("Copied {rows} rows in {tables} tables from {source} to {target}.").format(
        rows=result.rows, tables=len(result.tables), source=result.source, target=result.target))
    for problem in result.problems:
        click.echo(problem, err=True)
    if result.problems:
        raise click.ClickException(_("The copy does not pass mms check: {n} problem(s). Run 'mms check' on {source} "
                                     "too: what it finds there came with the data.").format(
            n=len(result.problems), source=result.source))
    click.echo(_("mms check passes on {target}: the ledger balances and every hash chain holds.").format(
        target=result.target))
    click.echo(_("Next: point every desk at it: set db = \"{url}\" in {config} (or MMS_DB), then start the desks "
                 "again.").format(url=result.target, config=settings.config_path or _("the configuration file")))
