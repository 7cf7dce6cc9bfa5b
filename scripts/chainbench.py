"""A chain at scale on PostgreSQL (issue #24): desks in many stores at once, the region and settlement reports,
``mms check``, each beside a raw figure from the same server in the same run. Run through ``scripts/bench.py``:

    python scripts/bench.py chain --reuse postgresql://postgres@127.0.0.1/mms_chain [--members 1000000]
                                  [--desks 16] [--seconds 60] [--json]

The database is one built by ``scripts/bigdb.py --chain`` (built at ``--reuse`` when it has no schema yet).

``desks``: ``--desks`` processes, each serving its own store (stores spread over the five regions) as a cashier of
that store, run the checkout mix for ``--seconds`` from a common start: seven in ten a sale of a haircut and a
bottle of water paid with 100 points and stored value, one in ten the same paid by WeChat, two in ten a ¥200 top-up
— on cards of members from anywhere in the chain, so stored value loaded in one store is spent in another. Each
desk keeps a log as the crash test does (a line before each operation with its txid, a line after with the answer
and the commit time), flushed at once. Afterwards the ledger is held to the logs: every operation answered ``ok``
is there exactly once (by txid, and with its sale), none answered ``refused`` or never started is, and nothing
else carries the run's tag. Figures: operations and checkouts per second, commit p50/p99, errors; then
``pgbench``'s built-in simple-update script with as many clients for as long on a scratch database of the same
server (``-s`` = desks), and the ratio of the desks' operations per second to its transactions per second.

``reports``: every report of ``mms report --list`` for one region over the last 30 days of the data, and the
settlement report over the last quarter for the whole chain and for the region — each the median of ``--runs``
runs on a new connection — beside the raw scan ``SELECT COUNT(*), SUM(amount) FROM ledger_entry``.

``check``: ``mms check`` on the whole chain (every invariant; every store's hash chain, verified by as many helper
processes as ``mms check`` starts by default), timed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINES = ["HAIR", "WATER"]
MIX = (("sv", 70), ("wechat", 10), ("topup", 20))


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# --- the desks -----------------------------------------------------------------------------------------------


def plan_desks(url: str, desks: int, seed: int) -> list[dict]:
    """Which store each desk serves (spread over the regions), its cashier, and its own shuffled share of the
    stored-value cards that can pay (members of every store)."""
    from mms_tui.db import close_database, database
    from mms_tui.services.ops.setup import connect

    connect(url)
    stores = database.execute_sql(
        "SELECT s.id, s.code, (SELECT MIN(f.id) FROM staff f WHERE f.store_id = s.id AND f.role = 'cashier') "
        "FROM store s WHERE s.kind = 'store' AND s.closed_at IS NULL ORDER BY s.id").fetchall()
    stores = [s for s in stores if s[2] is not None]
    if len(stores) < desks:
        raise SystemExit(f"{len(stores)} stores with a cashier, {desks} desks asked: build with bigdb.py --chain")
    step = len(stores) / desks
    chosen = [stores[int(i * step)] for i in range(desks)]
    cards = database.execute_sql(
        "SELECT c.member_id, c.id FROM card c JOIN card_type t ON t.id = c.card_type_id "
        "WHERE t.kind = 'stored_value' AND c.status = 'active' AND c.principal_fen >= 100000 "
        "AND c.points >= 1000 ORDER BY c.id").fetchall()
    close_database()
    random.Random(seed).shuffle(cards)
    share = len(cards) // desks
    return [{"store": code, "staff": staff, "cards": cards[i * share:(i + 1) * share]}
            for i, (_sid, code, staff) in enumerate(chosen)]


def _desk(url: str, plan: dict, tag: str, seconds: float, log_path: str, queue, ready, go) -> None:
    """One desk in its store: warm up (as a desk open all day), say ready, wait for the common start, then run the
    mix until the time is up, logging each operation before it starts and when it is answered."""
    import traceback

    from mms_tui import clock
    from mms_tui.models import Staff
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.money.checkout import checkout, quote
    from mms_tui.services.money.topup import top_up
    from mms_tui.services.ops.setup import connect

    clock.serve_store(plan["store"])
    connect(url)
    staff = Staff.get_by_id(plan["staff"])
    rng = random.Random(tag)
    kinds = [k for k, _w in MIX]
    weights = [w for _k, w in MIX]
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    cards = plan["cards"]

    def run(kind: str, member: int, card: int, txid: str) -> float:
        """The operation as the desk sends it (a sale quoted first, as the desk shows the bill); its commit ms."""
        if kind == "topup":
            started = time.perf_counter()
            top_up(card, 20_000, 0, "cash", staff, txid)
            return (time.perf_counter() - started) * 1000
        total = quote(member, LINES).total_fen
        tenders = ([("points", 100, card), ("stored_value", total - 100, card)] if kind == "sv"
                   else [("wechat", total, None)])
        started = time.perf_counter()
        checkout(member, LINES, tenders, staff, txid)
        return (time.perf_counter() - started) * 1000

    with_errors: list[str] = []
    with contextlib.suppress(DomainError):
        run("sv", *cards[0], f"{tag}-warm")
    ready.release()
    go.wait()
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        member, card = cards[(n + 1) % len(cards)]
        kind = rng.choices(kinds, weights)[0]
        txid = f"{tag}-{n}"
        n += 1
        os.write(log, f"start {txid} {kind} {member} {card}\n".encode())
        try:
            ms = run(kind, member, card, txid)
            os.write(log, f"ok {txid} {kind} {ms:.3f}\n".encode())
        except DomainError as exc:
            os.write(log, f"refused {txid} {kind} {json.dumps(str(exc), ensure_ascii=False)}\n".encode())
        except Exception:
            with_errors.append(traceback.format_exc(limit=3))
            os.write(log, f"error {txid} {kind}\n".encode())
    os.close(log)
    queue.put((tag, len(with_errors), with_errors[:3], time.monotonic()))


def read_logs(paths: list[Path]) -> dict:
    started, answered = set(), {}
    times: list[float] = []
    for path in paths:
        for line in path.read_text().splitlines():
            word, txid, kind, *rest = line.split(" ", 3)
            if word == "start":
                started.add(txid)
            else:
                answered[txid] = (word, kind)
                if word == "ok":
                    times.append(float(rest[0]))
    return {"started": started, "answered": answered, "times": times}


def held_to_logs(url: str, tag: str, logs: dict) -> dict:
    """The ledger against the desks' logs: what is there under the run's tag, and what should be."""
    from mms_tui.db import close_database, database
    from mms_tui.services.ops.setup import connect

    connect(url)
    rows = database.execute_sql(
        "SELECT t.txid, t.kind, (SELECT COUNT(*) FROM sale s WHERE s.transaction_id = t.id) FROM ledger_transaction t "
        "WHERE t.txid LIKE %s", (f"{tag}-%",)).fetchall()
    close_database()
    in_ledger: dict[str, int] = {}
    sales_of: dict[str, int] = {}
    for txid, _kind, sales in rows:
        in_ledger[txid] = in_ledger.get(txid, 0) + 1
        sales_of[txid] = sales
    ok = {t for t, (word, _k) in logs["answered"].items() if word == "ok" and not t.endswith("-warm")}
    not_ok = {t for t, (word, _k) in logs["answered"].items() if word != "ok"}
    unanswered = logs["started"] - set(logs["answered"])
    checkouts = {t for t in ok if logs["answered"][t][1] != "topup"}
    listed = {t for t in in_ledger if not t.endswith("-warm")}
    return {
        "lost": len(ok - listed),
        "doubled": sum(1 for t in listed if in_ledger[t] > 1),
        "refused_but_posted": len(not_ok & listed),
        "never_logged_but_posted": len(listed - logs["started"]),
        "unanswered": len(unanswered),
        "checkouts_without_one_sale": sum(1 for t in checkouts & listed if sales_of[t] != 1),
    }


def bench_desks(url: str, desks: int, seconds: float, seed: int = 7) -> dict:
    import tempfile

    tag = f"chain{time.strftime('%H%M%S')}"
    from bench import start_together

    plans = plan_desks(url, desks, seed)
    folder = Path(tempfile.mkdtemp(prefix="mms-chain-"))
    logs = [folder / f"desk-{i:02d}.log" for i in range(desks)]
    begin, reports = start_together(_desk, [(url, plan, f"{tag}-d{i:02d}", seconds, str(logs[i]))
                                            for i, plan in enumerate(plans)], timeout=seconds + 600)
    elapsed = max(r[3] for r in reports) - begin
    found = read_logs(logs)
    answered = found["answered"]
    ok = [t for t, (w, _k) in answered.items() if w == "ok" and not t.endswith("-warm")]
    checkouts = [t for t in ok if answered[t][1] != "topup"]
    refused = sum(1 for w, _k in answered.values() if w == "refused")
    errors = sum(r[1] for r in reports)
    held = held_to_logs(url, tag, found)
    return {
        "desks": desks, "stores": [p["store"] for p in plans], "seconds": round(elapsed, 1),
        "operations": len(ok), "checkouts": len(checkouts), "refused": refused, "errors": errors,
        "first_error": next((r[2][0] for r in reports if r[2]), None),
        "ops_per_s": round(len(ok) / elapsed, 1), "checkouts_per_s": round(len(checkouts) / elapsed, 1),
        "commit_p50_ms": round(percentile(found["times"], 50), 2),
        "commit_p99_ms": round(percentile(found["times"], 99), 2),
        "held_to_logs": held, "logs": str(folder),
    }


def pgbench_simple_update(url: str, clients: int, seconds: float) -> dict:
    """pgbench's built-in simple-update script, ``clients`` clients for ``seconds`` on a scratch database of the
    same server, scale = clients (as pgbench's documentation advises: one branch row per client)."""
    parts = urllib.parse.urlsplit(url)
    scratch = "mms_pgbench_scratch"
    env = {**os.environ, "PGHOST": parts.hostname or "127.0.0.1", "PGPORT": str(parts.port or 5432),
           "PGUSER": urllib.parse.unquote(parts.username or "postgres")}
    if parts.password:
        env["PGPASSWORD"] = urllib.parse.unquote(parts.password)
    subprocess.run(["dropdb", "--if-exists", "--force", scratch], env=env, check=True, capture_output=True)
    subprocess.run(["createdb", scratch], env=env, check=True, capture_output=True)
    try:
        subprocess.run(["pgbench", "-i", "-q", "-s", str(clients), scratch], env=env, check=True, capture_output=True)
        out = subprocess.run(["pgbench", "-b", "simple-update", "-c", str(clients), "-j", str(min(clients, 4)),
                              "-T", str(int(seconds)), "-n", scratch], env=env, check=True, capture_output=True,
                             text=True).stdout
    finally:
        subprocess.run(["dropdb", "--if-exists", "--force", scratch], env=env, capture_output=True)
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {"clients": clients, "seconds": seconds, "tps": round(tps, 1),
            "latency_avg_ms": float(latency.group(1)) if latency else None}


# --- reports and check ------------------------------------------------------------------------------------------


def _median(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def bench_chain_reports(url: str, runs: int, region: str = "R1") -> dict:
    from mms_tui.db import close_database, database
    from mms_tui.services.ops.setup import connect
    from mms_tui.services.reports.catalogue import REPORTS, run_report

    connect(url)
    last = database.execute_sql("SELECT MAX(local_day) FROM ledger_transaction WHERE txid NOT LIKE %s",
                                ("chain%",)).fetchone()[0]
    close_database()
    end = last if isinstance(last, dt.date) else dt.date.fromisoformat(str(last)[:10])
    month = end - dt.timedelta(days=29)
    quarter = end - dt.timedelta(days=90)
    cases = [(name, month, region) for name in REPORTS if name != "settlement"]
    cases += [("settlement", quarter, None), ("settlement", quarter, region)]

    def scan() -> int:
        connect(url)
        try:
            return database.execute_sql("SELECT COUNT(*), SUM(amount) FROM ledger_entry").fetchone()[0]
        finally:
            close_database()

    scan_s, entries = _median(scan, runs)
    results = []
    for name, start, node in cases:
        def run(name: str = name, start: dt.date = start, node: str | None = node) -> int:
            connect(url)
            try:
                return len(list(run_report(name, start, end, store=node)))
            finally:
                close_database()

        seconds, rows = _median(run, runs)
        target = 5.0 if name == "settlement" else 2.0
        results.append({"report": name, "node": node or "chain", "from": start.isoformat(), "to": end.isoformat(),
                        "rows": rows, "seconds": round(seconds, 3), "target_s": target,
                        "within_target": seconds <= target})
        print(f"  {name:<12} {node or 'chain':<6} {start} … {end}: {seconds:7.3f} s", file=sys.stderr)
    return {"region": region, "raw_scan_s": round(scan_s, 3), "entries": entries, "reports": results}


def bench_check(url: str) -> dict:
    from mms_tui.db import close_database
    from mms_tui.services.ledger.check import MOST_WORKERS, check_ledger
    from mms_tui.services.ops.setup import connect

    jobs = min(MOST_WORKERS, os.cpu_count() or 1)  # what mms check does by default
    connect(url)
    started = time.perf_counter()
    problems = check_ledger(jobs)
    seconds = time.perf_counter() - started
    close_database()
    return {"check_s": round(seconds, 1), "jobs": jobs, "problems": len(problems),
            "first_problems": [str(p) for p in problems[:5]], "target_s": 60.0}


def counts(url: str) -> dict:
    from mms_tui.db import close_database, database
    from mms_tui.services.ops.setup import connect

    connect(url)
    found = {table: database.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
             for table in ("store", "member", "card", "ledger_transaction", "ledger_entry", "sale", "audit_event")}
    found["database_mb"] = round(database.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]
                                 / 1e6)
    close_database()
    return found


def bench_chain(url: str, members: int, desks: int, seconds: float, runs: int) -> dict:
    """Everything above on the chain at ``url`` (built there first when it has no schema)."""
    import bigdb

    from mms_tui.db import close_database
    from mms_tui.models.migrations import current_version
    from mms_tui.services.ops.setup import connect

    if "://" not in url:
        raise SystemExit("chain: give --reuse a postgresql:// URL")
    built = None
    try:
        connect(url)
        version = current_version()
        close_database()
    except Exception:
        version = 0
    if not version:
        built = bigdb.build(url, members, chain=True, log=lambda text: print(text, file=sys.stderr))
    before = counts(url)
    print(f"chain: {before['member']:,} members, {before['ledger_entry']:,} entries; {desks} desks for {seconds} s",
          file=sys.stderr)
    sold = bench_desks(url, desks, seconds)
    print(f"  desks: {sold['ops_per_s']} operations/s, p99 {sold['commit_p99_ms']} ms, {sold['held_to_logs']}",
          file=sys.stderr)
    raw = pgbench_simple_update(url, desks, seconds)
    print(f"  pgbench simple-update: {raw['tps']} tps", file=sys.stderr)
    reports = bench_chain_reports(url, runs)
    checked = bench_check(url)
    print(f"  mms check: {checked['check_s']} s, {checked['problems']} problems", file=sys.stderr)
    return {"benchmark": "chain", "database": url, "built_s": built.build_s if built else None, **before,
            "desks": sold, "pgbench": raw, "ops_to_pgbench": round(sold["ops_per_s"] / raw["tps"], 3),
            "chain_reports": reports, "check": checked}


if __name__ == "__main__":
    raise SystemExit("run it as: python scripts/bench.py chain --reuse postgresql://…")
