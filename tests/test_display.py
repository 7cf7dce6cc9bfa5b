"""The customer pole display (客显): the bytes of each command set, written out by hand from the CD5220 manual and
the ESC s / ESC Q A price-display manuals; a display on a pty during a real checkout; a missing display."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mms_tui.devices.display import (
    DisplayError,
    Labels,
    escq_number,
    item_bytes,
    line,
    payment_bytes,
    send,
    welcome_bytes,
    yuan,
)
from mms_tui.models import Sale
from mms_tui.screens.checkout import CheckoutScreen
from tests.test_devices import Pty
from tests.test_tui import at_desk, collect, open_member, pty_reader, settle, wait_until

# CD5220 standard mode: CLR = 0C; ESC Q A (1B 51 41) … CR (0D) writes the upper line, ESC Q B (1B 51 42) the lower;
# ESC @ (1B 40) initialises. The price displays: ESC s n (1B 73 n) lights lamp n, ESC Q A digits CR shows them.
CLR, UPPER, LOWER, CR, INIT = b"\x0c", b"\x1b\x51\x41", b"\x1b\x51\x42", b"\x0d", b"\x1b\x40"


def two_lines(upper: bytes, lower: bytes) -> bytes:
    assert len(upper) == len(lower) == 20
    return CLR + UPPER + upper + CR + LOWER + lower + CR


# --- the bytes ----------------------------------------------------------------------------------------------------


def test_cd5220_a_line_of_the_bill_above_the_running_total():
    data = item_bytes("cd5220", name="Shampoo", code="SHAMPOO", qty=1, amount_fen=6_800, total_fen=9_400)
    assert data == two_lines(b"Shampoo        68.00", b"TOTAL          94.00")
    assert data == (b"\x0c\x1b\x51\x41Shampoo" + b"\x20" * 8 + b"68.00\x0d"
                    b"\x1b\x51\x42TOTAL" + b"\x20" * 10 + b"94.00\x0d")


def test_cd5220_a_name_an_ascii_display_cannot_show_becomes_the_code_or_item():
    hair = item_bytes("cd5220", name="精剪", code="HAIR", qty=2, amount_fen=17_600, total_fen=17_600)
    assert hair == two_lines(b"2x HAIR       176.00", b"TOTAL         176.00")
    nothing = item_bytes("cd5220", name="精剪", code="精剪01", qty=1, amount_fen=8_800, total_fen=8_800)
    assert nothing == two_lines(b"ITEM           88.00", b"TOTAL          88.00")
    wide = item_bytes("cd5220", name="ＳＨＡＭＰＯＯ", code="X", qty=1, amount_fen=0, total_fen=0)  # full-width, folded
    assert wide == two_lines(b"SHAMPOO         0.00", b"TOTAL           0.00")
    control = item_bytes("cd5220", name="A\rB", code="X", qty=1, amount_fen=100, total_fen=100)  # CR ends a line
    assert control == two_lines(b"A B             1.00", b"TOTAL           1.00")
    assert b"?" not in hair + nothing + wide


def test_cd5220_chinese_on_a_gb_display_counts_two_columns_a_character():
    data = item_bytes("cd5220", name="矿泉水", code="WATER", qty=3, amount_fen=900, total_fen=9_700,
                      encoding="gb18030", labels=Labels(total="合计"))
    upper = "3x 矿泉水".encode("gb18030") + b" " * 7 + b"9.00"  # 3 + 6 columns of text, 7 spaces, 4 of amount
    lower = "合计".encode("gb18030") + b" " * 11 + b"97.00"
    assert data == two_lines(upper, lower)
    # a long Chinese name is cut on a character, never through one, and the amount stays whole
    long_name = item_bytes("cd5220", name="全身精油芳香理疗按摩", code="SPA", qty=1, amount_fen=49_800,
                           total_fen=49_800, encoding="gb18030")
    assert long_name.split(CR)[0] == CLR + UPPER + "全身精油芳香".encode("gb18030") + b" " * 2 + b"498.00"


def test_cd5220_paid_shows_the_total_and_the_change_or_what_was_paid():
    assert payment_bytes("cd5220", total_fen=9_400, paid_fen=10_000, change_fen=600) == two_lines(
        b"TOTAL          94.00", b"CHANGE          6.00")
    assert payment_bytes("cd5220", total_fen=9_400, paid_fen=9_400, change_fen=0) == two_lines(
        b"TOTAL          94.00", b"PAID           94.00")
    chinese = payment_bytes("cd5220", total_fen=9_400, paid_fen=10_000, change_fen=600, encoding="gb18030",
                            labels=Labels(total="合计", paid="实收", change="找零"))
    assert chinese == two_lines("合计".encode("gb18030") + b" " * 11 + b"94.00",
                                "找零".encode("gb18030") + b" " * 12 + b"6.00")
    # the desk in Chinese, the display without a Chinese font: the English labels, not question marks
    ascii_display = payment_bytes("cd5220", total_fen=9_400, paid_fen=10_000, change_fen=600,
                                  labels=Labels(total="合计", paid="实收", change="找零"))
    assert ascii_display == two_lines(b"TOTAL          94.00", b"CHANGE          6.00")


def test_cd5220_welcome_initialises_and_centres():
    assert welcome_bytes("cd5220") == CLR + INIT + UPPER + b"      WELCOME       " + CR + LOWER + b" " * 20 + CR


def test_escq_one_number_with_its_lamp():
    # ESC s '2' 总计, '3' 收款, '4' 找零, '0' all dark
    assert item_bytes("escq", name="精剪", code="HAIR", qty=1, amount_fen=8_800, total_fen=9_400) == \
        b"\x1b\x73\x32" + b"\x1b\x51\x41" + b"94.00" + b"\x0d"
    assert payment_bytes("escq", total_fen=9_400, paid_fen=10_000, change_fen=600) == \
        b"\x1b\x73\x34\x1b\x51\x41" + b"6.00\x0d"
    assert payment_bytes("escq", total_fen=9_400, paid_fen=9_400, change_fen=0) == \
        b"\x1b\x73\x33\x1b\x51\x41" + b"94.00\x0d"
    assert welcome_bytes("escq") == b"\x1b\x40\x1b\x73\x30"


def test_fen_as_yuan_exactly_including_zero_and_large_amounts():
    assert [yuan(f) for f in (0, 5, 100, 123_450, -600)] == ["0.00", "0.05", "1.00", "1234.50", "-6.00"]
    assert yuan(10**17 + 1) == "1000000000000000.01"  # an int, never a float: no rounding at any size
    big = item_bytes("cd5220", name="Gold card", code="GOLD", qty=1, amount_fen=99_999_999_999,
                     total_fen=99_999_999_999)
    assert big == two_lines(b"Gold ca 999999999.99", b"TOTAL   999999999.99")  # the label gives way, never the amount


def test_an_amount_wider_than_the_price_display_is_exact_or_dashes():
    assert escq_number(0) == "0.00"
    assert escq_number(99_999_999) == "999999.99"  # 8 digits: as it is
    assert escq_number(123_456_750) == "1234567.5"  # a zero decimal dropped keeps it exact
    assert escq_number(1_234_567_800) == "12345678"
    assert escq_number(1_234_567_890) == "--------"  # 12345678.90 cannot be shown exactly in 8 digits
    assert escq_number(12_345_678_900) == "--------"


def test_an_unknown_protocol_is_a_clear_error():
    with pytest.raises(ValueError, match="cd5220, escq"):
        welcome_bytes("vfd")


FRAME = re.compile(rb"\x1bQA(.*?)\r\x1bQB(.*?)\r", re.S)


@given(name=st.text(max_size=40), code=st.text(max_size=12), qty=st.integers(1, 999),
       amount=st.integers(0, 10**12), total=st.integers(0, 10**12),
       encoding=st.sampled_from(["ascii", "gb18030", "cp437"]))
def test_every_line_is_exactly_the_width_of_the_display_and_the_amounts_are_whole(name, code, qty, amount, total,
                                                                                    encoding):
    data = item_bytes("cd5220", name=name, code=code, qty=qty, amount_fen=amount, total_fen=total,
                      encoding=encoding)
    upper, lower = FRAME.fullmatch(data[1:]).groups()
    assert len(upper) == len(lower) == 20
    assert upper.endswith(yuan(amount).encode()) and lower.endswith(yuan(total).encode())
    assert b"\r" not in upper + lower and b"\x1b" not in upper + lower


def test_a_line_that_cannot_hold_its_amount_shows_stars_not_a_shorter_number():
    assert line("TOTAL", yuan(10**20)) == "*" * 20


# --- the wire -----------------------------------------------------------------------------------------------------


def test_send_over_a_pty_and_a_clear_error_without_a_display(tmp_path):
    master, slave = os.openpty()
    data = welcome_bytes("cd5220")
    try:
        send(os.ttyname(slave), data)
        received = b""
        while len(received) < len(data):
            received += os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert received == data
    with pytest.raises(DisplayError, match="cannot open customer display"):
        send(str(tmp_path / "no-display"), data)


# --- at the counter -----------------------------------------------------------------------------------------------


async def test_a_checkout_shows_each_scan_the_sale_paid_and_the_welcome_after(regular, tmp_path):
    master, slave = os.openpty()
    shown = pty_reader(master)
    scanner = Pty(tmp_path / "scanner")

    try:
        async with at_desk(regular, display=os.ttyname(slave), scanner=str(tmp_path / "scanner")) as (app, pilot):
            await open_member(pilot, "00012345")
            await pilot.press("f3")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, CheckoutScreen)
            assert await wait_until(pilot, lambda: app.readers and app.readers[0].state == "connected")
            assert shown() == b""  # nothing on the bill, nothing sent
            scanner.write(b"]E06901234567892\r\n")  # 洗发水 by its EAN-13: the ASCII display shows its code
            assert await collect(pilot, shown) == two_lines(b"SHAMPOO        68.00", b"TOTAL          68.00")
            await pilot.press(*"2*6920000000012", "enter")  # two waters typed
            await settle(pilot)
            assert await collect(pilot, shown) == two_lines(b"2x WATER        6.00", b"TOTAL          74.00")
            await pilot.press("enter", *"100", "f4", "f10")  # ¥100 cash: ¥26 change
            await settle(pilot)
            assert screen.result is not None and screen.result.change_fen == 2_600
            assert await collect(pilot, shown) == two_lines(b"TOTAL          74.00", b"CHANGE         26.00")
            await pilot.press("escape")  # the receipt closes, and the checkout with it
            await settle(pilot)
            assert await collect(pilot, shown) == CLR + INIT + UPPER + b"      WELCOME       " + CR + LOWER \
                + b" " * 20 + CR
            assert not [n for n in app._notifications if "display" in str(n.message)]
    finally:
        scanner.close()
        os.close(master)
        os.close(slave)


async def test_a_missing_display_is_one_notification_and_the_sale_goes_through(regular, tmp_path):
    async with at_desk(regular, display=str(tmp_path / "no-display")) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f3")
        await settle(pilot)
        for code in ("WATER", "HAIR", "SHAMPOO"):
            await pilot.press(*code, "enter")
            await settle(pilot)
        await pilot.press("enter", *"200", "f4", "f10")
        await settle(pilot)
        assert app.screen.result is not None
        await pilot.press("escape")
        await settle(pilot)
        said = [str(n.message) for n in app._notifications if "display" in str(n.message)]
    assert len(said) == 1 and "cannot open customer display" in said[0]
    assert Sale.select().count() == 1


async def test_the_display_answering_again_ends_the_quiet(regular, tmp_path):
    link = tmp_path / "display"
    async with at_desk(regular, display=str(link)) as (app, pilot):
        await open_member(pilot, "00012345")
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press(*"WATER", "enter")  # unplugged: said once
        await settle(pilot)
        display = Pty(link)  # plugged in: the next scan reaches it
        try:
            await pilot.press(*"WATER", "enter")
            await settle(pilot)
            assert app.display_quiet_until == 0.0
            os.set_blocking(display.master, False)
            assert os.read(display.master, 4096).endswith(b"TOTAL           6.00\r")
        finally:
            display.close()
            link.unlink()  # gone, not pointing at a pty number another process may get next
        await pilot.press(*"WATER", "enter")  # unplugged again: said again, once
        await settle(pilot)
        await pilot.press(*"WATER", "enter")
        await settle(pilot)
        said = [str(n.message) for n in app._notifications if "display" in str(n.message)]
    assert len(said) == 2


def test_doctor_checks_the_display(tmp_path):
    from mms_tui.i18n import set_language
    from mms_tui.services.ops.doctor import check_devices
    from mms_tui.settings import Settings

    set_language("en")

    master, slave = os.openpty()
    try:
        found = check_devices(Settings(display=os.ttyname(slave)))
    finally:
        os.close(master)
        os.close(slave)
    assert [(f.name, f.ok) for f in found] == [("customer display", True)]
    (missing,) = check_devices(Settings(display=str(tmp_path / "no-display")))
    assert missing.name == "customer display" and not missing.ok and "no-display" in missing.detail
