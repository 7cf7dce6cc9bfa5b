#!/usr/bin/env python3
"""Soak: four simulated desks work one database for N minutes; the WAL must stay bounded and memory flat (#7).

    python scripts/soak.py [--minutes 10] [--desks 4] [--db PATH]

Each desk process loops the counter's day: a search by phone or last four digits, a checkout (a haircut and a
water from stored value), now and then a top-up, with a short pause between customers. Every ``--every`` seconds
the parent samples the size of the database's WAL file and each desk's resident memory, and at the end prints the
samples and the verdict: the WAL never above ``--wal-limit`` MB (SQLite checkpoints it as the desks go, if no
reader holds it open forever), each desk's memory in the last quarter within ``--rss-growth`` % of its memory in
the first quarter, no desk died, and ``mms check`` clean.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def desk(path: str, name: str, seed: int, pause: float) -> None:
    """One desk until it is stopped (SIGTERM)."""
    from crashtest import perform

    from mms_tui.models import Card, Member
    from mms_tui.services.members.lookup import lookup
    from mms_tui.services.money.checkout import quote
    from mms_tui.services.ops.setup import connect

    connect(path)
    cards = [(c.id, c.member_id) for c in Card.select().where(Card.card_no.startswith("POOL"))]
    phones = {m.id: m.phone for m in Member.select()}
    rng = random.Random(seed)
    stop = False

    def finish(_signum, _frame) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, finish)
    n = 0
    while not stop:
        n += 1
        card, member = rng.choice(cards)
        phone = phones[member]
        assert lookup(phone if rng.random() < 0.5 else phone[-4:], 20)
        if rng.random() < 0.25:
            perform({"txid": f"{name}-{seed}-{n}", "op": "topup", "card": card, "amount": 20_000})
        else:
            lines = ["HAIR", "WATER"]
            perform({"txid": f"{name}-{seed}-{n}", "op": "checkout", "card": card, "member": member,
                     "lines": lines, "amount": quote(member, lines).total_fen})
        time.sleep(rng.uniform(0, pause))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description="four desks for N minutes: WAL bounded, memory flat")
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "desk"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--desks", type=int, default=4)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--pause", type=float, default=0.05, help="longest pause between customers (s)")
    parser.add_argument("--wal-limit", type=float, default=64.0, help="MB")
    parser.add_argument("--rss-growth", type=float, default=15.0, help="percent")
    parser.add_argument("--db", help="a new database file (default: in a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.mode == "desk":
        path, name, seed = args.args
        desk(path, name, int(seed), args.pause)
        return 0
    import crashtest

    path = args.db or str(Path(tempfile.mkdtemp(prefix="mms-soak-")) / "soak.sqlite3")
    crashtest.prepare(path)
    procs = [subprocess.Popen([sys.executable, __file__, "desk", path, f"s{d}", str(d), "--pause", str(args.pause)],
                              stderr=subprocess.PIPE) for d in range(args.desks)]
    wal = Path(f"{path}-wal")
    samples: list[dict] = []
    started = time.monotonic()
    end = started + args.minutes * 60
    try:
        while time.monotonic() < end:
            time.sleep(args.every)
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                raise SystemExit(f"a desk died: {dead[0].stderr.read().decode()[-2000:]}")
            samples.append({"t_s": round(time.monotonic() - started), "wal_mb": round(wal.stat().st_size / 2**20, 2)
                            if wal.exists() else 0.0, "rss_mb": [round(rss_mb(p.pid), 1) for p in procs]})
            print(json.dumps(samples[-1]), flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    from mms_tui.db import close_database
    from mms_tui.models import Sale, Transaction
    from mms_tui.services.ledger.check import check_ledger
    from mms_tui.services.ops.setup import connect

    connect(path)
    problems = check_ledger()
    sales, transactions = Sale.select().count(), Transaction.select().count()
    close_database()
    quarter = max(1, len(samples) // 4)
    first = [sum(s["rss_mb"][d] for s in samples[:quarter]) / quarter for d in range(args.desks)]
    last = [sum(s["rss_mb"][d] for s in samples[-quarter:]) / quarter for d in range(args.desks)]
    growth = [round((b - a) / a * 100, 1) if a else 0.0 for a, b in zip(first, last, strict=True)]
    wal_max = max((s["wal_mb"] for s in samples), default=0.0)
    verdict = {
        "minutes": args.minutes, "desks": args.desks, "sales": sales, "transactions": transactions,
        "wal_max_mb": wal_max, "wal_within_limit": wal_max <= args.wal_limit,
        "rss_first_quarter_mb": [round(x, 1) for x in first], "rss_last_quarter_mb": [round(x, 1) for x in last],
        "rss_growth_pct": growth, "memory_flat": all(g <= args.rss_growth for g in growth),
        "mms_check_clean": problems == [],
    }
    print(json.dumps(verdict, ensure_ascii=False, indent=None if not args.json else 2))
    ok = verdict["wal_within_limit"] and verdict["memory_flat"] and verdict["mms_check_clean"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
