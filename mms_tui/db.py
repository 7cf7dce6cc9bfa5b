"""The database handle: created unbound, initialised from settings, one way to write.

SQLite (the default, one file per site) and PostgreSQL (a chain of stores) run the same code. Every write goes
through :func:`write_transaction`: ``BEGIN IMMEDIATE`` on SQLite, so a writer takes the lock before it reads what
it will change; a plain transaction on PostgreSQL, where the services' conditional ``UPDATE … WHERE balance >= x``
statements lock the rows they spend from.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import peewee
from playhouse.db_url import connect as connect_url

from mms_tui import clock

#: The one database object every model is bound to. ``init_database`` points it at a real database.
database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",  # money: a committed sale survives a power cut
    "foreign_keys": 1,
    "busy_timeout": 10_000,  # ms; writers queue instead of failing (set from lock_wait_seconds at open)
    "cache_size": -32_000,  # 32 MB page cache
}
#: the page cache of a connection a worker thread keeps (:meth:`MmsSqliteDatabase.kept_connection`), in KiB: a
#: desk keeps one on each of its worker threads for hours (asyncio's default executor: the cores + 4, six on two
#: cores), and each cache fills to its size with the pages of the big reads (the manager's charts, reports) and
#: keeps them — five of 32 MB held a desk at a million members at 250 MB after the charts, against 60–75 MB with a
#: connection per call (BENCHMARKS.md). The swipe's reads are as quick with 8 MB (about 10 ms at a million).
KEPT_CACHE_KB = 8_000

#: the longest a write waits for another writer before it gives up with a clear message (setting
#: ``lock_wait_seconds``), and the longest one PostgreSQL statement may run (``statement_timeout_seconds``)
LOCK_WAIT_SECONDS = 15.0
STATEMENT_TIMEOUT_SECONDS = 300.0
#: the Unix group desk accounts share a SQLite database through (setting ``group``; empty: private to its owner)
FILE_GROUP = ""

T = TypeVar("T")


class DatabaseError(Exception):
    """The database cannot be opened or used (bad URL, unreadable file, server down)."""


def is_url(target: str) -> bool:
    return "://" in target


def open_database(target: str) -> peewee.Database:
    """Build (not connect) a database for a SQLite path or a URL such as ``postgresql://user@host/db``."""
    from mms_tui.i18n import _

    if not target:
        raise DatabaseError(_("No database configured."))
    if is_url(target):
        scheme = target.split("://", 1)[0].lower()
        if scheme.startswith("sqlite"):
            path = target.split("://", 1)[1]
            return open_database(path[1:] if path.startswith("/") and not path.startswith("//") else path)
        if not scheme.startswith("postgres"):  # peewee knows MySQL and others; mms is built and tested on these two
            raise DatabaseError(_("mms keeps its data in a SQLite file or in PostgreSQL (postgresql://…); a "
                                  "{scheme}:// database is not supported.").format(scheme=scheme))
        try:  # a write waiting for a row lock, or a statement running away, is stopped with a clear message
            return connect_url(target, options=f"-c lock_timeout={int(LOCK_WAIT_SECONDS * 1000)} "
                                               f"-c statement_timeout={int(STATEMENT_TIMEOUT_SECONDS * 1000)}")
        except Exception as exc:  # malformed URL
            raise DatabaseError(_("Cannot use the database URL {url}: {error}").format(url=target, error=exc)) from None
    path = Path(os.path.abspath(Path(target).expanduser()))
    if path.is_file():
        # an existing database is never created again: if the file goes missing under a running desk, each new
        # connection fails with a clear error instead of making an empty database in its place
        return MmsSqliteDatabase(path, create=False)
    try:
        from mms_tui.services.base.files import make_private_folder

        make_private_folder(path.parent, FILE_GROUP)  # 0700 (2770 shared) when made here: it holds members' data
    except OSError as exc:
        raise DatabaseError(_("Cannot create the folder for the database {path}: {error}").format(
            path=path, error=exc.strerror or exc)) from None
    return MmsSqliteDatabase(path, create=True)


class _Connection(sqlite3.Connection):
    """A SQLite connection that remembers which file it opened: (device, inode), None when unknown."""

    opened: tuple[int, int] | None = None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _on_read_only_disk(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


class MmsSqliteDatabase(peewee.SqliteDatabase):
    """A SQLite file as mms opens it.

    * **Private**: a new database file is created 0600 (0660 of the setting ``group`` when desk accounts share
      it) before SQLite opens it; SQLite gives its -wal and -shm the database file's mode, whatever the umask.
    * **Read-only disks still read**: SQLite cannot open a WAL database on a read-only file system when it would
      have to create the -shm file. With nothing in the -wal file, nobody can change the file while the disk is
      read-only, so it is opened ``immutable``; reads, reports and backups work, and a write fails as read-only.
    * **Which file**: each connection records the file it opened, so that :func:`write_transaction` can refuse to
      save into a file that has since been deleted or replaced at the database's path.
    * **A worker thread keeps its connection** (:meth:`kept_connection`, issue #27): the desk's reads run on a
      few long-lived worker threads, and a connection opened for each of them paid the open, the schema read and an
      empty page cache every time — a third of a swipe at a million members. A kept connection is opened again
      when the file at the path is no longer the one it opened; all are closed by :func:`close_database`. Its
      page cache is :data:`KEPT_CACHE_KB`, not the 32 MB of a connection for one command.
    """

    def __init__(self, path: Path, *, create: bool) -> None:
        self.mms_path = path
        self._create = create
        #: the file did not exist when this database was opened (it is made by the first connection)
        self.new_file = create
        pragmas = {**SQLITE_PRAGMAS, "busy_timeout": int(LOCK_WAIT_SECONDS * 1000)}
        super().__init__(str(path), pragmas=pragmas, timeout=LOCK_WAIT_SECONDS, check_same_thread=False,
                         factory=_Connection)
        #: the connections threads keep open (:meth:`kept_connection`), by thread ident
        self._kept: dict[int, tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = {}
        self._kept_lock = threading.Lock()
        #: how deep this thread is in kept_connection blocks (only the outermost opens and closes)
        self._depth = threading.local()

    @contextmanager
    def kept_connection(self) -> Iterator[None]:
        """Run the caller's block on this thread's connection to the file now at the path, and keep it open for the
        thread's next block (closed by :meth:`close_kept`, or when the thread has ended and another one opens).

        Not kept: a connection whose block failed — a read cut off part-way can leave a statement holding an old
        snapshot, a failed write may have found the file read-only — and one opened read-only (a read-only disk,
        opened ``immutable``: it would never see the file change again; a file it may not write, which SQLite opens
        read-only without a word). The next block opens a new one. A block inside another one of the same thread
        leaves all that to the outer one."""
        depth = getattr(self._depth, "n", 0)
        if depth:  # inside another block of this thread: that one opened the connection and decides its fate
            self._depth.n = depth + 1
            try:
                yield
            finally:
                self._depth.n = depth
            return
        self._depth.n = 1
        try:
            self._thread_connection()  # (inside: a connection that failed to be made ready is not kept either)
            yield
        except BaseException:
            self._drop_thread_connection()
            raise
        finally:
            self._depth.n = 0
        if getattr(self._state.conn, "read_only", False):
            self._drop_thread_connection()

    def _thread_connection(self) -> None:
        state = self._state
        if state.transactions or state.ctx:
            return  # (inside a transaction the connection stays: write_transaction checks the file)
        if not self.is_closed():
            conn = state.conn
            if not (_usable(conn) and not conn.in_transaction
                    and getattr(conn, "opened", None) == _identity(self.mms_path)):
                self._drop_thread_connection()  # closed under it, left in a transaction, or another file now
        if self.is_closed():
            self.connect()
        thread = threading.current_thread()
        with self._kept_lock:
            if self._kept.get(thread.ident, (None, None))[1] is state.conn:
                return
        state.conn.execute(f"PRAGMA cache_size = -{KEPT_CACHE_KB}")  # (kept from now on: a small cache)
        with self._kept_lock:
            for ident, (ref, kept) in list(self._kept.items()):
                alive = ref()
                if ident == thread.ident or alive is None or not alive.is_alive():
                    del self._kept[ident]
                    if kept is not state.conn:
                        with contextlib.suppress(Exception):
                            kept.close()
            self._kept[thread.ident] = (weakref.ref(thread), state.conn)

    def _drop_thread_connection(self) -> None:
        """Close this thread's connection (not inside a transaction: the caller's rollback needs it)."""
        state = self._state
        if state.transactions or state.ctx or state.conn is None:
            return
        with contextlib.suppress(Exception):
            state.conn.close()
        state.reset()

    def close_kept(self) -> None:
        """Close every connection a thread kept open (the app has ended, or the database is being replaced)."""
        with self._kept_lock:
            kept, self._kept = self._kept, {}
        for _ref, conn in kept.values():
            with contextlib.suppress(Exception):
                conn.close()

    def _uri(self) -> str:
        path = self.mms_path
        uri = "file:" + urllib.parse.quote(str(path))
        if self._create:
            from mms_tui.services.base.files import create_private_file

            with contextlib.suppress(OSError):  # when it cannot be made, SQLite says why
                create_private_file(path, FILE_GROUP)
            return uri + "?mode=rwc"
        if _on_read_only_disk(path):
            try:
                pending = os.stat(f"{path}-wal").st_size > 0
            except OSError:
                pending = False
            return uri + ("?mode=ro" if pending else "?mode=ro&immutable=1")
        return uri + "?mode=rw"

    def _connect(self) -> sqlite3.Connection:
        for attempt in range(3):
            before = _identity(self.mms_path)
            uri = self._uri()
            conn = sqlite3.connect(uri, timeout=self._timeout, isolation_level=None, uri=True, **self.connect_params)
            conn.opened = _identity(self.mms_path)  # type: ignore[attr-defined]
            # (SQLite opens a file it may not write read-only without a word: such a connection is not kept either)
            conn.read_only = "mode=ro" in uri or not os.access(self.mms_path, os.W_OK)  # type: ignore[attr-defined]
            if conn.opened == before or attempt == 2:  # not replaced while it was being opened
                break
            conn.close()
        try:
            self._add_conn_hooks(conn)
        except Exception:
            conn.close()
            raise
        return conn

    def rollback(self) -> None:
        conn = self._state.conn
        if conn is not None and not conn.in_transaction:
            # SQLite has undone the transaction itself (a COMMIT that found the disk full): a ROLLBACK now would
            # fail with "cannot rollback - no transaction is active" and hide the error that says what happened
            return
        super().rollback()

    def check_same_file(self) -> None:
        """Raise DatabaseFileChanged when this thread's connection writes into a file no longer at the path."""
        conn = self._state.conn
        opened = getattr(conn, "opened", None)
        if opened is None:
            return
        now = _identity(self.mms_path)
        if now != opened:
            raise DatabaseFileChanged(self.mms_path, replaced=now is not None)


def _usable(conn: sqlite3.Connection | None) -> bool:
    try:
        return conn is not None and conn.in_transaction is not None
    except sqlite3.ProgrammingError:  # closed
        return False


class DatabaseFileChanged(peewee.OperationalError):
    """The file a connection writes into was deleted, moved away or replaced at the database's path: anything it
    saved now would be lost with that file."""

    def __init__(self, path: Path, *, replaced: bool) -> None:
        super().__init__(f"the database file {path} was {'replaced' if replaced else 'deleted'} while it was open")
        self.path = path
        self.replaced = replaced


def set_file_group(group: str) -> None:
    """The group new SQLite databases and their folders are shared with (the setting ``group``)."""
    global FILE_GROUP
    FILE_GROUP = group


def set_waits(lock_wait_seconds: float, statement_timeout_seconds: float) -> None:
    """The waits from the settings, before a database is opened (the CLI and the app factory call this)."""
    global LOCK_WAIT_SECONDS, STATEMENT_TIMEOUT_SECONDS
    LOCK_WAIT_SECONDS = max(0.1, float(lock_wait_seconds))
    STATEMENT_TIMEOUT_SECONDS = max(1.0, float(statement_timeout_seconds))


_target = ""


def init_database(target: str) -> peewee.Database:
    """Point the shared proxy at ``target`` and return the real database object."""
    global _target
    close_database()  # the connections worker threads kept to the one it replaces
    db = open_database(target)
    database.initialize(db)
    _target = target
    clock.forget()  # its zones are this database's
    return db


def current_target() -> str:
    """What :func:`init_database` was last given (a path or a URL): for helper processes that read the same
    database (``mms check``'s chain verification)."""
    return _target


def close_database() -> None:
    """Close this thread's connection and every one a worker thread kept open."""
    obj = database.obj
    if obj is not None and not obj.is_closed():
        obj.close()
    if obj is not None and hasattr(obj, "close_kept"):
        obj.close_kept()


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
    """A short write unit of work. Screens never call this; services do.

    On SQLite it also makes sure the file it writes into is still the database at its path, once the write lock is
    held and again just before the commit: a long-lived connection to a file deleted or replaced under it would
    otherwise keep acknowledging operations that are lost with that file."""
    if is_sqlite():
        db = database.obj
        same_file = getattr(db, "check_same_file", None) or (lambda: None)
        with database.atomic("IMMEDIATE"):
            same_file()
            yield
            same_file()
    else:
        with database.atomic():
            yield


def database_fault(exc: BaseException) -> str | None:
    """What a person should read when the database itself fails (full disk, read-only or missing file, a lock
    held too long), or None for any other error. Every such failure happened inside a transaction that was
    rolled back: nothing was saved, and the same operation can simply be tried again once the fault clears."""
    from mms_tui.i18n import _

    if isinstance(exc, DatabaseFileChanged):
        if exc.replaced:
            return _("The database file was replaced while mms had it open: nothing was saved. Start mms again to "
                     "work on the file now in its place.")
        return _("The database file is missing: it was deleted or moved while mms had it open, and nothing was "
                 "saved. Put it back (or restore a backup), then try again.")
    if not isinstance(exc, (peewee.DatabaseError, sqlite3.DatabaseError)):
        return None
    text = str(exc).lower()
    if "disk is full" in text or "no space left" in text or ("disk i/o error" in text and _disk_full()):
        return _("The disk is full: nothing was saved. Free some space, then try again.")
    if "readonly" in text or "read-only" in text:
        return _("The database cannot be written (a read-only file or disk): nothing was saved. "
                 "Make it writable, then try again.")
    if ("unable to open database file" in text or "no such table" in text) and _read_only_file():
        return _("The database is on a read-only disk or in a read-only file: it can be read, but nothing can be "
                 "saved. Make it writable, then try again.")
    if "unable to open database file" in text or "no such table" in text:
        return _("The database file is missing or cannot be opened: nothing was saved. Put it back "
                 "(or restore a backup), then try again.")
    if "disk i/o error" in text:
        return _("The disk reported an error while saving: nothing was saved. Check the disk, then try again.")
    if is_transient(exc):
        return _("The database is busy with another desk: nothing was saved. Try again.")
    return None


def _read_only_file() -> bool:
    """The database file is there but cannot be written (a read-only disk or file)."""
    path = getattr(database.obj, "mms_path", None)
    if path is None or not Path(path).exists():
        return False
    return _on_read_only_disk(Path(path)) or not os.access(path, os.W_OK)


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
        for marker in ("database is locked", "database is busy", "could not serialize", "deadlock detected",
                       "lock timeout")
    )


def retrying(fn: Callable[[], T], attempts: int = 8, first_delay: float = 0.02) -> T:
    """Run ``fn`` again when it fails for a transient reason; it must be idempotent (ours are, by txid). Never
    longer, all tries together, than ``LOCK_WAIT_SECONDS``: then the last error stands (one clear message)."""
    delay = first_delay
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    for attempt in range(attempts):
        try:
            return fn()
        except peewee.OperationalError as exc:
            if not is_transient(exc) or attempt == attempts - 1 or time.monotonic() >= deadline:
                raise
        except peewee.DatabaseError as exc:  # psycopg2 SerializationFailure arrives wrapped like this
            if not is_transient(exc) or attempt == attempts - 1 or time.monotonic() >= deadline:
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
    """Insert many rows fast, inside the caller's transaction (imports, demo seeding, the benchmark databases):
    one prepared statement run with ``executemany`` on SQLite — ten times faster than building SQL per row — and
    ``COPY … FROM STDIN`` on PostgreSQL, the server's own bulk path. Values go through each field's ``db_value``
    first, as an ``INSERT`` through the model would send them (timestamps in UTC: models.base.Moment)."""
    if not rows:
        return
    if is_sqlite():
        # handed to sqlite3 as they are, but for timestamps: those are stored in UTC (models.base.Moment)
        moments = [(i, f) for i, name in enumerate(fields)
                   if isinstance(f := model._meta.fields[name], peewee.DateTimeField)]
        if moments:
            rows = [list(row) for row in rows]
            for row in rows:
                for i, f in moments:
                    row[i] = f.db_value(row[i])
        with peewee.__exception_wrapper__:  # a refused row raises peewee's IntegrityError, as a save would
            database.cursor().executemany(_sqlite_insert(model, fields), rows)
        return
    _copy_rows(model, fields, rows)


#: COPY's text format: a backslash, tab, newline or carriage return inside a value is escaped
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_PART = 500


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    value = getattr(value, "adapted", value)  # (psycopg2's Binary, what a BlobField's db_value makes)
    if isinstance(value, bytes | bytearray | memoryview):  # bytea in hex, its backslash escaped for COPY
        return "\\\\x" + bytes(value).hex()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _copy_converter(field: peewee.Field) -> Callable[[object], str]:
    """How one column's values become COPY text, chosen once per column: ``db_value`` then :func:`_copy_text` —
    with a short way round for the values most columns hold (None; an int in a plain integer column; a str in a plain
    text column; a date in a date column; a wall-clock moment in a Moment column, put in UTC as ``Moment`` does),
    giving what the long way would; anything else takes the long way."""
    from mms_tui.models.base import Moment

    def long_way(value: object) -> str:
        return _copy_text(field.db_value(value))

    target = field.rel_field if isinstance(field, peewee.ForeignKeyField) else field
    kind = type(target)
    plain = kind.db_value is peewee.Field.db_value
    if plain and isinstance(target, peewee.IntegerField | peewee.AutoField) and kind.adapt is peewee.IntegerField.adapt:
        def integer(value: object) -> str:
            return str(value) if type(value) is int else "\\N" if value is None else long_way(value)
        return integer
    if plain and kind in (peewee.CharField, peewee.TextField):
        escapes = _COPY_ESCAPES

        def text(value: object) -> str:
            return value.translate(escapes) if type(value) is str else "\\N" if value is None else long_way(value)
        return text
    if plain and kind is peewee.DateField:
        def date(value: object) -> str:
            return value.isoformat() if type(value) is dt.date else "\\N" if value is None else long_way(value)
        return date
    if kind is Moment:
        to_utc = clock.to_utc

        def moment(value: object) -> str:
            if type(value) is dt.datetime:
                return to_utc(value).isoformat()
            return "\\N" if value is None else long_way(value)
        return moment
    return long_way


class _CopyStream:
    """The rows as COPY text, made a few thousand rows at a time as psycopg2 reads it: the server stores one part
    while the next is being written, and the whole text is never held at once."""

    def __init__(self, converters: Sequence[Callable[[object], str]], rows: Sequence[Sequence[object]]) -> None:
        self.converters, self.rows, self.at = converters, rows, 0

    def read(self, _size: int = -1) -> str:
        rows, start = self.rows, self.at
        if start >= len(rows):
            return ""
        self.at = start + _COPY_PART
        converters = self.converters
        return "".join(["\t".join([convert(value) for convert, value in zip(converters, row, strict=True)]) + "\n"
                        for row in rows[start:start + _COPY_PART]])


def _copy_rows(model: type[peewee.Model], fields: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """``COPY`` the rows in on PostgreSQL (psycopg2's ``copy_expert``), their text made as it is sent."""
    meta = model._meta
    model_fields = [meta.fields[name] for name in fields]
    columns = ", ".join(f'"{f.column_name}"' for f in model_fields)
    statement = f'COPY "{meta.table_name}" ({columns}) FROM STDIN'
    with peewee.__exception_wrapper__:
        database.cursor().copy_expert(statement, _CopyStream([_copy_converter(f) for f in model_fields], rows))


@contextmanager
def indexes_rebuilt_after(models: Sequence[type[peewee.Model]]) -> Iterator[None]:
    """Inside the caller's write transaction: drop the tables' indexes, let the caller load rows, build them again.

    Loading a million rows into an empty table and indexing it once is several times faster than keeping a dozen
    B-trees in order row by row. Unique indexes are rebuilt too, so a duplicate that slipped through fails the
    whole transaction; primary keys stay. On PostgreSQL the tables' foreign keys go too and come back the same way,
    each checking every row in one pass instead of one look-up per row loaded (a row pointing nowhere fails the
    whole transaction). On SQLite other connections keep reading the committed state, with its indexes; on
    PostgreSQL dropping an index locks its table until commit, so other connections wait for these tables (use it
    on a first load, never beside open desks). Queries made meanwhile by the caller on these tables
    scan them: use only by id.
    """
    saved: list[str] = []
    for model in models:
        table = model._meta.table_name
        if is_sqlite():
            found = database.execute_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (table,),
            ).fetchall()
        else:  # every index but those a constraint (the primary key) owns
            found = database.execute_sql(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = %s AND t.relnamespace = "
                "to_regnamespace(current_schema()) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "WHERE c.conindid = i.oid)", (table,),
            ).fetchall()
        for name, sql in found:
            saved.append(sql)
            database.execute_sql(f'DROP INDEX "{name}"')
        if not is_sqlite():  # its foreign keys: one trigger look-up per row loaded, several times the COPY itself
            for name, definition in database.execute_sql(
                    "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = "
                    "c.conrelid WHERE c.contype = 'f' AND t.relname = %s AND t.relnamespace = "
                    "to_regnamespace(current_schema()) ORDER BY c.conname", (table,)).fetchall():
                saved.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                database.execute_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    yield  # on an exception the caller's rollback brings the indexes (and foreign keys) back
    for sql in saved:  # a foreign key added back checks every row in one pass: a row pointing nowhere fails it
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
