#!/usr/bin/env python3
"""Benchmarks, each figure beside a raw baseline measured in the same run. Results go in BENCHMARKS.md.

    python scripts/bench.py swipe [--rounds 50] [--members 200] [--json]
    python scripts/bench.py import [--members 1000000] [--json]

``swipe``: an RDM6300 frame written to a pty → the member screen showing that member in the headless app (p50/p95),
against the raw baseline of the same frame crossing the pty to a plain reader (p50/p95).

``import``: ``mms import members`` of a generated CSV (name, phone, card number, balance, bonus, points, birthday,
gender: every member with a stored-value card and opening balances) into a new database, against the raw baseline
of ``sqlite3 .import`` of the same file into a plain table (the sqlite3 shell; Python's ``executemany`` of the parsed
rows when the shell is not installed). The rest of the suite (lookup at 1,000,000 members, checkout throughput,
reports, start-up) joins this script with issue #7.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


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


async def swipe_to_screen(db: str, link: Path, frames: list[tuple[bytes, int]]) -> list[float]:
    from mms_tui.app import create_app
    from mms_tui.screens.member import MemberScreen
    from mms_tui.settings import Settings

    master, slave = os.openpty()
    link.symlink_to(os.ttyname(slave))
    app = create_app(Settings(db=db, card_reader=str(link), reader_protocol="rdm6300", lock_minutes=0))
    times: list[float] = []
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
        for frame, member_id in frames:
            start = time.perf_counter()
            os.write(master, frame)
            while True:
                screen = app.screen
                if isinstance(screen, MemberScreen) and screen.member_id == member_id and screen.view is not None:
                    break
                await asyncio.sleep(0.001)
            await pilot.pause(0)  # let the frame render
            times.append((time.perf_counter() - start) * 1000)
            await pilot.press("escape")
            await asyncio.sleep(0.9)  # past the reader's hold gap: the next frame is a new presentation
    os.close(master)
    os.close(slave)
    return times


def bench_swipe(rounds: int, members: int) -> dict:
    from mms_tui.db import close_database
    from mms_tui.devices.protocols import em4100_decimal, rdm6300_frame
    from mms_tui.models import Staff
    from mms_tui.services.members import issue_card, register_member
    from mms_tui.services.setup import connect, initialise
    from mms_tui.services.staff import create_staff

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
        frames.append((rdm6300_frame(tag), member))
    close_database()
    chosen = [frames[(i * 7919) % members] for i in range(rounds)]
    app_times = asyncio.run(swipe_to_screen(target, folder / "reader", chosen))
    raw_times = raw_pty_baseline(chosen[0][0], rounds)
    return {
        "benchmark": "swipe to member screen",
        "rounds": rounds,
        "members": members,
        "p50_ms": round(statistics.median(app_times), 2),
        "p95_ms": round(percentile(app_times, 95), 2),
        "raw_pty_p50_ms": round(statistics.median(raw_times), 3),
        "raw_pty_p95_ms": round(percentile(raw_times, 95), 3),
        "target_p95_ms": 50,
    }


def write_member_csv(path: Path, members: int, seed: int = 5) -> None:
    import csv
    import random

    from mms_tui.services.demo import GIVEN, SURNAMES

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


def bench_import(members: int) -> dict:
    import resource

    from mms_tui.db import close_database
    from mms_tui.services.importing import import_file
    from mms_tui.services.setup import connect, initialise

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
        "target": "within 10x of the baseline; 1,000,000 well under a minute",
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="mms benchmarks")
    parser.add_argument("which", choices=["swipe", "import"])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--members", type=int, help="swipe: 200; import: 1,000,000")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.which == "swipe":
        result = bench_swipe(args.rounds, args.members or 200)
    else:
        result = bench_import(args.members or 1_000_000)
    result["machine"] = f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    result["date"] = time.strftime("%Y-%m-%d")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>16}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
