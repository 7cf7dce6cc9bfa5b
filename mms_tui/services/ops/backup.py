"""Backups of a SQLite store: a consistent copy while desks keep working, verified before it is called a backup.

``backup`` copies with SQLite's online backup API in one step (a consistent snapshot, even in WAL mode with writers
active), into a private temporary file beside the target, checks the copy (``PRAGMA integrity_check`` and the ledger
invariants of ``mms check``), and only then renames it into place — an interrupted or failed backup (a full disk
included) never leaves a half-written file under the target's name, nor a temporary one beside it
(:mod:`mms_tui.services.base.files`); the target must be a plain file or nothing: a link or a device is refused.
``restore`` verifies the file the same way, then copies it over the live database through the same API, in one
step. PostgreSQL stores are backed up with ``pg_dump``.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import peewee

from mms_tui.db import SQLITE_PRAGMAS, database, database_fault, is_sqlite
from mms_tui.i18n import _
from mms_tui.models import ALL_MODELS, SchemaVersion
from mms_tui.models.migrations import current_version
from mms_tui.services.base.errors import DomainError
from mms_tui.services.base.files import atomic_path, check_target
from mms_tui.services.ledger.check import check_ledger


class BackupError(DomainError):
    """The backup or restore cannot be made or does not verify; nothing was replaced."""


@dataclass(frozen=True)
class BackupResult:
    path: str
    bytes: int
    schema_version: int


def _require_sqlite() -> sqlite3.Connection:
    if not is_sqlite():
        raise BackupError(_("This store is on PostgreSQL: back it up with pg_dump."))
    return database.connection()


@contextmanager
def _bound_to(path: Path):
    """The models read from ``path`` for a moment (to check a copy with the same code as ``mms check``)."""
    copy = peewee.SqliteDatabase(str(path), pragmas={"foreign_keys": 1})
    try:
        with copy.bind_ctx(ALL_MODELS):
            yield copy
    finally:
        copy.close()


def _read_only_uri(path: Path) -> str:
    """A SQLite URI that opens exactly ``path``, read-only: in a URI '#' and '?' end the path, so a file named
    'shop#1.sqlite3' was read as a new, empty 'shop' — and restoring from it emptied the live database."""
    return "file:" + urllib.parse.quote(str(Path(path).absolute())) + "?mode=ro"


def verify(path: Path) -> int:
    """Raise BackupError unless ``path`` is a sound mms database; return its schema version."""
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(_("{path} is not a readable database: {error}").format(path=path, error=exc)) from None
    if result != "ok":
        raise BackupError(_("{path} fails the integrity check: {result}").format(path=path, result=result))
    with _bound_to(path) as copy:
        if not copy.table_exists(SchemaVersion._meta.table_name):
            raise BackupError(_("{path} is not an mms database.").format(path=path))
        version = int(SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0)
        problems = check_ledger()
    if problems:
        raise BackupError(_("{path} does not pass mms check: {problem}").format(path=path, problem=problems[0]))
    return version


def backup(target: str | os.PathLike[str], *, overwrite: bool = False) -> BackupResult:
    source = _require_sqlite()
    target = check_target(target)  # a link, device, pipe or folder is refused, --force or not
    if target.exists() and not overwrite:
        raise BackupError(_("{path} already exists; give --force to replace it.").format(path=target))
    if not target.parent.is_dir():
        raise BackupError(_("The folder {folder} does not exist.").format(folder=target.parent))
    try:
        with atomic_path(target, replace=overwrite) as temporary:
            dest = sqlite3.connect(str(temporary))
            try:
                source.backup(dest)  # one step: a consistent snapshot
                dest.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            finally:
                dest.close()
            version = verify(temporary)
    except FileExistsError:  # put there while the copy was being made
        raise BackupError(_("{path} already exists; give --force to replace it.").format(path=target)) from None
    except (OSError, sqlite3.Error) as exc:
        if _disk_full(exc, target.parent):
            raise BackupError(_("The disk is full: the backup {path} was not written (nothing was left behind). "
                                "Free some space, then try again.").format(path=target)) from None
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise BackupError(_("Cannot write the backup {path}: {error}").format(path=target, error=error)) from None
    return BackupResult(str(target), target.stat().st_size, version)


def _disk_full(exc: BaseException, folder: Path) -> bool:
    """SQLite says "database or disk is full", or a plain I/O error when the room ran out in a sync: look."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    if "disk is full" in text or "no space left" in text:
        return True
    try:
        return "disk i/o error" in text and shutil.disk_usage(folder).free < 256 * 1024
    except OSError:
        return False


def restore(source_file: str | os.PathLike[str]) -> BackupResult:
    """Replace the live database with a verified backup (the caller has asked the operator first)."""
    live = _require_sqlite()
    source_file = Path(source_file).expanduser()
    if not source_file.is_file():
        raise BackupError(_("There is no backup at {path}.").format(path=source_file))
    version = verify(source_file)
    src = sqlite3.connect(_read_only_uri(source_file), uri=True)
    try:
        src.backup(live)  # one write transaction on the live file: it fails whole, leaving the database as it was
    except sqlite3.Error as exc:  # a read-only or full disk: said plainly
        raise BackupError(database_fault(exc) or _("Cannot restore {path}: {error}").format(
            path=source_file, error=exc)) from None
    finally:
        src.close()
    for pragma, value in SQLITE_PRAGMAS.items():
        database.pragma(pragma, value)
    if current_version() != version:
        raise BackupError(_("The restored database reports an unexpected schema version."))
    return BackupResult(str(source_file), source_file.stat().st_size, version)
