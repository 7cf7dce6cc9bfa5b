#!/usr/bin/env python3
"""Contention: two desks (or more) spend the last balance at the same instant, a thousand times (issue #7).

    python scripts/contention.py [--races 1000] [--desks 2] [--db PATH|URL]

A card holds the price of a bottle of water (¥3, less once the member's spend earns a tier discount); two desk
processes each sell that water on it at the same moment (they meet at a barrier first).
Every race must end with exactly one sale and one "not enough balance", the card at ¥0, and no other error —
no "database is locked" reaches either desk. Then the card is topped up with the price again and the next race
starts.
With ``--desks 16`` (a chain's busy evening, issue #24) sixteen desks race each time: one sale, fifteen refusals.
SQLite by default; a postgresql:// URL runs the same on PostgreSQL. ``mms check`` must be clean at the end.
The test suite runs 50 races (tests/test_crash.py); this script is the long version.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPAWN = multiprocessing.get_context("spawn")


def prepare(target: str) -> int:
    """A store, a cashier, one member with a stored-value card holding ¥3; returns the card's id."""
    from mms_tui.db import close_database
    from mms_tui.models import Product, Staff
    from mms_tui.models.migrations import current_version
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.money.topup import top_up
    from mms_tui.services.ops.setup import connect, initialise
    from mms_tui.services.staff.accounts import create_staff

    connect(target)
    if current_version() != 0:
        close_database()
        raise SystemExit(f"{target} is not empty: give a new file or an empty database")
    initialise(admin_code="admin", admin_pin="1234")
    create_staff("c01", "前台", "cashier", "0000")
    Product.create(code="WATER", name="矿泉水", category="零售", price_fen=300)
    cashier = Staff.get(Staff.code == "c01")
    member = register_member("张三", "13800138000", cashier, "r1").member_id
    card = issue_card(member, "SV", cashier, "i1", card_no="RACE001").card_id
    top_up(card, 300, 0, "cash", cashier, "t0")
    close_database()
    return card


def _desk(target: str, name: str, card_id: int, races: int, barrier, results) -> None:
    from mms_tui.models import Card, Staff
    from mms_tui.services.base.errors import DomainError, InsufficientBalance
    from mms_tui.services.money.checkout import checkout, quote
    from mms_tui.services.ops.setup import connect

    connect(target)
    cashier = Staff.get(Staff.code == "c01")
    member = Card.get_by_id(card_id).member_id
    for race in range(races):
        barrier.wait()  # the parent has put the price of the water on the card
        try:
            price = quote(member, ["WATER"]).total_fen
            checkout(member, [("WATER", 1)], [("stored_value", price, card_id)], cashier, f"{name}-{race}")
            outcome = "ok"
        except InsufficientBalance:
            outcome = "insufficient"
        except DomainError as exc:
            outcome = f"refused: {exc}"
        except Exception:
            outcome = "error: " + traceback.format_exc(limit=3)
        results.put((race, outcome))


def race(target: str, card_id: int, races: int, desks: int = 2) -> Counter:
    """Run the races; a Counter of the sorted outcome pairs. Raises AssertionError on the first bad race."""
    from mms_tui.db import close_database
    from mms_tui.models import Card, Staff
    from mms_tui.services.ledger.check import check_ledger
    from mms_tui.services.money.checkout import quote
    from mms_tui.services.money.topup import top_up
    from mms_tui.services.ops.setup import connect

    barrier = SPAWN.Barrier(desks + 1)
    results = SPAWN.Queue()
    procs = [SPAWN.Process(target=_desk, args=(target, f"desk{d}", card_id, races, barrier, results))
             for d in range(desks)]
    for p in procs:
        p.start()
    connect(target)
    cashier = Staff.get(Staff.code == "c01")
    tally: Counter = Counter()
    try:
        for n in range(races):
            if n:  # the price again (a tier discount may have lowered it since the last race)
                member = Card.get_by_id(card_id).member_id
                top_up(card_id, quote(member, ["WATER"]).total_fen, 0, "cash", cashier, f"again-{n}")
            barrier.wait(timeout=120)
            outcomes = sorted(results.get(timeout=120)[1] for _ in procs)
            tally[tuple(o.split(":")[0] for o in outcomes)] += 1
            # one sale; every other desk is told no: not enough balance, or (when the winner's sale has just earned
            # a tier discount) that its ¥3 is now more than the bill — never an error, never a lock
            assert outcomes.count("ok") == 1, f"race {n}: {outcomes}"
            assert not any(o.startswith("error") for o in outcomes), f"race {n}: {outcomes}"
            assert Card.get_by_id(card_id).principal_fen == 0, f"race {n}: the card is not at ¥0"
        problems = check_ledger()
        assert problems == [], problems[:5]
    finally:
        close_database()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description="desks spend the last balance at once, many times")
    parser.add_argument("--races", type=int, default=1000)
    parser.add_argument("--desks", type=int, default=2)
    parser.add_argument("--db", help="a new SQLite file or an empty PostgreSQL database URL (default: a temp file)")
    args = parser.parse_args()
    target = args.db or str(Path(tempfile.mkdtemp(prefix="mms-race-")) / "race.sqlite3")
    card = prepare(target)
    tally = race(target, card, args.races, args.desks)
    print(f"{args.races} races of {args.desks} desks on {target}: {dict(tally)} — exactly one sale each time, no "
          "other error, "
          "mms check clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
