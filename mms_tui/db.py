"""The database handle: created unbound, initialised from settings, one way to write.

SQLite (the default, one file per site) and PostgreSQL (a chain of stores) run the same code. Every write goes
through :func:`write_transaction`: ``BEGIN IMMEDIATE`` on SQLite, so a writer takes the lock before it reads what
it will change; a plain transaction on PostgreSQL, where the services' conditional ``UPDATE … WHERE balance >= x``
statements lock the rows they spend from.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import peewee
from playhouse.db_url import connect as connect_url

#: The one database object every model is bound to. ``init_database`` points it at a real database.
database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",  # money: a committed sale survives a power cut
    "foreign_keys": 1,
    "busy_timeout": 10_000,  # ms; writers queue instead of failing
    "cache_size": -32_000,  # 32 MB page cache
}

T = TypeVar("T")


class DatabaseError(Exception):
    """The database cannot be opened or used (bad URL, unreadable file, server down)."""


def is_url(target: str) -> bool:
    return "://" in target


def open_database(target: str) -> peewee.Database:
    """Build (not connect) a database for a SQLite path or a URL such as ``postgresql://user@host/db``."""
    if not target:
        raise DatabaseError("no database configured")
    if is_url(target):
        scheme = target.split("://", 1)[0].lower()
        if scheme.startswith("sqlite"):
            path = target.split("://", 1)[1]
            return open_database(path[1:] if path.startswith("/") and not path.startswith("//") else path)
        try:
            return connect_url(target)
        except Exception as exc:  # unknown scheme, malformed URL
            raise DatabaseError(f"cannot use database URL {target!r}: {exc}") from None
    path = Path(target).expanduser()
    if path.is_file():
        # an existing database is never created again: if the file goes missing under a running desk, each new
        # connection fails with a clear error instead of making an empty database in its place
        uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=rw"
        db = peewee.SqliteDatabase(uri, uri=True, pragmas=SQLITE_PRAGMAS, timeout=10, check_same_thread=False)
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot create the folder for database {path}: {exc.strerror}") from None
        db = peewee.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=10, check_same_thread=False)
    db.mms_path = path  # type: ignore[attr-defined]
    return db


def init_database(target: str) -> peewee.Database:
    """Point the shared proxy at ``target`` and return the real database object."""
    db = open_database(target)
    database.initialize(db)
    return db


def close_database() -> None:
    obj = database.obj
    if obj is not None and not obj.is_closed():
        obj.close()


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


def describe() -> str:
    """Where the data lives, for ``mms info`` (no password)."""
    obj = database.obj
    if obj is None:
        return "(not initialised)"
    if isinstance(obj, peewee.SqliteDatabase):
        return str(Path(getattr(obj, "mms_path", obj.database)).resolve())
    params = getattr(obj, "connect_params", {})
    host = params.get("host", "localhost")
    port = params.get("port", "")
    return f"{type(obj).__name__.replace('Database', '').lower()}://{host}{':' if port else ''}{port}/{obj.database}"


@contextmanager
def write_transaction() -> Iterator[None]:
    """A short write unit of work. Screens never call this; services do."""
    if is_sqlite():
        with database.atomic("IMMEDIATE"):
            yield
    else:
        with database.atomic():
            yield


def database_fault(exc: BaseException) -> str | None:
    """What a person should read when the database itself fails (full disk, read-only or missing file, a lock
    held too long), or None for any other error. Every such failure happened inside a transaction that was
    rolled back: nothing was saved, and the same operation can simply be tried again once the fault clears."""
    from mms_tui.i18n import _

    if not isinstance(exc, (peewee.DatabaseError, sqlite3.DatabaseError)):
        return None
    text = str(exc).lower()
    if "disk is full" in text or "no space left" in text or ("disk i/o error" in text and _disk_full()):
        return _("The disk is full: nothing was saved. Free some space, then try again.")
    if "readonly" in text or "read-only" in text:
        return _("The database cannot be written (a read-only file or disk): nothing was saved. "
                 "Make it writable, then try again.")
    if "unable to open database file" in text or "no such table" in text:
        return _("The database file is missing or cannot be opened: nothing was saved. Put it back "
                 "(or restore a backup), then try again.")
    if "disk i/o error" in text:
        return _("The disk reported an error while saving: nothing was saved. Check the disk, then try again.")
    if is_transient(exc):
        return _("The database is busy with another desk: nothing was saved. Try again.")
    return None


def _disk_full() -> bool:
    """SQLite reports a write that found no room in its shared-memory file as a plain I/O error: look."""
    import shutil

    path = getattr(database.obj, "mms_path", None)
    if path is None:
        return False
    try:
        return shutil.disk_usage(Path(path).parent).free < 256 * 1024
    except OSError:
        return False


def is_transient(exc: BaseException) -> bool:
    """Lock time-outs and serialization failures: the same operation may simply be tried again."""
    text = str(exc).lower()
    return any(
        marker in text
        for marker in ("database is locked", "database is busy", "could not serialize", "deadlock detected")
    )


def retrying(fn: Callable[[], T], attempts: int = 8, first_delay: float = 0.02) -> T:
    """Run ``fn`` again when it fails for a transient reason; it must be idempotent (ours are, by txid)."""
    delay = first_delay
    for attempt in range(attempts):
        try:
            return fn()
        except peewee.OperationalError as exc:
            if not is_transient(exc) or attempt == attempts - 1:
                raise
        except peewee.DatabaseError as exc:  # psycopg2 SerializationFailure arrives wrapped like this
            if not is_transient(exc) or attempt == attempts - 1:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    raise AssertionError("unreachable")


# Dates and times go into SQLite as peewee itself writes them ('2024-01-02', '2024-01-02 09:30:00'), also when a
# bulk insert hands sqlite3 the Python values directly (registering keeps Python 3.12's default adapters' warning away).
sqlite3.register_adapter(dt.date, dt.date.isoformat)
sqlite3.register_adapter(dt.datetime, lambda value: value.isoformat(" "))


def _sqlite_insert(model: type[peewee.Model], fields: Sequence[str]) -> str:
    meta = model._meta
    columns = ", ".join(f'"{meta.fields[name].column_name}"' for name in fields)
    marks = ", ".join("?" for _ in fields)
    return f'INSERT INTO "{meta.table_name}" ({columns}) VALUES ({marks})'


def bulk_insert(model: type[peewee.Model], fields: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Insert many rows fast, inside the caller's transaction (imports, demo seeding): one prepared statement
    run with ``executemany`` on SQLite — ten times faster than building SQL per row — and multi-row
    ``INSERT`` statements of a thousand rows on PostgreSQL."""
    if not rows:
        return
    if is_sqlite():
        database.cursor().executemany(_sqlite_insert(model, fields), rows)
        return
    model_fields = [model._meta.fields[name] for name in fields]
    for start in range(0, len(rows), 1000):
        model.insert_many(rows[start:start + 1000], fields=model_fields).execute()


@contextmanager
def indexes_rebuilt_after(models: Sequence[type[peewee.Model]]) -> Iterator[None]:
    """Inside the caller's write transaction: drop the tables' indexes, let the caller load rows, build them again.

    Loading a million rows into an empty table and indexing it once is several times faster than keeping a dozen
    B-trees in order row by row. Unique indexes are rebuilt too, so a duplicate that slipped through fails the
    whole transaction. SQLite only (elsewhere it does nothing); other connections keep reading the committed
    state, with its indexes. Queries made meanwhile by the caller on these tables scan them: use only by id.
    """
    if not is_sqlite():
        yield
        return
    saved: list[str] = []
    for model in models:
        for name, sql in database.execute_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (model._meta.table_name,),
        ).fetchall():
            saved.append(sql)
            database.execute_sql(f'DROP INDEX "{name}"')
    yield  # on an exception the caller's rollback brings the indexes back
    for sql in saved:
        database.execute_sql(sql)


def first_free_id(model: type[peewee.Model]) -> int:
    """The first primary key after every existing row, for a bulk insert with explicit ids.

    Call inside a write transaction (SQLite's write lock keeps other writers out); on PostgreSQL the table is
    locked against other inserts until commit, and :func:`sync_id_sequence` must follow the insert.
    """
    table = model._meta.table_name
    if not is_sqlite():
        database.execute_sql(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE')
    current = database.execute_sql(f'SELECT MAX(id) FROM "{table}"').fetchone()[0]
    return int(current or 0) + 1


def sync_id_sequence(model: type[peewee.Model]) -> None:
    """After inserting explicit ids on PostgreSQL, move the id sequence past them (no-op on SQLite)."""
    if is_sqlite():
        return
    table = model._meta.table_name
    database.execute_sql(
        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), COALESCE((SELECT MAX(id) FROM \"{table}\"), 1))"
    )
