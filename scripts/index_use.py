#!/usr/bin/env python3
"""Which index each of the product's queries reads with — every index justified by a query that uses it (#27).

    python -m pytest -n auto -p index_use --index-use=/tmp/iu     # with PYTHONPATH=scripts: record
    python scripts/index_use.py /tmp/iu [--db BIGDB]               # the table: index, bytes, statements using it

Recording: as a pytest plugin, every distinct statement the product sends SQLite during the test suite (through
peewee's ``execute_sql``, which the written-out statements of services/base/sql.py use too) is explained once with
``EXPLAIN QUERY PLAN`` on the same connection, with its own parameters, and the indexes the plan names are kept
with the statement (one JSON file per pytest worker). The report lists every index of the schema (the models' own,
made on a new database) with its size on ``--db`` (a database of scripts/bigdb.py), how many statements use it and
one of them — an index no statement uses must be a unique constraint, or go.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

_USING = re.compile(r"USING (?:COVERING )?INDEX (\S+)")
_EXPLAINED = ("SELECT", "UPDATE", "DELETE", "WITH", "INSERT")


# ------------------------------------------------------------------------------------------------ the pytest plugin


def pytest_addoption(parser) -> None:
    parser.addoption("--index-use", metavar="DIR", help="record the indexes each statement's plan uses into DIR")


def pytest_configure(config) -> None:
    folder = config.getoption("--index-use")
    if not folder:
        return
    import peewee

    seen: dict[str, list[str]] = {}
    original = peewee.SqliteDatabase.execute_sql

    def execute_sql(self, sql, params=None, *args, **kwargs):
        if sql not in seen and sql.lstrip()[:6].upper().startswith(_EXPLAINED) and "sqlite_master" not in sql:
            try:
                plan = self.connection().execute("EXPLAIN QUERY PLAN " + sql, params or ()).fetchall()
                seen[sql] = sorted({m for row in plan for m in _USING.findall(str(row[-1]))})
            except Exception:  # (a statement of a schema being changed, a closed connection)
                seen[sql] = []
        return original(self, sql, params, *args, **kwargs)

    peewee.SqliteDatabase.execute_sql = execute_sql
    config._index_use = (Path(folder), seen)


def pytest_unconfigure(config) -> None:
    recorded = getattr(config, "_index_use", None)
    if recorded is None:
        return
    folder, seen = recorded
    folder.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    (folder / f"plans-{worker}.json").write_text(json.dumps(seen, ensure_ascii=False, indent=0))


# ------------------------------------------------------------------------------------------------ the report


def _schema_indexes() -> dict[str, tuple[str, bool]]:
    """index → (table, unique) of a database the models make."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from mms_tui.db import close_database
    from mms_tui.services.ops.setup import connect, initialise

    path = Path(tempfile.mkdtemp(prefix="mms-index-use-")) / "schema.sqlite3"
    connect(str(path))
    initialise()
    close_database()
    with sqlite3.connect(path) as db:
        found = {}
        for name, table in db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"):
            unique = db.execute(f'PRAGMA index_list("{table}")').fetchall()
            found[name] = (table, any(row[1] == name and row[2] for row in unique))
    db.close()
    return found


def report(folder: Path, big: str | None) -> list[tuple]:
    uses: dict[str, list[str]] = defaultdict(list)
    statements = 0
    for file in sorted(folder.glob("plans-*.json")):
        for sql, indexes in json.loads(file.read_text()).items():
            statements += 1
            for name in indexes:
                uses[name].append(sql)
    sizes: dict[str, int] = {}
    if big:
        with sqlite3.connect(f"file:{big}?mode=ro", uri=True) as db:
            sizes = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        db.close()
    rows = []
    for name, (table, unique) in sorted(_schema_indexes().items(), key=lambda x: -sizes.get(x[0], 0)):
        example = min(uses.get(name, []), key=len, default="")
        rows.append((name, table, "unique" if unique else "", round(sizes.get(name, 0) / 1e6, 1),
                     len(set(uses.get(name, []))), " ".join(example.split())[:90]))
    print(f"{statements} distinct statements explained", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where the plugin recorded (--index-use)")
    parser.add_argument("--db", help="a database of scripts/bigdb.py: each index's bytes")
    args = parser.parse_args()
    from tabulate import tabulate

    print(tabulate(report(args.folder, args.db), headers=["index", "table", "", "MB", "statements", "e.g."]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
