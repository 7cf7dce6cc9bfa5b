"""Crash safety, the short version (issue #7): four desks killed with SIGKILL mid-operation, three times; after
each kill the file is sound, the books hold, every acknowledged operation is there, and retrying what was cut
off posts it at most once. ``python scripts/crashtest.py`` runs the long version (20 rounds and more)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import crashtest

pytestmark = pytest.mark.slow


def test_desks_killed_mid_operation_lose_nothing_and_double_nothing(tmp_path):
    path = str(tmp_path / "crash.sqlite3")
    crashtest.prepare(path)
    rng = random.Random(7)
    totals = {"ok": 0, "refused": 0, "unanswered": 0}
    for round_no in range(3):
        counts = crashtest.run_round(path, tmp_path, 4, rng.uniform(0.4, 1.2), round_no + 1)
        for key, value in counts.items():
            totals[key] += value
    assert totals["ok"] > 20  # the desks really worked between the kills
    assert totals["unanswered"] >= 1  # and some operation was really cut off and retried


def test_a_log_line_cut_short_by_the_kill_is_not_a_promise(tmp_path):
    log = tmp_path / "desk.log"
    log.write_text('{"ready": "d0"}\n{"start": {"txid": "a", "op": "topup"}}\n{"done": "a", "outcome": "ok"}\n'
                   '{"start": {"txid": "b", "op": "topup"}}\n{"done": "b", "outc', encoding="utf-8")
    started, answered = crashtest.read_log(log)
    assert set(started) == {"a", "b"} and answered == {"a": "ok"}


def test_two_desks_spend_the_last_balance_fifty_times_exactly_one_wins_each_time(db_target):
    """Fifty races for the last ¥3 on SQLite and on PostgreSQL (``python scripts/contention.py`` runs 1,000)."""
    import contention

    card = contention.prepare(db_target)
    tally = contention.race(db_target, card, 50)
    assert sum(tally.values()) == 50 and all(pair.count("ok") == 1 for pair in tally)


@pytest.mark.postgres
def test_desks_killed_mid_operation_on_postgresql_lose_nothing_and_double_nothing(postgres_target, tmp_path):
    """The same kills against a PostgreSQL store: the server keeps running, the desks (its clients) die."""
    crashtest.prepare(postgres_target)
    rng = random.Random(11)
    totals = {"ok": 0, "refused": 0, "unanswered": 0}
    for round_no in range(2):
        counts = crashtest.run_round(postgres_target, tmp_path, 3, rng.uniform(0.5, 1.2), round_no + 1)
        for key, value in counts.items():
            totals[key] += value
    assert totals["ok"] > 10
    assert totals["unanswered"] >= 1


@pytest.mark.postgres
def test_sixteen_desks_of_a_chain_race_for_the_last_balance_on_postgresql(postgres_target):
    """A chain's busy evening (issue #24): sixteen desks spend the same last ¥3 at once, five times; one sale each
    time, fifteen refusals, no lock or serialization error reaching a desk, and the books hold."""
    import contention

    card = contention.prepare(postgres_target)
    tally = contention.race(postgres_target, card, 5, desks=16)
    assert sum(tally.values()) == 5
    assert all(len(outcomes) == 16 and outcomes.count("ok") == 1 for outcomes in tally)


@pytest.mark.postgres
def test_sixteen_desks_killed_mid_operation_on_postgresql_lose_nothing(postgres_target, tmp_path):
    """The crash test with sixteen desks on PostgreSQL (issue #24): every desk killed at once, mid-operation."""
    crashtest.prepare(postgres_target)
    counts = crashtest.run_round(postgres_target, tmp_path, 16, 2.5, 1)
    assert counts["ok"] > 16
