"""The database handle: created unbound, initialised from settings, one way to write.

SQLite (the default, one file per site) and PostgreSQL (a chain of stores) run the same code. Every write goes
through :func:`write_transaction`: ``BEGIN IMMEDIATE`` on SQLite, so a writer takes the lock before it reads what
it will change; a plain transaction on PostgreSQL, where the services' conditional ``UPDATE … WHERE balance >= x``
statements lock the rows they spend from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the folder for database {path}: {exc.strerror}") from None
    return peewee.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=10, check_same_thread=False)


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
        return str(Path(obj.database).resolve())
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
