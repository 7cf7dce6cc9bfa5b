"""``-`` for standard input on every import (issue #25): members, products and prices, a batch of top-ups and the
stock lines of a receipt, a return or a transfer are read from a pipe as from a file — CSV in UTF-8 or GB18030 and
XLSX alike — all or nothing, every bad row named; a PIN cannot come from the same pipe, and a terminal is not a
file."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from mms_tui.models import Card, Member, StockMove, Transaction
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from tests.conftest import MANAGER_PIN


def _xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_members_come_from_a_pipe_in_gb18030_and_the_same_bytes_again_change_nothing(sqlite_desk, run):
    db = ("--db", sqlite_desk.target)
    data = "姓名,手机,卡号,余额\n赵六,13700000006,77000006,50\n钱七,13700000007,77000007,\n".encode("gb18030")
    done = run(*db, "import", "members", "-", input=data)
    assert done.exit_code == 0, done.output
    assert "2 members created" in done.stdout and "encoding gb18030" in done.stdout
    assert Card.get(Card.card_no == "77000006").principal_fen == 5_000
    again = run(*db, "import", "members", "-", input=data)
    assert again.exit_code == 0 and "already imported" in again.stderr
    assert Member.select().where(Member.phone == "13700000006").count() == 1


def test_a_bad_row_from_a_pipe_is_named_and_nothing_is_written(sqlite_desk, run):
    before = Member.select().count()
    bad = run("--db", sqlite_desk.target, "import", "members", "-",
              input="name,phone\n赵六,13700000006\n钱七,not-a-phone\n")
    assert bad.exit_code == 1 and "line 3" in bad.stderr and "Traceback" not in bad.output
    assert Member.select().count() == before


def test_products_and_prices_come_from_a_piped_workbook(sqlite_desk, run):
    db = ("--db", sqlite_desk.target)
    products = run(*db, "import", "products", "-", input=_xlsx([["code", "name", "kind", "price"],
                                                                 ["TOWEL", "毛巾", "product", "12.50"]]))
    assert products.exit_code == 0, products.output
    assert "1 products created" in products.stdout
    prices = run(*db, "prices", "import", "-", "--dry-run", input=_xlsx([["code", "store", "price"], ["TOWEL", "HQ", "10"]]))
    assert prices.exit_code == 0, prices.output
    assert "Checked (dry run, nothing written): 1 rows" in prices.stdout


def test_a_batch_of_top_ups_from_a_pipe_is_previewed_and_posted(sqlite_desk, run):
    member = register_member("王一", "13900000001", sqlite_desk.cashier, "reg").member_id
    issue_card(member, "SV", sqlite_desk.cashier, "sv", card_no="SV001")
    base = ("--db", sqlite_desk.target, "topup", "batch", "-", "--reference", "TR-1")
    sheet = "卡号,金额\nSV001,300\n".encode("gb18030")
    dry = run(*base, "--dry-run", "--format", "csv", input=sheet)
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[1].startswith("2,SV001,王一,")
    unproved = run(*base, "--staff", "m01", "--yes", input=sheet)  # the PIN cannot come from the file's pipe
    assert unproved.exit_code == 1 and "needs that staff member's PIN" in unproved.stderr
    assert Card.get(Card.card_no == "SV001").principal_fen == 0
    posted = run(*base, "--yes", input=sheet)  # the trusted account at the machine (a scheduled job)
    assert posted.exit_code == 0, posted.output
    assert Card.get(Card.card_no == "SV001").principal_fen == 30_000


def test_the_pin_and_the_file_cannot_both_come_from_standard_input(sqlite_desk, run):
    refused = run("--db", sqlite_desk.target, "import", "members", "-", "--staff", "m01", "--pin-stdin",
                  input=f"{MANAGER_PIN}\nname,phone\n赵六,13700000006\n")
    assert refused.exit_code == 1
    assert "the PIN cannot come from there too" in refused.stderr and "Traceback" not in refused.output
    assert not Member.select().where(Member.phone == "13700000006").exists()
    refused = run("--db", sqlite_desk.target, "topup", "batch", "-", "--reference", "X", "--staff", "m01",
                  "--pin-stdin", input=f"{MANAGER_PIN}\n")
    assert refused.exit_code == 1 and "the PIN cannot come from there too" in refused.stderr


def test_stock_lines_come_from_a_pipe_beside_item_lines(sqlite_desk, run):
    db = ("--db", sqlite_desk.target, "--store", "HQ")
    done = run(*db, "stock", "receive", "-", "--item", "WATER:6:1.50", input="code,qty,cost\nWATER,24,1.5\n")
    assert done.exit_code == 0, done.output
    assert "Received 30 units" in done.output
    assert run(*db, "stock", "suppliers", "set", "ACME", "--name", "Acme").exit_code == 0
    back = run(*db, "stock", "return", "-", "--supplier", "ACME", input="code,qty\nWATER,2\n")
    assert back.exit_code == 0, back.output
    moves = StockMove.select().count()
    bad = run(*db, "stock", "receive", "-", input="code,qty,cost\nWATER,x,1\n")
    assert bad.exit_code == 1 and "line 2" in bad.output and "Traceback" not in bad.output
    assert StockMove.select().count() == moves


def test_a_terminal_is_not_a_file(sqlite_desk, tmp_path):
    """``mms import members -`` typed at a prompt would wait for a file nobody pipes: one line, exit 1."""
    leader, follower = os.openpty()
    env = {**os.environ, "MMS_CONFIG": str(tmp_path / "absent.toml"), "MMS_LANG": "en"}
    try:
        done = subprocess.run([sys.executable, "-m", "mms_tui", "--db", sqlite_desk.target, "import", "members", "-"],
                              stdin=follower, capture_output=True, text=True, env=env, timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 1
    assert "FILE '-' reads the file from standard input: pipe or redirect it" in done.stderr
    assert "Traceback" not in done.stderr
    assert Transaction.select().where(Transaction.kind == "import").count() == 0
