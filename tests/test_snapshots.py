"""Every screen and dialog at 80×24, in Chinese and in English, as an SVG snapshot (pytest-textual-snapshot).

The shop is realistic on purpose: long Chinese names, notes, amounts in thousands, a frozen pass, a lost card, a
day of sales, top-ups, refunds and check-ins. The product's clock is pinned and txids are counted, so a snapshot
changes only when the screen does. A changed snapshot is reviewed as an SVG (``pytest --snapshot-report``), and
accepted on purpose with ``pytest tests/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import itertools
import pickle
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from mms_tui import clock
from mms_tui.app import create_app
from mms_tui.db import close_database, write_transaction
from mms_tui.i18n import set_language
from mms_tui.models import Card, Product
from mms_tui.services.base.config import set_config
from mms_tui.services.members.cards import issue_card, report_lost
from mms_tui.services.members.checkin import check_in
from mms_tui.services.members.family import set_family
from mms_tui.services.members.passes import freeze_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.checkout import checkout
from mms_tui.services.money.refund import refund
from mms_tui.services.money.shifts import open_shift
from mms_tui.services.money.topup import top_up
from mms_tui.settings import Settings
from tests.conftest import setup_desk

MOMENT = dt.datetime(2026, 11, 18, 15, 42, 7)  # a Wednesday afternoon
DIFFERENCES = Path(__file__).parent.parent / ".snapshot-differences"
LONG_NAME = "欧阳娜娜·阿不都热依木"


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """A branch with history, built at fixed moments; txids are counted from here on."""
    counter = itertools.count(1)
    monkeypatch.setattr("mms_tui.services.ledger.operations.new_txid", lambda: f"snap{next(counter):012d}")
    # a cursor never blinks in a picture: a blink timer firing between two frames could leave it hidden
    monkeypatch.setattr(Input, "_toggle_cursor", lambda box: setattr(box, "_cursor_visible", True))
    for module in ("dialog", "checkout", "member", "register"):
        monkeypatch.setattr(f"mms_tui.screens.{module}.new_txid", lambda: f"snap{next(counter):012d}",
                            raising=False)
    with clock.pinned(MOMENT - dt.timedelta(days=40)):
        desk = setup_desk(str(tmp_path / "shop.sqlite3"))
        Product.create(code="BOTTLE", barcode="6901234567893", name="洗发水 500ml 家庭装 加大容量", category="零售",
                       price_fen=12_800)
        c, m = desk.cashier, desk.manager
        ouyang = register_member(LONG_NAME, "13800138000", c, "r1", gender="F", birthday="1990-11-20",
                                 notes="对花粉过敏；喜欢安静的房间，预约请提前一天确认").member_id
        sv = issue_card(ouyang, "SV", c, "i1", card_no="8800123456").card_id
        top_up(sv, 1_234_560, 200_000, "wechat", m, "t1")
        issue_card(ouyang, "V10", c, "i2", card_no="8800777777", tender="alipay")
        li = register_member("李四", "13912345678", c, "r2").member_id
        for n, (name, phone) in enumerate((("欧阳修", "13700137000"), ("欧阳锋", "13600136001"))):
            issue_card(register_member(name, phone, c, f"r-oy{n}").member_id, "SV", c, f"i-oy{n}",
                       card_no=f"88009900{n}")
        set_family(li, "13800138000", c, "f1")
        lost = issue_card(li, "SV", c, "i4", card_no="8800555555").card_id
        report_lost(lost, c, "l1")
        with write_transaction():
            set_config("demo_login", {"code": "admin", "pin": "1234"})
    with clock.pinned(MOMENT - dt.timedelta(days=70)):  # 王芳: a haircut every three weeks, a package nearly used
        wang = register_member("王芳", "13500135000", c, "r-wang").member_id
        issue_card(wang, "V10", c, "i-wang", card_no="8800888888", tender="cash")
    for n, days in enumerate((63, 42, 21)):
        with clock.pinned(MOMENT - dt.timedelta(days=days)):
            checkout(wang, ["HAIR"], [("cash", 8_800)], c, f"s-wang{n}")
    for n, days in enumerate(range(24, 0, -3)):
        with clock.pinned(MOMENT - dt.timedelta(days=days, hours=3)):
            check_in("8800888888", c, f"v-wang{n}")
    with clock.pinned(MOMENT - dt.timedelta(days=10)):
        issue_card(ouyang, "M1", c, "i3", card_no="8800666666")
    with clock.pinned(MOMENT - dt.timedelta(days=3)):
        freeze_card("8800666666", c, "fz1")
    with clock.pinned(MOMENT - dt.timedelta(hours=6)):
        open_shift(c, "HQ")  # the cashier's shift this morning
    with clock.pinned(MOMENT - dt.timedelta(hours=5)):
        check_in("8800777777", c, "v1")
        checkout(ouyang, ["HAIR", ("BOTTLE", 2)], [("stored_value", 34_400, sv)], c, "s1")
        checkout(None, [("WATER", 3)], [("cash", 1_000)], c, "s2")
        top_up(sv, 100_000, None, "cash", c, "t2")
        refund("t2", c, "充错卡", "rf1", approver=m)
    Card.update(points=1_234).where(Card.id == sv).execute()
    yield desk
    close_database()
    set_language("en")


def _tables_pending(app) -> bool:
    """A table with rows or cells whose column widths are not worked out yet: a DataTable does that when it is next
    idle, and a loaded machine may be slow to get there — a dialog opened on top before then leaves the screen below
    drawn with the old widths."""
    from textual.widgets import DataTable

    return any(table._require_update_dimensions or table._updated_cells
               for screen in app.screen_stack for table in screen.query(DataTable))


async def settle(pilot) -> None:
    """Workers done, every table laid out, and the picture still: two frames in a row alike."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    steady(pilot)
    frame = pilot.app.export_screenshot()
    for _ in range(100):
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()
        again = pilot.app.export_screenshot()
        if again == frame and not _tables_pending(pilot.app):
            break
        frame = again
    # a table under a dialog is never idle again, so one whose widths were still pending when the dialog opened (a
    # loaded machine) would keep them: work them out as its idle handler would (it reads nothing of the event)
    from textual.widgets import DataTable

    for screen in pilot.app.screen_stack:
        for table in screen.query(DataTable):
            if table._require_update_dimensions or table._updated_cells:
                await table._on_idle(None)
    # and a table under a dialog keeps the lines it drew before its widths were worked out: draw them all again
    for screen in pilot.app.screen_stack:
        for table in screen.query(DataTable):
            table.refresh()
    await pilot.pause(0.02)


async def logged_in(pilot, code: str = "c01", pin: str = "0000") -> None:
    await settle(pilot)
    await pilot.press(*code, "enter", *pin, "enter")
    await settle(pilot)


async def member(pilot, query: str = "8800123456") -> None:
    await logged_in(pilot)
    await pilot.press(*query, "enter")
    await settle(pilot)


def steady(pilot) -> None:
    """No blinking cursor in a picture."""
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False


async def login(pilot) -> None:
    await settle(pilot)


async def login_wrong_pin(pilot) -> None:
    await settle(pilot)
    await pilot.press(*"c01", "enter", *"9999", "enter")
    await settle(pilot)


async def new_pin(pilot) -> None:
    """A manager reset m01's PIN: it opens the dialog that asks for a new one, with a mismatch said."""
    from mms_tui.models import Staff
    from mms_tui.services.staff.admin import reset_pin

    reset_pin("m01", "8642", by=Staff.get(Staff.code == "admin"))
    await settle(pilot)
    await pilot.press(*"m01", "enter", *"8642", "enter")
    await settle(pilot)
    await pilot.press(*"1357", "enter", *"1358", "enter")
    await settle(pilot)


async def desk_results(pilot) -> None:
    await logged_in(pilot)
    await pilot.press(*"oy", "enter")
    await settle(pilot)


async def desk_nothing(pilot) -> None:
    await logged_in(pilot)
    await pilot.press(*"13600136000", "enter")
    await settle(pilot)


async def member_screen(pilot) -> None:
    await member(pilot)


async def member_prompts(pilot) -> None:
    """王芳: her haircut due (every 3 weeks) and her package running out at her pace."""
    await member(pilot, "8800888888")


async def member_prompts_put_away(pilot) -> None:
    await member_prompts(pilot)
    await pilot.press("ctrl+x")
    await settle(pilot)


async def member_checked_in(pilot) -> None:
    await member(pilot, "8800777777")
    await pilot.press("f2")
    await settle(pilot)


async def repeat_check_in(pilot) -> None:
    await member_checked_in(pilot)
    await pilot.press("escape")
    await settle(pilot)
    await pilot.press(*"8800777777", "enter")
    await settle(pilot)
    await pilot.press("f2")
    await settle(pilot)


async def more_menu(pilot) -> None:
    await member(pilot)
    await pilot.press("f9")
    await settle(pilot)


async def help_overlay(pilot) -> None:
    await member(pilot)
    await pilot.press("f1")
    await settle(pilot)


async def checkout_screen(pilot) -> None:
    await member(pilot)
    await pilot.press("f3")
    await settle(pilot)
    await pilot.press(*"HAIR", "enter")
    await settle(pilot)
    await pilot.press(*"2*BOTTLE", "enter")
    await settle(pilot)
    await pilot.press("enter", *"100", "f2")
    await settle(pilot)


async def checkout_paid(pilot) -> None:
    await checkout_screen(pilot)
    await pilot.press("f4", "f10")
    await settle(pilot)


async def checkout_leave(pilot) -> None:
    await checkout_screen(pilot)
    await pilot.press("escape")
    await settle(pilot)


async def paycode_dialog(pilot) -> None:
    """F11 on the bill: the customer's payment code is scanned into the dialog."""
    await checkout_screen(pilot)
    await pilot.press("f11")
    await settle(pilot)


async def paycode_not_set_up(pilot) -> None:
    """A WeChat code scanned at a desk with no [payments.wechat]: one line, the dialog ready for another way."""
    await paycode_dialog(pilot)
    await pilot.press(*"134567890123456789", "enter")
    await settle(pilot)


async def history(pilot) -> None:
    await member(pilot)
    await pilot.press("f5")
    await settle(pilot)


async def receipt_scanned(pilot) -> None:
    """The QR code of this morning's sale to 欧阳娜娜 scanned at the desk: its receipt, balances as they were then."""
    from mms_tui.devices.protocols import Read

    await logged_in(pilot)
    pilot.app.offer_read(Read("barcode", "s1", "barcode", "]Q1"))
    await settle(pilot)


async def refund_dialog(pilot) -> None:
    await history(pilot)
    rows = pilot.app.screen.rows
    pilot.app.screen.query_one("#history", DataTable).move_cursor(row=next(i for i, r in enumerate(rows)
                                                                          if r.kind == "checkout"))
    await pilot.press("f8")
    await settle(pilot)


async def manager_pin(pilot) -> None:
    await refund_dialog(pilot)
    from mms_tui.screens.pin import ManagerPinScreen

    await pilot.press(*"不满意", "f10")
    # the PIN dialog is pushed from the refund's worker: wait for it and for its focused code box
    for _ in range(100):
        screen = pilot.app.screen
        if isinstance(screen, ManagerPinScreen) and screen.focused is not None:
            break
        await pilot.pause(0.05)
    await settle(pilot)
    await settle(pilot)


async def today(pilot) -> None:
    await logged_in(pilot)
    await pilot.press("f8")
    await settle(pilot)


async def stores_today(pilot) -> None:
    """总部看板 for the manager of HQ, with a second store below it."""
    from mms_tui.models import Staff
    from mms_tui.services.staff.stores import add_store

    add_store("SH1", "上海一店", Staff.get(Staff.code == "admin"), parent="HQ")
    await logged_in(pilot, "m01", "2345")
    await pilot.press("f8")
    await settle(pilot)
    await pilot.press("f2")
    await settle(pilot)


async def shift_close(pilot) -> None:
    await today(pilot)
    await pilot.press("f9")
    await settle(pilot)


async def shift_report(pilot) -> None:
    await shift_close(pilot)
    await pilot.press(*"1000", "f10")
    await settle(pilot)


async def top_up_dialog(pilot) -> None:
    await member(pilot)
    await pilot.press("f4")
    await settle(pilot)
    await pilot.press(*"2000")
    await settle(pilot)


async def register_form(pilot) -> None:
    await desk_nothing(pilot)
    await pilot.press("f3")
    await settle(pilot)
    await pilot.press(*"王小明")
    pilot.app.screen.query_one("#birthday", Input).value = "1990-13-01"  # no such month
    await pilot.press("f10")
    await settle(pilot)


async def issue_card_dialog(pilot) -> None:
    await member(pilot)
    await pilot.press("f6")
    await settle(pilot)


async def lost_card_dialog(pilot) -> None:
    await member(pilot)
    await pilot.press("ctrl+l")
    await settle(pilot)


async def freeze_confirm(pilot) -> None:
    await member(pilot)
    await pilot.press("f8")
    await settle(pilot)


async def renew_dialog(pilot) -> None:
    await member(pilot, "8800666666")
    await pilot.press("ctrl+r")
    await settle(pilot)


async def transfer_dialog(pilot) -> None:
    await member(pilot, "8800777777")
    await pilot.press("ctrl+t")
    await settle(pilot)


async def family_dialog(pilot) -> None:
    await member(pilot)
    await pilot.press("ctrl+f")
    await settle(pilot)


async def gift_dialog(pilot) -> None:
    await member(pilot)
    await pilot.press("ctrl+g")
    await settle(pilot)


async def lost_card_swiped(pilot) -> None:
    await logged_in(pilot)
    await pilot.press(*"8800555555", "enter")
    await settle(pilot)


async def unknown_card(pilot) -> None:
    from mms_tui.devices.protocols import Read

    await member(pilot)
    pilot.app.offer_read(Read("card", "0099887766", "rdm6300"))
    await settle(pilot)


async def lock_screen(pilot) -> None:
    await logged_in(pilot)
    pilot.app.lock_desk()
    await settle(pilot)


async def rules_editor(pilot) -> None:
    await manage_menu(pilot)
    await pilot.press("5")
    await settle(pilot)


def a_chain() -> None:
    """Regions, stores and staff with long Chinese names, for the manager's area."""
    from mms_tui.models import Staff
    from mms_tui.services.catalogue.card_types import CardTypeTerms, add_card_type
    from mms_tui.services.staff.admin import add_staff
    from mms_tui.services.staff.stores import add_store

    admin = Staff.get(Staff.code == "admin")
    add_store("EAST", "华东大区（上海·江苏·浙江）", admin, parent="HQ", kind="region", phone="021-5555 8888")
    add_store("SH-XUHUI", "上海徐汇滨江旗舰店（美发·SPA）", admin, parent="EAST", phone="021-6464 1234",
              address="上海市徐汇区龙腾大道2555号滨江商业广场三层", receipt_header="欢迎光临\\n会员日每周三")
    add_store("SH-OLD", "上海老西门店", admin, parent="EAST")
    add_staff("t01", "首席发型师 司马相如", by=admin, store="SH-XUHUI", performer=True, level="首席",
              services=["HAIR", "SPA"])
    add_staff("c08", "前台收银 欧阳娜娜", by=admin, store="SH-XUHUI", pin="8642")
    add_card_type(admin, CardTypeTerms("DC85", "85折会员折扣卡（全店通用）", "discount", price_fen=29_900,
                                       discount_bp=8_500, validity_days=365, stores=("EAST",)))


async def manage_menu(pilot) -> None:
    a_chain()
    await logged_in(pilot, "m01", "2345")
    await pilot.press("f10")
    await settle(pilot)


async def manage_kind(pilot, key: str, code: str = "admin", pin: str = "1234") -> None:
    a_chain()
    await logged_in(pilot, code, pin)
    await pilot.press("f10", key)
    await settle(pilot)


async def manage_staff(pilot) -> None:
    await manage_kind(pilot, "1")


async def manage_staff_form(pilot) -> None:
    await manage_staff(pilot)
    await pilot.press("f3")
    await settle(pilot)
    await pilot.press(*"c01")
    pilot.app.screen.query_one("#name", Input).value = "前台收银 上官婉儿（实习）"
    pilot.app.screen.query_one("#pin", Input).value = "2468"
    await pilot.press("f10")
    await settle(pilot)


async def manage_staff_edit(pilot) -> None:
    await manage_staff(pilot)
    await pilot.press(*"t01", "enter")
    await settle(pilot)


async def manage_reset_pin(pilot) -> None:
    await manage_staff(pilot)
    await pilot.press(*"c08", "f7")
    await settle(pilot)


async def manage_stores(pilot) -> None:
    await manage_kind(pilot, "2")


async def manage_store_form(pilot) -> None:
    await manage_stores(pilot)
    await pilot.press(*"XUHUI", "f4")
    await settle(pilot)


async def manage_store_move(pilot) -> None:
    from textual.widgets import Select

    await manage_stores(pilot)
    await pilot.press(*"EAST", "f7")
    await settle(pilot)
    pilot.app.screen.query_one("#parent", Select).value = "SH-OLD"
    await pilot.press("f10")
    await settle(pilot)


async def manage_store_close(pilot) -> None:
    await manage_stores(pilot)
    await pilot.press(*"OLD", "f6")
    await settle(pilot)


async def manage_card_types(pilot) -> None:
    await manage_kind(pilot, "3", "m01", "2345")


async def manage_card_type_form(pilot) -> None:
    await manage_card_types(pilot)
    await pilot.press(*"DC85", "enter")
    await settle(pilot)
    pilot.app.screen.query_one("#pays", Input).value = "120"
    await pilot.press("f10")
    await settle(pilot)


async def manage_items(pilot) -> None:
    await manage_kind(pilot, "4", "m01", "2345")


async def manage_item_form(pilot) -> None:
    await manage_items(pilot)
    await pilot.press("f3")
    await settle(pilot)
    pilot.app.screen.query_one("#new-code", Input).value = "WASH-LUX"
    pilot.app.screen.query_one("#name", Input).value = "奢华护理洗发套装（含头皮按摩）"
    pilot.app.screen.query_one("#price", Input).value = "1,288.00"
    pilot.app.screen.query_one("#barcode", Input).value = "6901234567891"
    await pilot.press("f10")
    await settle(pilot)


async def manage_disable(pilot) -> None:
    await manage_items(pilot)
    await pilot.press(*"WATER", "f6")
    await settle(pilot)


def a_price_list() -> None:
    """A dealer's price level with long names, prices on it, a tier's price and a store's own."""
    from mms_tui.models import Staff
    from mms_tui.services.catalogue.prices import add_level, set_price

    admin = Staff.get(Staff.code == "admin")
    add_level(admin, "DEALER", "一级经销商价（华东区）")
    set_price(admin, "SHAMPOO", 4_500, list_code="DEALER")
    set_price(admin, "SPA", 39_800, list_code="DEALER", store="SH-XUHUI")
    set_price(admin, "HAIR", 6_600, list_code="GOLD")
    set_price(admin, "HAIR", 12_800, store="SH-XUHUI")


async def manage_tiers(pilot) -> None:
    await manage_kind(pilot, "6", "m01", "2345")


async def manage_tier_form(pilot) -> None:
    await manage_tiers(pilot)
    await pilot.press(*"GOLD", "enter")
    await settle(pilot)
    pilot.app.screen.query_one("#rank", Input).value = "3"  # DIAMOND's: refused, naming the rank
    await pilot.press("f10")
    await settle(pilot)


async def manage_categories(pilot) -> None:
    await manage_kind(pilot, "7", "m01", "2345")


async def manage_price_levels(pilot) -> None:
    await manage_priced(pilot, "8")


async def manage_priced(pilot, key: str) -> None:
    a_chain()
    a_price_list()
    await logged_in(pilot, "admin", "1234")
    await pilot.press("f10", key)
    await settle(pilot)


async def manage_prices(pilot) -> None:
    await manage_priced(pilot, "9")


async def manage_price_form(pilot) -> None:
    await manage_prices(pilot)
    await pilot.press("f3")
    await settle(pilot)
    pilot.app.screen.query_one("#item", Input).value = "WATER"
    pilot.app.screen.query_one("#list", Input).value = "VIP9"
    pilot.app.screen.query_one("#store", Input).value = "SH-XUHUI"
    pilot.app.screen.query_one("#price", Input).value = "2.5"
    await pilot.press("f10")
    await settle(pilot)


async def batch_topup(pilot) -> None:
    """企业批量充值 in the manager's area: nothing named yet."""
    await manage_kind(pilot, "b", "m01", "2345")


async def _batch_checked(pilot, lines: str) -> None:
    """The company's file beside the database, named as typed from the folder the desk was started in."""
    import os
    from pathlib import Path

    folder = Path(pilot.app.settings.database).parent
    (folder / "company.csv").write_text(lines, encoding="utf-8")
    await batch_topup(pilot)
    screen = pilot.app.screen
    screen.query_one("#batch-file", Input).value = "company.csv"
    screen.query_one("#batch-reference", Input).value = "HT-2026-118"
    before = os.getcwd()
    os.chdir(folder)
    try:
        await pilot.press("f5")
        await settle(pilot)
    finally:
        os.chdir(before)


async def batch_topup_checked(pilot) -> None:
    await _batch_checked(pilot, "卡号,金额,赠送\n880099000,1000,\n880099001,500,\n13800138000,3000,300\n")


async def batch_topup_confirm(pilot) -> None:
    await batch_topup_checked(pilot)
    await pilot.press("f10")
    await settle(pilot)


async def batch_topup_bad(pilot) -> None:
    await _batch_checked(pilot, "卡号,金额\n880099000,-5\n8800555555,100\n8800999999,100\n")


async def manage_member_fields(pilot) -> None:
    from mms_tui.models import Staff
    from mms_tui.services.members.attributes import define_field, set_field_active

    manager = Staff.get(Staff.code == "m01")
    define_field(manager, "GOAL", "健身目标（教练填写）", "choice", ["减脂塑形", "增肌", "康复训练", "提高柔韧性"])
    define_field(manager, "SHOE", "鞋码", "number")
    define_field(manager, "WED", "结婚纪念日", "date")
    set_field_active(manager, "SHOE", False)
    await manage_kind(pilot, "0", "m01", "2345")


async def member_details(pilot) -> None:
    """The member's details with the shop's own fields, a price level and long Chinese values."""
    from mms_tui.models import Staff
    from mms_tui.services.catalogue.prices import add_level
    from mms_tui.services.members.attributes import define_field

    manager = Staff.get(Staff.code == "m01")
    define_field(manager, "GOAL", "健身目标", "choice", ["减脂塑形", "增肌"])
    define_field(manager, "SHOE", "鞋码", "number")
    add_level(manager, "DEALER", "一级经销商价")
    await member(pilot)
    await pilot.press("ctrl+e")
    await settle(pilot)
    pilot.app.screen.query_one("#address", Input).value = "上海市徐汇区龙腾大道2555号滨江商业广场三层"
    pilot.app.screen.query_one("#email", Input).value = "not an email"
    pilot.app.screen.query_one("#tags", Input).value = "VIP 孕期 老客户"
    await pilot.press("f10")
    await settle(pilot)


async def member_ticket(pilot) -> None:
    """A service ticket recorded at the desk (Ctrl+K) for a member who already has an open complaint (shown among
    the alerts behind the dialog)."""
    from mms_tui.models import Member, Staff
    from mms_tui.services.messages.tickets import open_ticket

    member_id = Member.select(Member.id).order_by(Member.id).first().id
    open_ticket(Staff.get(Staff.code == "c01"), member_id, "complaint", "洗头时水温太低，要求下次赠送护理一次")
    await member(pilot)
    await pilot.press("ctrl+k")
    await settle(pilot)
    pilot.app.screen.query_one("#subject", Input).value = "预约改期到周日上午十点，指定技师小王"
    steady(pilot)


async def _tickets(pilot) -> None:
    from mms_tui.models import Member, Staff
    from mms_tui.services.messages.tickets import add_note, open_ticket

    cashier, manager = Staff.get(Staff.code == "c01"), Staff.get(Staff.code == "m01")
    first, second = [m for (m,) in Member.select(Member.id).order_by(Member.id).limit(2).tuples()]
    complaint = open_ticket(cashier, first, "complaint", "洗头时水温太低，要求下次赠送护理一次", "上次洗头水太凉")
    add_note(cashier, complaint.id, "热水器已报修")
    add_note(manager, complaint.id, "已调高水温，下次到店赠送护理一次，给您带来不便深表歉意。", answer=True)
    open_ticket(manager, second, "request", "预约改期到周日上午十点，指定技师小王", assign_to="c01")
    await today(pilot)
    await pilot.press("f4")
    await settle(pilot)


async def tickets_screen(pilot) -> None:
    """Today's F4: the open service tickets, soonest due first, the highlighted one's history under them."""
    await _tickets(pilot)


async def ticket_answer(pilot) -> None:
    """F2 on a ticket: the answer to the member, typed."""
    await _tickets(pilot)
    await pilot.press("f2")
    await settle(pilot)
    pilot.app.screen.query_one("#step-text", Input).value = "您好，热水器已修好，欢迎下次到店"
    steady(pilot)


async def clock_card(pilot) -> None:
    """A staff card swiped at the desk: the clock dialog (考勤), clocking out after a clock-in this morning."""
    from mms_tui.devices.protocols import Read
    from mms_tui.services.staff.attendance import punch_by_card

    with clock.pinned(MOMENT - dt.timedelta(hours=6, minutes=5)):
        punch_by_card("STAFF001", "HQ", "clock-1")
    await logged_in(pilot)
    pilot.app.offer_read(Read("card", "STAFF001", "rdm6300"))
    await settle(pilot)


async def clock_pin(pilot) -> None:
    """F4: clocking by code and PIN, refused: the manager is not clocked in."""
    await logged_in(pilot)
    await pilot.press("f4")
    await settle(pilot)
    await pilot.press(*"m01", "enter", *"2345", "f3")
    await settle(pilot)


async def clocked_in(pilot) -> None:
    """F5: who is clocked in now."""
    from mms_tui.models import Staff
    from mms_tui.services.staff.admin import add_staff
    from mms_tui.services.staff.attendance import punch_by_card, punch_by_pin

    add_staff("t02", "首席发型师 司马相如", by=Staff.get(Staff.code == "admin"), store="HQ", performer=True,
              card_no="STAFF777")
    with clock.pinned(MOMENT - dt.timedelta(hours=6, minutes=5)):
        punch_by_card("STAFF001", "HQ", "clock-1")
    with clock.pinned(MOMENT - dt.timedelta(hours=2, minutes=30)):
        punch_by_card("STAFF777", "HQ", "clock-2")
        punch_by_pin("m01", "2345", "HQ", "clock-3")
    await logged_in(pilot)
    await pilot.press("f5")
    await settle(pilot)


async def command_palette(pilot) -> None:
    await member(pilot)
    await pilot.press("ctrl+p")
    await settle(pilot)


def performers_of_hair() -> None:
    from mms_tui.models import Staff
    from mms_tui.services.staff.admin import add_staff

    manager = Staff.get(Staff.code == "m01")
    add_staff("p01", "首席发型师 欧阳娜娜", by=manager, performer=True, level="首席", services=["HAIR"])
    add_staff("p02", "助理 小刘", by=manager, performer=True, level="助理", services=["HAIR"])


async def performer_picker(pilot) -> None:
    performers_of_hair()
    await member(pilot)
    await pilot.press("f3")
    await settle(pilot)
    await pilot.press(*"HAIR", "enter")
    await settle(pilot)
    pilot.app.screen.query_one("#lines").focus()
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("down", "space", "up", "space")
    await settle(pilot)


async def my_commissions(pilot) -> None:
    from mms_tui.models import Member, Staff
    from mms_tui.services.money.checkout import checkout

    performers_of_hair()
    cashier = Staff.get(Staff.code == "c01")
    zhang = Member.get(Member.phone == "13800138000").id
    checkout(zhang, ["HAIR", ("BOTTLE", 2)], [("cash", 8_800 + 25_600)], cashier, "snap-commission",
             performers={"BOTTLE": ["c01"], "HAIR": ["p01"]})
    await today(pilot)
    await pilot.press("f7")
    await settle(pilot)


async def rate_service(pilot) -> None:
    """A sale's receipt (its QR code scanned), F7: the service on it with its performer; 4 records the rating."""
    from mms_tui.devices.protocols import Read
    from mms_tui.models import Member, Staff
    from mms_tui.services.money.checkout import checkout

    performers_of_hair()
    cashier = Staff.get(Staff.code == "c01")
    zhang = Member.get(Member.phone == "13800138000").id
    checkout(zhang, ["HAIR"], [("cash", 8_800)], cashier, "snap-rate", performers={"HAIR": ["p01"]})
    await logged_in(pilot)
    pilot.app.offer_read(Read("barcode", "snap-rate", "barcode", "]Q1"))
    await settle(pilot)
    await pilot.press("f7")
    await settle(pilot)
    await pilot.press("4")
    await settle(pilot)


def a_day_of_bookings() -> None:
    """Wednesday at the salon: 欧阳娜娜 arrived at 14:00, 李四 at 16:00, a walk-in at 17:00 and a no-show at 13:00."""
    from mms_tui.models import Member, ServiceItem, Staff
    from mms_tui.services.bookings import appointments as ap

    performers_of_hair()
    ServiceItem.update(duration_minutes=60).where(ServiceItem.code == "HAIR").execute()
    cashier = Staff.get(Staff.code == "c01")
    ouyang = Member.get(Member.phone == "13800138000").id
    li = Member.get(Member.phone == "13912345678").id
    with clock.pinned(MOMENT - dt.timedelta(days=1)):
        done = ap.book(ouyang, ["HAIR"], cashier, "bk-1", start=MOMENT.replace(hour=14, minute=0), staff="p01")
        ap.book(li, ["HAIR"], cashier, "bk-2", start=MOMENT.replace(hour=16, minute=0), staff="p02",
                note="想换个发型，带了参考图")
        ap.book(None, ["HAIR"], cashier, "bk-3", start=MOMENT.replace(hour=17, minute=0), staff="p01",
                guest_name="王女士", guest_phone="13700137999")
        gone = ap.book(ouyang, ["HAIR"], cashier, "bk-4", start=MOMENT.replace(hour=12, minute=30), staff="p02")
    with clock.pinned(MOMENT.replace(hour=13, minute=55)):
        ap.arrive(done.booking_ids[0], cashier, "bk-arrive")
    with clock.pinned(MOMENT.replace(hour=13, minute=0)):
        ap.no_show(gone.booking_ids[0], cashier, "bk-ns")


async def bookings_day(pilot) -> None:
    """F6: the day's grid, now (15:30) marked, the cursor on it."""
    a_day_of_bookings()
    await logged_in(pilot)
    await pilot.press("f6")
    await settle(pilot)


async def bookings_list(pilot) -> None:
    await bookings_day(pilot)
    await pilot.press("f9")
    await settle(pilot)


async def book_refused(pilot) -> None:
    """Enter on a free slot (15:30, the first stylist), a busy stylist and time typed: the reason and the next free
    slots."""
    await bookings_day(pilot)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#book-member").value = "13700137000"
    screen.query_one("#book-services").value = "HAIR"
    screen.query_one("#book-staff").value = "p02"
    screen.query_one("#book-start").value = MOMENT.replace(hour=16, minute=30).strftime("%Y-%m-%d %H:%M")
    await pilot.press("f10")
    await settle(pilot)


async def booking_move(pilot) -> None:
    await bookings_day(pilot)
    await pilot.press("down", "down", "down", "f3")
    await settle(pilot)


async def booking_cancel(pilot) -> None:
    await bookings_day(pilot)
    await pilot.press("down", "down", "down", "f8")
    await settle(pilot)
    await pilot.press(*"改天再来")
    await settle(pilot)


async def booking_no_show(pilot) -> None:
    """F7 on a booking that has not started yet: refused, too early."""
    await bookings_day(pilot)
    await pilot.press("down", "down", "down", "f7")
    await settle(pilot)
    await pilot.press("f10")
    await settle(pilot)


async def member_booked(pilot) -> None:
    """A member's screen with their next booking; Ctrl+B: the booking form for them."""
    a_day_of_bookings()
    await member(pilot, "13912345678")
    await settle(pilot)  # the member's cards and bookings drawn before the form covers them
    await pilot.press("ctrl+b")
    await settle(pilot)
    await settle(pilot)  # the start offered by the form's own worker


async def classes_day(pilot) -> None:
    """F7: today's classes — the morning yoga full with one on the waitlist, the evening spin class — and the
    roster of the first."""
    from mms_tui.models import Member, Staff
    from mms_tui.services.bookings.classes import add_class_type, add_session, book_class
    from mms_tui.services.members.cards import issue_card as issue

    manager, cashier = Staff.get(Staff.code == "m01"), Staff.get(Staff.code == "c01")
    performers_of_hair()
    with clock.pinned(MOMENT - dt.timedelta(days=1)):
        add_class_type("YOGA", "流瑜伽 初级班", 60, 2, manager)
        add_class_type("SPIN", "动感单车", 45, 20, manager)
        yoga = add_session("HQ", "YOGA", MOMENT.replace(hour=16, minute=0, second=0), "p01", manager)
        add_session("HQ", "SPIN", MOMENT.replace(hour=19, minute=30, second=0), "c01", manager)
        for n, phone in enumerate(("13800138000", "13912345678", "13700137000")):
            member_id = Member.get(Member.phone == phone).id
            if n:
                issue(member_id, "V10", cashier, f"snap-cls-i{n}", card_no=f"88007700{n}")
            book_class(member_id, yoga.id, cashier, f"snap-cls-{n}")
    await logged_in(pilot)
    await pilot.press("f7")
    await settle(pilot)


def some_stock() -> None:
    """The branch's shelves: water running low, the long-named family bottle, shampoo counted in ml."""
    from mms_tui.models import Staff
    from mms_tui.services.stock import receiving
    from mms_tui.services.stock import settings as stock_settings
    from mms_tui.services.stock.common import StockLine

    manager, cashier = Staff.get(Staff.code == "m01"), Staff.get(Staff.code == "c01")
    with clock.pinned(MOMENT - dt.timedelta(days=2)):
        receiving.save_supplier(manager, "ACME", name="华润怡宝 配送")
        stock_settings.set_unit(manager, "SHAMPOO", "ml")
        receiving.receive(cashier, [StockLine("WATER", 6, 80), StockLine("BOTTLE", 24, 5_600),
                                    StockLine("SHAMPOO", 12_000, 9)], "snap-rx1", supplier="ACME",
                          reference="DN-20261130")
        stock_settings.set_low(manager, "WATER", 12)
        stock_settings.set_low(manager, "SHAMPOO", 2_000)


async def stock_list(pilot) -> None:
    """F8 names what is low; F3: the store's stock, the low ones marked."""
    some_stock()
    await today(pilot)
    await pilot.press("f3")
    await settle(pilot)


async def charts(pilot) -> None:
    """经营图表 (F8 on Today) for the manager: the turnover of the last 30 days."""
    await logged_in(pilot, "m01", "2345")
    await pilot.press("f8")
    await settle(pilot)
    await pilot.press("f8")
    await settle(pilot)


async def charts_visits(pilot) -> None:
    """The third tab: check-ins as a weekday × hour grid."""
    await charts(pilot)
    await pilot.press("3")
    await settle(pilot)


async def charts_tiers(pilot) -> None:
    await charts(pilot)
    await pilot.press("4")
    await settle(pilot)


async def charts_campaigns(pilot) -> None:
    """营销效果: the fifth tab, campaign results (none in this shop's month: said so)."""
    await charts(pilot)
    await pilot.press("5")
    await settle(pilot)


async def charts_cashier(pilot) -> None:
    """A cashier is told the charts are a manager's."""
    await logged_in(pilot)
    await pilot.press("f8")
    await settle(pilot)
    await pilot.press("f8")
    await settle(pilot)


async def today_low_stock(pilot) -> None:
    """F8 with a product at or below its threshold: named under the shifts, F3 to the stock."""
    some_stock()
    await today(pilot)


async def stock_receive(pilot) -> None:
    """F2: goods received by scanning — a few scans, a typed quantity, a code that is not ours."""
    await stock_list(pilot)
    await pilot.press("f2")
    await settle(pilot)
    for key in ("6920000000012", "6920000000012", "24*BOTTLE", "6900000000000"):
        await pilot.press(*key, "enter")
        await settle(pilot)


async def stock_line(pilot) -> None:
    """F4 on a received line: its quantity and unit cost."""
    await stock_receive(pilot)
    await pilot.press("f4")
    await settle(pilot)


async def stock_count(pilot) -> None:
    """F3: the count sheet, two products counted by scanning, one differing."""
    await stock_list(pilot)
    await pilot.press("f3")
    await settle(pilot)
    for key in ("5*WATER", "24*6901234567893"):
        await pilot.press(*key, "enter")
        await settle(pilot)


async def stock_count_post(pilot) -> None:
    """F10 on the count: the variances asked about before they are posted."""
    await stock_count(pilot)
    await pilot.press("f10")
    await settle(pilot)


SCREENS: dict[str, Callable[..., Awaitable[None]]] = {
    "login": login,
    "login_wrong_pin": login_wrong_pin,
    "new_pin": new_pin,
    "desk_results": desk_results,
    "desk_nothing_found": desk_nothing,
    "member": member_screen,
    "member_prompts": member_prompts,
    "member_prompts_put_away": member_prompts_put_away,
    "member_checked_in": member_checked_in,
    "repeat_check_in": repeat_check_in,
    "more_menu": more_menu,
    "help": help_overlay,
    "checkout": checkout_screen,
    "checkout_paid": checkout_paid,
    "checkout_leave": checkout_leave,
    "paycode": paycode_dialog,
    "paycode_not_set_up": paycode_not_set_up,
    "history": history,
    "receipt_scanned": receipt_scanned,
    "refund": refund_dialog,
    "manager_pin": manager_pin,
    "today": today,
    "stores_today": stores_today,
    "shift_close": shift_close,
    "shift_report": shift_report,
    "top_up": top_up_dialog,
    "register_error": register_form,
    "issue_card": issue_card_dialog,
    "lost_card": lost_card_dialog,
    "freeze": freeze_confirm,
    "renew": renew_dialog,
    "transfer": transfer_dialog,
    "family": family_dialog,
    "gift": gift_dialog,
    "lost_card_swiped": lost_card_swiped,
    "unknown_card": unknown_card,
    "lock": lock_screen,
    "rules": rules_editor,
    "manage_menu": manage_menu,
    "manage_staff": manage_staff,
    "manage_staff_form": manage_staff_form,
    "manage_staff_edit": manage_staff_edit,
    "manage_reset_pin": manage_reset_pin,
    "manage_stores": manage_stores,
    "manage_store_form": manage_store_form,
    "manage_store_move": manage_store_move,
    "manage_store_close": manage_store_close,
    "manage_card_types": manage_card_types,
    "manage_card_type_form": manage_card_type_form,
    "manage_items": manage_items,
    "manage_item_form": manage_item_form,
    "manage_disable": manage_disable,
    "manage_tiers": manage_tiers,
    "manage_tier_form": manage_tier_form,
    "manage_categories": manage_categories,
    "manage_price_levels": manage_price_levels,
    "manage_prices": manage_prices,
    "manage_price_form": manage_price_form,
    "member_details": member_details,
    "member_ticket": member_ticket,
    "tickets_screen": tickets_screen,
    "ticket_answer": ticket_answer,
    "manage_member_fields": manage_member_fields,
    "batch_topup": batch_topup,
    "batch_topup_checked": batch_topup_checked,
    "batch_topup_confirm": batch_topup_confirm,
    "batch_topup_bad": batch_topup_bad,
    "command_palette": command_palette,
    "clock_card": clock_card,
    "clock_pin": clock_pin,
    "clocked_in": clocked_in,
    "performer_picker": performer_picker,
    "my_commissions": my_commissions,
    "rate_service": rate_service,
    "bookings_day": bookings_day,
    "bookings_list": bookings_list,
    "book_refused": book_refused,
    "booking_move": booking_move,
    "booking_cancel": booking_cancel,
    "booking_no_show": booking_no_show,
    "member_booked": member_booked,
    "classes_day": classes_day,
    "today_low_stock": today_low_stock,
    "charts": charts,
    "charts_visits": charts_visits,
    "charts_tiers": charts_tiers,
    "charts_campaigns": charts_campaigns,
    "charts_cashier": charts_cashier,
    "stock_list": stock_list,
    "stock_receive": stock_receive,
    "stock_line": stock_line,
    "stock_count": stock_count,
    "stock_count_post": stock_count_post,
}


def svg_lines(svg: str) -> list[str]:
    """The text of a screenshot, line by line, each piece at its column (what a mismatch leaves for the log)."""
    lines: dict[int, dict[int, str]] = {}
    for x, line, text in re.findall(r'<text class="terminal-[^"]*" x="([\d.]+)"[^>]*'
                                    r'clip-path="url\(#terminal-(?:\d+-)?line-(\d+)\)">([^<]*)', svg):
        lines.setdefault(int(line), {})[round(float(x) / 12.2)] = html.unescape(text).replace("\xa0", " ")
    drawn = []
    for number in sorted(lines):
        text = ""
        for column, piece in sorted(lines[number].items()):
            text = text.ljust(column) + piece
        drawn.append(text.rstrip())
    return drawn


def say_difference(request, name: str, lang: str) -> None:
    """A picture that differs leaves how it differs in .snapshot-differences/ (.ci/run prints them at its end), a
    picture taken again included: CI's log says what moved. The pictures compared are the ones the snapshot plugin
    kept for its report."""
    from pytest_textual_snapshot import node_to_report_path

    _same, stored, drawn, *_rest = pickle.loads(node_to_report_path(request.node).read_bytes())
    diff = "\n".join(difflib.unified_diff(svg_lines(stored), svg_lines(drawn), "stored", "drawn", lineterm="")) \
        or "the text is the same: colours or styles differ"
    DIFFERENCES.mkdir(exist_ok=True)
    (DIFFERENCES / f"{name}-{lang}-{time.time_ns()}.txt").write_text(diff + "\n", encoding="utf-8")


# A picture is taken once more if it differs (pytest-rerunfailures): a screen on a loaded CI machine drew differently
# once in some thousand pictures, never alone; the first picture's difference is printed (say_difference) so the log
# says what moved. A screen that is wrong is wrong twice and fails.
@pytest.mark.flaky(reruns=1)
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", list(SCREENS))
def test_screen_at_80x24(snap_compare, shop, name, lang, request):
    navigate = SCREENS[name]
    clipped: list[str] = []

    async def run_before(pilot) -> None:
        await navigate(pilot)
        steady(pilot)
        # every key the footer shows is whole within 80 columns
        clipped.extend(str(key.render()) for key in pilot.app.screen.query("FooterKey")
                       if key.display and key.region.right > 80)

    with clock.pinned(MOMENT):
        app = create_app(Settings(db=shop.target, lang=lang, wedge_gap_ms=0, lock_minutes=0))
        same = snap_compare(app, terminal_size=(80, 24), run_before=run_before)
        if not same:
            say_difference(request, name, lang)
        assert same
    assert clipped == []
