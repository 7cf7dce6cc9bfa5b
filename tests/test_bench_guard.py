"""scripts/bench.py measures only on a quiet machine, and says where a database's bytes go (issue #27)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import bench as module

    return module


def test_a_busy_machine_measures_nothing_unless_told(bench, monkeypatch, capsys, tmp_path):
    measured = []
    monkeypatch.setattr(bench, "bench_start", lambda path: measured.append(path) or {"start_s": 0.5})
    monkeypatch.setattr(bench.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(bench, "machine_load", lambda: (1.7, 1.2, 0.9))
    database = tmp_path / "x.sqlite3"
    database.write_bytes(b"")
    monkeypatch.setattr(sys, "argv", ["bench.py", "start", "--reuse", str(database)])
    assert bench.main() == 3 and measured == []
    said = capsys.readouterr().err
    assert "the machine is busy: load average 1.7 over the last minute on 2 cores" in said
    assert "nothing was measured" in said

    monkeypatch.setattr(sys, "argv", ["bench.py", "start", "--reuse", str(database), "--json", "--busy"])
    assert bench.main() == 0 and measured == [str(database)]
    out = json.loads(capsys.readouterr().out)
    assert out["busy"].startswith("YES") and out["load_at_start"].startswith("1.7 / 1.2 / 0.9")

    monkeypatch.setattr(bench, "machine_load", lambda: (0.2, 0.3, 0.4))  # quiet: measured, nothing marked
    monkeypatch.setattr(sys, "argv", ["bench.py", "start", "--reuse", str(database), "--json"])
    assert bench.main() == 0 and len(measured) == 2
    assert "busy" not in json.loads(capsys.readouterr().out)


def test_the_bytes_of_every_table_and_index(sqlite_desk, tmp_path):
    from mms_tui.services.money.topup import top_up
    from tests.test_compact_storage import _sv_card

    card = _sv_card(sqlite_desk)
    for n in range(30):
        top_up(card, 100 + n, None, "cash", sqlite_desk.cashier, f"t-{n}")
    from mms_tui.db import database

    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the file holds every page (dbstat counts the WAL's)
    done = subprocess.run([sys.executable, str(SCRIPTS / "bench.py"), "sizes", "--reuse", sqlite_desk.target,
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    sizes = json.loads(done.stdout)
    rows = {r["name"]: r for r in sizes["sizes"]}
    assert rows["ledger_transaction"]["kind"] == "table" and rows["ledger_transaction"]["rows"] >= 32
    assert rows["ledger_transaction_txid"]["kind"] == "index"
    assert rows["ledger_transaction"]["bytes_per_row"] > 0
    assert sizes["total_mb"] == pytest.approx(sizes["tables_mb"] + sizes["indexes_mb"], abs=0.11)
    assert sizes["total_mb"] * 1e6 == pytest.approx(Path(sqlite_desk.target).stat().st_size, rel=0.05)
