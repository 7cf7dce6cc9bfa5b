"""Backups of a SQLite store: a consistent copy while desks keep working, verified before it is called a backup.

``backup`` copies with SQLite's online backup API in one step (a consistent snapshot, even in WAL mode with writers
active), into a private temporary file beside the target, checks the copy (``PRAGMA integrity_check`` and the ledger
invariants of ``mms check``), and only then renames it into place — an interrupted or failed backup (a full disk
included) never leaves a half-written file under the target's name, nor a temporary one beside it
(:mod:`mms_tui.services.base.files`); the target must be a plain file or nothing: a link or a device is refused.
``restore`` verifies the file the same way, then copies it over the live database through the same API, in one
step. PostgreSQL stores are backed up with ``pg_dump``.

A target whose name ends in ``.gz`` is compressed (gzip): the copy is checked before it is compressed, and the
compressed file is read back and checked again before it takes the target's name; ``verify`` and ``restore`` read
such a file too. ``rotate`` is the scheduled job's form: a dated backup in a folder (``mms-YYYYMMDD-HHMMSS.sqlite3``,
``.gz`` when compressed), then the oldest of that folder's dated backups beyond the newest ``keep`` removed — only
once the new one has verified, and never a file that is not one of mms's dated backups.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import shutil
import sqlite3
import tempfile
import urllib.parse
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import peewee

from mms_tui import clock
from mms_tui.db import SQLITE_PRAGMAS, database, database_fault, is_sqlite
from mms_tui.i18n import _
from mms_tui.models import ALL_MODELS, SchemaVersion
from mms_tui.models.migrations import LATEST, current_version
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
    #: the older dated backups ``rotate`` removed
    removed: list[str] = field(default_factory=list)


#: the name of a dated backup ``rotate`` makes (and the only files it ever removes)
DATED_NAME = re.compile(r"^mms-\d{8}-\d{6}(-\d+)?\.sqlite3(\.gz)?$")


def is_compressed(path: str | os.PathLike[str]) -> bool:
    return str(path).lower().endswith(".gz")


@contextmanager
def _scratch(near: Path) -> Iterator[Path]:
    """A private scratch folder beside ``near`` (the same disk: a full disk shows while the copy is made)."""
    folder = Path(tempfile.mkdtemp(prefix=".mms-backup-", dir=near))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _decompress(source: Path, into: Path) -> Path:
    """``source`` (gzip) unpacked into the folder ``into``; BackupError when it is not a sound gzip file."""
    plain = into / "unpacked.sqlite3"
    try:
        with gzip.open(source, "rb") as packed, open(plain, "wb") as out:
            shutil.copyfileobj(packed, out, 1 << 20)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # the disk, not the file
            raise BackupError(_("Cannot unpack {path}: {error}").format(
                path=source, error=exc.strerror or exc)) from None
        raise BackupError(_("{path} is not a readable compressed backup: {error}").format(
            path=source, error=exc)) from None
    return plain


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


def verify(path: Path, *, compressed: bool | None = None) -> int:
    """Raise BackupError unless ``path`` is a sound mms database (compressed or not: by default, as its name
    says); return its schema version."""
    path = Path(path)
    if is_compressed(path) if compressed is None else compressed:
        with _scratch(path.parent if os.access(path.parent, os.W_OK) else Path(tempfile.gettempdir())) as scratch:
            return _verify_plain(_decompress(path, scratch), shown=path)
    return _verify_plain(path, shown=path)


def _verify_plain(path: Path, shown: Path) -> int:
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(_("{path} is not a readable database: {error}").format(path=shown, error=exc)) from None
    if result != "ok":
        raise BackupError(_("{path} fails the integrity check: {result}").format(path=shown, result=result))
    with _bound_to(path) as copy:
        if not copy.table_exists(SchemaVersion._meta.table_name):
            raise BackupError(_("{path} is not an mms database.").format(path=shown))
        version = int(SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0)
        # mms check of this version reads this version's tables: an older schema (the backup an upgrade makes
        # first) was proved by the version that wrote it, and is proved again right after its migration
        problems = check_ledger() if version == LATEST else []
    if problems:
        raise BackupError(_("{path} does not pass mms check: {problem}").format(path=shown, problem=problems[0]))
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
            if is_compressed(target):
                with _scratch(target.parent) as scratch:
                    plain = scratch / "copy.sqlite3"
                    _copy(source, plain)
                    version = verify(plain)
                    with open(plain, "rb") as raw, open(temporary, "wb") as out, gzip.GzipFile(
                            filename=target.name[:-3], mode="wb", fileobj=out, compresslevel=6) as packed:
                        shutil.copyfileobj(raw, packed, 1 << 20)
                    plain.unlink()
                    verify(temporary, compressed=True)  # read back: what is kept is what restores
            else:
                _copy(source, temporary)
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


def _copy(source: sqlite3.Connection, path: Path) -> None:
    dest = sqlite3.connect(str(path))
    try:
        source.backup(dest)  # one step: a consistent snapshot
        dest.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        dest.close()


def dated_backups(folder: str | os.PathLike[str]) -> list[Path]:
    """The dated backups ``rotate`` made in ``folder``, oldest first (by the time in their names)."""
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.is_file(follow_symlinks=False)]
    except OSError:
        return []
    return [Path(folder) / name for name in sorted((n for n in names if DATED_NAME.match(n)), key=_when)]


def _when(name: str) -> tuple[str, int]:
    """A dated backup's moment and number: mms-20261203-073139-1 comes after mms-20261203-073139."""
    found = DATED_NAME.match(name)
    return name[4:12] + name[13:19], int((found.group(1) or "-0")[1:]) if found else 0


def rotate(folder: str | os.PathLike[str], *, keep: int | None = None, compress: bool = False) -> BackupResult:
    """A new dated, verified backup in ``folder``; then only the newest ``keep`` dated backups stay (None: all)."""
    if keep is not None and keep < 1:
        raise BackupError(_("--keep must be at least 1."))
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise BackupError(_("The folder {folder} does not exist (create it first: mkdir -m 700 -p {folder}).").format(
            folder=folder))
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    suffix = ".sqlite3.gz" if compress else ".sqlite3"
    taken = [_when(p.name)[1] for p in dated_backups(folder) if _when(p.name)[0] == stamp.replace("-", "")]
    # two backups in one second: the second gets -1, the next -2 … (after the highest, even one since removed)
    number = max(taken) + 1 if taken else 0
    name = f"mms-{stamp}{'-' + str(number) if number else ''}{suffix}"
    made = backup(folder / name)
    removed: list[str] = []
    kept = dated_backups(folder) if keep is not None else []
    for old in kept[:max(0, len(kept) - (keep or 0))]:
        if old.name == name:
            continue
        try:
            old.unlink()
        except OSError as exc:
            raise BackupError(_("The backup {path} was made, but the old {old} cannot be removed: {error}").format(
                path=made.path, old=old, error=exc.strerror or exc)) from None
        removed.append(str(old))
    return BackupResult(made.path, made.bytes, made.schema_version, removed)


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
    if is_compressed(source_file):
        with _scratch(Path(tempfile.gettempdir())) as scratch:
            version = _verify_plain(_decompress(source_file, scratch), shown=source_file)
            _restore_from(live, scratch / "unpacked.sqlite3", shown=source_file)
    else:
        version = verify(source_file)
        _restore_from(live, source_file, shown=source_file)
    for pragma, value in SQLITE_PRAGMAS.items():
        database.pragma(pragma, value)
    if current_version() != version:
        raise BackupError(_("The restored database reports an unexpected schema version."))
    return BackupResult(str(source_file), source_file.stat().st_size, version)


def _restore_from(live: sqlite3.Connection, source_file: Path, shown: Path) -> None:
    src = sqlite3.connect(_read_only_uri(source_file), uri=True)
    try:
        src.backup(live)  # one write transaction on the live file: it fails whole, leaving the database as it was
    except sqlite3.Error as exc:  # a read-only or full disk: said plainly
        raise BackupError(database_fault(exc) or _("Cannot restore {path}: {error}").format(
            path=shown, error=exc)) from None
    finally:
        src.close()
