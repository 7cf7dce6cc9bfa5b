#!/usr/bin/env python3
"""Crash safety: desks killed with SIGKILL in the middle of their work, again and again (issue #7).

    python scripts/crashtest.py [--rounds 20] [--workers 4] [--seconds 3] [--db PATH|postgresql://…]

Each round starts ``--workers`` desk processes on one SQLite file (or one PostgreSQL database: give an empty one,
``--db postgresql://postgres@127.0.0.1/mms_crash``). Each desk runs checkouts (a haircut and a
bottle of water paid with stored value) and top-ups on random cards of a shared pool, and keeps a log: a line
before each operation (its txid and the whole request) and a line after it returned (``ok`` or ``refused``),
each flushed to the kernel at once, so the log outlives a SIGKILL. At a random moment every desk is killed with
SIGKILL. Then, before the next round:

* the store is sound — SQLite: ``PRAGMA integrity_check`` is ok; PostgreSQL (whose server outlives its killed
  clients): every killed desk's session is gone, so none holds a lock or an open transaction, and ``amcheck``
  finds every B-tree index sound and holding every row — and ``mms check`` finds nothing wrong;
* every operation a desk was told succeeded is in the ledger, every one it was told was refused is not;
* every operation that was started but never answered is tried again with the same txid and request: it ends
  in the ledger at most once, and trying it a second time changes nothing.

The test suite runs a short version of this (tests/test_crash.py); this script is the long one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POOL = 12  # cards shared by the desks: enough contention, and balances that run dry now and then


def prepare(path: str) -> None:
    """A store with a cashier and a pool of members holding stored-value cards."""
    from mms_tui.db import close_database
    from mms_tui.models import Product, ServiceItem, Staff
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.money.topup import top_up
    from mms_tui.services.ops.setup import connect, initialise
    from mms_tui.services.staff.accounts import create_staff

    connect(path)
    initialise(admin_code="admin", admin_pin="1234")
    create_staff("c01", "前台", "cashier", "0000")
    ServiceItem.create(code="HAIR", name="精剪", category="美发", price_fen=8_800)
    Product.create(code="WATER", name="矿泉水", category="零售", price_fen=300)
    cashier = Staff.get(Staff.code == "c01")
    admin = Staff.get(Staff.code == "admin")  # the opening top-ups carry no bonus: a manager's decision
    for i in range(POOL):
        member = register_member(f"会员{i}", f"1380000{i:04d}", cashier, f"r{i}").member_id
        card = issue_card(member, "SV", cashier, f"i{i}", card_no=f"POOL{i:03d}")
        top_up(card.card_id, 50_000, 0, "cash", admin, f"t{i}")
    close_database()


def perform(request: dict) -> str:
    """Run one logged request; 'ok' or 'refused' (the desk's own answer, as a cashier would see it)."""
    from mms_tui.models import Staff
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.money.checkout import checkout
    from mms_tui.services.money.topup import top_up

    cashier = Staff.get(Staff.code == "c01")
    try:
        if request["op"] == "topup":
            top_up(request["card"], request["amount"], 0, "cash", cashier, request["txid"])
        else:
            checkout(request["member"], request["lines"], [("stored_value", request["amount"], request["card"])],
                     cashier, request["txid"])
    except DomainError:
        return "refused"
    return "ok"


def desk(path: str, name: str, log_path: str, seed: int) -> None:
    """One desk process: operations until it is killed."""
    from mms_tui.models import Card
    from mms_tui.services.money.checkout import quote
    from mms_tui.services.ops.setup import connect

    connect(path)
    cards = [(c.id, c.member_id) for c in Card.select().where(Card.card_no.startswith("POOL"))]
    rng = random.Random(seed)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(json.dumps({"ready": name}) + "\n")
        log.flush()
        for n in range(1, 10**9):
            card, member = rng.choice(cards)
            txid = f"{name}-{seed}-{n}"
            if rng.random() < 0.3:
                request = {"txid": txid, "op": "topup", "card": card, "amount": rng.choice((10_000, 20_000))}
            else:
                lines = ["HAIR", "WATER"]
                request = {"txid": txid, "op": "checkout", "card": card, "member": member, "lines": lines,
                           "amount": quote(member, lines).total_fen}
            log.write(json.dumps({"start": request}) + "\n")
            log.flush()
            outcome = perform(request)
            log.write(json.dumps({"done": txid, "outcome": outcome}) + "\n")
            log.flush()


def read_log(log_path: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """(started requests by txid, answered outcomes by txid); a line cut short by the kill is not a line."""
    started: dict[str, dict] = {}
    answered: dict[str, str] = {}
    if not log_path.exists():
        return started, answered
    for line in log_path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "start" in record:
            started[record["start"]["txid"]] = record["start"]
        elif "done" in record:
            answered[record["done"]] = record["outcome"]
    return started, answered


def verify(path: str, logs: list[Path]) -> dict:
    """The checks after a round of kills; raises AssertionError with what is wrong."""
    from mms_tui.db import close_database
    from mms_tui.models import Entry, Transaction
    from mms_tui.services.ledger.check import check_ledger
    from mms_tui.services.ops.setup import connect

    check_integrity(path)
    connect(path)
    try:
        problems = check_ledger()
        assert problems == [], f"mms check: {problems[:5]}"
        counts = {"ok": 0, "refused": 0, "unanswered": 0}
        for log_path in logs:
            started, answered = read_log(log_path)
            for txid, outcome in answered.items():
                present = Transaction.select().where(Transaction.txid == txid).count()
                if outcome == "ok":
                    assert present == 1, f"{txid} was acknowledged but is not in the ledger"
                else:
                    assert present == 0, f"{txid} was refused but is in the ledger"
                counts[outcome] += 1
            for txid, request in started.items():
                if txid in answered:
                    continue
                counts["unanswered"] += 1
                perform(request)  # the desk's retry after a crash: same txid, same request
                entries = Entry.select().count()
                perform(request)  # and once more: nothing new
                assert Entry.select().count() == entries, f"{txid} posted again on a second retry"
                assert Transaction.select().where(Transaction.txid == txid).count() <= 1
            log_path.write_text("", encoding="utf-8")  # this round's promises are checked
        problems = check_ledger()
        assert problems == [], f"mms check after the retries: {problems[:5]}"
        return counts
    finally:
        close_database()


def check_integrity(target: str) -> None:
    """The store itself is sound after the kills (see the module's docstring); AssertionError when not."""
    if "://" not in target:
        con = sqlite3.connect(target)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check failed"
        finally:
            con.close()
        return
    import psycopg2

    con = psycopg2.connect(target)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            deadline = time.monotonic() + 30
            while True:  # the server notices a dead client's closed socket and ends its session
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()")
                if cur.fetchone()[0] == 0:
                    break
                assert time.monotonic() < deadline, "a killed desk's session is still open on the server"
                time.sleep(0.05)
            cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'")
            if cur.fetchone() is None:
                return  # the server has no amcheck: its own crash safety is not what is tested here
            cur.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
            cur.execute("SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE a.amname = 'btree' AND n.nspname = 'public'")
            for (index,) in cur.fetchall():
                cur.execute("SELECT bt_index_check(%s::regclass, true)", (index,))  # raises when unsound
    finally:
        con.close()


def run_round(path: str, folder: Path, workers: int, seconds: float, seed: int) -> dict:
    logs = [folder / f"desk{w}.log" for w in range(workers)]
    procs = [subprocess.Popen([sys.executable, __file__, "desk", path, f"d{w}", str(logs[w]), str(seed * 100 + w)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for w in range(workers)]
    started = time.monotonic()
    while not all(log.exists() and log.stat().st_size for log in logs):  # every desk is up and working
        time.sleep(0.02)
        if time.monotonic() - started > 60:
            raise AssertionError("the desks did not start within a minute")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        for p in procs:
            if p.poll() is not None:  # a desk that died by itself is a failure, not a crash we caused
                raise AssertionError(f"a desk stopped by itself: {p.stderr.read().decode()[-2000:]}")
    for p in procs:
        os.kill(p.pid, signal.SIGKILL)
    for p in procs:
        p.wait()
        p.stderr.close()
    return verify(path, logs)


def main() -> int:
    parser = argparse.ArgumentParser(description="kill -9 desks mid-operation and check nothing is lost or doubled")
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "desk"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0, help="longest a round runs before the kill")
    parser.add_argument("--db", help="database file or an empty PostgreSQL database's postgresql:// URL "
                                     "(default: a new file in a temporary folder)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.mode == "desk":
        path, name, log_path, seed = args.args
        desk(path, name, log_path, int(seed))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="mms-crash-"))
    path = args.db or str(folder / "crash.sqlite3")
    prepare(path)
    rng = random.Random(args.seed)
    totals = {"ok": 0, "refused": 0, "unanswered": 0}
    for r in range(1, args.rounds + 1):
        counts = run_round(path, folder, args.workers, rng.uniform(0.3, args.seconds), args.seed + r)
        for key, value in counts.items():
            totals[key] += value
        print(f"round {r}: {counts['ok']} acknowledged, {counts['refused']} refused, "
              f"{counts['unanswered']} cut off by the kill and retried — integrity ok, mms check clean", flush=True)
    print(f"{args.rounds} rounds: {totals}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
