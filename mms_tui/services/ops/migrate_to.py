"""Moving a shop to another database (``mms migrate-to``): a SQLite file into PostgreSQL as the chain grows, or
PostgreSQL back into a SQLite file.

* **Only into an empty database**: a target holding any row of an mms table, or any table mms does not make, is
  refused before anything is written. A shop is never merged into another one.
* **The schema the way ``mms init`` makes it** (:func:`mms_tui.models.migrations.migrate`), inside the copy's own
  transaction; the rows that set-up writes (the schema's version, the zones) are then replaced by the source's.
* **Every row of every table, exactly**: read raw, not through the models (a ``Moment`` would move every time by
  the store's zone), with primary keys kept; only what the two engines spell differently is converted (SQLite's
  0/1 booleans and text dates and times). A table or a column mms does not know stops the move: it would be left
  behind.
* **Parents first**: tables in the order of their foreign keys; a key that points at its own table (a store's
  parent, a reversed transaction, a replaced card, a family) is written once every row is in.
* **All or nothing**: one transaction on the target, so a failure leaves it as it was (a SQLite file made for the
  move is removed again); the source is read in one snapshot (a read transaction), so desks still running would
  not tear the copy, though what they save after it began is not in it: stop them first.
* **Proved afterwards**: each table's rows are counted on both sides before the commit, PostgreSQL's id sequences
  are moved past the copied ids, and ``mms check`` (the ledger and every hash chain) runs on the target.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import peewee

from mms_tui import clock
from mms_tui.db import (
    DatabaseError,
    close_database,
    database,
    database_fault,
    sync_id_sequence,
    write_transaction,
)
from mms_tui.i18n import _
from mms_tui.models import ALL_MODELS
from mms_tui.models.migrations import migrate
from mms_tui.services.base.errors import DomainError
from mms_tui.services.ledger.check import check_ledger
from mms_tui.services.ops.setup import connect, open_store

#: rows read from the source at once
BATCH = 2_000
#: the most values one INSERT statement carries on PostgreSQL
MOST_VALUES = 30_000


class MigrationError(DomainError):
    """The move cannot be made; nothing was written to the target."""

    code = "migration"


@dataclass(frozen=True)
class MigrationResult:
    source: str
    target: str  # without its password
    tables: list[tuple[str, int]]  # (table, rows copied), in the order copied
    problems: list[str]  # what mms check finds on the target: empty when the books hold

    @property
    def rows(self) -> int:
        return sum(rows for _table, rows in self.tables)


@dataclass(frozen=True)
class _Plan:
    """How one table is copied: its columns, its key, and the foreign keys that wait until every row is in."""

    model: type[peewee.Model]
    fields: list[peewee.Field]
    waiting: list[int]  # positions in ``fields`` of foreign keys written afterwards

    @property
    def table(self) -> str:
        return self.model._meta.table_name

    @property
    def keys(self) -> list[int]:
        """Positions in ``fields`` of the primary key's columns (two for the chains' links: chain and seq)."""
        meta = self.model._meta
        names = list(meta.primary_key.field_names) if meta.composite_key else [meta.primary_key.name]
        return [next(i for i, f in enumerate(self.fields) if f is meta.fields[name]) for name in names]

    @property
    def key(self) -> int:
        """The position of a one-column primary key (the tables with foreign keys to themselves have one)."""
        keys = self.keys
        if len(keys) != 1:
            raise RuntimeError(f"{self.table} has a primary key of {len(keys)} columns")
        return keys[0]


def shown(target: str) -> str:
    """A database as it may be printed: a URL without its password."""
    if "://" not in target:
        return target
    try:
        parts = urllib.parse.urlsplit(target)
        if parts.password is None:
            return target
        host = parts.netloc.rsplit("@", 1)[1]
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    except ValueError:
        return target.split("://", 1)[0] + "://…"


def copy_plan() -> list[_Plan]:
    """Every table, parents before the tables whose foreign keys point at them (ALL_MODELS' order where free).

    A foreign key to the table itself, or (should one ever appear) one of a cycle, cannot be written with its row:
    it waits, so it must allow NULL."""
    left = list(ALL_MODELS)
    done: list[type[peewee.Model]] = []
    plans = []
    while left:
        model = next((m for m in left if all(f.rel_model is m or f.rel_model in done for f in _keys(m))), left[0])
        fields = list(model._meta.sorted_fields)
        waiting = [i for i, f in enumerate(fields) if isinstance(f, peewee.ForeignKeyField) and f.rel_model not in done]
        for i in waiting:
            if not fields[i].null:
                raise RuntimeError(f"{model._meta.table_name}.{fields[i].column_name} cannot wait for its row")
        plans.append(_Plan(model, fields, waiting))
        done.append(model)
        left.remove(model)
    return plans


def _keys(model: type[peewee.Model]) -> list[peewee.ForeignKeyField]:
    return [f for f in model._meta.sorted_fields if isinstance(f, peewee.ForeignKeyField)]


def migrate_to(source: str, target: str, *, progress: Callable[[int, int], None] | None = None) -> MigrationResult:
    """Copy the shop at ``source`` (at the current schema) into the empty database ``target``, then check it.

    Leaves the models bound to the target. ``progress(done, total)`` hears of the rows as they are copied."""
    open_store(source)
    src = database.obj
    try:
        plans = copy_plan()
        _check_source(src, source, plans)
        return _move(src, source, target, plans, progress)
    finally:
        src.close()


def _tables(db: peewee.Database) -> list[str]:
    return [t for t in db.get_tables() if not t.startswith("sqlite_")]


def _check_source(src: peewee.Database, source: str, plans: list[_Plan]) -> None:
    """Everything at the source is something mms knows how to copy: nothing would be left behind."""
    known = {p.table for p in plans}
    strange = sorted(set(_tables(src)) - known)
    if strange:
        raise MigrationError(_("The database {source} holds tables mms does not know ({tables}): they would be left "
                               "behind, so nothing was copied.").format(source=source, tables=", ".join(strange)))
    for plan in plans:
        have = {c.name for c in src.get_columns(plan.table)}
        strange = sorted(have - {f.column_name for f in plan.fields})
        if strange:
            raise MigrationError(_("The table {table} in {source} has columns mms does not know ({columns}): they "
                                   "would be left behind, so nothing was copied.").format(
                table=plan.table, source=source, columns=", ".join(strange)))


def _move(src: peewee.Database, source: str, target: str, plans: list[_Plan],
          progress: Callable[[int, int], None] | None) -> MigrationResult:
    where = shown(target)
    try:
        connect(target, new_folder=False)
    except DatabaseError as exc:
        raise DatabaseError(str(exc).replace(target, where)) from None
    dst = database.obj
    made_here = getattr(dst, "new_file", False)  # a SQLite file this move makes: removed again if it fails
    where = str(getattr(dst, "mms_path", where))  # a file by its full path: what the desks' configuration names
    try:
        try:
            with _snapshot(src):
                counts = {p.table: _count(src, p.table) for p in plans}
                with write_transaction():  # on SQLite it holds the write lock: the file stays empty till the copy
                    _check_empty(dst, where, {p.table for p in plans})
                    _copy(src, plans, counts, where, progress)
                    copied = {p.table: _count(database, p.table) for p in plans}
                    if copied != counts:
                        wrong = next(t for t in counts if copied[t] != counts[t])
                        raise MigrationError(_("The copy of {table} has {copied} rows where {source} has {rows}: "
                                               "nothing was written to {target}.").format(
                            table=wrong, copied=copied[wrong], source=source, rows=counts[wrong], target=where))
        except (peewee.DatabaseError, sqlite3.Error) as exc:
            error = database_fault(exc) or " ".join(str(exc).split())
            raise MigrationError(_("The copy to {target} failed, and nothing was written there: {error}").format(
                target=where, error=error)) from None
        clock.forget()  # the zones are the copied settings' now
        problems = [str(p) for p in check_ledger()]
    except BaseException:
        if made_here:
            _remove(dst)
        raise
    return MigrationResult(source, where, [(p.table, counts[p.table]) for p in plans], problems)


def _check_empty(dst: peewee.Database, where: str, known: set[str]) -> None:
    tables = _tables(dst)
    strange = sorted(set(tables) - known)
    if strange:
        raise MigrationError(_("The database {target} is not empty: it holds tables mms does not make ({tables}). "
                               "Give an empty database; nothing was written.").format(
            target=where, tables=", ".join(strange[:5]) + (", …" if len(strange) > 5 else "")))
    for table in tables:
        rows = _count(dst, table)
        if rows:
            raise MigrationError(_("The database {target} is not empty: its table {table} has {n} row(s). "
                                   "migrate-to only fills an empty database; nothing was written.").format(
                target=where, table=table, n=rows))


def _count(db: peewee.Database | peewee.DatabaseProxy, table: str) -> int:
    return int(db.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


@contextmanager
def _snapshot(src: peewee.Database) -> Iterator[None]:
    """Every read of the source from one moment: a SQLite read transaction (WAL keeps its snapshot while others
    write), a repeatable-read one on PostgreSQL."""
    if isinstance(src, peewee.SqliteDatabase):
        with src.atomic():
            yield
    else:
        with src.atomic(isolation_level="REPEATABLE READ"):
            src.execute_sql("SET TRANSACTION READ ONLY")
            yield


def _copy(src: peewee.Database, plans: list[_Plan], counts: dict[str, int], where: str,
          progress: Callable[[int, int], None] | None) -> None:
    """Inside the target's transaction: the schema as ``mms init`` makes it, then the source's rows."""
    migrate()
    for plan in reversed(plans):  # what the set-up wrote (schema version, zones) makes way for the source's
        database.execute_sql(f'DELETE FROM "{plan.table}"')
    total, done = sum(counts.values()), 0
    later: list[tuple[_Plan, int, list[tuple[object, object]]]] = []
    for plan in plans:
        convert = [_converter(f) for f in plan.fields]
        pending: dict[int, list[tuple[object, object]]] = {i: [] for i in plan.waiting}
        for rows in _batches(src, plan):
            values = []
            for row in rows:
                row = [value if fn is None or value is None else fn(value) for fn, value in zip(convert, row, strict=True)]
                for i in plan.waiting:
                    if row[i] is not None:
                        pending[i].append((row[plan.key], row[i]))
                        row[i] = None
                values.append(row)
            try:
                _insert(plan, values)
            except (peewee.DatabaseError, sqlite3.Error) as exc:  # which table, where the target says only why
                error = database_fault(exc) or " ".join(str(exc).split())
                raise MigrationError(_("The copy to {target} failed at the table {table}, and nothing was written "
                                       "there: {error}").format(target=where, table=plan.table, error=error)) from None
            done += len(values)
            if progress is not None:
                progress(done, total)
        later += [(plan, i, pairs) for i, pairs in pending.items() if pairs]
    mark = database.param
    for plan, i, pairs in later:  # every row is in: the keys to rows of the same table
        update = (f'UPDATE "{plan.table}" SET "{plan.fields[i].column_name}" = {mark} '
                  f'WHERE "{plan.fields[plan.key].column_name}" = {mark}')
        for key, value in pairs:
            database.execute_sql(update, (value, key))
    for plan in plans:
        if isinstance(plan.model._meta.primary_key, peewee.AutoField) and counts[plan.table]:
            sync_id_sequence(plan.model)  # else PostgreSQL's next id is 1, which is taken


def _batches(src: peewee.Database, plan: _Plan) -> Iterator[list[tuple]]:
    """The table's rows in primary key order, a batch at a time (by key, so no cursor stays open; a key of more
    than one column compared as a row: the chains' links by (chain, seq))."""
    keys = plan.keys
    names = ", ".join(f'"{plan.fields[i].column_name}"' for i in keys)
    marks = ", ".join(src.param for _i in keys)
    select = 'SELECT ' + ", ".join(f'"{f.column_name}"' for f in plan.fields) + f' FROM "{plan.table}"'
    after: tuple | None = None
    while True:
        if after is None:
            rows = src.execute_sql(f'{select} ORDER BY {names} LIMIT {BATCH}').fetchall()
        else:
            rows = src.execute_sql(f'{select} WHERE ({names}) > ({marks}) ORDER BY {names} LIMIT {BATCH}',
                                   after).fetchall()
        if not rows:
            return
        yield rows
        after = tuple(rows[-1][i] for i in keys)


def _converter(field: peewee.Field) -> Callable[[object], object] | None:
    """What a raw value must become so the other engine stores the same thing (None: it goes as it is)."""
    if isinstance(field, peewee.BooleanField):
        return bool  # SQLite keeps 0/1; PostgreSQL wants a boolean
    if isinstance(field, peewee.DateTimeField):
        return clock.parse_stored  # SQLite's text; a naive UTC datetime either way, never moved by a zone
    if isinstance(field, peewee.DateField):
        return _date
    return None


def _date(value: object) -> object:
    if isinstance(value, str):
        with suppress(ValueError):
            return dt.date.fromisoformat(value)
    return value


def _insert(plan: _Plan, rows: Sequence[Sequence[object]]) -> None:
    if not rows:
        return
    columns = ", ".join(f'"{f.column_name}"' for f in plan.fields)
    mark = database.param
    one = "(" + ", ".join([mark] * len(plan.fields)) + ")"
    if isinstance(database.obj, peewee.SqliteDatabase):
        database.cursor().executemany(f'INSERT INTO "{plan.table}" ({columns}) VALUES {one}', rows)
        return
    step = max(1, MOST_VALUES // len(plan.fields))
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        database.execute_sql(f'INSERT INTO "{plan.table}" ({columns}) VALUES ' + ", ".join([one] * len(chunk)),
                             [value for row in chunk for value in row])


def _remove(dst: peewee.Database) -> None:
    """Take away the SQLite file (and its -wal, -shm) that a failed move made."""
    close_database()
    path = Path(dst.mms_path)  # type: ignore[attr-defined]
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with suppress(OSError):
            os.unlink(name)
