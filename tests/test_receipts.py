"""Receipts: the text of a sale, the ESC/POS bytes (golden file), printing over a pty, the drawer kick."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from mms_tui.devices.printer import FS_CHINESE_MODE, PrinterError, receipt_bytes, send
from mms_tui.models import Transaction
from mms_tui.services.base.errors import NotFound
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.receipt import sale_receipt
from mms_tui.services.money.topup import top_up

GOLDEN = Path(__file__).parent / "golden" / "receipt_gb18030.bin"
DRAWER_KICK = b"\x1bp\x00"


@pytest.fixture
def sale(sqlite_desk):
    member = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    card = issue_card(member, "SV", sqlite_desk.cashier, "i1", card_no="00012345").card_id
    top_up(card, 10_000, 2_000, "cash", sqlite_desk.manager, "t1")
    checkout(member, [("HAIR", 1), ("WATER", 2)], [("stored_value", 5_000, card), ("cash", 5_000)],
             sqlite_desk.cashier, "sale-0001")
    Transaction.update(created_at=dt.datetime(2026, 11, 22, 15, 30)).where(Transaction.txid == "sale-0001").execute()
    return "sale-0001"


def test_receipt_text_has_lines_tenders_change_points_balances_and_staff(sale):
    receipt = sale_receipt(sale)
    text = "\n".join(receipt.lines)
    assert receipt.title == "总店"
    for expected in ("2026-11-22 15:30", "精剪 ×1", "矿泉水 ×2", "¥94.00", "Cash" + " " * 22 + "¥50.00", "¥6.00", "张三", "前台 小陈",
                     "sale-0001", "Balance 2345: ¥70.00", "Points 2345: 94"):
        assert expected in text, expected
    assert receipt.cash


def test_receipt_bytes_match_the_golden_file(sale):
    receipt = sale_receipt(sale)
    data = receipt_bytes(receipt.lines, title=receipt.title, encoding="gb18030", kick_drawer=receipt.cash)
    assert data == GOLDEN.read_bytes()
    assert data.startswith(b"\x1b@" + FS_CHINESE_MODE)
    assert "精剪".encode("gb18030") in data
    assert data.endswith(DRAWER_KICK + b"22")


def test_no_drawer_kick_without_cash_and_other_code_pages_do_not_fail():
    data = receipt_bytes(["精剪 ¥88.00"], title="Shop", encoding="cp437")
    assert DRAWER_KICK not in data
    assert b"? ?88.00" in data or b"??" in data  # what cp437 cannot print becomes '?', never an error


def test_unknown_sale_has_no_receipt(sqlite_desk):
    with pytest.raises(NotFound):
        sale_receipt("nope")


def test_print_over_a_pty_and_a_clear_error_without_a_printer(tmp_path):
    master, slave = os.openpty()
    name = os.ttyname(slave)
    data = receipt_bytes(["hello"], title="T")
    send(name, data)
    received = b""
    while len(received) < len(data):
        received += os.read(master, 4096)
    os.close(master)
    os.close(slave)
    assert received == data
    with pytest.raises(PrinterError, match="cannot open printer"):
        send(str(tmp_path / "no-printer"), data)
