#!/usr/bin/env python3
"""Benchmarks, each figure beside a raw baseline measured in the same run. Results go in BENCHMARKS.md.

    python scripts/bench.py swipe [--rounds 50] [--members 200] [--reuse PATH] [--cold] [--json]
    python scripts/bench.py import [--members 1000000] [--json]
    python scripts/bench.py reports [--members 1000000] [--reuse PATH] [--runs 3] [--json]
    python scripts/bench.py lookups --reuse PATH [--rounds 200] [--json]
    python scripts/bench.py start --reuse PATH [--json]
    python scripts/bench.py checkout --reuse PATH [--rounds 200] [--json]
    python scripts/bench.py bookings [--rounds 200] [--json]
    python scripts/bench.py chain --reuse postgresql://… [--members 1000000] [--desks 16] [--seconds 60] [--json]
    python scripts/bench.py all [--quick] [--reuse PATH] [--json]

``swipe``: an RDM6300 frame written to a pty → the first screen update showing that member's name on the member screen,
rendered to the bytes a terminal would be sent, in the headless app (p50/p95),
against the raw baseline of the same frame crossing the pty to a plain reader (p50/p95).

``import``: ``mms import members`` of a generated CSV (name, phone, card number, balance, bonus, points, birthday,
gender: every member with a stored-value card and opening balances) into a new database, against the raw baseline
of ``sqlite3 .import`` of the same file into a plain table (the sqlite3 shell; Python's ``executemany`` of the parsed
rows when the shell is not installed).

``reports``: every report of ``mms report --list`` on a database of 1,000,000 members with cards, about 5,000,000
ledger entries and two years of sales, top-ups and check-ins (built by ``scripts/bigdb.py``, or reused with
``--reuse PATH``: it takes a while to build; a path that does not exist yet is built there and kept). Each report
runs for the last 30 days of the data, turnover also by month for a whole year; the median of ``--runs`` runs, each
on a new connection as ``mms report`` would open one. Beside it, two raw baselines measured in the same run through
the plain sqlite3 module: the hand-written aggregate SQL for the same figures, and a full scan
``SELECT COUNT(*), SUM(amount) FROM ledger_entry``. A database made before the reports' indexes is upgraded first
(``mms init``'s migration), and the upgrade is timed.

``lookups``: the desk search at 1,000,000 members for each kind of key (card number, reader UID, full phone, last 4
digits, name prefix, pinyin initials), p50/p99 over random members, beside the raw sqlite3 read of the same index.

``start``: ``mms --db PATH`` on a real 80×24 pseudo-terminal until its login screen is drawn, and its peak RSS, beside
a minimal Textual app drawing the same two widgets.

``checkout``: a checkout as the desk sends it (two lines; 100 points and the rest from stored value), commit time
p50/p99 in one process, then four desk processes at once (checkouts per second, errors other than refusals),
beside the same writes made by hand through sqlite3. The sales stay in the database used.

``bookings``: on a new database of one store with 30 staff and 400 bookings on one day: the day view's grid read,
and read then drawn at 80×24 in the headless desk until the screen update is rendered to the bytes a terminal would
be sent (beside a bare Textual DataTable of the same size refilled and drawn the same way), the next free slot
across the 30 staff, and a booking's commit (p50/p99), each beside the raw sqlite3 read or write of the same rows.

``chain``: a chain of fifty stores on PostgreSQL (issue #24): desks in many stores at once held to their own logs,
beside pgbench's simple-update; a region's reports over a month and settlement over a quarter; ``mms check``
(scripts/chainbench.py says how).

``memory --reuse PATH --rounds 3`` (at most 10 rounds): the desk's memory after the manager's five charts are
read at once on the worker threads (as the charts screen reads them), each thread keeping its SQLite connection as the desk does:
the RSS after and the peak, beside the same reads with a connection opened for every call.

``xlsx --reuse PATH [--members 200000]``: the member export as an XLSX workbook for the first N members of a
database built by scripts/bigdb.py (read from the database and written by ``write_xlsx``, as ``mms export members
m.xlsx`` does), beside the same rows only read, and read and written as CSV; the peak RSS of the process after.

``all [--quick] [--reuse PATH]``: all of these on one database of 1,000,000 members (100,000 with ``--quick``),
and one summary table of every figure beside its baseline and target.

``sizes --reuse PATH``: the bytes of every table and index of a database (SQLite's ``dbstat``; PostgreSQL's
relation sizes for a ``postgresql://`` URL), largest first, with the rows of each table and the bytes per row.

**A busy machine records nothing.** Every run starts by reading the load average: above
:data:`BUSY_LOAD_PER_CORE` per core over the last minute (another build, a test suite, an earlier benchmark still
winding down), it says so and stops before measuring anything, so BENCHMARKS.md never mixes a quiet figure with a
loaded one. ``--busy`` measures anyway, every figure then marked ``busy`` in the output (never for BENCHMARKS.md).
The load average at the start is part of every run's output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bigdb, the generator of the reports' database


#: the one-minute load average per core above which a run records nothing (a quiet machine sits well below it)
BUSY_LOAD_PER_CORE = 0.3


def machine_load() -> tuple[float, float, float]:
    return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]


def busy_reason(load: tuple[float, float, float], cores: int) -> str | None:
    """Why this machine is too busy to measure on, or None when it is quiet enough."""
    if load[0] > BUSY_LOAD_PER_CORE * cores:
        return (f"the machine is busy: load average {load[0]} over the last minute on {cores} cores (more than "
                f"{BUSY_LOAD_PER_CORE} a core); nothing was measured. Wait for it to be quiet, or pass --busy to "
                f"measure anyway (figures marked busy, not for BENCHMARKS.md).")
    return None


def table_sizes(target: str) -> list[tuple[str, str, int, int]]:
    """(name, table or index, bytes, rows) of every table and index, largest first (rows 0 for an index)."""
    if target.startswith("postgresql://"):
        import psycopg2

        conn = psycopg2.connect(target)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT c.relname, CASE c.relkind WHEN 'i' THEN 'index' ELSE 'table' END, "
                            "pg_relation_size(c.oid) + CASE WHEN c.relkind = 'r' THEN "
                            "COALESCE(pg_total_relation_size(c.reltoastrelid), 0) ELSE 0 END, "
                            "CASE c.relkind WHEN 'r' THEN c.reltuples::bigint ELSE 0 END FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                            "AND c.relkind IN ('r', 'i') ORDER BY 3 DESC")
                return [(name, kind, int(size), max(int(rows), 0)) for name, kind, size, rows in cur.fetchall()]
        finally:
            conn.close()
    import sqlite3

    with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as db:
        kinds = dict(db.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'index')"))
        out = []
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"):
            kind = kinds.get(name, "index")  # (sqlite_autoindex_… of a UNIQUE constraint)
            rows = db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] if kind == "table" else 0
            out.append((name, kind, int(size), int(rows)))
    db.close()
    return out


def bench_sizes(target: str) -> dict:
    sizes = table_sizes(target)
    total = sum(size for _name, _kind, size, _rows in sizes)
    return {"benchmark": "sizes", "database": target, "total_mb": round(total / 1e6, 1),
            "tables_mb": round(sum(s for _n, k, s, _r in sizes if k == "table") / 1e6, 1),
            "indexes_mb": round(sum(s for _n, k, s, _r in sizes if k == "index") / 1e6, 1),
            "sizes": [{"name": n, "kind": k, "mb": round(s / 1e6, 2), "rows": r,
                       "bytes_per_row": round(s / r) if r else None} for n, k, s, r in sizes]}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def raw_pty_baseline(frame: bytes, rounds: int) -> list[float]:
    master, slave = os.openpty()
    import tty

    tty.setraw(slave)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        os.write(master, frame)
        got = b""
        while len(got) < len(frame):
            got += os.read(slave, 64)
        times.append((time.perf_counter() - start) * 1000)
    os.close(master)
    os.close(slave)
    return times


def evict(path: str) -> None:
    """Drop the database file's pages (and its WAL's) from the operating system's page cache
    (``posix_fadvise(DONTNEED)``), so that what reads them next pays the reads from the disk, as on a cold morning."""
    for name in (path, path + "-wal"):
        if os.path.exists(name):
            fd = os.open(name, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


async def swipe_to_screen(db: str, link: Path, frames: list[tuple[bytes, int, str]],
                          cold: bool = False) -> list[float]:
    """Seconds from a frame written to the pty to the first screen update, as the terminal would be sent it, that
    shows that member's name on the member screen. ``cold``: the database's pages are dropped from the operating
    system's cache before each swipe (the desk's own SQLite page cache stays: a desk that has been open)."""
    from textual._compositor import CompositorUpdate

    from mms_tui.app import create_app
    from mms_tui.screens.member import MemberScreen
    from mms_tui.settings import Settings

    master, slave = os.openpty()
    link.symlink_to(os.ttyname(slave))
    app = create_app(Settings(db=db, card_reader=str(link), reader_protocol="rdm6300", lock_minutes=0))
    times: list[float] = []
    waiting: dict[str, object] = {}
    display = app._display

    def drawn(screen, renderable) -> None:
        """The headless app composes every update but writes none: render it to terminal bytes here, as a real
        terminal's would be, and note when the awaited member's name is among them."""
        if waiting and isinstance(renderable, CompositorUpdate) and isinstance(screen, MemberScreen) \
                and screen.member_id == waiting["member_id"] and waiting["name"] in renderable.render_segments(app.console):
            waiting["at"] = time.perf_counter()
        display(screen, renderable)

    app._display = drawn
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        for key in "c01":
            await pilot.press(key)
        await pilot.press("enter")
        await pilot.pause(0.1)
        for key in "0000":
            await pilot.press(key)
        await pilot.press("enter")
        while app.staff is None or not all(r.state == "connected" for r in app.readers):
            await asyncio.sleep(0.02)
        await pilot.pause(0.3)
        for frame, member_id, name in frames:
            waiting.update(member_id=member_id, name=name)
            if cold:
                evict(db)
            start = time.perf_counter()
            os.write(master, frame)
            while "at" not in waiting:
                if time.perf_counter() - start > 10:
                    raise RuntimeError(f"member {member_id} was not drawn within 10 s of the swipe")
                await asyncio.sleep(0.001)
            times.append((waiting["at"] - start) * 1000)
            waiting.clear()
            await pilot.press("escape")
            await asyncio.sleep(0.9)  # past the reader's hold gap: the next frame is a new presentation
    os.close(master)
    os.close(slave)
    return times


def bench_swipe(rounds: int, members: int, reuse: str | None = None, cold: bool = False) -> dict:
    """On a new database of ``members`` members with RFID cards, or on ``reuse`` (a bigdb database: random members'
    own cards, and a bench cashier added if it has none); ``cold``: each swipe with the file out of the page cache."""
    if reuse:
        target, folder, frames = _swipe_on_existing(reuse, members)
    else:
        target, folder, frames = _swipe_on_new(members)
    chosen = [frames[(i * 7919) % len(frames)] for i in range(rounds)]
    app_times = asyncio.run(swipe_to_screen(target, folder / "reader", chosen, cold))
    raw_times = raw_pty_baseline(chosen[0][0], rounds)
    return {
        "benchmark": "swipe to member screen",
        "database": reuse or "new",
        "page_cache": "cold: the file evicted before each swipe" if cold else "warm",
        "rounds": rounds,
        "members": members,
        "p50_ms": round(statistics.median(app_times), 2),
        "p95_ms": round(percentile(app_times, 95), 2),
        "raw_pty_p50_ms": round(statistics.median(raw_times), 3),
        "raw_pty_p95_ms": round(percentile(raw_times, 95), 3),
        "target_p95_ms": 60 if cold else 25,
    }


def _swipe_on_new(members: int) -> tuple[str, Path, list[tuple[bytes, int, str]]]:
    from mms_tui.db import close_database
    from mms_tui.devices.protocols import em4100_decimal, rdm6300_frame
    from mms_tui.models import Staff
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.ops.setup import connect, initialise
    from mms_tui.services.staff.accounts import create_staff

    folder = Path(tempfile.mkdtemp(prefix="mms-bench-"))
    target = str(folder / "bench.sqlite3")
    connect(target)
    initialise(admin_code="admin", admin_pin="1234")
    create_staff("c01", "前台", "cashier", "0000")
    cashier = Staff.get(Staff.code == "c01")
    frames = []
    for i in range(members):
        member = register_member(f"会员{i}", f"1390000{i:04d}", cashier, f"r{i}").member_id
        tag = f"01{i:08X}"
        issue_card(member, "PT", cashier, f"i{i}", reader_uid=em4100_decimal(tag))
        frames.append((rdm6300_frame(tag), member, f"会员{i}"))
    close_database()
    return target, folder, frames


def _swipe_on_existing(path: str, members: int, seed: int = 11) -> tuple[str, Path, list[tuple[bytes, int, str]]]:
    import random
    import sqlite3

    from mms_tui.db import close_database
    from mms_tui.devices.protocols import rdm6300_frame
    from mms_tui.models import Staff
    from mms_tui.services.ops.setup import connect
    from mms_tui.services.staff.accounts import create_staff

    ensure_reader_uids(path)
    connect(path)
    if not Staff.select().where(Staff.code == "c01").exists():
        create_staff("c01", "前台", "cashier", "0000")
    close_database()
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    top = con.execute("SELECT MAX(id) FROM member").fetchone()[0]
    frames: list[tuple[bytes, int, str]] = []
    while len(frames) < members:
        row = con.execute("SELECT m.id, m.name, c.reader_uid FROM member m JOIN card c ON c.member_id = m.id "
                          "WHERE m.id = ? AND c.status = 'active' AND c.reader_uid IS NOT NULL LIMIT 1",
                          (rng.randint(1, top),)).fetchone()
        if row is not None:
            uid = row[2] if len(row[2]) == 8 else f"{int(row[2]):08X}"  # canonical hex (or an older decimal)
            frames.append((rdm6300_frame(f"01{uid}"), row[0], row[1]))
    con.close()
    return path, Path(tempfile.mkdtemp(prefix="mms-bench-")), frames


def write_member_csv(path: Path, members: int, seed: int = 5) -> None:
    import csv
    import random

    from mms_tui.services.ops.demo import GIVEN, SURNAMES

    rng = random.Random(seed)
    phones = rng.sample(range(10**9), members)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["姓名", "手机", "卡号", "余额", "赠送余额", "积分", "生日", "性别"])
        for i in range(members):
            out.writerow([
                rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)[: rng.choice((0, 1))],
                f"13{phones[i]:09d}", f"{i:010d}", f"{rng.randint(0, 5000)}.{rng.randint(0, 99):02d}",
                rng.choice(("0", "0", "100", "200")), str(rng.randint(0, 5000)),
                f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", rng.choice("男女"),
            ])


def raw_import_baseline(csv_path: Path, folder: Path) -> tuple[float, str]:
    import shutil
    import sqlite3
    import subprocess

    target = folder / "raw.sqlite3"
    if shutil.which("sqlite3"):
        start = time.perf_counter()
        subprocess.run(["sqlite3", str(target)], input=f".mode csv\n.import {csv_path} raw\n", text=True, check=True)
        return time.perf_counter() - start, "sqlite3 .import"
    import csv

    start = time.perf_counter()
    con = sqlite3.connect(target)
    with csv_path.open(encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = next(rows)
        con.execute(f"CREATE TABLE raw ({', '.join(f'c{i}' for i in range(len(header)))})")
        con.executemany(f"INSERT INTO raw VALUES ({', '.join('?' for _ in header)})", rows)
    con.commit()
    con.close()
    return time.perf_counter() - start, "python sqlite3 executemany"


def raw_rows_floor(imported: Path, folder: Path) -> float:
    """The same rows the import wrote (members, cards, ledger entries), written again by hand with the sqlite3
    module into the same schema in the same way (one transaction, indexes built at the end): what the import
    would cost if reading, cleaning and placing the rows were free."""
    import sqlite3

    target = folder / "floor.sqlite3"
    source = sqlite3.connect(imported)
    tables = ("member", "card", "ledger_entry")
    schema = source.execute("SELECT type, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    con = sqlite3.connect(target, isolation_level=None)
    for pragma in ("journal_mode = wal", "synchronous = full", "foreign_keys = 1", "cache_size = -32000"):
        con.execute(f"PRAGMA {pragma}")
    for kind, _table, sql in schema:
        if kind == "table":
            con.execute(sql)
    for table in ("store", "staff", "tier", "card_type", "ledger_transaction"):
        rows = source.execute(f'SELECT * FROM "{table}"').fetchall()
        if rows:
            con.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" for _ in rows[0])})', rows)
    start = time.perf_counter()
    con.execute("BEGIN IMMEDIATE")
    for table in tables:
        cursor = source.execute(f'SELECT * FROM "{table}"')
        marks = ", ".join("?" for _ in cursor.description)
        con.executemany(f'INSERT INTO "{table}" VALUES ({marks})', cursor)
    for kind, table, sql in schema:
        if kind == "index" and table in tables:
            con.execute(sql)
    con.execute("COMMIT")
    seconds = time.perf_counter() - start
    con.close()
    source.close()
    return seconds


def copy_rows_floor(url: str, floor_url: str) -> float:
    """PostgreSQL's floor: the rows the import wrote (members, cards, ledger entries) copied out with ``COPY`` and
    timed going back in with ``COPY`` into the same schema made afresh by mms init, the same way (one transaction,
    those tables' indexes and foreign keys dropped first and made again at the end, as db.indexes_rebuilt_after
    does for the import)."""
    import io

    import psycopg2
    from bigdb import _fresh_postgres

    from mms_tui.db import close_database
    from mms_tui.services.ops.setup import connect, initialise

    tables = ("member", "card", "ledger_entry")
    _fresh_postgres(floor_url)
    connect(floor_url)
    initialise(admin_code="admin", admin_pin="1234")
    close_database()
    source, target = psycopg2.connect(url), psycopg2.connect(floor_url)
    dumped: dict[str, io.BytesIO] = {}
    with source.cursor() as cur:
        for table in ("store", "staff", "tier", "card_type", "ledger_transaction", *tables):
            dumped[table] = io.BytesIO()
            cur.copy_expert(f'COPY "{table}" TO STDOUT', dumped[table])
    with target.cursor() as cur:
        cur.execute('TRUNCATE "store", "staff", "tier", "card_type", "ledger_transaction", "member", "card", '
                    '"ledger_entry", "config", "chain_link", "chain_head", "audit_event" CASCADE')
        for table in ("store", "staff", "tier", "card_type", "ledger_transaction"):
            dumped[table].seek(0)
            cur.copy_expert(f'COPY "{table}" FROM STDIN', dumped[table])
        target.commit()
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN "
                    "%s AND indexname NOT LIKE '%%_pkey'", (tables,))
        indexes = cur.fetchall()
        cur.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE contype = 'f' AND conrelid::regclass::text IN %s", (tables,))
        foreign_keys = cur.fetchall()
        start = time.perf_counter()
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        for table, name, _definition in foreign_keys:
            cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        for table in tables:
            dumped[table].seek(0)
            cur.copy_expert(f'COPY "{table}" FROM STDIN', dumped[table])
        for _name, definition in indexes:
            cur.execute(definition)
        for table, name, definition in foreign_keys:
            cur.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        target.commit()
        seconds = time.perf_counter() - start
    source.close()
    target.close()
    return seconds


def bench_import_postgres(members: int, url: str) -> dict:
    """``mms import members`` into a new PostgreSQL database at ``url`` (replaced), beside the floor of the same
    rows written by ``COPY`` (:func:`copy_rows_floor`, into ``url`` + ``_floor``)."""
    from bigdb import _fresh_postgres

    from mms_tui.db import close_database
    from mms_tui.services.exchange.importing import import_file
    from mms_tui.services.ops.setup import connect, initialise

    folder = Path(tempfile.mkdtemp(prefix="mms-bench-"))
    csv_path = folder / "members.csv"
    write_member_csv(csv_path, members)
    _fresh_postgres(url)
    connect(url)
    initialise(admin_code="admin", admin_pin="1234")
    start = time.perf_counter()
    result = import_file("members", csv_path)
    seconds = time.perf_counter() - start
    close_database()
    floor_seconds = copy_rows_floor(url, url + "_floor")
    return {
        "benchmark": "import members from CSV into PostgreSQL",
        "members": members,
        "mms_import_s": round(seconds, 2),
        "members_created": result.created,
        "cards_created": result.cards_created,
        "floor_same_rows_copy_s": round(floor_seconds, 2),
        "ratio_to_floor": round(seconds / floor_seconds, 2),
        "target": "within 1.25x of the floor; 1,000,000 under 60 s",
    }


def bench_import(members: int) -> dict:
    import resource

    from mms_tui.db import close_database
    from mms_tui.services.exchange.importing import import_file
    from mms_tui.services.ops.setup import connect, initialise

    folder = Path(tempfile.mkdtemp(prefix="mms-bench-"))
    csv_path = folder / "members.csv"
    write_member_csv(csv_path, members)
    raw_seconds, raw_how = raw_import_baseline(csv_path, folder)
    connect(str(folder / "bench.sqlite3"))
    initialise(admin_code="admin", admin_pin="1234")
    start = time.perf_counter()
    result = import_file("members", csv_path)
    seconds = time.perf_counter() - start
    close_database()
    floor_seconds = raw_rows_floor(folder / "bench.sqlite3", folder)
    return {
        "benchmark": "import members from CSV",
        "members": members,
        "file_mb": round(csv_path.stat().st_size / 1e6, 1),
        "mms_import_s": round(seconds, 2),
        "members_created": result.created,
        "cards_created": result.cards_created,
        "baseline": raw_how,
        "baseline_s": round(raw_seconds, 2),
        "ratio": round(seconds / raw_seconds, 1),
        "floor_same_rows_s": round(floor_seconds, 2),
        "floor_note": "the rows mms wrote, written again with the sqlite3 module into the same schema",
        "ratio_to_floor": round(seconds / floor_seconds, 2),
        "target": "within 1.25x of the floor (the same rows by hand); 1,000,000 under 60 s",
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "reading_child_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


# --- reports --------------------------------------------------------------------------------------------------

#: the hand-written SQL for each report's figures, run through the plain sqlite3 module as the raw baseline;
#: {bucket} is the day (or month) of a transaction
_TX_RANGE = "t.created_at >= :start AND t.created_at < :end"
RAW_REPORT_SQL: dict[str, list[str]] = {
    "turnover": [
        f"SELECT {{bucket}}, COUNT(*), SUM(s.total_fen) FROM sale s JOIN ledger_transaction t ON t.id = s.transaction_id "
        f"WHERE {_TX_RANGE} GROUP BY 1",
        f"SELECT {{bucket}}, p.tender, SUM(p.amount_fen) FROM payment p JOIN sale s ON s.id = p.sale_id "
        f"JOIN ledger_transaction t ON t.id = s.transaction_id WHERE {_TX_RANGE} GROUP BY 1, 2",
        f"SELECT {{bucket}}, l.category, SUM(l.line_total_fen) FROM sale_line l JOIN sale s ON s.id = l.sale_id "
        f"JOIN ledger_transaction t ON t.id = s.transaction_id WHERE {_TX_RANGE} GROUP BY 1, 2",
        f"SELECT {{bucket}}, COUNT(*), SUM(s.total_fen) FROM ledger_transaction t "
        f"JOIN sale s ON s.transaction_id = t.reverses_id WHERE {_TX_RANGE} AND t.kind = 'refund' GROUP BY 1",
        f"SELECT {{bucket}}, p.tender, SUM(p.amount_fen) FROM ledger_transaction t "
        f"JOIN sale s ON s.transaction_id = t.reverses_id JOIN payment p ON p.sale_id = s.id "
        f"WHERE {_TX_RANGE} AND t.kind = 'refund' GROUP BY 1, 2",
        f"SELECT {{bucket}}, l.category, SUM(l.line_total_fen) FROM ledger_transaction t "
        f"JOIN sale s ON s.transaction_id = t.reverses_id JOIN sale_line l ON l.sale_id = s.id "
        f"WHERE {_TX_RANGE} AND t.kind = 'refund' GROUP BY 1, 2",
    ],
    "topups": [
        f"SELECT {{bucket}}, e.account, COUNT(*), SUM(e.amount) FROM ledger_transaction t "
        f"LEFT JOIN ledger_transaction o ON o.id = t.reverses_id JOIN ledger_entry e ON e.transaction_id = t.id "
        f"WHERE {_TX_RANGE} AND (t.kind = 'topup' OR o.kind = 'topup') GROUP BY 1, 2",
    ],
    "liability": [
        "SELECT c.card_type_id, e.account, SUM(e.amount) FROM ledger_entry e "
        "JOIN ledger_transaction t ON t.id = e.transaction_id JOIN card c ON c.id = e.card_id "
        "WHERE t.created_at < :end GROUP BY 1, 2",
    ],
    "cards": [
        "SELECT card_type_id, CASE WHEN status = 'active' AND valid_until < :end_day THEN 'expired' ELSE status END, "
        "COUNT(*), SUM(issued_at >= :start AND issued_at < :end), "
        "SUM(status = 'active' AND valid_until >= :end_day AND valid_until <= :soon) FROM card GROUP BY 1, 2",
    ],
    "visits": [
        f"SELECT v.store_id, strftime('%w %H', t.created_at), COUNT(*) FROM visit v "
        f"JOIN ledger_transaction t ON t.id = v.transaction_id WHERE {_TX_RANGE} AND v.status = 'ok' GROUP BY 1, 2",
    ],
    "staff": [
        f"SELECT s.staff_id, l.service_id IS NOT NULL, SUM(l.qty), SUM(l.line_total_fen), COUNT(DISTINCT s.id) "
        f"FROM sale_line l JOIN sale s ON s.id = l.sale_id JOIN ledger_transaction t ON t.id = s.transaction_id "
        f"WHERE {_TX_RANGE} AND s.status = 'paid' GROUP BY 1, 2",
    ],
    "products": [
        f"SELECT l.code, l.name, l.category, l.service_id IS NOT NULL, SUM(l.qty), SUM(l.line_total_fen) "
        f"FROM sale_line l JOIN sale s ON s.id = l.sale_id JOIN ledger_transaction t ON t.id = s.transaction_id "
        f"WHERE {_TX_RANGE} AND s.status = 'paid' GROUP BY 1, 2, 3, 4 ORDER BY 6 DESC",
    ],
    "tiers": [
        "SELECT tier_id, COUNT(*) FROM member GROUP BY 1",
        "SELECT json_extract(payload, '$.to'), COUNT(*) FROM audit_event "
        "WHERE action = 'member.tier_up' AND created_at >= :start AND created_at < :end GROUP BY 1",
    ],
    "segments": [
        """WITH s AS (SELECT member_id, MAX(created_at) AS last, COUNT(*) AS n, SUM(total_fen) AS spend FROM sale
                      WHERE member_id IS NOT NULL AND status = 'paid' AND created_at >= :year_ago
                      AND created_at < :end GROUP BY member_id),
                v AS (SELECT member_id, MAX(created_at) AS last FROM visit
                      WHERE status = 'ok' AND created_at < :end GROUP BY member_id),
                r AS (SELECT date(m.created_at) AS joined, max(COALESCE(date(s.last), ''), COALESCE(date(v.last), ''))
                             AS seen, COALESCE(s.n, 0) AS n, COALESCE(s.spend, 0) AS spend
                      FROM member m LEFT JOIN s ON s.member_id = m.id LEFT JOIN v ON v.member_id = m.id
                      WHERE m.created_at < :end)
           SELECT CASE WHEN joined >= :d30 THEN 'new'
                       WHEN seen >= :d60 AND spend >= 300000 THEN 'big_spenders'
                       WHEN seen >= :d30 AND n >= 6 THEN 'loyal'
                       WHEN seen >= :d60 THEN 'returning'
                       WHEN seen >= :d180 AND n >= 2 THEN 'at_risk'
                       WHEN seen = '' OR seen < :d180 THEN 'lost'
                       ELSE 'idle' END, COUNT(*) FROM r GROUP BY 1""",
    ],
    "shifts": [
        "SELECT id, staff_id, store_id, opened_at, closed_at, float_fen, expected_json, counted_json, over_short_fen "
        "FROM shift WHERE opened_at >= :start AND opened_at < :end",
        f"SELECT t.staff_id, t.store_id, e.account, SUM(e.amount) FROM ledger_transaction t "
        f"JOIN ledger_entry e ON e.transaction_id = t.id WHERE {_TX_RANGE} AND e.account LIKE 'tender.%' "
        f"GROUP BY 1, 2, 3",
    ],
    "birthdays": [
        """SELECT m.name, m.phone, t.name, m.birthday, (SELECT MAX(v.created_at) FROM visit v
                  WHERE v.member_id = m.id AND v.status = 'ok')
           FROM member m JOIN tier t ON t.id = m.tier_id
           WHERE m.birthday IS NOT NULL AND CASE WHEN substr(:start, 6, 5) <= substr(:end_day, 6, 5)
                 THEN substr(m.birthday, 6, 5) BETWEEN substr(:start, 6, 5) AND substr(:end_day, 6, 5)
                 ELSE substr(m.birthday, 6, 5) >= substr(:start, 6, 5) OR substr(m.birthday, 6, 5) <= substr(:end_day, 6, 5)
                 END""",
    ],
    "commissions": [
        "SELECT c.staff_id, SUM(CASE WHEN c.reverses_id IS NULL THEN 1 ELSE -1 END), SUM(c.base_fen), "
        "SUM(c.amount_fen) FROM commission c WHERE c.created_at >= :start AND c.created_at < :end GROUP BY 1",
    ],
    "service": [
        "SELECT c.staff_id, l.code, SUM(CASE WHEN c.reverses_id IS NULL THEN 1 ELSE -1 END), "
        "SUM(l.line_total_fen * c.share_bp) FROM commission c JOIN sale_line l ON l.id = c.line_id "
        "WHERE c.created_at >= :start AND c.created_at < :end AND c.role IN ('lead', 'assistant') "
        "AND l.service_id IS NOT NULL GROUP BY 1, 2",
        "SELECT c.staff_id, s.member_id, c.created_at, l.code FROM commission c JOIN sale_line l ON l.id = c.line_id "
        "JOIN sale s ON s.id = c.sale_id WHERE c.created_at >= :start AND c.reverses_id IS NULL "
        "AND s.member_id IS NOT NULL ORDER BY 1, 2, 3",
        "SELECT r.staff_id, l.code, COUNT(*), SUM(r.rating) FROM service_rating r JOIN sale_line l ON l.id = r.line_id "
        "WHERE r.created_at >= :start AND r.created_at < :end GROUP BY 1, 2",
    ],
    "stores": [
        f"SELECT t.store_id, t.kind, COUNT(*), SUM(s.total_fen) FROM ledger_transaction t "
        f"LEFT JOIN sale s ON s.transaction_id = t.id WHERE {_TX_RANGE} GROUP BY 1, 2",
        f"SELECT t.store_id, e.account, SUM(e.amount) FROM ledger_transaction t JOIN ledger_entry e "
        f"ON e.transaction_id = t.id WHERE {_TX_RANGE} AND e.account LIKE 'tender.%' GROUP BY 1, 2",
    ],
    "promotions": [
        "SELECT c.promotion, c.member_id, c.reason, c.issued_at, t.kind FROM coupon c LEFT JOIN ledger_transaction t "
        "ON t.id = c.transaction_id WHERE c.issued_at >= :start AND c.issued_at < :end",
        "SELECT s.member_id, s.total_fen, t.result FROM sale s JOIN ledger_transaction t ON t.id = "
        "s.transaction_id WHERE t.kind = 'checkout' AND t.local_day >= :start_day AND t.local_day <= :end_day "
        "AND s.status = 'paid'",
        "SELECT COUNT(*), SUM(s.total_fen) FROM sale s JOIN ledger_transaction t ON t.id = s.transaction_id "
        "WHERE t.kind = 'checkout' AND t.local_day >= :start_day AND t.local_day <= :end_day AND s.status = 'paid' "
        "AND s.member_id IS NOT NULL",
    ],
    "frequency": [
        "SELECT COUNT(*) FROM member WHERE created_at < :end",
        "SELECT n, COUNT(*) FROM (SELECT member_id, COUNT(*) AS n FROM visit WHERE status = 'ok' "
        "AND created_at >= :start AND created_at < :end GROUP BY member_id) GROUP BY n",
        "SELECT n, COUNT(*) FROM (SELECT member_id, COUNT(*) AS n FROM sale WHERE status = 'paid' "
        "AND member_id IS NOT NULL AND created_at >= :start AND created_at < :end GROUP BY member_id) GROUP BY n",
    ],
    "cohorts": [
        "SELECT strftime('%Y-%m', created_at), COUNT(*) FROM member WHERE created_at >= :month_start "
        "AND created_at < :end GROUP BY 1",
        "SELECT c, a, COUNT(*) FROM (SELECT strftime('%Y-%m', m.created_at) AS c, strftime('%Y-%m', v.created_at) AS a, "
        "m.id FROM member m CROSS JOIN visit v WHERE m.created_at >= :month_start AND m.created_at < :end "
        "AND v.member_id = m.id AND v.status = 'ok' AND v.created_at >= :month_start "
        "UNION SELECT strftime('%Y-%m', m.created_at), strftime('%Y-%m', s.created_at), m.id FROM member m "
        "CROSS JOIN sale s WHERE m.created_at >= :month_start AND m.created_at < :end AND s.member_id = m.id "
        "AND s.status = 'paid' AND s.created_at >= :month_start) GROUP BY 1, 2",
    ],
    "tier-trend": [
        "SELECT tier_id, COUNT(*) FROM member GROUP BY 1",
        "SELECT substr(created_at, 1, 10), tier_id, COUNT(*) FROM member WHERE created_at >= :start GROUP BY 1, 2",
        "SELECT subject, payload, created_at FROM audit_event WHERE action IN ('member.tier_up', 'member.tier_down') "
        "AND created_at >= :start",
    ],
    "attendance": [
        "SELECT staff_id, store_id, kind, at, supersedes_id, void FROM attendance_punch "
        "WHERE at >= :start AND at < :end ORDER BY staff_id, at",
        "SELECT staff_id, weekday, start, \"end\" FROM roster_day",
    ],
}


def _raw_params(start: dt.date, end: dt.date) -> dict[str, str]:
    def day(days: int) -> str:
        return (end - dt.timedelta(days=days)).isoformat()

    return {"start": f"{start.isoformat()} 00:00:00", "end": f"{(end + dt.timedelta(days=1)).isoformat()} 00:00:00",
            "start_day": start.isoformat(), "end_day": end.isoformat(),
            "month_start": f"{start.replace(day=1).isoformat()} 00:00:00", "soon": day(-30), "year_ago": f"{day(365)} 00:00:00", "d30": day(30),
            "d60": day(60), "d180": day(180)}


def _median_seconds(fn: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """(median, first) of ``runs`` timed calls, and the last call's result."""
    times = []
    result: object = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times[0], result


def raw_report_seconds(path: str, name: str, by: str, start: dt.date, end: dt.date, runs: int) -> float | None:
    """The report's hand-written SQL timed (None: no baseline written for it yet)."""
    import sqlite3

    if name not in RAW_REPORT_SQL:
        return None

    bucket = "strftime('%Y-%m', t.created_at)" if by == "month" else "t.local_day"
    params = _raw_params(start, end)

    def run() -> None:
        con = sqlite3.connect(path)
        con.execute("PRAGMA cache_size=-32000")  # as mms opens it
        for sql in RAW_REPORT_SQL[name]:
            con.execute(sql.replace("{bucket}", bucket), params).fetchall()
        con.close()

    return _median_seconds(run, runs)[0]


def raw_scan_seconds(path: str, runs: int) -> tuple[float, int]:
    import sqlite3

    def run() -> int:
        con = sqlite3.connect(path)
        con.execute("PRAGMA cache_size=-32000")
        count = con.execute("SELECT COUNT(*), SUM(amount) FROM ledger_entry").fetchone()[0]
        con.close()
        return count

    seconds, _first, count = _median_seconds(run, runs)
    return seconds, int(count)  # type: ignore[arg-type]


def bench_reports(members: int, reuse: str | None, runs: int) -> dict:
    import bigdb

    from mms_tui.db import close_database, database
    from mms_tui.models.migrations import LATEST, current_version, migrate
    from mms_tui.services.ops.setup import connect
    from mms_tui.services.reports.catalogue import REPORTS, run_report

    path = reuse or str(Path(tempfile.mkdtemp(prefix="mms-bench-")) / "reports.sqlite3")
    built = None
    if not Path(path).exists():
        built = bigdb.build(path, members, log=lambda text: print(text, file=sys.stderr))
    connect(path)
    upgrade_s = None
    if current_version() < LATEST:  # a database made by an older mms: what 'mms init' does to it, timed
        started = time.perf_counter()
        migrate()
        upgrade_s = round(time.perf_counter() - started, 2)
    counts = {table: database.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
              for table in ("member", "card", "ledger_transaction", "ledger_entry", "sale", "visit")}
    last = database.execute_sql('SELECT MAX(created_at) FROM "ledger_transaction"').fetchone()[0]
    end = dt.date.fromisoformat(str(last)[:10])
    close_database()
    # (report, first day, last day, --by, typical): the last 30 days of the data, turnover by month over a year;
    # and, beyond the target, liability as it stood half a year earlier (the ledger after it is taken off)
    cases = [(name, end - dt.timedelta(days=30), end, "day", True) for name in REPORTS]
    cases.insert(1, ("turnover", end - dt.timedelta(days=364), end, "month", True))
    # the activity reports over a year too: twelve cohorts, a tier count at each month's end, a year's frequency
    cases += [(name, end - dt.timedelta(days=364), end, "month", True) for name in ("cohorts", "tier-trend",
                                                                                     "frequency")]
    back = end - dt.timedelta(days=182)
    cases.append(("liability", back - dt.timedelta(days=30), back, "day", False))
    scan_s, scanned = raw_scan_seconds(path, runs)
    results = []
    for name, start, last_day, by, typical in cases:
        def run(name: str = name, start: dt.date = start, last_day: dt.date = last_day, by: str = by) -> int:
            connect(path)  # a new connection per run, as each 'mms report' opens one
            try:
                return len(list(run_report(name, start, last_day, by=by)))
            finally:
                close_database()

        seconds, first, rows = _median_seconds(run, runs)
        raw = raw_report_seconds(path, name, by, start, last_day, runs)
        results.append({"report": name, "by": by, "from": start.isoformat(), "to": last_day.isoformat(),
                        "rows": rows, "seconds": round(seconds, 3), "first_run_s": round(first, 3),
                        "raw_sql_s": round(raw, 3) if raw is not None else None, "typical": typical,
                        "within_target": seconds <= 2.0})
        raw_text = f"{raw:.3f} s" if raw is not None else "none written"
        print(f"  {name:<10} {by:<5} {start} … {last_day}: {seconds:7.3f} s   (raw SQL {raw_text})", file=sys.stderr)
    return {
        "benchmark": f"reports at {counts['member']:,} members",
        "database": path,
        "database_mb": round(Path(path).stat().st_size / 1e6),
        "built_s": built.build_s if built else None,
        "upgrade_s": upgrade_s,
        **counts,
        "runs": runs,
        "baseline_scan": "SELECT COUNT(*), SUM(amount) FROM ledger_entry (sqlite3 module)",
        "baseline_scan_s": round(scan_s, 3),
        "baseline_scan_rows": scanned,
        "target_s": 2.0,
        "reports": results,
    }


# --- lookups --------------------------------------------------------------------------------------------------

#: (kind, target p99 in ms, the raw SQL of the same index read); every kind's key is taken from a random member
LOOKUP_KINDS = [
    ("card number", 1.0, 'SELECT member_id FROM card WHERE card_no = ?'),
    ("reader UID", 1.0, 'SELECT member_id, reader_uid FROM card WHERE uid_tail = ?'),
    ("full phone", 1.0, 'SELECT id FROM member WHERE phone = ?'),
    ("last 4 digits", 10.0, 'SELECT id FROM member WHERE phone_last4 = ? ORDER BY id LIMIT 20'),
    ("name prefix", 10.0, "SELECT id FROM member WHERE name >= ? AND name < ? || char(65535) ORDER BY id LIMIT 20"),
    ("pinyin initials", 10.0,
     "SELECT id FROM member WHERE name_initials >= ? AND name_initials < ? || char(65535) ORDER BY id LIMIT 20"),
]


def ensure_reader_uids(path: str) -> int:
    """Cards of a database built before bigdb gave every card a reader UID get one now, as an RFID reader would
    send it (8 hex digits, unique: the card id through a bijection of 32-bit numbers). Returns how many."""
    import sqlite3

    con = sqlite3.connect(path, isolation_level=None)
    if con.execute("SELECT 1 FROM card WHERE reader_uid IS NOT NULL LIMIT 1").fetchone():
        con.close()
        return 0
    con.execute("BEGIN IMMEDIATE")
    changed = con.execute("UPDATE card SET reader_uid = printf('%08X', (id * 2654435761) % 4294967296) "
                          "WHERE reader_uid IS NULL").rowcount
    if "uid_tail" in {row[1] for row in con.execute("PRAGMA table_info(card)")}:
        con.execute("UPDATE card SET uid_tail = substr(reader_uid, -6) WHERE uid_tail IS NULL")
    con.execute("COMMIT")
    con.close()
    return changed


def _lookup_keys(path: str, count: int, seed: int) -> dict[str, list[tuple]]:
    """For each kind, ``count`` keys of random members: (what the desk types, the raw query's parameters)."""
    import random
    import sqlite3

    rng = random.Random(seed)
    con = sqlite3.connect(path)
    top = con.execute("SELECT MAX(id) FROM member").fetchone()[0]
    keys: dict[str, list[tuple]] = {kind: [] for kind, _t, _sql in LOOKUP_KINDS}
    while len(keys["full phone"]) < count:
        row = con.execute("SELECT m.phone, m.name, m.name_initials, c.card_no, c.reader_uid FROM member m "
                          "JOIN card c ON c.member_id = m.id WHERE m.id = ? AND c.reader_uid IS NOT NULL LIMIT 1",
                          (rng.randint(1, top),)).fetchone()
        if row is None:
            continue
        phone, name, initials, card_no, uid = row
        keys["card number"].append((card_no, (card_no,)))
        keys["reader UID"].append((uid, (uid[-6:],)))
        keys["full phone"].append((phone, (phone,)))
        keys["last 4 digits"].append((phone[-4:], (phone[-4:],)))
        keys["name prefix"].append((name[:2], (name[:2], name[:2])))
        keys["pinyin initials"].append((initials[:2], (initials[:2], initials[:2])))
    con.close()
    return keys


def bench_lookups(path: str, rounds: int) -> list[dict]:
    """The desk's search (``lookup``: the ranked member hits with their cards, first page of 20) for each kind of
    key, p50/p99 over ``rounds`` random members, against the raw sqlite3 read of the same index in the same run."""
    import sqlite3

    from mms_tui.db import close_database
    from mms_tui.services.members.lookup import lookup
    from mms_tui.services.ops.setup import connect

    keys = _lookup_keys(path, rounds, seed=11)
    connect(path)
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA cache_size=-32000")
    rows = []
    for kind, target_ms, sql in LOOKUP_KINDS:
        for typed, params in keys[kind][:20]:  # warm both the same way: the desk has been running all day
            lookup(typed, 20)
            raw.execute(sql, params).fetchall()
        ours, base = [], []
        for typed, params in keys[kind]:
            start = time.perf_counter()
            hits = lookup(typed, 20)
            ours.append((time.perf_counter() - start) * 1000)
            assert hits, f"{kind} {typed!r} found nobody"
            start = time.perf_counter()
            raw.execute(sql, params).fetchall()
            base.append((time.perf_counter() - start) * 1000)
        rows.append({"kind": kind, "p50_ms": round(percentile(ours, 50), 3), "p99_ms": round(percentile(ours, 99), 3),
                     "raw_p50_ms": round(percentile(base, 50), 3), "raw_p99_ms": round(percentile(base, 99), 3),
                     "target_p99_ms": target_ms, "within_target": percentile(ours, 99) <= target_ms})
    raw.close()
    close_database()
    return rows


# --- checkout -------------------------------------------------------------------------------------------------

def _checkout_cards(path: str, count: int, seed: int) -> list[tuple[int, int]]:
    """(member id, card id) of active stored-value cards holding at least ¥300 and 1,000 points."""
    import random
    import sqlite3

    con = sqlite3.connect(path)
    rows = con.execute("SELECT c.member_id, c.id FROM card c JOIN card_type t ON t.id = c.card_type_id "
                       "WHERE t.kind = 'stored_value' AND c.status = 'active' AND c.principal_fen >= 30000 "
                       "AND c.points >= 1000 LIMIT 20000").fetchall()
    con.close()
    random.Random(seed).shuffle(rows)
    return rows[:count]


def _checkout_one(member: int, card: int, staff, txid: str) -> None:
    """A haircut and a bottle of water, 100 points (¥1) and the rest from stored value, as the desk sends it."""
    from mms_tui.services.money.checkout import checkout, quote

    lines = ["HAIR", "WATER"]
    total = quote(member, lines).total_fen
    checkout(member, lines, [("points", 100, card), ("stored_value", total - 100, card)], staff, txid)


def _checkout_process(path: str, cards: list[tuple[int, int]], tag: str, queue, ready, go) -> None:
    """One desk: connect and warm up (one sale, as a desk open all day), say ready, wait for the common start, then
    sell; report how many, and when it finished on the machine-wide monotonic clock."""
    import traceback

    from mms_tui.models import Staff
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.ops.setup import connect

    connect(path)
    staff = Staff.select().where(Staff.role == "cashier").order_by(Staff.id).first()
    done = refused = 0
    errors: list[str] = []
    warm, cards = cards[0], cards[1:]
    with contextlib.suppress(DomainError):
        _checkout_one(*warm, staff, f"bench-{tag}-warm")
    ready.release()
    go.wait()
    for n, (member, card) in enumerate(cards):
        try:
            _checkout_one(member, card, staff, f"bench-{tag}-{n}")
            done += 1
        except DomainError:
            refused += 1
        except Exception:
            errors.append(traceback.format_exc(limit=2))
    queue.put((done, refused, errors, time.monotonic()))


RAW_PRAGMAS = ("journal_mode = wal", "synchronous = full", "foreign_keys = 1", "cache_size = -32000",
               "busy_timeout = 5000")


def raw_scratch(path: str, cards: list[tuple[int, int]]) -> Path:
    """A scratch database for the raw baseline: the same schema as ``path``, with these members and cards copied
    in (the benchmark's own database keeps only what mms wrote, so ``mms check`` holds on it)."""
    import sqlite3

    scratch = Path(tempfile.mkdtemp(prefix="mms-bench-")) / "raw-checkout.sqlite3"
    con = sqlite3.connect(scratch, isolation_level=None)
    for pragma in RAW_PRAGMAS:
        con.execute(f"PRAGMA {pragma}")
    con.execute("ATTACH DATABASE ? AS src", (path,))
    for (sql,) in con.execute("SELECT sql FROM src.sqlite_master WHERE type IN ('table', 'index') "
                              "AND sql IS NOT NULL ORDER BY type DESC").fetchall():
        con.execute(sql)
    members = ", ".join(str(m) for m, _c in cards)
    card_ids = ", ".join(str(c) for _m, c in cards)
    for table, where in (("store", ""), ("staff", ""), ("tier", ""), ("card_type", ""),
                         ("member", f" WHERE id IN ({members})"), ("card", f" WHERE id IN ({card_ids})")):
        con.execute(f'INSERT INTO "{table}" SELECT * FROM src."{table}"{where}')
    con.execute("DETACH DATABASE src")
    con.close()
    return scratch


def raw_checkout_ms(scratch: Path, cards: list[tuple[int, int]], ready=None, go=None) -> list[float]:
    """The same writes a checkout makes, by hand through sqlite3 (synchronous=FULL, one transaction each): the
    transaction, its six ledger entries, the card's balances, the sale with two lines and two payments, the
    member's spend and the audit event. With ``ready`` and ``go``: say ready, then wait for the common start."""
    import sqlite3

    con = sqlite3.connect(scratch, isolation_level=None)
    for pragma in RAW_PRAGMAS:
        con.execute(f"PRAGMA {pragma}")
    staff, store = con.execute("SELECT id, COALESCE(store_id, 1) FROM staff WHERE role = 'cashier' LIMIT 1").fetchone()
    times = []
    if ready is not None:
        ready.release()
        go.wait()
    for n, (member, card) in enumerate(cards):
        start = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        tx = con.execute("INSERT INTO ledger_transaction (txid, kind, staff_id, store_id, member_id, created_at, "
                         "local_day, request_hash, result, note, action, subject, payload) VALUES (?, 'checkout', ?, "
                         "?, ?, datetime('now'), date('now', 'localtime'), '', X'', '', 'sale.checkout', ?, '{}')",
                         (f"raw-{os.getpid()}-{time.time_ns()}-{n}", staff, store, member, f"member:{member}"),
                         ).lastrowid  # (its audit event on it, as the desk keeps a sale's since migration 30;
        # the subject a stand-in of the same length, the sale being written after)
        for account, unit, amount in (("card.principal", "fen", -8_999), ("card.points", "pt", -100),
                                      ("revenue.sales", "fen", 9_099), ("card.points", "pt", 89),
                                      ("expense.points", "pt", -89), ("discount.points", "fen", 0)):
            con.execute("INSERT INTO ledger_entry (transaction_id, account, card_id, unit, amount) "
                        "VALUES (?, ?, ?, ?, ?)", (tx, account, card if account.startswith("card") else None, unit,
                                                    amount))
        con.execute("UPDATE card SET principal_fen = principal_fen - 8999, points = points - 11 WHERE id = ? "
                    "AND principal_fen >= 8999", (card,))
        sale = con.execute("INSERT INTO sale (transaction_id, member_id, store_id, staff_id, created_at, "
                           "subtotal_fen, discount_fen, total_fen, change_fen, points_earned, status) VALUES "
                           "(?, ?, ?, ?, datetime('now'), 9100, 0, 9100, 0, 89, 'paid')",
                           (tx, member, store, staff)).lastrowid
        for code, price in (("HAIR", 8_800), ("WATER", 300)):
            con.execute("INSERT INTO sale_line (sale_id, code, name, category, qty, list_price_fen, unit_price_fen, "
                        "line_total_fen, discount_reason) VALUES (?, ?, ?, '', 1, ?, ?, ?, '')",
                        (sale, code, code, price, price, price))
        for tender, amount in (("points", 100), ("stored_value", 9_000)):
            con.execute("INSERT INTO payment (sale_id, tender, amount_fen, card_id, principal_fen, bonus_fen, points) "
                        "VALUES (?, ?, ?, ?, 0, 0, 0)", (sale, tender, amount, card))
        con.execute("UPDATE member SET total_spend_fen = total_spend_fen + 9000 WHERE id = ?", (member,))
        con.execute("COMMIT")
        times.append((time.perf_counter() - start) * 1000)
    con.close()
    return times


def _raw_checkout_process(scratch: Path, cards: list[tuple[int, int]], tag: str, queue, ready, go) -> None:
    try:
        times = raw_checkout_ms(scratch, cards, ready, go)
        queue.put((len(times), 0, [], time.monotonic()))
    except Exception as exc:
        queue.put((0, 0, [repr(exc)], time.monotonic()))


def start_together(target: Callable, arg_lists: list[tuple], timeout: float = 600) -> tuple[float, list]:
    """``target(*args, queue, ready, go)`` in one spawned process per ``args``, all let go at once when each has said
    it is ready (connected and warm): the common start on the machine-wide monotonic clock, and what each put on
    the queue when it finished."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    queue, ready, go = spawn.Queue(), spawn.Semaphore(0), spawn.Event()
    procs = [spawn.Process(target=target, args=(*args, queue, ready, go)) for args in arg_lists]
    for p in procs:
        p.start()
    for _p in procs:
        ready.acquire(timeout=300)
    begin = time.monotonic()
    go.set()
    reports = [queue.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join()
    return begin, reports


def run_desks(target: Callable, path, chunks: list[list[tuple[int, int]]], tag: str) -> dict:
    """``target`` in one process per chunk, all started together once each is connected (and warm): sales per
    second from the common start to the last desk's last sale, and the errors."""
    begin, reports = start_together(target, [(path, chunk, f"{tag}-p{i}") for i, chunk in enumerate(chunks)])
    done = sum(r[0] for r in reports)
    errors = [e for r in reports for e in r[2]]
    return {"done": done, "refused": sum(r[1] for r in reports), "errors": errors,
            "per_second": round(done / (max(r[3] for r in reports) - begin), 1)}


def bench_checkout(path: str, rounds: int, processes: int = 4) -> dict:
    """Checkout commit time p50/p99 in one process over ``rounds`` sales, then ``processes`` desks at once:
    aggregate checkouts per second and errors other than the desk's own refusals (a lock error would be one).
    Beside: the same writes by hand through sqlite3. The sales stay in the database (marked ``bench-``)."""
    from mms_tui.db import close_database
    from mms_tui.models import Staff
    from mms_tui.services.ops.setup import connect

    tag = time.strftime("%H%M%S")
    cards = _checkout_cards(path, rounds + processes * rounds, seed=int(tag))
    connect(path)
    staff = Staff.select().where(Staff.role == "cashier").order_by(Staff.id).first()
    for member, card in cards[:10]:  # warm up as a desk that has been open all day
        _checkout_one(member, card, staff, f"bench-{tag}-warm-{member}")
    single = []
    for n, (member, card) in enumerate(cards[:rounds]):
        start = time.perf_counter()
        _checkout_one(member, card, staff, f"bench-{tag}-s{n}")
        single.append((time.perf_counter() - start) * 1000)
    close_database()
    scratch = raw_scratch(path, cards)
    raw = raw_checkout_ms(scratch, cards[:rounds])
    chunks = [cards[rounds + i * rounds: rounds + (i + 1) * rounds] for i in range(processes)]
    desks = run_desks(_checkout_process, path, chunks, tag)
    raw_desks = run_desks(_raw_checkout_process, scratch, chunks, tag)
    errors = desks["errors"] + raw_desks["errors"]
    return {
        "benchmark": "checkout", "database": path, "rounds": rounds,
        "p50_ms": round(percentile(single, 50), 2), "p99_ms": round(percentile(single, 99), 2),
        "raw_p50_ms": round(percentile(raw, 50), 2), "raw_p99_ms": round(percentile(raw, 99), 2),
        "processes": processes, "checkouts": desks["done"], "refused": desks["refused"],
        "per_second": desks["per_second"], "raw_per_second": raw_desks["per_second"], "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "target": "p99 within 10 ms; 500 checkouts/s with 4 processes; no lock errors",
    }


# --- bookings -------------------------------------------------------------------------------------------------


def _bookings_shop(folder: Path, staff_count: int, bookings: int, day: dt.date) -> tuple[str, list]:
    """A new database: one store, ``staff_count`` stylists who all cut hair (30 minutes), and ``bookings`` bookings
    of ``day`` spread over them from 09:00 to 21:00 (booked through the service, as the desk would)."""
    from mms_tui import clock
    from mms_tui.models import ServiceItem, Staff
    from mms_tui.services.bookings.appointments import book
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.ops.setup import connect, initialise
    from mms_tui.services.staff.admin import add_staff

    path = str(folder / "bookings.sqlite3")
    connect(path)
    initialise(admin_code="admin", admin_name="Admin", admin_pin="1234")
    admin = Staff.get(Staff.code == "admin")
    ServiceItem.create(code="HAIR", name="精剪", category="美发", price_fen=8_800, duration_minutes=30)
    for n in range(staff_count):
        add_staff(f"t{n:02d}", f"发型师{n:02d}", by=admin, performer=True, services=["HAIR"])
    members = [register_member(f"会员{n}", f"1380000{n:04d}", admin, f"r{n}").member_id for n in range(bookings)]
    slots = [(n % staff_count, n // staff_count) for n in range(bookings)]  # staff, half-hour from 09:00
    with clock.pinned(dt.datetime.combine(day - dt.timedelta(days=1), dt.time(8))):
        for n, (who, half) in enumerate(slots):
            start = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(minutes=30 * half)
            book(members[n], ["HAIR"], admin, f"seed-{n}", start=start, staff=f"t{who:02d}")
    return path, members


def raw_day_ms(path: str, day: dt.date, runs: int) -> list[float]:
    """The raw baseline of the day view: the day's bookings of the store with their staff, member and service
    names, read by hand through sqlite3."""
    import sqlite3

    from mms_tui import clock

    con = sqlite3.connect(path)
    first = clock.to_utc(dt.datetime.combine(day, dt.time())).isoformat(sep=" ")
    last = clock.to_utc(dt.datetime.combine(day + dt.timedelta(days=1), dt.time())).isoformat(sep=" ")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        con.execute('SELECT b.id, b.start, b."end", b.status, s.code, s.name, m.name, i.name FROM booking b '
                    'JOIN staff s ON s.id = b.staff_id LEFT JOIN member m ON m.id = b.member_id '
                    'JOIN booking_service bs ON bs.booking_id = b.id JOIN service_item i ON i.id = bs.service_id '
                    'WHERE b.store_id = 1 AND b.start >= ? AND b.start < ? ORDER BY b.start', (first, last)).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    con.close()
    return times


def raw_busy_ms(path: str, day: dt.date, runs: int) -> list[float]:
    """The raw baseline of the next free slot: the busy intervals of every staff member over the week ahead."""
    import sqlite3

    from mms_tui import clock

    con = sqlite3.connect(path)
    first = clock.to_utc(dt.datetime.combine(day, dt.time())).isoformat(sep=" ")
    last = clock.to_utc(dt.datetime.combine(day + dt.timedelta(days=7), dt.time())).isoformat(sep=" ")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        con.execute('SELECT staff_id, start, "end" FROM booking WHERE status IN (\'booked\', \'arrived\') '
                    'AND start < ? AND "end" > ?', (last, first)).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    con.close()
    return times


def raw_booking_ms(path: str, rounds: int) -> list[float]:
    """The raw baseline of a booking's commit: the same rows by hand (the transaction, the booking and its service,
    the audit event), synchronous=FULL, one transaction each (into the bench's own throw-away database)."""
    import sqlite3

    con = sqlite3.connect(path, isolation_level=None)
    for pragma in RAW_PRAGMAS:
        con.execute(f"PRAGMA {pragma}")
    times = []
    for n in range(rounds):
        start = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        tx = con.execute("INSERT INTO ledger_transaction (txid, kind, staff_id, store_id, member_id, created_at, "
                         "local_day, request_hash, result, note) VALUES (?, 'booking', 1, 1, 1, datetime('now'), "
                         "date('now'), '', X'', '')", (f"raw-b-{time.time_ns()}-{n}",)).lastrowid
        booking = con.execute("INSERT INTO booking (txid, store_id, member_id, guest_name, guest_phone, staff_id, "
                              "start, \"end\", status, note, created_by_id, created_at, reason, late, policy, fee_fen) "
                              "VALUES (?, 1, 1, '', '', 2, datetime('now', '+60 days', ?), datetime('now', '+60 days'),"
                              " 'booked', '', 1, datetime('now'), '', 0, '', 0)",
                              (f"raw-b-{tx}", f"+{n} minutes")).lastrowid
        con.execute("INSERT INTO booking_service (booking_id, service_id, position, minutes) VALUES (?, 1, 0, 30)",
                    (booking,))
        con.execute("INSERT INTO audit_event (created_at, staff_id, store_id, action, subject, txid, payload) "
                    "VALUES (datetime('now'), 1, 1, 'booking.add', ?, NULL, '{}')", (f"booking:{booking}",))
        con.execute("COMMIT")
        times.append((time.perf_counter() - start) * 1000)
    con.close()
    return times


def bench_bookings(rounds: int, staff_count: int = 30, bookings: int = 400) -> dict:
    """The day view of a store with ``staff_count`` staff and ``bookings`` bookings: the grid read
    (``day_grid``), and read then drawn in the headless desk (F6's screen, until its update is rendered to terminal
    bytes); the next free slot across the staff
    (``free_slots``, 5 slots from 09:00, a week ahead); a booking's commit (``book``) p50/p99. Each beside its raw
    baseline through sqlite3 in the same run."""
    from textual.app import App

    from mms_tui import clock
    from mms_tui.db import close_database
    from mms_tui.models import Staff, Store
    from mms_tui.screens.bookings import BookingsScreen
    from mms_tui.services.bookings.appointments import book, free_slots, plan_services
    from mms_tui.services.bookings.dayview import day_grid

    folder = Path(tempfile.mkdtemp(prefix="mms-bench-bookings-"))
    day = dt.date.today() + dt.timedelta(days=30)
    path, members = _bookings_shop(folder, staff_count, bookings, day)
    store = Store.get(Store.code == "HQ")
    admin = Staff.get(Staff.code == "admin")
    grid_ms = []
    for _ in range(rounds):
        start = time.perf_counter()
        grid = day_grid(store, day)
        grid_ms.append((time.perf_counter() - start) * 1000)
    assert len(grid.columns) == staff_count and sum(1 for b in grid.bookings) == bookings
    drawn_ms: list[float] = []

    class Host(App):
        def __init__(self) -> None:
            super().__init__()
            self.settings = type("S", (), {"store": "HQ"})()
            self.staff = admin

    def watch(app) -> dict:
        """The headless app composes every update and writes none: render each to the bytes a terminal would be
        sent (as the swipe's benchmark does) and note when the first one after ``armed`` was."""
        from textual._compositor import CompositorUpdate

        seen: dict = {}
        display = app._display

        def drawn(screen, renderable) -> None:
            if seen.get("armed") and isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
                seen["at"] = time.perf_counter()
                seen["armed"] = False
            display(screen, renderable)

        app._display = drawn
        return seen

    async def until_drawn(seen: dict, start: float) -> float:
        while seen.get("armed"):
            if time.perf_counter() - start > 10:
                raise RuntimeError("nothing was drawn within 10 s")
            await asyncio.sleep(0.0005)
        return (seen["at"] - start) * 1000

    async def draw() -> None:
        app = Host()
        seen = watch(app)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = BookingsScreen(day)
            screen.load = lambda: None  # read and drawn by hand below, timed
            await app.push_screen(screen)
            await pilot.pause()
            for _ in range(max(5, rounds // 4)):
                await pilot.pause(0.05)
                seen["armed"] = True
                start = time.perf_counter()
                screen.show(day_grid(store, day))  # the day read from the database, then drawn
                drawn_ms.append(await until_drawn(seen, start))

    asyncio.run(draw())
    raw_drawn_ms: list[float] = []

    async def raw_draw() -> None:
        """The raw baseline of the drawing: a bare Textual app with a DataTable of the same size (the time and the
        staff columns that fit 80 columns) refilled with the same number of plain cells, timed the same way."""
        from textual.widgets import DataTable

        class Bare(App):
            def compose(self):
                yield DataTable()

        app = Bare()
        seen = watch(app)
        async with app.run_test(size=(80, 24)) as pilot:
            table = app.query_one(DataTable)
            table.add_column("Time", width=6)
            for n in range(6):
                table.add_column(f"s{n}", width=11)
            await pilot.pause()
            for _ in range(max(5, rounds // 4)):
                await pilot.pause(0.05)
                seen["armed"] = True
                start = time.perf_counter()
                table.clear()
                for row in range(len(grid.times)):
                    table.add_row(f"{row:02d}:00", *(f"cell {row}.{n}" for n in range(6)))
                raw_drawn_ms.append(await until_drawn(seen, start))

    asyncio.run(raw_draw())
    plan = plan_services(["HAIR"], store)
    free_ms = []
    with clock.pinned(dt.datetime.combine(day - dt.timedelta(days=1), dt.time(8))):
        for _ in range(rounds):
            start = time.perf_counter()
            found = free_slots(plan, store, dt.datetime.combine(day, dt.time(9)), count=5)
            free_ms.append((time.perf_counter() - start) * 1000)
    assert found, "a free slot exists on the day (400 bookings leave 320 of 720 half-hours free)"
    commit_ms = []
    later = day + dt.timedelta(days=1)
    with clock.pinned(dt.datetime.combine(day - dt.timedelta(days=1), dt.time(8))):
        for n in range(min(rounds, staff_count * 24)):
            start_at = dt.datetime.combine(later, dt.time(9)) + dt.timedelta(minutes=30 * (n // staff_count))
            start = time.perf_counter()
            book(members[n % len(members)], ["HAIR"], admin, f"bench-{n}", start=start_at,
                 staff=f"t{n % staff_count:02d}")
            commit_ms.append((time.perf_counter() - start) * 1000)
    close_database()
    raw_day = raw_day_ms(path, day, rounds)
    raw_busy = raw_busy_ms(path, day, rounds)
    raw_commit = raw_booking_ms(path, len(commit_ms))

    def figures(name: str, values: list[float]) -> dict:
        return {f"{name}_p50_ms": round(percentile(values, 50), 2), f"{name}_p99_ms": round(percentile(values, 99), 2)}

    return {"benchmark": "bookings", "staff": staff_count, "bookings": bookings, "rounds": rounds,
            **figures("day_grid", grid_ms), **figures("day_drawn", drawn_ms), **figures("raw_day", raw_day),
            **figures("raw_drawn", raw_drawn_ms),
            **figures("free_slot", free_ms), **figures("raw_busy", raw_busy),
            **figures("commit", commit_ms), **figures("raw_commit", raw_commit),
            "target": "day view drawn ≤ 100 ms; next free slot ≤ 50 ms; booking commit p99 ≤ 10 ms"}


# --- start-up -------------------------------------------------------------------------------------------------

_MINIMAL_APP = """
from textual.app import App
from textual.widgets import Input, Label
class Minimal(App):
    def compose(self):
        yield Label("Staff login")
        yield Input(placeholder="Staff code")
Minimal().run()
"""


def _time_to_text(argv: list[str], marker: bytes, env: dict[str, str], timeout: float = 30.0) -> tuple[float, int]:
    """Start ``argv`` on a new 80×24 pseudo-terminal; seconds until ``marker`` is on the screen, and the
    process's peak RSS (VmHWM, MB) at that moment."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    import re

    escapes = re.compile(rb"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b\][^\x07]*\x07")  # colours, cursor moves, titles
    seen = b""
    try:
        while marker not in escapes.sub(b"", seen):  # the text, even with the cursor's colours inside it
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"{argv} did not show {marker!r} within {timeout} s")
            ready, _w, _x = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    raise RuntimeError(f"{argv} ended before showing {marker!r}: {seen[-500:]!r}") from None
        seconds = time.perf_counter() - start
        status = Path(f"/proc/{pid}/status")
        rss = 0
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) // 1024
        return seconds, rss
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def bench_start(path: str, runs: int = 5) -> dict:
    """``mms --db PATH`` in a real pseudo-terminal until its login screen is drawn (the first frame that takes
    keys), median of ``runs``, and its peak RSS; beside a minimal Textual app drawing the same two widgets.

    Both with their modules' bytecode cached, as an installed desk has them (pip compiles it on install): a
    ``PYTHONDONTWRITEBYTECODE`` in the environment is taken out and each is started once, unmeasured, first —
    else every start of mms compiled its own hundred modules again (≈ 0.25 s) while Textual's came compiled."""
    env = {**os.environ, "TERM": "xterm-256color", "MMS_LANG": "en", "MMS_CONFIG": os.devnull}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = ([sys.executable, "-m", "mms_tui", "--db", path], [sys.executable, "-c", _MINIMAL_APP])
    for argv in commands:
        _time_to_text(argv, b"Staff code", env)
    ours = [_time_to_text(commands[0], b"Staff code", env) for _ in range(runs)]
    base = [_time_to_text(commands[1], b"Staff code", env) for _ in range(runs)]
    return {"start_s": round(statistics.median(t for t, _r in ours), 3),
            "start_peak_rss_mb": max(r for _t, r in ours),
            "raw_textual_start_s": round(statistics.median(t for t, _r in base), 3),
            "raw_textual_peak_rss_mb": max(r for _t, r in base),
            "target": "first frame within 1 s; RSS within 200 MB"}


# --- stock -------------------------------------------------------------------------------------------------


def _stock_shop(folder: Path, products: int, stores: int, seed: int = 3) -> str:
    """A new database of ``stores`` stores and ``products`` products in ten categories, each product counted at
    every store (``products × stores`` levels with their receipt moves, written in bulk as a receipt would)."""
    import random

    from mms_tui import clock
    from mms_tui.db import bulk_insert, close_database, write_transaction
    from mms_tui.models import Product, Staff, StockLevel, StockMove, Store, Transaction
    from mms_tui.services.ops.setup import connect, initialise

    path = str(folder / "stock.sqlite3")
    connect(path)
    initialise(admin_code="admin", admin_name="Admin", admin_pin="1234")
    rng = random.Random(seed)
    admin = Staff.get(Staff.code == "admin")
    with write_transaction():
        root = Store.select().order_by(Store.id).first()
        made = clock.now()
        Store.insert_many([{"code": f"S{n:02d}", "name": f"门店{n}", "parent": root.id} for n in range(1, stores)]
                          ).execute()
        for first in range(0, products, 500):
            Product.insert_many([{"code": f"P{n:05d}", "name": f"商品{n}", "category": f"类别{n % 10}",
                                  "price_fen": 1_000 + n} for n in range(first, min(products, first + 500))]
                                ).execute()
        store_ids = [s for (s,) in Store.select(Store.id).tuples()]
        product_ids = [p for (p,) in Product.select(Product.id).tuples()]
        for store_id in store_ids:
            tx = Transaction.create(txid=f"bench-rx-{store_id}", kind="stock_receipt", staff=admin, store=store_id,
                                    request_hash="")
            levels, moves = [], []
            for product_id in product_ids:
                qty, cost = rng.randint(0, 200), rng.randint(50, 5_000)
                levels.append((product_id, store_id, qty, qty * cost, cost, rng.choice((None, 10, 20))))
                moves.append((tx.id, product_id, store_id, "receipt", qty, qty * cost, cost, made, "", ""))
            bulk_insert(StockLevel, ["product", "store", "on_hand", "value_fen", "last_cost_fen", "low_at"], levels)
            bulk_insert(StockMove, ["transaction", "product", "store", "kind", "qty", "value_fen", "unit_cost_fen",
                                    "created_at", "reference", "reason"], moves)
    close_database()
    return path


def raw_stock_report_s(path: str, runs: int) -> float:
    """The stock report's sums by hand through sqlite3: on hand, value and low count per store and category."""
    import sqlite3

    con = sqlite3.connect(path)

    def once() -> list:
        return con.execute(
            'SELECT l.store_id, p.category, COUNT(*), SUM(l.on_hand), SUM(l.value_fen), '
            'SUM(CASE WHEN l.on_hand <= l.low_at THEN 1 ELSE 0 END), SUM(CASE WHEN l.on_hand < 0 THEN 1 ELSE 0 END) '
            'FROM stock_level l JOIN product p ON p.id = l.product_id GROUP BY l.store_id, p.category '
            'ORDER BY l.store_id, p.category').fetchall()

    seconds, _spread, _rows = _median_seconds(once, runs)
    con.close()
    return seconds


def bench_stock(rounds: int, members: int = 20_000, products: int = 10_000, stores: int = 50, runs: int = 3) -> dict:
    """Checkout commit time and 4-desk throughput with a product line counted in stock, beside the same checkout
    on the same database before the product was stocked and beside the raw writes; then ``mms report stock`` over
    ``products × stores`` levels beside the same sums by hand."""
    import bigdb

    from mms_tui.db import close_database
    from mms_tui.models import Staff
    from mms_tui.services.ops.setup import connect
    from mms_tui.services.reports.catalogue import run_report
    from mms_tui.services.stock.common import StockLine
    from mms_tui.services.stock.receiving import receive

    folder = Path(tempfile.mkdtemp(prefix="mms-bench-stock-"))
    path = str(folder / "desk.sqlite3")
    bigdb.build(path, members, days=60, log=lambda text: print(text, file=sys.stderr))
    unstocked = bench_checkout(path, rounds)
    connect(path)
    for staff in Staff.select().where(Staff.role == "cashier"):  # water on every desk's shelf, plenty of it
        receive(staff, [StockLine("WATER", 1_000_000, 80)], f"bench-stock-{staff.store_id}", store=staff.store_id)
    close_database()
    stocked = bench_checkout(path, rounds)
    report_path = _stock_shop(folder, products, stores)
    connect(report_path)
    seconds, _spread, rows = _median_seconds(lambda: list(run_report("stock")), runs)
    one_store, _s, _r = _median_seconds(lambda: list(run_report("stock", store="S01")), runs)
    low, _s2, low_rows = _median_seconds(lambda: list(run_report("low-stock")), runs)
    close_database()
    raw = raw_stock_report_s(report_path, runs)
    return {
        "benchmark": "stock", "members": members, "rounds": rounds,
        "checkout_with_stock_p50_ms": stocked["p50_ms"], "checkout_with_stock_p99_ms": stocked["p99_ms"],
        "checkout_unstocked_p50_ms": unstocked["p50_ms"], "checkout_unstocked_p99_ms": unstocked["p99_ms"],
        "raw_p50_ms": stocked["raw_p50_ms"], "raw_p99_ms": stocked["raw_p99_ms"],
        "per_second_with_stock": stocked["per_second"], "per_second_unstocked": unstocked["per_second"],
        "raw_per_second": stocked["raw_per_second"], "errors": stocked["errors"] + unstocked["errors"],
        "report_levels": products * stores, "report_rows": len(rows), "stock_report_s": round(seconds, 3),
        "stock_report_one_store_s": round(one_store, 3), "low_stock_report_s": round(low, 3),
        "low_stock_rows": len(low_rows), "raw_stock_report_s": round(raw, 3),
        "target": "checkout p99 ≤ 10 ms and ≥ 500/s with 4 desks; stock report ≤ 2 s",
    }


def bench_messages(members: int = 100_000, emails: int = 5_000) -> dict:
    """A campaign (群发) to ``members`` members enqueued by ``mms messages campaign --confirm`` (preview, consent,
    SMS parts, one insert of every message), beside the same rows inserted by hand; then the worker sending
    ``emails`` of them to a local SMTP server (aiosmtpd), beside smtplib alone sending as many on one connection."""
    import smtplib
    import socket
    import sqlite3
    from email.message import EmailMessage

    import bigdb
    from aiosmtpd.controller import Controller

    from mms_tui.db import close_database
    from mms_tui.models import Message, Staff
    from mms_tui.services.messages.campaigns import send_campaign
    from mms_tui.services.messages.worker import Worker
    from mms_tui.services.ops.setup import connect

    folder = Path(tempfile.mkdtemp(prefix="mms-bench-messages-"))
    path = str(folder / "shop.sqlite3")
    bigdb.build(path, members, days=30, log=lambda text: print(text, file=sys.stderr))
    raw = sqlite3.connect(path)
    with raw:  # everyone has an email address, said yes to email and carries the campaign's tag
        raw.execute("UPDATE member SET email = 'm' || id || '@example.com'")
        raw.execute("INSERT INTO consent (member_id, channel, given, at) SELECT id, 'email', 1, datetime('now') "
                    "FROM member")
        raw.execute("INSERT INTO member_tag (member_id, tag) SELECT id, 'ALL' FROM member")
    raw.close()
    connect(path)
    manager = Staff.get(Staff.role == "manager")
    began = time.perf_counter()
    campaign_id, shown = send_campaign(manager, "bench", "tag:ALL", "email", "{name}您好，本周护理八折。",
                                       subject="本周八折")
    enqueue_s = time.perf_counter() - began
    queued = Message.select().where(Message.campaign == campaign_id).count()
    close_database()
    copy = sqlite3.connect(path)  # the raw baseline: the same rows by one INSERT … SELECT
    began = time.perf_counter()
    with copy:
        copy.execute(
            "INSERT INTO message (key, member_id, trigger, channel, marketing, fields, campaign_id, store_id, state, "
            "not_before, attempts, created_at, sent_channel, address, text, sms_parts, provider_id, reason, delivery) "
            "SELECT 'raw:' || m.id, m.id, 'campaign', 'email', 1, json_object('name', m.name, 'store', ''), ?, "
            "m.home_store_id, 'skipped', datetime('now'), 0, datetime('now'), '', '', '', 0, '', '', '' "
            "FROM member m JOIN member_tag t ON t.member_id = m.id AND t.tag = 'ALL'", (campaign_id,))
    raw_enqueue_s = time.perf_counter() - began
    copy.close()

    class Inbox:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Inbox.count += 1
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = {"email": {"host": "127.0.0.1", "port": port, "security": "plain",
                            "sender": "Shop <desk@shop.example>", "per_second": 100_000}}
        connect(path)
        Message.update(state="failed").where((Message.campaign == campaign_id) & (Message.state == "queued")
                                             & (Message.id > Message.select(peewee_min(Message.id)).where(
                                                 Message.campaign == campaign_id).scalar() + emails - 1)).execute()
        worker = Worker(config, batch=50)
        began = time.perf_counter()
        done = worker.run_round(reminders=False)
        worker_s = time.perf_counter() - began
        close_database()
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "desk@shop.example", "m1@example.com", "本周八折"
        mail.set_content("张三您好，本周护理八折。")
        began = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for _i in range(emails):
                smtp.send_message(mail)
        raw_smtp_s = time.perf_counter() - began
    finally:
        controller.stop()
    return {
        "benchmark": "messages", "members": members, "queued": queued, "with_consent": shown.reachable,
        "campaign_enqueue_s": round(enqueue_s, 2), "raw_insert_select_s": round(raw_enqueue_s, 2),
        "emails": emails, "sent": done.sent, "worker_emails_per_s": round(done.sent / worker_s),
        "raw_smtplib_per_s": round(emails / raw_smtp_s), "server_received": Inbox.count,
        "target": "campaign to 100,000 enqueued ≤ 10 s; ≥ 200 emails/s",
    }


def peewee_min(column):
    import peewee

    return peewee.fn.MIN(column)


def _status_mb(field: str) -> float:
    """A line of /proc/self/status (VmRSS, VmHWM) in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _memory_child(path: str, kept: bool, rounds: int) -> dict:
    """In a fresh process: the manager's five charts read at once (a manager going through the tabs quickly)
    through the default executor's threads as the desk's charts screen reads them (``in_connection``), ``rounds``
    times; the RSS after (the cycle collector run, as the desk runs it when idle) and the peak. ``kept``: as the desk does, each thread
    keeping its connection; else a connection opened and closed for every call (the baseline)."""
    import gc

    import mms_tui.models  # noqa: F401
    from mms_tui.db import database, init_database
    from mms_tui.models import Staff
    from mms_tui.screens import common
    from mms_tui.services.reports.dashboard import (
        campaign_results,
        members_by_tier,
        money_in_and_out,
        turnover_series,
        visits_grid,
    )

    init_database(path)
    if not kept:
        type(database.obj).kept_connection = None  # (in_connection then opens one for each call)
    start_mb = _status_mb("VmRSS")
    staff = common.in_connection(lambda: Staff.select().where(Staff.role == "admin").first())
    readers = [lambda: turnover_series(staff, 90), lambda: money_in_and_out(staff, 90),
               lambda: visits_grid(staff, 90), lambda: members_by_tier(staff), lambda: campaign_results(staff, 90)]

    async def read_all() -> None:
        for _round in range(rounds):
            await asyncio.gather(*(asyncio.to_thread(common.in_connection, fn) for fn in readers))

    started = time.perf_counter()
    asyncio.run(read_all())
    seconds = time.perf_counter() - started
    gc.collect()
    return {"start_mb": start_mb, "after_mb": _status_mb("VmRSS"), "peak_mb": _status_mb("VmHWM"),
            "seconds": round(seconds, 1)}


def bench_memory(path: str, rounds: int = 3) -> dict:
    """The desk's memory after big reads on its worker threads (issue #27): each thread keeps its SQLite
    connection, with its page cache, for hours. Each way in a process of its own; the baseline opens a connection
    for every call (nothing kept between calls)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    result: dict = {"benchmark": "desk memory after the five charts read at once on the worker threads",
                    "database": path, "rounds": rounds, "target_mb": 200}
    for name, kept in (("kept_connections", True), ("connection_per_call", False)):
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            result[name] = pool.submit(_memory_child, path, kept, rounds).result()
    return result


def bench_xlsx(path: str, members: int = 200_000) -> dict:
    import itertools
    import resource

    from mms_tui.db import close_database
    from mms_tui.services.exchange.export_formats import write_csv, write_xlsx
    from mms_tui.services.exchange.export_rows import member_rows
    from mms_tui.services.exchange.fields import MEMBER_COLUMNS
    from mms_tui.services.ops.setup import connect

    folder = Path(tempfile.mkdtemp(prefix="mms-bench-xlsx-"))

    def rows():
        return itertools.islice(member_rows(), members)

    def timed(work: Callable[[], object]) -> float:
        connect(path)
        try:
            started = time.perf_counter()
            work()
            return round(time.perf_counter() - started, 2)
        finally:
            close_database()

    read_s = timed(lambda: sum(1 for _ in rows()))
    with (folder / "m.csv").open("wb") as out:
        csv_s = timed(lambda: write_csv(rows(), MEMBER_COLUMNS, out, "utf-8-sig"))
    xlsx_s = timed(lambda: write_xlsx(rows(), MEMBER_COLUMNS, folder / "m.xlsx", "members", member_file=True))
    size = (folder / "m.xlsx").stat().st_size
    for made in folder.iterdir():
        made.unlink()
    folder.rmdir()
    return {"benchmark": "xlsx", "database": path, "members": members, "xlsx_s": xlsx_s, "target_s": 30,
            "within_target": xlsx_s <= 30, "read_only_s": read_s, "csv_s": csv_s, "xlsx_bytes": size,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def bench_all(quick: bool, reuse: str | None, rounds: int, runs: int) -> dict:
    """Everything on one database (built by bigdb, or reused): reports, lookups, start-up; then swipe and import."""
    import bigdb

    members = 100_000 if quick else 1_000_000
    path = reuse or str(Path(tempfile.mkdtemp(prefix="mms-bench-")) / f"mms-{members}.sqlite3")
    if not Path(path).exists():
        bigdb.build(path, members, log=lambda text: print(text, file=sys.stderr))
    ensure_reader_uids(path)
    reports = bench_reports(members, path, runs)
    lookups = bench_lookups(path, rounds)
    start = bench_start(path)
    sold = bench_checkout(path, min(rounds, 300))
    swipe = bench_swipe(min(rounds, 50), 200, path)
    imported = bench_import(members)
    table = [(f"lookup {r['kind']} p50/p99 ms", f"{r['p50_ms']} / {r['p99_ms']}", f"{r['raw_p50_ms']} / {r['raw_p99_ms']}",
              f"p99 ≤ {r['target_p99_ms']} ms", r["within_target"]) for r in lookups]
    table.append(("swipe to screen p50/p95 ms", f"{swipe['p50_ms']} / {swipe['p95_ms']}",
                  f"{swipe['raw_pty_p50_ms']} / {swipe['raw_pty_p95_ms']}", "p95 ≤ 50 ms", swipe["p95_ms"] <= 50))
    slowest = max((r for r in reports["reports"] if r["typical"]), key=lambda r: r["seconds"])
    table.append((f"reports: slowest ({slowest['report']}) s", slowest["seconds"], slowest["raw_sql_s"], "≤ 2 s",
                  all(r["within_target"] for r in reports["reports"] if r["typical"])))
    table.append((f"import {members:,} members s", imported["mms_import_s"],
                  f"{imported['baseline_s']} (.import), {imported['floor_same_rows_s']} (same rows)",
                  "≤ 10× .import" + ("" if quick else "; < 60 s"), imported["ratio"] <= 10))
    table.append(("checkout commit p50/p99 ms", f"{sold['p50_ms']} / {sold['p99_ms']}",
                  f"{sold['raw_p50_ms']} / {sold['raw_p99_ms']}", "p99 ≤ 10 ms", sold["p99_ms"] <= 10))
    table.append((f"checkouts/s, {sold['processes']} processes", sold["per_second"], sold["raw_per_second"],
                  "≥ 500/s, no lock errors",
                  sold["per_second"] >= 500 and sold["errors"] == 0))
    table.append(("TUI start s", start["start_s"], start["raw_textual_start_s"], "≤ 1 s", start["start_s"] <= 1))
    table.append(("TUI peak RSS MB", start["start_peak_rss_mb"], start["raw_textual_peak_rss_mb"], "≤ 200 MB",
                  start["start_peak_rss_mb"] <= 200))
    return {"benchmark": "all", "members": members, "database": path, "summary": table, "reports": reports["reports"],
            "lookups": lookups, "start": start, "checkout": sold, "swipe": swipe, "import": imported}


def main() -> int:
    parser = argparse.ArgumentParser(description="mms benchmarks")
    parser.add_argument("which", choices=["all", "swipe", "import", "reports", "lookups", "start", "checkout",
                                          "bookings", "stock", "messages", "chain", "xlsx", "sizes", "memory"])
    parser.add_argument("--quick", action="store_true", help="all: 100,000 members instead of 1,000,000")
    parser.add_argument("--rounds", type=int, default=200,
                        help="swipe (at most 50 in all), lookups: samples; memory: rounds (at most 10)")
    parser.add_argument("--members", type=int, help="swipe: 200; import, reports: 1,000,000")
    parser.add_argument("--cold", action="store_true",
                        help="swipe: drop the database from the page cache before each swipe (posix_fadvise)")
    parser.add_argument("--reuse", metavar="PATH",
                        help="all, reports, lookups, start, swipe: the database to use (built there when absent); "
                             "import: a postgresql:// URL to import into (replaced) instead of a new SQLite file")
    parser.add_argument("--runs", type=int, default=3, help="reports: runs per report (the median counts)")
    parser.add_argument("--desks", type=int, default=16, help="chain: desk processes, one per store")
    parser.add_argument("--seconds", type=float, default=60.0, help="chain: how long the desks sell")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--busy", action="store_true", help="measure on a busy machine too (figures marked busy)")
    args = parser.parse_args()
    load, cores = machine_load(), os.cpu_count() or 1
    busy = busy_reason(load, cores) if args.which != "sizes" else None  # (bytes do not depend on the load)
    if busy and not args.busy:
        print(busy, file=sys.stderr)
        return 3
    if args.which == "sizes":
        if not args.reuse:
            parser.error("sizes needs --reuse PATH (or a postgresql:// URL) of a database")
        result = bench_sizes(args.reuse)
    elif args.which == "all":
        result = bench_all(args.quick, args.reuse, args.rounds, args.runs)
    elif args.which == "swipe":
        result = bench_swipe(min(args.rounds, 50), args.members or 200, args.reuse, args.cold)
    elif args.which == "import" and args.reuse and args.reuse.startswith("postgresql://"):
        result = bench_import_postgres(args.members or 1_000_000, args.reuse)
    elif args.which == "import":
        result = bench_import(args.members or 1_000_000)
    elif args.which == "reports":
        result = bench_reports(args.members or 1_000_000, args.reuse, args.runs)
    elif args.which == "bookings":
        result = bench_bookings(min(args.rounds, 200))
    elif args.which == "stock":
        result = bench_stock(args.rounds, args.members or 20_000)
    elif args.which == "messages":
        result = bench_messages(args.members or 100_000)
    elif args.which == "chain":
        import chainbench

        if not args.reuse:
            parser.error("chain needs --reuse postgresql://… (built there when it has no schema)")
        result = chainbench.bench_chain(args.reuse, args.members or 1_000_000, args.desks, args.seconds, args.runs)
    else:
        if not args.reuse or not Path(args.reuse).exists():
            parser.error(f"{args.which} needs --reuse PATH of a database built by scripts/bigdb.py")
        if args.which == "checkout":
            result = bench_checkout(args.reuse, args.rounds)
        elif args.which == "xlsx":
            result = bench_xlsx(args.reuse, args.members or 200_000)
        elif args.which == "memory":
            result = bench_memory(args.reuse, min(args.rounds, 10))
        elif args.which == "lookups":
            ensure_reader_uids(args.reuse)
            result = {"benchmark": "lookups", "database": args.reuse, "lookups": bench_lookups(args.reuse, args.rounds)}
        else:
            result = {"benchmark": "start", "database": args.reuse, **bench_start(args.reuse)}
    result["machine"] = f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    result["date"] = time.strftime("%Y-%m-%d")
    result["load_at_start"] = f"{load[0]} / {load[1]} / {load[2]} (1 / 5 / 15 min)"
    if busy:
        result["busy"] = "YES: measured on a busy machine with --busy; these figures are not for BENCHMARKS.md"
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    from tabulate import tabulate

    for key, value in result.items():
        if key == "summary":
            print(tabulate(value, headers=["measure", "mms", "raw baseline", "target", "met"]))
        elif key == "reports":
            print(tabulate([(r["report"], r["by"], f"{r['from']} … {r['to']}", r["seconds"], r["raw_sql_s"],
                             ("yes" if r["within_target"] else "NO") if r["typical"] else "(not typical)")
                            for r in value], headers=["report", "by", "period", "seconds", "raw SQL", "within 2 s"]))
        elif key == "chain_reports":
            print(f"raw scan of {value['entries']:,} entries: {value['raw_scan_s']} s")
            print(tabulate([(r["report"], r["node"], f"{r['from']} … {r['to']}", r["rows"], r["seconds"],
                             r["target_s"], "yes" if r["within_target"] else "NO") for r in value["reports"]],
                           headers=["report", "node", "period", "rows", "seconds", "target s", "met"]))
        elif key == "sizes":
            print(tabulate([(r["name"], r["kind"], r["mb"], r["rows"] or "", r["bytes_per_row"] or "") for r in value],
                           headers=["table or index", "", "MB", "rows", "bytes a row"]))
        elif key == "lookups":
            print(tabulate([(r["kind"], r["p50_ms"], r["p99_ms"], r["raw_p50_ms"], r["raw_p99_ms"], r["target_p99_ms"],
                             "yes" if r["within_target"] else "NO") for r in value],
                           headers=["lookup", "p50 ms", "p99 ms", "raw p50", "raw p99", "target p99", "met"]))
        elif isinstance(value, dict):
            print(f"{key:>16}  " + ", ".join(f"{k}={v}" for k, v in value.items()))
        else:
            print(f"{key:>16}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
