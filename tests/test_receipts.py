"""Receipts: the text of a sale, the ESC/POS bytes (golden file), printing over a pty, the drawer kick; lines that
fit 58 mm and 80 mm paper in printer columns, the yuan sign a GBK printer has, code-page printers, the QR code of
the txid and scanning it at the desk, the balances as they were right after the sale."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from mms_tui.devices.printer import FS_CHINESE_MODE, PrinterError, qr_code_bytes, receipt_bytes, send
from mms_tui.models import Card, Product, ServiceItem, Transaction
from mms_tui.services.base.errors import NotFound
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.receipt import money_sign, printer_columns, sale_for_code, sale_receipt
from mms_tui.services.money.shifts import open_shift
from mms_tui.services.money.topup import top_up
from mms_tui.settings import SettingsError, load_settings

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
    for expected in ("2026-11-22 15:30", "精剪 ×1", "矿泉水 ×2", "￥94.00", "Cash" + " " * 21 + "￥50.00", "￥6.00",
                     "张三", "前台 小陈", "sale-0001", "Balance 2345" + " " * 13 + "￥70.00",
                     "Points 2345" + " " * 19 + "94"):
        assert expected in text, expected
    assert receipt.cash and receipt.qr == "sale-0001"


def test_receipt_bytes_match_the_golden_file(sale):
    receipt = sale_receipt(sale)
    data = receipt_bytes(receipt.lines, title=receipt.title, encoding="gb18030", kick_drawer=receipt.cash,
                         qr=receipt.qr)
    assert data == GOLDEN.read_bytes()
    assert data.startswith(b"\x1b@" + FS_CHINESE_MODE)
    assert "精剪".encode("gb18030") in data
    assert qr_code_bytes("sale-0001") in data
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


# --- fitting the paper -----------------------------------------------------------------------------------------

LONG_NAMES = ["头皮深层清洁护理疗程（含精油按摩与热敷）加强版", "Keratin smoothing treatment with deep conditioning",
              "进口有机洗发水 500ml 无硅油 滋润修护型 ×家庭装", "×特惠×套餐××××××××××××××××"]


@pytest.fixture
def long_sale(sqlite_desk):
    """张三 buys 14 lines, long Chinese and English names among them, paid four ways."""
    member = register_member("欧阳娜娜莎莎 Alexandra", "13800138000", sqlite_desk.cashier, "r1").member_id
    card = issue_card(member, "SV", sqlite_desk.cashier, "i1", card_no="00012345").card_id
    top_up(card, 1_000_000, 200_000, "cash", sqlite_desk.manager, "t1")
    for i, name in enumerate(LONG_NAMES):
        ServiceItem.create(code=f"L{i}", name=name, category="美发", price_fen=123_456_78 + i)
    for i in range(10):
        Product.create(code=f"P{i}", name=f"商品{i}号", category="零售", price_fen=300 + i)
    lines = [(f"L{i}", 1) for i in range(len(LONG_NAMES))] + [(f"P{i}", 2) for i in range(10)]
    total = sum(123_456_78 + i for i in range(len(LONG_NAMES))) + sum(2 * (300 + i) for i in range(10))
    tenders = [("stored_value", 1_100_000, card), ("wechat", 10_000), ("bank_card", total - 1_100_000 - 20_000),
               ("cash", 10_000)]
    checkout(member, lines, tenders, sqlite_desk.cashier, "long-sale")
    return "long-sale"


@pytest.mark.parametrize("width", [32, 48])
def test_long_names_many_lines_and_mixed_tenders_fit_the_paper_in_printer_columns(long_sale, width):
    receipt = sale_receipt(long_sale, width=width)
    too_wide = [line for line in [*receipt.title.splitlines(), *receipt.lines] if printer_columns(line) > width]
    assert too_wide == []
    joined = "".join("".join(re.sub(r"-?￥[\d,]+\.\d\d$", "", line).split()) for line in receipt.lines)
    for name in LONG_NAMES:  # wrapped, never cut
        assert "".join(name.split()) in joined, name
    for label in ("Stored value", "WeChat", "Bank card", "Cash"):
        assert any(line.startswith(label) for line in receipt.lines), label
    amounts = [line for line in receipt.lines if line.endswith("￥123,456.78")]
    assert amounts and all(printer_columns(line) == width for line in amounts)  # right-aligned in the last columns
    data = receipt_bytes(receipt.lines, title=receipt.title, encoding="gb18030", qr=receipt.qr)
    text = data.decode("gb18030")  # strictly: every byte is GB18030 (or a command in ASCII)
    assert "头皮深层" in text and "?" not in text


def test_the_yuan_sign_is_one_a_gbk_printer_has():
    assert money_sign("gb18030") == money_sign("gbk") == money_sign("gb2312") == "￥"
    assert "￥".encode("gbk") == "￥".encode("gb2312") == b"\xa3\xa4"
    assert len("¥".encode("gb18030")) == 4  # what the receipt used to send: not in GBK


def test_a_gbk_printer_gets_only_gbk(sale):
    receipt = sale_receipt(sale, encoding="gbk")
    data = receipt_bytes(receipt.lines, title=receipt.title, encoding="gbk", qr=receipt.qr)
    assert b"\xa3\xa488.00" in data and "¥".encode("gb18030") not in data
    assert all(line.encode("gbk") for line in receipt.lines)  # strict: raises if anything is missing


def test_a_code_page_printer_gets_pinyin_and_no_question_marks(sale):
    receipt = sale_receipt(sale, encoding="cp437")
    for line in [receipt.title, *receipt.lines]:
        line.encode("cp437")  # strict: every character is on the code page
        assert printer_columns(line, "cp437") <= 32
    data = receipt_bytes(receipt.lines, title=receipt.title, encoding="cp437", qr=receipt.qr)
    assert b"?" not in data
    text = "\n".join(receipt.lines)
    assert "Jing Jian x1" in text and "Zhang San" in text and b"\x9d88.00" in data  # ¥ is 0x9D
    assert "CNY 88.00" in "\n".join(sale_receipt(sale, encoding="ascii").lines)


def test_printer_columns_count_ambiguous_characters_double_on_a_chinese_printer():
    assert printer_columns("精剪 ×1") == 8
    assert printer_columns("×1", "cp437") == 2
    assert printer_columns("￥88.00") == 7 and printer_columns("ＡＢ") == 4


def test_the_paper_width_is_a_setting(tmp_path):
    env = {"MMS_CONFIG": str(tmp_path / "none.toml"), "MMS_SYSTEM_CONFIG": str(tmp_path / "no-system.toml")}
    assert load_settings(env).receipt_columns == 32
    assert load_settings({**env, "MMS_RECEIPT_COLUMNS": "48"}).receipt_columns == 48
    with pytest.raises(SettingsError, match="receipt_columns"):
        load_settings({**env, "MMS_RECEIPT_COLUMNS": "10"})


# --- what the receipt says -------------------------------------------------------------------------------------

def test_a_reprint_shows_the_balance_right_after_the_sale_not_todays(desk):
    member = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    card = issue_card(member, "SV", desk.cashier, "i1", card_no="00012345").card_id
    top_up(card, 10_000, 2_000, "cash", desk.manager, "t1")
    checkout(member, ["HAIR"], [("stored_value", 5_000, card), ("cash", 3_800)], desk.cashier, "sale-1")
    top_up(card, 50_000, 0, "cash", desk.manager, "later-top-up")
    checkout(member, ["WATER"], [("stored_value", 300, card)], desk.cashier, "sale-2")
    assert Card.get_by_id(card).principal_fen + Card.get_by_id(card).bonus_fen == 56_700
    first, second = sale_receipt("sale-1").lines, sale_receipt("sale-2").lines
    assert any(line.startswith("Balance 2345") and line.endswith("￥70.00") for line in first)
    assert not any("567.00" in line for line in first)
    assert any(line.startswith("Balance 2345") and line.endswith("￥567.00") for line in second)


def test_the_receipt_names_the_shift_and_the_staff_member(desk):
    checkout(None, ["WATER"], [("wechat", 300)], desk.cashier, "before-any-shift")
    assert "Shift" not in "\n".join(sale_receipt("before-any-shift").lines)
    shift = open_shift(desk.cashier, "HQ")
    checkout(None, ["WATER"], [("wechat", 300)], desk.cashier, "in-shift")
    text = "\n".join(sale_receipt("in-shift").lines)
    assert f"Shift #{shift.shift_id} from" in text and "Staff: 前台 小陈" in text
    assert "WeChat" in text  # the tender, in the desk's language


def test_the_qr_code_is_gs_k_model_2_with_its_length_fields():
    txid = "0123456789abcdef0123456789abcdef"
    data = qr_code_bytes(txid)
    gs_k = b"\x1d(k"
    assert data == (gs_k + b"\x04\x00\x31\x41\x32\x00"  # model 2
                    + gs_k + b"\x03\x00\x31\x43\x06"  # module 6 dots
                    + gs_k + b"\x03\x00\x31\x45\x31"  # error correction M
                    + gs_k + bytes((len(txid) + 3, 0)) + b"\x31\x50\x30" + txid.encode()  # store: pL pH = k + 3
                    + gs_k + b"\x03\x00\x31\x51\x30")  # print
    long = qr_code_bytes("x" * 300)
    assert b"\x1d(k" + bytes(((300 + 3) % 256, (300 + 3) // 256)) + b"\x31\x50\x30" in long


def test_a_scanned_receipt_code_finds_its_sale(sale):
    assert sale_for_code("sale-0001").txid == "sale-0001"
    assert sale_for_code("13800138000") is None  # a phone, a card, a product: not a receipt
    with pytest.raises(NotFound, match="receipt code"):
        sale_for_code("0123456789abcdef0123456789abcdef")


# --- the QR code scanned at the desk -----------------------------------------------------------------------------

async def test_scanning_a_receipts_qr_code_at_the_desk_opens_that_sale(regular):
    from mms_tui.devices.protocols import Read
    from mms_tui.screens.history import HistoryScreen
    from mms_tui.screens.receipt import ReceiptScreen
    from mms_tui.services.ledger.operations import new_txid
    from tests.test_desk_keys import wedge
    from tests.test_tui import at_desk, settle, text

    txid = new_txid()
    card = Card.get(Card.card_no == "00012345")
    checkout(Card.get_by_id(card.id).member_id, ["HAIR"], [("stored_value", 8_800, card.id)], regular.cashier, txid)
    top_up(card.id, 50_000, 0, "cash", regular.manager, "after")  # today's balance is not the receipt's
    async with at_desk(regular, wedge_gap_ms=30) as (app, pilot):
        app.offer_read(Read("barcode", txid, "barcode", "]Q1"))  # a serial scanner reads the QR code
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, ReceiptScreen)
        shown = text(app.screen.query_one("#receipt-text"))
        assert "精剪 ×1" in shown and "Balance 2345             ￥12.00" in shown  # ¥100 − ¥88, as it was then
        await pilot.press("f5")  # the member's history, on that sale
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.current().txid == txid
        await pilot.press("escape")
        await settle(pilot)
        await wedge(pilot, txid.upper())  # a keyboard-wedge scanner typing it (Caps Lock on): the same sale
        assert isinstance(app.screen, ReceiptScreen) and app.screen.txid == txid
        await pilot.press("escape")
        await settle(pilot)
        await wedge(pilot, "0123456789abcdef0123456789abcdef")  # a receipt code no sale here has
        assert not isinstance(app.screen, ReceiptScreen)
        assert [str(n.message) for n in app._notifications][-1] == \
            "No sale here has the receipt code 0123456789abcdef0123456789abcdef."


@pytest.mark.parametrize("damage", [b"\x01" + b"\xff" * 8, b"\x07abc", b"\x01" + bytes(range(3))])
def test_a_damaged_stored_sale_says_so_in_one_line_and_changes_nothing(sale, damage):
    """A sale's stored result that no longer reads (a damaged disk, a hand-edited row): the reprint, a refund and a
    retry of the same txid each refuse in one sentence — never a ValueError or a traceback — and post nothing."""
    from mms_tui.db import database
    from mms_tui.services.base.errors import DamagedRecord
    from mms_tui.services.money.refund import refund

    Transaction.update(result=damage).where(Transaction.txid == "sale-0001").execute()
    entries = database.execute_sql('SELECT COUNT(*) FROM "ledger_entry"').fetchone()[0]
    expected = "The stored record of operation sale-0001 is damaged"
    with pytest.raises(DamagedRecord, match=expected):
        sale_receipt(sale)
    sold = Transaction.get(Transaction.txid == "sale-0001")
    manager = Transaction.get(Transaction.txid == "t1").staff
    with pytest.raises(DamagedRecord, match=expected):
        refund("sale-0001", sold.staff, "wrong", "rf-damaged", approver=manager)
    card = Card.get(Card.card_no == "00012345").id
    with pytest.raises(DamagedRecord, match=expected):  # the same sale sent again
        checkout(sold.member_id, [("HAIR", 1), ("WATER", 2)], [("stored_value", 5_000, card), ("cash", 5_000)],
                 sold.staff, "sale-0001")
    assert database.execute_sql('SELECT COUNT(*) FROM "ledger_entry"').fetchone()[0] == entries
    # the member's history still opens: that row says it is damaged, the top-up before it reads as ever
    from mms_tui.services.members.view import member_history

    rows = {row.txid: row for row in member_history(sold.member_id)}
    assert rows["sale-0001"].detail == "(record damaged)" and rows["t1"].detail == "¥100.00"
