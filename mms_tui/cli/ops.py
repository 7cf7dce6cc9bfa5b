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
@click.option("--job", "job", is_flag=True,
              help="A scheduled run: when the checks pass, note it in the database for 'mms doctor'.")
@click.option("--jobs", "jobs", type=click.IntRange(min=1, max=64), default=None, metavar="N",
              help="Processes verifying the hash chains (one per store) at once on a big database [default: the "
                   "machine's cores, at most 4].")
@click.pass_context
def check(ctx: click.Context, anchor: bool, against, job: bool, jobs: int | None) -> None:
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
    problems = check_ledger(jobs)
    if kept is not None:
        problems += check_anchors(kept)
    from mms_tui.services.payments.charge import booked_problems

    problems += [f"payment: {text}" for text in booked_problems()]
    for problem in problems:
        click.echo(str(problem), err=anchor)
    _open_payments()
    if problems:
        raise click.ClickException(_("{n} problem(s) found.").format(n=len(problems)))
    if job:
        from mms_tui.services.ops.jobs import record_run

        record_run("check")
    if anchor:
        click.echo(_json.dumps(heads(), indent=2, sort_keys=True))
        return
    click.echo(_("OK: the ledger balances, every card matches its entries and every hash chain holds."))


def _open_payments() -> None:
    """Warnings (standard error; the books may still hold): payment codes a desk left open past their time, bills
    not reconciled."""
    from mms_tui.services.base.text import format_money
    from mms_tui.services.payments.charge import open_attempts
    from mms_tui.services.payments.providers import provider_label
    from mms_tui.services.payments.reconcile import LATE_AFTER_DAYS, unreconciled_days

    for provider, day in unreconciled_days():
        click.echo(_("warning: the {provider} bill of {day} is not reconciled ({n} days or more): run mms payments "
                     "reconcile --date {day}").format(provider=provider_label(provider), day=day.isoformat(),
                                                     n=LATE_AFTER_DAYS), err=True)
    for attempt in open_attempts():
        click.echo(_("warning: payment {id} ({provider} {amount}, operation {txid}) is still {status} since {at}: run "
                     "mms payments settle").format(id=attempt.id, provider=provider_label(attempt.provider),
                                                   amount=format_money(attempt.amount_fen), txid=attempt.txid,
                                                   status=attempt.status, at=str(attempt.created_at)[:16]), err=True)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option("--dir", "folder", type=click.Path(file_okay=False), metavar="DIR",
              help="Instead of FILE: a dated backup (mms-YYYYMMDD-HHMMSS.sqlite3) in DIR. [setting backup_dir]")
@click.option("--keep", type=click.IntRange(min=1), metavar="N",
              help="With --dir: then remove the oldest dated backups there beyond the newest N.")
@click.option("--gzip", "compress", is_flag=True, help="With --dir: compress the backup (.sqlite3.gz).")
@click.pass_context
def backup(ctx: click.Context, file: str | None, force: bool, folder: str | None, keep: int | None,
           compress: bool) -> None:
    """A consistent copy of the database while desks keep working, verified before it is kept. A FILE ending in
    .gz is compressed. Without FILE: a dated backup in --dir (or the backup_dir setting), rotated with --keep."""
    from mms_tui.services.ops.backup import backup as make_backup
    from mms_tui.services.ops.backup import rotate

    settings = settings_of(ctx)
    if file and (folder or keep or compress):
        raise click.UsageError(_("Give FILE, or --dir with --keep and --gzip, not both."))
    folder = folder or (None if file else settings.backup_dir)
    if not file and not folder:
        raise click.UsageError(_("Give the backup's FILE, or --dir DIR (or set backup_dir in the configuration)."))
    open_database(settings)
    result = make_backup(file, overwrite=force) if file else rotate(folder, keep=keep, compress=compress)
    click.echo(_("Backup written to {path} ({size} bytes, schema {v}); integrity and ledger checks passed.").format(
        path=result.path, size=result.bytes, v=result.schema_version))
    for old in result.removed:
        click.echo(_("Removed the older backup {path}.").format(path=old))


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


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check this deployment: database reachable and current, file modes, free disk, write-ahead log, last backup,
    readers and printer, time zone, scheduled jobs. Prints what is wrong and how to fix it; exit 0 only when all
    is well."""
    from mms_tui.services.ops.doctor import diagnose

    findings = diagnose(settings_of(ctx))
    for finding in findings:
        mark = _("ok  ") if finding.ok else _("FAIL")
        click.echo(f"{mark}  {finding.name}: {finding.detail}")
        if not finding.ok and finding.fix:
            click.echo("      " + _("fix: {fix}").format(fix=finding.fix))
    failed = sum(not f.ok for f in findings)
    if failed:
        raise click.ClickException(_("{n} problem(s) found.").format(n=failed))
    click.echo(_("All is well."))


@click.command()
@click.option("--backup", "backup_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Back up to FILE first (.gz: compressed).")
@click.option("--dir", "folder", type=click.Path(file_okay=False), metavar="DIR",
              help="Back up to a dated file in DIR first. [setting backup_dir]")
@click.option("--keep", type=click.IntRange(min=1), metavar="N", help="With --dir: keep the newest N backups there.")
@click.option("--backed-up", "backed_up", is_flag=True,
              help="The database is backed up already (PostgreSQL: with pg_dump); do not make one.")
@click.pass_context
def upgrade(ctx: click.Context, backup_file: str | None, folder: str | None, keep: int | None,
            backed_up: bool) -> None:
    """After installing a new version: with no desk open, back up the database, bring it to this version's
    schema and run the checks of 'mms check'. To go back, install the older version and restore the backup."""
    from mms_tui.services.ops.setup import connect
    from mms_tui.services.ops.upgrade import upgrade as run_upgrade

    settings = settings_of(ctx)
    if backup_file and folder:
        raise click.UsageError(_("Give --backup FILE or --dir DIR, not both."))
    connect(settings.database, create=False, new_folder=False)  # an old schema is what it is here for
    result = run_upgrade(settings.database, backup_file=backup_file,
                         backup_dir=None if backup_file else (folder or settings.backup_dir or None), keep=keep,
                         backed_up=backed_up)
    if result.backup:
        click.echo(_("Backed up to {path}.").format(path=result.backup))
    if result.applied:
        click.echo(_("Schema {before} → {after} (applied {n}); the checks pass.").format(
            before=result.version_before, after=result.version, n=", ".join(map(str, result.applied))))
    else:
        click.echo(_("Schema already at version {v}; the checks pass.").format(v=result.version))
    if result.room:
        click.echo(result.room)


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
