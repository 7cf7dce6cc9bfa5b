"""mms backup / restore: a verified consistent copy, even while another process writes; nothing half-written."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
from click.testing import CliRunner

from mms_tui.cli import cli
from mms_tui.models import Card, Member
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.topup import top_up
from mms_tui.services.ops.setup import connect

SPAWN = multiprocessing.get_context("spawn")


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(cli, list(args), input=input, env={"MMS_CONFIG": "/nonexistent.toml"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


@pytest.fixture
def shop(sqlite_desk):
    member = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    card = issue_card(member, "SV", sqlite_desk.cashier, "i1", card_no="00012345").card_id
    top_up(card, 10_000, 2_000, "cash", sqlite_desk.manager, "t1")
    return sqlite_desk


def _top_ups(target: str, n: int) -> None:
    from mms_tui.models import Staff
    from mms_tui.services.money.topup import top_up as add
    from mms_tui.services.ops.setup import connect as open_db

    open_db(target)
    cashier = Staff.get(Staff.code == "c01")
    for i in range(n):
        add("00012345", 100, 0, "cash", cashier, f"bg-{i}")


def test_backup_while_another_process_writes_is_consistent_and_checked(shop, tmp_path):
    writer = SPAWN.Process(target=_top_ups, args=(shop.target, 150))
    writer.start()
    copies = []
    for i in range(3):
        result = run("--db", shop.target, "backup", str(tmp_path / f"copy{i}.sqlite3"))
        assert result.exit_code == 0, result.output
        assert "checks passed" in result.output
        copies.append(tmp_path / f"copy{i}.sqlite3")
    writer.join(60)
    for copy in copies:
        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        principal, = conn.execute("SELECT principal_fen FROM card WHERE card_no='00012345'").fetchone()
        entries, = conn.execute("SELECT SUM(amount) FROM ledger_entry WHERE account='card.principal'").fetchone()
        conn.close()
        assert principal == entries  # a snapshot: cache and ledger from the same moment
        assert run("--db", str(copy), "check").exit_code == 0
    assert not list(tmp_path.glob(".*.partial"))


def test_backup_refuses_to_overwrite_and_a_missing_folder(shop, tmp_path):
    target = tmp_path / "b.sqlite3"
    target.write_text("keep me")
    result = run("--db", shop.target, "backup", str(target))
    assert result.exit_code == 1 and "--force" in result.output
    assert target.read_text() == "keep me"
    missing = run("--db", shop.target, "backup", str(tmp_path / "no" / "such" / "b.sqlite3"))
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_restore_asks_then_brings_back_the_backup(shop, tmp_path):
    backup = tmp_path / "b.sqlite3"
    assert run("--db", shop.target, "backup", str(backup)).exit_code == 0
    connect(shop.target)
    register_member("李四", "13912345678", shop.cashier, "r2")
    refused = run("--db", shop.target, "restore", str(backup))
    assert refused.exit_code == 1 and "--yes" in refused.output
    restored = run("--db", shop.target, "restore", str(backup), "--yes")
    assert restored.exit_code == 0, restored.output
    connect(shop.target)
    assert [m.name for m in Member.select()] == ["张三"]
    assert Card.get(Card.card_no == "00012345").principal_fen == 10_000


def test_restore_refuses_a_file_that_is_not_a_sound_backup(shop, tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    result = run("--db", shop.target, "restore", str(bad), "--yes")
    assert result.exit_code == 1 and "not a readable database" in result.output
    connect(shop.target)
    assert Member.select().count() == 1


@pytest.mark.postgres
def test_backup_of_a_postgres_store_points_to_pg_dump(postgres_target, tmp_path):
    from tests.conftest import setup_desk

    setup_desk(postgres_target)
    result = run("--db", postgres_target, "backup", str(tmp_path / "b"))
    assert result.exit_code == 1 and "pg_dump" in result.output
